"""The verdict rule on synthetic data (a known effect is supported, no effect is inconclusive,
a reversed effect is contradicted, below scale is not tested, a pattern the null also makes is
not evidence), the bootstrap interval, recorded measurements, and the seed ranges."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlinside import claims as C
from rlinside import seeds


def claim(**kw):
    base = dict(id="demo.effect", chapter="demo", statement="A beats B", where="Fig. 1", quantity="B - A",
                unit="seed", comparison={"greater": 0}, min_scale={"seeds": 5})
    base.update(kw)
    return C.Claim(**base)


def test_known_effect_supported_null_inconclusive_reversed_contradicted():
    rng = np.random.default_rng(0)
    scale = {"seeds": 30, "profile": "book"}
    effect = C.measure("demo.effect", 1.0 + 0.3 * rng.normal(size=30), scale=scale)
    nothing = C.measure("demo.effect", 0.3 * rng.normal(size=30), scale=scale)
    reversed_ = C.measure("demo.effect", -1.0 + 0.3 * rng.normal(size=30), scale=scale)
    assert C.verdict(claim(), effect)[0] == "supported"
    assert C.verdict(claim(), nothing)[0] == "inconclusive"
    assert C.verdict(claim(), reversed_)[0] == "contradicted"
    assert C.verdict(claim(comparison={"less": 0}), reversed_)[0] == "supported"


def test_below_scale_few_units_or_no_data_is_not_tested():
    m = C.measure("demo.effect", [1.0, 1.2, 0.9], scale={"seeds": 3})
    word, reason = C.verdict(claim(), m)
    assert word == "not tested" and "seeds 3 < 5" in reason
    m = C.measure("demo.effect", [1.0], scale={"seeds": 5})
    assert C.verdict(claim(), m)[0] == "not tested"  # one unit: an anecdote, no interval
    assert C.verdict(claim(), None) == ("not tested", "no measurement")
    m = C.measure("demo.effect", [1.0, 2.0], scale={})
    assert "seeds 0 < 5" in C.verdict(claim(), m)[1]  # a scale that does not say is below it


def test_a_pattern_the_null_also_produces_is_not_evidence():
    rng = np.random.default_rng(1)
    c = claim(comparison={"greater_than_null": True})
    null = 0.5 + 0.1 * rng.normal(size=200)  # the statistic under shuffles
    like_null = C.measure("demo.effect", 0.55 + 0.05 * rng.normal(size=40), scale={"seeds": 40}, null=null)
    beyond = C.measure("demo.effect", 1.5 + 0.05 * rng.normal(size=40), scale={"seeds": 40}, null=null)
    below = C.measure("demo.effect", 0.2 + 0.05 * rng.normal(size=40), scale={"seeds": 40}, null=null)
    assert like_null.estimate > 0  # against zero it would look like an effect ...
    assert C.verdict(claim(), like_null)[0] == "supported"
    assert C.verdict(c, like_null)[0] in ("inconclusive", "contradicted")  # ... against the null it is not
    assert C.verdict(c, beyond)[0] == "supported"
    assert C.verdict(c, below)[0] == "contradicted"
    assert C.verdict(c, C.measure("demo.effect", [1, 2, 3], scale={"seeds": 9}))[0] == "not tested"


def test_within_a_band_of_the_papers_value():
    c = claim(comparison={"within": 0.5, "rel": 0.1}, min_scale={})
    rng = np.random.default_rng(2)
    assert C.verdict(c, C.measure("x", 0.5 + 0.005 * rng.normal(size=50), scale={}))[0] == "supported"
    assert C.verdict(c, C.measure("x", 0.9 + 0.005 * rng.normal(size=50), scale={}))[0] == "contradicted"
    assert C.verdict(c, C.measure("x", 0.55 + 0.05 * rng.normal(size=50), scale={}))[0] == "inconclusive"


def test_bootstrap_interval_covers_the_mean_and_is_paired():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.0, size=60)
    m = C.measure("x", x, scale={})
    assert m.low < x.mean() < m.high and m.n == 60 and m.estimate == pytest.approx(x.mean())
    half = (m.high - m.low) / 2
    assert half == pytest.approx(1.96 * x.std(ddof=1) / np.sqrt(60), rel=0.25)  # the normal-theory width
    # paired: a shared per-seed offset cancels in the differences, unpaired it would not
    offset = {s: 10 * rng.normal() for s in range(20)}
    a = {s: offset[s] + 1.0 + 0.1 * rng.normal() for s in range(20)}
    b = {s: offset[s] + 0.1 * rng.normal() for s in range(20)}
    d = C.measure("x", C.paired_differences(a, b), scale={"seeds": 20})
    assert d.low > 0.8 and d.high < 1.2
    assert C.measure("x", [3.0, 3.0, 3.0], scale={}).low == 3.0  # constant values: a point interval
    assert C.measure("x", [1.0, float("nan"), 2.0], scale={}).n == 2


def test_interval_table_gives_each_group_its_interval():
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"g": ["a"] * 30 + ["b"] * 30 + ["c"], "v": np.r_[rng.normal(0, 1, 30), rng.normal(5, 1, 30), 1]})
    df.loc[3, "v"] = np.nan  # a missing value is not counted
    t = C.interval_table(df, "g", "v")
    assert list(t.columns) == ["mean", "low", "high", "n"] and list(t.index) == ["a", "b", "c"]
    assert t.loc["a", "n"] == 29 and t.loc["c", "n"] == 1 and np.isnan(t.loc["c", "low"])
    assert t.loc["a", "low"] < t.loc["a", "mean"] < t.loc["a", "high"] < t.loc["b", "low"]
    assert abs(t.loc["b", "mean"] - df["v"][30:60].mean()) < 1e-12
    with pytest.raises(C.ClaimError, match="no column 'w'"):
        C.interval_table(df, "g", "w")


def test_claims_file_declarations_are_checked(tmp_path):
    (tmp_path / "notebooks" / "demo").mkdir(parents=True)
    f = tmp_path / "notebooks" / "demo" / "claims.yml"
    f.write_text("chapter: demo\nclaims:\n  - id: demo.a\n    statement: s\n    where: Fig. 1\n    quantity: q\n"
                 "    unit: seed\n    comparison: {greater: 0}\n")
    assert list(C.load_claims(tmp_path)) == ["demo.a"]
    f.write_text(f.read_text() + "  - id: demo.a\n    statement: s\n    where: w\n    quantity: q\n    unit: seed\n"
                 "    comparison: {greater: 0}\n")
    with pytest.raises(C.ClaimError, match="declared twice"):
        C.load_claims(tmp_path)
    with pytest.raises(C.ClaimError, match="exactly one of"):
        claim(comparison={"bigger": 0})


def test_measurements_are_recorded_and_the_table_follows_them(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(C.CLAIMS_ENV, str(log))
    C.measure("demo.effect", [1.0, 1.1, 0.9, 1.2, 1.05], scale={"seeds": 5})
    rec = [json.loads(line) for line in log.read_text().splitlines()]
    assert rec[0]["claim"] == "demo.effect" and rec[0]["n"] == 5
    gen = tmp_path / "book" / "generated" / "demo"
    gen.mkdir(parents=True)
    (gen / "01_x.claims.json").write_text(json.dumps(rec))
    rows = C.claims_table([claim()], C.read_measurements(tmp_path))
    assert rows[0]["verdict"] == "supported" and rows[0]["n"] == "5 seeds"
    md = C.markdown_table(rows)
    assert "**supported**" in md and "1.05" in md
    # changing the stored measurement changes the rendered table
    rec[0].update(values=[-1.0, -1.1, -0.9, -1.2, -1.05], estimate=-1.05, low=-1.12, high=-0.96)
    (gen / "01_x.claims.json").write_text(json.dumps(rec))
    assert "**contradicted**" in C.markdown_table(C.claims_table([claim()], C.read_measurements(tmp_path)))


def test_seed_ranges_are_disjoint_and_streams_independent():
    ranges = [set(range(r.start, r.stop)) for r in seeds.RANGES]
    assert all(not (a & b) for i, a in enumerate(ranges) for b in ranges[i + 1:])
    assert seeds.purpose_of(3) == "report" and seeds.purpose_of(10_003) == "tuning"
    assert seeds.TUNING.take(5) == [10_000, 10_001, 10_002, 10_003, 10_004]
    with pytest.raises(ValueError, match="overlap"):
        seeds.check_disjoint(range(5), range(30))
    seeds.check_disjoint(seeds.TUNING.take(5), seeds.REPORT.take(30))
    seeds.check_disjoint(range(5), range(30), allow_reuse=True)  # the paper's own protocol, named
    s1, s2 = seeds.streams(7), seeds.streams(7)
    assert s1["env"].integers(1 << 30) == s2["env"].integers(1 << 30)
    a, b = seeds.streams(7)["env"].random(1000), seeds.streams(7)["init"].random(1000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1 and not np.array_equal(a, b)
    only_init = seeds.streams(7, ["init"])["init"].random(3)
    np.testing.assert_array_equal(only_init, seeds.streams(7)["init"].random(3))  # a stream does not
    # depend on which others were asked for


# --- the book's chapters: claims tables rendered, not typed

import re  # noqa: E402

from conftest import ROOT  # noqa: E402

_TYPED = re.compile(r"\|\s*\**(supported|contradicted|inconclusive|not tested|reproduced|partly|not reproduced)\b",
                    re.I)


@pytest.mark.parametrize("chapter", ["rtrl", "saliency", "lstm_contribution", "neuron_activation"])
def test_claims_section_has_no_typed_verdict(chapter):
    page = (ROOT / "book" / chapter / "index.md").read_text()
    section = page.split("## Claims", 1)[1].split("\n## ", 1)[0] if "## Claims" in page else ""
    assert f"generated/claims/{chapter}.md" in section, "the claims section does not include the rendered table"
    assert not _TYPED.search(section), _TYPED.search(section).group(0)


def test_every_declared_claim_names_a_notebook_and_a_known_unit():
    declared = C.load_claims(ROOT)
    assert declared
    from rlinside.notebook import catalog

    slugs = {s.slug for s in catalog(ROOT)}
    for c in declared.values():
        assert c.unit in {"seed", "episode", "state", "test", "agent", "width", "game", "block", "run", "network"}, c.id
        assert c.notebook, c.id
        planned = c.notebook not in slugs
        if planned:  # a claim of a notebook not written yet stays "not tested"
            assert C.verdict(c, None)[0] == "not tested"


def test_every_declared_claim_is_measured_by_its_notebook():
    """A claim declared but never measured stays "not tested" for ever: its notebook (or the
    chapter's study module it calls) must name the claim in a ``claims.measure`` call."""
    from rlinside.notebook import catalog

    specs = {s.slug: s for s in catalog(ROOT)}
    for c in C.load_claims(ROOT).values():
        if c.notebook not in specs:
            continue  # a planned notebook (checked above)
        text = specs[c.notebook].path.read_text()
        study = ROOT / "lib" / "rlinside" / "studies" / f"{c.chapter}.py"
        text += study.read_text() if study.is_file() else ""
        assert f'"{c.id}"' in text or f"'{c.id}'" in text, f"{c.id} is declared but {c.notebook} never measures it"


def test_every_claim_a_notebook_measures_is_declared():
    """The converse: a measurement whose id no claims file (or exercise) declares never reaches
    the claims table, so it would be a verdict nobody reads. Every literal id in a
    ``claims.measure`` call of a notebook or of the library must be declared (ids built at run
    time, such as per-game intervals quoted in the text, are not checked)."""
    import re

    from rlinside.exercises import load_exercises

    declared = set(C.load_claims(ROOT)) | {e.claim.id for e in load_exercises(ROOT) if e.claim is not None}
    found = {}
    for f in [*(ROOT / "lib").rglob("*.py"), *(ROOT / "notebooks").rglob("*.py")]:
        for m in re.finditer(r'measure\(\s*"([a-z_]+\.[a-z0-9_.]+)"', f.read_text()):
            found.setdefault(m.group(1), f.relative_to(ROOT))
    assert found, "no claims.measure call found"
    missing = {k: str(v) for k, v in found.items() if k not in declared}
    assert not missing, f"measured but declared nowhere: {missing}"


def test_exchangeable_null_is_symmetric_and_covers_the_control_difference():
    """Two seeds of one setup: the null is symmetric about 0 and its upper quantile covers the
    control pair's own difference, so an effect no larger than the seeds' is not evidence, and
    a larger one is."""
    rng = np.random.default_rng(0)
    control = rng.normal(0.3, 1.0, 60)  # two seeds that happen to differ by 0.3
    null = C.exchangeable_null(control, draws=2000)
    assert null.shape == (4000,) and abs(np.mean(null)) < 1e-12
    hi = np.quantile(null, 0.975)
    assert hi > abs(control.mean())
    c = claim(comparison={"greater_than_null": True}, min_scale={"states": 40}, unit="state")
    weak = C.measure("demo.effect", rng.normal(0.3, 1.0, 60), scale={"states": 60}, null=null)
    strong = C.measure("demo.effect", rng.normal(2.0, 1.0, 60), scale={"states": 60}, null=null)
    assert C.verdict(c, weak)[0] != "supported"
    assert C.verdict(c, strong)[0] == "supported"
    assert C.exchangeable_null([1.0]).size == 0
    with pytest.raises(C.ClaimError, match="statistic must be one of"):
        C.exchangeable_null(control, statistic="mode")


def test_draws_give_the_interval_when_the_unit_is_resampled_inside_the_values():
    # eight fixed games won 7 times: bootstrapping the 8 win/loss values can never clear 0.74,
    # while draws that resample each game's seeds can, when the wins are clear on every seed
    wins = [1.0] * 7 + [0.0]
    plain = C.measure("demo.effect", wins, scale={"seeds": 5})
    assert plain.low < 0.74
    draws = np.r_[np.full(3800, 0.875), np.full(200, 0.75)]
    m = C.measure("demo.effect", wins, scale={"seeds": 5}, draws=draws, draws_from="seeds within games")
    assert (m.low, m.high) == (0.75, 0.875) and m.estimate == 0.875 and m.interval_from == "seeds within games"
    assert C.verdict(claim(comparison={"greater": 0.74}), m)[0] == "supported"
    assert "seeds within games" in C.claims_table([claim(comparison={"greater": 0.74})], {"demo.effect": m})[0]["ours"]
    with pytest.raises(C.ClaimError, match="draws_from"):
        C.measure("demo.effect", wins, scale={}, draws=draws)
    with pytest.raises(C.ClaimError, match="1,000"):
        C.measure("demo.effect", wins, scale={}, draws=draws[:10], draws_from="x")
