"""Quantitative checks of saliency maps: the tests Rosynski et al. argue about but do not run.

- :func:`cascading_randomization` -- Adebayo et al. 2018, "Sanity checks for saliency maps",
  Sec. 3: re-initialize the layers of a trained network one after the other, from the output
  down to the input, and compare each method's map on the randomized network with its map on
  the trained one. A map that stays the same does not depend on what the network learned.
- similarity of two maps: :func:`rank_correlation` (Spearman, of the signed maps or of their
  absolute values, as in Adebayo et al. Fig. 2) and :func:`ssim` (structural similarity of
  the absolute maps scaled to [0, 1], computed by scikit-image);
- :func:`perturbation_saliency` -- Greydanus et al. 2018, Sec. 4: a non-gradient baseline that
  blurs a soft disc around each point of a grid and scores how much the output moves;
- :func:`temporal_stability` -- how alike the maps of consecutive frames of a video are;
- :func:`object_share` -- how much of a map's magnitude falls on given pixels (objects found
  by :mod:`rlinside.envs.atari_objects`), and the enrichment over the share of area.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage, stats
from torch import nn

__all__ = [
    "randomization_order",
    "cascading_randomization",
    "rank_correlation",
    "ssim",
    "perturbation_saliency",
    "object_share",
    "temporal_stability",
]


def randomization_order(model: nn.Module) -> list[str]:
    """Names of the modules of ``model`` that hold parameters of their own, from the output
    down to the input (reverse order of registration, which for the nets of
    :mod:`rlinside.nets` is the order of the forward pass; parallel heads such as the value and
    advantage streams come one after the other)."""
    names = [name for name, m in model.named_modules()
             if name and any(True for _ in m.parameters(recurse=False))]
    if not names:
        raise ValueError(f"{type(model).__name__} has no module with parameters to randomize")
    return names[::-1]


def _reinitialize(module: nn.Module, generator_seed: int) -> None:
    """Fresh parameters for one module: its own ``reset_parameters`` when it has one (the
    initialization it was built with), else PyTorch's default rule for a linear layer
    (uniform in +-1/sqrt(fan_in)) for each parameter. Seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
            return
        with torch.no_grad():
            for p in module.parameters(recurse=False):
                fan_in = p.shape[-1] if p.ndim > 1 else p.shape[0]
                bound = 1.0 / max(fan_in, 1) ** 0.5
                p.uniform_(-bound, bound)


