"""Declared parameter rules (rlinside.params): parsing, checking, cross rules, cost bounds,
and that every notebook of the catalogue declares a bound for every number it takes."""

import math

import pytest

from rlinside import params as R
from rlinside.notebook import (
    ParameterError,
    catalog,
    check_budget,
    parse_assignments,
    resolve_parameters,
)


def rules(text):
    return R.parse_rules(text)


@pytest.mark.parametrize("text, ok, bad", [
    ("[1, 10]", [1, 10, 5], [0, 11, -1]),
    ("(0, 1)", [0.5, 1e-9], [0.0, 1.0, 2.0]),
    ("[0, 1)", [0.0, 0.999], [1.0, -0.1]),
    ("(0, inf)", [1e-300, 1e300], [0.0, -1.0]),
    (">= 2", [2, 3], [1]),
    ("< 5", [4, -100], [5, 6]),
    ("pow2", [1, 2, 64, 1024], [0, 3, 12, -4]),
    ("{a, b}", ["a", "b"], ["c", "A", ""]),
    ("{2, 3, 4}", [2, 3, 4], [1, 5]),
    (r"match \d+:\d+", ["13:2", "2:30"], ["13:", "x:2", "1:2 "]),
])
def test_rules_accept_and_reject(text, ok, bad):
    rs = rules(text)
    ptype = "str" if any(isinstance(v, str) for v in ok + bad) else (
        "float" if any(isinstance(v, float) for v in ok + bad) else "int")
    for v in ok:
        R.check_value("x", ptype, v, rs)
    for v in bad:
        with pytest.raises(R.RuleError, match="parameter 'x'"):
            R.check_value("x", ptype, v, rs)


def test_list_rules_apply_to_every_element_and_to_the_list():
    rs = rules("nonempty; unique; [0, 9]")
    R.check_value("seeds", "list[int]", [0, 3, 9], rs)
    with pytest.raises(R.RuleError, match="element 10"):
        R.check_value("seeds", "list[int]", [0, 10], rs)
    with pytest.raises(R.RuleError, match="empty"):
        R.check_value("seeds", "list[int]", [], rs)
    with pytest.raises(R.RuleError, match="repeats"):
        R.check_value("seeds", "list[int]", [1, 1], rs)


def test_provider_choices_follow_the_library():
    from rlinside.explain.saliency import METHOD_NAMES

    rs = rules("{@saliency_methods}")
    R.check_value("m", "list[str]", list(METHOD_NAMES), rs)
    with pytest.raises(R.RuleError, match="one of " + METHOD_NAMES[0]):
        R.check_value("m", "list[str]", ["Saliency"], rs)
    with pytest.raises(R.RuleError, match="no choice provider"):
        rules("{@nothing_like_this}")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 2**64])
def test_no_rule_allows_nan_infinity_or_huge_integers(value):
    ptype = "int" if isinstance(value, int) else "float"
    with pytest.raises(R.RuleError):
        R.check_value("x", ptype, value, ())


@pytest.mark.parametrize("text", ["[1, ", "{}", "between 1 and 2", "[3, 1]", "> 1x", "match ("])
def test_malformed_rules_are_reported(text):
    with pytest.raises(R.RuleError):
        rules(text)


def test_match_takes_the_rest_of_the_rules_text():
    (r,) = rules(r"match (a|b);c")
    assert r.pattern == "(a|b);c"
    assert R.split_help("help text | [0, 1]") == ("help text", "[0, 1]")
    assert R.split_help("a|b without spaces") == ("a|b without spaces", "")


CELL = '''\
n_tests: int = 40  # test episodes | [1, 100]
episode: int = 0  # the episode drawn | [0, 99]; < n_tests
gate: str = "output"  # which gate | {input, output}
'''


def test_parameters_cell_rules_and_cross_rules():
    ps = parse_assignments(CELL)
    assert ps["n_tests"].help == "test episodes"
    assert R.describe(ps["episode"].rules) == "[0, 99]; < n_tests"
    with pytest.raises(ParameterError, match="'n_tests' = 0 is not allowed; allowed: a value in \\[1, 100\\]"):
        ps["n_tests"].parse("0")
    with pytest.raises(ParameterError, match="'gate' = 'in' is not allowed; allowed: one of input, output"):
        ps["gate"].parse("in")
    values = {"n_tests": 5, "episode": 5, "gate": "input"}
    with pytest.raises(R.RuleError, match=r"'episode' = 5 must be < n_tests \(= 5\)"):
        R.check_cross(ps, values)
    with pytest.raises(ParameterError, match="names 'n_test', which is not a parameter"):
        parse_assignments(CELL.replace("< n_tests", "< n_test"))
    with pytest.raises(ParameterError, match="allowed is|allowed: a value"):  # a default must obey
        parse_assignments(CELL.replace("= 40", "= 400"))


def test_cost_expressions_are_safe_arithmetic():
    assert R.estimate_cost("n * len(xs) / 2", {"n": 10, "xs": [1, 2]}) == 10.0
    # a choice switches a term: a comparison counts 1 or 0
    assert R.estimate_cost("n * (1 + (mode == 'all'))", {"n": 3, "mode": "all"}) == 6.0
    assert R.estimate_cost("n * (1 + (mode != 'all'))", {"n": 3, "mode": "all"}) == 3.0
    for bad in ("__import__('os').system('true')", "n.real", "open('x')", "m * 2", "n + 'x'", "0 < n < 2"):
        with pytest.raises(R.RuleError):
            R.estimate_cost(bad, {"n": 1})


def test_every_notebook_bounds_every_number_and_its_profiles_obey():
    """A count without an upper bound can make a run hang: every int and float parameter of
    every notebook declares an interval or choices with a finite upper end (or a cost)."""
    specs = catalog()  # loading checks every profile's values against the rules
    assert specs
    unbounded = []

    def bounded(p, params):
        own = any((r.kind == "interval" and math.isfinite(r.high)) or r.kind == "choices" for r in p.rules)
        below = any(r.kind == "cross" and r.op in ("<", "<=") and bounded(params[r.other], {}) for r in p.rules
                    if params)  # e.g. steps_per_stage <= n_steps, n_steps bounded
        return own or below

    for s in specs:
        for p in s.parameters.values():
            if p.type in ("int", "float", "list[int]", "list[float]") and not bounded(p, s.parameters):
                unbounded.append(f"{s.slug}:{p.name}")
        for profile in ("smoke", "book", "paper"):
            values, _ = resolve_parameters(s, profile)
            check_budget(s, profile, values)  # the shipped profiles are within their bounds
    assert not unbounded, unbounded


def test_budget_refuses_an_oversized_run_and_force_lets_it_through():
    s = next(s for s in catalog() if s.slug == "rtrl/02_learning_curves")
    values, _ = resolve_parameters(s, "book", ["n_steps=2000000000"])
    with pytest.raises(ParameterError, match=r"would take about .* days of one core .* --force"):
        check_budget(s, "book", values)
    assert check_budget(s, "book", values, force=True) > R.COST_BOUND_HOURS["book"]
