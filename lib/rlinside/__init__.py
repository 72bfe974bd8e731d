"""rlinside: a reproducible companion to four papers on looking inside RL networks.

Layers (lower layers never import higher ones)::

    utils, store            -- seeding, device, artifact store
    envs, nets              -- gymnasium environments, torch modules
    agents, rtrl            -- training loops, RTRL learners
    explain                 -- analysis methods (saliency, contribution, activations)
    plots, notebook, sweep  -- the book's look, notebook execution, Dask sweeps
    cli                     -- the `rlinside` command
"""

__version__ = "0.1.0"