def cascading_randomization(
    model: nn.Module, *, order: list[str] | None = None, seed: int = 0,
    fresh: Callable[[], nn.Module] | None = None,
) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer name, model with that layer and all above it re-initialized)``.

    The model itself is never changed: one deep copy is randomized cumulatively, in ``order``
    (default :func:`randomization_order`, output first). The copy yielded at step ``k`` has
    the first ``k + 1`` layers of ``order`` re-initialized; it is the same object each time, so
    use it before asking for the next one.

    How a layer is re-initialized: with ``fresh``, a callable that builds a new network of the
    same architecture with its own initialization (e.g. orthogonal weights for the A2C
    networks), the layer takes the parameters that ``fresh()`` (seeded) has at the same name:
    the model's *own* initialization, as Adebayo et al. intend. Without it, each module's
    ``reset_parameters`` (PyTorch's default rule), which for a network initialized otherwise
    is a different distribution (often a different scale).
    """
    names = randomization_order(model) if order is None else list(order)
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or not n]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown}; layers of this model: {randomization_order(model)}")
    randomized = copy.deepcopy(model)
    randomized.eval()
    copies = dict(randomized.named_modules())
    for i, name in enumerate(names):
        if fresh is None:
            _reinitialize(copies[name], seed * 1000 + i)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed * 1000 + i)
                new = dict(fresh().named_modules()).get(name)
            if new is None or type(new) is not type(copies[name]):
                raise ValueError(f"fresh() must build the same architecture: it has no {type(copies[name]).__name__} "
                                 f"at {name!r}")
            with torch.no_grad():
                for (_, p), (_, q) in zip(copies[name].named_parameters(recurse=False),
                                          new.named_parameters(recurse=False), strict=True):
                    p.copy_(q)
        yield name, randomized


def _flat(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"{name} must hold at least 2 values, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.ravel()


def rank_correlation(a: Any, b: Any, *, absolute: bool = False) -> float:
    """Spearman rank correlation of two maps of the same shape (of ``|a|`` and ``|b|`` with
    ``absolute``). A constant map has no ranking: the result is then NaN."""
    x, y = _flat(a, "a"), _flat(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"maps must have the same number of values, got {x.size} and {y.size}")
    if absolute:
        x, y = np.abs(x), np.abs(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def _unit_abs(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    m = x.max()
    return x / m if m > 0 else x


def ssim(a: Any, b: Any) -> float:
    """Structural similarity (Wang et al. 2004; scikit-image's implementation, 7x7 window) of
    two 2-D maps, each taken in absolute value and scaled to [0, 1] by its maximum, as in
    Adebayo et al. 2018."""
    from skimage.metrics import structural_similarity

    def as2d(x, name):
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        x = np.asarray(x, dtype=np.float64).squeeze()
        if x.ndim != 2 or min(x.shape) < 7:
            raise ValueError(f"{name} must be a 2-D map of at least 7x7 pixels, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        return _unit_abs(x)

    x, y = as2d(a, "a"), as2d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"maps must have the same shape, got {x.shape} and {y.shape}")
    return float(structural_similarity(x, y, data_range=1.0))


def _greydanus_masks(size: tuple[int, int], centres: list[tuple[int, int]], radius: float) -> np.ndarray:
    """Greydanus et al.'s perturbation masks: a disc of radius 1 at each centre, blurred with a
    Gaussian of standard deviation ``radius`` and scaled to a maximum of 1. ``(N, H, W)``."""
    h, w = size
    out = np.zeros((len(centres), h, w), dtype=np.float32)
    yy, xx = np.ogrid[:h, :w]
    for n, (i, j) in enumerate(centres):
        disc = ((yy - i) ** 2 + (xx - j) ** 2 <= 1).astype(np.float64)
        m = ndimage.gaussian_filter(disc, sigma=radius)
        out[n] = m / m.max()
    return out


@torch.no_grad()
def perturbation_saliency(
    model: nn.Module,
    obs: torch.Tensor,
    output: Callable[[Any], torch.Tensor] | None = None,
    *,
    radius: float = 5.0,
    stride: int = 5,
    blur_sigma: float = 3.0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Perturbation saliency (Greydanus et al. 2018, Eqs. 1-2) of one observation.

    For each centre ``(i, j)`` of a grid with step ``stride``, every stacked frame is replaced
    by ``I * (1 - M) + blur(I) * M``, with ``M`` a soft disc of width ``radius`` around the
    centre and ``blur`` a Gaussian of standard deviation ``blur_sigma``; the score is
    ``S(i, j) = 1/2 || f(I) - f(I') ||^2``, with ``f`` the model's output vector (``output``
    picks it from what ``forward`` returns: default its first element -- Q-values or policy
    logits; pass e.g. ``lambda out: out[1]`` for the critic). The grid of scores is upsampled
    bilinearly to ``(H, W)``.

    Args:
        obs: ``(1, C, H, W)`` (pixels 0-255, any dtype).

    Returns:
        ``(1, 1, H, W)`` float32, non-negative.
    """
    if not isinstance(obs, torch.Tensor) or obs.ndim != 4 or obs.shape[0] != 1:
        raise ValueError(
            f"obs must be a tensor of shape (1, C, H, W), got "
            f"{tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__}"
        )
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    if not radius > 0 or not blur_sigma > 0:
        raise ValueError(f"radius and blur_sigma must be > 0, got {radius!r} and {blur_sigma!r}")
    pick = output if output is not None else (lambda out: out[0] if isinstance(out, tuple) else out)
    x = obs.detach().float()
    _, c, h, w = x.shape
    frames = x[0].cpu().numpy()
    blurred = torch.from_numpy(np.stack([ndimage.gaussian_filter(f, sigma=blur_sigma) for f in frames]))
    rows, cols = list(range(0, h, stride)), list(range(0, w, stride))
    centres = [(i, j) for i in rows for j in cols]
    masks = torch.from_numpy(_greydanus_masks((h, w), centres, radius))[:, None]  # (N, 1, H, W)
    base = pick(model(x)).reshape(1, -1).float()
    scores = []
    for start in range(0, len(centres), batch_size):
        m = masks[start:start + batch_size]
        perturbed = x * (1 - m) + blurred[None] * m  # (n, C, H, W)
        out = pick(model(perturbed)).reshape(m.shape[0], -1).float()
        scores.append(0.5 * ((out - base) ** 2).sum(dim=1))
    grid = torch.cat(scores).reshape(1, 1, len(rows), len(cols))
    return F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False).clamp(min=0)


def object_share(saliency: Any, mask: Any) -> tuple[float, float]:
    """``(share, enrichment)``: the share of ``sum |saliency|`` that lies on ``mask``, and that
    share divided by the share of pixels ``mask`` covers (1: no preference for the objects;
    > 1: the map concentrates on them). NaN when the map is all zero or the mask empty."""
    s = saliency.detach().cpu().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    s = np.abs(np.asarray(s, dtype=np.float64)).squeeze()
    m = np.asarray(m, dtype=bool).squeeze()
    if s.shape != m.shape:
        raise ValueError(f"saliency and mask must have the same shape, got {s.shape} and {m.shape}")
    total, area = s.sum(), m.mean()
    if total == 0 or area == 0:
        return float("nan"), float("nan")
    share = float(s[m].sum() / total)
    return share, share / float(area)


def temporal_stability(maps: Any, *, absolute: bool = True) -> np.ndarray:
    """Spearman rank correlation between the maps of consecutive frames of a video:
    ``maps: (T, H, W)`` -> ``(T - 1,)`` (NaN where a map is constant). High values: the same
    pixels stay highlighted from one frame to the next."""
    m = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    if m.ndim != 3 or m.shape[0] < 2:
        raise ValueError(f"maps must have shape (T, H, W) with T >= 2, got {m.shape}")
    return np.array([rank_correlation(m[t], m[t + 1], absolute=absolute) for t in range(len(m) - 1)])
