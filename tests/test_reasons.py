"""Why a measure is not granted, in the reader's words: the condition that failed, the fact values
that decided it and the article, never an identifier of the policy (issue 16, item 2)."""

from __future__ import annotations

import csv
import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import policydsl
from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.commands.cli import main
from policydsl.evaluation import runtime as rt
from tests.conftest import POLICIES
from tests.test_policies import SAMPLE_DATES

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
    """The facts', measures', clauses' and enum values' identifiers (a parameter left unset is named
    by its label and, for --params, its identifier: not counted)."""
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


def _said(decision: rt.Decision) -> list[str]:
    """Every sentence a reader of the decision sees: reasons, explanations, the JSON conditions."""
    said = [*decision.eligibility_failures, *decision.total.reasons, *decision.total.explanation]
    for m in decision.measures.values():
        said += [*m.reasons, *m.explanation]
        for c in m.checks:
            said += [c["label"], c["text"], *c["facts"]]
    return said


def _named(texts: list[str], ids: set[str]) -> list[tuple[str, set[str]]]:
    return [(t, w) for t in texts if (w := set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", t)) & ids)]


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_no_reason_names_an_identifier(path: Path) -> None:
    # on the sample's own date (inside the validity, so that every measure's conditions are reached)
    interpreted, compiled = _both(path.stem)
    ids = _identifiers(interpreted)
    day = SAMPLE_DATES[path.stem] or DAY
    checked = 0
    for facts in _variants(_sample(path.stem)):
        for evaluator in (interpreted, compiled):
            try:
                decision = evaluator.evaluate(facts, day, partial=True)
            except rt.InputError:
                continue
            assert not _named(_said(decision), ids)
            checked += 1
    assert checked


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_no_batch_reason_names_an_identifier(path: Path, tmp_path: Path) -> None:
    interpreted, _ = _both(path.stem)
    out = tmp_path / "out.csv"
    day = SAMPLE_DATES[path.stem]
    args = ["eval", str(path), "--batch", str(SAMPLES / f"{path.stem}.csv"), "-o", str(out)]
    CliRunner().invoke(main, [*args, *(["--date", day.isoformat()] if day else [])])
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    reasons = [v for row in rows for k, v in row.items() if k.endswith(".reasons") and v]
    assert reasons
    assert not _named(reasons, _identifiers(interpreted))
    assert not [r for r in reasons if r.startswith("适用主体为")]  # a failure, not the gate's label


def _conditions(name: str, facts: dict[str, Any], date: datetime.date, measure: str) -> list[dict[str, Any]]:
    """A measure's `conditions` in the JSON of both back ends, which must agree."""
    decision = _decide(name, facts, date)
    [data] = [m for m in decision.to_dict()["measures"] if m["measure"] == measure]
    return data["conditions"]  # type: ignore[no-any-return]


def test_json_conditions_name_the_requirement_that_failed() -> None:
    # Jiangmen's sample is a cluster project: the benchmark and cloud measures fail on the project type
    facts, day = _sample("jiangmen_special_fund"), datetime.date(2022, 6, 1)
    benchmark = _conditions("jiangmen_special_fund", facts, day, "benchmark")
    assert benchmark[2] == {
        "label": "成立时间满1年",
        "article": "第九条(一)",
        "value": True,
        "facts": {"成立日期": "2019-03-01"},
        "text": "满足：成立时间满1年（成立日期：2019-03-01）[第九条(一)]",
    }
    assert benchmark[-1] == {
        "label": "打造工业互联网标杆示范项目",
        "article": "第七条(一)",
        "value": False,
        "facts": {"申报项目类型": "产业集群试点"},
        "text": "未满足：打造工业互联网标杆示范项目（申报项目类型：产业集群试点）[第七条(一)]",
    }
    assert len(benchmark) == 8  # the seven shared requirements, then the measure's own
    cloud = _conditions("jiangmen_special_fund", facts, day, "cloud")
    assert cloud[7:] == [
        {
            "label": "中小企业上云上平台",
            "article": "第七条(二)",
            "value": False,
            "facts": {"申报项目类型": "产业集群试点"},
            "text": "未满足：中小企业上云上平台（申报项目类型：产业集群试点）[第七条(二)]",
        },
        {
            "label": "中小企业",
            "article": "第七条(二)",
            "value": None,
            "facts": {"中小企业": None},
            "text": "尚无法判断：中小企业（缺少：中小企业）",
        },
    ]
    # the measure it pays: its requirements hold, then its clause's conditions are listed too
    pilot = _conditions("jiangmen_special_fund", facts, day, "cluster_pilot")
    assert [c["value"] for c in pilot] == [True] * len(pilot)
    assert pilot[-1]["text"] == "满足：“5+N”产业集群工业企业（实际：是）[第七条(三)]"


def test_json_conditions_stop_at_a_failed_shared_requirement() -> None:
    facts, day = _sample("jiangmen_special_fund", other_public_funding=True), datetime.date(2022, 6, 1)
    conditions = _conditions("jiangmen_special_fund", facts, day, "cluster_pilot")
    assert [c["value"] for c in conditions] == [True, True, True, False, True, True, True]
    assert conditions[3]["text"] == decision_reason(facts, day)


def decision_reason(facts: dict[str, Any], day: datetime.date) -> str:
    return _decide("jiangmen_special_fund", facts, day).eligibility_failures[0]


def test_json_conditions_only_when_explained() -> None:
    interpreted, compiled = _both("jiangmen_special_fund")
    for evaluator in (interpreted, compiled):
        decision = evaluator.evaluate(
            _sample("jiangmen_special_fund"), datetime.date(2022, 6, 1), explain=False
        )
        assert all(m["conditions"] == [] for m in decision.to_dict()["measures"])
