"""Floors (保底), ranges (区间 A 至 B) and offsets (扣除): hand-worked amounts at every boundary, the
same from the interpreter, the generated full path and the generated fast path."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from policydsl.api import CompiledEvaluator, PolicyEvaluator, compile_policy
from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.syntax.fmt import format_source
from tests.conftest import DATA

POLICY = DATA / "bounds" / "bounds.policy"
DAY = datetime.date(2024, 1, 1)
W = Decimal(10000)


def evaluators() -> list[PolicyEvaluator]:
    interpreted, _ = compile_policy(POLICY)
    compiled, _ = compile_policy(POLICY, compiled=True)
    assert interpreted is not None and compiled is not None
    return [interpreted, compiled]


@pytest.fixture(scope="module", params=["interpreted", "compiled"])
def ev(request: pytest.FixtureRequest) -> PolicyEvaluator:
    return evaluators()[0 if request.param == "interpreted" else 1]


def decide(ev: PolicyEvaluator, **wan: Any) -> rt.Decision:
    facts = {"investment": "0", "cost": "0", "earlier": "0", **{k: f"{v}万" for k, v in wan.items()}}
    return ev.evaluate(facts, DAY)


def fast(ev: PolicyEvaluator, **wan: Any) -> rt.Decision:
    """The typed values the generated fast path takes (Decimals and a date)."""
    facts = {"investment": Decimal(0), "cost": Decimal(0), "earlier": Decimal(0)}
    facts.update({k: Decimal(v) * W for k, v in wan.items()})
    assert isinstance(ev, CompiledEvaluator)
    return ev.module.evaluate(facts, DAY)  # type: ignore[no-any-return]


def bounds(d: rt.Decision, measure: str) -> tuple[str, Decimal | None, Decimal | None]:
    m = d.measures[measure]
    return m.status, m.floor, m.amount


def money(wan: str) -> Decimal:
    return (Decimal(wan) * W).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("cost", "earlier", "expected"),
    [
        ("50", "0", "10"),  # 5万 lifted to the floor
        ("100", "0", "10"),  # 10万: the floor exactly, not binding
        ("100.01", "0", "10.001"),  # just above the floor
        ("400", "0", "40"),
        ("500", "0", "50"),  # the cap exactly
        ("900", "0", "50"),  # capped
        ("400", "15", "25"),  # 40万 less 15万
        ("400", "40", "0"),  # the earlier award equals the amount
        ("400", "60", "0"),  # larger than the award: 0, never negative
        ("50", "3", "7"),  # the floor first, then the offset: 10万 - 3万
    ],
)
def test_determined_amount_with_floor_cap_and_offset(
    ev: PolicyEvaluator, cost: str, earlier: str, expected: str
) -> None:
    d = decide(ev, cost=cost, earlier=earlier)
    assert bounds(d, "talent") == ("determined", None, money(expected))


@pytest.mark.parametrize(
    ("investment", "earlier", "floor", "ceiling"),
    [
        ("1000", "0", "50", "200"),  # 5% and 20% of 1000万
        ("2500", "0", "125", "500"),  # the cap exactly
        ("4000", "0", "200", "500"),  # the upper bound capped, the lower not
        ("12000", "0", "500", "500"),  # the floor (600万) above the cap: the cap wins for both
        ("2000", "100", "0", "300"),  # floor 100万 - 100万 = 0, upper 400万 - 100万
        ("2000", "450", "0", "0"),  # larger than both bounds
    ],
)
def test_range_bounds(ev: PolicyEvaluator, investment: str, earlier: str, floor: str, ceiling: str) -> None:
    d = decide(ev, investment=investment, earlier=earlier)
    assert bounds(d, "invest") == ("ceiling", money(floor), money(ceiling))


def test_range_below_its_threshold_is_ineligible(ev: PolicyEvaluator) -> None:
    assert bounds(decide(ev, investment="999.99"), "invest") == ("ineligible", None, None)


def test_explanation_shows_both_bounds_and_the_offset(ev: PolicyEvaluator) -> None:
    d = decide(ev, investment="3000", earlier="100")
    steps = d.measures["invest"].explanation
    assert "最低 5% × 固定资产投资：150万元" in steps
    assert (
        "扣除已获 已获奖励：最高 500万元，扣除已获 100万元，最高 400万元；最低 150万元 扣除后为 50万元"
        in steps
    )
    assert steps[-1] == "最低 50万元，最高 400万元（酌情核定，非确定金额）"
    assert rt.describe(d.measures["invest"]) == "最低 50万元，最高 400万元"
    assert d.to_dict()["measures"][0]["floor"] == "500000.00"
    talent = decide(ev, cost="50", earlier="3").measures["talent"].explanation
    assert "保底 10万：10万元（起作用）" in talent
    assert "扣除已获 已获奖励：应奖 10万元，扣除已获 3万元，补足 7万元" in talent
    capped = decide(ev, investment="12000").measures["invest"].explanation
    assert "保底 5% × 固定资产投资 600万元 高于封顶后的 500万元，以封顶为准" in capped


def test_an_earlier_award_larger_than_the_award_says_nothing_is_given(ev: PolicyEvaluator) -> None:
    steps = decide(ev, cost="400", earlier="60").measures["talent"].explanation
    assert "扣除已获 已获奖励：应奖 40万元，扣除已获 60万元，不再给予（0元）" in steps


def test_total_floor_sums_floors_and_determined_amounts(ev: PolicyEvaluator) -> None:
    # the two measures' combination is not declared: the total is a ceiling without a floor
    d = decide(ev, investment="1000", cost="400")
    assert (d.total.status, d.total.floor, d.total.amount) == ("ceiling", None, money("240"))
    only = decide(ev, investment="1000")
    assert (only.total.status, only.total.floor, only.total.amount) == ("ceiling", money("50"), money("200"))


@pytest.mark.parametrize(
    ("cost", "earlier"), [("50", "0"), ("100", "0"), ("400", "15"), ("400", "60"), ("900", "0"), ("50", "3")]
)
def test_fast_path_agrees(cost: str, earlier: str) -> None:
    interpreted, _ = evaluators()
    compiled, _ = compile_policy(DATA / "bounds" / "determined.policy", compiled=True)
    assert isinstance(compiled, CompiledEvaluator)
    d = compiled.module.evaluate({"cost": Decimal(cost) * W, "earlier": Decimal(earlier) * W}, DAY)
    assert d.path == "fast"
    assert d.amounts["talent"] == decide(interpreted, cost=cost, earlier=earlier).amounts["talent"]


def test_fast_path_leaves_a_range_to_the_full_path() -> None:
    _, compiled = evaluators()
    d = fast(compiled, investment="3000", earlier="100")
    assert d.path == "full"
    assert bounds(d, "invest") == ("ceiling", money("50"), money("400"))


def _codes(text: str) -> list[str]:
    sink = Sink()
    check_text("t.policy", text, sink)
    return [str(d.code) for d in sink.diagnostics]


HEAD = 'policy "t" {}\nfact x "x": money >= 0\nfact n "n": count 家 >= 0\n'


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("award x floor n", "E206"),
        ("award x floor 10%", "E206"),
        ("award x offset n", "E206"),
        ("award range 5% to x", "E206"),
        ("award x floor 1万 floor 2万", "E102"),
        ("award x offset x offset x", "E102"),
        ("award unset offset x", "E213"),
        ("award unset floor 1万", "E213"),
    ],
)
def test_type_errors(body: str, code: str) -> None:
    assert code in _codes(HEAD + 'measure m "m" {\n  ' + body + "\n}\n")


@pytest.mark.parametrize(
    "clause",
    [
        "award range 5% * x to 20% * x cap 500万 offset x",
        "award ceiling 20% * x floor 5% * x",
        "award x floor 1万 cap 2万 if x 超过 0",
        "award x if x 超过 0 floor 1万 offset x",
        "给予 区间 5% * x 至 20% * x 封顶 500万 扣除 x",
        "给予 x 保底 1万",
    ],
)
def test_formatter_round_trip(clause: str) -> None:
    text = HEAD + 'measure m "m" {\n  ' + clause + "\n}\n"
    assert _codes(text) == []
    once = format_source("t.policy", text, Sink())
    assert once is not None
    assert format_source("t.policy", once, Sink()) == once
    assert "range" in once or "区间" in once or "range" not in clause
