"""Helpers every generated evaluator carries after the runtime (inlined with it, imports and all).

The generator copies this module's text, without this docstring and its imports, into each evaluator;
the imports from policydsl.runtime name what the inlined runtime defines above it.
"""

import dataclasses
import datetime
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from policydsl.runtime import (
    ARITHMETIC,
    AT_MOST,
    CEILING,
    CONTEXT,
    DETERMINED,
    EXACT,
    INELIGIBLE,
    MAX_DIGITS,
    ROUNDING_MODES,
    ROUNDING_QUANTA,
    UNDETERMINED,
    UNKNOWN,
    ZERO,
    Amounts,
    ClauseOutcome,
    FactSpec,
    InputError,
    MeasureResult,
    Rounding,
    _instalments,
    combine_total,
    failure,
    finish_measure,
    parse_fact,
    show,
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
Outcome = tuple[bool | None, Decimal | None, str, str | None, Sequence[str]]
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


def facts_text(f: Values, facts: tuple[tuple[str, str, bool], ...]) -> str:
    """`label = value` for the facts an expression uses, as explanations show them."""
    parts = []
    for name, label, money in facts:
        value = f.get(name)
        parts.append(f"{label} = {yuan(value) if money and value is not None else show(value)}")
    return "；".join(parts)


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
) -> MeasureResult:
    """The total under the combination rules, from (status, amount) per measure; undetermined, with
    the reason, when it cannot be computed."""
    try:
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


# ------------------------------------------------------------------------------ the full path as data
# A generated evaluator describes each measure as data (a MeasureSpec of gates, clauses, limits and
# stages, with a small function per expression) and runs it with run_measure; only its fast path is
# unrolled.  `Expr` is such a function: its value from the facts `f`, the parameters `p` and the
# `date`, recording each missing fact it reads in `need`; it raises Unset or an ARITHMETIC error when
# the value cannot be worked out.  A condition that only reads one fact is given as that fact's name.
Expr = Callable[[Values, Values, Date, set[str]], Any]
Test = Expr | str
# (name, label, is money) of each fact an explanation shows
Used = tuple[tuple[str, str, bool], ...]


class Gate(NamedTuple):
    """A requirement: the `reason` it gives, its condition (`test`, as written in `text`), its `key` in
    a result's conditions; it holds when the condition is true, or false when `negate`."""

    reason: str
    test: Test
    text: str
    key: str = ""
    negate: bool = False


class Amount(NamedTuple):
    """A clause's figure: `value` (None: the text leaves it unset, for `unset_reason`) as written in
    `text`, the facts its explanation shows (`used`), a `ceiling` or exact, and its caps (value, text)."""

    value: Expr | Decimal | None
    text: str
    used: Used
    ceiling: bool
    caps: tuple[tuple[Expr | Decimal, str], ...] = ()
    unset_reason: str = ""


class Clause(NamedTuple):
    """An award or bonus clause: its explanation `head`, its `amount`, its conditions (test, text,
    negated, facts shown) as written together in `conds`, and the default it is an exception of."""

    id: str
    kind: str
    label: str
    cite: str | None
    head: str
    amount: Amount
    conditions: tuple[tuple[Test, str, bool, Used], ...] = ()
    conds: str = ""
    exception_of: str | None = None
    priority: int | None = None


class Stage(NamedTuple):
    """An instalment: `name`, `label`, its condition (`test`, `text`) and `share` (None: the rest)."""

    name: str
    label: str
    test: Test
    text: str
    share: Expr | Decimal | None


class MeasureSpec(NamedTuple):
    """A measure: its `head` (name, label, article, payment forms), the applicant kinds it admits
    (fact, kinds, reason), its gates and clauses, the reason when no clause applies, its funding
    limits (limit, received, text; the last applies), instalments, preferences (test, text, note),
    quota selection, and whether a clause is an exception of another."""

    head: tuple[str, str, str | None, tuple[str, ...]]
    applicants: tuple[str, tuple[str, ...], str] | None
    gates: tuple[Gate, ...]
    clauses: tuple[Clause, ...]
    none_reason: str
    funding: tuple[tuple[Expr | Decimal, Expr | Decimal, str], ...] = ()
    stages: tuple[Stage, ...] = ()
    no_clawback: bool = False
    preferences: tuple[tuple[Test, str, str], ...] = ()
    selection: str | None = None
    exceptions: bool = False


def value_of(e: Expr | Decimal, f: Values, p: Values, date: Date, need: set[str]) -> Any:
    """An expression's value (a figure written in the policy is given as itself)."""
    return e if type(e) is Decimal else e(f, p, date, need)  # type: ignore[operator]


def truth(test: Test, text: str, f: Values, p: Values, date: Date, need: set[str]) -> tuple[Any, str | None]:
    """A condition's truth, or None with the reason it cannot be told (Interpreter.test)."""
    if type(test) is str:
        holds = f.get(test)
        if holds is None:
            need.add(test)
        return holds, None
    try:
        return test(f, p, date, need), None  # type: ignore[operator]
    except Unset as exc:
        return None, exc.what
    except ARITHMETIC as exc:
        return None, failure(text, exc)


