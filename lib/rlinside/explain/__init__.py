"""Analysis methods: take tensors, arrays or a model, never a chapter-specific object.

- :mod:`rlinside.explain.activations` -- neuron activations, distances (eq. 2), clustering (eq. 3)
- :mod:`rlinside.explain.pruning` -- cluster-tree pruning with merged neurons (eq. 4)
- :mod:`rlinside.explain.projection` -- projections between networks (eqs. 5-9) and linear CKA
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
    transform_joint_angles,
    transform_joint_observations,
)
from rlinside.explain.pruning import (
    LayerPruneReport,
    PruneStep,
    bfs_segmentation,
    cluster_scaling_factors,
    iterative_prune,
    prune_mlp,
)

__all__ = [
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
    "transform_joint_angles",
    "transform_joint_observations",
    "LayerPruneReport",
    "PruneStep",
    "bfs_segmentation",
    "cluster_scaling_factors",
    "iterative_prune",
    "prune_mlp",
]
