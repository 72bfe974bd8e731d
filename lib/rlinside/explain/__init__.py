"""Analysis methods: take tensors, arrays or a model, never a chapter-specific object.

- :mod:`rlinside.explain.activations` -- neuron activations, distances (eq. 2), clustering (eq. 3)
- :mod:`rlinside.explain.pruning` -- cluster-tree pruning with merged neurons (eq. 4)
- :mod:`rlinside.explain.projection` -- projections between networks (eqs. 5-9) and linear CKA
- :mod:`rlinside.explain.saliency` -- six gradient-based saliency methods (Gradient, Guided
  Backprop, Grad-CAM, Guided Grad-CAM, G1/G2 Grad-CAM) and their targets
- :mod:`rlinside.explain.attention` -- how focused a soft attention is (effective locations,
  peak over uniform, logit spread)
"""

from rlinside.explain.activations import (
    cluster_linkage,
    dendrogram_data,
    distance_histogram,
    distance_kde,
    layer_linkages,
    layerwise_neuron_distances,
    max_activations,
    mean_cluster_distance,
    neuron_distances,
    normalized_activations,
    record_activations,
    upper_triangle,
)
from rlinside.explain.projection import (
    Projection,
    cka_matrix,
    coverage,
    deduplicate_inputs,
    fit_projection,
    greedy_projection,
    layer_projection,
    layerwise_projection_errors,
    linear_cka,
    linear_projection,
    nonnegative_lasso,
    normalized_error,
    project_networks,
    saturation,
)
from rlinside.explain.pruning import (
    LayerPruneReport,
    PruneStep,
    bfs_segmentation,
    cluster_scaling_factors,
    iterative_prune,
    prune_mlp,
)
from rlinside.explain.saliency import (
    G1GradCAM,
    G2GradCAM,
    GradCAM,
    Gradient,
    GuidedBackprop,
    GuidedGradCAM,
    advantage_stream,
    layer_sum,
    q_value,
    value_stream,
)

__all__ = [
    "G1GradCAM",
    "G2GradCAM",
    "GradCAM",
    "Gradient",
    "GuidedBackprop",
    "GuidedGradCAM",
    "advantage_stream",
    "layer_sum",
    "q_value",
    "value_stream",
    "cluster_linkage",
    "dendrogram_data",
    "distance_histogram",
    "distance_kde",
    "layer_linkages",
    "layerwise_neuron_distances",
    "max_activations",
    "mean_cluster_distance",
    "neuron_distances",
    "normalized_activations",
    "record_activations",
    "upper_triangle",
    "Projection",
    "cka_matrix",
    "coverage",
    "deduplicate_inputs",
    "fit_projection",
    "greedy_projection",
    "layer_projection",
    "layerwise_projection_errors",
    "linear_cka",
    "linear_projection",
    "nonnegative_lasso",
    "normalized_error",
    "project_networks",
    "saturation",
    "LayerPruneReport",
    "PruneStep",
    "bfs_segmentation",
    "cluster_scaling_factors",
    "iterative_prune",
    "prune_mlp",
]