def safe_value(e: Expr | Decimal, f: Values, p: Values, date: Date, need: set[str]) -> Any:
    """A value, or None when it cannot be worked out."""
    try:
        return value_of(e, f, p, date, need)
    except (Unset, *ARITHMETIC):
        return None


def shared_gates_of(
    gates: tuple[Gate, ...],
    start: datetime.date | None,
    end: datetime.date | None,
    f: Values,
    p: Values,
    date: Date,
) -> Shared:
    """The policy-wide reasons to rule every measure out (its validity from `start` to `end` and its
    eligibility `gates`), those not yet decidable, and the facts they need."""
    failures: list[str] = []
    unknown: list[str] = []
    need: set[str] = set()
    if date is not None:
        if start is not None and date < start:
            failures.append(f"政策自 {start.isoformat()} 起施行，评估日期 {date.isoformat()} 尚未生效")
        if end is not None and date > end:
            failures.append(f"政策有效期至 {end.isoformat()}，评估日期 {date.isoformat()} 已失效")
    for gate in gates:
        holds, why = truth(gate.test, gate.text, f, p, date, need)
        if gate.negate and holds is not None:
            holds = not holds
        if holds is False:
            failures.append(gate.reason)
        elif holds is None:
            unknown.append(why or gate.reason)
    return failures, unknown, need


def run_clause(
    clause: Clause,
    f: Values,
    p: Values,
    date: Date,
    need: set[str],
    explain: bool,
    quantum: Decimal,
    mode: str,
) -> Outcome:
    """One clause on the facts: whether it applies, its amount after caps and rounding, the precision,
    the reason it cannot be told and the explanation steps (Interpreter.clause)."""
    why = None
    unknown = False
    for test, text, negated, _ in clause.conditions:
        holds, reason = truth(test, text, f, p, date, need)
        if reason is not None:
            why = reason
        if negated and holds is not None:
            holds = not holds
        if holds is False:
            return False, None, EXACT, why, NO_STEPS
        if holds is None:
            unknown = True
    if unknown:
        return None, None, EXACT, why, NO_STEPS
    steps: list[str] = []
    if explain:
        if not clause.conditions:
            steps.append(clause.head)
        else:
            used = "；".join(filter(None, (facts_text(f, c[3]) for c in clause.conditions if c[3])))
            steps.append(f"{clause.head}（{clause.conds}；{used}）")
    amount = clause.amount
    if amount.value is None:  # no figure: the outcome is unknown whatever the caps say
        for cap, quoted in amount.caps:
            try:
                limit = value_of(cap, f, p, date, need)
            except (Unset, *ARITHMETIC) as exc:
                what = exc.what if isinstance(exc, Unset) else failure(quoted, exc)
                steps.append(f"封顶 {quoted}：{what}，金额为上限")
                continue
            if limit is not None:
                steps.append("封顶 " + yuan(limit))
        return True, None, UNKNOWN, amount.unset_reason, steps
    value = None
    precision = AT_MOST if amount.ceiling else EXACT
    try:
        value = value_of(amount.value, f, p, date, need)
        if explain and value is not None:
            used = facts_text(f, amount.used) if amount.used else ""
            amount_step(steps, amount.text, value.quantize(quantum, mode), used)
    except Unset as exc:
        why = exc.what
        precision = UNKNOWN
    except ARITHMETIC as exc:
        why = failure(amount.text, exc)
        precision = UNKNOWN
    for cap, quoted in amount.caps:
        try:
            limit = value_of(cap, f, p, date, need)
        except (Unset, *ARITHMETIC) as exc:
            what = exc.what if isinstance(exc, Unset) else failure(quoted, exc)
            if precision == EXACT:
                precision = AT_MOST
            steps.append(f"封顶 {quoted}：{what}，金额为上限")
            continue
        if limit is None or value is None or precision == UNKNOWN:
            pass
        elif limit < value:
            if explain:
                steps.append(f"封顶 {quoted}：{yuan(limit)}（起作用）")
            value = limit
        elif explain:
            steps.append(f"封顶 {quoted}：{yuan(limit)}（未起作用）")
    if value is not None and precision != UNKNOWN:
        try:
            value = value.quantize(quantum, mode)
        except ARITHMETIC as exc:
            return True, None, UNKNOWN, failure(clause.label, exc), steps
        if explain and amount.ceiling:
            steps.append("最高 " + yuan(value) + "（酌情核定，非确定金额）")
        return True, value, precision, why, steps
    return True, None, UNKNOWN, why, steps


