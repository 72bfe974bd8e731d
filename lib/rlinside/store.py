"""The artifact store: expensive results (trained agents, sweeps) keyed by what made them.

An artifact is a folder of files plus a ``manifest.json``::

    <root>/<kind>/<key>/manifest.json
    <root>/<kind>/<key>/<file> ...

- **key**: the first 16 hex digits of sha256(kind + canonical JSON of config + version).
  The same config and producing-code version always map to the same folder.
- **roots**: shipped artifacts live in ``data/`` (committed); local builds go to the
  git-ignored cache ``.cache/artifacts`` (``$RLINSIDE_CACHE`` overrides). Loads look in
  ``data/`` first, then in the cache.
- **atomic**: an artifact is written into a temporary sibling folder and renamed into place,
  so a killed build never leaves a half-written artifact where a good one was expected.
- **verified**: every load checks the sha256 of every file listed in the manifest; a
  missing or corrupt file raises :class:`ArtifactError` naming the file and the command that
  rebuilds it.

The manifest records config, metrics, the sha256 and size of every file, the command that
made it, git commit, date, machine and wall time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from rlinside.utils import (
    clean_stale_temps,
    code_version,
    process_alive,
    repo_root,
    temp_path,
)

__all__ = [
    "Artifact",
    "ArtifactError",
    "artifact_key",
    "reads",
    "fingerprint",
    "kind_fingerprint",
    "inputs_of",
    "inputs_changed",
    "canonical_json",
    "data_root",
    "cache_root",
    "load",
    "save",
    "load_or_build",
    "iter_artifacts",
    "find",
    "verify",
    "ship",
    "rewrite_arrays",
    "rewrite_kind_arrays",
]

MANIFEST = "manifest.json"


class ArtifactError(RuntimeError):
    """A missing, incomplete or corrupt artifact. The message names the file and the fix."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed for a key."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if hasattr(o, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(o)
    if isinstance(o, Path):
        return str(o)
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"config value {o!r} of type {type(o).__name__} is not JSON-serialisable")


_KIND_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not kind or not set(kind) <= _KIND_OK:
        raise ValueError(
            f"artifact kind {kind!r} is not allowed: use lower-case letters, digits, '_' and '-'"
        )


def artifact_key(kind: str, config: Mapping[str, Any], version: str | int) -> str:
    """Content address of an artifact: sha256 over kind, canonical config and code version."""
    _check_kind(kind)
    payload = canonical_json({"kind": kind, "config": config, "version": str(version)})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def data_root() -> Path:
    """Where shipped (committed) artifacts live: ``<repo>/data``."""
    env = os.environ.get("RLINSIDE_DATA")
    return Path(env) if env else repo_root() / "data"


def cache_root() -> Path:
    """Where local builds go (git-ignored): ``$RLINSIDE_CACHE`` or ``<repo>/.cache/artifacts``."""
    env = os.environ.get("RLINSIDE_CACHE")
    if env:
        return Path(env)
    try:
        return repo_root() / ".cache" / "artifacts"
    except FileNotFoundError:
        return Path.home() / ".cache" / "rlinside" / "artifacts"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A verified artifact on disk."""

    path: Path
    manifest: dict

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def config(self) -> dict:
        return self.manifest["config"]

    @property
    def metrics(self) -> dict:
        return self.manifest.get("metrics", {})

    @property
    def shipped(self) -> bool:
        try:
            return self.path.resolve().is_relative_to(data_root().resolve())
        except FileNotFoundError:
            return False

    def file(self, name: str) -> Path:
        """Path of one of the artifact's files; a clear error if it is not listed."""
        if name not in self.manifest["files"]:
            raise ArtifactError(
                f"artifact {self.kind}/{self.key} has no file {name!r}; it has: "
                f"{', '.join(sorted(self.manifest['files'])) or '(none)'}"
            )
        return self.path / name


def _rebuild_hint(manifest: Mapping[str, Any] | None, kind: str) -> str:
    cmd = (manifest or {}).get("command")
    return f"rebuild it with: {cmd}" if cmd else f"rebuild it with the code that builds kind {kind!r}"


