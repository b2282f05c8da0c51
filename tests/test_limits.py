"""Adversarial and extreme policies: deep nesting, huge files, huge and tiny figures, division by
zero, dates at the ends of the calendar, durations used as numbers, parameters defined through
themselves.  Every one ends in a clean diagnostic or a clean result, never an exception."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.api import PolicyEvaluator
from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file, check_text
from policydsl.commands.cli import main
from policydsl.diagnostics import Diagnostic, Severity, Sink
from policydsl.evaluation import runtime as rt
from policydsl.plan.lower import lower
from policydsl.syntax import parser
from tests.conftest import DATA

HEADER = 'policy "极限" { issued 2021-01-01 valid from issued lasting 3年 }\n'
FACTS = (
    'fact x "金额": money >= 0\nfact n "数值": number\nfact d "日期": date\n'
    'fact p "比例": percent\nfact c "数量": count 家 >= 0\n'
)
DAY = datetime.date(2022, 6, 1)


def check(text: str) -> tuple[PolicyEvaluator | None, list[Diagnostic]]:
    """The evaluator for `text` (None when it has errors) and every diagnostic; never raises."""
    sink = Sink()
    checked = check_text("limits.policy", text, sink)
    if checked.model is None or sink.has_errors:
        return None, sink.diagnostics
    return PolicyEvaluator(lower(checked.model, text)), sink.diagnostics


def model_of(text: str) -> Model | None:
    """What the checker learnt of `text` (None when it has errors)."""
    sink = Sink()
    checked = check_text("limits.policy", text, sink)
    return None if sink.has_errors else checked.model


def errors(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in check(text)[1] if d.severity is Severity.ERROR]


def evaluate(
    body: str, facts: dict[str, object], *, explain: bool = False, partial: bool = True
) -> rt.Decision:
    evaluator, diagnostics = check(HEADER + FACTS + body)
    assert evaluator is not None, [d.message for d in diagnostics]
    return evaluator.evaluate(facts, DAY, partial=partial, explain=explain)


def positioned(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    """The first diagnostic with `code`, which must point at a line and column."""
    found = [d for d in diagnostics if d.code == code]
    assert found, [(d.code, d.message) for d in diagnostics]
    assert found[0].span is not None and found[0].span.line >= 1 and found[0].span.col >= 1
    return found[0]


# ------------------------------------------------------------------------------ nesting


def test_parentheses_ten_thousand_deep_are_refused_before_parsing() -> None:
    text = HEADER + FACTS + "measure m { award " + "(" * 10_000 + "x" + ")" * 10_000 + " }\n"
    started = time.perf_counter()
    evaluator, diagnostics = check(text)
    assert evaluator is None
    assert "brackets nest 10001 deep" in positioned(diagnostics, "E005").message
    assert time.perf_counter() - started < 5


def test_parentheses_within_the_limit_are_only_grouping() -> None:
    decision = evaluate("measure m { award " + "(" * 150 + "x" + ")" * 150 + " }\n", {"x": "10万"})
    assert decision.measures["m"].amount == Decimal("100000.00")


@pytest.mark.parametrize("terms", [20_000, pytest.param(100_000, marks=pytest.mark.slow)])
def test_a_sum_of_very_many_terms_is_refused_without_recursion(terms: int) -> None:
    # a left-nested sum as deep as it is long; every later pass would recurse down it
    text = HEADER + FACTS + "measure m { award " + " + ".join(["x"] * terms) + " }\n"
    evaluator, diagnostics = check(text)
    assert evaluator is None
    assert "nests more than" in positioned(diagnostics, "E005").message


@pytest.mark.parametrize(
    "condition",
    [
        " and ".join(["x > 1万"] * 5_000),
        " or ".join(["x > 1万"] * 5_000),
        "not " * 5_000 + "x > 1万",
        " implies ".join(["(x > 1万)"] * 2) + " and " + " and ".join(["true"] * 3_000),
    ],
    ids=["and", "or", "not", "mixed"],
)
def test_long_chains_of_conditions_are_refused_cleanly(condition: str) -> None:
    evaluator, diagnostics = check(HEADER + FACTS + f"measure m {{ award 1万 if {condition} }}\n")
    assert evaluator is None
    positioned(diagnostics, "E005")


def test_negation_five_thousand_deep_is_refused_cleanly() -> None:
    evaluator, diagnostics = check(HEADER + FACTS + "measure m { award " + "- " * 5_000 + "x }\n")
    assert evaluator is None
    positioned(diagnostics, "E005")


def test_a_realistic_chain_of_conditions_is_within_the_limits() -> None:
    condition = " and ".join(f"x > {i}万" for i in range(40))
    decision = evaluate(f"measure m {{ award 1万 if {condition} }}\n", {"x": "100万"})
    assert decision.measures["m"].status == rt.DETERMINED


def test_blocks_nested_ten_thousand_deep_are_refused() -> None:
    evaluator, diagnostics = check("{" * 10_000 + "}" * 10_000)
    assert evaluator is None
    positioned(diagnostics, "E005")


def test_a_parameter_defined_through_itself_is_an_error_not_a_recursion() -> None:
    text = HEADER + FACTS + 'param a "甲": money = b + 1万\nparam b "乙": money = a\nmeasure m { award a }\n'
    assert errors(text) == [
        ("E208", "`a` is defined through itself"),
        ("E208", "`b` is defined through itself"),
    ]
    assert errors(HEADER + 'param a "甲": money = a\nmeasure m { award a }\n') == [
        ("E208", "`a` is defined through itself")
    ]


def test_a_long_chain_of_parameters_is_refused_before_it_can_overflow_the_stack() -> None:
    params = ['param p0 "p": money = 1万'] + [
        f'param p{i} "p": money = p{i - 1} + 1万' for i in range(1, 300)
    ]
    text = HEADER + "\n".join(params) + "\nmeasure m { award p299 }\n"
    evaluator, diagnostics = check(text)
    assert evaluator is None
    assert "through the parameters it uses" in positioned(diagnostics, "E005").message


def test_a_short_chain_of_parameters_evaluates() -> None:
    params = ['param p0 "p": money = 1万'] + [f'param p{i} "p": money = p{i - 1} + 1万' for i in range(1, 30)]
    evaluator, _ = check(HEADER + "\n".join(params) + "\nmeasure m { award p29 }\n")
    assert evaluator is not None
    assert evaluator.evaluate({}, DAY).measures["m"].amount == Decimal("300000.00")


# ------------------------------------------------------------------------------ size


def _measures(size: int) -> str:
    """A policy of about `size` bytes made of many ordinary measures."""
    head = (
        HEADER + 'enum level "级别" { national "国家级", provincial "省级" }\nfact lv "级别": level\n' + FACTS
    )
    parts, total, i = [head], len(head.encode()), 0
    while total < size:
        part = (
            f'measure m{i} "措施{i}" cite "第{i}条" {{\n'
            f'  require x 超过 {i % 97 + 1}万 "投入超过{i % 97 + 1}万元"\n'
            f'  award base "基础": 30% * x cap by lv {{ national: 500万, provincial: 200万 }}'
            f" if c 达到 {i % 50}家\n"
            "  bonus extra: 10万 if x 1000万以上\n}\n"
        )
        parts.append(part)
        total += len(part.encode())
        i += 1
    return "".join(parts)


def test_a_ten_megabyte_policy_is_refused_at_once_with_a_clean_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "huge.policy"
    path.write_text(_measures(10 * 1024 * 1024), encoding="utf-8")
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["check", str(path)])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:1:1: error[E005]: the file is" in result.output
    assert elapsed < 5


@pytest.mark.parametrize("size", [parser.MAX_BYTES + 1, 3 * 1024 * 1024 + 5])
def test_a_file_over_the_limit_is_refused_with_its_real_size(tmp_path: Path, size: int) -> None:
    path = tmp_path / "big.policy"
    path.write_bytes(b"#" * size)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert f"the file is {size:,} bytes; the limit is {parser.MAX_BYTES:,} bytes (1 MiB)" in result.output


def test_standard_input_over_the_limit_is_refused_without_a_size() -> None:
    result = CliRunner().invoke(main, ["check", "-"], input=b"#" * (parser.MAX_BYTES + 10))
    assert result.exit_code == 1, result.output
    assert "<stdin>:1:1: error[E005]: the input is more than 1,048,576 bytes" in result.output


def test_a_ten_megabyte_text_given_in_memory_is_refused_too() -> None:
    evaluator, diagnostics = check(_measures(10 * 1024 * 1024))
    assert evaluator is None
    assert positioned(diagnostics, "E005").message.startswith("the file is")


def test_a_device_that_never_ends_is_read_only_up_to_the_limit() -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    result = CliRunner().invoke(main, ["check", str(zero)])
    assert result.exit_code == 1
    assert "error[E005]" in result.output


def test_a_policy_of_two_hundred_kilobytes_checks_in_reasonable_time() -> None:
    text = _measures(200 * 1024)
    started = time.perf_counter()
    evaluator, diagnostics = check(text)
    assert evaluator is not None, [d.message for d in diagnostics if d.severity is Severity.ERROR]
    assert time.perf_counter() - started < 30


@pytest.mark.slow
def test_a_policy_just_under_the_size_limit_parses_and_checks() -> None:
    text = _measures(parser.MAX_BYTES - 4096)
    started = time.perf_counter()
    evaluator, _ = check(text)
    assert evaluator is not None
    assert time.perf_counter() - started < 120


def test_a_long_file_full_of_syntax_errors_stops_looking_within_the_budget() -> None:
    lines = _measures(300 * 1024).split("\n")
    step = len(lines) // 25
    for i in range(1, 25):
        lines[i * step] = lines[i * step].replace("award", "award award")
    started = time.perf_counter()
    evaluator, diagnostics = check("\n".join(lines))
    assert evaluator is None
    assert 1 <= len([d for d in diagnostics if d.severity is Severity.ERROR]) <= parser.MAX_SYNTAX_ERRORS
    assert time.perf_counter() - started < 60


# ------------------------------------------------------------------------------ figures


def test_a_huge_amount_is_computed_exactly() -> None:
    decision = evaluate("measure m { award 1e30万 * p }\n", {"p": "50%"})
    assert decision.measures["m"].amount == Decimal("5E+33")
    assert decision.measures["m"].status == rt.DETERMINED


def test_long_figures_keep_every_digit() -> None:
    # 万 moves the decimal point; a multiplication in a 28-digit context would round this
    decision = evaluate("measure m { award 12345678901234567890123456789.12万 }\n", {})
    assert decision.measures["m"].amount == Decimal("123456789012345678901234567891200")
    facts = {"x": "12345678901234567890123456789.12万", "p": "33.333333333333333333333333333333%"}
    decision = evaluate("measure m { award x }\nmeasure q { award p * 1亿 }\n", facts)
    assert decision.measures["m"].amount == Decimal("123456789012345678901234567891200")
    assert decision.measures["q"].amount == Decimal("33333333.33")


def test_tiny_amounts_round_to_the_fen() -> None:
    decision = evaluate("measure m { award 0.001元 }\nmeasure q { award 1e-30% * x }\n", {"x": "1亿"})
    assert decision.measures["m"].amount == Decimal("0.00")
    assert decision.measures["q"].amount == Decimal("0.00")
    assert decision.measures["q"].status == rt.DETERMINED


@pytest.mark.parametrize("literal", ["1e999999999万", "1e99999万", "1e40元", "1e999999999年", "1e36万"])
def test_a_figure_of_forty_digits_or_more_in_a_policy_is_refused(literal: str) -> None:
    use = f"if since(d) 届满 {literal}" if literal.endswith("年") else f"cap {literal}"
    found = errors(HEADER + FACTS + f"measure m {{ award 1万 {use} }}\n")
    assert found == [("E006", f"`{literal}` is too large; figures are limited to 40 digits")]


@pytest.mark.parametrize("literal", ["priority 1e999999999", "quota"])
def test_huge_counts_in_a_policy_are_refused(literal: str) -> None:
    if literal == "quota":
        body = "measure m { award 1万\n quota 1e999999999 }\n"
    else:
        body = f"measure m {{ award a: 1万\n award b: exception a {literal} 2万 }}\n"
    assert [code for code, _ in errors(HEADER + FACTS + body)] == ["E006"]


def test_a_result_too_large_to_round_is_undetermined_with_that_reason() -> None:
    # 10^39 × 10^39: the product holds, but not rounded to the fen in 60 digits
    facts = {"x": "1e39", "n": "1e39"}
    for explain in (False, True):
        result = evaluate("measure m { award x * n }\n", facts, explain=explain).measures["m"]
        assert result.status == rt.UNDETERMINED
        assert result.reasons == ["无法判断是否适用：m.1", "x * n：计算结果超出可计算范围"] or any(
            "计算结果超出可计算范围" in r for r in result.reasons
        ), result.reasons
        assert not any("除数为零" in r for r in result.reasons)


def test_a_result_that_overflows_the_arithmetic_is_undetermined() -> None:
    params = ['param q0 "q": number = n'] + [
        f'param q{i} "q": number = q{i - 1} * q{i - 1}' for i in range(1, 20)
    ]
    evaluator, diagnostics = check(HEADER + FACTS + "\n".join(params) + "\nmeasure m { award x * q19 }\n")
    assert evaluator is not None, [d.message for d in diagnostics]
    result = evaluator.evaluate({"x": "1", "n": "1e30"}, DAY).measures["m"]
    assert result.status == rt.UNDETERMINED
    assert any("计算结果超出可计算范围" in r for r in result.reasons)


# ------------------------------------------------------------------------------ division by zero


def test_division_by_a_literal_zero_is_e209() -> None:
    for divisor in ("0", "0元", "0%", "0家", "0.0"):
        codes = [code for code, _ in errors(HEADER + FACTS + f"measure m {{ award x / {divisor} }}\n")]
        assert codes == ["E209"], divisor


def test_division_by_a_fact_that_is_zero_leaves_the_amount_undetermined() -> None:
    result = evaluate("measure m { award x / n }\n", {"x": "1万", "n": "0"}).measures["m"]
    assert result.status == rt.UNDETERMINED
    assert "金额 ÷ 数值：除数为零" in result.reasons
    zero_by_zero = evaluate("measure m { award x * (n / n) }\n", {"x": "1万", "n": "0"}).measures["m"]
    assert zero_by_zero.status == rt.UNDETERMINED
    assert any("除数为零" in r for r in zero_by_zero.reasons)


def test_division_by_zero_in_a_condition_leaves_the_clause_undecided() -> None:
    result = evaluate("measure m { award x if x / n > 1元 }\n", {"x": "1万", "n": "0"}).measures["m"]
    assert result.status == rt.UNDETERMINED


def test_division_by_zero_in_a_cap_makes_the_amount_a_ceiling() -> None:
    for explain in (False, True):
        result = evaluate("measure m { award x cap x / n }\n", {"x": "1万", "n": "0"}, explain=explain)
        assert result.measures["m"].status == rt.CEILING
        assert result.measures["m"].amount == Decimal("10000.00")


def test_division_by_zero_in_an_instalment_share_does_not_pay_it_as_the_rest() -> None:
    body = "measure m { award x\n instalment a: 1% / n if true\n instalment b: rest if true }\n"
    result = evaluate(body, {"x": "1万", "n": "0"}).measures["m"]
    assert result.status == rt.UNDETERMINED
    assert result.amount is None


def test_a_total_cap_that_cannot_be_worked_out_makes_the_total_a_ceiling() -> None:
    decision = evaluate("measure m { award x }\ntotal_cap x / n over { m }\n", {"x": "1万", "n": "0"})
    assert decision.measures["m"].status == rt.DETERMINED
    assert decision.total.status == rt.CEILING
    assert any("累计封顶无法计算" in r for r in decision.total.reasons)


def test_an_unset_total_cap_makes_the_total_a_ceiling() -> None:
    body = 'param limit "上限": money = unset\nmeasure m { award x }\ntotal_cap limit over { m }\n'
    decision = evaluate(body, {"x": "1万"})
    assert decision.total.status == rt.CEILING


# ------------------------------------------------------------------------------ dates


def test_the_time_since_the_last_day_of_the_calendar() -> None:
    body = "measure m { award 1万 if since(d) 届满 1年 }\nmeasure q { award 1万 if since(d) 不满 99999年 }\n"
    decision = evaluate(body, {"d": "9999-12-31"})
    assert decision.measures["m"].status == rt.INELIGIBLE
    assert decision.measures["q"].status == rt.DETERMINED


def test_a_date_pushed_past_the_calendar_leaves_the_condition_undecided() -> None:
    for body, day in (
        ("measure m { award 1万 if d + 1年 > 2020-01-01 }\n", "9999-12-31"),
        ("measure m { award 1万 if d - 1年 > 2020-01-01 }\n", "0001-01-01"),
        ("measure m { award 1万 if d + 9999999天 > 2020-01-01 }\n", "2000-01-01"),
    ):
        result = evaluate(body, {"d": day}).measures["m"]
        assert result.status == rt.UNDETERMINED, body


def test_a_validity_running_past_the_calendar_is_in_force_to_its_end() -> None:
    evaluator, _ = check(
        'policy "t" { issued 9999-01-01 valid from issued lasting 3年 }\nmeasure m { award 1万 }\n'
    )
    assert evaluator is not None
    assert evaluator.evaluate({}, datetime.date(9999, 6, 1)).measures["m"].status == rt.DETERMINED
    assert evaluator.evaluate({}, datetime.date(2022, 6, 1)).measures["m"].status == rt.INELIGIBLE


def test_add_duration_raises_overflow_outside_the_calendar() -> None:
    with pytest.raises(OverflowError):
        rt.add_duration(datetime.date(9999, 12, 31), 1, "year")
    with pytest.raises(OverflowError):
        rt.add_duration(datetime.date(2000, 1, 1), 10**30, "day")
    assert rt.add_duration(datetime.date(2020, 2, 29), 1, "year") == datetime.date(2021, 2, 28)
    assert rt.since_compare(datetime.date(9999, 1, 1), datetime.date(9999, 12, 31), "<", 5, "year")
    assert not rt.since_compare(datetime.date(9999, 1, 1), datetime.date(9999, 12, 31), ">=", 5, "year")


# ------------------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ("since(d) 届满 -1年", "E201"),
        ("since(d) 届满 1年 + 1年", "E201"),
        ("since(d) 届满 2 * 1年", "E201"),
        ("since(d) 届满 1年 / 2", "E201"),
        ("since(d) 届满 min(1年, 2年)", "E201"),
        ("since(d) > 0", "E202"),
        ("1年 > since(d)", "E201"),
        ("since(d) == since(d)", "E201"),
        ("band since(d) { 超过 1年: true, otherwise: false }", "E201"),
        ("since(since(d)) 届满 1年", "E201"),
    ],
)
def test_durations_are_not_numbers(condition: str, code: str) -> None:
    found = errors(HEADER + FACTS + f"measure m {{ award 1万 if {condition} }}\n")
    assert found and found[0][0] == code, found


def test_a_duration_parameter_is_compared_only_with_the_time_since_a_date() -> None:
    text = HEADER + FACTS + 'param wait "等待期": duration = 1年\n'
    assert errors(text + "measure m { award 1万 if wait > 1年 }\n")[0][0] == "E202"
    assert errors(text + "measure m { award 1万 if since(d) 届满 wait }\n") == []


# ------------------------------------------------------------------------------ group caps


def test_a_group_cap_cannot_depend_on_an_applicants_facts() -> None:
    body = 'fact region "区域": text\nparam share "份额": money = 50% * x\n'
    for cap in ("x", "share", "1万 + x"):
        text = HEADER + FACTS + body + f"measure m {{ award 1万\n group_cap {cap} per region }}\n"
        assert [code for code, _ in errors(text)] == ["E208"], cap
    assert errors(HEADER + FACTS + body + "measure m { award 1万\n group_cap 100万 per region }\n") == []


def test_huge_amounts_are_shown_exactly_outside_the_evaluators_context() -> None:
    # explanations are printed after evaluation, in the default 28-digit context
    assert rt.yuan(Decimal("1000000000000000000000000000100.92")) == "1000000000000000000000000000100.92元"
    assert rt.yuan(Decimal("123456789012345678901234567891200")) == "12345678901234567890123456789.12万元"
    assert rt.yuan(Decimal("150000000")) == "1.5亿元"
    assert rt.show(Decimal("-0")) == "0"
    decision = evaluate("measure m { award x }\n", {"x": "1000000000000000000000000000100.92"}, explain=True)
    assert "1000000000000000000000000000100.92元" in decision.explain()


def test_the_eval_command_prints_a_huge_amount(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text(HEADER + FACTS + "measure m { award x }\n", encoding="utf-8")
    facts = tmp_path / "facts.json"
    facts.write_text('{"x": "1e30", "n": 1, "d": "2020-01-01", "p": "50%", "c": 1}', encoding="utf-8")
    for extra in ([], ["--explain"]):
        result = CliRunner().invoke(
            main, ["eval", str(policy), "--facts", str(facts), "--date", "2022-06-01", *extra]
        )
        assert result.exit_code == 0, result.output
        assert "10000000000000000000000亿元" in result.output


def test_long_amounts_in_diagrams_and_witnesses_are_printed_exactly() -> None:
    from fractions import Fraction

    from policydsl.analysis.smt import exact_decimal
    from policydsl.analysis.witness import count_literal, money_literal
    from policydsl.render.text import amount_words

    long = Decimal("1000000000000000000000000000100.92")  # 31 digits: more than the default context holds
    assert amount_words(long) == "1000000000000000000000000000100.92元"
    assert amount_words(Decimal("1E+34")) == "100000000000000000000000000亿"
    assert amount_words(Decimal("125000")) == "12.5万"
    assert money_literal(long) == "1000000000000000000000000000100.92元"
    assert money_literal(Decimal("1E+34")) == "100000000000000000000000000亿"
    assert money_literal(Fraction(10**35 + 1, 100)) == "1000000000000000000000000000000000.01元"
    assert count_literal(Decimal("3E+33"), "家") == "300000000000000000000000000000万家"
    assert exact_decimal(Fraction(10**35 + 1, 100)) == Decimal("1000000000000000000000000000000000.01")


def test_an_impossible_policy_without_eligibility_block_or_header_is_reported_at_a_position() -> None:
    from policydsl.analysis.run import Options, analyse

    text = 'fact x "x": money >= 0\nassume 2 < 1 "never"\nmeasure m { award x }\n'
    model = model_of(text)
    assert model is not None
    findings = analyse(model, text, Options(timeout_ms=2000)).findings
    impossible = [d for d in findings if d.code == "P104"]
    assert impossible and impossible[0].span is not None and impossible[0].span.line == 2


def test_an_example_naming_an_unset_parameter_fails_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "examples.policy"
    path.write_text(
        'param p "试点金额": money = unset\nfact x "x": money >= 0\nmeasure m { award x }\n'
        'example "given" {\n  given { x: p }\n  expect m = 1万\n}\n'
        'example "expected" {\n  given { x: 1万 }\n  expect m = p\n}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert "the given facts are unusable: p：参数 试点金额（p）原文未给出" in result.output
    assert "the expected amount has no value: p：参数 试点金额（p）原文未给出" in result.output
    assert result.output.rstrip().endswith("0 passed, 2 failed")


def test_the_analysis_of_a_policy_with_many_measures_stops_within_its_budget() -> None:
    from policydsl.analysis.run import Options, analyse

    text = _measures(16 * 1024)  # about 70 measures on shared facts: thousands of pairwise queries
    model = model_of(text)
    assert model is not None
    started = time.perf_counter()
    result = analyse(model, text, Options(budget=300))
    again = analyse(model, text, Options(budget=300))
    assert time.perf_counter() - started < 60
    # a count of questions, not a clock: two runs stop at the same question with the same findings
    assert [(d.code, d.message) for d in result.findings] == [(d.code, d.message) for d in again.findings]
    assert result.skipped == again.skipped > 0
    stopped = [
        d
        for d in result.findings
        if d.code == "P900" and "the analysis stopped after 300 solver questions" in d.message
    ]
    assert (
        len(stopped) == 1
        and stopped[0].span is not None
        and (stopped[0].span.line, stopped[0].span.col) == (1, 1)
    )
    assert not [
        d for d in result.findings if d.code == "P902"
    ]  # no acknowledgement is judged on a partial run


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "data" / "analysis").glob("*.policy"))[:12])
def test_with_a_one_millisecond_solver_every_open_question_is_a_finding(path: Path) -> None:
    from policydsl.analysis.run import Options, analyse

    text = path.read_text(encoding="utf-8")
    model = model_of(text)
    if model is None:
        pytest.skip("a file with errors on purpose")
    result = analyse(model, text, Options(timeout_ms=1))
    undecided = [d for d in result.findings if d.code == "P900"]
    assert bool(undecided) == bool(result.stats.undecided), (result.stats, undecided)
    assert all(d.span is not None for d in result.findings)


def test_a_query_no_solver_decides_quickly_is_reported_undecided_not_clean() -> None:
    from policydsl.analysis.run import Options, analyse

    text = (Path(__file__).parent / "data" / "analysis" / "undecided.policy").read_text(encoding="utf-8")
    model = model_of(text)
    assert model is not None
    findings = analyse(model, text, Options(timeout_ms=20)).findings
    assert any(d.code == "P900" and "puzzle.hard" in d.message for d in findings), findings


def test_a_label_ending_in_a_backslash_is_drawn(tmp_path: Path) -> None:
    # found by the fuzz campaign: the diagram's title was a plain DOT string, whose closing quote
    # the backslash escaped
    path = tmp_path / "slash.policy"
    path.write_text('fact x "x": money >= 0\nmeasure m "标签\\\\" { award x }\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["diagram", str(path), "--measure", "m", "-o", str(tmp_path / "m.dot")])
    assert result.exit_code == 0, result.output
    assert "label=<标签\\>" in (tmp_path / "m.dot").read_text(encoding="utf-8")


def test_check_says_in_its_summary_that_the_analysis_was_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "many.policy"
    path.write_text(_measures(4 * 1024), encoding="utf-8")
    runs = [CliRunner().invoke(main, ["check", "--budget", "20", str(path)]) for _ in range(2)]
    assert runs[0].exit_code == 0 and runs[0].output == runs[1].output
    summary = runs[0].output.rstrip().splitlines()[-1]
    assert summary.startswith("1 file checked: ") and "stand; exit code 0 (--fail-on error" in summary
    assert summary.endswith("; its analysis was cut short at the budget of 20 solver questions (--budget)")
    full = CliRunner().invoke(main, ["check", str(path)])
    assert "cut short" not in full.output


def test_the_default_budget_of_the_command_is_the_analysis_default() -> None:
    from policydsl.analysis.run import Options

    (option,) = [p for p in main.commands["check"].params if p.name == "budget"]
    assert option.default == Options().budget


def test_the_default_rlimit_of_the_command_is_the_analysis_default() -> None:
    from policydsl.analysis.run import Options

    (option,) = [p for p in main.commands["check"].params if p.name == "rlimit"]
    assert option.default == Options().rlimit


def test_the_step_limit_makes_an_undecided_question_p900_on_every_run() -> None:
    """With a clock that never runs out, the solver's step limit alone stops the hard question:
    the same finding, naming the limit, on every run and under any load."""
    from policydsl.analysis.run import Options, analyse

    path = DATA / "analysis" / "undecided.policy"
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None
    options = Options(timeout_ms=600_000, rlimit=20_000)
    runs = [analyse(checked.model, checked.source.text, options) for _ in range(2)]
    for result in runs:
        (p900,) = [d for d in result.findings if d.code == "P900"]
        assert "within 20000 solver steps (--rlimit)" in p900.message
        assert result.stats.undecided >= 1
    assert [d.message for d in runs[0].findings] == [d.message for d in runs[1].findings]


def test_the_pairwise_check_prepares_few_pairs_of_measures_that_share_no_value() -> None:
    """300 measures each serving its own sector: the index forms no pair, so the work of preparing
    a pair's questions is never done (not 300*299/2 times)."""
    from policydsl.analysis import clauses as analysis_clauses
    from policydsl.analysis.run import Options, analyse

    members = ", ".join(f's{i} "行业{i}"' for i in range(300))
    text = (
        'policy "分行业" { issuer "测试" issued 2022-01-01 }\n'
        f'enum sector "行业" {{ {members} }}\nfact industry "所属行业": sector\n'
        'fact revenue "营业收入": money >= 0\n'
        + "".join(
            f'measure m{i} "措施{i}" {{ award 10万 if industry == s{i} and revenue 100万以上 }}\n'
            for i in range(300)
        )
    )
    sink = Sink()
    checked = check_text("sectors.policy", text, sink)
    assert checked.model is not None and not sink.has_errors
    calls = 0
    real = analysis_clauses.ClauseChecks._measures_pay

    def counted(self: Any, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(self, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analysis_clauses.ClauseChecks, "_measures_pay", counted)
        result = analyse(checked.model, text, Options())
    assert calls < 300  # far below the 44,850 pairs
    assert not result.skipped and not [d for d in result.findings if d.code in ("P201", "P202")]
