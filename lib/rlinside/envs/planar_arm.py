"""Target reaching with an n-joint planar arm in a vertical plane (neuron-activation chapter).

The task of *Neuron activation analysis in multi-joint robot RL* (Sec. 3, Fig. 1 right): a
manipulator with ``n`` = 2, 3 or 4 revolute joints moves in a vertical plane; an agent sees
its joint angles and a goal and must bring the finger tip to the goal within 60 control
steps of 50 ms. The paper's "simplified simulation environment" is kinematic: the joints are
driven by position controllers, so the commanded angle is reached within a control cycle and
gravity (the plane is vertical) has no effect on the motion. We model exactly that.

Geometry (our choices where the paper is silent):

- **Base** at the origin ``(0, 0)``; ``x`` points right, ``y`` up (against gravity). The
  floor is the line ``y = 0``.
- **Joint angles are relative**: ``theta_1`` is the angle of link 1 against the ``+x`` axis,
  ``theta_i`` (i > 1) the angle of link ``i`` against link ``i - 1`` (what a robot's joint
  encoders report: the paper's "actual robot joint angles"). Absolute link angles are the
  cumulative sums ``phi_k = theta_1 + ... + theta_k``.
- **Initial configuration**: the same "L" in every episode (Fig. 1 right shows one initial
  configuration): link 1 straight up, a -90 deg bend at the middle of the arm
  (:func:`default_initial_angles`; why not straight: see there).
- **Link lengths**: a parameter; default ``n`` equal links of total length 1 (the reach
  ``L = sum(l_i)``; distances in ``info`` are in the same unit).
- **No joint limits, no collisions** (links may pass through each other and below the
  floor in the simplified simulation). A joint can move at most 60 * 0.05 = 3 rad in an
  episode anyway.

Observation (paper eq. 1), ``float32`` of length ``2n + 2``::

    x(t) = [sin theta_1, cos theta_1, ..., sin theta_n, cos theta_n, x*, y*]

Actions: ``MultiDiscrete([3] * n)``; per joint index 0 = forward (+0.05 rad), 1 = backward
(-0.05 rad), 2 = no motion, in the paper's order ``{1, -1, 0}`` (:data:`ACTION_DIRECTIONS`).

Goals: drawn **uniformly by area** from the reachable workspace, the annulus
``r_min <= |p| <= L`` with ``r_min = max(0, 2 max(l) - L)``, restricted by default to the half
above the floor (``workspace="upper"``; ``"full"`` uses the whole annulus). Uniform by area,
not via random joint angles, because random angles concentrate goals near the base for
n >= 3 and the validation test should weigh every part of the workspace alike. Every goal of
the upper half is reachable from the initial configuration within 60 steps (each joint moves
at most 3 rad; from the L the base joint needs at most about pi/2 / 0.05 = 32 steps, the
bend joint as many to fold or stretch); a one-step look-ahead controller (in the tests)
ends within reward 0.9 of 295-300 of the 300 validation goals.

Reward (paper Sec. 3; the OCR'd formula is garbled, "r(t_i) := (|p(t) - p*| ... + 1)",
squared). We rebuild it as the tip-to-goal distance mapped into (0, 1] and squared::

    r(t) = ( 1 / (1 + d(t) / L) )^2,     d(t) = || p(t) - p* ||_2

so ``r = 1`` exactly at the goal and decreases with distance (:func:`reaching_reward`). The
distance is divided by the reach ``L`` (= 1 by default, where the division is a no-op) so
the reward threshold of the validation test (``r >= 0.9``, i.e. ``d <= 0.054 L``) means the
same for any link lengths.

Episodes never terminate; they are truncated after ``max_steps`` (60) steps. The "final
reward" of an episode (validation test, :mod:`rlinside.agents.arm_dqn`) is the reward of the
last step.

Kinematics are vectorised in NumPy: :func:`forward_kinematics` (any leading batch shape) is
the single implementation, reused by the batched roll-outs of the agent and checked against
by the pybullet twin.

Input transformations between arms with different joint counts (Sec. 6, Fig. 5 "4a"/"4b")
    Observations follow eq. 1, ``x = [sin th_1, cos th_1, ..., sin th_n, cos th_n, x*, y*]``
    (``encoding="sincos"``; ``"angles"`` for ``[th_1, ..., th_n, ...]``); columns after the
    joints (the goal) are copied unchanged. This is the layout of this module's observations
    (relative joint angles, equal links of total length 1). Inputs come from episodes of the *target* arm and
    are transformed into the *source* arm's input space, ``n_from`` -> ``n_to`` joints.

    - ``"naive"`` (4a): pad with zero angles or truncate: ``th'_i = th_i`` for
      ``i <= min(n_from, n_to)``, other new joints 0. For 2 -> 4: ``(th_1, th_2, 0, 0)``.
      A zero angle is ``(sin, cos) = (0, 1)`` in the sincos encoding.
    - ``"balanced"`` (4b): spread the joints evenly. Joint ``j`` (0-based) of the longer arm
      belongs to group ``g(j) = floor(j * n_short / n_long)`` of the shorter arm's joints.
      Expanding (relative joint angles): the first joint of each group takes the short arm's
      angle, the others 0; for 2 -> 4 ``(th_1, 0, th_2, 0)``, the paper's 4b, which makes a
      4-link arm with equal links move exactly like the 2-link arm of the same total length.
      Compressing: each short-arm angle is the sum of its group's relative angles, so the
      short arm's links point like the last link of each group; compress(expand(x)) = x.
      With ``angle_frame="absolute"`` (angles measured in the world frame) the same geometry
      is "duplicating best aligning joints": expanding copies the group's angle to every joint
      of the group, compressing takes the group's last joint.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Mapping, Sequence

import gymnasium as gym
import numpy as np

from rlinside.utils import is_int, is_real

__all__ = [
    "transform_joint_angles",
    "transform_joint_observations",
    "ACTION_DIRECTIONS",
    "WORKSPACES",
    "PlanarArmConfig",
    "PlanarArmEnv",
    "forward_kinematics",
    "joint_positions",
    "observation",
    "reaching_reward",
    "sample_goals",
    "workspace_radii",
    "apply_actions",
    "default_initial_angles",
]

#: Joint-angle change per action index, in units of ``step_size``: forward, backward, none.
ACTION_DIRECTIONS = np.array([1.0, -1.0, 0.0])
#: Goal regions: ``upper`` (above the floor, y >= 0) or ``full`` (the whole annulus).
WORKSPACES = ("upper", "full")


# ------------------------------------------------------------------------------ kinematics


def joint_positions(angles: np.ndarray, link_lengths: Sequence[float] | np.ndarray) -> np.ndarray:
    """Cartesian positions of the base, every joint and the tip.

    Args:
        angles: ``(..., n)`` relative joint angles in rad (see the module docstring).
        link_lengths: ``(n,)`` link lengths.

    Returns:
        ``(..., n + 1, 2)``: row 0 is the base ``(0, 0)``, row ``k`` the end of link ``k``,
        row ``n`` the finger tip. ``p_k = sum_{i<=k} l_i (cos phi_i, sin phi_i)`` with
        ``phi_i = theta_1 + ... + theta_i``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    lengths = np.asarray(link_lengths, dtype=np.float64)
    if angles.shape[-1:] != lengths.shape:
        raise ValueError(
            f"angles have {angles.shape[-1:]} joints in their last axis but link_lengths has "
            f"{lengths.shape}; they must match"
        )
    phi = np.cumsum(angles, axis=-1)  # absolute link angles (..., n)
    links = lengths * np.stack([np.cos(phi), np.sin(phi)], axis=-1).swapaxes(-1, -2)  # (..., 2, n)
    pts = np.cumsum(links, axis=-1).swapaxes(-1, -2)  # (..., n, 2)
    base = np.zeros(pts.shape[:-2] + (1, 2))
    return np.concatenate([base, pts], axis=-2)


