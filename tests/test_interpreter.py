"""The reference semantics on a policy that uses every construct; every figure is worked by hand."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.evaluation import runtime as rt
from tests.conftest import DATA

DAY = datetime.date(2021, 6, 1)
BASE: dict[str, Any] = {
    "applicant": "enterprise",
    "investment": "4亿",
    "other_funding": "5000万",
    "upper_funding": "3亿",
    "center_level": "national",
    "revenue": "1000万",
    "registrations": "100",
    "established": "2019-01-01",
    "key_platform": False,
    "national_platform": False,
    "completion_h1": "60%",
    "completion_h2": "100%",
    "standards": 0,
    "cluster": "江门A",
}


@pytest.fixture(scope="module")
def policy() -> PolicyEvaluator:
    evaluator, sink = compile_policy(DATA / "eval" / "semantics.policy")
    assert evaluator is not None, sink.diagnostics
    return evaluator


def run(policy: PolicyEvaluator, date: datetime.date = DAY, **changes: Any) -> rt.Decision:
    return policy.evaluate({**BASE, **changes}, date)


def amount(decision: rt.Decision, measure: str) -> tuple[str, Decimal | None]:
    m = decision.measures[measure]
    return m.status, m.amount


def test_percentage_with_cap_is_a_ceiling_not_an_entitlement(policy: PolicyEvaluator) -> None:
    # 50% × 150万 = 75万, under the 100万 cap; a ceiling (最高/不超过), never a determined amount
    assert amount(run(policy, investment="150万"), "benchmark") == (rt.CEILING, Decimal("750000.00"))
    # 50% × 4亿 = 2亿 → the cap binds
    assert amount(run(policy), "benchmark") == (rt.CEILING, Decimal("1000000.00"))


def test_cap_just_below_at_and_above(policy: PolicyEvaluator) -> None:
    assert amount(run(policy, investment="1999998"), "benchmark")[1] == Decimal("999999.00")
    assert amount(run(policy, investment="200万"), "benchmark")[1] == Decimal("1000000.00")
    assert amount(run(policy, investment="2000002"), "benchmark")[1] == Decimal("1000000.00")


def test_rounding_to_the_fen_half_up(policy: PolicyEvaluator) -> None:
    # 50% × 0.01元 = 0.005元 → 0.01元 (half up at the fen)
    assert amount(run(policy, investment="0.01"), "benchmark")[1] == Decimal("0.01")
    # 50% × 0.03元 = 0.015元 → 0.02元
    assert amount(run(policy, investment="0.03"), "benchmark")[1] == Decimal("0.02")


def test_tier_table_cap_by_enum(policy: PolicyEvaluator) -> None:
    # 50% × 3亿 = 1.5亿; national cap 1亿; funding room 50% × 4亿 − 5000万 = 1.5亿 → 1亿
    assert amount(run(policy), "center") == (rt.DETERMINED, Decimal("100000000.00"))
    # provincial cap 5000万
    assert amount(run(policy, center_level="provincial"), "center")[1] == Decimal("50000000.00")
    # the label of a value is accepted as input too
    assert amount(run(policy, center_level="市级"), "center")[1] == Decimal("30000000.00")


def test_cross_funding_ceiling_binds(policy: PolicyEvaluator) -> None:
    # room = 50% × 1亿 − 4000万 = 1000万 < min(50% × 3亿, 1亿)
    decision = run(policy, investment="1亿", other_funding="4000万")
    assert amount(decision, "center") == (rt.DETERMINED, Decimal("10000000.00"))
    assert any("上限起作用" in line for line in decision.measures["center"].explanation)
    # other funding already at the limit: nothing left
    assert amount(run(policy, investment="1亿", other_funding="6000万"), "center")[1] == Decimal("0.00")


def test_strict_threshold_chao_excludes_the_number(policy: PolicyEvaluator) -> None:
    at = run(policy, applicant="platform", registrations="2000万")
    above = run(policy, applicant="platform", registrations="20000001")
    assert at.measures["node"].status == rt.INELIGIBLE  # 超2000万条: exactly 2000万 is not more than
    assert amount(above, "node") == (rt.DETERMINED, Decimal("500000.00"))


def test_inclusive_threshold_and_per_unit_amount(policy: PolicyEvaluator) -> None:
    assert run(policy, standards=0).measures["std"].status == rt.INELIGIBLE
    assert amount(run(policy, standards=1), "std") == (rt.DETERMINED, Decimal("1000000.00"))  # 达到1项
    assert amount(run(policy, standards=3), "std") == (rt.DETERMINED, Decimal("3000000.00"))


def test_applicant_kind_rules_a_measure_out(policy: PolicyEvaluator) -> None:
    decision = run(policy, applicant="platform")
    assert decision.measures["benchmark"].status == rt.INELIGIBLE
    assert decision.measures["benchmark"].reasons == ["未满足：适用主体为 企业（申报主体：平台）"]


def test_exception_raises_the_default_ceiling(policy: PolicyEvaluator) -> None:
    key = run(policy, applicant="platform", key_platform=True)
    national = run(policy, applicant="platform", key_platform=True, national_platform=True)
    assert amount(key, "gsb") == (rt.CEILING, Decimal("10000000.00"))
    assert amount(national, "gsb") == (rt.CEILING, Decimal("30000000.00"))
    assert national.measures["gsb"].clauses == ["gsb.national"]
    assert national.measures["gsb"].forms == ("interest_subsidy", "grant", "equity")


def test_bonus_stacks_only_on_a_base_award(policy: PolicyEvaluator) -> None:
    assert amount(run(policy, revenue="2000万"), "pool")[1] == Decimal("200000.00")  # 超过: not at 2000万
    assert amount(run(policy, revenue="20000001"), "pool")[1] == Decimal("500000.00")  # 20万 + 30万
    assert run(policy, revenue="0").measures["pool"].status == rt.INELIGIBLE


def test_unset_parameter_is_undetermined_never_invented(policy: PolicyEvaluator) -> None:
    pilot = run(policy).measures["pilot"]
    assert pilot.status == rt.UNDETERMINED and pilot.amount is None
    assert "试点奖励金额" in pilot.reasons[0]


def test_parameter_versions_follow_the_evaluation_date(policy: PolicyEvaluator) -> None:
    # 30% × 10万 = 3万 in 2021; 40% × 10万 = 4万 in 2022; 40% × 20万 = 8万 → cap 5万
    assert amount(run(policy, revenue="10万"), "fee")[1] == Decimal("30000.00")
    assert amount(run(policy, datetime.date(2022, 3, 1), revenue="10万"), "fee")[1] == Decimal("40000.00")
    assert amount(run(policy, datetime.date(2022, 3, 1), revenue="20万"), "fee")[1] == Decimal("50000.00")


def test_parameters_file_fills_an_unset_amount() -> None:
    evaluator, _ = compile_policy(DATA / "eval" / "semantics.policy", {"pilot_amount": "80万"})
    assert evaluator is not None
    assert amount(evaluator.evaluate(BASE, DAY), "pilot") == (rt.DETERMINED, Decimal("800000.00"))


def test_staged_payout_59_and_60_percent(policy: PolicyEvaluator) -> None:
    assert amount(run(policy), "staged")[1] == Decimal("1000000.00")  # 50万 + rest 50万
    assert amount(run(policy, completion_h1="59%"), "staged")[1] == Decimal("0.00")  # forfeit all
    # first half paid, second half forfeit, no clawback
    assert amount(run(policy, completion_h2="99%"), "staged")[1] == Decimal("500000.00")


def test_highest_only_combination(policy: PolicyEvaluator) -> None:
    decision = run(policy, applicant="platform", registrations="3000万", revenue="3000万")
    # node 50万, pool 50万 (20万 + 30万): 就高不重复 pays one of them
    assert amount(decision, "node")[1] == Decimal("500000.00")
    assert amount(decision, "pool")[1] == Decimal("500000.00")
    assert any("就高不重复" in line for line in decision.total.explanation)


def test_total_is_a_ceiling_when_combination_is_not_declared(policy: PolicyEvaluator) -> None:
    decision = run(policy)
    assert decision.total.status == rt.UNDETERMINED  # pilot is undetermined
    assert any("未说明" in r for r in decision.total.reasons)


def test_validity_window(policy: PolicyEvaluator) -> None:
    # issued 2021-05-16, 3 years: in force through 2024-05-15
    assert run(policy, datetime.date(2024, 5, 15)).measures["center"].status == rt.DETERMINED
    late = run(policy, datetime.date(2024, 5, 16))
    assert late.measures["center"].status == rt.INELIGIBLE
    assert "已失效" in late.eligibility_failures[0]
    assert run(policy, datetime.date(2021, 5, 15)).measures["center"].status == rt.INELIGIBLE


def test_full_year_since_establishment(policy: PolicyEvaluator) -> None:
    # 成立满1年 on 2021-06-01: established 2020-06-01 qualifies, 2020-06-02 does not
    assert run(policy, established="2020-06-01").eligibility_failures == []
    assert run(policy, established="2020-06-02").eligibility_failures == [
        "未满足：成立时间满1年（成立日期 2020-06-02，至评估日 2021-06-01 未满1年）[第九条]"
    ]


def test_every_input_problem_is_reported_at_once(policy: PolicyEvaluator) -> None:
    with pytest.raises(rt.InputError) as info:
        policy.evaluate(
            {**BASE, "investment": "-5", "center_level": "galactic", "revenue": "abc", "typo": 1},
            DAY,
            strict=True,
        )
    problems = " | ".join(info.value.problems)
    assert "investment" in problems and "negative" in problems
    assert "galactic" in problems and "revenue" in problems and "`typo`: no such fact" in problems


def test_float_money_is_refused(policy: PolicyEvaluator) -> None:
    with pytest.raises(rt.InputError, match="float"):
        policy.evaluate({**BASE, "investment": 0.1}, DAY)


def test_missing_facts_are_named_unless_partial(policy: PolicyEvaluator) -> None:
    with pytest.raises(rt.InputError) as info:
        policy.evaluate({"applicant": "enterprise", "established": "2019-01-01"}, DAY)
    assert any("investment" in p for p in info.value.problems)
    partial = policy.evaluate(
        {"applicant": "enterprise", "established": "2019-01-01", "investment": "150万"}, DAY, partial=True
    )
    assert amount(partial, "benchmark") == (rt.CEILING, Decimal("750000.00"))
    assert partial.measures["center"].status == rt.UNDETERMINED
    assert any("upper_funding" in n for n in partial.measures["center"].needed)
    # ruled out already, whatever the rest: not eligible, never "0元"
    out = policy.evaluate({"applicant": "platform", "established": "2019-01-01"}, DAY, partial=True)
    assert out.measures["benchmark"].status == rt.INELIGIBLE and out.measures["benchmark"].amount is None


def test_explanation_quotes_formulas_and_facts_in_labels(policy: PolicyEvaluator) -> None:
    text = run(policy, investment="150万").explain()
    assert "金额：50% × 项目总投入 = 75万元（项目总投入 = 150万元）" in text  # labels, never the fact's id
    assert "最高 75万元" in text


@pytest.mark.parametrize("interpret", [True, False], ids=["interpreter", "compiled"])
def test_a_forfeited_instalment_asks_for_no_later_stage(interpret: bool) -> None:
    # 003 第十四条: the first instalment fails, so the second is forfeit whatever its completion
    from pathlib import Path

    path = Path(__file__).parent.parent / "policies" / "shenzhen_consulting_diagnosis.policy"
    engine, _ = compile_policy(path, compiled=not interpret)
    assert engine is not None
    facts = {
        "applicant": "enterprise", "registered_in_shenzhen": True, "serves_in_shenzhen": True,
        "selected": True, "fraud_found": False, "prior_fraud": False,
        "committed_enterprises": "100家", "completion_h1": "59%",
    }  # fmt: skip
    day = datetime.date(2023, 3, 1)
    partial = engine.evaluate(facts, day, partial=True).measures["consulting"]
    assert (partial.status, partial.amount, partial.needed) == (rt.DETERMINED, Decimal("0.00"), [])
    # and the complete evaluation does not call the later stage's figure missing
    assert engine.evaluate(facts, day).measures["consulting"].amount == Decimal("0.00")


@pytest.mark.parametrize("interpret", [True, False], ids=["interpreter", "compiled"])
def test_facts_that_contradict_an_assumption_are_an_input_error(interpret: bool) -> None:
    # 004: 各级财政资助总金额 includes the upper-level funding (`assume center_public_funding >=
    # center_upper_funding`); an applicant whose figures say otherwise is not evaluated silently.
    from pathlib import Path

    path = Path(__file__).parent.parent / "policies" / "baoan_industrial_internet.policy"
    engine, _ = compile_policy(path, compiled=not interpret)
    assert engine is not None
    facts = {
        "applicant": "ii_enterprise", "center_level": "national", "center_upper_funding": "1.5亿",
        "center_investment": "10亿", "center_public_funding": "1亿",
    }  # fmt: skip
    with pytest.raises(rt.InputError) as info:
        engine.evaluate(facts, datetime.date(2023, 3, 1), partial=True)
    [problem] = info.value.problems
    assert "各级财政资助总金额包含上级扶持资金" in problem and "center_public_funding" in problem
    # consistent figures, or figures not given (partial), are evaluated as before
    engine.evaluate({**facts, "center_public_funding": "1.5亿"}, datetime.date(2023, 3, 1), partial=True)
    engine.evaluate({"applicant": "ii_enterprise"}, datetime.date(2023, 3, 1), partial=True)


def test_the_fast_path_leaves_a_contradicted_assumption_to_the_full_path() -> None:
    # 001: `assume key_platform implies recognized`; every fact given, typed: the fast path's case
    from pathlib import Path

    path = Path(__file__).parent.parent / "policies" / "shandong_platforms.policy"
    engine, _ = compile_policy(path, compiled=True)
    assert engine is not None
    module: Any = engine.module  # type: ignore[attr-defined]
    facts = dict.fromkeys(module.FACT_KEYS, True)
    day = datetime.date(2020, 6, 1)
    assert module.fast_amounts(facts, day) is not None
    facts["recognized"] = False
    assert module.fast_amounts(facts, day) is None
    with pytest.raises(rt.InputError, match="key_platform implies recognized"):
        engine.evaluate(facts, day)


# ------------------------------------------------------------------------------ example coverage

COVERED = """policy "c" { issued 2024-01-01 }
fact a "a": bool
fact n "n": number
measure m "m" {
  award 10万 if a and n > 3 unless n >= 10 or not a
  award 10万 if a and n > 3 unless n >= 10 or not a
}
example "small" {
  given { a: true, n: 5 }
  expect m = 20万
}
example "no" {
  given { a: false, n: 5 }
  expect m ineligible
}
"""


def test_coverage_is_keyed_by_clause_id_condition_and_atom() -> None:
    """Coverage was keyed by the id() of AST nodes; it is keyed by the plan's clause ids and each
    condition's atoms by position, so the interpreter and `examples.coverage_gaps` share one key."""
    from policydsl.checking.pipeline import check_text
    from policydsl.diagnostics import Sink
    from policydsl.evaluation.examples import coverage_gaps, read_examples, run_examples
    from policydsl.evaluation.interpreter import Coverage
    from policydsl.plan import lower

    sink = Sink()
    checked = check_text("c.policy", COVERED, sink)
    assert checked.model is not None and not sink.has_errors
    seen: Coverage = {}
    assert all(r.passed for r in run_examples(checked.model, COVERED, seen))
    for cid in ("m.1", "m.2"):  # two clauses written alike are counted apart
        assert seen[cid] == {True, False}
        assert seen[(cid, 0, 0)] == {True, False}  # a
        assert seen[(cid, 0, 1)] == {True}  # n > 3, not reached when a is false
        assert seen[(cid, 1, 0)] == {False}  # n >= 10
        assert seen[(cid, 1, 1)] == {True}  # a (under `not`), reached only when n >= 10 is false
    assert len(seen) == 10
    plan = lower(checked.model, COVERED)
    reached, total, gaps = coverage_gaps(plan, read_examples(checked.model, plan, COVERED).sites, seen)
    assert (reached, total) == (2 * (1 + 5), 2 * (1 + 4 * 2))  # a clause counts only applying
    assert [str(g.message) for g in gaps] == [
        f"`{cid}` condition is never {word} in any example"
        for cid in ("m.1", "m.2")
        for word in ("false", "true", "false")
    ]
    line = COVERED.splitlines()[4]
    assert [line[g.span.col - 1 : g.span.col + 6] for g in gaps[:3]] == ["n > 3 u", "n >= 10", "a"]
    assert {g.span.line for g in gaps} == {5, 6}


