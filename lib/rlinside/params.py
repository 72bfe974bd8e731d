"""Declared rules of notebook parameters, checked before a kernel starts.

A parameter of a notebook's ``parameters`` cell is one annotated line; its help comment may
end with ``|`` and the parameter's rules, separated by ``;``::

    n_steps: int = 700  # steps drawn | [1, 100_000]
    gamma: float = 0.9  # discount of the return | [0, 1)
    gate: str = "output"  # gate of the offsets | {input, forget, output}
    figure_episode: int = 0  # test episode drawn | >= 0; < n_tests
    video_methods: list[str] = ["Gradient"]  # methods drawn | nonempty; unique; {@saliency_methods}

Rules (scikit-learn's habit: each names the parameter, its value and what is allowed):

``[a, b]``, ``(a, b)``, ``[a, b)``, ``(a, b]``
    an interval, closed at ``[``/``]`` and open at ``(``/``)``; ``inf`` and ``-inf`` leave a
    side unbounded. For a list, every element.
``> x``, ``>= x``, ``< x``, ``<= x``
    ``x`` a number (the same as an interval) or the name of another parameter of the same
    notebook (a cross-parameter rule, checked on the resolved values of every profile).
``{a, b, c}``
    choices; for a list, every element. ``{@name}`` takes the choices from a provider in
    :data:`CHOICES` (for example every saliency method the library has).
``pow2``, ``nonempty``, ``unique``
    a power of two; a list or string that is not empty; a list without repeated elements.
``match REGEX``
    a string (for a list, every element) that matches the regular expression in full.

Values that no rule allows anywhere: NaN and infinite floats, and integers beyond 64 bits.

Bounded work. ``profiles.yml`` may give a notebook a ``cost`` (an arithmetic expression of
its parameters, in core-hours of this project's 2-core machine, with the measurement behind
it in a comment). A run whose estimate exceeds :data:`COST_BOUND_HOURS` for its profile is
refused unless the user passes ``--force``; the message gives the estimate.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
from typing import Any, Callable, Mapping

__all__ = [
    "Rule",
    "RuleError",
    "parse_rules",
    "split_help",
    "check_value",
    "check_cross",
    "describe",
    "estimate_cost",
    "CHOICES",
    "COST_BOUND_HOURS",
    "INT_LIMIT",
]

#: Largest magnitude of an integer parameter (int64): beyond it no loop, array or seed works.
INT_LIMIT = 2**63 - 1

#: Most core-hours a run of each profile may take before ``--force`` is needed: smoke is for
#: seconds-long checks, book for one 2-core laptop, paper for a cluster.
COST_BOUND_HOURS = {"smoke": 0.5, "book": 24.0, "paper": 20_000.0}


class RuleError(ValueError):
    """A rule that cannot be parsed, or a value that a rule does not allow."""


def _saliency_methods() -> list[str]:
    from rlinside.explain.saliency import METHOD_NAMES

    return list(METHOD_NAMES)


def _atari_games() -> list[str]:
    from rlinside.envs.atari import ATARI_GAMES

    return sorted(ATARI_GAMES)


#: Providers of ``{@name}`` choices: name -> function returning the allowed values.
CHOICES: dict[str, Callable[[], list[Any]]] = {
    "saliency_methods": _saliency_methods,
    "atari_games": _atari_games,
}

_NUM = r"[-+]?(?:inf|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:e[-+]?\d+)?)"
_INTERVAL = re.compile(rf"^([\[(])\s*({_NUM})\s*,\s*({_NUM})\s*([\])])$", re.IGNORECASE)
_COMPARE = re.compile(r"^(>=|<=|>|<)\s*(\S+)$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _number(text: str) -> float:
    return float(text.replace("_", ""))


@dataclasses.dataclass(frozen=True)
class Rule:
    """One declared rule of a parameter (see the module docstring for the forms)."""

    kind: str  #: interval, cross, choices, pow2, nonempty, unique, match
    text: str  #: as declared, for messages and ``rlinside params``
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    op: str = ""  #: cross: the comparison with the other parameter
    other: str = ""  #: cross: the other parameter's name
    choices: tuple[Any, ...] | None = None
    provider: str = ""  #: choices from CHOICES[provider]
    pattern: str = ""

    def allowed_choices(self) -> tuple[Any, ...]:
        if self.provider:
            return tuple(CHOICES[self.provider]())
        return self.choices or ()


def _parse_one(text: str) -> Rule:
    t = text.strip()
    m = _INTERVAL.match(t)
    if m:
        lo, hi = _number(m.group(2)), _number(m.group(3))
        if lo > hi:
            raise RuleError(f"interval {t!r} has its lower bound above its upper bound")
        return Rule("interval", t, low=lo, high=hi, low_closed=m.group(1) == "[", high_closed=m.group(4) == "]")
    m = _COMPARE.match(t)
    if m:
        op, rhs = m.groups()
        if _NAME.match(rhs) and rhs.lower() not in ("inf",):
            return Rule("cross", t, op=op, other=rhs)
        try:
            x = _number(rhs)
        except ValueError:
            raise RuleError(f"rule {t!r}: {rhs!r} is neither a number nor a parameter name") from None
        if op in (">", ">="):
            return Rule("interval", t, low=x, low_closed=op == ">=")
        return Rule("interval", t, high=x, high_closed=op == "<=")
    if t.startswith("{") and t.endswith("}"):
        inner = t[1:-1].strip()
        if inner.startswith("@"):
            name = inner[1:].strip()
            if name not in CHOICES:
                raise RuleError(f"rule {t!r}: no choice provider {name!r}; known: {', '.join(CHOICES)}")
            return Rule("choices", t, provider=name)
        items = [c.strip() for c in inner.split(",") if c.strip()]
        if not items:
            raise RuleError(f"rule {t!r} lists no choices")
        return Rule("choices", t, choices=tuple(items))
    if t in ("pow2", "nonempty", "unique"):
        return Rule(t, t)
    if t.startswith("match "):
        pattern = t[len("match "):].strip()
        try:
            re.compile(pattern)
        except re.error as e:
            raise RuleError(f"rule {t!r}: bad regular expression ({e})") from None
        return Rule("match", t, pattern=pattern)
    raise RuleError(
        f"unknown rule {t!r}; allowed: an interval like [a, b) or (a, inf), '> x' / '>= x' / "
        "'< x' / '<= x' (x a number or another parameter), {a, b}, {@provider}, pow2, "
        "nonempty, unique, match REGEX"
    )


def split_help(comment: str) -> tuple[str, str]:
    """Split a help comment into (help text, rules text) at its first `` | ``."""
    if " | " not in f" {comment} ":
        return comment.strip(), ""
    help_text, rules = f" {comment} ".split(" | ", 1)
    return help_text.strip(), rules.strip()


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse ``rule; rule; ...`` (the part of a help comment after `` | ``). A ``match`` rule
    comes last: its regular expression is the rest of the text, ``;`` and ``|`` included."""
    head, sep, pattern = text.partition("match ")
    if sep and head.strip() and not head.rstrip().endswith(";"):
        raise RuleError(f"rules {text!r}: 'match REGEX' must be a rule of its own, after ';'")
    rules = [_parse_one(part) for part in head.split(";") if part.strip()]
    if sep:
        rules.append(_parse_one("match " + pattern))
    return tuple(rules)


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


