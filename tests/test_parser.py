"""The parser: every construct parses to the expected AST node, literals are exact, statutory words
keep their meaning, and bad input of any kind gives diagnostics, never an exception."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policydsl.checking.frontend import load_bytes, load_text
from policydsl.diagnostics import Diagnostic, Sink
from policydsl.source import SourceFile
from policydsl.syntax import ast
from policydsl.syntax import parser as P
from tests.conftest import POLICIES

PRELUDE = """fact investment "项目总投入": money >= 0
fact revenue "营业收入": money
fact customers "客户数量": count 家
fact level "级别": level
fact established "成立日期": date
fact certified "认定": bool
"""


def parse_ok(text: str) -> ast.Policy:
    sink = Sink()
    loaded = load_text("t.policy", text, sink)
    assert not sink.has_errors, [(d.code, d.message) for d in sink.diagnostics]
    assert loaded.policy is not None
    return loaded.policy


def expr(text: str) -> ast.Expr:
    (assume,) = parse_ok(f"assume {text}").items
    assert isinstance(assume, ast.Assume)
    return assume.cond


def diagnostics(text: str | bytes) -> list[Diagnostic]:
    sink = Sink()
    if isinstance(text, bytes):
        load_bytes("t.policy", text, sink)
    else:
        load_text("t.policy", text, sink)
    return sink.diagnostics


def codes(text: str | bytes) -> list[str]:
    return [d.code for d in diagnostics(text)]


# ------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("literal", "cls", "value"),
    [
        ("50万", ast.Money, Decimal(500000)),
        ("1.5亿", ast.Money, Decimal(150000000)),
        ("200000元", ast.Money, Decimal(200000)),
        ("1000万元", ast.Money, Decimal(10000000)),
        ("3千", ast.Money, Decimal(3000)),
        ("50%", ast.Percent, Decimal("0.5")),
        ("5‰", ast.Percent, Decimal("0.005")),
        ("3000家", ast.Count, Decimal(3000)),
        ("2000万条", ast.Count, Decimal(20000000)),
        ("100万次", ast.Count, Decimal(1000000)),
        ("500人", ast.Count, Decimal(500)),
        ("5万/家", ast.PerUnit, Decimal(50000)),
        ("100万元/项", ast.PerUnit, Decimal(1000000)),
        ("30", ast.Number, Decimal(30)),
        ("0.25", ast.Number, Decimal("0.25")),
    ],
)
def test_quantities_are_exact(literal: str, cls: type, value: Decimal) -> None:
    node = expr(f"x == {literal}")
    assert isinstance(node, ast.Compare)
    assert isinstance(node.right, cls)
    assert node.right.value == value  # type: ignore[attr-defined]
    assert isinstance(node.right.value, Decimal)  # type: ignore[attr-defined]
    assert node.right.text == literal  # type: ignore[attr-defined]


def test_percent_is_the_exact_fraction() -> None:
    node = expr("x == 50%")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.Percent)
    assert node.right.value == Decimal("0.5")
    assert str(node.right.value) in ("0.5", "0.50")


def test_units() -> None:
    count = expr("x == 2000万条")
    assert isinstance(count, ast.Compare) and isinstance(count.right, ast.Count)
    assert count.right.unit == "条"
    per = expr("x == 5万/家")
    assert isinstance(per, ast.Compare) and isinstance(per.right, ast.PerUnit)
    assert per.right.unit == "家"


@pytest.mark.parametrize(
    ("literal", "value", "unit"),
    [("1年", 1, "year"), ("3年", 3, "year"), ("6个月", 6, "month"), ("30天", 30, "day"), ("15日", 15, "day")],
)
def test_durations(literal: str, value: int, unit: str) -> None:
    node = expr(f"x == {literal}")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.Duration)
    assert (node.right.value, node.right.unit) == (value, unit)


def test_ratio() -> None:
    node = expr("x == 1:1")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.Ratio)
    assert (node.right.left, node.right.right) == (Decimal(1), Decimal(1))


@pytest.mark.parametrize("written", ["2021-05-16", "2021年5月16日", "2021-5-16"])
def test_dates_in_both_spellings(written: str) -> None:
    node = expr(f"x == {written}")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.DateLit)
    assert node.right.value == datetime.date(2021, 5, 16)
    assert node.right.text == written


@pytest.mark.parametrize("bad", ["2021-02-30", "2021年13月1日", "2021-00-10"])
def test_impossible_dates_are_e006(bad: str) -> None:
    assert codes(f"assume x == {bad}") == ["E006"]


@pytest.mark.parametrize("bad", ["1:0", "5万%", "1.5年"])
def test_impossible_quantities_are_e006(bad: str) -> None:
    assert "E006" in codes(f"assume x == {bad}")


# ------------------------------------------------------------------------- statutory words


# Civil Code Art. 1259: 以上、以下、以内、届满 include the number; 不满、超过 exclude it; 达到 is "at least".
@pytest.mark.parametrize(
    ("written", "op", "postfix"),
    [
        ("revenue 2000万 以上", ">=", True),
        ("revenue 2000万以上", ">=", True),
        ("revenue 1000万 及以上", ">=", True),
        ("completion 60% 或以上", ">=", True),
        ("revenue 2000万 以下", "<=", True),
        ("revenue 2000万 及以下", "<=", True),
        ("revenue 2000万 以内", "<=", True),
        ("since(established) 届满 1年", ">=", False),
        ("since(established) 满 1年", ">=", False),
        ("customers 达到 100家", ">=", False),
        ("revenue 不低于 2000万", ">=", False),
        ("revenue 超过 2000万", ">", False),
        ("revenue 超过2000万", ">", False),
        ("revenue 不满 2000万", "<", False),
        ("revenue 低于 2000万", "<", False),
        ("revenue 不超过 2000万", "<=", False),
        ("revenue 等于 2000万", "==", False),
        ("revenue >= 2000万", ">=", False),
        ("revenue ≥ 2000万", ">=", False),
        ("revenue > 2000万", ">", False),
        ("revenue <= 2000万", "<=", False),
        ("revenue ≤ 2000万", "<=", False),
        ("revenue < 2000万", "<", False),
        ("revenue == 2000万", "==", False),
        ("revenue != 2000万", "!=", False),
        ("revenue ≠ 2000万", "!=", False),
    ],
)
def test_comparison_words(written: str, op: str, postfix: bool) -> None:
    node = expr(written)
    assert isinstance(node, ast.Compare)
    assert node.op == op
    assert node.postfix is postfix
    assert node.word in written


def test_postfix_comparison_keeps_the_number_on_the_right() -> None:
    node = expr("revenue 10亿元以上")
    assert isinstance(node, ast.Compare)
    assert isinstance(node.left, ast.Name) and node.left.text == "revenue"
    assert isinstance(node.right, ast.Money) and node.right.value == Decimal(1000000000)


# ------------------------------------------------------------------------- expressions


def test_arithmetic_precedence() -> None:
    node = expr("a + b * c > 0")
    assert isinstance(node, ast.Compare) and isinstance(node.left, ast.BinOp)
    assert node.left.op == "+"
    assert isinstance(node.left.right, ast.BinOp) and node.left.right.op == "*"


@pytest.mark.parametrize(("symbol", "op"), [("×", "*"), ("÷", "/"), ("*", "*"), ("/", "/"), ("-", "-")])
def test_operator_spellings(symbol: str, op: str) -> None:
    node = expr(f"a {symbol} b > 0")
    assert isinstance(node, ast.Compare) and isinstance(node.left, ast.BinOp)
    assert (node.left.op, node.left.symbol) == (op, symbol)


def test_logic_precedence() -> None:
    node = expr("a > 1 or b > 1 and not c implies d")
    assert isinstance(node, ast.Implies)
    assert isinstance(node.left, ast.Or)
    assert isinstance(node.left.right, ast.And)
    assert isinstance(node.left.right.right, ast.Not)


def test_chinese_logic_words() -> None:
    node = expr("a > 1 且 b > 1 或 非 c")
    assert isinstance(node, ast.Or) and isinstance(node.left, ast.And) and isinstance(node.right, ast.Not)


def test_membership_and_dotted_names() -> None:
    node = expr("level in [national, provincial]")
    assert isinstance(node, ast.Member)
    assert [v.text for v in node.values] == ["national", "provincial"]
    dotted = expr("level == level.national")
    assert isinstance(dotted, ast.Compare) and isinstance(dotted.right, ast.Name)
    assert dotted.right.parts == ("level", "national")


def test_functions() -> None:
    node = expr("min(50% * investment, 1000万) > max(a, b, c)")
    assert isinstance(node, ast.Compare)
    assert isinstance(node.left, ast.Call) and node.left.func == "min" and len(node.left.args) == 2
    assert isinstance(node.right, ast.Call) and node.right.func == "max" and len(node.right.args) == 3
    since = expr("since(established) 届满 1年")
    assert isinstance(since, ast.Compare) and isinstance(since.left, ast.Call) and since.left.func == "since"


def test_negation_and_booleans() -> None:
    node = expr("-a < 0 and true or false")
    assert isinstance(node, ast.Or) and isinstance(node.right, ast.Bool) and node.right.value is False
    assert isinstance(node.left, ast.And)
    assert isinstance(node.left.left, ast.Compare) and isinstance(node.left.left.left, ast.Negate)


def test_tier_table() -> None:
    node = expr("x == by level { national: 1亿, provincial: 5000万, otherwise: unset }")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.Table)
    table = node.right
    assert table.subject.text == "level"
    assert [e.key.text if e.key else None for e in table.entries] == ["national", "provincial", None]
    first = table.entries[0].value
    assert isinstance(first, ast.Money) and first.value == Decimal(100000000)
    assert isinstance(table.entries[2].value, ast.Unset)


def test_band() -> None:
    node = expr("x == band revenue { 不满 100万: 5万, 100万 以上 且 不满 1000万: 10万, otherwise: 20万 }")
    assert isinstance(node, ast.Compare) and isinstance(node.right, ast.Band)
    band = node.right
    assert isinstance(band.subject, ast.Name)
    first, second, last = band.entries
    assert first.bounds is not None and [(b.op, b.postfix) for b in first.bounds] == [("<", False)]
    assert second.bounds is not None and [b.op for b in second.bounds] == [">=", "<"]
    assert last.bounds is None


# ------------------------------------------------------------------------- declarations

FULL = """
policy "江门市工业互联网专项资金管理实施细则" {
  issuer "江门市工业和信息化局"
  docno "江工信工业互联网〔2021〕4号"
  issued 2021-05-16
  valid from issued lasting 3年
  source "002_feaf6a41846fe068.txt"
  rounding fen half_up
  cite "第十八条"
}
kind enterprise "企业"
kind platform
enum level "级别" { national "国家级", provincial "省级", municipal }
fact investment "项目总投入": money >= 0
fact customers "客户数量": count 家 >= 0 <= 100万家
fact established "成立日期": date
fact center_level "认定级别": level
fact other_funding "已获其他财政资助": money >= 0
fact revenue "营业收入": money >= 0
fact completion_h1 "1-6月完成率": percent
fact completion_h2 "7-12月完成率": percent
fact cluster "产业集群": text
fact upper_funding "上级扶持资金": money >= 0
param pilot_amount "试点奖励金额": money = unset cite "第八条"
param standard "资助标准": money {
  from 2021-01-01 = 5万 cite "第五条"
  from 2023-01-01 = unset
}
assume center_level == national implies investment >= 0 "国家级中心"
eligibility {
  require since(established) 届满 1年 "成立时间满1年" cite "第九条"
  require not other_funding > 0
}
measure center "制造业创新中心" cite "三(二)1" {
  applicants enterprise, platform
  pays cash, voucher
  require investment > 0 "有投资"
  award base "配套奖励": 50% * upper_funding
    cap by center_level { national: 1亿, provincial: 5000万, municipal: 3000万 }
  award national: exception base priority 2 ceiling 3000万 cap 1亿
    if center_level == national unless revenue < 0 cite "四.1"
  award unset if completion_h1 > 0
  bonus 30万 if revenue 超过 2000万
  exclude other_funding > 1亿 "重复资助" cite "第九条(二)"
  prefer customers 达到 100家 "优先支持"
  funding_limit 50% * investment counting other_funding cite "三(二)1"
  quota 30 rank revenue cite "三(二)3"
  group_cap 500万 per cluster allocate proportional
  budget 1亿
  instalment h1 "1-6月": 50% if completion_h1 60% 或以上
  instalment h2: rest if completion_h2 >= 100%
  no_clawback cite "第十四条"
}
measure other "其他" { award 1万 }
combine highest { center, other } cite "三" "就高不重复"
total_cap 1000万 over { center, other }
acknowledge P201 { center.base, other } "待起草处确认"
example "国家级中心" on 2021-06-01 {
  given { applicant: enterprise, center_level: national, upper_funding: 3亿, cluster: "家电" }
  expect center = 1亿
  expect other ceiling 100万
  expect other undetermined
  expect other ineligible
  expect total = 1亿
}
"""


@pytest.fixture(scope="module")
def full() -> ast.Policy:
    return parse_ok(FULL)


def test_header(full: ast.Policy) -> None:
    header = full.header
    assert header is not None
    assert header.title == "江门市工业互联网专项资金管理实施细则"
    assert header.issuer == "江门市工业和信息化局"
    assert header.docno == "江工信工业互联网〔2021〕4号"
    assert header.issued == datetime.date(2021, 5, 16)
    assert header.validity is not None and header.validity.start == "issued"
    assert header.validity.duration is not None and header.validity.duration.value == 3
    assert header.source == "002_feaf6a41846fe068.txt"
    assert header.rounding is not None
    assert (header.rounding.unit.text, header.rounding.mode.text) == ("fen", "half_up")
    assert header.cite == "第十八条"


@pytest.mark.parametrize(
    ("written", "start", "end"),
    [
        ("valid from 2022-01-01 until 2025-12-31", datetime.date(2022, 1, 1), datetime.date(2025, 12, 31)),
        ("valid from unset until 2025-12-31", None, datetime.date(2025, 12, 31)),
        ("有效期 自 印发 至 2020年12月31日", "issued", datetime.date(2020, 12, 31)),
    ],
)
def test_validity(written: str, start: object, end: datetime.date) -> None:
    header = parse_ok(f'policy "t" {{ {written} }}').header
    assert header is not None and header.validity is not None
    assert (header.validity.start, header.validity.end) == (start, end)


def test_issued_unset() -> None:
    header = parse_ok('policy "t" { issued unset }').header
    assert header is not None and header.issued is None


def test_declarations(full: ast.Policy) -> None:
    kinds = full.of(ast.KindDecl)
    assert [(k.name.text, k.label) for k in kinds] == [("enterprise", "企业"), ("platform", None)]
    (level,) = full.of(ast.EnumDecl)
    assert [(m.name.text, m.label) for m in level.members] == [
        ("national", "国家级"),
        ("provincial", "省级"),
        ("municipal", None),
    ]
    facts = {f.name.text: f for f in full.of(ast.FactDecl)}
    customers = facts["customers"]
    assert (customers.type.name.text, customers.type.unit and customers.type.unit.text) == ("count", "家")
    assert [(b.op, b.word) for b in customers.bounds] == [(">=", ">="), ("<=", "<=")]
    assert facts["center_level"].type.name.text == "level" and facts["center_level"].label == "认定级别"


def test_parameters(full: ast.Policy) -> None:
    pilot, standard = full.of(ast.ParamDecl)
    (only,) = pilot.versions
    assert only.start is None and isinstance(only.value, ast.Unset) and only.cite == "第八条"
    assert [v.start for v in standard.versions] == [datetime.date(2021, 1, 1), datetime.date(2023, 1, 1)]
    assert isinstance(standard.versions[0].value, ast.Money) and standard.versions[0].cite == "第五条"
    assert isinstance(standard.versions[1].value, ast.Unset)


def test_assumption_and_eligibility(full: ast.Policy) -> None:
    (assume,) = full.of(ast.Assume)
    assert isinstance(assume.cond, ast.Implies) and assume.label == "国家级中心"
    (eligibility,) = full.of(ast.Eligibility)
    first, second = eligibility.requirements
    assert (first.reason, first.cite) == ("成立时间满1年", "第九条")
    assert isinstance(second.cond, ast.Not) and second.reason is None


def test_measure_items(full: ast.Policy) -> None:
    center = full.of(ast.Measure)[0]
    assert (center.name.text, center.label, center.cite) == ("center", "制造业创新中心", "三(二)1")
    kinds = [type(i).__name__ for i in center.items]
    assert kinds == [
        "Applicants", "Pays", "Requirement", "Clause", "Clause", "Clause", "Clause", "Exclusion",
        "Preference", "FundingLimit", "Quota", "GroupCap", "Budget", "Instalment", "Instalment", "NoClawback",
    ]  # fmt: skip
    (applicants,) = center.of(ast.Applicants)
    assert [k.text for k in applicants.kinds] == ["enterprise", "platform"]
    (pays,) = center.of(ast.Pays)
    assert [f.text for f in pays.forms] == ["cash", "voucher"]


def test_clauses(full: ast.Policy) -> None:
    center = full.of(ast.Measure)[0]
    base, national, unset, bonus = center.clauses
    assert (base.kind, base.name and base.name.text, base.label) == ("award", "base", "配套奖励")
    assert base.amount.mode == "determined" and isinstance(base.amount.expr, ast.BinOp)
    assert len(base.amount.caps) == 1 and isinstance(base.amount.caps[0], ast.Table)
    assert national.exception_of is not None and national.exception_of.text == "base"
    assert national.priority == 2 and national.cite == "四.1"
    assert national.amount.mode == "ceiling" and len(national.amount.caps) == 1
    assert [c.negated for c in national.conditions] == [False, True]
    assert unset.amount.mode == "unset" and unset.amount.expr is None
    assert bonus.kind == "bonus"
    assert center.clause_id(unset) == "center.3"
    assert center.clause_id(base) == "center.base"


def test_measure_constraints(full: ast.Policy) -> None:
    center = full.of(ast.Measure)[0]
    (exclusion,) = center.of(ast.Exclusion)
    assert (exclusion.reason, exclusion.cite) == ("重复资助", "第九条(二)")
    (preference,) = center.of(ast.Preference)
    assert preference.reason == "优先支持"
    (limit,) = center.of(ast.FundingLimit)
    assert [c.text for c in limit.counting] == ["other_funding"] and limit.cite == "三(二)1"
    (quota,) = center.of(ast.Quota)
    assert quota.count == 30 and isinstance(quota.rank, ast.Name)
    (group,) = center.of(ast.GroupCap)
    assert group.per.text == "cluster"
    assert group.allocate is not None and group.allocate.text == "proportional"
    (budget,) = center.of(ast.Budget)
    assert isinstance(budget.amount, ast.Money) and budget.amount.value == Decimal(100000000)
    h1, h2 = center.of(ast.Instalment)
    assert (h1.name.text, h1.label) == ("h1", "1-6月")
    assert isinstance(h1.share, ast.Percent) and h2.share is None
    assert isinstance(h1.cond, ast.Compare) and h1.cond.op == ">=" and h1.cond.postfix
    (clawback,) = center.of(ast.NoClawback)
    assert clawback.cite == "第十四条"


def test_across_measures(full: ast.Policy) -> None:
    (combine,) = full.of(ast.Combine)
    assert combine.mode.text == "highest" and [m.text for m in combine.measures] == ["center", "other"]
    assert (combine.cite, combine.reason) == ("三", "就高不重复")
    (cap,) = full.of(ast.TotalCap)
    assert isinstance(cap.amount, ast.Money) and [m.text for m in cap.measures] == ["center", "other"]
    (ack,) = full.of(ast.Acknowledge)
    assert ack.code.text == "P201" and [t.text for t in ack.targets] == ["center.base", "other"]
    assert ack.reason == "待起草处确认"


def test_example(full: ast.Policy) -> None:
    (example,) = full.of(ast.Example)
    assert example.name == "国家级中心" and example.date == datetime.date(2021, 6, 1)
    assert [b.name.text for b in example.given] == ["applicant", "center_level", "upper_funding", "cluster"]
    assert isinstance(example.given[3].value, ast.Text) and example.given[3].value.value == "家电"
    assert [(e.target.text if e.target else None, e.kind) for e in example.expectations] == [
        ("center", "amount"),
        ("other", "ceiling"),
        ("other", "undetermined"),
        ("other", "ineligible"),
        (None, "amount"),
    ]


def test_comments_are_kept() -> None:
    policy = parse_ok('# 第一条\nfact x "x": money  # 金额\n')
    assert [c.text for c in policy.comments] == ["# 第一条", "# 金额"]


ENGLISH = """policy "个十百" {
  issuer "山东省工业和信息化厅" issued 2018-12-20 valid from issued until 2020-12-31
}
kind platform "平台"
fact key_platform "列入省级重点支持": bool
fact national_platform "列入国家工业互联网平台": bool
measure platform "个十百平台" cite "四.1" {
  applicants platform
  pays interest_subsidy, grant, equity
  award default: ceiling 1000万 if key_platform cite "四.1"
  award national: exception default priority 1 ceiling 3000万 if national_platform and not false cite "四.1"
}
"""
CHINESE = """政策 "个十百" {
  发文机关 "山东省工业和信息化厅" 印发 2018-12-20 有效期 自 印发 至 2020-12-31
}
主体类型 platform "平台"
事实 key_platform "列入省级重点支持": 布尔
事实 national_platform "列入国家工业互联网平台": 布尔
措施 platform "个十百平台" 依据 "四.1" {
  适用主体 platform
  支付方式 贴息, 奖补, 股权投入
  给予 default: 最高 1000万 如 key_platform 依据 "四.1"
  给予 national: 例外 default 优先级 1 最高 3000万 如 national_platform 且 非 否 依据 "四.1"
}
"""


def test_chinese_keywords_give_the_same_tree() -> None:
    english, chinese = parse_ok(ENGLISH), parse_ok(CHINESE)
    assert not english.chinese and chinese.chinese
    assert english.header == chinese.header
    # the vocabulary words (布尔, 贴息…) stay as written; the structure is the same
    for en, zh in zip(english.items, chinese.items, strict=True):
        assert type(en) is type(zh)
    en_measure, zh_measure = english.of(ast.Measure)[0], chinese.of(ast.Measure)[0]
    assert en_measure.clauses == zh_measure.clauses


# ------------------------------------------------------------------------- normalization


def test_full_width_forms_are_folded_outside_strings() -> None:
    text = 'fact x "（５０％）": money\nassume x ＞＝ ５０万  # （注）'
    folded = P.normalize(text)
    assert len(folded) == len(text)
    assert 'fact x "（５０％）": money' in folded
    assert "assume x >= 50万" in folded
    assert folded.endswith("# （注）")


def test_full_width_digits_warn_w211_but_parse() -> None:
    policy_diagnostics = diagnostics("assume x 超过 ５０万")
    assert [d.code for d in policy_diagnostics] == ["W211"]
    assert "`５０` is read as `50`" in policy_diagnostics[0].message


def test_full_width_punctuation_is_folded_silently() -> None:
    assert codes('enum level { a "甲"， b "乙" }\nfact x "x"： level') == []


# ------------------------------------------------------------------------- input that is not text


def test_utf8_bom_is_accepted() -> None:
    assert codes("\ufefffact x: money".encode()) == []


def test_invalid_utf8_is_e004() -> None:
    (d,) = diagnostics(b'fact x "' + "项目".encode("gbk") + b'": money')
    assert d.code == "E004" and "not UTF-8" in d.message
    assert d.span is not None and (d.span.line, d.span.col) == (1, 9)


def test_nul_is_e004() -> None:
    assert codes(b"fact x\x00: money") == ["E004"]


def test_too_large_is_e005(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "MAX_BYTES", 10)
    assert codes(b"fact x: money # long enough") == ["E005"]


def test_empty_file_parses() -> None:
    policy = parse_ok("")
    assert policy.header is None and policy.items == ()


def test_deep_nesting_is_e005_not_a_crash() -> None:
    deep = "assume " + "not " * 5000 + "x"
    assert codes(deep) == ["E005"]
    brackets = "assume " + "(" * 300 + "x" + ")" * 300 + " > 0"
    assert codes(brackets) == ["E005"]
    long_sum = "assume x" + " + x" * 5000 + " > 0"
    assert codes(long_sum) == ["E005"]


def test_moderate_nesting_is_fine() -> None:
    assert codes("assume " + "(" * 50 + "x" + ")" * 50 + " > 0") == []


# ------------------------------------------------------------------------- syntax errors

_RAW = re.compile(
    r"__ANON|\$END|\b(?:RBRACE|LBRACE|LPAR|RPAR|LSQB|RSQB|COLON|COMMA|STRING|QUANTITY|NAME|DATE)\b"
)


def _assert_readable(found: list[Diagnostic]) -> None:
    for d in found:
        assert not _RAW.search(d.message), d.message
        assert not _RAW.search(d.hint or ""), d.hint


def test_error_position_and_expected_words() -> None:
    (d,) = diagnostics('fact investment "项目总投入" money')
    assert d.code == "E001"
    assert d.span is not None and (d.span.line, d.span.col) == (1, 25)
    assert d.message == "expected `:`, found the name `money`"


def test_expected_keywords_follow_the_file_language() -> None:
    (d,) = diagnostics("措施 m {\n  追加\n}")
    assert "`未定`" in d.message and "`unset`" not in d.message
    (d,) = diagnostics("measure m {\n  bonus\n}")
    assert "`unset`" in d.message and "`未定`" not in d.message


def test_end_of_file_points_after_the_last_word() -> None:
    (d,) = diagnostics("measure m {\n  award 1万   \n\n")
    assert d.code == "E002"
    assert d.span is not None and (d.span.line, d.span.col) == (2, 11)
    assert d.notes and d.notes[0].span is not None and (d.notes[0].span.line, d.notes[0].span.col) == (1, 11)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("assume x = 1万", "E001", "`=` is not a comparison"),
        ("measure m { award 1万 if x = 1万 }", "E001", "`=` is not a comparison"),
        ("eligibility { require x = 1万 }", "E001", "`=` is not a comparison"),
        ("assume x => 1万", "E001", "`=>` is written `>=`"),
        ("assume since(a, b) 届满 1年", "E204", "`since` takes one date"),
        ("measure m { award 50万 x > 1 }", "E001", "a condition must start with `if`"),
        ("measure m { award if x }", "E001", "no amount before `if`"),
        ("measure m { award 50万 ceiling 1万 }", "E001", "after an amount is a cap"),
        ("措施 m {\n  给予50万如国家级\n}", "E001", "`如国家级` reads as one name"),
        ("fact x 项目: money", "E001", "`项目` must be in quotes"),
        ("measure m cite 第八条 { award 1万 }", "E001", "`第八条` must be in quotes"),
        ("measure m { award 1,000万 }", "E001", "thousands separators"),
        ("fact x “项目”: money", "E003", "left double quotation mark"),
        ("enum e { a、b }", "E003", "ideographic comma"),
        ('fact x "x: money', "E003", 'no closing `"`'),
        ("assume x > 50 %", "E003", "percent sign"),
        ("measure m { award 50 万 }", "E001", "a number and its unit are written together"),
        ('measure m { award 1.5 亿 cite "三 万" }', "E001", "a number and its unit are written together"),
    ],
)
def test_known_mistakes(text: str, code: str, fragment: str) -> None:
    found = diagnostics(text)
    assert found and found[0].code == code
    assert fragment in found[0].message
    _assert_readable(found)


def test_vocabulary_words_spelled_like_keywords_are_not_blamed() -> None:
    # `分配 未定` (allocate unset) is right; the error is the unquoted citation after it
    (d,) = diagnostics('fact c "c": text\n措施 m { 给予 1万\n  集体封顶 500万 每 c 分配 未定 依据 第八条\n}')
    assert d.message == "`第八条` must be in quotes"


def test_misspelt_keywords_are_suggested() -> None:
    (d,) = diagnostics("measur m { award 1万 }")
    assert d.hint == "did you mean `measure`?"
    (d,) = diagnostics("measure m { awrd 1万 }")
    assert d.hint == "did you mean `award`?"


def test_a_keyword_is_not_taken_for_a_name_in_a_comparison() -> None:
    # `require x y > 1` is not a mistake the catalogue knows: the message is the general one
    (d,) = diagnostics("eligibility { require x y > 1 }")
    assert d.message.startswith("expected ") and "found `>`" in d.message


def test_several_errors_are_reported() -> None:
    text = """fact a "a" money