def forward_kinematics(angles: np.ndarray, link_lengths: Sequence[float] | np.ndarray) -> np.ndarray:
    """Finger-tip position ``(..., 2)`` of relative joint angles ``angles: (..., n)``.

    ``p = sum_k l_k (cos phi_k, sin phi_k)``, ``phi_k = theta_1 + ... + theta_k``; e.g. two
    links of 0.5 at ``theta = (pi/2, -pi/2)`` (up, then right) put the tip at ``(0.5, 0.5)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    lengths = np.asarray(link_lengths, dtype=np.float64)
    if angles.shape[-1:] != lengths.shape:
        raise ValueError(
            f"angles have {angles.shape[-1:]} joints in their last axis but link_lengths has "
            f"{lengths.shape}; they must match"
        )
    phi = np.cumsum(angles, axis=-1)
    return np.stack([np.cos(phi) @ lengths, np.sin(phi) @ lengths], axis=-1)


def observation(angles: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """The network input of paper eq. 1: ``(..., 2n + 2)`` float32
    ``[sin theta_1, cos theta_1, ..., sin theta_n, cos theta_n, x*, y*]``.

    Args:
        angles: ``(..., n)`` relative joint angles.
        goals: ``(..., 2)`` goal positions.
    """
    angles = np.asarray(angles, dtype=np.float64)
    sc = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(*angles.shape[:-1], -1)
    return np.concatenate([sc, np.asarray(goals, dtype=np.float64)], axis=-1).astype(np.float32)


def reaching_reward(distance: np.ndarray | float, reach: float = 1.0) -> np.ndarray | float:
    """Reward of a tip-to-goal distance: ``(1 / (1 + d / reach))^2`` in (0, 1], 1 at the goal.

    Our reading of the paper's garbled formula (Sec. 3, see the module docstring).
    """
    return (1.0 / (1.0 + np.asarray(distance) / reach)) ** 2


def apply_actions(angles: np.ndarray, actions: np.ndarray, step_size: float) -> np.ndarray:
    """New joint angles after per-joint action indices ``actions: (..., n)`` in {0, 1, 2}
    (forward, backward, none); each changes its joint by ``ACTION_DIRECTIONS * step_size``."""
    return np.asarray(angles, dtype=np.float64) + ACTION_DIRECTIONS[np.asarray(actions)] * step_size


def workspace_radii(link_lengths: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """``(r_min, r_max)`` of the reachable annulus of a planar chain without joint limits:
    ``r_max = L = sum(l)``, ``r_min = max(0, 2 max(l) - L)`` (the longest link folded back
    by all others)."""
    lengths = np.asarray(link_lengths, dtype=np.float64)
    total = float(lengths.sum())
    return max(0.0, 2.0 * float(lengths.max()) - total), total


def sample_goals(
    rng: np.random.Generator,
    n: int,
    link_lengths: Sequence[float] | np.ndarray,
    workspace: str = "upper",
) -> np.ndarray:
    """``n`` goals ``(n, 2)`` uniform by area in the reachable workspace.

    Radius ``r = sqrt(U(r_min^2, r_max^2))`` (uniform by area in the annulus), polar angle
    uniform in ``[0, pi]`` (``workspace="upper"``) or ``[0, 2 pi)`` (``"full"``).
    """
    if workspace not in WORKSPACES:
        raise ValueError(f"workspace must be one of {WORKSPACES}, got {workspace!r}")
    r_min, r_max = workspace_radii(link_lengths)
    r = np.sqrt(rng.uniform(r_min**2, r_max**2, size=n))
    top = math.pi if workspace == "upper" else 2.0 * math.pi
    a = rng.uniform(0.0, top, size=n)
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)


def default_initial_angles(n_joints: int) -> tuple[float, ...]:
    """The initial configuration: an "L", link 1 pointing straight up and a bend of -90 deg
    (to the right) at the middle of the arm, on joint ``n/2 + 1`` for even ``n``, split
    -45/-45 deg over joints ``(n+1)/2`` and ``(n+3)/2`` for odd ``n``:
    n=2 ``(pi/2, -pi/2)``, n=3 ``(pi/2, -pi/4, -pi/4)``, n=4 ``(pi/2, 0, -pi/2, 0)``.

    Why bent (our choice, Fig. 1 right only shows "an initial configuration with joints
    theta_i"): from a straight arm, a 2-joint arm needs 50-60 of its 60 steps to fold its
    elbow for goals within 0.35 of the base, so those goals leave no room for a single
    hesitation; from the L every goal needs at most about 32 steps per joint. With equal
    links the 4-joint L with joints 2 and 4 at zero is exactly the 2-joint L (the paper's
    "balanced" input mapping 4b).
    """
    angles = [math.pi / 2] + [0.0] * (n_joints - 1)
    if n_joints >= 2:
        if n_joints % 2 == 0:
            angles[n_joints // 2] = -math.pi / 2
        else:
            angles[(n_joints - 1) // 2] = angles[(n_joints + 1) // 2] = -math.pi / 4
    return tuple(angles)


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class PlanarArmConfig:
    """Every number of the reaching task; defaults are the paper's where it gives them.

    ``link_lengths=None`` means ``n_joints`` equal links of total length 1 (stored resolved,
    as a tuple). ``initial_angles=None`` means the "L" of :func:`default_initial_angles`.
    """

    n_joints: int = 2  #: revolute joints (the paper: 2, 3, 4)
    link_lengths: tuple[float, ...] | None = None  #: per link; default equal, total 1 (ours)
    max_steps: int = 60  #: control steps per episode (paper Sec. 3)
    dt: float = 0.05  #: control cycle in s (paper: 50 ms); kinematic model, only reported
    step_size: float = 0.05  #: joint-angle change of a forward/backward action in rad (paper)
    workspace: str = "upper"  #: goal region, "upper" (y >= 0) or "full" (ours)
    initial_angles: tuple[float, ...] | None = None  #: default an "L" (ours)

    def __post_init__(self) -> None:
        n = self.n_joints
        if not is_int(n) or not 1 <= n <= 8:
            raise ValueError(
                f"n_joints must be an integer in [1, 8] (the paper uses 2, 3, 4), got {n!r}"
            )
        if self.link_lengths is None:
            lengths = (1.0 / n,) * n
        else:
            try:
                lengths = tuple(float(v) for v in self.link_lengths)
            except (TypeError, ValueError):
                raise ValueError(
                    f"link_lengths must be a sequence of {n} positive numbers, got {self.link_lengths!r}"
                ) from None
            if len(lengths) != n or not all(math.isfinite(v) and v > 0 for v in lengths):
                raise ValueError(
                    f"link_lengths must be {n} (= n_joints) positive finite numbers, "
                    f"got {self.link_lengths!r}"
                )
        object.__setattr__(self, "link_lengths", lengths)
        if not is_int(self.max_steps) or self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {self.max_steps!r}")
        for name in ("dt", "step_size"):
            v = getattr(self, name)
            if not is_real(v) or not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if self.workspace not in WORKSPACES:
            raise ValueError(f"workspace must be one of {WORKSPACES}, got {self.workspace!r}")
        if self.initial_angles is None:
            init = default_initial_angles(n)
        else:
            try:
                init = tuple(float(v) for v in self.initial_angles)
            except (TypeError, ValueError):
                raise ValueError(
                    f"initial_angles must be a sequence of {n} numbers, got {self.initial_angles!r}"
                ) from None
            if len(init) != n or not all(math.isfinite(v) for v in init):
                raise ValueError(
                    f"initial_angles must be {n} (= n_joints) finite numbers, got {self.initial_angles!r}"
                )
        object.__setattr__(self, "initial_angles", init)

    @property
    def reach(self) -> float:
        """Total arm length ``L``: the radius of the workspace."""
        return float(sum(self.link_lengths))

    @property
    def obs_dim(self) -> int:
        return 2 * self.n_joints + 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["link_lengths"] = list(self.link_lengths)
        d["initial_angles"] = list(self.initial_angles)
        return d

    @classmethod
    def from_any(cls, obj: "PlanarArmConfig | Mapping[str, Any] | None" = None, **overrides) -> "PlanarArmConfig":
        """A config from a config, a mapping of its fields, or an object with ``arm_config()``."""
        if obj is None:
            return cls(**overrides)
        if isinstance(obj, cls):
            return cls(**{**obj.to_dict(), **overrides}) if overrides else obj
        if hasattr(obj, "arm_config"):
            return cls.from_any(obj.arm_config(), **overrides)
        if isinstance(obj, Mapping):
            unknown = set(obj) - set(cls.__dataclass_fields__)
            if unknown:
                raise ValueError(
                    f"unknown planar-arm settings {sorted(unknown)}; allowed: "
                    f"{sorted(cls.__dataclass_fields__)}"
                )
            return cls(**{**obj, **overrides})
        raise TypeError(f"cannot build a PlanarArmConfig from {type(obj).__name__}")


# ------------------------------------------------------------------------------ environment


class PlanarArmEnv(gym.Env):
    """Gymnasium environment of the reaching task (see the module docstring).

    ``PlanarArmEnv(n_joints=2, link_lengths=None, max_steps=60, dt=0.05, step_size=0.05,
    workspace="upper", initial_angles=None)`` or ``PlanarArmEnv(config=PlanarArmConfig(...))``.

    ``reset(seed=..., options={"goal": (x, y), "angles": (...)})``: the options fix the goal
    and/or the initial joint angles (for tests and illustrations); otherwise the goal is drawn
    from ``self.np_random`` (:func:`sample_goals`) and the arm starts in the initial
    configuration. ``info``: ``tip (2,)``, ``goal (2,)``, ``distance``, ``angles (n,)``,
    ``joints (n + 1, 2)`` (base, joints, tip), ``step``.
    """

    metadata = {"render_modes": [], "render_fps": 20}

    def __init__(
        self,
        n_joints: int = 2,
        link_lengths: Sequence[float] | None = None,
        max_steps: int = 60,
        dt: float = 0.05,
        step_size: float = 0.05,
        workspace: str = "upper",
        initial_angles: Sequence[float] | None = None,
        *,
        config: PlanarArmConfig | None = None,
    ) -> None:
        super().__init__()
        if config is None:
            config = PlanarArmConfig(
                n_joints=n_joints, link_lengths=link_lengths, max_steps=max_steps, dt=dt,
                step_size=step_size, workspace=workspace, initial_angles=initial_angles,
            )
        elif not isinstance(config, PlanarArmConfig):
            raise TypeError(f"config must be a PlanarArmConfig, got {type(config).__name__}")
        self.config = config
        n, L = config.n_joints, config.reach
        self._lengths = np.asarray(config.link_lengths)
        low = np.concatenate([-np.ones(2 * n), [-L, -L]]).astype(np.float32)
        self.observation_space = gym.spaces.Box(low=low, high=-low, dtype=np.float32)
        self.action_space = gym.spaces.MultiDiscrete([3] * n)
        self._angles = np.asarray(config.initial_angles, dtype=np.float64)
        self._goal = np.zeros(2)
        self._t = 0

    def _info(self) -> dict[str, Any]:
        joints = joint_positions(self._angles, self._lengths)
        tip = joints[-1]
        return {
            "tip": tip.copy(),
            "goal": self._goal.copy(),
            "distance": float(np.linalg.norm(tip - self._goal)),
            "angles": self._angles.copy(),
            "joints": joints,
            "step": self._t,
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"goal", "angles"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; allowed: 'goal', 'angles'")
        n = self.config.n_joints
        if "angles" in options:
            angles = np.asarray(options["angles"], dtype=np.float64)
            if angles.shape != (n,):
                raise ValueError(f"options['angles'] must have shape ({n},), got {angles.shape}")
            self._angles = angles.copy()
        else:
            self._angles = np.asarray(self.config.initial_angles, dtype=np.float64)
        if "goal" in options:
            goal = np.asarray(options["goal"], dtype=np.float64)
            if goal.shape != (2,):
                raise ValueError(f"options['goal'] must have shape (2,), got {goal.shape}")
            self._goal = goal.copy()
        else:
            self._goal = sample_goals(self.np_random, 1, self._lengths, self.config.workspace)[0]
        self._t = 0
        return observation(self._angles, self._goal), self._info()

    def step(self, action):
        action = np.asarray(action)
        if action.shape != (self.config.n_joints,) or not np.all((action >= 0) & (action <= 2)):
            raise ValueError(
                f"action must be {self.config.n_joints} integers in {{0, 1, 2}} "
                f"(forward, backward, none), got {action!r}"
            )
        self._angles = apply_actions(self._angles, action.astype(np.int64), self.config.step_size)
        self._t += 1
        info = self._info()
        reward = float(reaching_reward(info["distance"], self.config.reach))
        truncated = self._t >= self.config.max_steps
        return observation(self._angles, self._goal), reward, False, truncated, info


# --------------------------------------------------------------------------------------------
# input transformations between arms (Fig. 5, 4a / 4b)
# --------------------------------------------------------------------------------------------


def _groups(n_short: int, n_long: int) -> np.ndarray:
    """Group ``floor(j * n_short / n_long)`` of each of the longer arm's joints, ``(n_long,)``."""
    return (np.arange(n_long) * n_short) // n_long


def _check_joints(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}={n!r}: must be an integer >= 1")
    return int(n)


def transform_joint_angles(
    angles: np.ndarray,
    n_to: int,
    mode: Literal["naive", "balanced"] = "balanced",
    *,
    angle_frame: Literal["relative", "absolute"] = "relative",
) -> np.ndarray:
    """Map joint angles ``(N, n_from)`` of one arm to ``(N, n_to)`` of another (Fig. 5, 4a/4b).

    ``mode="naive"`` (4a): copy the first ``min(n_from, n_to)`` angles, pad with 0 or truncate.
    ``mode="balanced"`` (4b): spread the joints evenly (module docstring); for 2 -> 4 with
    relative angles ``(th_1, 0, th_2, 0)``.
    """
    th = np.asarray(angles, dtype=np.float64)
    if th.ndim != 2 or th.shape[1] < 1:
        raise ValueError(f"angles must have shape (N, n_joints), got {th.shape}")
    n_from, n_to = th.shape[1], _check_joints(n_to, "n_to")
    if mode not in ("naive", "balanced"):
        raise ValueError(f"mode={mode!r}: must be 'naive' (Fig. 5, 4a) or 'balanced' (4b)")
    if angle_frame not in ("relative", "absolute"):
        raise ValueError(f"angle_frame={angle_frame!r}: must be 'relative' or 'absolute'")
    out = np.zeros((th.shape[0], n_to))
    if n_to == n_from:
        return th.copy()
    if mode == "naive":
        n = min(n_from, n_to)
        out[:, :n] = th[:, :n]
        return out
    if n_to > n_from:  # expand
        g = _groups(n_from, n_to)
        if angle_frame == "absolute":
            return th[:, g]
        first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        out[:, first] = th
        return out
    g = _groups(n_to, n_from)  # compress
    if angle_frame == "absolute":
        last = np.flatnonzero(np.r_[g[1:] != g[:-1], True])
        return th[:, last]
    for k in range(n_to):
        out[:, k] = th[:, g == k].sum(axis=1)
    return out


def transform_joint_observations(
    obs: np.ndarray,
    n_joints_from: int,
    n_joints_to: int,
    mode: Literal["naive", "balanced"] = "balanced",
    *,
    encoding: Literal["sincos", "angles"] = "sincos",
    angle_frame: Literal["relative", "absolute"] = "relative",
) -> np.ndarray:
    """Turn observations of an ``n_joints_from`` arm into inputs for an ``n_joints_to`` network.

    ``obs: (N, d)`` laid out as eq. 1: ``encoding="sincos"``: ``[sin th_1, cos th_1, ...,
    sin th_n, cos th_n, rest...]``; ``encoding="angles"``: ``[th_1, ..., th_n, rest...]``. The
    ``rest`` (the goal ``x*, y*``) is copied. Returns ``(N, d - w n_from + w n_to)`` with ``w``
    the columns per joint. See :func:`transform_joint_angles` for the modes.
    """
    x = np.asarray(obs, dtype=np.float64)
    n_from = _check_joints(n_joints_from, "n_joints_from")
    n_to = _check_joints(n_joints_to, "n_joints_to")
    if encoding not in ("sincos", "angles"):
        raise ValueError(f"encoding={encoding!r}: must be 'sincos' (eq. 1) or 'angles'")
    w = 2 if encoding == "sincos" else 1
    if x.ndim != 2 or x.shape[1] < w * n_from:
        raise ValueError(
            f"obs must have shape (N, d) with d >= {w * n_from} ({w} columns per joint x {n_from} joints), "
            f"got {x.shape}"
        )
    joints, rest = x[:, : w * n_from], x[:, w * n_from:]
    if encoding == "angles":
        new = transform_joint_angles(joints, n_to, mode, angle_frame=angle_frame)
    else:
        s, c = joints[:, 0::2], joints[:, 1::2]
        th = transform_joint_angles(np.arctan2(s, c), n_to, mode, angle_frame=angle_frame)
        new = np.empty((x.shape[0], 2 * n_to))
        new[:, 0::2], new[:, 1::2] = np.sin(th), np.cos(th)
    return np.concatenate([new, rest], axis=1)
