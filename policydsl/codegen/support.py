"""Helpers every generated evaluator carries after the runtime (inlined with it, imports and all).

The generator copies this module's text, without this docstring and its imports, into each evaluator;
the imports from policydsl.evaluation.runtime name what the inlined runtime defines above it.
"""

import dataclasses
import datetime
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from policydsl.evaluation.runtime import (
    ARITHMETIC,
    AT_MOST,
    CONTEXT,
    EXACT,
    INELIGIBLE,
    MAX_DIGITS,
    UNDETERMINED,
    ZERO,
    Amounts,
    FactSpec,
    InputError,
    MeasureResult,
    Rounding,
    combine_total,
    fact_figure,
    failure,
    parse_fact,
    yuan,
)


class Unset(Exception):
    """A value the policy text leaves open (`what`)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


Values = dict[str, Any]
Date = datetime.date | None
Shared = tuple[list[str], list[str], set[str]]
Conditions = dict[str, bool | None]
# (applies, amount, precision, unknown_reason, explanation steps) of one clause
# applies, amount, precision, why unknown, steps, the floor of a range (None: none)
Outcome = tuple[bool | None, Decimal | None, str, str | None, Sequence[str], Decimal | None]
NO_STEPS: tuple[str, ...] = ()
# a figure as large as this or larger is refused (runtime.MAX_DIGITS)
FIGURE_LIMIT = Decimal(f"1E+{MAX_DIGITS}")
# the fast path's context: CONTEXT itself, without the copy decimal.localcontext makes
FAST_CONTEXT = CONTEXT.copy()
NO = (INELIGIBLE, None)


def exact_numbers(values: tuple[Any, ...], types: tuple[type, ...]) -> tuple[Any, ...] | None:
    """The fast path's `values` with every int given for a number as the Decimal it is exactly (a bool
    is not an int here); None when a value is not of its fact's type."""
    out = []
    for value, kind in zip(values, types, strict=True):
        if type(value) is not kind:
            if kind is not Decimal or type(value) is not int:
                return None
            value = Decimal(value)
        out.append(value)
    return tuple(out)


def facts_text(f: Values, facts: tuple[tuple[str, str, str, str | None], ...]) -> str:
    """`label = value` for the facts an expression uses (name, label, kind, unit), as explanations
    show them."""
    return "；".join(f"{label} = {fact_figure(f.get(name), kind, unit)}" for name, label, kind, unit in facts)


def apply_funding(
    result: MeasureResult,
    total: Decimal,
    precision: str,
    reasons: list[str],
    funding: tuple[Decimal | None, Decimal | None, str],
    rounding: Rounding,
) -> tuple[Decimal, str]:
    """The cross-funding ceiling: the award is at most the limit less the funding already received."""
    limit, received, text = funding
    if limit is None or received is None:
        reasons.append(f"财政资助总额上限无法计算（{text}）")
        return total, AT_MOST if precision == EXACT else precision
    room = max(ZERO, rounding(limit - received))
    head = f"各级财政资助总额不超过 {yuan(limit)}：已获 {yuan(received)}"
    if room < total:
        result.explanation.append(f"{head}，本项最多 {yuan(room)}（上限起作用）")
        return room, precision
    result.explanation.append(f"{head}，未超限")
    return total, precision


def amount_step(steps: list[str], quoted: str, value: Decimal, used: str) -> None:
    """`金额：formula = amount（facts）`, the explanation of a clause's figure."""
    steps.append(f"金额：{quoted} = {yuan(value)}" + (f"（{used}）" if used else ""))


def measure_result(
    head: tuple[str, str, str | None, tuple[str, ...]],
    status: str,
    reasons: list[str],
    conditions: Conditions,
) -> MeasureResult:
    """A measure's result with its `head` (name, label, article, payment forms) and every other field
    given, so that no default factory runs on the hot path."""
    name, label, cite, forms = head
    return MeasureResult(name, label, cite, status, None, forms, reasons, [], [], [], conditions, None)


