"""The runtime's figure formatting (yuan, shift, the words for an applicant's roles) held to the
implementations it replaced, which took a Decimal apart with `as_tuple`: every explanation formats a
few figures per applicant, so the cheaper code must give the same text for every Decimal."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from policydsl.evaluation import runtime as rt

# ------------------------------------------------------------------------------ the references


def reference_shift(value: Decimal, places: int) -> Decimal:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent + places))


def _reference_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _reference_plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def reference_yuan(value: Decimal | None) -> str:
    if value is None:
        return "未定"
    size = value.copy_abs()
    if size >= 100000000 and _reference_whole(reference_shift(value, -6)):
        return f"{_reference_plain(reference_shift(value, -8))}亿元"
    if size >= 10000 and _reference_whole(reference_shift(value, -2)):
        return f"{_reference_plain(reference_shift(value, -4))}万元"
    return f"{_reference_plain(value)}元"


# ------------------------------------------------------------------------------ the figures drawn

# Coefficients from zero to 45 digits (figures are limited to 40, products of two reach more),
# exponents from far below the fen to far above 亿: whole amounts in 万 and 亿 with 0, 1, 2 and more
# places, trailing zeros kept in the coefficient (1.50, 1E+8, 100000000.00), negative and -0.
_COEFFICIENTS = st.one_of(
    st.integers(min_value=0, max_value=10**45),
    st.integers(min_value=0, max_value=999).map(lambda n: n * 10**6),
    st.builds(lambda n, zeros: n * 10**zeros, st.integers(0, 99999), st.integers(0, 12)),
)

DECIMALS = st.builds(
    lambda sign, coefficient, exponent: Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent)),
    st.sampled_from((0, 1)),
    _COEFFICIENTS,
    st.integers(min_value=-60, max_value=40),
)

EDGES = [
    "0", "-0", "0.00", "-0.00", "0E+10", "0E-50", "1", "-1", "9999", "10000", "-10000", "10000.00",
    "10001", "10100", "12300", "99999999", "100000000", "-100000000", "100000000.00", "150000000",
    "1E+8", "1.5E+8", "1E+4", "123456789012345678901234567891200", "1000000000000000000000000000100.92",
    "1E+40", "-1E+40", "1E-40", "2345.67", "0.01", "-0.5", "199.98E+4", "1.000000E+10", "120E+4",
]  # fmt: skip


@pytest.mark.parametrize("text", EDGES)
def test_yuan_agrees_with_the_reference_on_the_edges(text: str) -> None:
    value = Decimal(text)
    assert rt.yuan(value) == reference_yuan(value)
    for places in (-8, -6, -4, -2, 2, 4, 8):
        assert repr(rt.shift(value, places)) == repr(reference_shift(value, places))


def test_yuan_of_nothing_is_undetermined() -> None:
    assert rt.yuan(None) == "未定"


@settings(max_examples=3000, deadline=None)
@given(DECIMALS)
@example(Decimal("-150000000"))
@example(Decimal("12345678900"))
def test_yuan_agrees_with_the_reference(value: Decimal) -> None:
    assert rt.yuan(value) == reference_yuan(value)


@settings(max_examples=1000, deadline=None)
@given(DECIMALS, st.integers(min_value=-12, max_value=12))
def test_shift_keeps_the_digits_and_moves_the_exponent(value: Decimal, places: int) -> None:
    shifted = rt.shift(value, places)
    assert repr(shifted) == repr(reference_shift(value, places))


@settings(deadline=None)
@given(DECIMALS)
def test_formatting_does_not_depend_on_the_callers_context(value: Decimal) -> None:
    small = decimal.Context(prec=3, Emax=10, Emin=-10, traps=[decimal.Inexact, decimal.Overflow])
    with decimal.localcontext(small):
        assert rt.yuan(value) == reference_yuan(value)
        assert repr(rt.shift(value, 8)) == repr(reference_shift(value, 8))


def test_only_finite_numbers_are_shifted() -> None:
    for special in ("Infinity", "-Infinity", "NaN"):
        with pytest.raises(AssertionError):
            rt.shift(Decimal(special), 2)


# ------------------------------------------------------------------------------ roles

MEMBERS = (
    ("platform", "工业互联网平台"),
    ("association", "行业协会"),
    ("ii_enterprise", "工业互联网相关企业"),
)


@settings(deadline=None)
@given(st.frozensets(st.sampled_from(["platform", "association", "ii_enterprise", "other"])))
def test_the_words_for_roles_are_the_labels_in_order_whatever_the_container(roles: frozenset[str]) -> None:
    labels = dict(MEMBERS)
    expected = "、".join(labels.get(r, r) for r in sorted(roles))
    for value in (roles, set(roles), sorted(roles), tuple(sorted(roles, reverse=True))):
        assert rt.fact_words(value, "roles", None, MEMBERS) == expected
        assert rt.fact_words(value, "roles", None, MEMBERS) == expected  # again, from the cache


def test_the_words_for_roles_follow_the_labels_given() -> None:
    roles = frozenset({"platform"})
    assert rt.fact_words(roles, "roles", None, MEMBERS) == "工业互联网平台"
    assert rt.fact_words(roles, "roles", None, (("platform", "平台"),)) == "平台"


@settings(deadline=None)
@given(st.frozensets(st.sampled_from(["platform", "association", "ii_enterprise", "other"]), min_size=1))
def test_a_failed_applicants_gate_reads_the_same_from_the_cache(roles: frozenset[str]) -> None:
    fact = rt.FactSpec("applicant", "申报主体", "roles", members=MEMBERS)
    other = rt.FactSpec("applicant", "主体类型", "roles", members=(("platform", "平台"),))
    words = rt.fact_words(set(roles), "roles", None, MEMBERS)
    for _ in range(2):
        assert (
            rt.role_unmet("适用主体为 园区", roles, fact) == f"未满足：适用主体为 园区（申报主体：{words}）"
        )
        as_set: Any = set(roles)  # a set, not kept: the same words
        assert rt.role_unmet("适用主体为 园区", as_set, fact) == rt.role_unmet("适用主体为 园区", roles, fact)
        shown = rt.fact_words(roles, "roles", None, other.members)
        assert (
            rt.role_unmet("适用主体为 园区", roles, other) == f"未满足：适用主体为 园区（主体类型：{shown}）"
        )
    assert rt.role_unmet("适用主体为 园区", None, fact) == "适用主体为 园区（缺少：申报主体）"