def verify(path: Path) -> Artifact:
    """Check an artifact folder: manifest present, every listed file present with its sha256.

    Raises :class:`ArtifactError` naming the first bad file and how to rebuild.
    """
    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(f"artifact folder {path} has no {MANIFEST}; it is incomplete: delete it and rebuild")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{mpath} is not valid JSON ({e}); delete {path} and rebuild") from e
    kind = manifest.get("kind", path.parent.name)
    for name, meta in manifest.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise ArtifactError(f"artifact file {f} is missing; {_rebuild_hint(manifest, kind)}")
        digest = _sha256(f)
        if digest != meta["sha256"]:
            raise ArtifactError(
                f"artifact file {f} is corrupt: sha256 {digest[:12]}… does not match the manifest's "
                f"{meta['sha256'][:12]}…; {_rebuild_hint(manifest, kind)}"
            )
    return Artifact(path=path, manifest=manifest)


def _candidates(kind: str, key: str) -> list[Path]:
    return [data_root() / kind / key, cache_root() / kind / key]


def load(kind: str, config: Mapping[str, Any], version: str | int, *, command: str | None = None) -> Artifact:
    """Load and verify the artifact for (kind, config, version) from ``data/`` or the cache."""
    key = artifact_key(kind, config, version)
    for p in _candidates(kind, key):
        if p.exists():
            return _record_read(verify(p))
    hint = f"build it with: {command}" if command else "build it with the function that produces it"
    raise ArtifactError(
        f"no artifact {kind}/{key} (config {canonical_json(config)}, version {version}) in "
        f"{data_root()} or {cache_root()}; {hint}"
    )


