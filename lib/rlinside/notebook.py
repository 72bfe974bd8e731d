"""Notebook catalogue, parameters, profiles and execution (papermill over jupytext).

A notebook is ``notebooks/<chapter>/NN_topic.py`` in jupytext percent format. Its cell tagged
``parameters`` declares every parameter as an annotated assignment with a help comment::

    n_steps: int = 2_000  # steps of the stream to draw

The values there are the **book** profile. ``notebooks/<chapter>/profiles.yml`` gives, per
notebook, the paper figures it reproduces and the overrides of the ``smoke`` and ``paper``
profiles::

    chapter: rtrl
    notebooks:
      01_trace_patterning_task:
        reproduces: [Figure 3]
        smoke: {n_steps: 600}
        paper: {n_steps: 20000}

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
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from rlinside.utils import code_version, repo_root

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
]

PROFILES = ("smoke", "book", "paper")
RUN_ENV = "RLINSIDE_RUN"  # JSON run context handed to the kernel (read by rlinside.plots.publish)

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

    def parse(self, text: str) -> Any:
        """Parse a command-line string as this parameter's type, or raise ParameterError."""
        try:
            return _parse_typed(self.type, text)
        except (ValueError, TypeError) as e:
            raise ParameterError(
                f"parameter '{self.name}' expects {self.type}, got {text!r}: {e}"
            ) from None

    def check(self, value: Any, where: str) -> Any:
        """Check a value from profiles.yml or Python against the declared type."""
        if isinstance(value, str) and self.type != "str":
            return self.parse(value)
        ok = _is_typed(self.type, value)
        if not ok:
            raise ParameterError(
                f"parameter '{self.name}' expects {self.type}, got {value!r} ({type(value).__name__}) in {where}"
            )
        return float(value) if self.type == "float" else (
            [float(v) for v in value] if self.type == "list[float]" else value
        )


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
            items = json.loads(text)
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
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line else ""
        p = Parameter(name=name, type=t, default=default, help=help_text)
        p.check(default, where)
        params[name] = p
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
    unknown = set(entry) - {"smoke", "paper", "reproduces"}
    if unknown:
        raise ParameterError(
            f"{path.parent / 'profiles.yml'}: {path.stem} has unknown keys {sorted(unknown)}; "
            "allowed: reproduces, smoke, paper"
        )
    return NotebookSpec(
        path=path,
        chapter=chapter,
        name=path.stem,
        title=_title(nb, path.stem),
        reproduces=list(entry.get("reproduces") or []),
        parameters=params,
        overrides=overrides,
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
    return values, cli


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
    """Key of an executed notebook: notebook text + profiles entry + resolved parameters + lib hash."""
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


def run_notebook(
    spec: NotebookSpec,
    profile: str = "book",
    assignments: Sequence[str] = (),
    output: Path | None = None,
    progress: bool = True,
    kernel_name: str | None = None,
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
    non_default = {k: v for k, v in values.items() if v != spec.parameters[k].default}
    output = Path(output) if output else spec.default_output(root)
    if output.suffix != ".ipynb":
        raise ParameterError(f"--out must end in .ipynb, got {output}")
    output.parent.mkdir(parents=True, exist_ok=True)
    key = cache_key(spec, profile, values)
    command = reproduce_command(spec, profile, cli, root)
    nb = _read_jupytext(spec.path)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}.ipynb")
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    ctx = {
        "notebook": spec.relpath(root),
        "profile": profile,
        "non_default": non_default,
        "command": command,
        "code_version": code_version(root),
        "started": time.time(),
    }
    old_env = os.environ.get(RUN_ENV)
    os.environ[RUN_ENV] = json.dumps(ctx, default=str)
    t0 = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            nb,
            str(tmp),
            parameters=non_default,
            progress_bar=progress,
            kernel_name=kernel_name or nb.metadata["kernelspec"].get("name", "python3"),
            cwd=str(spec.path.parent),
            log_output=False,
        )
        executed = nbformat.read(tmp, as_version=4)
        executed.metadata["rlinside"] = {k: v for k, v in ctx.items() if k != "started"} | {"key": key}
        nbformat.write(executed, tmp)
        os.replace(tmp, output)
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
        if tmp.exists():
            os.replace(tmp, failed)
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        if old_env is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = old_env
        if tmp.exists():
            tmp.unlink()
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
    )
    if status == "ok":
        rec.save(record_path(output))
    return rec
