"""RTRL learners for LSTM columns (Javed et al.): columnar, constructive, hybrid, and the T-BPTT baseline.

- :mod:`rlinside.rtrl.column` -- numba kernels: single-unit LSTM columns and their exact
  forward-mode traces (Appendix B, re-derived).
- :mod:`rlinside.rtrl.learner` -- :class:`StagedRTRL`, stages of independent columns with
  online normalization and TD(lambda); columnar, constructive and hybrid are special cases.
- :mod:`rlinside.rtrl.tbptt` -- :class:`TBPTTLearner`, a dense LSTM trained by truncated BPTT.
- :mod:`rlinside.rtrl.flops` -- the paper's per-step compute estimates.
- :mod:`rlinside.rtrl.experiment` -- one run on the trace patterning stream (the unit of sweeps).
- :mod:`rlinside.studies.rtrl` (a layer up) -- the tune-then-rerun studies behind the chapter's figures.
"""

from rlinside.rtrl.column import GATES, columnar_forward_step, columnar_rtrl_step
from rlinside.rtrl.flops import (
    ComputeEstimate,
    columnar_flops,
    compute_matched_configs,
    constructive_flops,
    hybrid_flops,
    method_flops,
    tbptt_flops,
)
from rlinside.rtrl.learner import (
    RTRLConfig,
    StagedParams,
    StagedRTRL,
    predict_gradients,
)
from rlinside.rtrl.tbptt import (
    LSTMParams,
    TBPTTConfig,
    TBPTTLearner,
    truncated_gradient,
)

__all__ = [
    "GATES", "columnar_forward_step", "columnar_rtrl_step",
    "ComputeEstimate", "columnar_flops", "compute_matched_configs", "constructive_flops", "hybrid_flops",
    "method_flops", "tbptt_flops",
    "RTRLConfig", "StagedParams", "StagedRTRL", "predict_gradients",
    "LSTMParams", "TBPTTConfig", "TBPTTLearner", "truncated_gradient",
]
