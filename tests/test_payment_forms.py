"""Payment forms: the vocabulary, and every decision saying how each measure pays and when the total
counts an award that is not money (interpreter, compiled evaluator, batch)."""

from __future__ import annotations

import csv
import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import run_batch
from policydsl.syntax.keywords import PAYMENT_FORMS

POLICY = """policy "示例" {}
fact investment "项目总投入": money >= 0
fact trained "培训人数": count 人 >= 0
measure service "标杆示范" cite "第四条" {
  pays purchase_of_service
  award ceiling 50% * investment cap 100万
}
measure prize "人才培养奖励" {
  pays 奖励
  award 10万 if trained >= 500人
}
measure bond "消费券" {
  pays voucher, cash
  award 1万 if investment > 1000万
}
combine added { service, prize, bond } "可叠加"
"""
NOTE = "合计按面值计入非现金支付形式的金额：标杆示范（购买服务）；这些金额不以现金发放"


@pytest.fixture(scope="module", params=["interpreted", "compiled"])
def policy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PolicyEvaluator:
    path = tmp_path_factory.mktemp("forms") / "forms.policy"
    path.write_text(POLICY, encoding="utf-8")
    evaluator, sink = compile_policy(path, compiled=request.param == "compiled")
    assert evaluator is not None, [d.message for d in sink.diagnostics]
    return evaluator


def test_the_vocabulary_has_the_forms_real_texts_use() -> None:
    for zh, en in [("购买服务", "purchase_of_service"), ("贴息", "interest_subsidy"), ("股权投入", "equity"),
                   ("消费券", "voucher"), ("奖励", "reward"), ("补助", "subsidy")]:  # fmt: skip
        assert PAYMENT_FORMS[zh] == en and PAYMENT_FORMS[en] == en


def test_the_total_says_when_it_counts_a_purchased_service(policy: PolicyEvaluator) -> None:
    decision = policy.evaluate({"investment": "40万", "trained": 600}, datetime.date(2024, 1, 1))
    # 50% × 40万 = 20万 as a service bought for the applicant, plus a 10万 reward in money
    assert (decision.total.status, decision.total.amount) == (rt.CEILING, Decimal("300000.00"))
    assert [m.forms for m in decision.measures.values()] == [
        ("purchase_of_service",),
        ("reward",),
        ("voucher", "cash"),
    ]
    assert decision.to_dict()["payment_forms_note"] == NOTE
    text = decision.explain()
    assert "    支付方式：购买服务" in text and "    支付方式：奖励" in text
    assert "支付方式：消费券" not in text  # the voucher measure is ineligible: its form is not shown
    assert text.endswith("    注意：" + NOTE)


def test_no_note_when_every_paying_measure_pays_money(policy: PolicyEvaluator) -> None:
    # the service measure pays 0 (no investment) and the voucher one is ineligible: only money is paid
    decision = policy.evaluate({"investment": "0元", "trained": 600}, datetime.date(2024, 1, 1))
    assert decision.to_dict()["payment_forms_note"] is None
    assert "注意：" not in decision.explain()


def test_batch_output_has_a_form_column_and_the_note(policy: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [{"id": "a", "investment": "40万", "trained": 0}, {"id": "b", "investment": "0元", "trained": 600}]
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    target = tmp_path / "out.csv"
    run_batch(policy, policy.measures, source, target, None, policy.constraints())
    with target.open(encoding="utf-8-sig") as handle:
        out = list(csv.DictReader(handle))
    assert [(r["service.form"], r["prize.form"], r["bond.form"]) for r in out] == [
        ("购买服务", "奖励", "消费券、现金"),
    ] * 2
    assert [r["payment_forms_note"] for r in out] == [NOTE, ""]