def settle_unknown(
    result: MeasureResult, unknown: list[str], need: set[str], needed: Mapping[str, str]
) -> MeasureResult:
    """A measure's `result` once its gates and clauses ran: a requirement left `unknown` makes it
    undetermined (its reasons replace an ineligible result's), and an undetermined result lists the
    facts it `need`s as `needed` names them; a decided measure asks for nothing."""
    if unknown:
        if result.status == INELIGIBLE:
            result.reasons = []
        result.status = UNDETERMINED
        result.reasons.extend(["尚无法判断：" + u for u in unknown])
    if need and result.status == UNDETERMINED:
        result.needed = sorted(needed[n] for n in need)
    return result


def require_facts(measures: dict[str, MeasureResult]) -> None:
    """Outside partial evaluation, a fact some decision needs but lacks is an input error."""
    for m in measures.values():
        if m.needed:
            missing = sorted({n for m in measures.values() for n in m.needed})
            raise InputError([f"missing fact {n}" for n in missing])


def combine(
    amounts: Amounts,
    combines: Sequence[tuple[str, Sequence[str]]],
    caps: Sequence[tuple[Decimal | None, Sequence[str]]],
    rounding: Rounding,
    floors: Mapping[str, Decimal | None] | None = None,
) -> MeasureResult:
    """The total under the combination rules, from (status, amount) per measure (and the `floors` of
    ranges, when some measure has one); undetermined, with the reason, when it cannot be computed."""
    try:
        if floors is not None and any(f is not None for f in floors.values()):
            return combine_total(amounts, combines, caps, rounding, floors)
        return _combine(amounts, combines, caps, rounding)
    except ARITHMETIC as exc:
        total = MeasureResult("total", "合计", None, UNDETERMINED, None)
        total.reasons.append(failure("合计", exc))
        return total


def _combine(
    amounts: Amounts,
    combines: Sequence[tuple[str, Sequence[str]]],
    caps: Sequence[tuple[Decimal | None, Sequence[str]]],
    rounding: Rounding,
) -> MeasureResult:
    """runtime.combine_total, with a short path for an applicant that at most one measure pays."""
    paying = None
    for name, pair in amounts.items():
        if pair[0] != INELIGIBLE:
            if paying is not None:
                return combine_total(amounts, combines, caps, rounding)
            paying = name
    for cap, names in caps:
        # a cap over the paying measure (worked out or not), or a negative one, is the general case
        if (paying is not None and paying in names) or (cap is not None and cap < 0):
            return combine_total(amounts, combines, caps, rounding)
    if paying is None:
        nothing = ["没有可获得的扶持"]
        return MeasureResult("total", "合计", None, INELIGIBLE, None, (), nothing, [], [], [], {}, None)
    status, amount = amounts[paying]
    if status == UNDETERMINED or amount is None:
        return MeasureResult("total", "合计", None, UNDETERMINED, None, (), [], [], [], [], {}, None)
    return MeasureResult("total", "合计", None, status, rounding(amount), (), [], [], [], [], {}, None)


def parse_params(raw: Mapping[str, Any], specs: Mapping[str, FactSpec]) -> Values:
    """Parameter values given for this evaluation (a yearly guide filling what the text leaves unset)."""
    values: Values = {}
    for name, item in raw.items():
        spec = specs.get(name)
        if spec is None:
            raise InputError([f"`{name}`: no such parameter"])
        try:
            values[name] = parse_fact(spec, item)
        except ValueError as exc:
            raise InputError([f"parameter `{name}`: {exc}"]) from None
    return values


@dataclasses.dataclass(frozen=True)
class Constraint:
    """A limit across applicants on one `measure`: a `quota` ranked by `rank` (None: no ranking
    declared), or a `group_cap` over the groups the fact `group` tells apart, cut by `allocate`."""

    measure: str
    quota: int | None = None
    rank: Callable[[Mapping[str, Any]], Decimal | None] | None = None
    group_cap: Decimal | None = None
    group: str | None = None
    allocate: str | None = None
