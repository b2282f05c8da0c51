"""The builder: spans made once from Lark's positions (1-based lines and columns, right after
Chinese text too), literal errors reported, no Lark object in the AST."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import attrs
import lark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policydsl.checking.frontend import load_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.source import Span
from policydsl.syntax import ast
from tests.conftest import POLICIES


def build(text: str) -> tuple[ast.Policy, Sink]:
    sink = Sink()
    loaded = load_text("t.policy", text, sink)
    assert loaded.policy is not None, [d.message for d in sink.diagnostics]
    return loaded.policy, sink


def where(span: Span) -> tuple[int, int, int, int]:
    return span.line, span.col, span.end_line, span.end_col


def walk(node: object) -> list[ast.Node]:
    """Every node under `node`, without recursion limits mattering for these small trees."""
    found: list[ast.Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            found.append(current)
            stack.extend(getattr(current, f.name) for f in attrs.fields(type(current)) if f.name != "span")
        elif isinstance(current, tuple | list):
            stack.extend(current)
    return found


def test_spans_are_one_based() -> None:
    policy, _ = build('fact x "x": money\n')
    (fact,) = policy.items
    assert isinstance(fact, ast.FactDecl)
    assert where(fact.span) == (1, 1, 1, 18)
    assert where(fact.name.span) == (1, 6, 1, 7)
    assert (fact.span.start, fact.span.end) == (0, 17)


def test_columns_count_characters_after_chinese_text() -> None:
    text = '事实 投资额 "项目总投入": 金额 >= 0\n措施 m { 给予 50万 如 投资额 超过 100万 }\n'
    policy, _ = build(text)
    fact, measure = policy.items
    assert isinstance(fact, ast.FactDecl) and isinstance(measure, ast.Measure)
    assert where(fact.name.span) == (1, 4, 1, 7)
    assert where(fact.type.span) == (1, 17, 1, 19)
    (clause,) = measure.clauses
    money = clause.amount.expr
    assert isinstance(money, ast.Money)
    assert where(money.span) == (2, 11, 2, 14)
    cond = clause.conditions[0].expr
    assert isinstance(cond, ast.Compare)
    assert where(cond.span) == (2, 17, 2, 28)
    assert where(cond.right.span) == (2, 24, 2, 28)


def test_spans_cover_the_written_text() -> None:
    text = (POLICIES / "jiangmen_special_fund.policy").read_text(encoding="utf-8")
    policy, sink = build(text)
    assert not sink.has_errors
    nodes = walk(policy)
    assert len(nodes) > 200
    for node in nodes:
        span = node.span
        assert 1 <= span.line <= span.end_line
        assert 0 <= span.start <= span.end <= len(text)
        if isinstance(node, ast.Money | ast.Percent | ast.Count | ast.PerUnit | ast.Duration | ast.DateLit):
            assert text[span.start : span.end] == node.text
        if isinstance(node, ast.Ident | ast.Name):
            assert text[span.start : span.end] == node.text


def test_multi_line_nodes() -> None:
    text = 'measure m "m" {\n  award 1万\n}\n'
    policy, _ = build(text)
    (measure,) = policy.items
    assert where(measure.span) == (1, 1, 3, 2)
    assert where(policy.span) == (1, 1, 4, 1)


def test_no_lark_object_in_the_ast() -> None:
    text = (POLICIES / "shandong_platforms.policy").read_text(encoding="utf-8")
    policy, _ = build(text)
    for node in walk(policy):
        for field in attrs.fields(type(node)):
            value = getattr(node, field.name)
            values = value if isinstance(value, tuple) else (value,)
            assert not any(isinstance(v, lark.Tree | lark.Token) for v in values), (type(node), field.name)


def test_equality_ignores_spans() -> None:
    a, _ = build('fact x "x": money\nassume x > 1万')
    b, _ = build('\n\n  fact   x "x" :   money\n\nassume x>1万')
    assert a.items == b.items


def test_quoted_text_escapes() -> None:
    policy, _ = build('fact x "a \\"quoted\\" label": money')
    (fact,) = policy.items
    assert isinstance(fact, ast.FactDecl) and fact.label == 'a "quoted" label'


def test_language_and_comments() -> None:
    policy, _ = build('# 说明\n政策 "t" {}\n事实 x: 金额  # 金额\n')
    assert policy.chinese
    assert [(c.text, c.span.line) for c in policy.comments] == [("# 说明", 1), ("# 金额", 3)]
    english, _ = build('# 说明\npolicy "t" {}\n')
    assert not english.chinese


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ('policy "t" { issuer "a" issuer "b" }', "E102", "the header gives `issuer` twice"),
        ('policy "t" {}\npolicy "u" {}', "E102", "a file has one policy header"),
        ("measure m { award a: 1万 award b: exception a priority 1.5 1万 }", "E006", "whole number"),
        ("measure m { quota 2.5 }", "E006", "a quota is a whole number"),
        ('policy "t" { valid from issued lasting 3万 }', "E006", "is not a duration"),
        ("assume x == 5家/人", "E006", "only money can be given per unit"),
        ("assume x == 5万%", "E006", "mixes 万/亿 with a percentage"),
        ("assume x == 1.5年", "E006", "whole number of years"),
        ("assume x == 1:0", "E006", "cannot be 0"),
    ],
)
def test_literal_and_header_errors(text: str, code: str, fragment: str) -> None:
    _, sink = build(text)
    found = [d for d in sink.diagnostics if d.code == code]
    assert found and fragment in found[0].message
    assert found[0].span is not None and found[0].span.line >= 1


def test_clause_ids_number_unnamed_clauses() -> None:
    policy, _ = build("measure m { award 1万 award b: 2万 award 3万 }")
    (measure,) = policy.items
    assert isinstance(measure, ast.Measure)
    assert [measure.clause_id(c) for c in measure.clauses] == ["m.1", "m.b", "m.3"]


# Labels and citations reach terminals, diagrams, HTML and logs: a control character in one could
# rewrite a reviewer's screen (CR, ESC [2K, OSC 52) or break a diagram, so check refuses it.
@pytest.mark.parametrize(
    "char", ["\r", "\x1b", "\x00", "\x07", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u2069", "\u200f"]
)
@pytest.mark.parametrize("where", ["label", "cite", "policy"])
def test_control_characters_in_text_are_refused(char: str, where: str) -> None:
    texts = {"label": "m", "cite": "第一条", "policy": "t"}
    texts[where] = f"a{char}b"
    text = (
        f'policy "{texts["policy"]}" {{}}\n'
        f'measure m "{texts["label"]}" cite "{texts["cite"]}" {{ award 1万 }}\n'
    )
    _, sink = build(text)
    [d] = sink.diagnostics
    assert d.code == "E006" and "control character" in d.message
    assert d.span is not None and text[d.span.start] == char


def test_tab_and_escaped_newline_stay_allowed_in_text() -> None:
    policy, sink = build('policy "t" {}\nmeasure m "a\\tb\\nc\tz" { award 1万 }\n')
    assert sink.diagnostics == []
    assert policy.of(ast.Measure)[0].label == "a\tb\nc\tz"


# ------------------------------------------------------------------------- precision of literals


@pytest.mark.parametrize("literal", ["1e-999999999元", "1e-5000元", "1e-41元", "1e-45万元", "1e-45%"])
def test_a_literal_more_precise_than_the_arithmetic_is_refused(literal: str) -> None:
    sink = Sink()
    load_text("t.policy", f'fact inv "投资": money\nmeasure m {{ award 10万 if inv > {literal} }}\n', sink)
    assert [d.code for d in sink.errors_only()] == ["E006"]
    assert "decimal places" in sink.errors_only()[0].message


@given(st.integers(min_value=-80, max_value=60), st.sampled_from(["", "万", "亿"]))
@settings(max_examples=60, deadline=None)
def test_literal_precision_is_bounded_like_fact_values(exponent: int, suffix: str) -> None:
    # the policy text and the applicant's facts refuse the same figures
    text = f"3e{exponent}"
    sink = Sink()
    unit = "" if suffix in ("%", "‰") else "元"
    load_text("t.policy", f'fact inv "投资": money\nassume inv > {text}{suffix}{unit}\n', sink)
    refused_in_text = any(d.code == "E006" for d in sink.errors_only())
    spec = rt.FactSpec("inv", "投资", "number")
    try:
        rt.parse_fact(spec, f"{text}{suffix}" if suffix in ("万", "亿") else text)
        refused_as_fact = False
    except ValueError:
        refused_as_fact = True
    shifted = exponent + {"": 0, "万": 4, "亿": 8, "%": -2, "‰": -3}[suffix]
    assert refused_in_text == (shifted < -rt.MAX_PLACES or shifted >= rt.MAX_DIGITS)
    if suffix in ("", "万", "亿"):
        assert refused_as_fact == refused_in_text


def test_a_tiny_literal_neither_hangs_nor_exhausts_memory(tmp_path: Path) -> None:
    policy = tmp_path / "tiny.policy"
    policy.write_text('fact inv "投资": money\nmeasure m { award 10万 if inv > 1e-999999999元 }\n', "utf-8")
    for command in (["check"], ["compile"]):
        done = subprocess.run(
            [sys.executable, "-c", "from policydsl.commands.cli import main; main()", *command, str(policy)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1
        output = done.stdout + done.stderr
        assert "E006" in output and "Traceback" not in output


# ------------------------------------------------------------------------- units, ranges, caps
_UNITS_HEAD = 'policy "t" {}\n'


@pytest.mark.parametrize("unit", ["家", "人", "所", "亩", "平方米", "千瓦", "千瓦时", "吨", "标准箱"])
def test_every_unit_reads_as_the_unit_of_a_quantity_and_of_an_amount_per_unit(unit: str) -> None:
    policy, _ = build(_UNITS_HEAD + f"assume n >= 1.5{unit} and 10万{unit} > 5万元/{unit} * 0")
    (assume,) = policy.of(ast.Assume)
    nodes = walk(assume)
    counts = sorted((n for n in nodes if isinstance(n, ast.Count)), key=lambda n: n.span.start)
    assert [(c.unit, c.value) for c in counts] == [(unit, Decimal("1.5")), (unit, Decimal(100000))]
    (per,) = [n for n in nodes if isinstance(n, ast.PerUnit)]
    assert (per.unit, per.value) == (unit, Decimal(50000))


def test_the_built_in_units_and_keywords_end_a_quantity() -> None:
    # `100家且` is 100家 and `且`; `50标准箱以上` is 50标准箱 and 以上; `5千瓦` is a power, `5千` money
    policy, _ = build(_UNITS_HEAD + "assume n > 100家且 m 50标准箱以上 and p > 5千瓦 and q > 5千")
    nodes = walk(policy.of(ast.Assume)[0])
    found = sorted((n for n in nodes if isinstance(n, ast.Count | ast.Money)), key=lambda n: n.span.start)
    assert [n.text for n in found] == ["100家", "50标准箱", "5千瓦", "5千"]
    assert [type(n) for n in found] == [ast.Count, ast.Count, ast.Count, ast.Money]


def test_percentage_points_read_as_a_percentage() -> None:
    policy, _ = build(_UNITS_HEAD + "assume 3个百分点 > 2百分点")
    found = sorted(
        (n for n in walk(policy.of(ast.Assume)[0]) if isinstance(n, ast.Percent)), key=lambda n: n.span.start
    )
    assert [n.value for n in found] == [Decimal("0.03"), Decimal("0.02")]


def test_a_comparison_without_its_subject_takes_the_subject_before_it() -> None:
    text = _UNITS_HEAD + "assume revenue 超过 3000万 且 不满 5000万 或 1亿 以上"
    policy, _ = build(text)
    cond = policy.of(ast.Assume)[0].cond
    assert isinstance(cond, ast.Or) and isinstance(cond.left, ast.And)
    second, third = cond.left.right, cond.right
    assert isinstance(second, ast.Compare) and isinstance(third, ast.Compare)
    assert second.elided and third.elided
    assert second.left == ast.Name(second.span, ("revenue",)) and (second.op, third.op) == ("<", ">=")
    assert text[second.span.start : second.span.end] == "不满 5000万"


def test_a_comparison_without_a_subject_after_no_comparison_is_e001() -> None:
    sink = Sink()
    load_text("t.policy", _UNITS_HEAD + "assume flag and 不满 5万", sink)
    assert [(d.code, d.message) for d in sink.diagnostics] == [
        ("E001", "a comparison without its subject must follow a comparison that has one")
    ]


def test_a_cap_may_follow_the_conditions() -> None:
    before, _ = build(_UNITS_HEAD + 'measure m "m" { award 30% * fees cap 5万 if ok cite "三" }')
    after, _ = build(_UNITS_HEAD + 'measure m "m" { award 30% * fees if ok cap 5万 cite "三" }')
    assert before.of(ast.Measure) == after.of(ast.Measure)
    (clause,) = after.of(ast.Measure)[0].clauses
    assert len(clause.amount.caps) == 1 and len(clause.conditions) == 1