def save(
    kind: str,
    config: Mapping[str, Any],
    version: str | int,
    files: Mapping[str, Path | bytes] | Path,
    *,
    metrics: Mapping[str, Any] | None = None,
    command: str | None = None,
    wall_time_s: float | None = None,
    root: Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Artifact:
    """Write an artifact atomically and return it (verified).

    ``files`` is either a folder (all its plain files are taken) or a mapping from file name
    to a source path or bytes. ``root`` defaults to the cache; pass :func:`data_root` to ship.
    An existing artifact with the same key is replaced only once the new one is complete.
    """
    key = artifact_key(kind, config, version)
    root = Path(root) if root is not None else cache_root()
    final = root / kind / key
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final.parent)
    tmp = temp_path(final, unique=True)
    tmp.mkdir()
    try:
        if isinstance(files, (str, Path)):
            src = Path(files)
            files = {p.name: p for p in sorted(src.iterdir()) if p.is_file() and p.name != MANIFEST}
        entries = {}
        for name, src in files.items():
            if "/" in name or name in ("", ".", "..", MANIFEST):
                raise ValueError(f"artifact file name {name!r} is not allowed (plain names only, not {MANIFEST!r})")
            dst = tmp / name
            if isinstance(src, (bytes, bytearray)):
                dst.write_bytes(src)
            else:
                shutil.copyfile(src, dst)
            entries[name] = {"sha256": _sha256(dst), "bytes": dst.stat().st_size}
        manifest = {
            "kind": kind,
            "key": key,
            "version": str(version),
            "config": json.loads(canonical_json(config)),
            "metrics": json.loads(canonical_json(dict(metrics or {}))),
            "files": entries,
            "command": command,
            "git_commit": code_version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {
                "host": platform.node(),
                "platform": platform.platform(),
                "processor": platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "wall_time_s": wall_time_s,
        }
        if extra:
            manifest.update(json.loads(canonical_json(dict(extra))))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _install(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return verify(final)


def load_or_build(
    kind: str,
    config: Mapping[str, Any],
    build_fn: Callable[[Path], Mapping[str, Any] | None],
    *,
    version: str | int,
    command: str | None = None,
    rebuild_corrupt: bool = False,
) -> Artifact:
    """Return the artifact for (kind, config, version), building it if it does not exist.

    ``build_fn(workdir)`` writes its files into ``workdir`` and returns metrics (or None).
    A corrupt existing artifact raises unless ``rebuild_corrupt`` is set.
    """
    try:
        return load(kind, config, version, command=command)
    except ArtifactError as e:
        missing = str(e).startswith("no artifact")
        if not missing and not rebuild_corrupt:
            raise
    clean_stale_temps(cache_root() / ".work")  # work folders of builds that were killed
    work = temp_path(cache_root() / ".work" / f"{kind}-{artifact_key(kind, config, version)}")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        metrics = build_fn(work) or {}
        return _record_read(save(kind, config, version, work, metrics=metrics, command=command,
                                 wall_time_s=round(time.perf_counter() - t0, 3)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def iter_artifacts(kind: str | None = None) -> Iterator[tuple[str, Path]]:
    """Yield (``"data"`` or ``"cache"``, folder) for every artifact folder in both roots."""
    for label, root in (("data", data_root()), ("cache", cache_root())):
        if not root.is_dir():
            continue
        for kdir in sorted(root.iterdir()):
            if not kdir.is_dir() or kdir.name.startswith(".") or (kind and kdir.name != kind):
                continue
            for adir in sorted(kdir.iterdir()):
                if adir.is_dir() and not adir.name.startswith("."):
                    yield label, adir


def find(kind: str, version: str | int | None = None, /, **config_filters: Any) -> list[Artifact]:
    """Verified artifacts of ``kind`` made by code ``version`` (any if None) whose config holds
    every given value (filters given as None are ignored), shipped ones first, then cached ones
    whose key is not shipped, in :func:`iter_artifacts` order."""
    want = {k: v for k, v in config_filters.items() if v is not None}
    found, seen = [], set()
    _record_scan(kind)
    for _, path in iter_artifacts(kind):
        if path.name in seen:
            continue
        art = verify(path)
        if version is not None and art.manifest.get("version") != str(version):
            continue
        if all(art.config.get(k) == v for k, v in want.items()):
            found.append(_record_read(art))
            seen.add(path.name)
    return found


# ---------------------------------------------------------------------------------------
# what a process read: provenance of its figures and the inputs of the execution cache

#: Set by ``rlinside run`` to a file into which the kernel appends every artifact it reads.
READS_ENV = "RLINSIDE_READS"
_READS: dict[tuple[str, str], dict[str, str]] = {}
_SCANS: set[str] = set()


def _manifest_sha(path: Path) -> str:
    return _sha256(path / MANIFEST)


def _log(entry: dict) -> None:
    target = os.environ.get(READS_ENV)
    if target:
        with open(target, "a") as f:
            f.write(json.dumps(entry) + "\n")


def _record_read(art: Artifact) -> Artifact:
    """Remember that this process read ``art`` (see :func:`reads`)."""
    ident = (art.kind, art.key)
    if ident not in _READS:
        _READS[ident] = {"kind": art.kind, "key": art.key, "manifest_sha256": _manifest_sha(art.path),
                         "where": "data" if art.shipped else "cache"}
        _log({"read": _READS[ident]})
    return art


def _record_scan(kind: str) -> None:
    if kind not in _SCANS:
        _SCANS.add(kind)
        _log({"scan": kind})


def reads() -> list[dict[str, str]]:
    """The artifacts this process has loaded or found, in the order it first read them."""
    return list(_READS.values())


def fingerprint(kind: str, key: str) -> str | None:
    """sha256 of the manifest of the artifact (kind, key) that a load would find now (shipped
    first), or None when there is none. A replaced artifact has a new manifest (new date and
    checksums), so its fingerprint changes."""
    for p in _candidates(kind, key):
        if (p / MANIFEST).is_file():
            return _manifest_sha(p)
    return None


def kind_fingerprint(kind: str) -> str:
    """sha256 over every artifact of ``kind`` (where, key, manifest): changes when one of them
    is added, replaced or deleted; what a search with :func:`find` depends on."""
    h = hashlib.sha256()
    for where, p in iter_artifacts(kind):
        if (p / MANIFEST).is_file():
            h.update(f"{where}/{p.name}/{_manifest_sha(p)}\n".encode())
    return h.hexdigest()[:16]


def inputs_of(log: Path) -> dict[str, Any]:
    """The inputs recorded in a reads log (:data:`READS_ENV`): the artifacts read, with their
    manifest checksums, and the kinds searched, with their fingerprints now."""
    artifacts: dict[tuple[str, str], dict] = {}
    kinds: set[str] = set()
    if Path(log).is_file():
        for line in Path(log).read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if "read" in entry:
                r = entry["read"]
                artifacts.setdefault((r["kind"], r["key"]), r)
            elif "scan" in entry:
                kinds.add(entry["scan"])
    return {"artifacts": list(artifacts.values()),
            "kinds": {k: kind_fingerprint(k) for k in sorted(kinds)}}


def inputs_changed(inputs: Mapping[str, Any] | None) -> list[str]:
    """What changed since ``inputs`` (from :func:`inputs_of`) were recorded: one line per
    replaced or deleted artifact and per kind whose artifacts changed; empty if nothing did."""
    changes = []
    for a in (inputs or {}).get("artifacts", []):
        now = fingerprint(a["kind"], a["key"])
        if now is None:
            changes.append(f"{a['kind']}/{a['key']} was deleted")
        elif now != a["manifest_sha256"]:
            changes.append(f"{a['kind']}/{a['key']} was replaced")
    for kind, fp in (inputs or {}).get("kinds", {}).items():
        if kind_fingerprint(kind) != fp:
            changes.append(f"the artifacts of kind {kind} changed")
    return changes


def ship(kind: str, key: str) -> Artifact:
    """Copy a verified cache artifact into ``data/`` (atomically) so it can be committed."""
    src = verify(cache_root() / kind / key)
    dst_root = data_root()
    final = dst_root / kind / key
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final.parent)
    tmp = temp_path(final, unique=True)
    try:
        shutil.copytree(src.path, tmp)
        _install(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return verify(final)


def rewrite_arrays(
    path: Path,
    transform: Callable[[dict, dict], dict | None],
    *,
    note_key: str,
    note: str,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Rewrite one artifact's ``arrays.npz`` in place with ``transform(arrays, manifest)``.

    ``transform`` returns the new arrays, or None to leave the artifact as it is. The arrays are
    written compressed and the manifest's file entry (bytes, sha256) updated, with ``note``
    under ``note_key``; both go through temporary files renamed into place, the arrays first
    and the manifest last, so an interrupted run leaves every artifact valid. Returns the
    bytes of ``arrays.npz`` before and after (after = before when nothing changed).
    """
    import io

    import numpy as np

    from rlinside.utils import atomic_write_bytes

    path = Path(path)
    f = path / "arrays.npz"
    before = f.stat().st_size
    manifest = json.loads((path / MANIFEST).read_text())
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    new = transform(arrays, manifest)
    if new is None:
        return before, before
    buf = io.BytesIO()
    np.savez_compressed(buf, **new)
    data = buf.getvalue()
    if not dry_run:
        atomic_write_bytes(f, data)
        manifest["files"]["arrays.npz"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        manifest[note_key] = note
        atomic_write_bytes(path / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return before, len(data)


def rewrite_kind_arrays(
    kind: str,
    transform: Callable[[dict, dict], dict | None],
    *,
    note_key: str,
    note: str,
    dry_run: bool = False,
) -> tuple[int, int, int]:
    """:func:`rewrite_arrays` over every shipped artifact of ``kind`` under ``data/``.

    Returns (artifacts, bytes before, bytes after). Raises :class:`ArtifactError` naming the
    folder looked in when there is no artifact of that kind.
    """
    root = data_root() / kind
    if not root.is_dir():
        raise ArtifactError(f"no artifacts of kind {kind!r} under {data_root()}")
    folders = sorted(p for p in root.iterdir() if (p / "arrays.npz").is_file())
    before = after = 0
    for p in folders:
        b, a = rewrite_arrays(p, transform, note_key=note_key, note=note, dry_run=dry_run)
        before += b
        after += a
    return len(folders), before, after


_OLD = re.compile(r"^\.(?P<key>[^.]+)\.old-(?P<pid>\d+)-\d+$")


def _install(tmp: Path, final: Path) -> None:
    """Move the complete folder ``tmp`` to ``final``, keeping the previous one until it is in.

    A process killed in between leaves the previous artifact as ``.KEY.old-PID-NS``, which
    :func:`recover` puts back.
    """
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover(kind_dir: Path) -> None:
    """Undo what an interrupted write left in ``kind_dir``: temporary folders of dead processes
    are removed, and a previous artifact set aside by :func:`_install` is put back when no
    complete new one replaced it."""
    kind_dir = Path(kind_dir)
    if not kind_dir.is_dir():
        return
    clean_stale_temps(kind_dir)
    for entry in kind_dir.iterdir():
        m = _OLD.match(entry.name)
        if not m or process_alive(int(m.group("pid"))):
            continue
        final = kind_dir / m.group("key")
        if final.exists():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            os.replace(entry, final)
