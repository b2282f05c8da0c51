"""Expressions printed in the source notation and in the drafters' labels; wrapping by display width."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from policydsl import ast
from policydsl.diagnostics import Sink
from policydsl.frontend import load_text
from policydsl.model import Model
from policydsl.pipeline import check_file
from policydsl.render.text import ExprPrinter, amount_words, display_width, label_text, source_text, wrap
from policydsl.render.trees import subexpressions
from tests.conftest import DATA, POLICIES

PLATFORM = DATA / "diagrams" / "platform.policy"


def parse_expr(text: str) -> ast.Expr:
    sink = Sink()
    loaded = load_text("expr.policy", f"eligibility {{ require {text} }}", sink)
    assert loaded.policy is not None, [d.message for d in sink.diagnostics]
    (block,) = loaded.policy.of(ast.Eligibility)
    return block.requirements[0].cond


def model(path: Path) -> Model:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None, sink.diagnostics
    return checked.model


def expressions(policy: ast.Policy) -> list[ast.Expr]:
    """Every top-level expression of conditions, amounts, caps and rules in a policy."""
    found: list[ast.Expr] = []
    for block in policy.of(ast.Eligibility):
        found.extend(r.cond for r in block.requirements)
    for m in policy.of(ast.Measure):
        for item in m.items:
            if isinstance(item, ast.Clause):
                found.extend(c.expr for c in item.conditions)
                if item.amount.expr is not None:
                    found.append(item.amount.expr)
                found.extend(item.amount.caps)
            elif isinstance(item, ast.Requirement | ast.Exclusion | ast.Preference | ast.Instalment):
                found.append(item.cond)
            elif isinstance(item, ast.FundingLimit):
                found.append(item.limit)
    return found


CASES = [
    "revenue 超过 2000万 and customers 3000家以上",
    "not violation or a and b",
    "(a or b) and not (c or d)",
    "a implies b",
    "50% * (investment - other_funding) / 2",
    "-(a + b) * 3",
    "x - (y - z) >= 0",
    "since(established) 届满 1年",
    "completion 60%或以上",
    "center_level in [national, provincial]",
    "min(50% * investment, 100万, max(a, b))",
    "by center_level { national: 1亿, provincial: 5000万, otherwise: unset }",
    "band revenue { 不满 100万: 5万, 100万 以上 and 不超过 500万: 10万, otherwise: 20万 }",
    "5万/家 * enterprises",
    "a == b and c != d",
    "true and not false",
    "start >= 2022-01-01",
    "1:1 * upper_funding",
]


@pytest.mark.parametrize("text", CASES)
def test_source_notation_reparses_to_the_same_expression(text: str) -> None:
    expr = parse_expr(text)
    printed = source_text(expr)
    assert parse_expr(printed) == expr, printed


def test_the_cases_cover_every_kind_of_expression() -> None:
    seen = {type(sub) for text in CASES for sub in subexpressions(parse_expr(text))}
    assert set(typing.get_args(ast.Expr)) <= seen


@pytest.mark.parametrize("path", [PLATFORM, *sorted(POLICIES.glob("*.policy"))], ids=lambda p: p.name)
def test_every_expression_of_the_policies_round_trips(path: Path) -> None:
    policy = model(path).policy
    exprs = expressions(policy)
    assert exprs
    for expr in exprs:
        for chinese in (False, True):
            printed = source_text(expr, chinese=chinese)
            assert parse_expr(printed) == expr, printed


def test_chinese_keywords_are_spelled_in_chinese() -> None:
    expr = parse_expr("a and not b or min(x, y) > 3")
    assert source_text(expr, chinese=True) == "a 且 非 b 或 取小(x, y) > 3"
    assert source_text(expr) == "a and not b or min(x, y) > 3"


def test_parentheses_only_where_needed() -> None:
    assert source_text(parse_expr("(a * b) + c")) == "a * b + c"
    assert source_text(parse_expr("a * (b + c)")) == "a * (b + c)"
    assert source_text(parse_expr("a - (b - c)")) == "a - (b - c)"
    assert source_text(parse_expr("(a and b) or c")) == "a and b or c"


def test_labels_use_the_drafters_words() -> None:
    m = model(PLATFORM)
    platform = m.measures["platform_award"]
    bonus = platform.clauses[2]
    assert label_text(bonus.conditions[0].expr, m) == "平台服务营业收入 超过 2000万 且 客户数量 3000家以上"
    center = m.measures["center"].clauses[0]
    assert label_text(center.amount.expr, m) == "50% × 上级扶持资金"  # type: ignore[arg-type]
    assert (
        label_text(center.amount.caps[0], m) == "按 创新中心级别 { 国家级: 1亿, 省级: 5000万, 市级: 3000万 }"
    )
    pilot = m.measures["pilot"].clauses[0]
    assert label_text(pilot.conditions[0].expr, m) == "创新中心级别 属于 [市级]"
    assert label_text(pilot.amount.expr, m) == "试点奖励金额"  # type: ignore[arg-type]
    (block,) = m.policy.of(ast.Eligibility)
    assert label_text(block.requirements[1].cond, m) == "距今(成立日期) 届满 1年"
    assert label_text(block.requirements[2].cond, m) == "非 近三年有违法违规"
    stage = platform.of(ast.Instalment)[1]
    assert label_text(stage.cond, m) == "协议目标完成率 ≥ 100%"


def test_conjuncts_split_only_the_top_level_and() -> None:
    printer = ExprPrinter()
    # Each part follows a `且`, so an `or` inside keeps its parentheses.
    assert printer.conjuncts(parse_expr("a and (b or c) and d")) == ["a", "(b or c)", "d"]


def test_subexpressions_reach_every_name() -> None:
    expr = parse_expr("min(a, by lvl { x: b, otherwise: c }) + band d { 超过 1万: e, otherwise: unset }")
    names = {s.text for s in subexpressions(expr) if isinstance(s, ast.Name)}
    assert names == {"a", "b", "c", "d", "e"}


def test_wrap_respects_the_width_and_keeps_amounts_whole() -> None:
    text = "年交易额 10亿以上 且 客户数量 3000家以上 且 平台服务营业收入 2000万以上"
    lines = wrap(text, 20)
    assert all(display_width(line) <= 20 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    joined = "\n".join(lines)
    for amount in ("10亿以上", "3000家以上", "2000万以上"):
        assert amount in joined


def test_wrap_keeps_explicit_line_breaks_and_long_words() -> None:
    assert wrap("第一行\n第二行", 40) == ["第一行", "第二行"]
    assert wrap("a_very_long_identifier_that_cannot_break", 10) == [
        "a_very_long_identifier_that_cannot_break"
    ]
    assert wrap("", 10) == [""]


def test_display_width_counts_chinese_twice() -> None:
    assert display_width("ab") == 2
    assert display_width("金额") == 4
    assert display_width("50万") == 4


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("100000000", "1亿"),
        ("150000000", "1.5亿"),
        ("50000000", "5000万"),
        ("125000", "12.5万"),
        ("3000", "3000元"),
    ],
)
def test_amount_words(value: str, words: str) -> None:
    from decimal import Decimal

    assert amount_words(Decimal(value)) == words
