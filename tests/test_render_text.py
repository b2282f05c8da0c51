"""Expressions printed in the source notation and in the drafters' labels; wrapping by display width."""

from __future__ import annotations

from pathlib import Path

import pytest

from policydsl.checking.pipeline import check_file, check_text
from policydsl.diagnostics import Sink
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower
from policydsl.render.text import ExprPrinter, amount_words, display_width, label_text, source_text, wrap
from policydsl.render.trees import subexpressions
from tests.conftest import DATA, POLICIES

PLATFORM = DATA / "diagrams" / "platform.policy"

# The names the cases below read, each with one type.
_PRELUDE = """enum level "级别" { national "国家级", provincial "省级" }
fact revenue "收入": money >= 0
fact customers "客户数量": count 家 >= 0
fact enterprises "企业数": count 家 >= 0
fact investment "投入": money >= 0
fact other_funding "其他资助": money >= 0
fact upper_funding "上级资金": money >= 0
fact x "x": money
fact y "y": money
fact z "z": money
fact a "a": bool
fact b "b": bool
fact c "c": bool
fact d "d": bool
fact violation "违规": bool
fact established "成立日期": date
fact start "开始日期": date
fact completion "完成率": percent
fact center_level "中心级别": level
param rate "比例": percent = 50%
"""


def plan_of_text(text: str) -> P.Plan:
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return lower(checked.model, text)


def lowered(text: str) -> P.Expr:
    """The condition `text`, lowered into the plan of a policy that declares the cases' names."""
    return plan_of_text(_PRELUDE + f"eligibility {{ require {text} }}").eligibility[0].cond


def plan_of(path: Path) -> P.Plan:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None, sink.diagnostics
    return lower(checked.model, checked.source.text)


def expressions(plan: P.Plan) -> list[tuple[P.Expr, bool]]:
    """Every top-level expression of conditions, amounts, caps and rules in a plan, each with
    whether it is a condition."""
    found: list[tuple[P.Expr, bool]] = [(g.cond, True) for g in plan.eligibility]
    for m in plan.measures:
        found.extend((g.cond, True) for g in m.gates)
        for clause in m.clauses:
            found.extend((c.cond, True) for c in clause.conditions)
            if clause.amount.expr is not None:
                found.append((clause.amount.expr, False))
            found.extend((c.expr, False) for c in clause.amount.caps)
        found.extend((p.cond, True) for p in m.preferences)
        found.extend((i.cond, True) for i in m.instalments)
        found.extend((f.limit, False) for f in m.funding_limits)
    return found


CASES = [
    "revenue 超过 2000万 and customers 3000家以上",
    "not violation or a and b",
    "(a or b) and not (c or d)",
    "a implies b",
    "50% * (investment - other_funding) / 2 >= 1万",
    "-(x + y) * 3 < z",
    "x - (y - z) >= 1万",
    "since(established) 届满 1年",
    "completion 60%或以上",
    "center_level in [national, provincial]",
    "min(50% * investment, 100万, max(x, y)) > z",
    "by center_level { national: 1亿, provincial: 5000万, otherwise: unset } > x",
    "band revenue { 不满 100万: 5万, 100万 以上 and 不超过 500万: 10万, otherwise: 20万 } <= x",
    "5万/家 * enterprises > x",
    "x == y and x != z",
    "true and not false",
    "start >= 2022-01-01",
    "1:1 * upper_funding > x",
    "rate * investment > x and center_level != provincial",
    "10万 * blocks(investment - 1000万, 100万) + round_down(x, 1万) > max(y - 100万, 0)",
    "progressive investment { 不超过 1000万: 10%, 超过 1000万 and 1亿以下: rate, 超过 1亿: 0 } > x",
    "year(established) >= 2020 and year_no(start) <= 3",
]


def same_written(text: str) -> None:
    """`text` printed from the plan reads back to the same plan expression, printed the same."""
    expr = lowered(text)
    printed = source_text(expr)
    again = lowered(printed)
    assert again == expr, printed
    assert source_text(again) == printed


@pytest.mark.parametrize("text", CASES)
def test_source_notation_reparses_to_the_same_expression(text: str) -> None:
    same_written(text)
    assert source_text(lowered(text)) == source_text(lowered(source_text(lowered(text))))


def test_the_cases_cover_every_kind_of_expression() -> None:
    seen = {type(sub) for text in CASES for sub in subexpressions(lowered(text))}
    assert set(P.EXPR_CLASSES) <= seen


