"""A schedule by year evaluated outside its award years: the reason names the applicant's year and
the award years (第4年，奖励期为第1至3年), with the date that decided it, in every back end."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from policydsl.api import compile_policy
from policydsl.evaluation import runtime as rt

POLICY = """policy "逐年" { issued 2021-01-01 }
fact admitted "纳入统计口径日期": date
fact staff "职工人数": count 人 >= 0人
measure upgrade "入统奖励" cite "第14条" {
  award 逐年 admitted { 第1年: 5万, 第2年: 3万, 第3年: 2万 } if staff 达到 10人
}
"""


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("2024-06-01", "纳入统计口径日期 2021-03-01，评估日 2024-06-01 为第4年，奖励期为第1至3年"),
        (
            "2020-06-01",
            "纳入统计口径日期 2021-03-01，评估日 2020-06-01 早于纳入统计口径日期当年，奖励期为第1至3年",
        ),
    ],
)
def test_a_year_outside_the_schedule_says_which_year_and_the_award_years(
    tmp_path: Path, compiled: bool, day: str, said: str
) -> None:
    path = tmp_path / "schedule.policy"
    path.write_text(POLICY, encoding="utf-8")
    evaluator, _ = compile_policy(path, compiled=compiled)
    assert evaluator is not None
    facts = {"admitted": "2021-03-01", "staff": 20}
    result = evaluator.evaluate(facts, datetime.date.fromisoformat(day)).measures["upgrade"]
    assert result.status == rt.INELIGIBLE
    assert any(said in reason for reason in result.reasons), result.reasons
    (condition,) = [c for c in result.checks if c["value"] is False]
    assert condition["label"] == "奖励期：自纳入统计口径日期当年起第1至3年"
    assert condition["facts"] == {"纳入统计口径日期": "2021-03-01"}
    assert said in condition["text"]
    # within the years the condition holds and the row's figure is paid
    inside = evaluator.evaluate(facts, datetime.date(2022, 6, 1)).measures["upgrade"]
    assert inside.amount == 30000