GROUP_CAP_UNSET = """policy "g" { issued 2024-01-01 }
fact cluster "集群": text
fact x "x": bool
param cluster_cap "集群上限": money = unset
measure m "m" {
  award 10万 if x
  group_cap cluster_cap * 2 per cluster
}
"""


def test_a_group_cap_without_a_value_is_reported_with_its_text(tmp_path: Path) -> None:
    """The batch's group cap is read from the plan; its problem still quotes the amount as written."""
    path = tmp_path / "g.policy"
    path.write_text(GROUP_CAP_UNSET, "utf-8")
    evaluator, sink = compile_policy(path)
    assert evaluator is not None, sink.diagnostics
    with pytest.raises(rt.InputError) as raised:
        evaluator.constraints()
    assert raised.value.problems == ["cluster_cap * 2：参数 集群上限（cluster_cap）原文未给出"]


WHOLE_BLOCKS = """policy "整数倍" {}
fact investment "投资额": money
fact rate "增幅": percent
measure per_block "每满" {
  award 10万 * 每满(investment - 1000万, 100万) cap 100万
}
measure points "每提高一个百分点" {
  award 2万 * blocks(rate - 5%, 1%)
}
measure rounded "向下取整" {
  award round_down(max(investment - 1000万, 0) * 5%, 1万)
}
"""


