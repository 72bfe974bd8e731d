"""Gymnasium environments of the book. Importing this package registers them:

- ``rlinside/TracePatterning-v0`` (:mod:`rlinside.envs.trace_patterning`)
"""

import gymnasium as gym

from rlinside.envs.trace_patterning import TracePatterningConfig, TracePatterningEnv, TracePatterningStream

__all__ = ["TracePatterningConfig", "TracePatterningEnv", "TracePatterningStream"]

if "rlinside/TracePatterning-v0" not in gym.registry:
    gym.register(
        id="rlinside/TracePatterning-v0",
        entry_point="rlinside.envs.trace_patterning:TracePatterningEnv",
        max_episode_steps=None,
    )
