"""The type checker: names resolve to the right symbols, expressions get the right types and units,
and every mistake is reported with a message a drafter can act on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policydsl.checking import types as T
from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file, check_text
from policydsl.checking.typecheck import describe
from policydsl.diagnostics import Diagnostic, Sink
from policydsl.syntax import ast
from tests.conftest import POLICIES

HEADER = 'policy "t" {}\n'
PRELUDE = (
    HEADER
    + """kind enterprise "企业"
enum level "级别" { national "国家级", provincial "省级", municipal "市级" }
enum status "状态" { active "在营", national_hq "国家级总部" }
fact investment "项目总投入": money >= 0
fact revenue "营业收入": money >= 0
fact customers "客户数量": count 家 >= 0
fact standards "标准数量": count 项 >= 0
fact completion "完成率": percent
fact center_level "认定级别": level
fact established "成立日期": date
fact certified "认定": bool
fact ratio "比值": number
param pilot "试点金额": money = unset
"""
)


def check(body: str) -> tuple[Model, list[Diagnostic]]:
    sink = Sink()
    checked = check_text("t.policy", PRELUDE + body, sink)
    assert checked.model is not None, [d.message for d in sink.diagnostics]
    return checked.model, sink.diagnostics


def clean(body: str) -> Model:
    model, found = check(body)
    assert found == [], [(d.code, d.message) for d in found]
    return model


def only(body: str) -> Diagnostic:
    _, found = check(body)
    assert len(found) == 1, [(d.code, d.message) for d in found]
    return found[0]


def assumed(model: Model) -> ast.Expr:
    return model.policy.of(ast.Assume)[-1].cond


# ------------------------------------------------------------------------- the model


def test_symbols() -> None:
    model = clean("measure m { award 1万 }")
    assert model.facts["investment"].type == T.MONEY
    assert model.facts["customers"].type == T.count("家")
    assert model.facts["center_level"].type == T.enum("level")
    assert model.facts["applicant"].type == T.enum(T.APPLICANT_ENUM)
    assert model.facts["申报主体"] is model.facts["applicant"]
    assert set(model.kinds) == {"enterprise"}
    assert set(model.enums["level"]) == {"national", "provincial", "municipal"}
    assert model.params["pilot"].type == T.MONEY
    assert set(model.measures) == {"m"}


def test_no_applicant_fact_without_kinds() -> None:
    sink = Sink()
    checked = check_text("t.policy", HEADER + 'fact x "x": money', sink)
    assert checked.model is not None and "applicant" not in checked.model.facts


@pytest.mark.parametrize(
    ("written", "expected", "other"),
    [
        ("50% * investment", T.MONEY, "0"),
        ("investment * 50%", T.MONEY, "0"),
        ("1:1 * investment", T.MONEY, "0"),
        ("5万/家 * customers", T.MONEY, "0"),
        ("customers * 5万/家", T.MONEY, "0"),
        ("investment / 2", T.MONEY, "0"),
        ("investment / revenue", T.PERCENT, "0"),
        ("customers / customers", T.PERCENT, "0"),
        ("investment / customers", T.per_unit("家"), "5万/家"),
        ("min(50% * investment, 1000万)", T.MONEY, "0"),
        ("customers + 3家", T.count("家"), "0"),
        ("ratio * 2", T.NUMBER, "0"),
        ("completion * 2", T.PERCENT, "0"),
        ("established + 1年", T.DATE, "2021-01-01"),
        ("since(established)", T.DURATION, "1年"),
        ("by center_level { national: 1亿, otherwise: 0元 }", T.MONEY, "0"),
        ("band revenue { 不满 100万: 5万, otherwise: 10万 }", T.MONEY, "0"),
        ("blocks(investment - 1000万, 100万)", T.NUMBER, "0"),
        ("每满(completion - 5%, 1%)", T.NUMBER, "0"),
        ("blocks(customers, 10家)", T.NUMBER, "0"),
        ("10万 * blocks(investment, pilot)", T.MONEY, "0"),
        ("round_down(investment, 1万)", T.MONEY, "0"),
        ("向下取整(customers, 10家)", T.count("家"), "0"),
        ("max(investment - 1000万, 0)", T.MONEY, "0"),
        ("min(0, completion)", T.PERCENT, "0"),
        ("max(customers - 3家, 0)", T.count("家"), "0"),
        ("investment - 0", T.MONEY, "0"),
    ],
)
def test_expression_types(written: str, expected: T.Type, other: str) -> None:
    model = clean(f"assume {written} >= {other}")
    compare = assumed(model)
    assert isinstance(compare, ast.Compare)
    assert model.type_of(compare.left) == expected
    assert model.type_of(compare) == T.BOOL


def test_references() -> None:
    model = clean("assume center_level == national and investment > pilot")
    cond = assumed(model)
    assert isinstance(cond, ast.And)
    level, pilot = cond.left, cond.right
    assert isinstance(level, ast.Compare) and isinstance(level.right, ast.Name)
    ref = model.ref(level.right)
    assert isinstance(ref, T.EnumValueSym) and (ref.enum, ref.member) == ("level", "national")
    assert isinstance(level.left, ast.Name)
    fact = model.ref(level.left)
    assert isinstance(fact, T.FactSym) and fact.label == "认定级别"
    assert isinstance(pilot, ast.Compare) and isinstance(pilot.right, ast.Name)
    param = model.ref(pilot.right)
    assert isinstance(param, T.ParamSym) and param.label == "试点金额"


def test_enum_values_resolve_by_the_expected_enum() -> None:
    # `national` is a value of `level` only: found without the enum's name
    clean("assume certified implies center_level in [national, provincial]")
    model = clean("assume center_level == level.municipal")
    cond = assumed(model)
    assert isinstance(cond, ast.Compare) and isinstance(cond.right, ast.Name)
    ref = model.ref(cond.right)
    assert isinstance(ref, T.EnumValueSym) and ref.member == "municipal"


def test_enum_value_wins_over_a_fact_of_the_same_name_where_the_enum_is_expected() -> None:
    model = clean('fact active "在营标志": text\nfact st "状态": status\nassume st == active')
    cond = assumed(model)
    assert isinstance(cond, ast.Compare) and isinstance(cond.right, ast.Name)
    ref = model.ref(cond.right)
    assert isinstance(ref, T.EnumValueSym) and ref.member == "active"


def test_percentages_over_100_are_fine_in_examples() -> None:
    clean('measure m { award 1万 }\nexample "e" { given { completion: 120% } expect m = 1万 }')
    assert only("assume completion <= 120%").code == "W210"


def test_clause_lookup() -> None:
    model = clean("measure m { award base: 1万 award 2万 }")
    assert model.clause("m", "base") is not None
    assert model.clause("m", "2") is not None
    assert model.clause("m", "other") is None
    assert model.clause("nope", "base") is None


def test_describe() -> None:
    assert str(describe(T.MONEY)) == "an amount of money"
    assert str(describe(T.count("家"))) == "a count of 家"
    assert str(describe(T.per_unit("项"))) == "an amount per 项"
    assert str(describe(T.enum("level"))) == "a value of `level`"
    assert str(describe(T.enum(T.APPLICANT_ENUM))) == "an applicant kind"
    assert str(describe(T.BOOL)) == "a true/false value"
    assert describe(T.count("家")).render("zh") == "以家计的数量"


def test_a_hint_proposes_code_in_the_files_keyword_language() -> None:
    sink = Sink()
    text = '政策 "t" { 发文机关 "x" 印发 2021-05-16 }\n事实 boxes "卷烟产量": 数量 标准箱 >= 0\n'
    check_text("t.policy", text, sink)
    [d] = sink.diagnostics
    assert d.hint_msg is not None
    assert d.hint_msg.render("zh") == "请先声明：`计量单位 标准箱`"
    assert d.msg.render("zh") == "未知的单位 `标准箱`"


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_bundled_policies_check_clean(path: object) -> None:
    sink = Sink()
    check_file(path, sink)  # type: ignore[arg-type]
    assert sink.diagnostics == []


# ------------------------------------------------------------------------- names


def test_unknown_name_suggests_the_closest() -> None:
    d = only("assume investmnt > 0")
    assert (d.code, d.message, d.hint) == ("E101", "unknown name `investmnt`", "did you mean `investment`?")


def test_unknown_name_with_a_glued_keyword() -> None:
    d = only("assume 如认定")
    assert d.code == "E101" and d.hint is not None and "keyword `如`" in d.hint


def test_unknown_name_without_a_suggestion_shows_a_declaration() -> None:
    d = only("assume zzz > 0")
    assert d.hint is not None and d.hint.startswith("declare it: `fact zzz")


def test_duplicate_points_at_the_first() -> None:
    d = only('fact revenue "营业收入": money')
    assert d.code == "E102" and d.message == "`revenue` is already defined"
    assert d.notes and d.notes[0].span is not None and d.notes[0].span.line == 6


def test_unknown_type_and_enum_value() -> None:
    assert only('fact x "x": moneys').hint == "did you mean `money`?"
    d = only("assume center_level == county")
    assert (d.code, d.message) == ("E104", "`county` is not a value of `level`")
    assert d.hint == "its values are `national`, `provincial`, `municipal`"


def test_unknown_measure_kind_option() -> None:
    assert only("combine highest { m, n }\nmeasure m { award 1万 }").code == "E105"
    assert only("measure m { applicants platform\n award 1万 }").code == "E106"
    d = only("measure m { pays vouchers\n award 1万 }")
    assert (d.code, d.hint) == ("E107", "did you mean `voucher`?")


def test_exception_must_name_a_clause_of_its_measure() -> None:
    d = only("measure m { award base: 1万 award x: exception bsae 2万 }")
    assert d.code == "E105" and "`m` has no clause `bsae`" in d.message


def test_reserved_words_cannot_name_things() -> None:
    d = only('fact total "合计": money')
    assert d.code == "E208" and "`total` is a keyword" in d.message


@pytest.mark.parametrize(
    "body",
    [
        'measure m { award if "c": 5万 }',
        "measure m { bonus 追加: 1万 if certified\n award 5万 }",
        "measure m { award 5万\n instalment rest: 50% if certified }",
    ],
)
def test_keywords_cannot_name_clauses_or_instalments(body: str) -> None:
    d = only(body)
    assert d.code == "E208" and "is a keyword" in d.message


@pytest.mark.parametrize(
    "body",
    [
        # a bonus replacing a bonus: no back end settles exceptions among bonuses
        "measure m { award 5万\n bonus t30: 10万 if certified\n bonus t50: exception t30 priority 1 20万 }",
        # an award replacing a bonus, a bonus replacing an award
        "measure m { award a: 5万\n bonus b: 1万\n award c: exception b 2万 }",
        "measure m { award a: 5万\n bonus c: exception a 2万 }",
    ],
)
def test_exceptions_only_between_award_clauses(body: str) -> None:
    d = only(body)
    assert d.code == "E109" and "exception" in d.message


@pytest.mark.parametrize(
    "rule",
    [
        "funding_limit 50% * investment counting revenue",
        "quota 10",
        "group_cap 100万 per center_level",
        "budget 1亿",
        "no_clawback",
    ],
)
def test_a_rule_stated_twice_in_a_measure_is_refused(rule: str) -> None:
    # evaluation applied one of two funding limits, quotas or group caps and ignored the other,
    # while the analysis and the diagrams read both
    d = only(f"measure m {{ award 5万\n {rule}\n {rule} }}")
    assert d.code == "E102" and "a measure has one" in d.message
    assert d.span is not None and d.span.line == PRELUDE.count("\n") + 3
    assert [n.message for n in d.notes] == ["first stated here"]


def test_missing_header_warns_at_the_start() -> None:
    sink = Sink()
    check_text("t.policy", '\n\nfact x "x": money', sink)
    (d,) = sink.diagnostics
    assert d.code == "W108" and d.span is not None and (d.span.line, d.span.col) == (1, 1)


# ------------------------------------------------------------------------- types and units


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("assume investment + 50% > 0", "E201", "cannot add a percentage to an amount of money"),
        ("assume investment - established > 0", "E201", "cannot subtract a date from an amount of money"),
        ("assume investment * revenue > 0", "E201", "cannot multiply an amount of money by an amount"),
        ("assume customers > 100万", "E202", "cannot compare a count of 家 with an amount of money"),
        ("assume revenue > 1000", "E202", "cannot compare an amount of money with a plain number"),
        ("assume center_level > national", "E202", "`>` orders amounts, numbers and dates"),
        ("assume customers * 5万 > 0", "E203", "a count times money needs an amount per unit"),
        ("assume min(revenue) > 0", "E204", "`min` takes at least two arguments, not 1"),
        ("assume revenue", "E205", "a condition must be true or false, but this is an amount of money"),
        ("measure m { award 50% }", "E206", "an award must be an amount of money, but this is a percentage"),
        ("measure m { award 1万 cap 3 }", "E206", "a cap must be an amount of money"),
        ("assume 5万/家 * standards > 0", "E207", "the amount is per 家, but the count is of 项"),
        ("assume customers > 3项", "E207", "cannot compare a count of 家 with a count of 项"),
        ("assume investment / 0 > 0", "E209", "division by zero"),
        ("assume blocks(investment, 0) > 0", "E209", "the unit of `blocks` is zero"),
        ("assume round_down(investment, 0元) > 0", "E209", "the unit of `round_down` is zero"),
        ("assume 每满(investment, -100万) > 0", "E209", "the unit of `blocks` is below zero"),
        ("assume blocks(investment) > 0", "E204", "`blocks` takes an amount and a unit, not 1 arguments"),
        ("assume round_down(investment, 1万, 2) > 0", "E204", "not 3 arguments"),
        (
            "assume blocks(investment, 10家) > 0",
            "E201",
            "`blocks` mixes an amount of money and a count of 家",
        ),
        ("assume blocks(established, 1年) > 0", "E201", "`blocks` mixes a date and a duration"),
        ("assume round_down(certified, certified)", "E201", "counts amounts, numbers and percentages"),
        ("assume max(investment, 5) > 0", "E201", "`max` mixes an amount of money and a plain number"),
        ("assume min(completion, 1) > 0", "E201", "`min` mixes a percentage and a plain number"),
        ("assume investment + 5 > 0", "E201", "cannot add a plain number to an amount of money"),
        ("measure m { award blocks(investment, 100万) }", "E206", "an award must be an amount of money"),
        (
            "measure m { award progressive investment { 超过 1000万: 5%, 不超过 1000万: 10% } }",
            "E212",
            "only the last bracket is open above",
        ),
        (
            "measure m { award progressive investment { 不超过 1万: 10%, 超过 1万 且 超过 2万: 5% } }",
            "E212",
            "at most one lower and one upper limit",
        ),
        (
            "measure m { award progressive investment { 等于 1000万: 10% } }",
            "E212",
            "`等于` does not bound it",
        ),
        (
            "measure m { award progressive investment { 不超过 revenue: 10%, 超过 1000万: 5% } }",
            "E208",
            "a bracket's limits are fixed figures or parameters, not facts",
        ),
        (
            "measure m { award progressive investment { 不超过 1000万: 1万, 超过 1000万: 5% } }",
            "E201",
            "cannot multiply an amount of money by an amount of money",
        ),
        ("measure m { award progressive established { 不超过 1000万: 10% } }", "E201", "not a date"),
        ("assume since(investment) 届满 1年", "E201", "`since` needs a date"),
        ("assume year(investment) >= 2020", "E201", "`year` needs a date, but this is an amount of money"),
        (
            "measure m { award schedule established { years 1 until 3: 2万, years 3 until 5: 1万 } }",
            "E216",
            "year 3 is in two rows of the schedule",
        ),
        (
            "measure m { award schedule established { 第3至1年: 1万 } }",
            "E216",
            "years 3 until 1 run backwards",
        ),
        (
            "measure m { award 1万 if schedule established { years 1: 1万 } > 0元 }",
            "E216",
            "a schedule by year gives a clause's amount or cap",
        ),
        (
            "measure m { award band revenue { 不满 100万: schedule established { years 1: 1万 } } }",
            "E216",
            "a schedule by year gives a clause's amount or cap",
        ),
        (
            "measure m { funding_limit schedule established { years 1: 1万 } counting revenue\n award 1万 }",
            "E216",
            "gives a clause's amount",
        ),
        ("measure m { award schedule revenue { years 1: 1万 } }", "E201", "counts years from a date"),
        (
            "measure m { award schedule established { years 1: 1万, years 2: 5% } }",
            "E201",
            "a schedule by year mixes",
        ),
        ("measure m { award schedule established { 第0年: 1万 } }", "E006", "is not a year of a schedule"),
        ('param p "p": money = 50%', "E201", "`p` is an amount of money, but this value is a percentage"),
        ("measure m { award 1万\n instalment a: 1万 if certified }", "E201", "an instalment pays a share"),
    ],
)
def test_type_errors(body: str, code: str, message: str) -> None:
    d = only(body)
    assert d.code == code
    assert message in d.message


def test_hints_say_how_to_write_it() -> None:
    assert only("assume customers * 5万 > 0").hint == "write the amount per 家: `customers * 5万/家`"
    hint = "write the figure as an amount such as `2000万` or `200000元`"
    assert only("assume revenue > 1000").hint == hint
    assert only("assume completion > 60").hint == "write a percentage such as `60%`"
    assert only("assume center_level").hint == "compare it with a value: `center_level == national`"
    assert only("assume revenue").hint == "compare it with a threshold: `revenue 超过 …`"
    assert only("measure m { award 50% }").hint == "a percentage of what? write `50% * investment`"
    assert only("assume max(investment, 5) > 0").hint == hint
    assert only("assume min(5, investment) > 0").hint == hint
    assert only("assume max(5%, 1) > 0").hint == "write a percentage such as `60%`"
    hint = "give the size of one block: `blocks(investment - 1000万, 100万)`"
    assert only("assume blocks(investment, 0) > 0").hint == hint
    hint = "`blocks` counts the blocks; multiply by the award per block: `10万 * blocks(…)`"
    assert only("measure m { award blocks(investment, 100万) }").hint == hint


def test_a_plain_zero_takes_the_unit_of_the_other_operand() -> None:
    # `max(x - 1000万, 0)` was E201 ("mixes money and a plain number"): only a literal 0 adopts the unit
    model = clean("assume max(investment - 1000万, 0) + 0 >= 0")
    compare = assumed(model)
    assert isinstance(compare, ast.Compare) and isinstance(compare.left, ast.BinOp)
    call, plus_zero = compare.left.left, compare.left.right
    assert isinstance(call, ast.Call) and isinstance(plus_zero, ast.Number)
    assert [model.type_of(call.args[1]), model.type_of(plus_zero)] == [T.MONEY, T.MONEY]
    assert model.type_of(compare.right) == T.NUMBER  # a comparison with 0 stays as it was
    assert only("assume max(investment - 1000万, 0, 5) > 0").code == "E201"


def test_zero_compares_with_any_amount() -> None:
    clean("assume revenue > 0 and completion >= 0 and investment - revenue >= 0")


def test_count_compares_with_a_plain_number() -> None:
    clean("assume customers >= 100 and customers 达到 100家")


def test_percentage_over_100_is_a_warning() -> None:
    d = only("assume completion >= 120%")
    assert (d.code, str(d.severity)) == ("W210", "warning")


def test_errors_do_not_cascade() -> None:
    # an unknown name is reported where it is used, and nothing more: not once per operator above it
    _, found = check("measure m { award min(50% * investmnt + 1万, 100万) if investmnt > 0 and certified }")
    assert [(d.code, d.span.col if d.span else 0) for d in found] == [("E101", 29), ("E101", 54)]


def test_example_bindings_are_checked() -> None:
    _, found = check(
        """measure m { award 1万 }
