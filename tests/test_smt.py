"""The solver encoding: exact money, the calendar, rounding, validity, unknowns, time limits, the
independent parts of a query and the extreme-value search."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from policydsl.analysis import smt
from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.plan.lower import Plan, lower

HEADER = 'policy "编码" { issuer "测试" issued 2021-05-16 valid from issued lasting 3年 }\n'


def model_of(text: str) -> Model:
    sink = Sink()
    checked = check_text("smt.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return checked.model


_PLANS: dict[int, tuple[Model, Plan]] = {}


def plan_of(model: Model) -> Plan:
    """The plan of `model`, one per model, so that the encoder and the test name the same nodes."""
    hit = _PLANS.get(id(model))
    if hit is None or hit[0] is not model:
        hit = _PLANS[id(model)] = (model, lower(model))
    return hit[1]


def condition(model: Model, measure: str = "m") -> P.Expr:
    return plan_of(model).measure(measure).clauses[0].conditions[0].cond


def session(model: Model, timeout_ms: int = 10000) -> tuple[smt.Encoder, smt.Session]:
    enc = smt.Encoder(plan_of(model))
    return enc, smt.Session(enc, timeout_ms)


def test_money_is_whole_fen_so_a_strict_threshold_has_an_exact_witness() -> None:
    model = model_of(
        HEADER + 'fact revenue "营收": money >= 0\nmeasure m "m" { award 1万 if revenue 超过 2000万 }\n'
    )
    enc, s = session(model)
    answer = s.check([enc.cond(condition(model))], ["revenue"])
    assert answer.sat and answer.witness is not None
    assert answer.witness.facts["revenue"] > Decimal(20000000)
    assert answer.witness.facts["revenue"] == answer.witness.facts["revenue"].quantize(Decimal("0.01"))
    # no amount strictly between 2000万 and 2000万 + 1 fen
    fen = enc.fen["revenue"]
    assert s.check([enc.cond(condition(model)), fen < 2000000001]).unsat


def test_percentages_and_counts_are_exact() -> None:
    model = model_of(
        HEADER + 'fact share "占比": percent >= 0%\nfact staff "人数": count 人 >= 0\n'
        'measure m "m" { award 1万 if share * 3 == 100% and staff * 2 == 7人 }\n'
    )
    enc, s = session(model)
    assert s.check([enc.cond(condition(model))]).unsat  # 7/2 people is not a count
    model = model_of(
        HEADER + 'fact share "占比": percent >= 0%\nmeasure m "m" { award 1万 if share * 3 == 100% }\n'
    )
    enc, s = session(model)
    answer = s.check([enc.cond(condition(model))], ["share"])
    assert answer.witness is not None and answer.witness.facts["share"] == Fraction(1, 3)


DATES = [
    datetime.date(2020, 2, 29),
    datetime.date(2021, 1, 31),
    datetime.date(2021, 3, 31),
    datetime.date(2021, 12, 31),
    datetime.date(2022, 6, 15),
    datetime.date(2023, 2, 28),
]


@pytest.mark.parametrize("duration", ["1年", "3年", "1个月", "13个月", "6个月", "30天", "365天"])
def test_since_follows_the_runtime_calendar(duration: str) -> None:
    model = model_of(
        'policy "日历" { issuer "测试" issued 2018-01-01 }\nfact d "成立日期": date\n'
        f'measure m "m" {{ award 1万 if since(d) 届满 {duration} }}\n'
    )
    enc, s = session(model)
    count = int("".join(ch for ch in duration if ch.isdigit()))
    unit = {"年": "year", "个月": "month", "天": "day"}[duration.lstrip("0123456789")]
    held = enc.cond(condition(model))
    start_var = enc.facts["d"]
    for start in DATES:
        boundary = rt.add_duration(start, count, unit)
        for today in (boundary - datetime.timedelta(days=1), boundary, boundary + datetime.timedelta(days=1)):
            pins = [
                start_var.key == smt._date_const(enc, start).key,
                enc.today().key == smt._date_const(enc, today).key,
            ]
            expected = rt.since_compare(start, today, ">=", count, unit)
            assert s.check([held, *pins]).sat == expected, (start, today, duration)
            assert s.check([enc.not_(held), *pins]).sat != expected, (start, today, duration)


def test_dates_are_real_calendar_days() -> None:
    model = model_of(
        'policy "日历" { issuer "测试" issued 2018-01-01 }\nfact d "日期": date\n'
        'measure m "m" { award 1万 if d > 2023-02-28 and d < 2023-03-01 }\n'
        'measure n "n" { award 1万 if d > 2024-02-28 and d < 2024-03-01 }\n'
    )
    enc, s = session(model)
    assert s.check([enc.cond(condition(model, "m"))]).unsat  # 2023 is not a leap year
    answer = s.check([enc.cond(condition(model, "n"))], ["d"])
    assert answer.witness is not None and answer.witness.facts["d"] == datetime.date(2024, 2, 29)


@pytest.mark.parametrize("mode", ["half_up", "half_even", "down"])
@pytest.mark.parametrize("unit", ["fen", "jiao", "yuan"])
def test_rounding_matches_decimal(mode: str, unit: str) -> None:
    model = model_of(f'policy "舍入" {{ issuer "测试" issued 2021-01-01 rounding {unit} {mode} }}\n')
    enc, _ = session(model)
    rounding = rt.Rounding(unit, mode)
    for text in [
        "0.005",
        "0.015",
        "0.025",
        "-0.005",
        "-0.015",
        "2.5",
        "3.5",
        "-2.5",
        "1.2345",
        "0.04999",
        "0.05",
    ]:
        value = Decimal(text)
        got = smt._as_fraction(smt.z3.simplify(enc.round(enc.real(value))))
        assert got == Fraction(rounding(value)), (text, mode, unit)
        assert enc.round_value(Fraction(value)) == Fraction(rounding(value))


def test_the_evaluation_date_stays_inside_the_validity() -> None:
    model = model_of(HEADER + 'fact d "日期": date\nmeasure m "m" { award 1万 if since(d) 届满 1年 }\n')
    enc, s = session(model)
    held = enc.cond(condition(model))
    late = enc.today().key > smt._date_const(enc, datetime.date(2024, 5, 15)).key
    early = enc.today().key < smt._date_const(enc, datetime.date(2021, 5, 16)).key
    assert s.check([held, late]).unsat and s.check([held, early]).unsat
    answer = s.check([held], ["d"])
    assert answer.witness is not None and answer.witness.on is not None
    assert datetime.date(2021, 5, 16) <= answer.witness.on <= datetime.date(2024, 5, 15)


def test_an_unset_parameter_is_an_unknown_the_witness_names() -> None:
    model = model_of(
        HEADER + 'fact revenue "营收": money >= 0\nparam threshold "门槛": money = unset\n'
        'measure m "m" { award 1万 if revenue 超过 threshold and revenue 不满 100万 }\n'
    )
    enc, s = session(model)
    answer = s.check([enc.cond(condition(model))], ["revenue", "param:threshold"])
    assert answer.sat and answer.witness is not None
    assert answer.witness.params["threshold"] < answer.witness.facts["revenue"] < 1000000


def test_enum_values_are_the_declared_members_only() -> None:
    model = model_of(
        HEADER + 'enum level "级别" { a "甲", b "乙", c "丙" }\nfact l "级别": level\n'
        'measure m "m" { award 1万 if l != a and l != b and l != c }\n'
    )
    enc, s = session(model)
    assert s.check([enc.cond(condition(model))]).unsat


def test_background_facts_are_assumed() -> None:
    facts = HEADER + 'fact x "甲": bool\nfact y "乙": bool\n'
    clause = 'measure m "m" { award 1万 if x and not y }\n'
    free = model_of(facts + clause)
    enc, s = session(free)
    assert s.check([enc.cond(condition(free))]).sat
    linked = model_of(facts + 'assume x implies y "甲则乙"\n' + clause)
    enc, s = session(linked)
    assert s.check([enc.cond(condition(linked))]).unsat


def test_a_hard_query_is_undecided_not_a_verdict() -> None:
    model = model_of(
        HEADER
        + "".join(f'fact {v} "{v}": number\n' for v in "xyzwuv")
        + 'measure m "m" { award 1万 if x * x * x * y * u + y * y * y * z * v + z * z * z * w * u '
        "+ w * w * w * x * v + u * u * v * v * x == 7 and x * y * z * w * u * v > 3 "
        "and x + y + z + w + u + v < 2 and x * x + y * y + z * z + w * w + u * u + v * v < 5 }\n"
    )
    enc, s = session(model, timeout_ms=50)
    answer = s.check([enc.cond(condition(model))])
    assert answer.status == "unknown" and answer.reason
    assert s.undecided == 1


def test_a_non_linear_query_is_decided() -> None:
    model = model_of(
        HEADER
        + 'fact x "甲": number\nfact y "乙": number\n'
        + 'measure m "m" { award 1万 if x * y == 6 and x + y == 5 and x < y }\n'
    )
    enc, s = session(model)
    answer = s.check([enc.cond(condition(model))], ["x", "y"])
    assert answer.witness is not None and dict(answer.witness.facts) == {"x": 2, "y": 3}


def test_independent_parts_are_solved_once_and_merged() -> None:
    model = model_of(
        HEADER + 'fact a "甲": money >= 0\nfact b "乙": money >= 0\nfact d "成立": date\n'
        "eligibility { require since(d) 届满 1年 }\n"
        'measure m "m" { award 1万 if a 超过 100万 }\nmeasure n "n" { award 1万 if b 不满 5万 }\n'
    )
    enc, s = session(model)
    first = s.check(
        [enc.pays(plan_of(model).measure("m")), enc.pays(plan_of(model).measure("n"))], ["a", "b", "d"]
    )
    solved = s.parts_solved
    again = s.check(
        [enc.pays(plan_of(model).measure("m")), enc.pays(plan_of(model).measure("n"))], ["a", "b", "d"]
    )
    assert s.parts_solved == solved, "a repeated query reuses every part"
    for answer in (first, again):
        assert answer.witness is not None
        assert answer.witness.facts["a"] > 1000000 and answer.witness.facts["b"] < 50000
        assert answer.witness.on is not None
        assert rt.since_compare(answer.witness.facts["d"], answer.witness.on, ">=", 1, "year")


def test_extreme_values_are_exact_and_reached() -> None:
    model = model_of(
        HEADER + 'fact x "投入": money >= 0 <= 100万\nfact y "其他": money >= 0\n'
        'measure m "m" { award 50% * x cap 100万 }\nmeasure n "n" { award 50% * y }\n'
    )
    enc, s = session(model)
    m, n = plan_of(model).measure("m"), plan_of(model).measure("n")
    best = s.optimise(enc.measure_amount(m), [enc.pays(m)], ["x"])
    assert (best.status, best.value, best.attained) == ("sat", Fraction(500000), True)
    assert best.witness is not None and best.witness.facts["x"] >= Decimal("999999.99")
    least = s.optimise(enc.measure_amount(m), [enc.pays(m)], ["x"], maximise=False)
    assert least.value == 0
    assert s.optimise(enc.measure_amount(n), [enc.pays(n)]).value is None  # unbounded


def test_core_names_the_formulas_that_clash() -> None:
    model = model_of(HEADER + 'fact a "甲": money >= 0\nmeasure m "m" { award 1万 if a 超过 5万 }\n')
    enc, s = session(model)
    enc.fact("a")
    fen = enc.fen["a"]
    assert s.core([("low", fen < 100), ("any", fen != 7), ("high", fen > 1000)]) == ["low", "high"]
    assert s.core([("low", fen < 100)]) is None


def test_exact_decimal() -> None:
    assert smt.exact_decimal(Fraction(1, 8)) == Decimal("0.125")
    assert smt.exact_decimal(Fraction(1, 3)) == Fraction(1, 3)
    assert smt.exact_decimal(Fraction(-5, 2)) == Decimal("-2.5")


def test_text_facts_are_not_encoded() -> None:
    model = model_of(HEADER + 'fact cluster "集群": text\n')
    enc = smt.Encoder(plan_of(model))
    with pytest.raises(smt.Unsupported):
        enc.fact("cluster")


# The fuzz campaign's shrunk case: an award divided by a fact that can be 0.  z3 reads x/0 as an
# unspecified value it may choose, so "the award passes c" is sat while the values the search reads
# back (without the solver's choice for x/0) stay below c; the search assumed the answer would
# exceed c and failed on `assert high is not None` (or could loop for ever in the bisection).
DIVIDED = (
    HEADER + 'fact investment "项目总投入": money >= 0 <= 100万\nfact n "份数": number >= 0\n'
    'measure m "m" { award investment / n\n quota 2500 rank investment\n budget 1亿 }\n'
)


@pytest.mark.parametrize("maximise", [True, False])
def test_an_extreme_is_never_read_from_a_division_by_zero(maximise: bool) -> None:
    model = model_of(DIVIDED)
    enc, s = session(model)
    m = plan_of(model).measure("m")
    term = enc.measure_amount(m, rounded=False) if maximise else -enc.measure_amount(m, rounded=False)
    result = s.optimise(term, [enc.pays(m)], ["investment", "n"])
    # never a bound the witnesses do not reach: the search only looks at applicants whose shares
    # are not 0 (the evaluator has no amount for the others), where the award is unbounded above
    # and is 0 at least, at a witness that divides by a real number of shares
    assert result.status == "sat"
    if maximise:
        assert result.value is None
    else:
        assert result.value == 0 and result.witness is not None and result.witness.facts["n"] != 0


def test_check_decides_an_extreme_over_a_division_without_reading_x_over_0() -> None:
    """Before the guard, z3's free value of investment/0 left this undecided (P900); now the
    division is read only where the shares are not 0, and the award is plainly unbounded."""
    from policydsl.analysis.run import analyse

    result = analyse(model_of(DIVIDED), DIVIDED)
    assert result.stats.undecided == 0
    codes = [d.code for d in result.findings]
    assert "P900" not in codes and "P606" in codes, [d.message for d in result.findings]


BLOCKS = (
    HEADER + 'fact investment "项目总投入": money\n'
    'measure m "m" {\n'
    "  award 10万 * blocks(investment - 1000万, 100万) + round_down(max(5% * investment, 0), 1万)\n"
    "}\n"
)


@pytest.mark.parametrize(
    "investment", ["0", "-2500000", "9999999.99", "10000000", "10999999.99", "11000000", "23505000", "-0.01"]
)
def test_blocks_and_round_down_are_the_runtime_floor_exactly(investment: str) -> None:
    model = model_of(BLOCKS)
    enc, s = session(model)
    amount = enc.measure_amount(plan_of(model).measure("m"), rounded=False)
    value = Decimal(investment)
    expected = Decimal(100000) * rt.blocks(value - 10000000, Decimal(1000000))
    expected += rt.round_down(max(value * Decimal("0.05"), Decimal(0)), Decimal(10000))
    given = enc.fact("investment") == enc.real(value)
    assert s.check([given, amount == enc.real(expected)]).sat
    assert s.check([given, amount != enc.real(expected)]).unsat


ROUNDED_BY_A_FACT = (
    HEADER + 'fact score "得分": number >= 0 <= 100\nfact n "单位": number\n'
    'measure m "m" { award 1万 * round_down(score, n)\n quota 2500 rank score\n budget 1亿 }\n'
)


def test_an_extreme_is_never_read_from_a_unit_below_zero() -> None:
    """round_down(score, n) is at most score for a unit n above zero; for n below zero, where the
    evaluator has no amount (and z3's floor would give more than score), no query looks."""
    model = model_of(ROUNDED_BY_A_FACT)
    enc, s = session(model)
    m = plan_of(model).measure("m")
    result = s.optimise(enc.measure_amount(m, rounded=False), [enc.pays(m)], ["score", "n"])
    assert result.status == "sat" and result.value == 1000000
    assert result.witness is not None and result.witness.facts["n"] > 0


SHARED = (
    HEADER + 'fact investment "投资": money >= 0\nfact funding "已获资助": money >= 0\n'
    'fact builder "建设单位": bool\n'
    'measure first "先" { award 30% * investment cap 100万 }\n'
    'measure second "次" { award 20万 }\n'
    'measure holder "本" { require builder "建设单位"\n award 40% * investment cap 300万\n'
    "  funding_limit 50% * investment counting funding, first, second }\n"
)


@pytest.mark.parametrize(
    ("investment", "funding", "builder"),
    [
        ("10000000", "1000000", True),  # room 400万: 100万 + 20万 + 280万 of 300万
        ("10000000", "800000", True),  # room 420万: exactly 100万 + 20万 + 300万
        ("10000000", "800000.01", True),  # one fen over: the holder cut by one fen
        ("10000000", "3900000", True),  # room 110万: first 100万, second 10万, holder 0
        ("10000000", "5000000", True),  # no room: all three 0
        ("10000000", "5000000", False),  # the holder does not apply: nothing is cut
        ("3333333.33", "0", True),
    ],
)
def test_a_shared_funding_limit_is_the_runtime_cut_exactly(
    investment: str, funding: str, builder: bool
) -> None:
    model = model_of(SHARED)
    plan = plan_of(model)
    enc, s = session(model)
    from policydsl.evaluation.interpreter import Interpreter

    decision = Interpreter(model, SHARED).evaluate(
        {"investment": investment, "funding": funding, "builder": builder}, datetime.date(2021, 6, 1)
    )
    given = [
        enc.fact("investment") == enc.real(Decimal(investment)),
        enc.fact("funding") == enc.real(Decimal(funding)),
        enc.fact("builder") if builder else smt.z3.Not(enc.fact("builder")),
    ]
    for name in ("first", "second", "holder"):
        result = decision.measures[name]
        if result.status == rt.INELIGIBLE:
            continue
        amount = enc.measure_amount(plan.measure(name))
        assert result.amount is not None
        assert s.check([*given, amount == enc.real(result.amount)]).sat, name
        assert s.check([*given, amount != enc.real(result.amount)]).unsat, name


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("issued 2021-05-16 valid from issued lasting 3年", "2021-05-16", "2024-05-15"),
        ("valid from 2020-02-29 lasting 1年", "2020-02-29", "2021-02-27"),
        ("issued 2021-05-16 valid from issued", "2021-05-16", None),  # open validity: no last day
        # known only to the year: the analysis asks about every day the policy may be in force
        ("valid from 2022-*-* lasting 1年", "2022-01-01", "2023-12-30"),
    ],
)
def test_the_evaluation_date_ranges_over_the_validity_as_the_evaluators_count_it(
    header: str, first: str, last: str | None
) -> None:
    model = model_of(f'policy "有效期" {{ {header} }}\nmeasure m "m" {{ award 1万 }}\n')
    enc, s = session(model)
    today = enc.today()

    def on(day: datetime.date) -> bool:
        return bool(s.check([today.key == smt._date_const(enc, day).key]).sat)

    start = datetime.date.fromisoformat(first)
    assert on(start) and not on(start - datetime.timedelta(days=1))
    if last is None:
        assert on(datetime.date(2099, 12, 31))
    else:
        end = datetime.date.fromisoformat(last)
        assert on(end) and not on(end + datetime.timedelta(days=1))


def test_a_duration_parameter_set_in_days_then_left_unset_is_not_checked_rather_than_a_crash() -> None:
    # its versions are 70 days and an unknown in months: no one term holds both.  In a condition what
    # reads it is "could not check" (P901); in an assumption it only widens the domain; never an
    # exception out of the analysis
    params = "param wait: duration {\n  from 2008-07-27 = 70天\n  from 2014-05-19 = unset\n}\n"
    from policydsl.analysis.run import analyse

    for text in (
        f'policy "t" {{ issued 2020-01-01 }}\nfact start: date\n{params}'
        'measure m "m" { award 1万 if since(start) > wait }\n',
        f'policy "t" {{ issued 2020-01-01 }}\nfact start: date\n{params}'
        'assume since(start) > wait\nmeasure m "m" { award 1万 }\n',
    ):
        analyse(model_of(text), text)
