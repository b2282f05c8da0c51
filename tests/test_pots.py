"""Pots shared by the applicants of measures, and expected populations against budgets and pots."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from policydsl.analysis.run import analyse
from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import run_batch
from tests.conftest import POLICIES

D = Decimal
JIANGMEN = POLICIES / "jiangmen_special_fund.policy"
CONSULTING = POLICIES / "shenzhen_consulting_diagnosis.policy"
TALENT = {
    "registered_in_jiangmen": True,
    "independent_legal_person": True,
    "established": "2020-01-01",
    "other_public_funding": False,
    "funded_projects_compliant": True,
    "good_credit": True,
    "no_major_accident": True,
    "project": "talent",
    "training_sessions": 10,
    "trainees": 500,
}
DAY = datetime.date(2022, 6, 1)


POT_POLICY = """
policy "池" {{ issuer "测试" issued 2022-01-01 }}
fact score "得分": number
fact x "投入": money >= 0
measure a "甲" {{ award 60万 }}
measure b "乙" {{ award ceiling 50% * x }}
pot p "年度资金" 100万 each_year over {{ a, b }} {rule}
"""


def evaluators(path: Path) -> list[PolicyEvaluator]:
    out = []
    for compiled in (False, True):
        evaluator, sink = compile_policy(path, compiled=compiled)
        assert evaluator is not None, [d.message for d in sink.diagnostics]
        out.append(evaluator)
    return out


def batch(evaluator: PolicyEvaluator, rows: list[dict[str, object]], tmp_path: Path) -> list[dict[str, str]]:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run_batch(evaluator, evaluator.measures, source, target, DAY, evaluator.constraints())
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------- Jiangmen 第八条(四)
@pytest.mark.parametrize("which", ["interpreter", "compiled"])
def test_three_talent_providers_do_not_get_300wan_between_them(which: str, tmp_path: Path) -> None:
    evaluator = evaluators(JIANGMEN)[which == "compiled"]
    rows = [{"id": name, **TALENT} for name in "abc"]
    out = batch(evaluator, rows, tmp_path)
    # 3 × 100万 claimed from one yearly pot of 100万 with no allocation rule: every share undetermined,
    # at most the pot; nothing is paid as a determined 100万
    assert [r["talent.status"] for r in out] == [rt.UNDETERMINED] * 3
    assert [D(r["talent.amount"]) for r in out] == [D(1000000)] * 3
    assert all("份额未定" in r["talent.reasons"] for r in out)
    assert all(r["total_status"] != rt.DETERMINED for r in out)


@pytest.mark.parametrize("which", ["interpreter", "compiled"])
def test_one_talent_provider_alone_is_promised_at_most_the_pot(which: str, tmp_path: Path) -> None:
    evaluator = evaluators(JIANGMEN)[which == "compiled"]
    decision = evaluator.evaluate(TALENT, DAY)
    talent = decision.measures["talent"]
    assert (talent.status, talent.amount) == (rt.CEILING, D(1000000))
    assert talent.claim == (rt.DETERMINED, D(1000000))
    assert decision.total.status == rt.CEILING
    assert any("资金池 100万元" in step and "本申请人最多 100万元" in step for step in talent.explanation)
    assert decision.to_dict()["measures"][3]["pot"] == {
        "name": "talent_training",
        "claim_status": rt.DETERMINED,
        "claim": "1000000.00",
    }
    # a batch of one: the pot suffices, and the provider is paid its figure in full
    out = batch(evaluator, [{"id": "a", **TALENT}], tmp_path)
    assert (out[0]["talent.status"], D(out[0]["talent.amount"])) == (rt.DETERMINED, D(1000000))


def test_fast_path_gives_the_pot_ceiling(tmp_path: Path) -> None:
    path = tmp_path / "pot.policy"
    path.write_text(POT_POLICY.format(rule="allocate unset"), encoding="utf-8")
    interpreted, compiled = evaluators(path)
    facts = {"score": 1, "x": D(2000000)}
    fast = compiled.evaluate(facts, DAY)
    assert fast.path == "fast"
    assert fast.amounts == {"a": (rt.CEILING, D(600000)), "b": (rt.CEILING, D(1000000))}
    assert fast == interpreted.evaluate(facts, DAY)


# ---------------------------------------------------------------- sharing a pot, by hand
HEAD = "资金池"


def claims(*amounts: str | None, ranks: tuple[int | None, ...] = ()) -> list[rt.Claim]:
    return [
        (
            row,
            "m",
            rt.DETERMINED,
            None if a is None else D(a),
            D(ranks[row - 1]) if ranks and ranks[row - 1] is not None else None,
        )
        for row, a in enumerate(amounts, 1)
    ]


def shares(
    result: dict[tuple[int, str], tuple[str, Decimal | None, str]],
) -> list[tuple[str, Decimal | None]]:
    return [(status, amount) for (_, _), (status, amount, _) in sorted(result.items())]


def test_claims_that_fit_are_paid_in_full() -> None:
    # 40万 + 60万 = 100万: exactly the pot
    got = rt.share_pot(D(1000000), claims("400000", "600000"), "unset", D("0.01"), HEAD)
    assert shares(got) == [(rt.DETERMINED, D(400000)), (rt.DETERMINED, D(600000))]


def test_proportional_largest_remainder_to_the_fen() -> None:
    # 3 × 100万 over 100万: 333333.333… each; 333333.33 × 3 = 999999.99, the fen left goes to the
    # first of the equal remainders (the earliest row)
    got = rt.share_pot(D(1000000), claims("1000000", "1000000", "1000000"), "proportional", D("0.01"), HEAD)
    assert shares(got) == [
        (rt.DETERMINED, D("333333.34")),
        (rt.DETERMINED, D("333333.33")),
        (rt.DETERMINED, D("333333.33")),
    ]
    assert sum(a or 0 for _, a in shares(got)) == D(1000000)


def test_proportional_largest_remainder_goes_to_the_largest_fraction() -> None:
    # claims 1, 2, 4 (yuan) over a pot of 5 yuan, to the yuan: 5/7, 10/7, 20/7 = 0.714, 1.428, 2.857;
    # floors 0, 1, 2 (3 yuan); 2 yuan left: to remainders .714 (row 1) and .857 (row 3)
    got = rt.share_pot(D(5), claims("1", "2", "4"), "proportional", D(1), HEAD)
    assert shares(got) == [(rt.DETERMINED, D(1)), (rt.DETERMINED, D(1)), (rt.DETERMINED, D(3))]


def test_one_fen_over_the_pot_is_shared() -> None:
    got = rt.share_pot(D("100.00"), claims("50.00", "50.01"), "proportional", D("0.01"), HEAD)
    # 50 × 100 / 100.01 = 49.995…, 50.01 × 100 / 100.01 = 50.004…; floors 49.99 + 50.00, 0.01 left to
    # the larger remainder (row 1: .5 of a fen against .0 of row 2)
    assert shares(got) == [(rt.DETERMINED, D("50.00")), (rt.DETERMINED, D("50.00"))]


def test_ranked_pays_in_rank_order_and_the_boundary_gets_the_rest() -> None:
    got = rt.share_pot(
        D(1000000), claims("600000", "600000", "600000", ranks=(1, 3, 2)), "ranked", D("0.01"), HEAD
    )
    assert shares(got) == [(rt.INELIGIBLE, None), (rt.DETERMINED, D(600000)), (rt.DETERMINED, D(400000))]


def test_ranked_ties_and_unknown_ranks_go_by_row() -> None:
    got = rt.share_pot(D(100), claims("100", "100", "100", ranks=(5, None, 5)), "ranked", D(1), HEAD)
    assert shares(got) == [(rt.DETERMINED, D(100)), (rt.INELIGIBLE, None), (rt.INELIGIBLE, None)]


def test_first_come_pays_in_the_batch_order() -> None:
    got = rt.share_pot(D(100), claims("70", "70", "70"), "first_come", D(1), HEAD)
    assert shares(got) == [(rt.DETERMINED, D(70)), (rt.DETERMINED, D(30)), (rt.INELIGIBLE, None)]


def test_an_undetermined_claim_leaves_every_share_undetermined() -> None:
    got = rt.share_pot(D(100), claims("10", None), "proportional", D(1), HEAD)
    assert shares(got) == [(rt.UNDETERMINED, D(10)), (rt.UNDETERMINED, D(100))]


@pytest.mark.parametrize("compiled", [False, True])
def test_a_pot_over_two_measures_bounds_one_applicant_and_a_batch(compiled: bool, tmp_path: Path) -> None:
    path = tmp_path / "pot.policy"
    path.write_text(POT_POLICY.format(rule="allocate ranked by score"), encoding="utf-8")
    evaluator, sink = compile_policy(path, compiled=compiled)
    assert evaluator is not None, [d.message for d in sink.diagnostics]
    one = evaluator.evaluate({"score": 1, "x": "200万"})
    # 60万 + min(100万, 100万): each at most the pot, and together at most the pot
    assert one.amounts == {"a": (rt.CEILING, D(600000)), "b": (rt.CEILING, D(1000000))}
    assert (one.total.status, one.total.amount) == (rt.CEILING, D(1000000))
    rows = [{"id": "x", "score": 1, "x": "10万"}, {"id": "y", "score": 2, "x": "10万"}]
    out = batch(evaluator, rows, tmp_path)
    # claims: x 60万 + 5万, y 60万 + 5万 = 130万 over 100万; y ranks first: 60万, 5万; then x: 35万 of
    # 60万, and nothing of its 5万
    assert [(r["a.status"], r["a.amount"], r["b.status"], r["b.amount"]) for r in out] == [
        (rt.DETERMINED, "350000.00", rt.INELIGIBLE, None),
        (rt.DETERMINED, "600000.00", rt.CEILING, "50000.00"),
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("allocate ranked", "a pot allocated `ranked` needs the figure it ranks by"),
        ("allocate proportional by score", "`by` ranks the applicants of a pot allocated `ranked`"),
        ("allocate lottery", "unknown allocation rule `lottery`"),
        ("allocate ranked by score > 1", "a ranking must be a number or an amount"),
    ],
)
def test_pot_allocation_errors(rule: str, message: str) -> None:
    sink = Sink()
    check_text("pot.policy", POT_POLICY.format(rule=rule), sink)
    assert any(message in d.message for d in sink.diagnostics), [d.message for d in sink.diagnostics]


def test_a_pot_is_one_figure_and_a_measure_draws_on_one_pot() -> None:
    text = POT_POLICY.format(rule="") + 'pot q "另一" 1万 * x over { a }\n'
    sink = Sink()
    check_text("pot.policy", text, sink)
    messages = [d.message for d in sink.diagnostics]
    assert any("a pot is one sum shared by its applicants" in m for m in messages), messages
    assert any("`a` is already shared from the pot `p`" in m for m in messages), messages


# ---------------------------------------------------------------- P610: populations against budgets
def findings(text: str) -> list[str]:
    sink = Sink()
    checked = check_text("policy.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return [f"{f.code}: {f.message}" for f in analyse(checked.model, text).findings]


def test_consulting_budget_of_1wan_is_passed_by_2000_enterprises() -> None:
    text = CONSULTING.read_text(encoding="utf-8")
    assert "budget 1亿 cite" in text
    bundled = [f for f in findings(text) if f.startswith("P610")]
    assert bundled == []
    shrunk = [f for f in findings(text.replace("budget 1亿 cite", "budget 1万 cite")) if f.startswith("P610")]
    assert len(shrunk) == 1
    assert "约 2000家 × 5万元/家 = 1亿元，超过预算 1万元" in shrunk[0]


def test_budget_at_the_boundary() -> None:
    base = """