@pytest.mark.parametrize(
    ("investment", "rate", "blocks", "points", "rounded"),
    [
        # 每增加100万元奖励10万元: 1350万 above 1000万 are 13 whole blocks, 130万 capped at 100万
        ("2350万", "7.5%", "1000000.00", "40000.00", "670000.00"),
        # 不足100万元部分不予奖励: 99.99万 above is no whole block
        ("1099.99万", "5.99%", "0.00", "0.00", "40000.00"),
        ("1100万", "6%", "100000.00", "20000.00", "50000.00"),
        # below the threshold: no block (not a negative count), and max(…, 0) keeps the award at 0
        ("800万", "4%", "0.00", "0.00", "0.00"),
    ],
)
def test_whole_blocks_and_rounding_down(
    tmp_path: Path, investment: str, rate: str, blocks: str, points: str, rounded: str
) -> None:
    path = tmp_path / "whole.policy"
    path.write_text(WHOLE_BLOCKS, encoding="utf-8")
    evaluator, sink = compile_policy(path)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate({"investment": investment, "rate": rate}, DAY)
    for name, expected in (("per_block", blocks), ("points", points), ("rounded", rounded)):
        assert amount(decision, name) == (rt.DETERMINED, Decimal(expected)), name


BRACKETS = """policy "超额累进" {}
fact investment "投资额": money
fact staff "员工数": count 人
measure invest "投资奖励" {
  award progressive investment { 1000万以下: 10%, 超过 1000万 且 不超过 5000万: 5%, 超过 5000万: 2% }
}
measure staffing "用工奖励" {
  award 超额累进 staff { 不超过 100人: 1000元/人, 超过 100人: 500元/人 } + 10万 * blocks(investment, 1000万)
}
"""


