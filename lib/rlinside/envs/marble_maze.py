"""A circular marble maze in pybullet: the task of the LSTM-contribution chapter.

Lee et al. (2019) analyse a policy that tilts a circular ball-in-maze game to bring a ball
from the outer ring to the centre (their Figure 1, after van Baar et al. 2018). Neither paper
gives the maze's dimensions or dynamics; every choice below is ours and is a parameter of
:class:`MarbleMazeConfig`.

Geometry (metres, board frame; the board's centre is the origin, ``z`` up):

- ``n_rings`` circular walls (4 by default) at radii ``wall_radii`` plus an outer rim; the
  ball lives in the channels between them. Ring ``k`` (1 = innermost channel, ``n_rings`` =
  outermost) is the channel just outside wall ``k``; ring 0 is the centre disc, the goal.
- each wall has one **gate**, a gap of ``gate_width`` metres of arc, at the angle
  ``gate_angles[k-1]``; by default the gates alternate between 45 and 225 degrees, so the ball
  has to travel round each ring to the next gate.
- walls are boxes (``wall_thickness`` thick, ``wall_height`` high) placed edge to edge around
  each circle, one pybullet compound collision shape; the floor is a box. The ball is a
  sphere of ``ball_radius`` with rolling friction and linear damping (the damping stands for
  the felt of a real maze and keeps speeds moderate).

Tilting. The board itself does not move: tilting it by ``(theta_x, theta_y)`` is simulated by
turning gravity the opposite way in the board frame, ``g = 9.81 * (sin ty, -sin tx cos ty,
-cos tx cos ty)`` (a board that tilts slowly compared with the ball's motion; the forces of
the board's own rotation are neglected). Actions (as in the paper, 5 discrete): 0 no-op,
1/2 tilt about ``x`` by ``+-tilt_step``, 3/4 tilt about ``y`` by ``+-tilt_step``; each angle
is clipped to ``+-max_tilt`` (``tilt_mode="incremental"``: the tilt is the sum of the past
actions; the paper does not say which reading it means). The tilt is not visible in the image: the camera is mounted on
the board, so an incremental policy has to remember what it did. With ``tilt_mode="hold"``
an action holds the board at ``+-max_tilt`` about its axis for the action's duration and
no-op holds it level: the tilt is then a function of the current action alone, and what the
policy must integrate over frames is the ball's velocity (one image shows only a position).
The shipped policy of the chapter uses ``"hold"`` (the chapter says why).

Time, the quantities the paper names as the Sim2Real gap, are parameters:

- ``substeps``: physics steps of 1/240 s per action (the action's duration; default 8, so
  30 actions per second);
- ``frame_every``: the camera delivers a new image every ``frame_every`` actions and repeats
  the last one in between (the frame rate is ``30 / frame_every`` Hz by default);
- ``obs_delay``: the image the policy receives shows the maze ``obs_delay`` actions ago.

Observation: an overhead image ``(1, image_size, image_size)`` uint8 (64 x 64 by default), drawn
by a deterministic software renderer of the simulated state: the maze's walls (pre-drawn
once) and the ball as an anti-aliased disc. ``info``: ``ball_xy`` (metres), ``ring`` (0-4),
``distance`` to the centre (metres and, as ``distance_px``, pixels of the image), ``tilt``,
``success``.

Reward: potential-based progress along the maze (Ng et al. 1999): the potential of a position
is minus the number of walls still to cross, minus the angular distance to the next gate in
units of pi; the reward is the change of the potential, plus ``goal_reward`` on reaching the
centre (which ends the episode). Episodes are truncated after ``max_steps`` actions.
Start positions: the middle of the outer ring, at an angle drawn uniformly from the seeded
generator (``reset(seed=...)``), ball at rest, board level. For training, ``start_rings`` may
let resets start in inner rings too (a curriculum); ``reset(options={"angle": a, "ring": k})``
places the ball exactly.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet
from gymnasium import spaces

__all__ = ["MarbleMazeConfig", "MarbleMazeEnv", "ACTION_NAMES"]

ACTION_NAMES = ("no-op", "tilt +x", "tilt -x", "tilt +y", "tilt -y")
GRAVITY = 9.81
TILT_MODES = ("incremental", "hold")
PHYSICS_HZ = 240


@dataclass(frozen=True)
class MarbleMazeConfig:
    """Every parameter of the maze (see the module docstring)."""

    n_rings: int = 4
    outer_radius: float = 0.14  # the rim
    ring_width: float = 0.028  # wall-to-wall distance
    wall_thickness: float = 0.004
    wall_height: float = 0.012
    gate_width: float = 0.022  # metres of arc
    gate_angles: tuple[float, ...] | None = None  # radians, one per wall (inner first); None: alternate
    ball_radius: float = 0.006
    ball_mass: float = 0.005
    linear_damping: float = 0.6
    lateral_friction: float = 0.3
    rolling_friction: float = 1e-5
    restitution: float = 0.2
    tilt_step: float = math.radians(0.5)  # per action, tilt_mode "incremental"
    max_tilt: float = math.radians(3.0)
    tilt_mode: str = "incremental"  # or "hold" (module docstring)
    substeps: int = 8
    frame_every: int = 1
    obs_delay: int = 0
    image_size: int = 64
    max_steps: int = 1000
    goal_reward: float = 10.0
    start_rings: tuple[int, ...] | None = None  # rings a reset may start in (None: the outer ring only)

    def __post_init__(self) -> None:
        def positive_int(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")

        for name in ("n_rings", "substeps", "frame_every", "max_steps"):
            positive_int(name)
        if isinstance(self.obs_delay, bool) or not isinstance(self.obs_delay, int) or self.obs_delay < 0:
            raise ValueError(f"obs_delay must be an int >= 0, got {self.obs_delay!r}")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 16:
            raise ValueError(f"image_size must be an int >= 16, got {self.image_size!r}")
        for name in ("outer_radius", "ring_width", "wall_thickness", "wall_height", "gate_width",
                     "ball_radius", "ball_mass", "tilt_step", "max_tilt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.outer_radius - self.n_rings * self.ring_width <= 2 * self.ball_radius:
            raise ValueError(
                f"{self.n_rings} rings of width {self.ring_width} do not fit in outer_radius "
                f"{self.outer_radius} with a centre larger than the ball"
            )
        if self.ring_width - self.wall_thickness <= 2 * self.ball_radius:
            raise ValueError("ring_width - wall_thickness must exceed the ball's diameter")
        if self.gate_width <= 2 * self.ball_radius:
            raise ValueError(f"gate_width must exceed the ball's diameter {2 * self.ball_radius}")
        if self.tilt_mode not in TILT_MODES:
            raise ValueError(f"tilt_mode must be one of {TILT_MODES}, got {self.tilt_mode!r}")
        if self.start_rings is not None and (not self.start_rings or any(
                isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.n_rings for k in self.start_rings)):
            raise ValueError(f"start_rings must be rings in 1..{self.n_rings}, got {self.start_rings!r}")
        if self.gate_angles is not None and len(self.gate_angles) != self.n_rings:
            raise ValueError(f"gate_angles needs one angle per wall ({self.n_rings}), got {len(self.gate_angles)}")

    @property
    def wall_radii(self) -> np.ndarray:
        """Radii of the ring walls, inner first: ``outer_radius - (n_rings - k + 1) * ring_width``."""
        return self.outer_radius - self.ring_width * np.arange(self.n_rings, 0, -1, dtype=np.float64)

    @property
    def gates(self) -> np.ndarray:
        if self.gate_angles is not None:
            return np.asarray(self.gate_angles, dtype=np.float64) % (2 * np.pi)
        # outermost wall at 45 degrees, alternating by 180 degrees inwards
        k = np.arange(self.n_rings)
        return (np.pi / 4 + np.pi * ((self.n_rings - 1 - k) % 2)) % (2 * np.pi)


def _angle_diff(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray | float:
    """Signed difference a - b wrapped to (-pi, pi]."""
    return (np.asarray(a) - b + np.pi) % (2 * np.pi) - np.pi


class MarbleMazeEnv(gym.Env):
    """The circular marble maze (module docstring). ``MarbleMazeEnv(**config_fields)`` or
    ``MarbleMazeEnv(config=MarbleMazeConfig(...))``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, config: MarbleMazeConfig | None = None, render_mode: str | None = None, **kwargs) -> None:
        if config is not None and kwargs:
            raise ValueError("pass either config or keyword fields, not both")
        self.config = config if config is not None else MarbleMazeConfig(**kwargs)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        c = self.config
        self.action_space = spaces.Discrete(5)
        self.observation_space = spaces.Box(0, 255, (1, c.image_size, c.image_size), dtype=np.uint8)
        self._client = pybullet.connect(pybullet.DIRECT)
        try:
            self._build()
        except Exception:
            pybullet.disconnect(physicsClientId=self._client)
            raise
        self._radii, self._gates = c.wall_radii, c.gates  # computed once: read every step
        self._background = self._draw_maze()
        self._frames: deque[np.ndarray] = deque(maxlen=c.obs_delay + 1)
        self._tilt = np.zeros(2)
        self._steps = 0
        self._last_frame: np.ndarray | None = None

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        c, cid = self.config, self._client
        pybullet.setTimeStep(1.0 / PHYSICS_HZ, physicsClientId=cid)
        floor = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[c.outer_radius + 0.02] * 2 + [0.005],
                                              physicsClientId=cid)
        self._floor = pybullet.createMultiBody(0, floor, basePosition=[0, 0, -0.005], physicsClientId=cid)
        # all walls as one static triangle mesh: a box per wall segment (a compound shape holds
        # at most 16 children, and fixed links cost a multibody solve every step)
        vertices, indices = [], []
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        faces = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
                 (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)]
        radii = list(self.config.wall_radii) + [c.outer_radius]
        gates = list(self.config.gates) + [None]
        for r, gate in zip(radii, gates):
            n = max(16, int(math.ceil(2 * math.pi * r / 0.005)))
            seg = 2 * math.pi * r / n
            half = np.array([c.wall_thickness / 2, seg / 2 * 1.05, c.wall_height / 2])
            for s_ in range(n):
                phi = 2 * math.pi * (s_ + 0.5) / n
                if gate is not None and abs(_angle_diff(phi, gate)) * r < c.gate_width / 2 + seg / 2:
                    continue
                radial = np.array([math.cos(phi), math.sin(phi), 0.0])
                tangent = np.array([-math.sin(phi), math.cos(phi), 0.0])
                centre = np.array([r * math.cos(phi), r * math.sin(phi), c.wall_height / 2])
                base = len(vertices)
                for k in corners * half:
                    vertices.append(list(centre + k[0] * radial + k[1] * tangent + np.array([0, 0, k[2]])))
                indices += [base + i for f in faces for i in f]
        walls = pybullet.createCollisionShape(pybullet.GEOM_MESH, vertices=vertices, indices=indices,
                                              flags=pybullet.GEOM_FORCE_CONCAVE_TRIMESH, physicsClientId=cid)
        self._walls = pybullet.createMultiBody(0, walls, physicsClientId=cid)
        pybullet.changeDynamics(self._walls, -1, lateralFriction=c.lateral_friction, restitution=c.restitution,
                                physicsClientId=cid)
        ball = pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=c.ball_radius, physicsClientId=cid)
        start = [radii[-2] + c.ring_width / 2, 0, c.ball_radius]
        self._ball = pybullet.createMultiBody(c.ball_mass, ball, basePosition=start,
                                              physicsClientId=cid)
        pybullet.changeDynamics(self._floor, -1, lateralFriction=c.lateral_friction, restitution=c.restitution,
                                physicsClientId=cid)
        pybullet.changeDynamics(self._ball, -1, lateralFriction=c.lateral_friction, rollingFriction=c.rolling_friction,
                                restitution=c.restitution, linearDamping=c.linear_damping, angularDamping=0.1,
                                physicsClientId=cid)

    # ------------------------------------------------------------------ drawing
    def _pixel(self, xy: np.ndarray) -> np.ndarray:
        """Board metres -> image pixel coordinates (column, row), ``y`` up on the image."""
        c = self.config
        scale = c.image_size / (2 * (c.outer_radius + 0.004))
        return np.array([c.image_size / 2 + xy[0] * scale, c.image_size / 2 - xy[1] * scale]), scale

    def _draw_maze(self) -> np.ndarray:
        c = self.config
        n = c.image_size
        yy, xx = np.mgrid[0:n, 0:n] + 0.5
        centre, scale = self._pixel(np.zeros(2))
        px, py = (xx - centre[0]) / scale, (centre[1] - yy) / scale  # metres
        r = np.hypot(px, py)
        phi = np.arctan2(py, px) % (2 * np.pi)
        img = np.full((n, n), 40.0)  # outside the board
        img[r <= c.outer_radius + 0.004] = 110.0  # the board
        img[r <= c.wall_radii[0]] = 150.0  # the goal disc, lighter
        half = max(c.wall_thickness / 2, 0.6 / scale)  # at least about a pixel wide
        for rad, gate in list(zip(c.wall_radii, c.gates)) + [(c.outer_radius, None)]:
            on = np.abs(r - rad) <= half
            if gate is not None:
                on &= np.abs(_angle_diff(phi, gate)) * rad >= c.gate_width / 2
            img[on] = 220.0
        return img

    def _render_state(self) -> np.ndarray:
        c = self.config
        img = self._background.copy()
        (cx, cy), scale = self._pixel(self._ball_xy())
        rad = max(c.ball_radius * scale, 1.0)
        lo_x, hi_x = int(max(0, cx - rad - 2)), int(min(c.image_size, cx + rad + 2))
        lo_y, hi_y = int(max(0, cy - rad - 2)), int(min(c.image_size, cy + rad + 2))
        yy, xx = np.mgrid[lo_y:hi_y, lo_x:hi_x] + 0.5
        cover = np.clip(rad + 0.5 - np.hypot(xx - cx, yy - cy), 0.0, 1.0)  # anti-aliased edge
        patch = img[lo_y:hi_y, lo_x:hi_x]
        img[lo_y:hi_y, lo_x:hi_x] = patch * (1 - cover) + 0.0 * cover  # a dark ball
        return np.rint(img).astype(np.uint8)[None]

    # ------------------------------------------------------------------ state
    def _ball_xy(self) -> np.ndarray:
        pos, _ = pybullet.getBasePositionAndOrientation(self._ball, physicsClientId=self._client)
        return np.array(pos[:2])

    def ring_of(self, xy: np.ndarray) -> int:
        """0 in the centre disc, k in the channel just outside wall k."""
        return int(np.searchsorted(self._radii, math.hypot(xy[0], xy[1])))

    def potential(self, xy: np.ndarray) -> float:
        """Minus the walls still to cross, minus the angular distance to the next gate / pi."""
        ring = self.ring_of(xy)
        if ring == 0:
            return 0.0
        gate = self._gates[ring - 1]
        return -(ring - 1) - abs(float(_angle_diff(math.atan2(xy[1], xy[0]), gate))) / math.pi

    def _info(self) -> dict:
        xy = self._ball_xy()
        ring = self.ring_of(xy)
        _, scale = self._pixel(np.zeros(2))
        d = float(np.hypot(*xy))
        return {"ball_xy": xy, "ring": ring, "distance": d, "distance_px": d * scale,
                "tilt": self._tilt.copy(), "success": ring == 0, "steps": self._steps}

    def _set_gravity(self) -> None:
        tx, ty = self._tilt
        g = GRAVITY * np.array([math.sin(ty), -math.sin(tx) * math.cos(ty), -math.cos(tx) * math.cos(ty)])
        pybullet.setGravity(*g, physicsClientId=self._client)

    def _observe(self) -> np.ndarray:
        if self._last_frame is None or self._steps % self.config.frame_every == 0:
            self._last_frame = self._render_state()
        self._frames.append(self._last_frame)
        return self._frames[0].copy()  # obs_delay steps old once the queue is full

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        c = self.config
        angle = float(self.np_random.uniform(0, 2 * np.pi))
        ring = c.n_rings if c.start_rings is None else int(self.np_random.choice(list(c.start_rings)))
        if options and "angle" in options:
            angle = float(options["angle"])
        if options and "ring" in options:
            ring = int(options["ring"])
            if not 1 <= ring <= c.n_rings:
                raise ValueError(f"options['ring'] must lie in 1..{c.n_rings}, got {ring}")
        r = c.wall_radii[ring - 1] + c.ring_width / 2
        pybullet.resetBasePositionAndOrientation(self._ball, [r * math.cos(angle), r * math.sin(angle), c.ball_radius],
                                                 [0, 0, 0, 1], physicsClientId=self._client)
        pybullet.resetBaseVelocity(self._ball, [0, 0, 0], [0, 0, 0], physicsClientId=self._client)
        self._tilt = np.zeros(2)
        self._set_gravity()
        self._steps = 0
        self._last_frame = None
        self._frames.clear()
        first = self._observe()
        while len(self._frames) < self._frames.maxlen:  # the delay line starts full of the first image
            self._frames.appendleft(self._frames[0])
        first = self._frames[0].copy()
        return first, self._info()

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int in 0..4 ({', '.join(ACTION_NAMES)}), got {action!r}")
        c = self.config
        before = self.potential(self._ball_xy())
        a = int(action)
        if c.tilt_mode == "hold":
            self._tilt = np.zeros(2)
        step = c.tilt_step if c.tilt_mode == "incremental" else c.max_tilt
        if a in (1, 2):
            self._tilt[0] += step if a == 1 else -step
        elif a in (3, 4):
            self._tilt[1] += step if a == 3 else -step
        self._tilt = np.clip(self._tilt, -c.max_tilt, c.max_tilt)
        self._set_gravity()
        for _ in range(c.substeps):
            pybullet.stepSimulation(physicsClientId=self._client)
        self._steps += 1
        xy = self._ball_xy()
        success = self.ring_of(xy) == 0
        reward = self.potential(xy) - before + (c.goal_reward if success else 0.0)
        obs = self._observe()
        truncated = not success and self._steps >= c.max_steps
        return obs, float(reward), bool(success), bool(truncated), self._info()

    def snapshot(self) -> dict:
        """The whole state of the game in progress (the pybullet world as ``saveBullet``
        bytes, tilt, step count, the observation delay line and the random generator), for a
        checkpoint; :meth:`restore` continues it bit-identically in an environment built
        with the same config."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "world.bullet"
            pybullet.saveBullet(str(path), physicsClientId=self._client)
            world = path.read_bytes()
        return {"bullet": world, "tilt": self._tilt.copy(), "steps": self._steps,
                "last_frame": None if self._last_frame is None else self._last_frame.copy(),
                "frames": [f.copy() for f in self._frames], "np_random": self.np_random.bit_generator.state}

    def restore(self, snap: dict) -> None:
        """Put the environment in the state of :meth:`snapshot`."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "world.bullet"
            path.write_bytes(snap["bullet"])
            pybullet.restoreState(fileName=str(path), physicsClientId=self._client)
        self._tilt = np.array(snap["tilt"], dtype=float)
        self._steps = int(snap["steps"])
        self._last_frame = snap["last_frame"]
        self._frames.clear()
        self._frames.extend(snap["frames"])
        self.np_random.bit_generator.state = snap["np_random"]
        self._set_gravity()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self._render_state()[0][..., None], 3, axis=2)

    def close(self) -> None:
        if getattr(self, "_client", None) is not None and pybullet.isConnected(physicsClientId=self._client):
            pybullet.disconnect(physicsClientId=self._client)
        self._client = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def config_dict(config: MarbleMazeConfig) -> dict:
    """The config as a JSON-able dict (for manifests)."""
    d = dataclasses.asdict(config)
    if d["gate_angles"] is not None:
        d["gate_angles"] = list(d["gate_angles"])
    return d
