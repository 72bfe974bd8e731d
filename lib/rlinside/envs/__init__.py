"""Gymnasium environments of the book. Importing this package registers them:

- ``rlinside/TracePatterning-v0`` (:mod:`rlinside.envs.trace_patterning`)
- ``rlinside/PlanarArm-v0`` (:mod:`rlinside.envs.planar_arm`), e.g. ``gym.make("rlinside/PlanarArm-v0", n_joints=3)``
- ``rlinside/MarbleMaze-v0`` (:mod:`rlinside.envs.marble_maze`),
  e.g. ``gym.make("rlinside/MarbleMaze-v0", obs_delay=2)``
"""

import gymnasium as gym

from rlinside.envs.planar_arm import PlanarArmConfig, PlanarArmEnv
from rlinside.envs.trace_patterning import (
    TracePatterningConfig,
    TracePatterningEnv,
    TracePatterningStream,
)

__all__ = ["PlanarArmConfig", "PlanarArmEnv", "TracePatterningConfig", "TracePatterningEnv", "TracePatterningStream"]

if "rlinside/TracePatterning-v0" not in gym.registry:
    gym.register(
        id="rlinside/TracePatterning-v0",
        entry_point="rlinside.envs.trace_patterning:TracePatterningEnv",
        max_episode_steps=None,
    )

if "rlinside/PlanarArm-v0" not in gym.registry:
    gym.register(id="rlinside/PlanarArm-v0", entry_point="rlinside.envs.planar_arm:PlanarArmEnv",
                 max_episode_steps=None)  # the env truncates at max_steps itself

if "rlinside/MarbleMaze-v0" not in gym.registry:
    gym.register(id="rlinside/MarbleMaze-v0", entry_point="rlinside.envs.marble_maze:MarbleMazeEnv",
                 max_episode_steps=None)  # the env truncates at max_steps itself
