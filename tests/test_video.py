"""Videos as files: the H.264 writer, the <video> tag, and the run's media folder, which a
failed run leaves alone and a successful one replaces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlinside.plots.video import upscale, video_html, write_mp4


def _frames(n=6, h=21, w=30):
    rng = np.random.default_rng(0)
    return [np.ascontiguousarray(np.repeat(rng.integers(0, 255, (h, w, 1), dtype=np.uint8), 3, axis=2))
            for _ in range(n)]


def test_upscale_repeats_pixels():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = upscale(img, 3)
    assert big.shape == (6, 6, 3)
    np.testing.assert_array_equal(big[:3, :3], np.broadcast_to(img[0, 0], (3, 3, 3)))
    np.testing.assert_array_equal(big[3:, 3:], np.broadcast_to(img[1, 1], (3, 3, 3)))
    with pytest.raises(ValueError, match="factor"):
        upscale(img, 0)


def test_write_mp4_round_trip_pads_odd_sizes(tmp_path):
    import imageio_ffmpeg

    path = write_mp4(_frames(), tmp_path / "v.mp4", fps=10)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    assert meta["size"] == (30, 22) and meta["codec"] == "h264"  # 21 rows padded to 22
    assert sum(1 for _ in reader) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary file left
    with pytest.raises(ValueError, match="share one shape"):
        write_mp4([_frames()[0], np.zeros((4, 4, 3), np.uint8)], tmp_path / "w.mp4")
    with pytest.raises(ValueError, match=".mp4"):
        write_mp4(_frames(), tmp_path / "w.gif")
    assert not (tmp_path / "w.mp4").exists()


def test_video_html_loads_only_the_still():
    tag = video_html("m/v.mp4", "m/v.png", 'a "video"', width=480)
    assert 'preload="none"' in tag and 'poster="m/v.png"' in tag and '<source src="m/v.mp4"' in tag
    assert "&quot;video&quot;" in tag and "base64" not in tag
    with pytest.raises(ValueError, match="alt"):
        video_html("v.mp4", "v.png", "")


NOTEBOOK = '''# %% tags=["parameters"]
fail: int = 0  # fail after writing the video | {0, 1}

# %%
import numpy as np
from rlinside.plots import publish_video

publish_video("clip", [np.full((8, 8, 3), v, np.uint8) for v in (0, 100, 200)], "A clip.", alt="grey levels")
assert not fail, "asked to fail"
'''


def test_a_run_replaces_its_media_folder_only_when_it_succeeds(tmp_path):
    from rlinside import notebook

    src = tmp_path / "nb" / "clip.py"
    src.parent.mkdir()
    src.write_text(NOTEBOOK)
    spec = notebook.load_spec(src)
    out = tmp_path / "out" / "clip.ipynb"
    rec = notebook.run_notebook(spec, "book", [], output=out, progress=False)
    media = notebook.media_dir(out)
    assert rec.status == "ok" and sorted(p.name for p in media.iterdir()) == ["clip.mp4", "clip.png"]
    outputs = json.dumps(json.loads(out.read_text())["cells"])
    assert 'src=\\"clip_media/clip.mp4\\"' in outputs and "data:image/gif" not in outputs
    before = (media / "clip.mp4").read_bytes()
    rec = notebook.run_notebook(spec, "book", ["fail=1"], output=out, progress=False)
    assert rec.status == "failed"
    assert (media / "clip.mp4").read_bytes() == before  # the good run's media stay
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]  # no temporary folder left
