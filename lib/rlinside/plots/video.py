"""Animated GIFs for the book: side-by-side panels per frame, embedded in the page.

GIF (Pillow, no ffmpeg needed) plays in every browser and is embedded in the notebook as a
``data:`` URL, so the built book is self-contained. Frames are RGB uint8 arrays.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["side_by_side", "label_strip", "gif_bytes", "gif_html", "saliency_video"]


def _check_rgb(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != 3 or x.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB image, got {x.shape} {x.dtype}")
    return x


def side_by_side(panels: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Panels of the same height, left to right, separated by ``gap`` white columns."""
    if not panels:
        raise ValueError("panels must not be empty")
    panels = [_check_rgb(p, f"panels[{i}]") for i, p in enumerate(panels)]
    h = panels[0].shape[0]
    if any(p.shape[0] != h for p in panels):
        raise ValueError(f"panels must share their height, got {[p.shape[0] for p in panels]}")
    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    out = [panels[0]]
    for p in panels[1:]:
        out += [spacer, p]
    return np.concatenate(out, axis=1)


def label_strip(labels: list[str], widths: list[int], gap: int = 2, height: int = 14) -> np.ndarray:
    """A white strip with one centred label above each panel (Pillow's default font)."""
    if len(labels) != len(widths):
        raise ValueError(f"one label per panel: {len(labels)} labels for {len(widths)} panels")
    total = sum(widths) + gap * (len(widths) - 1)
    img = Image.new("RGB", (total, height), "white")
    draw = ImageDraw.Draw(img)
    x = 0
    for text, w in zip(labels, widths):
        tw = draw.textlength(text)
        draw.text((x + max(0, (w - tw) / 2), 1), text, fill=(30, 30, 30))
        x += w + gap
    return np.asarray(img)


def gif_bytes(frames: list[np.ndarray], fps: float = 15.0) -> bytes:
    """An endlessly looping GIF of ``frames`` (same shape, RGB uint8) at ``fps``."""
    if not frames:
        raise ValueError("frames must not be empty")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    shape = _check_rgb(frames[0], "frames[0]").shape
    images = []
    for i, f in enumerate(frames):
        if _check_rgb(f, f"frames[{i}]").shape != shape:
            raise ValueError(f"frames must share one shape, frames[{i}] is {f.shape}, frames[0] {shape}")
        images.append(Image.fromarray(f).quantize(colors=128, method=Image.Quantize.MEDIANCUT))
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(round(1000 / fps)), loop=0, optimize=True)
    return buf.getvalue()


def gif_html(data: bytes, alt: str, width: int | None = None) -> str:
    """An ``<img>`` tag that embeds the GIF ``data``."""
    if not alt:
        raise ValueError("alt text is required: describe what the animation shows")
    style = f' width="{int(width)}"' if width else ""
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/gif;base64,{b64}" alt="{html.escape(alt, quote=True)}"{style}/>'


def saliency_video(frames: np.ndarray, maps: dict, methods: list[str], *, palette: str = "paper",
                   fps: float = 15.0) -> tuple[bytes, int]:
    """The chapter's saliency video: per step the screen, then each method of ``methods``
    normalized per frame and over the whole video, side by side at half size, under a label
    strip. Returns the GIF's bytes and its width in pixels."""
    from rlinside.explain.saliency import normalize
    from rlinside.plots.saliency import overlay

    per_frame = {m: normalize(maps[m], mode="frame").numpy() for m in methods}
    per_video = {m: normalize(maps[m], mode="video").numpy() for m in methods}
    images = []
    for t, f in enumerate(frames):
        panels = [f]
        for m in methods:
            panels += [overlay(f, per_frame[m][t], palette=palette), overlay(f, per_video[m][t], palette=palette)]
        images.append(side_by_side([p[::2, ::2] for p in panels]))
    labels = ["screen"] + [f"{m.replace('Guided Backprop', 'GBP')} {n}" for m in methods for n in ("/frame", "/video")]
    strip = label_strip(labels, [80] * len(labels))
    return gif_bytes([np.concatenate([strip, im]) for im in images], fps=fps), strip.shape[1]
