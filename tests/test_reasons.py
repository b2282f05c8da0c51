"""Why a measure is not granted, in the reader's words: the condition that failed, the fact values
that decided it and the article, never an identifier of the policy (issue 16, item 2)."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest

import policydsl
from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.evaluation import runtime as rt
from tests.conftest import POLICIES

SAMPLES = POLICIES / "samples"
DAY = datetime.date(2024, 1, 1)


def _sample(name: str, **changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return {**facts, **changes}


def _both(name: str) -> tuple[PolicyEvaluator, PolicyEvaluator]:
    interpreted, _ = compile_policy(POLICIES / f"{name}.policy", compiled=False)
    assert interpreted is not None
    return interpreted, policydsl.load(POLICIES / f"{name}.policy")


def _decide(name: str, facts: dict[str, Any], date: datetime.date = DAY) -> rt.Decision:
    """The decision of both back ends, which must agree word for word."""
    interpreted, compiled = _both(name)
    reference = interpreted.evaluate(facts, date, partial=True)
    decision = compiled.evaluate(facts, date, partial=True)
    assert decision.to_dict() == reference.to_dict()
    assert decision.explain() == reference.explain()
    return reference


def test_a_funded_project_is_told_it_was_funded() -> None:
    # J5: 申报项目未获得过其他财政资金支持, for an applicant whose project was funded
    decision = _decide("jiangmen_special_fund", _sample("jiangmen_special_fund", other_public_funding=True))
    reason = "未满足：申报项目未获得过其他财政资金支持（申报项目已获得过其他财政资金支持：是）[第九条(二)]"
    assert decision.eligibility_failures == [reason]
    assert decision.measures["benchmark"].reasons == [reason]
    assert decision.to_dict()["measures"][0]["reasons"] == [reason]
    text = decision.explain()
    assert "不符合申报条件：申报项目未获得过其他财政资金支持（申报项目已获得过其他财政资金支持：是）" in text
    assert f"    原因：{reason}" in text


def test_a_requirement_names_the_value_that_failed_it() -> None:
    # the benchmark requirement of Jiangmen, for a cluster project: not "because it built a benchmark"
    decision = _decide("jiangmen_special_fund", _sample("jiangmen_special_fund"))
    assert decision.measures["benchmark"].reasons == [
        "未满足：打造工业互联网标杆示范项目（申报项目类型：产业集群试点）[第七条(一)]"
    ]


def test_time_since_a_date_reads_as_the_statute_does() -> None:
    decision = _decide(
        "jiangmen_special_fund",
        _sample("jiangmen_special_fund", established="2020-05-17"),
        datetime.date(2021, 5, 16),
    )
    assert decision.eligibility_failures == [
        "未满足：成立时间满1年（成立日期 2020-05-17，至评估日 2021-05-16 未满1年）[第九条(一)]"
    ]


def test_a_clause_that_fails_says_which_comparison_failed() -> None:
    # Bao'an 三(二)2: 年度新增注册量超过2000万条 and 月均解析量超过100万次; exactly 2000万条 is not over
    facts = _sample(
        "baoan_industrial_internet",
        applicant="ii_enterprise",
        in_district=True,
        node_operator=True,
        node_new_registrations="2000万",
        node_monthly_resolutions="200万",
    )
    reasons = _decide("baoan_industrial_internet", facts).measures["node_operation"].reasons
    assert reasons == [
        "未满足任何给予条件：年度新增注册量 超过 2000万条 且 月均解析量（二级节点） 超过 100万次"
        "（年度新增注册量 2000万条，未超过2000万条）[三(二)2]"
    ]
    assert not any(re.search(r"node_operation\.\d", r) for r in reasons)


def test_a_total_names_measures_by_their_labels() -> None:
    total = _decide("baoan_industrial_internet", _sample("baoan_industrial_internet")).total
    assert total.reasons and "标准" in total.reasons[0]
    assert "financing" not in total.reasons[0]


def _identifiers(evaluator: PolicyEvaluator) -> set[str]:
    plan = evaluator.interpreter.plan
    ids = set(plan.facts) | {m.name for m in plan.measures}
    ids |= {c.id for m in plan.measures for c in m.clauses}
    ids |= {member for spec in plan.facts.values() for member, _ in spec.members}
    return {i for i in ids if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", i) and len(i) > 2}


def _variants(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample, and the sample with each yes/no fact turned round."""
    out = [facts]
    out += [{**facts, k: not v} for k, v in facts.items() if isinstance(v, bool)]
    return out


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_no_reason_names_an_identifier(path: Path) -> None:
    interpreted, compiled = _both(path.stem)
    ids = _identifiers(interpreted)
    for facts in _variants(_sample(path.stem)):
        for evaluator in (interpreted, compiled):
            try:
                decision = evaluator.evaluate(facts, DAY, partial=True)
            except rt.InputError:
                continue
            said = [*decision.eligibility_failures, *decision.total.reasons, *decision.total.explanation]
            said += [r for m in decision.measures.values() for r in m.reasons]
            for text in said:
                words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text))
                assert not words & ids, (text, words & ids)
