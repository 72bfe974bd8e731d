"""Where the game objects are: pixel masks found from the colours of the RGB screen.

Used to measure how much of a saliency map lies on the objects that matter (the saliency
chapter's "features before reward" test). The colours are those of ALE's NTSC palette as
ale-py renders the screens (210 x 160 RGB); they were read off screens of both games and are
checked by ``tests/test_atari_objects.py`` on real frames.

- Breakout: ``ball`` and ``paddle`` share the red (200, 72, 72) of the top brick row; below
  row 63 of the screen (under the top brick row) red pixels are the ball or the paddle, the
  paddle being the red pixels of rows 189-194.
- Seaquest: ``player`` (the yellow submarine, (187, 187, 53)), ``divers`` ((66, 72, 200)) and
  ``enemies`` (every other non-water pixel of the sea, rows 46-152: sharks, enemy submarines,
  torpedoes) inside the sea; ``oxygen`` is the oxygen bar ((214, 214, 214), rows 165-178).

:func:`to_observation_grid` maps a screen mask onto the agents' 84 x 84 observation (a cell is
on when any screen pixel that falls into it is on), optionally grown by ``dilate`` cells so
that the edges around an object count as the object.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["OBJECTS", "object_masks", "to_observation_grid"]

BREAKOUT_RED = (200, 72, 72)
SEAQUEST_PLAYER = (187, 187, 53)
SEAQUEST_DIVER = (66, 72, 200)
SEAQUEST_WATER = (0, 28, 136)
SEAQUEST_SURFACE = (24, 59, 157)  # the waves along the surface
SEAQUEST_OXYGEN = (214, 214, 214)
SEA_ROWS = (46, 153)  # rows of the screen that are sea (surface line excluded)

OBJECTS = {
    "Breakout": ("ball", "paddle"),
    "Seaquest": ("player", "divers", "enemies", "oxygen"),
}


def _colour(frame: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return (frame == np.asarray(rgb, dtype=np.uint8)).all(axis=-1)


def object_masks(game: str, frame: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks ``(210, 160)`` of the objects of ``game`` (names in :data:`OBJECTS`) on
    one RGB screen ``(210, 160, 3)`` uint8."""
    if game not in OBJECTS:
        raise ValueError(f"game must be one of {sorted(OBJECTS)}, got {game!r}")
    frame = np.asarray(frame)
    if frame.shape != (210, 160, 3) or frame.dtype != np.uint8:
        raise ValueError(f"frame must be a (210, 160, 3) uint8 RGB screen, got {frame.shape} {frame.dtype}")
    rows = np.arange(210)[:, None]
    if game == "Breakout":
        red = _colour(frame, BREAKOUT_RED) & (rows >= 63) & (rows <= 195)
        paddle = red & (rows >= 189)
        return {"ball": red & ~paddle, "paddle": paddle}
    sea = (rows >= SEA_ROWS[0]) & (rows < SEA_ROWS[1])
    player = _colour(frame, SEAQUEST_PLAYER) & sea
    divers = _colour(frame, SEAQUEST_DIVER) & sea
    water = _colour(frame, SEAQUEST_WATER) | _colour(frame, SEAQUEST_SURFACE) | _colour(frame, (0, 0, 0))
    enemies = sea & ~water & ~player & ~divers
    enemies[:, :8] = False  # the black HUD margin on the left
    oxygen = _colour(frame, SEAQUEST_OXYGEN) & (rows >= 165) & (rows <= 178)
    return {"player": player, "divers": divers, "enemies": enemies, "oxygen": oxygen}


def to_observation_grid(mask: np.ndarray, size: int = 84, dilate: int = 1) -> np.ndarray:
    """A screen mask ``(210, 160)`` on the ``size x size`` observation grid (bool); a cell is
    on when any of its screen pixels is on, then grown by ``dilate`` cells (3x3 steps)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    if isinstance(dilate, bool) or not isinstance(dilate, int) or dilate < 0:
        raise ValueError(f"dilate must be an int >= 0, got {dilate!r}")
    h, w = mask.shape
    rr, cc = np.nonzero(mask)
    grid = np.zeros((size, size), dtype=bool)
    grid[rr * size // h, cc * size // w] = True
    if dilate and grid.any():
        grid = ndimage.binary_dilation(grid, structure=np.ones((3, 3), dtype=bool), iterations=dilate)
    return grid
