"""One study per chapter: which agents and artifacts a chapter uses, its loops over agents,
seeds and states, and plain results (dataclasses, DataFrames) for a notebook to plot.

Layers (no import runs upward; ``tests/test_layers.py`` checks it): ``utils`` and ``store``;
``envs`` and ``nets``; ``agents`` and ``rtrl``; ``explain``; ``studies``; then the notebooks.
``explain`` is generic (tensors, arrays and modules in, never an agent or chapter name);
what a chapter does with it lives here.

- :mod:`rlinside.studies.rtrl` -- tune-then-rerun studies behind the RTRL chapter's figures.
- :mod:`rlinside.studies.saliency` -- the zoo's agents as saliency targets, learning seen in
  the maps over training.
- :mod:`rlinside.studies.neuron_activation` -- the pruning study (tau sweep, iterative), distances, projections.
- :mod:`rlinside.studies.lstm_contribution` -- the maze policy's tests, contributions, offsets, delays.
"""
