"""Videos for the book: side-by-side panels per frame, written as files the page loads.

The book's videos are H.264 MP4 files (:func:`write_mp4`, with the ffmpeg that the
``imageio-ffmpeg`` wheel ships, so no system package is needed), shown by a ``<video>`` tag
that loads nothing but its still until the reader presses play (:func:`video_html`; the
notebooks call :func:`rlinside.plots.publish_video`). Small animations can still be GIFs
(Pillow) embedded in the page (:func:`gif_bytes`, :func:`gif_html`). Frames are RGB uint8
arrays; :func:`upscale` enlarges Atari-sized panels by whole pixels.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["side_by_side", "label_strip", "upscale", "gif_bytes", "gif_html", "write_mp4", "video_html",
           "saliency_video"]


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


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` ``(H, W, 3)`` enlarged ``factor`` times by repeating pixels (nearest neighbour:
    no blur, every screen pixel stays a sharp square)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor!r}")
    image = _check_rgb(image, "image")
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def write_mp4(frames: list[np.ndarray], path: str | Path, fps: float = 15.0, crf: int = 23) -> Path:
    """Write ``frames`` (same shape, RGB uint8) as an H.264 MP4 at ``fps`` to ``path``.

    Odd sizes are padded by one white row or column (the codec's 4:2:0 colour needs even ones);
    ``crf`` is x264's quality (lower: better and larger). The file is written beside ``path``
    and renamed over it when complete, so an interrupted write leaves the old file."""
    import imageio_ffmpeg

    if not frames:
        raise ValueError("frames must not be empty")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise ValueError(f"crf must be a whole number in [0, 51], got {crf!r}")
    shape = _check_rgb(frames[0], "frames[0]").shape
    for i, f in enumerate(frames):
        if _check_rgb(f, f"frames[{i}]").shape != shape:
            raise ValueError(f"frames must share one shape, frames[{i}] is {f.shape}, frames[0] {shape}")
    path = Path(path)
    if path.suffix != ".mp4":
        raise ValueError(f"path must end in .mp4, got {path.name!r}")
    h, w = shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(tmp), (w + w % 2, h + h % 2), fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p", macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-crf", str(crf), "-movflags", "+faststart"])
    try:
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(np.pad(f, pad, constant_values=255)))
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def video_html(src: str, poster: str, alt: str, width: int | None = None) -> str:
    """A ``<video>`` tag for the MP4 at ``src`` that shows the still ``poster`` and loads the
    video only when played (``preload="none"``); browsers without H.264 show the still."""
    if not alt:
        raise ValueError("alt text is required: describe what the video shows")
    style = f' width="{int(width)}" style="max-width:100%;height:auto"' if width else ' style="max-width:100%"'
    a, s, p = (html.escape(x, quote=True) for x in (alt, src, poster))
    return (f'<video controls loop muted playsinline preload="none" poster="{p}"{style} aria-label="{a}">'
            f'<source src="{s}" type="video/mp4"/><img src="{p}" alt="{a}"/></video>')


def saliency_video(frames: np.ndarray, maps: dict, methods: list[str], *, palette: str = "diverging",
                   scale: int = 3) -> list[np.ndarray]:
    """The chapter's saliency video: per step the screen, then each method of ``methods``
    normalized per frame and over the whole video, side by side, each panel enlarged ``scale``
    times (nearest neighbour), under a label strip. Returns the frames (RGB uint8)."""
    from rlinside.explain.saliency import normalize
    from rlinside.plots.saliency import overlay

    per_frame = {m: normalize(maps[m], mode="frame").numpy() for m in methods}
    per_video = {m: normalize(maps[m], mode="video").numpy() for m in methods}
    images = []
    for t, f in enumerate(frames):
        panels = [f]
        for m in methods:
            panels += [overlay(f, per_frame[m][t], palette=palette), overlay(f, per_video[m][t], palette=palette)]
        images.append(side_by_side([upscale(p, scale) for p in panels], gap=2 * scale))
    width = frames[0].shape[1] * scale
    labels = ["screen"] + [f"{m.replace('Guided Backprop', 'GBP')} {n}" for m in methods
                           for n in ("per frame", "per video")]
    strip = upscale(label_strip(labels, [width // scale] * len(labels), gap=2, height=14), scale)
    strip = strip[:, :images[0].shape[1]]
    return [np.concatenate([strip, im]) for im in images]