@pytest.mark.parametrize(
    ("investment", "staff", "invest", "staffing"),
    [
        # 1000万以下部分按10%, 超过1000万至5000万部分按5%, 超过5000万部分按2%
        ("0", "0", "0.00", "0.00"),
        ("999.99万", "99", "999990.00", "99000.00"),
        ("1000万", "100", "1000000.00", "200000.00"),  # 10万 × 1 block + 100 × 1000元
        ("1000.01万", "101", "1000005.00", "200500.00"),
        ("5000万", "150", "3000000.00", "625000.00"),  # 100万 + 200万; 10万 + 2.5万 + 50万
        ("6000万", "150", "3200000.00", "725000.00"),  # 100万 + 200万 + 20万
    ],
)
def test_progressive_brackets_at_every_boundary(
    tmp_path: Path, investment: str, staff: str, invest: str, staffing: str
) -> None:
    path = tmp_path / "brackets.policy"
    path.write_text(BRACKETS, encoding="utf-8")
    evaluator, sink = compile_policy(path)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate({"investment": investment, "staff": staff}, DAY)
    assert amount(decision, "invest") == (rt.DETERMINED, Decimal(invest))
    assert amount(decision, "staffing") == (rt.DETERMINED, Decimal(staffing))


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreter", "generated"])
def test_explanations_show_each_bracket_band_and_block_count(tmp_path: Path, compiled: bool) -> None:
    path = tmp_path / "brackets.policy"
    path.write_text(
        BRACKETS
        + 'measure tiers "分档" {\n  award band investment { 不满 100万: 5万, 100万 以上: 10万 }\n'
        + "  award round_down(5% * investment, 1万)\n}\n",
        encoding="utf-8",
    )
    evaluator, sink = compile_policy(path, compiled=compiled)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate({"investment": "6000万", "staff": "150"}, DAY, explain=True)
    steps = {name: m.explanation for name, m in decision.measures.items()}
    shown = "1000万元 × 10% = 100万元；4000万元 × 5% = 200万元；1000万元 × 2% = 20万元"
    assert f"超额累进：投资额 = 6000万元，{shown}" in steps["invest"]
    assert (
        "超额累进：员工数 = 150人，100人 × 1000元/人 = 10万元；50人 × 500元/人 = 2.5万元" in steps["staffing"]
    )
    assert "每满 1000万元：投资额 = 6000万元，计 6" in steps["staffing"]
    assert "分档：投资额 = 6000万元，适用「100万以上」" in steps["tiers"]
    assert "按 1万元 向下取整：5% × 投资额 = 300万元，取 300万元" in steps["tiers"]


