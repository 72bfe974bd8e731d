"""Notebook catalogue, parameters, profiles and execution (papermill over jupytext).

A notebook is ``notebooks/<chapter>/NN_topic.py`` in jupytext percent format. Its cell tagged
``parameters`` declares every parameter as an annotated assignment with a help comment::

    n_steps: int = 2_000  # steps of the stream to draw | [1, 1_000_000]
    # d:k pairs of Figure 5 | nonempty; unique; match [1-9]\\d*:[1-9]\\d*
    tradeoffs: list[str] = ["13:2", "10:3", "8:5", "6:8", "5:10", "4:15", "3:20", "2:30"]

(a help comment too long for the line goes on the line above). After ``|`` come the
parameter's declared rules (ranges, choices, cross-parameter rules; see
:mod:`rlinside.params`). The values there are the **book** profile. ``notebooks/<chapter>/profiles.yml`` gives, per
notebook, the paper figures it reproduces and the overrides of the ``smoke`` and ``paper``
profiles::

    chapter: rtrl
    notebooks:
      01_trace_patterning_task:
        reproduces: [Figure 3]
        smoke: {n_steps: 600}
        paper: {n_steps: 20000}
        cost: "n_steps / 1e6 / 3600"   # core-hours, from a measured rate (optional)

Execution validates every name and value *before* a kernel starts, runs papermill on the
jupytext-read NotebookNode, and writes the executed notebook atomically: a failed run never
replaces the last good output; it is saved beside it as ``<name>.failed.ipynb``.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from rlinside import params as _rules
from rlinside.utils import clean_stale_temps, code_version, repo_root, temp_path

__all__ = [
    "PROFILES",
    "Parameter",
    "NotebookSpec",
    "ParameterError",
    "NotebookNotFound",
    "catalog",
    "find_notebook",
    "resolve_parameters",
    "parse_assignments",
    "lib_hash",
    "cache_key",
    "run_notebook",
    "RunRecord",
    "check_budget",
    "check_output",
]

PROFILES = ("smoke", "book", "paper")
RUN_ENV = "RLINSIDE_RUN"  # JSON run context handed to the kernel (read by rlinside.plots.publish)


def media_dir(output: Path) -> Path:
    """The folder of an executed notebook's media files (videos, their stills): ``<stem>_media``
    beside it; its pages load them by the relative address ``<stem>_media/<file>``."""
    output = Path(output)
    return output.with_name(f"{output.stem}_media")

_TYPES = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list[int]": int,
    "list[float]": float,
    "list[str]": str,
}


class ParameterError(ValueError):
    """A parameter name or value that the notebook does not accept (CLI exit status 2)."""


class NotebookNotFound(LookupError):
    """No notebook matches the given name (CLI exit status 2)."""


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    type: str  #: one of int, float, str, bool, list[int], list[float], list[str]
    default: Any  #: the book profile's value
    help: str
    rules: tuple[_rules.Rule, ...] = ()  #: declared after ``|`` in the help comment

    def parse(self, text: str) -> Any:
        """Parse a command-line string as this parameter's type and check its rules, or raise
        ParameterError."""
        try:
            value = _parse_typed(self.type, text)
        except (ValueError, TypeError, RecursionError) as e:
            shown = text if len(text) <= 60 else text[:60] + "..."
            raise ParameterError(
                f"parameter '{self.name}' expects {self.type}, got {shown!r}: {e}"
            ) from None
        return self.validate(value)

    def validate(self, value: Any, where: str = "") -> Any:
        """Check an already typed value against the declared rules (cross rules excepted)."""
        try:
            _rules.check_value(self.name, self.type, value, self.rules, self.help)
        except _rules.RuleError as e:
            raise ParameterError(f"{e}{f' in {where}' if where else ''}") from None
        return value

    def check(self, value: Any, where: str) -> Any:
        """Check a value from profiles.yml or Python against the declared type and rules."""
        if isinstance(value, str) and self.type != "str":
            return self.parse(value)
        ok = _is_typed(self.type, value)
        if not ok:
            raise ParameterError(
                f"parameter '{self.name}' expects {self.type}, got {value!r} ({type(value).__name__}) in {where}"
            )
        value = float(value) if self.type == "float" else (
            [float(v) for v in value] if self.type == "list[float]" else value
        )
        return self.validate(value, where)


def _is_typed(t: str, v: Any) -> bool:
    if t == "bool":
        return isinstance(v, bool)
    if t == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "str":
        return isinstance(v, str)
    if t.startswith("list["):
        inner = t[5:-1]
        return isinstance(v, (list, tuple)) and all(_is_typed(inner, x) for x in v)
    return False


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_scalar(t: str, s: str) -> Any:
    s = s.strip()
    if t in ("int", "float") and not s.isascii():
        raise ValueError("write numbers with ASCII digits")
    if t == "int":
        return int(s.replace("_", ""), 10)
    if t == "float":
        v = float(s)
        if v != v:  # NaN is never a sensible parameter
            raise ValueError("NaN is not allowed")
        return v
    if t == "bool":
        if s.lower() in _TRUE:
            return True
        if s.lower() in _FALSE:
            return False
        raise ValueError("use true/false (or 1/0, yes/no)")
    return s


def _parse_typed(t: str, text: str) -> Any:
    if t.startswith("list["):
        inner = t[5:-1]
        text = text.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                # the way people write lists on a command line: [Gradient, Grad-CAM] or [0.0]
                if not text.endswith("]") or "[" in text[1:-1] or "]" in text[1:-1]:
                    raise ValueError("write a list as a,b,c or [a, b, c]") from None
                body = text[1:-1].strip()
                items = [x.strip().strip("'\"") for x in body.split(",")] if body else []
            if not isinstance(items, list):
                raise ValueError("not a list")
            return [_parse_scalar(inner, str(x)) for x in items]
        if not text:
            return []
        return [_parse_scalar(inner, x) for x in text.split(",")]
    return _parse_scalar(t, text)


@dataclasses.dataclass
class NotebookSpec:
    path: Path  #: absolute path of the .py notebook
    chapter: str
    name: str  #: file stem, e.g. 01_trace_patterning_task
    title: str
    reproduces: list[str]
    parameters: dict[str, Parameter]
    overrides: dict[str, dict[str, Any]]  #: profile -> {name: value}
    cost: str | None = None  #: core-hours as an expression of the parameters (profiles.yml)

    @property
    def slug(self) -> str:
        return f"{self.chapter}/{self.name}"

    def relpath(self, root: Path | None = None) -> str:
        root = root or repo_root()
        try:
            return str(self.path.relative_to(root))
        except ValueError:
            return str(self.path)

    def default_output(self, root: Path | None = None) -> Path:
        return (root or repo_root()) / "book" / "generated" / self.chapter / f"{self.name}.ipynb"


# ---------------------------------------------------------------------------------------
# parsing


def _read_jupytext(path: Path):
    import jupytext

    return jupytext.read(path, fmt="py:percent")


def parse_assignments(source: str, where: str = "parameters cell") -> dict[str, Parameter]:
    """Parse ``name: type = literal  # help`` lines of a parameters cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ParameterError(f"{where} is not valid Python: {e}") from e
    lines = source.splitlines()
    params: dict[str, Parameter] = {}
    for node in tree.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            raise ParameterError(
                f"{where}, line {node.lineno}: every statement must be 'name: type = value  # help'"
            )
        name = node.target.id
        t = ast.unparse(node.annotation).replace(" ", "")
        if t not in _TYPES:
            raise ParameterError(
                f"{where}: parameter '{name}' has type {t}; allowed: {', '.join(_TYPES)}"
            )
        if node.value is None:
            raise ParameterError(f"{where}: parameter '{name}' has no default value")
        try:
            default = ast.literal_eval(node.value)
        except ValueError as e:
            raise ParameterError(f"{where}: default of '{name}' must be a literal ({e})") from e
        line = lines[node.end_lineno - 1]
        above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
        if "#" in line:  # the help comment ends the assignment's line ...
            comment = line.split("#", 1)[1].strip()
        elif above.startswith("#"):  # ... or, for a long one, is the comment line above it
            comment = above.lstrip("#").strip()
        else:
            comment = ""
        help_text, rules_text = _rules.split_help(comment)
        try:
            rules = _rules.parse_rules(rules_text)
        except _rules.RuleError as e:
            raise ParameterError(f"{where}: parameter '{name}': {e}") from None
        p = Parameter(name=name, type=t, default=default, help=help_text, rules=rules)
        p.check(default, where)
        params[name] = p
    for p in params.values():
        for r in p.rules:
            if r.kind == "cross" and r.other not in params:
                raise ParameterError(
                    f"{where}: parameter '{p.name}': rule '{r.text}' names '{r.other}', which is not "
                    f"a parameter; parameters: {', '.join(params)}"
                )
    return params