policy "p" {{ issuer "测试" issued 2022-01-01 }}
fact n "家数": count 家 >= 0
measure m "甲" {{
  award 5万 if n 达到 1家
  budget {budget}
  expects 2000 recipients
}}
"""
    assert not [f for f in findings(base.format(budget="1亿")) if f.startswith("P610")]
    over = [f for f in findings(base.format(budget="99999999.99元")) if f.startswith("P610")]
    assert len(over) == 1 and "2000家 × 5万元 = 1亿元，超过预算 99999999.99元" in over[0]


def test_pot_over_two_measures_with_quota_and_population() -> None:
    text = """
policy "p" { issuer "测试" issued 2022-01-01 }
measure a "甲" { award 10万 quota 5 }
measure b "乙" { award 20万 expects about 3 recipients }
pot p "年度资金" 100万 over { a, b } allocate proportional
"""
    got = [f for f in findings(text) if f.startswith("P610")]
    # 5 × 10万 + 3 × 20万 = 110万 > 100万
    assert len(got) == 1 and "5家 × 10万元 + 约 3家 × 20万元 = 110万元，超过资金池 年度资金 100万元" in got[0]


def test_an_expected_number_counting_a_fact_of_an_unknown_type_reports_the_type_only() -> None:
    text = """
policy "p" { issuer "测试" issued 2022-01-01 }
fact n "家数": tally 家 >= 0
measure m "甲" {
  award 5万/家 * n
  expects about 2000家 counting n
}
"""
    sink = Sink()
    check_text("policy.policy", text, sink)
    assert [d.code for d in sink.diagnostics] == ["E103"], [d.message for d in sink.diagnostics]