def test_a_subject_below_zero_charges_no_bracket() -> None:
    rows = [(None, Decimal(10), Decimal("0.1")), (Decimal(10), None, Decimal("0.05"))]
    assert rt.progressive(Decimal(-5), rows) == 0
    assert rt.progressive(Decimal(25), rows) == Decimal("1.75")


SCHEDULES = """policy "逐年" {}
fact started "实现税收日期": date
fact contribution "年度地方财政贡献": money >= 0
measure rate "按年度比例" {
  award schedule started { years 1 until 2: 80%, years 3 until 5: 50% } * contribution cap 5000万
}
measure fixed "逐年定额" {
  award 逐年 started { 第1年: 5万, 第2年: 3万, 第3年: 2万 }
}
measure holed "缺一年" {
  award schedule started { years 1 until 2: 10万, years 4 until 5: 5万 }
}
measure year_of "当年度" {
  award 1万 if year(started) == 2023 and year_no(started) <= 2
}
"""


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreter", "generated"])
@pytest.mark.parametrize(
    ("on", "rate", "fixed", "holed", "year_of"),
    [
        # taxes from 31 December 2023: 2023 is year 1 (自实现税收年度起), that very day included
        (datetime.date(2023, 12, 31), "800000.00", "50000.00", "100000.00", "10000.00"),
        # 1 January 2024 is year 2 already: the count is of calendar years, not of time elapsed
        (datetime.date(2024, 1, 1), "800000.00", "30000.00", "100000.00", "10000.00"),
        # 前2年 80%, 后3年 50%: year 3 begins 1 January 2025
        (datetime.date(2025, 1, 1), "500000.00", "20000.00", None, None),
        # the last year of each schedule, on its last day
        (datetime.date(2027, 12, 31), "500000.00", None, "50000.00", None),
        # the year after: the schedules no longer apply
        (datetime.date(2028, 1, 1), None, None, None, None),
        # before the event's year: year 0, no schedule applies (year_no 0 is still at most 2)
        (datetime.date(2022, 12, 31), None, None, None, "10000.00"),
    ],
)
def test_schedules_by_year_at_every_boundary(
    tmp_path: Path,
    compiled: bool,
    on: datetime.date,
    rate: str | None,
    fixed: str | None,
    holed: str | None,
    year_of: str | None,
) -> None:
    path = tmp_path / "schedules.policy"
    path.write_text(SCHEDULES, encoding="utf-8")
    evaluator, sink = compile_policy(path, compiled=compiled)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate({"started": "2023-12-31", "contribution": "100万"}, on)
    for name, expected in (("rate", rate), ("fixed", fixed), ("year_of", year_of)):
        want = (rt.INELIGIBLE, None) if expected is None else (rt.DETERMINED, Decimal(expected))
        assert amount(decision, name) == want, name
    if on.year == 2023 + 3 - 1:  # year 3, which the holed schedule leaves out: undetermined, said why
        holed_measure = decision.measures["holed"]
        assert holed_measure.status == rt.UNDETERMINED
        assert "逐年表未列出本年度" in " ".join(holed_measure.reasons)
    else:
        want = (rt.INELIGIBLE, None) if holed is None else (rt.DETERMINED, Decimal(holed))
        assert amount(decision, "holed") == want


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreter", "generated"])
def test_a_schedule_explains_the_year_and_the_row(tmp_path: Path, compiled: bool) -> None:
    path = tmp_path / "schedules.policy"
    path.write_text(SCHEDULES, encoding="utf-8")
    evaluator, sink = compile_policy(path, compiled=compiled)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate(
        {"started": "2023-03-01", "contribution": "100万"}, datetime.date(2024, 6, 1), explain=True
    )
    steps = {name: m.explanation for name, m in decision.measures.items()}
    assert "逐年：自实现税收日期当年起第2年，适用「第1至2年：80%」" in steps["rate"]
    assert any("奖励期：自实现税收日期当年起第1至5年" in s for s in steps["rate"])
    assert "逐年：自实现税收日期当年起第2年，适用「第2年：3万」" in steps["fixed"]