fact b “b”: money
measure m {
  award 1万 if a = 1
  award 1万
}
measure n { award 1万 cite 第一条 }
"""
    found = diagnostics(text)
    assert [(d.code, d.span.line if d.span else 0) for d in found] == [
        ("E001", 1),
        ("E003", 2),
        ("E001", 4),
        ("E001", 7),
    ]


def test_at_most_max_syntax_errors() -> None:
    text = "\n".join(f'fact x{i} "x" money' for i in range(P.MAX_SYNTAX_ERRORS + 10))
    assert len(diagnostics(text)) == P.MAX_SYNTAX_ERRORS


def test_catalogue_examples_fail_where_their_entry_says() -> None:
    table = P._catalogue_states()
    for mistake in P._CATALOGUE:
        keys = [key for key, entry in table.items() if entry is mistake]
        assert keys, mistake.message
        assert all(token in mistake.tokens for _, token in keys)


def test_describe_expected_uses_words() -> None:
    assert str(P.describe_expected({"RBRACE", "COMMA"})) == "`}` or `,`"
    assert P.describe_expected({"RBRACE", "COMMA"}).render("zh") == "`}`或`,`"
    assert str(P.describe_expected({"STRING"})) == 'a quoted text such as `"第八条"`'
    assert str(P.describe_expected({"NAME", "QUANTITY", "LPAR"})) == "a value (`50万`, `30%`, a name…)"
    assert str(P.describe_expected({"$END"})) == "the end of the file"
    assert str(P.describe_expected(set())) == "something else"


def _tokens_of(text: str) -> list[tuple[int, int]]:
    return [(t.start_pos or 0, t.end_pos or 0) for t in P._parser().lex(text)]


SAMPLE = (POLICIES / "shenzhen_consulting_diagnosis.policy").read_text(encoding="utf-8")


def test_deleting_any_token_gives_readable_diagnostics() -> None:
    """Every file one token short of a real policy: diagnostics with positions, no exception."""
    lines = [line for line in SAMPLE.split("\n") if not line.lstrip().startswith("#")][:60]
    body = "\n".join(lines)
    tokens = _tokens_of(body)
    step = max(1, len(tokens) // 40)
    for start, end in tokens[::step]:
        broken = body[:start] + " " * (end - start) + body[end:]
        found = diagnostics(broken)
        _assert_readable(found)
        for d in found:
            assert d.span is not None and 1 <= d.span.line <= len(lines)


_FRAGMENTS = st.sampled_from(
    [
        "policy", "measure", "award", "给予", "如", "if", "fact", "x", "投资额", '"t"', "{", "}", "(", ")",
        "[", "]", ":", ",", "=", "==", ">=", "以上", "超过", "50万", "50%", "1:1", "3000家", "5万/家",
        "2021-05-16", "2021-02-30", "cap", "ceiling", "by", "band", "since", "min", "\n", " ", "“", "、",
        "#", "\x00", "\ufffd", "ｘ", "５", "-", "*", "not", "and", "unset", "example", "given", "expect",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40).map(" ".join))
def test_no_input_raises(text: str) -> None:
    sink = Sink()
    loaded = load_bytes("t.policy", text.encode("utf-8"), sink)
    for d in sink.diagnostics:
        assert d.code in ("E001", "E002", "E003", "E004", "E005", "E006", "E102", "E204", "W211")
        if d.span is not None and loaded.source is not None:
            assert 0 <= d.span.start <= d.span.end <= len(loaded.source.text)
    _assert_readable(sink.diagnostics)


def test_source_positions() -> None:
    source = SourceFile("t", "ab\n给予 50万\n")
    assert source.position(0) == (1, 1)
    assert source.position(3) == (2, 1)
    assert source.position(6) == (2, 4)
    assert source.line_text(2) == "给予 50万"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='"\\#\n a{}()[]５％＃＂（，　', max_size=40))
def test_code_runs_are_the_characters_outside_strings_and_comments(text: str) -> None:
    # the passes run on every parse (nesting, full-width warnings) scan stretches of code found by a
    # regular expression; they must see exactly the characters the one-by-one scanner sees
    runs = {i for start, end in P._code_runs(text) for i in range(start, end)}
    assert runs == {i for i, _ in P._code_chars(text)}
    assert P._max_nesting(text) == _max_nesting_by_character(text)


def _max_nesting_by_character(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for i, ch in P._code_chars(text):
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, i
        elif ch in ")]}":
            depth -= 1
    return deepest, where


@given(st.text(alphabet='"\\#\n a５％＃＂（，　中', max_size=30))
def test_normalize_folds_only_when_there_is_something_to_fold(text: str) -> None:
    folded = P.normalize(text)
    assert len(folded) == len(text)
    if not any(ch == "\u3000" or "\uff01" <= ch <= "\uff5e" for ch in text):
        assert folded is text


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet='"\\#\n a{5５％＃＂（，　＼中', max_size=40))
def test_normalize_folds_as_the_character_by_character_reading_does(text: str) -> None:
    assert P.normalize(text) == P._normalize_by_character(text)
