"""Exercises whose solutions are what the data shows.

Each chapter lists its exercises in ``notebooks/<chapter>/exercises.yml``::

    exercises:
      - id: lstm_contribution.2
        title: An offset you can predict
        command: rlinside run lstm_contribution/03_preceding_offsets -p gate=forget
        observe: the forget gate gives offsets of 0 more often than the output gate
        claim:                       # the observation, as a claim the engine decides
          id: lstm_contribution.ex2
          quantity: share of zero offsets with the chosen gate minus with the output gate
          unit: episode
          comparison: {greater: 0}
          min_scale: {episodes: 20}
        solution: |                  # MyST; {estimate}, {low}, {high}, {n}, {details[name]}
          With the forget gate {details[zero_share]:.0%} of the offsets are 0 ...

The **command** is printed verbatim on the chapter page, run by ``make test`` at the smoke
profile exactly as printed (``--profile smoke`` added), and run by ``rlinside book`` at the
book profile (cached like any notebook) into ``book/generated/exercises/<id>.ipynb``. The
notebook it runs measures the exercise's **claim** with :func:`rlinside.claims.measure`; the
**solution** is rendered from that measurement into ``book/generated/exercises/<id>.md``
(included by the chapter page under the exercise), with the claim's computed verdict. An
exercise whose observation the data **contradicts** fails the book build, naming it.

Exercises without a command (a derivation by hand) have no claim; their solution stays on the
page, and the numbers in it are checked by a test where a library function computes them.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlinside.claims import Claim, ClaimError, Measurement, verdict

__all__ = [
    "Exercise",
    "ExerciseError",
    "load_exercises",
    "parse_command",
    "output_path",
    "solution_path",
    "read_measurement",
    "render_solution",
    "write_exercise_pages",
    "contradicted",
]

_KEYS = {"id", "title", "command", "observe", "claim", "solution"}
_CLAIM_KEYS = {"id", "quantity", "unit", "comparison", "min_scale", "where", "paper", "statement"}


class ExerciseError(ValueError):
    """An exercise declaration, command or solution template that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str
    chapter: str
    title: str
    command: str | None = None
    observe: str | None = None  #: the observation the solution states, in words
    claim: Claim | None = None  #: that observation as a claim (its statement is ``observe``)
    solution: str | None = None  #: MyST template rendered from the claim's measurement

    @property
    def notebook(self) -> str | None:
        return parse_command(self.command)[0] if self.command else None


def parse_command(command: str) -> tuple[str, list[str], str | None]:
    """``(notebook, ["name=value", ...], profile or None)`` of ``rlinside run NB [-p ...] [--profile P]``."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ExerciseError(f"cannot parse the command {command!r}: {e}") from e
    if argv[:2] != ["rlinside", "run"] or len(argv) < 3:
        raise ExerciseError(f"an exercise command must be 'rlinside run NOTEBOOK ...', got {command!r}")
    notebook, params, profile = None, [], None
    it = iter(argv[2:])
    for a in it:
        if a in ("-p", "--param"):
            v = next(it, None)
            if v is None:
                raise ExerciseError(f"{command!r}: {a} needs NAME=VALUE")
            params.append(v)
        elif a.startswith("--param="):
            params.append(a.split("=", 1)[1])
        elif a == "--profile":
            profile = next(it, None)
        elif a.startswith("--profile="):
            profile = a.split("=", 1)[1]
        elif a.startswith("-"):
            raise ExerciseError(f"{command!r}: option {a} is not allowed in an exercise command "
                                "(allowed: -p NAME=VALUE, --profile)")
        elif notebook is None:
            notebook = a
        else:
            raise ExerciseError(f"{command!r}: more than one notebook ({notebook!r}, {a!r})")
    if notebook is None:
        raise ExerciseError(f"{command!r} names no notebook")
    return notebook, params, profile


def load_exercises(root: Path | None = None) -> list[Exercise]:
    """Every exercise of ``notebooks/<chapter>/exercises.yml``, in file order (ids unique)."""
    import yaml

    from rlinside.utils import repo_root

    root = Path(root) if root is not None else repo_root()
    out: list[Exercise] = []
    seen: set[str] = set()
    for f in sorted((root / "notebooks").glob("*/exercises.yml")):
        doc = yaml.safe_load(f.read_text()) or {}
        chapter = doc.get("chapter", f.parent.name)
        for e in doc.get("exercises") or []:
            e = dict(e)
            if "id" not in e or "title" not in e:
                raise ExerciseError(f"{f}: an exercise lacks id or title: {e}")
            if unknown := set(e) - _KEYS:
                raise ExerciseError(f"{f}: exercise {e['id']} has unknown keys {sorted(unknown)} "
                                    f"(allowed: {sorted(_KEYS)})")
            if e["id"] in seen:
                raise ExerciseError(f"{f}: exercise id {e['id']} is declared twice")
            seen.add(e["id"])
            claim = None
            notebook = parse_command(e["command"])[0] if e.get("command") else None
            if "claim" in e:
                if not e.get("command") or not e.get("observe") or not e.get("solution"):
                    raise ExerciseError(f"{f}: exercise {e['id']} has a claim, so it needs command, observe "
                                        "and solution")
                c = dict(e["claim"])
                if unknown := set(c) - _CLAIM_KEYS:
                    raise ExerciseError(f"{f}: exercise {e['id']}: claim keys {sorted(unknown)} unknown "
                                        f"(allowed: {sorted(_CLAIM_KEYS)})")
                if missing := {"id", "quantity", "unit", "comparison"} - set(c):
                    raise ExerciseError(f"{f}: exercise {e['id']}: its claim lacks {sorted(missing)}")
                try:
                    claim = Claim(chapter=chapter, statement=c.pop("statement", e["observe"]),
                                  where=c.pop("where", f"exercise {e['id']}"), notebook=notebook, **c)
                except ClaimError as err:
                    raise ExerciseError(f"{f}: exercise {e['id']}: {err}") from err
            ex = Exercise(id=e["id"], chapter=chapter, title=e["title"], command=e.get("command"),
                          observe=e.get("observe"), claim=claim, solution=e.get("solution"))
            if claim is not None:
                _check_template(ex)
            out.append(ex)
    return out


def _check_template(ex: Exercise) -> None:
    """Refuse a solution template whose fields the renderer does not provide."""
    allowed = {"estimate", "low", "high", "n", "verdict", "details"}
    for _, field, _, _ in string.Formatter().parse(ex.solution or ""):
        if field is None:
            continue
        base = field.split("[", 1)[0].split(".", 1)[0]
        if base not in allowed:
            raise ExerciseError(f"exercise {ex.id}: solution field {{{field}}} is unknown "
                                f"(allowed: {sorted(allowed)}, e.g. {{details[name]:.2f}})")


def output_path(ex: Exercise, root: Path | None = None) -> Path:
    """Where ``rlinside book`` writes the exercise's executed notebook. An exercise whose
    command is the chapter's own book run (no ``-p``, no ``--profile``) reads that run's
    output instead of running it twice."""
    from rlinside.utils import repo_root

    root = Path(root) if root is not None else repo_root()
    if ex.command:
        nb, params, profile = parse_command(ex.command)
        if not params and profile is None:
            from rlinside.notebook import find_notebook

            return find_notebook(nb, root).default_output(root)
    return root / "book" / "generated" / "exercises" / f"{ex.id}.ipynb"


def solution_path(ex: Exercise, root: Path | None = None) -> Path:
    """The rendered solution, included by the chapter page under the exercise."""
    from rlinside.utils import repo_root

    return (Path(root) if root is not None else repo_root()) / "book" / "generated" / "exercises" / f"{ex.id}.md"


def read_measurement(ex: Exercise, root: Path | None = None) -> Measurement | None:
    """The exercise claim's measurement recorded by its book run, or None."""
    if ex.claim is None:
        return None
    f = output_path(ex, root).with_suffix(".claims.json")
    if not f.is_file():
        return None
    found = None
    for d in json.loads(f.read_text()):
        if d.get("claim") == ex.claim.id:
            found = Measurement.from_dict(d)
    return found