def _parameters_cell(nb) -> str:
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell.source
    raise ParameterError("no cell tagged 'parameters'")


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return fallback


def load_spec(path: Path, profiles: Mapping[str, Any] | None = None, chapter: str | None = None) -> NotebookSpec:
    path = Path(path).resolve()
    chapter = chapter or path.parent.name
    nb = _read_jupytext(path)
    where = f"{path.name} parameters cell"
    try:
        params = parse_assignments(_parameters_cell(nb), where)
    except ParameterError as e:
        raise ParameterError(f"{path}: {e}") from None
    entry = dict((profiles or {}).get(path.stem) or {})
    overrides: dict[str, dict[str, Any]] = {"book": {}}
    for prof in ("smoke", "paper"):
        ov = entry.get(prof) or {}
        checked = {}
        for k, v in ov.items():
            if k not in params:
                raise ParameterError(
                    f"{path.parent / 'profiles.yml'}: profile '{prof}' of {path.stem} sets unknown "
                    f"parameter '{k}'; valid: {', '.join(params)}"
                )
            checked[k] = params[k].check(v, f"profiles.yml ({prof})")
        overrides[prof] = checked
    unknown = set(entry) - {"smoke", "paper", "reproduces", "cost"}
    if unknown:
        raise ParameterError(
            f"{path.parent / 'profiles.yml'}: {path.stem} has unknown keys {sorted(unknown)}; "
            "allowed: reproduces, smoke, paper, cost"
        )
    cost = entry.get("cost")
    if cost is not None and not isinstance(cost, str):
        raise ParameterError(f"{path.parent / 'profiles.yml'}: cost of {path.stem} must be an expression string")
    for prof in PROFILES:
        values = {k: p.default for k, p in params.items()} | overrides.get(prof, {})
        try:
            _rules.check_cross(params, values, f"the {prof} profile of {path.stem}")
            if cost is not None:
                _rules.estimate_cost(cost, values)
        except _rules.RuleError as e:
            raise ParameterError(f"{path.parent / 'profiles.yml'}: {e}") from None
    return NotebookSpec(
        path=path,
        chapter=chapter,
        name=path.stem,
        title=_title(nb, path.stem),
        reproduces=list(entry.get("reproduces") or []),
        parameters=params,
        overrides=overrides,
        cost=cost,
    )