example "e" {
  given { applicant: enterprise, revenue: 50%, nosuch: 1万, center_level: national, customers: 30 }
  expect m = 1万
  expect total = 50%
}"""
    )
    assert [(d.code, d.message) for d in found] == [
        ("E201", "`revenue` is an amount of money, but this value is a percentage"),
        ("E101", "`nosuch` is not a fact"),
        ("E206", "an expected award must be an amount of money, but this is a percentage"),
    ]


def test_band_thresholds_cannot_read_facts() -> None:
    found = only("measure m { award band revenue { 不满 investment: 5万, otherwise: 10万 } }")
    assert found.code == "E208" and "investment" in found.message
    clean("measure m { award band revenue { 不满 100万: 5万, otherwise: 10万 } }")


def test_a_parameter_that_makes_a_block_size_zero_is_refused() -> None:
    body = 'param step "每档": money {\n  from 2021-01-01 = 100万\n  from 2022-01-01 = 0元\n}\n'
    d = only(body + "assume blocks(investment, step) > 0")
    assert (d.code, d.message) == ("E209", "the unit of `blocks` is zero")
    notes = [(n.message, n.span.line if n.span else 0) for n in d.notes]
    assert notes == [("the parameter is zero here", 17)]
    d = only('param unit "单位": money = -1万\nassume round_down(investment, unit) > 0')
    assert (d.code, d.message) == ("E209", "the unit of `round_down` is below zero")
    clean('param step "每档": money = 100万\nassume blocks(investment, step) + blocks(investment, pilot) > 0')


# ------------------------------------------------------------------------- units


def test_built_in_measuring_units_and_a_declared_unit_price_per_unit() -> None:
    model = clean(
        "declare_unit 标准箱\n"
        'fact area "用地面积": count 亩 >= 0\nfact boxes "卷烟产量": count 标准箱 >= 0\n'
        'measure m "措施" { award area * 100元/亩 + boxes * 2元/标准箱\n'
        "  if area 50亩 以上 and boxes > 10标准箱 }"
    )
    assert model.facts["area"].type == T.count("亩")


def test_a_unit_neither_built_in_nor_declared_is_unknown() -> None:
    d = only('fact boxes "卷烟产量": count 标准箱 >= 0')
    assert (d.code, d.message) == ("E103", "unknown unit `标准箱`")
    assert d.hint == "declare it: `declare_unit 标准箱`"
    _, found = check('measure m "措施" { award 5元/标准箱 * customers }')
    assert (found[0].code, found[0].message) == ("E103", "unknown unit `标准箱`")


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        ("declare_unit 亩", "`亩` is a built-in unit; it needs no declaration"),
        ("declare_unit 万吨", "a unit cannot begin with `万`: `50万吨` would read as another unit"),
        ("declare_unit 人次", "a unit cannot begin with `人`: `50人次` would read as another unit"),
    ],
)
def test_a_unit_that_could_not_be_written_is_refused(decl: str, message: str) -> None:
    d = only(decl)
    assert (d.code, d.message) == ("E208", message)


def test_an_amount_per_one_unit_times_an_area_of_another_is_e207() -> None:
    d = only('fact area "用地面积": count 亩 >= 0\nmeasure m "措施" { award area * 20元/平方米 }')
    assert d.code == "E207"


def test_percentage_points_are_a_percentage_that_adds_to_a_rate() -> None:
    model = clean("assume completion + 3个百分点 >= 8%")
    cond = assumed(model)
    assert isinstance(cond, ast.Compare) and isinstance(cond.left, ast.BinOp)
    points = cond.left.right
    assert isinstance(points, ast.Percent) and points.value == Decimal("0.03")


# ---------------------------------------------------------------- funding limits counting awards
SHARED_A = 'measure a "甲" { award 10万\n  funding_limit 50% * investment counting revenue, b }\n'
SHARED_B = 'measure b "乙" { award 20万\n  funding_limit 50% * investment counting a }\n'


def test_a_funding_limit_counts_facts_and_other_measures() -> None:
    model = clean(SHARED_A + 'measure b "乙" { award 20万 }\n')
    (limit,) = model.measures["a"].of(ast.FundingLimit)
    assert [c.text for c in limit.counting] == ["revenue", "b"]


def test_funding_limits_counting_each_other_are_a_circle() -> None:
    d = only(SHARED_A + SHARED_B)
    assert d.code == "E225" and "a → b → a" in d.message
    assert d.hint is not None and "paid first" in d.hint


def test_a_longer_circle_is_reported_once() -> None:
    c = 'measure c "丙" { award 1万\n  funding_limit 50% * investment counting b }\n'
    b = 'measure b "乙" { award 20万\n  funding_limit 50% * investment counting c }\n'
    d = only(SHARED_A.replace("revenue, b", "c") + b + c.replace("counting b", "counting a"))
    assert d.code == "E225"


def test_a_funding_limit_counting_its_own_measure_is_refused() -> None:
    d = only('measure a "甲" { award 10万\n  funding_limit 50% * investment counting revenue, a }\n')
    assert d.code == "E225" and "itself" in d.message


def test_a_measure_counted_twice_is_refused() -> None:
    d = only(SHARED_A.replace("revenue, b", "b, b") + 'measure b "乙" { award 20万 }\n')
    assert d.code == "E208" and "counted twice" in d.message


def test_a_fact_counted_must_be_money() -> None:
    d = only('measure a "甲" { award 10万\n  funding_limit 50% * investment counting customers }\n')
    assert d.code == "E206"


def test_an_example_base_must_name_one_example_or_base_block() -> None:
    d = only('measure m { award 1万 }\nexample "e" from "典形企业" { expect m = 1万 }')
    assert (d.code, d.message) == ("E120", 'no example or `base_applicant` block named "典形企业"')
    body = 'base_applicant "b" { given { revenue: 1万 } }\nexample "b" { given {} }\n'
    d = only(body + 'measure m { award 1万 }\nexample "e" from "b" { expect m = 1万 }')
    assert (d.code, d.message) == ("E120", '2 examples or `base_applicant` blocks are named "b"')
    clean('measure m { award 1万 }\nbase_applicant "b" { given { revenue: 1万 } }\nexample "e" from "b" {}')


def test_examples_may_not_extend_each_other_in_a_circle() -> None:
    _, found = check(
        'measure m { award 1万 }\nexample "a" from "c" { given {} }\nexample "b" from "a" {}\n'
        'example "c" from "b" {}\nexample "d" from "c" {}\n'
    )
    assert [(d.code, d.message) for d in found] == [
        ("E121", 'the examples extend each other in a circle: "a" → "c" → "b" → "a"'),
        ("E121", 'the examples extend each other in a circle: "b" → "a" → "c" → "b"'),
        ("E121", 'the examples extend each other in a circle: "c" → "b" → "a" → "c"'),
    ]  # "d" extends the circle without being in it: the circle is reported where it is written
    d = only('measure m { award 1万 }\nexample "self" from "self" {}')
    assert d.code == "E121"


def test_example_parameters_are_checked() -> None:
    _, found = check('measure m { award 1万 }\nexample "e" { with { pilot: 50%, nosuch: 1万 } }')
    assert [(d.code, d.message) for d in found] == [
        ("E201", "`pilot` is an amount of money, but this value is a percentage"),
        ("E101", "`nosuch` is not a parameter"),
    ]
    clean('measure m { award pilot }\nexample "e" { with { pilot: 5万 } expect m = 5万 }')


# ---------------------------------------------------------------- awards under other documents
OTHER_MEASURES = 'measure a "甲" { award 10万 }\nmeasure b "乙" { award 20万 }\ncombine added { a, b }\n'


def test_a_combination_against_other_documents_names_a_money_fact() -> None:
    model = clean(OTHER_MEASURES + "combine highest against investment { a }\n")
    (rule,) = [c for c in model.policy.of(ast.Combine) if c.other is not None]
    assert rule.other is not None and rule.other.text == "investment"


@pytest.mark.parametrize("name", ["certified", "customers", "pilot"])
def test_the_award_received_elsewhere_must_be_a_money_fact(name: str) -> None:
    d = only(OTHER_MEASURES + f"combine highest against {name} {{ a }}\n")
    assert d.code == "E235" and f"`{name}` must be a money fact" in d.message
    assert d.hint is not None and "money" in d.hint


def test_other_documents_cannot_be_added_by_a_rule() -> None:
    d = only(OTHER_MEASURES + "combine added against investment { all }\n")
    assert d.code == "E235" and "`highest`" in d.message


def test_a_total_cap_across_the_rule_and_other_measures_is_refused() -> None:
    d = only(OTHER_MEASURES + "total_cap 25万 over { a, b }\ncombine highest against investment { a }\n")
    assert d.code == "E235" and "total cap" in d.message
    clean(OTHER_MEASURES + "total_cap 25万 over { a, b }\ncombine highest against investment { a, b }\n")
    clean(OTHER_MEASURES + "total_cap 25万 over { a, b }\ncombine exclusive against investment { all }\n")


def test_an_unknown_fact_against_other_documents_is_an_unknown_name() -> None:
    d = only(OTHER_MEASURES + "combine highest against elsewhere { a }\n")
    assert d.code == "E101"