def test_year_and_year_no_count_calendar_years() -> None:
    assert rt.calendar_year(datetime.date(2023, 12, 31)) == 2023
    assert rt.year_no(datetime.date(2023, 12, 31), datetime.date(2023, 12, 31)) == 1
    assert rt.year_no(datetime.date(2023, 12, 31), datetime.date(2024, 1, 1)) == 2
    assert rt.year_no(datetime.date(2024, 2, 29), datetime.date(2028, 2, 28)) == 5
    assert rt.year_no(datetime.date(2024, 1, 1), datetime.date(2023, 12, 31)) == 0


# ---------------------------------------------------------------- shared funding limits
SHARED = DATA / "codegen" / "shared_funding.policy"
SHARED_BASE: dict[str, Any] = {
    "investment": "1000万",
    "public_funding": "100万",
    "lab": False,
    "pilot": True,
    "builder": True,
}


@pytest.fixture(scope="module", params=[False, True], ids=["interpreted", "compiled"])
def shared(request: pytest.FixtureRequest) -> PolicyEvaluator:
    evaluator, sink = compile_policy(SHARED, compiled=request.param)
    assert evaluator is not None, sink.diagnostics
    return evaluator


def shared_run(policy: PolicyEvaluator, partial: bool = False, **changes: Any) -> rt.Decision:
    facts = {k: v for k, v in {**SHARED_BASE, **changes}.items() if v is not None}
    return policy.evaluate(facts, DAY, partial=partial)