def run_measure(
    spec: MeasureSpec,
    f: Values,
    p: Values,
    date: Date,
    shared: Shared,
    explain: bool,
    needed: Mapping[str, str],
    rounding: Rounding,
) -> MeasureResult:
    """A measure on the facts (Interpreter.measure): its gates, its clauses, then the clause outcomes
    settled into its result; the facts still needed are named as `needed` names them."""
    head = spec.head
    if shared[0]:
        return measure_result(head, INELIGIBLE, list(shared[0]), {})
    need = set(shared[2])
    conditions: Conditions = {}
    failures: list[str] = []
    unknown: list[str] = []
    if spec.applicants is not None:
        fact, kinds, reason = spec.applicants
        kind = f.get(fact)
        if kind is None:
            need.add(fact)
            unknown.append(reason)
        elif kind not in kinds:
            failures.append(reason)
    for gate in spec.gates:
        holds, why = truth(gate.test, gate.text, f, p, date, need)
        if gate.negate and holds is not None:
            holds = not holds
        conditions[gate.key] = holds
        if holds is False:
            failures.append(gate.reason)
        elif holds is None:
            unknown.append(why or gate.reason)
    if failures:
        return measure_result(head, INELIGIBLE, failures, conditions)
    if shared[1]:
        unknown = shared[1] + unknown
    result = measure_result(head, DETERMINED, [], conditions)
    quantum = ROUNDING_QUANTA[rounding.unit]
    mode = ROUNDING_MODES[rounding.mode]
    outs = [run_clause(c, f, p, date, need, explain, quantum, mode) for c in spec.clauses]
    funding = None
    for limit, received, text in spec.funding:  # every limit is worked out; the last applies
        funding = (safe_value(limit, f, p, date, need), safe_value(received, f, p, date, need), text)
    stages: list[tuple[str, str, Decimal | None, bool | None]] = []
    for stage in spec.stages:
        if stages and stages[-1][3] is False:
            break  # this stage and every later one are forfeit: their facts are not read
        holds, _ = truth(stage.test, stage.text, f, p, date, need)
        share = None
        if stage.share is not None:
            share = safe_value(stage.share, f, p, date, need)
            if share is None:
                holds = None  # the share cannot be worked out, so neither can the stage
        stages.append((stage.name, stage.label, share, holds))
    try:
        if not spec.exceptions and outs and all(o[0] is not None for o in outs):
            _settle_straight(result, spec, outs, funding, stages, quantum, mode, rounding)
        else:
            outcomes = [
                ClauseOutcome(
                    c.id, c.kind, c.label, c.cite, c.exception_of, c.priority, *o[:3], list(o[4]), o[3]
                )
                for c, o in zip(spec.clauses, outs, strict=True)
            ]
            finish_measure(result, outcomes, rounding, funding, stages, spec.no_clawback)
    except ARITHMETIC as exc:
        result.status, result.amount = UNDETERMINED, None
        result.reasons.append(failure(head[1], exc))
    for test, text, note in spec.preferences:
        if truth(test, text, f, p, date, need)[0] is True:
            result.explanation.append(note)
    if spec.selection is not None and result.status != INELIGIBLE:
        result.selection = spec.selection
    return settle_unknown(result, unknown, need, needed)


def _settle_straight(
    result: MeasureResult,
    spec: MeasureSpec,
    outs: list[Outcome],
    funding: tuple[Decimal | None, Decimal | None, str] | None,
    stages: list[tuple[str, str, Decimal | None, bool | None]],
    quantum: Decimal,
    mode: str,
    rounding: Rounding,
) -> None:
    """runtime.finish_measure for a measure without exceptions whose clauses are all decided."""
    awards: list[tuple[str, Outcome]] = []
    bonuses: list[tuple[str, Outcome]] = []
    for clause, o in zip(spec.clauses, outs, strict=True):
        result.conditions[clause.id] = o[0]
        (awards if clause.kind == "award" else bonuses).append((clause.id, o))
    if not any(o[0] for _, o in awards):
        result.status = INELIGIBLE
        result.reasons.append(spec.none_reason)
        return
    reasons: list[str] = []
    total = ZERO
    precision = EXACT
    count = 0
    for cid, (applies, amount, clause_precision, why, steps) in awards + bonuses:
        if not applies:
            continue
        count += 1
        result.clauses.append(cid)
        result.explanation.extend(steps)
        if why:
            reasons.append(why)
        if clause_precision != EXACT and precision != UNKNOWN:
            precision = clause_precision
        if amount is not None:
            total += amount
    if count > 1 and precision != UNKNOWN:
        result.explanation.append("合计 " + yuan(total))
    if funding is not None and precision != UNKNOWN:
        total, precision = apply_funding(result, total, precision, reasons, funding, rounding)
    undecided = False
    if stages and precision != UNKNOWN:
        total, decided = _instalments(result, total, stages, spec.no_clawback, rounding)
        undecided = not decided
    if precision == UNKNOWN or undecided:
        result.status = UNDETERMINED
    else:
        result.amount = total.quantize(quantum, mode)
        result.status = CEILING if precision == AT_MOST else DETERMINED
    result.reasons.extend(reasons)