def render_solution(ex: Exercise, m: Measurement | None) -> str:
    """The exercise's solution admonition (MyST), with the numbers of ``m`` and the verdict."""
    if ex.claim is None:
        raise ExerciseError(f"exercise {ex.id} has no claim to render")
    word, reason = verdict(ex.claim, m)
    lines = ["```{admonition} Solution", ":class: dropdown"]
    if m is None or m.n == 0:
        lines += ["This solution is rendered from the book run of the command above, which has not run "
                  "yet (`rlinside book`).", "```", ""]
        return "\n".join(lines)
    values: Mapping[str, Any] = {"estimate": m.estimate, "low": m.low, "high": m.high, "n": m.n,
                                 "verdict": word, "details": m.details}
    try:
        text = (ex.solution or "").format(**values)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ExerciseError(f"exercise {ex.id}: its solution template needs {e!s} that the run did not record "
                            f"(details recorded: {sorted(m.details)})") from e
    scale = ", ".join(f"{k} {v}" for k, v in m.scale.items())
    lines += [text.rstrip(), "",
              f"*Checked on the run of this command ({scale}):* the observation \"{ex.observe}\" is "
              f"**{word}** ({reason}; {ex.claim.quantity}: {m.estimate:.4g}, n = {m.n} {ex.claim.unit}s).",
              "```", ""]
    return "\n".join(lines)


def write_exercise_pages(root: Path | None = None) -> list[tuple[Exercise, str, str]]:
    """Render every exercise's solution to ``book/generated/exercises/<id>.md``; returns
    ``(exercise, verdict, reason)`` for the exercises that have a claim."""
    from rlinside.utils import atomic_write_bytes, repo_root

    root = Path(root) if root is not None else repo_root()
    out = []
    for ex in load_exercises(root):
        if ex.claim is None:
            continue
        m = read_measurement(ex, root)
        md = render_solution(ex, m)
        atomic_write_bytes(solution_path(ex, root), md.encode())
        out.append((ex, *verdict(ex.claim, m)))
    return out


def contradicted(results: Sequence[tuple[Exercise, str, str]]) -> list[str]:
    """Messages for the exercises whose stated observation the data contradicts."""
    return [f"exercise {ex.id} ({ex.title!r}): the solution says \"{ex.observe}\", and its book run "
            f"contradicts it ({reason}); rerun `{ex.command}` and rewrite the solution"
            for ex, word, reason in results if word == "contradicted"]