@pytest.mark.parametrize(
    ("public_funding", "build"),
    [
        # room 50% × 1000万 − F; the pilot's 10万 is paid first, the rest goes to the 300万 award
        ("1900000", (rt.DETERMINED, Decimal("3000000.00"))),  # 10万 + 300万 exactly at the limit
        ("1900000.01", (rt.DETERMINED, Decimal("2999999.99"))),  # one fen over: cut by one fen
        ("1899900", (rt.DETERMINED, Decimal("3000000.00"))),  # below: not cut
        ("4900000", (rt.DETERMINED, Decimal("0.00"))),  # the pilot's 10万 takes the whole room
    ],
)
def test_a_shared_limit_cuts_the_measure_stating_it_first(
    shared: PolicyEvaluator, public_funding: str, build: tuple[str, Decimal]
) -> None:
    decision = shared_run(shared, public_funding=public_funding)
    assert amount(decision, "pilot_grant") == (rt.DETERMINED, Decimal("100000.00"))
    assert amount(decision, "build_grant") == build
    total = decision.measures["build_grant"].amount + decision.measures["pilot_grant"].amount  # type: ignore[operator]
    assert total + Decimal(public_funding) <= Decimal(5000000)
    explained = "\n".join(decision.measures["build_grant"].explanation)
    assert "已计 已获资助" in explained and "试点奖励 10万元" in explained
    assert ("上限起作用" in explained) == (build[1] < Decimal(3000000))


def test_a_shared_limit_cuts_the_counted_measures_from_the_last_written(shared: PolicyEvaluator) -> None:
    # room 500万 − 495万 = 5万 < the pilot's 10万: the pilot is cut to 5万, the build grant to 0
    decision = shared_run(shared, public_funding="495万")
    assert amount(decision, "pilot_grant") == (rt.DETERMINED, Decimal("50000.00"))
    assert amount(decision, "build_grant") == (rt.DETERMINED, Decimal("0.00"))
    assert any(
        "本项至多 5万元（上限起作用）" in line for line in decision.measures["pilot_grant"].explanation
    )


def test_a_ceiling_counted_reserves_its_most(shared: PolicyEvaluator) -> None:
    # room 400万: the lab grant (at most 300万) first, the pilot 10万, the build grant the last 90万
    decision = shared_run(shared, lab=True)
    assert amount(decision, "lab_grant") == (rt.CEILING, Decimal("3000000.00"))
    assert amount(decision, "build_grant") == (rt.DETERMINED, Decimal("900000.00"))
    # the chained limit (60% × 1000万, counting the build grant) leaves the later award whole
    assert amount(decision, "later_grant") == (rt.DETERMINED, Decimal("200000.00"))


def test_an_unknown_amount_counted_leaves_later_members_ceilings(shared: PolicyEvaluator) -> None:
    # investment 2000万: the pilot's amount is unset; room 1000万 − 600万 = 400万 < 500万
    decision = shared_run(shared, investment="2000万", public_funding="600万")
    assert decision.measures["pilot_grant"].status == rt.UNDETERMINED
    assert amount(decision, "build_grant") == (rt.CEILING, Decimal("4000000.00"))
    # not cut, still a ceiling: the pilot may take some of the room
    decision = shared_run(shared, investment="2000万", public_funding="0元")
    assert amount(decision, "build_grant") == (rt.CEILING, Decimal("5000000.00"))


def test_a_shared_limit_binds_only_when_its_measure_applies(shared: PolicyEvaluator) -> None:
    decision = shared_run(shared, builder=False, public_funding="1亿")
    assert amount(decision, "pilot_grant") == (rt.DETERMINED, Decimal("100000.00"))
    # the build grant's applicability unknown: the cut it would make is unknown too
    decision = shared_run(shared, partial=True, builder=None, public_funding="495万")
    assert decision.measures["build_grant"].status == rt.UNDETERMINED
    assert amount(decision, "pilot_grant") == (rt.UNDETERMINED, None)
    # a cut it would not make stands
    decision = shared_run(shared, partial=True, builder=None, public_funding="100万")
    assert amount(decision, "pilot_grant") == (rt.DETERMINED, Decimal("100000.00"))


# ---------------------------------------------------------------- a policy-wide combination rule
COMBINE_ALL = DATA / "codegen" / "combine_all.policy"


@pytest.fixture(scope="module", params=[False, True], ids=["interpreted", "compiled"])
def combine_all(request: pytest.FixtureRequest) -> PolicyEvaluator:
    evaluator, sink = compile_policy(COMBINE_ALL, compiled=request.param)
    assert evaluator is not None, sink.diagnostics
    return evaluator