@pytest.mark.parametrize("path", [PLATFORM, *sorted(POLICIES.glob("*.policy"))], ids=lambda p: p.name)
def test_every_expression_of_the_policies_round_trips(path: Path) -> None:
    plan = plan_of(path)
    exprs = expressions(plan)
    assert exprs
    text = path.read_text(encoding="utf-8")
    for expr, condition in exprs:
        for chinese in (False, True):
            printed = source_text(expr, chinese=chinese)
            # read back in the policy's own declarations, as one more requirement (a figure as
            # both sides of a comparison)
            if any(isinstance(e, P.Band) and e.counted_from is not None for e in P.walk(expr)):
                # a schedule by year stands only in an amount: read back as one
                probe = plan_of_text(text + f'\nmeasure round_trip "往返" {{ award {printed} }}')
                again = probe.measures[-1].clauses[0].amount.expr
                assert again == expr, printed
                assert source_text(again, chinese=chinese) == printed
                continue
            cond = printed if condition else f"({printed}) == ({printed})"
            again = plan_of_text(text + f"\neligibility {{ require {cond} }}").eligibility[-1].cond
            if not condition:
                assert isinstance(again, P.Cmp)
                again = again.left
            assert again == expr, printed
            assert source_text(again, chinese=chinese) == printed


def test_chinese_keywords_are_spelled_in_chinese() -> None:
    expr = lowered("a and not b or min(x, y) > z")
    assert source_text(expr, chinese=True) == "a 且 非 b 或 取小(x, y) > z"
    assert source_text(expr) == "a and not b or min(x, y) > z"


def test_parentheses_only_where_needed() -> None:
    assert source_text(lowered("(x * 2) + y > z")) == "x * 2 + y > z"
    assert source_text(lowered("x * (2 + 3) > z")) == "x * (2 + 3) > z"
    assert source_text(lowered("x - (y - z) > 0元")) == "x - (y - z) > 0元"
    assert source_text(lowered("(a and b) or c")) == "a and b or c"


def test_labels_use_the_drafters_words() -> None:
    plan = plan_of(PLATFORM)
    platform = plan.measure("platform_award")
    bonus = platform.clauses[2]
    assert label_text(bonus.conditions[0].cond, plan) == "平台服务营业收入 超过 2000万 且 客户数量 3000家以上"
    center = plan.measure("center").clauses[0]
    assert center.amount.expr is not None
    assert label_text(center.amount.expr, plan) == "50% × 上级扶持资金"
    assert (
        label_text(center.amount.caps[0].expr, plan)
        == "按 创新中心级别 { 国家级: 1亿, 省级: 5000万, 市级: 3000万 }"
    )
    pilot = plan.measure("pilot").clauses[0]
    assert label_text(pilot.conditions[0].cond, plan) == "创新中心级别 属于 [市级]"
    assert pilot.amount.expr is not None
    assert label_text(pilot.amount.expr, plan) == "试点奖励金额"
    assert label_text(plan.eligibility[1].cond, plan) == "距今(成立日期) 届满 1年"
    assert label_text(plan.eligibility[2].cond, plan) == "非 近三年有违法违规"
    stage = platform.instalments[1]
    assert label_text(stage.cond, plan) == "协议目标完成率 ≥ 100%"


def test_an_enum_value_and_implies_are_worded_as_written() -> None:
    plan = plan_of_text(_PRELUDE + "eligibility { require center_level == national implies a }")
    assert label_text(plan.eligibility[0].cond, plan) == "中心级别 = 国家级 则 a"
    assert source_text(plan.eligibility[0].cond) == "center_level == national implies a"


def test_the_spelling_takes_no_part_in_the_meaning() -> None:
    # the same figure written two ways is one expression to every back end, and two to a reader
    one, other = lowered("x >= 50万"), lowered("x 500000元以上")
    assert one == other and hash(one) == hash(other)
    assert source_text(one) != source_text(other)


def test_conjuncts_split_only_the_top_level_and() -> None:
    printer = ExprPrinter()
    # Each part follows a `且`, so an `or` inside keeps its parentheses.
    assert printer.conjuncts(lowered("a and (b or c) and d")) == ["a", "(b or c)", "d"]


def test_subexpressions_reach_every_name() -> None:
    table = "by center_level { national: y, otherwise: z }"
    band = "band revenue { 超过 1万: investment, otherwise: unset }"
    expr = lowered(f"min(x, {table}) + {band} > 0元")
    names = {s.name for s in subexpressions(expr) if isinstance(s, P.FactRef)}
    assert names == {"x", "y", "z", "revenue", "investment"}


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