def describe(rules: tuple[Rule, ...]) -> str:
    """The rules as declared, for ``rlinside params``."""
    return "; ".join(r.text for r in rules)


def _scalar_ok(rule: Rule, x: Any) -> str | None:
    """None if the element ``x`` satisfies ``rule``, else what is allowed."""
    if rule.kind == "interval":
        lo_ok = x >= rule.low if rule.low_closed else x > rule.low
        hi_ok = x <= rule.high if rule.high_closed else x < rule.high
        if lo_ok and hi_ok:
            return None
        lo = ("[" if rule.low_closed else "(") + _fmt(rule.low)
        hi = _fmt(rule.high) + ("]" if rule.high_closed else ")")
        return f"a value in {lo}, {hi}"
    if rule.kind == "choices":
        allowed = rule.allowed_choices()
        if x in allowed or str(x) in [str(a) for a in allowed]:
            return None
        return "one of " + ", ".join(str(a) for a in allowed)
    if rule.kind == "pow2":
        return None if isinstance(x, int) and x > 0 and x & (x - 1) == 0 else "a power of two (1, 2, 4, 8, ...)"
    if rule.kind == "match":
        return None if isinstance(x, str) and re.fullmatch(rule.pattern, x) else f"text matching {rule.pattern}"
    return None


