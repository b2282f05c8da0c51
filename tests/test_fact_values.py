"""Fact values that used to be misread silently: separators, bare percentages, digits of other
scripts, invisible characters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policydsl.evaluation import runtime as rt

MONEY = rt.FactSpec("investment", "项目投资", "money")
PERCENT = rt.FactSpec("rate", "完成率", "percent")


@pytest.mark.parametrize("raw", ["1,5万", "1,50", "12,3456", ",100", "1,,000"])
def test_thousands_separators_only_in_groups_of_three(raw: str) -> None:
    with pytest.raises(ValueError, match="groups of three"):
        rt.parse_fact(MONEY, raw)


@pytest.mark.parametrize(
    ("raw", "value"), [("1,000万", Decimal("10000000")), ("1,234,567.5", Decimal("1234567.5")), ("100", 100)]
)
def test_thousands_separators_in_groups_of_three_are_read(raw: str, value: Decimal) -> None:
    assert rt.parse_fact(MONEY, raw) == value


@pytest.mark.parametrize("raw", [60, "60", Decimal("1.5"), "-2"])
def test_a_bare_percentage_above_one_is_refused(raw: Any) -> None:
    with pytest.raises(ValueError, match="written with %"):
        rt.parse_fact(PERCENT, raw)


@pytest.mark.parametrize(
    ("raw", "value"), [("60%", Decimal("0.60")), (Decimal("0.6"), Decimal("0.6")), (1, 1)]
)
def test_percentages_as_fractions_or_with_a_percent_sign(raw: Any, value: Decimal) -> None:
    assert rt.parse_fact(PERCENT, raw) == value


@pytest.mark.parametrize("raw", ["৪0万", "٣", "४५"])
def test_digits_of_other_scripts_are_refused_by_name(raw: str) -> None:
    with pytest.raises(ValueError, match=r"U\+0"):
        rt.parse_fact(MONEY, raw)


def test_full_width_digits_are_read() -> None:
    assert rt.parse_fact(MONEY, "１００万") == Decimal("1000000")


@pytest.mark.parametrize("raw", ["100\u200b万", "\u2060100", "10\u00ad0"])
def test_an_invisible_character_is_named_by_its_code_point(raw: str) -> None:
    with pytest.raises(ValueError, match=r"U\+(200B|2060|00AD)"):
        rt.parse_fact(MONEY, raw)


def test_a_policy_figure_with_digits_of_another_script_is_an_error(tmp_path: Path) -> None:
    from policydsl.checking.pipeline import check_file
    from policydsl.diagnostics import Sink

    path = tmp_path / "digits.policy"
    path.write_text(
        'policy "t" { issued 2021-01-01 }\nfact x "x": money\nmeasure m "m" { award ৪0万 if x > 0 }\n',
        encoding="utf-8",
    )
    sink = Sink()
    check_file(path, sink)
    assert [d.code for d in sink.errors_only()] == ["E006"]
    assert "U+09EA" in sink.errors_only()[0].message


def test_keys_that_name_no_fact_are_ignored_and_listed_or_refused_when_strict() -> None:
    specs = {"investment": rt.FactSpec("investment", "项目投资", "money")}
    raw = {"investment": 5, "investmnet": 6, "id": "A", "_id": 1, "编号": "B", "备注": "x"}
    assert rt.parse_facts(specs, raw) == {"investment": Decimal(5)}
    assert rt.unknown_keys(specs, raw) == ("investmnet", "备注")
    assert rt.extra_keys(specs, raw) == ("investmnet", "备注")
    with pytest.raises(rt.InputError) as info:
        rt.parse_facts(specs, raw, strict=True)
    assert info.value.problems == [
        "`investmnet`: no such fact (did you mean `investment`?)",
        "`备注`: no such fact",
    ]


def test_a_fact_given_by_both_its_spellings_is_left_to_the_full_path() -> None:
    spec = rt.FactSpec("applicant", "申报主体", "enum", members=(("a", "甲"),))
    specs = {"applicant": spec, "申请人": spec}
    assert rt.extra_keys(specs, {"applicant": "a", "申请人": "a"}) is None


def test_a_fact_given_under_two_spellings_is_refused_on_every_path() -> None:
    # the last value won silently; which of two values was meant cannot be known
    spec = rt.FactSpec("applicant", "申报主体", "enum", members=(("a", "甲"), ("b", "乙")))
    specs = {"applicant": spec, "申请人": spec}
    with pytest.raises(rt.InputError, match="`applicant` and `申请人` both give 申报主体"):
        rt.parse_facts(specs, {"applicant": "a", "申请人": "b"})
    assert rt.parse_facts(specs, {"applicant": "a", "申请人": ""}) == {"applicant": "a"}


AREA = rt.FactSpec("area", "用地面积", "count", unit="亩")
FIRMS = rt.FactSpec("firms", "企业家数", "count", unit="家")


@pytest.mark.parametrize(
    ("raw", "value"), [(Decimal("12.5"), Decimal("12.5")), ("12.5亩", Decimal("12.5")), (3, 3)]
)
def test_an_area_need_not_be_whole(raw: Any, value: Decimal) -> None:
    # a measuring unit (亩, 平方米, 千瓦…) measures any amount of at least 0; a count of 家 stays whole
    assert rt.parse_fact(AREA, raw) == value
    with pytest.raises(ValueError, match="whole number"):
        rt.parse_fact(FIRMS, Decimal("12.5"))


def test_an_area_is_never_negative() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        rt.parse_fact(AREA, "-1")