@pytest.mark.parametrize(
    ("size", "total", "paid"),
    [
        ("6000000", Decimal("700000"), "a、b"),  # a + b (added by the pairwise rule) above c = 60万
        ("7000000", Decimal("700000"), "a、b"),  # a tie: the first set in name order
        ("7000000.10", Decimal("700000.01"), "c"),  # c one fen above a + b
        ("900000", Decimal("90000"), None),  # a and b do not apply: c alone, nothing to choose
    ],
)
def test_a_policy_wide_highest_pays_the_best_set_the_pairwise_rules_add(
    combine_all: PolicyEvaluator, size: str, total: Decimal, paid: str | None
) -> None:
    decision = combine_all.evaluate({"size": size, "extra": False}, DAY)
    assert decision.total.status == rt.DETERMINED
    assert decision.total.amount == total
    chosen = [line for line in decision.total.explanation if line.startswith("就高不重复（全部措施）")]
    assert chosen == ([] if paid is None else [f"就高不重复（全部措施）：只取 {paid}"])


def test_a_policy_wide_highest_with_an_unknown_amount_is_undetermined(combine_all: PolicyEvaluator) -> None:
    decision = combine_all.evaluate({"size": "6000000", "extra": True}, DAY)
    assert decision.total.status == rt.UNDETERMINED and decision.total.amount is None


# ---------------------------------------------------------------- awards under other documents
OTHER_DOCS = (
    'policy "t" {}\nfact office "购置自用办公用房": bool\nfact other_award "已获其他政策同类奖励": money\n'
    'measure cluster "集聚区奖励" { award 30万 if office }\n'
    'measure space "办公用房补助" { award 50万 if office }\n'
    "combine highest { all }\n"
    "total_cap 45万 over { cluster, space }\n"
    'combine highest against other_award { all } "与其他政策同类奖励按就高不重复原则执行"\n'
)


@pytest.fixture(scope="module", params=[False, True], ids=["interpreted", "compiled"])
def other_docs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PolicyEvaluator:
    path = tmp_path_factory.mktemp("other") / "other.policy"
    path.write_text(OTHER_DOCS, encoding="utf-8")
    evaluator, sink = compile_policy(path, compiled=request.param)
    assert evaluator is not None, sink.diagnostics
    return evaluator


@pytest.mark.parametrize(
    ("received", "total"),
    [
        # own award: the higher of 30万 and 50万 (就高 among the measures), capped at 45万
        ("0元", "450000.00"),
        ("20万", "250000.00"),  # below: this policy tops up to 45万
        ("449999.99元", "0.01"),  # one fen below: one fen
        ("45万", "0.00"),  # equal: nothing more
        ("450000.01元", "0.00"),  # one fen above: nothing, never negative
        ("100万", "0.00"),  # above
    ],
)
def test_highest_against_other_documents_tops_up_to_the_higher_award(
    other_docs: PolicyEvaluator, received: str, total: str
) -> None:
    d = other_docs.evaluate({"office": True, "other_award": received}, DAY)
    assert (d.total.status, d.total.amount) == (rt.DETERMINED, Decimal(total))
    # the measures keep their own amounts; the total says what this policy adds
    assert d.measures["space"].amount == Decimal("500000.00")
    (line,) = [line for line in d.total.explanation if "与其他政策同类奖励按就高不重复" in line]
    figure = Decimal(received.rstrip("元万")) * (10000 if received.endswith("万") else 1)
    assert f"已获其他政策同类奖励 {rt.yuan(figure)}" in line
    assert "本政策集聚区奖励、办公用房补助计 45万元" in line and "space" not in line


def test_an_award_elsewhere_not_given_leaves_the_total_a_ceiling(other_docs: PolicyEvaluator) -> None:
    d = other_docs.evaluate({"office": True}, DAY, partial=True)
    assert (d.total.status, d.total.amount) == (rt.CEILING, Decimal("450000.00"))
    assert d.total.needed == ["other_award"]
    assert any("未提供已获其他政策同类奖励" in r for r in d.total.reasons)
    with pytest.raises(rt.InputError, match="missing fact other_award"):
        other_docs.evaluate({"office": True}, DAY)


def test_an_award_elsewhere_is_not_needed_when_nothing_is_paid(other_docs: PolicyEvaluator) -> None:
    d = other_docs.evaluate({"office": False}, DAY)
    assert d.total.status == rt.INELIGIBLE and d.total.needed == []


@pytest.mark.parametrize(("received", "total"), [("0元", "450000.00"), ("0.01元", "0.00"), ("100万", "0.00")])
def test_exclusive_against_other_documents_pays_nothing_when_one_was_received(
    received: str, total: str, tmp_path: Path
) -> None:
    path = tmp_path / "exclusive.policy"
    path.write_text(OTHER_DOCS.replace("highest against", "exclusive against"), encoding="utf-8")
    for compiled in (False, True):
        evaluator, sink = compile_policy(path, compiled=compiled)
        assert evaluator is not None, sink.diagnostics
        d = evaluator.evaluate({"office": True, "other_award": received}, DAY)
        assert (d.total.status, d.total.amount) == (rt.DETERMINED, Decimal(total))