def _basic(name: str, ptype: str, value: Any) -> None:
    """Values no parameter allows: NaN, infinities, integers beyond 64 bits."""
    items = value if isinstance(value, (list, tuple)) else [value]
    for x in items:
        if isinstance(x, float) and not math.isfinite(x):
            raise RuleError(f"parameter '{name}' = {_fmt(value)}: {x} is not allowed (only finite numbers)")
        if isinstance(x, int) and not isinstance(x, bool) and abs(x) > INT_LIMIT:
            raise RuleError(
                f"parameter '{name}' = {str(x)[:30]}{'...' if len(str(x)) > 30 else ''}: "
                f"too large (integers must lie within +-{INT_LIMIT}, 64 bits)"
            )


def check_value(name: str, ptype: str, value: Any, rules: tuple[Rule, ...], help_text: str = "") -> None:
    """Raise RuleError naming the parameter, its value and what is allowed, if a rule fails.

    Cross-parameter rules are checked by :func:`check_cross`.
    """
    _basic(name, ptype, value)
    is_list = ptype.startswith("list[")
    what = f" ({help_text})" if help_text else ""
    for rule in rules:
        if rule.kind == "cross":
            continue
        if rule.kind == "nonempty":
            if len(value) == 0:
                raise RuleError(f"parameter '{name}' is empty; allowed: at least one element{what}")
            continue
        if rule.kind == "unique":
            if is_list and len(set(map(str, value))) != len(value):
                raise RuleError(f"parameter '{name}' = {value} repeats an element; allowed: distinct elements{what}")
            continue
        for x in (value if is_list else [value]):
            need = _scalar_ok(rule, x)
            if need is not None:
                where = f" (element {_fmt(x)})" if is_list else ""
                raise RuleError(
                    f"parameter '{name}' = {_fmt(value) if not is_list else value}{where} is not allowed; "
                    f"allowed: {need}{what}"
                )


def check_cross(params: Mapping[str, Any], values: Mapping[str, Any], where: str = "") -> None:
    """Check every cross-parameter rule on resolved ``values`` (``params``: name -> Parameter)."""
    at = f" in {where}" if where else ""
    for name, p in params.items():
        for rule in p.rules:
            if rule.kind != "cross":
                continue
            if rule.other not in values:
                raise RuleError(f"parameter '{name}': rule '{rule.text}' names no parameter of this notebook")
            mine, theirs = values[name], values[rule.other]
            for x in (mine if isinstance(mine, list) else [mine]):
                if not _OPS[rule.op](x, theirs):
                    raise RuleError(
                        f"parameter '{name}' = {_fmt(mine)} must be {rule.op} {rule.other} "
                        f"(= {_fmt(theirs)}){at}"
                    )


# ---------------------------------------------------------------------------------------
# cost estimates


_ALLOWED_CALLS = {"len": len, "max": max, "min": min, "sum": sum}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv}
_COMPARE_OPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise RuleError(f"cost expression names {node.id!r}, which is not a parameter")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_OPS:
        # a choice parameter switches a term on or off: (mode == "all") is 1 or 0
        def side(n: ast.AST) -> Any:  # a string only as a side of a comparison
            return n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else _eval(n, env)

        return int(_COMPARE_OPS[type(node.ops[0])](side(node.left), side(node.comparators[0])))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ALLOWED_CALLS
            and not node.keywords):
        return _ALLOWED_CALLS[node.func.id](*[_eval(a, env) for a in node.args])
    raise RuleError(f"cost expression: {ast.unparse(node)!r} is not allowed (numbers, parameters, "
                    "+ - * / **, one == or != comparison (with strings), len, max, min, sum)")


def estimate_cost(expression: str, values: Mapping[str, Any]) -> float:
    """Evaluate a ``cost`` expression (core-hours) over resolved parameter values."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as e:
        raise RuleError(f"cost expression {expression!r} is not valid: {e.msg}") from None
    value = _eval(tree, values)
    return float(value)
