"""One look for the whole book, and the one way a figure enters it: :func:`publish`.

``set_theme()`` applies the book's seaborn theme and colour-blind-safe palette.
``publish(name, fig, caption)`` stamps the figure with the profile that made it, glues it
for the book (``myst_nb.glue``) and prints a provenance footer below it: notebook, profile,
parameters that differ from the book defaults, code version, wall time, and the one
``rlinside run ...`` command that reproduces it, and the artifacts (kind/key) read so far.
``publish_html(html, caption)`` does the same for animations.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))  # headless by default; notebooks render inline

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["set_theme", "PALETTE", "run_context", "provenance", "publish", "publish_html", "publish_video",
           "SCALE_NOTE"]

#: The book's categorical palette (Okabe & Ito 2008, colour-blind safe).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: How each profile relates to the paper's scale, printed on every figure.
SCALE_NOTE = {
    "smoke": "smoke profile: tiny CI scale, not for reading results",
    "book": "book profile: laptop scale, smaller than the paper",
    "paper": "paper profile: the paper's scale",
    "interactive": "run interactively: scale as set in the notebook",
}


def set_theme() -> None:
    """Apply the book's plotting theme (call once at the top of a notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "figure.autolayout": False,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def run_context() -> dict[str, Any]:
    """The run context set by ``rlinside run`` (or a minimal one for an interactive session)."""
    raw = os.environ.get("RLINSIDE_RUN")
    if raw:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            pass
    from rlinside.utils import code_version

    return {
        "notebook": "(interactive session)",
        "profile": "interactive",
        "non_default": {},
        "command": None,
        "code_version": code_version(),
        "started": _SESSION_START,
    }


_SESSION_START = time.time()


def provenance(ctx: dict[str, Any] | None = None) -> str:
    """The provenance footer as Markdown."""
    ctx = ctx or run_context()
    nd = ctx.get("non_default") or {}
    params = ", ".join(f"`{k}={v}`" for k, v in nd.items()) if nd else "none (book defaults)"
    wall = time.time() - float(ctx.get("started", _SESSION_START))
    cmd = ctx.get("command")
    lines = [
        f"**Provenance.** notebook `{ctx.get('notebook')}` · profile **{ctx.get('profile')}** "
        f"({SCALE_NOTE.get(ctx.get('profile'), '')}) · parameters differing from the book profile: {params} · "
        f"code `{ctx.get('code_version')}` · wall time so far {wall:.1f} s",
    ]
    from rlinside import store

    read = store.reads()
    if read:
        lines.append("Artifacts read: " + ", ".join(
            f"`{a['kind']}/{a['key']}`{' (local cache)' if a['where'] == 'cache' else ''}" for a in read))
    lines.append(f"Reproduce: `{cmd}`" if cmd else "Reproduce: run this notebook with `rlinside run`.")
    return "\n\n".join(lines)


def publish(name: str, fig: plt.Figure, caption: str | None = None, *, stamp: bool = True) -> None:
    """Stamp, glue and display ``fig`` under ``name`` with its provenance footer.

    ``stamp`` writes the profile and code version into the figure itself (bottom right),
    so the image carries its scale even when copied out of the book.
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"figure name {name!r} must be letters, digits, '_' or '-'")
    ctx = run_context()
    if stamp:
        fig.text(
            0.995, -0.01,
            f"rlinside · {ctx.get('profile')} profile · {ctx.get('code_version')}",
            ha="right", va="top", fontsize=7, color="0.45",
        )
    from IPython.display import Markdown, display

    try:
        from myst_nb import glue

        glue(name, fig, display=True)
    except ImportError:  # pragma: no cover - myst-nb is a dependency
        display(fig)
    plt.close(fig)
    text = provenance(ctx)
    if caption:
        text = f"{caption}\n\n{text}"
    display(Markdown(text))


def publish_video(name: str, frames: list, caption: str, *, alt: str, fps: float = 15.0,
                  width: int | None = None) -> Path:
    """Write ``frames`` (RGB uint8) as the H.264 video ``<name>.mp4`` with the still
    ``<name>.png`` (its middle frame) into the run's media folder (``<notebook>_media`` beside
    the executed notebook, :func:`rlinside.notebook.media_dir`; ``./media`` in an interactive
    session) and show it with :func:`publish_html`: the page loads the still, and the video
    only when played. Returns the video's path."""
    from PIL import Image

    from rlinside.plots.video import video_html, write_mp4
    from rlinside.utils import atomic_write_bytes

    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"video name {name!r} must be letters, digits, '_' or '-'")
    if not frames:
        raise ValueError("frames must not be empty")
    ctx = run_context()
    folder = Path(ctx.get("media_dir") or Path.cwd() / "media")
    url = ctx.get("media_url") or "media"
    folder.mkdir(parents=True, exist_ok=True)
    video = write_mp4(list(frames), folder / f"{name}.mp4", fps=fps)
    buf = io.BytesIO()
    Image.fromarray(frames[len(frames) // 2]).save(buf, format="PNG", optimize=True)
    atomic_write_bytes(folder / f"{name}.png", buf.getvalue())
    size = f"{video.stat().st_size / 1e6:.1f} MB video"
    publish_html(video_html(f"{url}/{name}.mp4", f"{url}/{name}.png", alt, width), f"{caption} ({size})")
    return video


def publish_html(html: str, caption: str | None = None) -> None:
    """Display an HTML figure (an animation, a video) with the same provenance footer as
    :func:`publish`: the one other way a figure enters the book."""
    from IPython.display import HTML, Markdown, display

    display(HTML(html))
    text = provenance()
    if caption:
        text = f"{caption}\n\n{text}"
    display(Markdown(text))
