"""The artifact store: keys, atomic writes, checksum verification, clear errors."""

import json

import pytest
from conftest import run_cli

from rlinside import store


@pytest.fixture()
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_key_is_canonical_and_sensitive():
    a = store.artifact_key("agent", {"lr": 1e-4, "game": "Breakout"}, 1)
    b = store.artifact_key("agent", {"game": "Breakout", "lr": 1e-4}, 1)
    assert a == b and len(a) == 16
    assert store.artifact_key("agent", {"game": "Breakout", "lr": 1e-4}, 2) != a
    assert store.artifact_key("agent", {"game": "Seaquest", "lr": 1e-4}, 1) != a
    assert store.artifact_key("other", {"game": "Breakout", "lr": 1e-4}, 1) != a


def test_bad_kind_and_file_names(roots):
    with pytest.raises(ValueError, match="kind 'Bad Kind' is not allowed"):
        store.artifact_key("Bad Kind", {}, 1)
    with pytest.raises(ValueError, match="not allowed"):
        store.save("k", {}, 1, {"../escape": b"x"})
    assert not list((roots / "cache").rglob("*escape*"))


def test_save_load_roundtrip_with_manifest(roots):
    a = store.save("demo", {"x": 1}, 1, {"w.bin": b"abc", "m.json": b"{}"},
                   metrics={"score": 3.5}, command="make demo", wall_time_s=1.0)
    b = store.load("demo", {"x": 1}, 1)
    assert b.path == a.path and b.metrics == {"score": 3.5}
    m = json.loads((a.path / "manifest.json").read_text())
    assert set(m["files"]) == {"w.bin", "m.json"}
    assert m["command"] == "make demo" and m["machine"]["cpus"] >= 1 and m["created"]
    import hashlib

    assert m["files"]["w.bin"]["sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_missing_artifact_names_the_rebuild_command(roots):
    with pytest.raises(store.ArtifactError, match="build it with: rlinside make-thing"):
        store.load("demo", {"x": 2}, 1, command="rlinside make-thing")


def test_corrupt_file_is_detected_and_named(roots):
    a = store.save("demo", {"x": 1}, 1, {"w.bin": b"abc"}, command="python build.py")
    (a.path / "w.bin").write_bytes(b"abd")
    with pytest.raises(store.ArtifactError, match=r"w\.bin is corrupt.*rebuild it with: python build.py"):
        store.load("demo", {"x": 1}, 1)
    (a.path / "w.bin").unlink()
    with pytest.raises(store.ArtifactError, match=r"w\.bin is missing"):
        store.load("demo", {"x": 1}, 1)


def test_load_or_build_builds_once(roots):
    calls = []

    def build(work):
        calls.append(1)
        (work / "out.txt").write_text("hello")
        return {"n": 1}

    a = store.load_or_build("demo", {"y": 1}, build, version=1, command="cmd")
    b = store.load_or_build("demo", {"y": 1}, build, version=1, command="cmd")
    assert len(calls) == 1 and a.path == b.path and (a.file("out.txt")).read_text() == "hello"
    assert a.manifest["wall_time_s"] is not None
    with pytest.raises(store.ArtifactError, match="has no file 'nope'"):
        a.file("nope")


def test_failing_build_leaves_no_artifact_and_keeps_the_old_one(roots):
    good = store.save("demo", {"z": 1}, 1, {"f": b"good"})

    def boom(work):
        (work / "f").write_text("half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        store.load_or_build("demo", {"z": 2}, boom, version=1)
    assert not (roots / "cache" / "demo" / store.artifact_key("demo", {"z": 2}, 1)).exists()
    # the good artifact is untouched
    assert store.load("demo", {"z": 1}, 1).file("f").read_bytes() == b"good"
    assert good.path.exists()


def test_ship_copies_into_data(roots):
    a = store.save("demo", {"s": 1}, 1, {"f": b"x"})
    shipped = store.ship("demo", a.key)
    assert shipped.path.parent.parent == roots / "data" and shipped.shipped
    # loads prefer data/
    assert store.load("demo", {"s": 1}, 1).path == shipped.path


def test_cli_artifacts_list_and_verify(roots):
    env = {"RLINSIDE_DATA": str(roots / "data"), "RLINSIDE_CACHE": str(roots / "cache")}
    a = store.save("demo", {"v": 1}, 1, {"f": b"x"}, metrics={"score": 2})
    p = run_cli("artifacts", "list", env=env)
    assert p.returncode == 0 and a.key in p.stdout and "score=2" in p.stdout
    p = run_cli("artifacts", "verify", env=env)
    assert p.returncode == 0 and "1 of 1 artifacts verified" in p.stdout
    (a.path / "f").write_bytes(b"y")
    p = run_cli("artifacts", "verify", env=env)
    assert p.returncode == 1 and "CORRUPT" in p.stderr and "f is corrupt" in p.stderr
