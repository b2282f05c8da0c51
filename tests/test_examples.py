"""Examples read from policy files: bases, parameters set by an example, and what is run."""

from __future__ import annotations

import datetime

from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation.examples import read_examples, run_examples
from policydsl.plan.lower import lower

POLICY = """policy "示例" { valid from 2021-01-01 until 2025-12-31 }
fact revenue "营业收入": money >= 0
fact staff "职工人数": count 人 >= 0
param rate "奖励比例": percent {
  from 2021-01-01 = 10%
  from 2023-01-01 = 5%
}
measure m "营收奖励" { award rate * revenue cap 50万 if staff >= 10人 }
base_applicant "典型企业" on 2022-06-01 {
  given { revenue: 100万, staff: 20 }
}
example "典型" from "典型企业" {
  expect m = 10万
}
example "人少" from "典型" {
  given { staff: 9 }
  expect m ineligible
}
example "新比例" from "典型" on 2023-06-01 {
  expect m = 5万
}
example "设定比例" from "新比例" {
  given { revenue: 200万 }
  with { rate: 40% }
  expect m = 50万
}
example "设定比例之后" from "设定比例" {
  given { revenue: 100万 }
  expect m = 40万
}
"""


def _checked(text: str) -> Model:
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return checked.model


def test_an_example_takes_its_bases_facts_day_and_parameters() -> None:
    model = _checked(POLICY)
    plan = lower(model, POLICY)
    cases = {c.name: c for c in read_examples(model, plan, POLICY).cases}
    # the base block lends its facts and is not run
    assert list(cases) == ["典型", "人少", "新比例", "设定比例", "设定比例之后"]
    assert [(g.fact, g.text) for g in cases["典型"].given] == [("revenue", "100万"), ("staff", "20")]
    # a fact given again takes the base's place, where the base wrote it
    assert [(g.fact, g.text) for g in cases["人少"].given] == [("revenue", "100万"), ("staff", "9")]
    assert cases["人少"].day == datetime.date(2022, 6, 1)  # the base's day
    assert cases["新比例"].day == datetime.date(2023, 6, 1)  # its own
    assert cases["设定比例之后"].day == datetime.date(2023, 6, 1)  # two bases down
    assert [(p.fact, p.text) for p in cases["设定比例之后"].params] == [("rate", "40%")]


def test_examples_from_a_base_pass_with_hand_computed_amounts() -> None:
    model = _checked(POLICY)
    results = run_examples(model, POLICY)
    # 10% × 100万 = 10万 in 2022; 9 staff are under 10; 5% × 100万 = 5万 from 2023; a rate set
    # to 40% gives 80万 capped at 50万 for 200万, and 40万 for 100万 in the example that extends it
    assert [(r.example.name, r.failures) for r in results] == [
        ("典型", ()),
        ("人少", ()),
        ("新比例", ()),
        ("设定比例", ()),
        ("设定比例之后", ()),
    ]


def test_a_wrong_expectation_in_an_extending_example_still_fails() -> None:
    text = POLICY.replace("expect m = 40万", "expect m = 20万")
    results = run_examples(_checked(text), text)
    failed = [(r.example.name, [f.render("en") for f in r.failures]) for r in results if not r.passed]
    assert failed == [("设定比例之后", ["m: expected = 20万元, got 确定金额 40万元"])]