def catalog(root: Path | None = None) -> list[NotebookSpec]:
    """Every notebook under ``notebooks/<chapter>/`` with its parameters and profiles."""
    root = root or repo_root()
    specs = []
    for chdir in sorted((root / "notebooks").iterdir()):
        if not chdir.is_dir() or chdir.name.startswith((".", "_")):
            continue
        pfile = chdir / "profiles.yml"
        profiles = {}
        chapter = chdir.name
        if pfile.is_file():
            doc = yaml.safe_load(pfile.read_text()) or {}
            chapter = doc.get("chapter", chapter)
            profiles = doc.get("notebooks") or {}
            stray = set(profiles) - {p.stem for p in chdir.glob("*.py")}
            if stray:
                raise ParameterError(f"{pfile} names notebooks that do not exist: {sorted(stray)}")
        for nb in sorted(chdir.glob("[0-9][0-9]_*.py")):
            specs.append(load_spec(nb, profiles, chapter))
    return specs


def find_notebook(name: str, root: Path | None = None) -> NotebookSpec:
    """Find a notebook by path, ``chapter/stem`` or unique stem."""
    root = root or repo_root()
    specs = catalog(root)
    p = Path(name)
    cand = (Path.cwd() / p).resolve() if not p.is_absolute() else p
    norm = name.removesuffix(".py").removesuffix(".ipynb").strip("/")
    for s in specs:
        if s.path == cand or s.path == (root / p).resolve():
            return s
    hits = [s for s in specs if s.slug == norm or norm.endswith("/" + s.slug) or s.name == norm]
    if len(hits) == 1:
        return hits[0]
    names = [s.relpath(root) for s in specs]
    if len(hits) > 1:
        raise NotebookNotFound(f"'{name}' is ambiguous; give one of: {', '.join(h.relpath(root) for h in hits)}")
    close = difflib.get_close_matches(norm, [s.slug for s in specs] + [s.name for s in specs], n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise NotebookNotFound(
        f"no notebook '{name}'.{hint} Available notebooks:\n  " + "\n  ".join(names)
    )


def resolve_parameters(
    spec: NotebookSpec, profile: str = "book", assignments: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resolve ``book defaults <- profile overrides <- -p name=value``.

    Returns (all resolved values, the command-line overrides). Raises ParameterError with
    the valid names (and close matches) for an unknown name, or with parameter, value and
    type for a value that does not parse.
    """
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile '{profile}'; allowed: {', '.join(PROFILES)}")
    values = {k: p.default for k, p in spec.parameters.items()}
    values.update(spec.overrides.get(profile, {}))
    cli: dict[str, Any] = {}
    for a in assignments:
        if "=" not in a:
            raise ParameterError(f"-p expects name=value, got {a!r}")
        k, v = a.split("=", 1)
        k = k.strip()
        if k not in spec.parameters:
            close = difflib.get_close_matches(k, list(spec.parameters), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ParameterError(
                f"unknown parameter '{k}' for {spec.slug}.{hint} Valid parameters: "
                + ", ".join(f"{n} ({p.type})" for n, p in spec.parameters.items())
            )
        if k in cli:
            raise ParameterError(f"parameter '{k}' is given twice with -p")
        cli[k] = spec.parameters[k].parse(v)
    values.update(cli)
    try:
        _rules.check_cross(spec.parameters, values)
    except _rules.RuleError as e:
        raise ParameterError(str(e)) from None
    return values, cli


def check_budget(spec: NotebookSpec, profile: str, values: Mapping[str, Any], force: bool = False) -> float | None:
    """Refuse (ParameterError) a run whose estimated cost exceeds the profile's bound.

    Returns the estimate in core-hours (None when the notebook declares no ``cost``). With
    ``force`` the bound is not applied.
    """
    if spec.cost is None:
        return None
    hours = _rules.estimate_cost(spec.cost, values)
    bound = _rules.COST_BOUND_HOURS[profile]
    if hours > bound and not force:
        raise ParameterError(
            f"{spec.slug} would take about {_hours(hours)} of one core (estimate: {spec.cost}), "
            f"more than the {_hours(bound)} allowed for the {profile} profile; lower the sizes, "
            "or pass --force to run it anyway"
        )
    return hours


def _hours(h: float) -> str:
    if h < 1:
        return f"{h * 60:.1f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.3g} days"


def check_output(output: Path) -> None:
    """Refuse (ParameterError) an output path that cannot be written, before any kernel starts."""
    if "\0" in str(output):
        raise ParameterError(f"--out {str(output)!r} holds a NUL character")
    output = Path(output)
    if output.suffix != ".ipynb":
        raise ParameterError(f"--out must end in .ipynb, got {output}")
    if output.is_dir():
        raise ParameterError(f"--out {output} is a directory; give a file name ending in .ipynb")
    if output.exists() and not os.access(output, os.W_OK):
        raise ParameterError(f"--out {output} exists and is not writable")
    parent = output.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ParameterError(f"--out {output}: {parent} is a file, so the folder cannot be created")
    try:  # a real probe: permissions alone do not tell (root, read-only mounts, /proc)
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = temp_path(output, unique=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ParameterError(f"--out {output}: cannot write into {output.parent} ({e.strerror or e})") from None


def check_store_folders() -> None:
    """Refuse (ParameterError) a data or cache folder that a notebook could not use."""
    from rlinside import store

    data, cache = store.data_root(), store.cache_root()
    if data.exists() and not (data.is_dir() and os.access(data, os.R_OK | os.X_OK)):
        raise ParameterError(f"the shipped-artifact folder {data} is not a readable directory")
    parent = cache
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) or (cache.exists() and not cache.is_dir()):
        raise ParameterError(
            f"the artifact cache {cache} cannot be created or written ({parent} is not a writable "
            "directory); set RLINSIDE_CACHE to a writable folder"
        )


# ---------------------------------------------------------------------------------------
# cache keys


def lib_hash(root: Path | None = None) -> str:
    """sha256 over the sources of the ``rlinside`` package (paths and contents)."""
    import rlinside

    pkg = Path(rlinside.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(pkg.rglob("*.py")):
        h.update(str(f.relative_to(pkg)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_key(spec: NotebookSpec, profile: str, values: Mapping[str, Any]) -> str:
    """Key of an executed notebook: notebook text + profiles entry + resolved parameters + lib hash.

    The artifacts a notebook reads are the other half of its inputs: its run record lists them
    (``RunRecord.inputs``), and ``rlinside book`` re-executes it when one of them was replaced
    or deleted, or a kind it searched changed (:func:`rlinside.store.inputs_changed`)."""
    h = hashlib.sha256()
    h.update(spec.path.read_bytes())
    h.update(json.dumps({"profile": profile, "params": values}, sort_keys=True, default=str).encode())
    h.update(lib_hash().encode())
    return h.hexdigest()[:20]


# ---------------------------------------------------------------------------------------
# execution


@dataclasses.dataclass
class RunRecord:
    notebook: str
    profile: str
    parameters: dict[str, Any]
    non_default: dict[str, Any]
    status: str  #: "ok" or "failed"
    wall_time_s: float
    key: str
    code_version: str
    finished: str
    output: str
    command: str
    error: str | None = None
    #: the artifacts the run read (kind, key, manifest sha256) and the kinds it searched, with
    #: their fingerprints: a later change to any of them re-executes the notebook
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the claims the run measured (rlinside.claims.measure), also in ``<name>.claims.json``
    claims: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def save(self, path: Path) -> None:
        from rlinside.utils import atomic_write_bytes

        atomic_write_bytes(path, (json.dumps(dataclasses.asdict(self), indent=2, default=str) + "\n").encode())


def record_path(output: Path) -> Path:
    return output.with_suffix(".run.json")


def reproduce_command(spec: NotebookSpec, profile: str, cli: Mapping[str, Any], root: Path | None = None) -> str:
    parts = ["rlinside", "run", spec.relpath(root), "--profile", profile]
    for k, v in cli.items():
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = str(v).lower()
        parts += ["-p", f"{k}={v}"]
    import shlex

    return " ".join(shlex.quote(p) for p in parts)


def _collapse_helper_cells(nb):
    """Tag ``hide-input`` every code cell that is neither the parameters cell nor a figure
    (a :func:`rlinside.plots.publish` call): the book shows its output and folds its code
    behind a toggle, as the QuantEcon lectures do with long cells."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags or "publish(" in cell.source or "publish_html(" in cell.source:
            continue
        if "hide-input" not in tags:
            tags.append("hide-input")
    return nb


def _kernel_runtime_dir() -> Path:
    """A private folder for the kernel's connection file and IPC sockets, named after this
    process so that the next run removes it if this one is killed (short: socket paths are
    limited to about 100 characters)."""
    base = Path(tempfile.gettempdir())
    clean_stale_temps(base)
    runtime = temp_path(base / "rlinside-kernel")
    runtime.mkdir(mode=0o700, exist_ok=True)
    return runtime


def _ipc_kernel_manager(runtime: Path):
    """The kernel manager papermill starts kernels with: IPC sockets rather than unencrypted
    TCP (which ipykernel warns about on every run), with the connection file and the sockets in
    the private folder ``runtime`` (absolute paths, so neither the kernel's working directory
    nor a parallel run sees them)."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("connection_file", str(runtime / "kernel.json"))
            super().__init__(**kwargs)

        async def start_kernel(self, **kw):
            # what C libraries print straight to the process's stdout (the ALE and pybullet
            # banners) goes to the run's kernel.log, not over the user's terminal
            with open(runtime / "kernel.log", "ab") as log:
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                return await super().start_kernel(**kw)

    return IPCKernelManager


def run_notebook(
    spec: NotebookSpec,
    profile: str = "book",
    assignments: Sequence[str] = (),
    output: Path | None = None,
    progress: bool = True,
    kernel_name: str | None = None,
    force: bool = False,
) -> RunRecord:
    """Validate, execute with papermill, and atomically write the executed notebook.

    Raises ParameterError before any kernel starts for a bad name or value. On a failing
    notebook, the last good output stays in place, the failed notebook is written next to it
    as ``<name>.failed.ipynb``, and the returned record has status ``failed``.
    """
    import nbformat
    import papermill as pm

    root = repo_root()
    values, cli = resolve_parameters(spec, profile, assignments)
    check_budget(spec, profile, values, force)
    non_default = {k: v for k, v in values.items() if v != spec.parameters[k].default}
    output = Path(output).absolute() if output else spec.default_output(root)
    check_output(output)
    check_store_folders()
    output.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(output.parent)
    key = cache_key(spec, profile, values)
    command = reproduce_command(spec, profile, cli, root)
    nb = _collapse_helper_cells(_read_jupytext(spec.path))
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    tmp = temp_path(output)
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    ctx = {
        "notebook": spec.relpath(root),
        "profile": profile,
        "non_default": non_default,
        "command": command,
        "code_version": code_version(root),
        "started": time.time(),
    }
    from rlinside import store

    runtime = _kernel_runtime_dir()
    from rlinside import claims as _claims

    reads_log = temp_path(output.with_name(f"{output.stem}.reads.jsonl"))
    claims_log = temp_path(output.with_name(f"{output.stem}.claims.jsonl"))
    for log in (reads_log, claims_log):
        log.unlink(missing_ok=True)
    # videos and other media files of the run (rlinside.plots.publish_video): written to a
    # temporary folder, which replaces the notebook's media folder only when the run succeeds
    media = media_dir(output)
    media_tmp = temp_path(media)
    shutil.rmtree(media_tmp, ignore_errors=True)
    ctx |= {"media_dir": str(media_tmp), "media_url": media.name}
    saved = {k: os.environ.get(k) for k in (RUN_ENV, store.READS_ENV, _claims.CLAIMS_ENV)}
    os.environ[RUN_ENV] = json.dumps(ctx, default=str)
    os.environ[store.READS_ENV] = str(reads_log)
    os.environ[_claims.CLAIMS_ENV] = str(claims_log)
    inputs: dict[str, Any] = {}
    measured: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    error = None
    # papermill re-reads the parameters cell with a parser of its own, which does not know our
    # rules (it warns on every line with an '=' in its comment, then on the parameters it could
    # not read): the parameters were checked above, so its warnings are noise to the user
    pm_log = logging.getLogger("papermill")
    pm_level = pm_log.level
    pm_log.setLevel(logging.ERROR)
    try:
        pm.execute_notebook(
            nb,
            str(tmp),
            parameters=non_default,
            progress_bar=progress,
            kernel_name=kernel_name or nb.metadata["kernelspec"].get("name", "python3"),
            cwd=str(spec.path.parent),
            log_output=False,
            kernel_manager_class=_ipc_kernel_manager(runtime),
        )
        executed = nbformat.read(tmp, as_version=4)
        inputs = store.inputs_of(reads_log)
        if claims_log.is_file():
            measured = [json.loads(line) for line in claims_log.read_text().splitlines() if line.strip()]
        executed.metadata["rlinside"] = {k: v for k, v in ctx.items() if k not in ("started", "media_dir")} | {
            "key": key, "inputs": inputs, "claims": [m["claim"] for m in measured]}
        nbformat.write(executed, tmp)
        os.replace(tmp, output)
        from rlinside.utils import atomic_write_bytes

        atomic_write_bytes(output.with_suffix(".claims.json"), (json.dumps(measured, indent=1) + "\n").encode())
        shutil.rmtree(media, ignore_errors=True)  # this run's media (or none) replace the last run's
        if media_tmp.is_dir():
            os.replace(media_tmp, media)
        if failed.exists():
            failed.unlink()
        status = "ok"
    except pm.PapermillExecutionError as e:
        status = "failed"
        error = f"{e.ename}: {e.evalue} (cell {e.exec_count})"
        if tmp.exists():
            os.replace(tmp, failed)
    except BaseException as e:
        status = "failed"
        error = f"{type(e).__name__}: {e}"
        log = runtime / "kernel.log"
        if log.is_file() and log.stat().st_size:  # e.g. a kernel that died: its last words
            error += "\nkernel output:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        if tmp.exists():
            os.replace(tmp, failed)
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        pm_log.setLevel(pm_level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if tmp.exists():
            tmp.unlink()
        reads_log.unlink(missing_ok=True)
        claims_log.unlink(missing_ok=True)
        shutil.rmtree(media_tmp, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)
    wall = time.perf_counter() - t0
    import datetime as _dt

    rec = RunRecord(
        notebook=spec.relpath(root),
        profile=profile,
        parameters=values,
        non_default=non_default,
        status=status,
        wall_time_s=round(wall, 2),
        key=key,
        code_version=ctx["code_version"],
        finished=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        output=str(output if status == "ok" else failed),
        command=command,
        error=error,
        inputs=inputs,
        claims=measured,
    )
    if status == "ok":
        rec.save(record_path(output))
    return rec
