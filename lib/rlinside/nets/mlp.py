"""A plain ReLU multi-layer perceptron whose hidden activations can be read and edited.

Used by the neuron-activation chapter (DQN agents for the planar arm) and by any analysis in
:mod:`rlinside.explain` that works layer by layer: ``linears[k]`` maps layer ``k`` to layer
``k+1``; ``relus[k]`` is the (distinct) activation module after ``linears[k]`` for every
hidden layer, so hooks can address each one.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``n_in -> hidden[0] -> ... -> hidden[-1] -> n_out`` with ReLU after every hidden layer.

    ``forward(x, return_activations=True)`` also returns the list of hidden activations,
    ``[(B, hidden[0]), ..., (B, hidden[-1])]``.
    """

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int) -> None:
        super().__init__()
        sizes = [int(n_in), *[int(h) for h in hidden], int(n_out)]
        if any(s < 1 for s in sizes):
            raise ValueError(f"layer sizes must be >= 1, got n_in={n_in}, hidden={list(hidden)}, n_out={n_out}")
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.relus = nn.ModuleList(nn.ReLU() for _ in hidden)

    @property
    def hidden_sizes(self) -> list[int]:
        return [lin.out_features for lin in self.linears[:-1]]

    @property
    def n_in(self) -> int:
        return self.linears[0].in_features

    @property
    def n_out(self) -> int:
        return self.linears[-1].out_features

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        acts = []
        # zip stops at the last hidden layer (one ReLU per hidden layer); slicing the ModuleList
        # instead would build a new container on every call (a tenth of a retraining's time)
        for lin, relu in zip(self.linears, self.relus):
            x = relu(lin(x))
            acts.append(x)
        out = self.linears[-1](x)
        return (out, acts) if return_activations else out
