"""Helpers every generated evaluator carries after the runtime (inlined with it, imports and all).

The generator copies this module's text, without this docstring and its imports, into each evaluator;
the imports from policydsl.evaluation.runtime name what the inlined runtime defines above it.
"""

import dataclasses
import datetime
import decimal
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from policydsl.evaluation.runtime import (
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
    UNDECLARED_PAIRS,
    UNDETERMINED,
    UNKNOWN,
    UNMET,
    ZERO,
    Amounts,
    Check,
    ClauseOutcome,
    FactSpec,
    InputError,
    MeasureResult,
    OtherAward,
    Rounding,
    Unmet,
    _instalments,
    ceiling_step,
    check,
    combine_precision,
    combine_total,
    fact_shown,
    failure,
    finish_measure,
    lift,
    missing_facts,
    none_applies,
    parse_fact,
    role_check,
    settle_bounds,
    unmet,
    yuan,
)


class Unset(Exception):
    """A value the policy text leaves open (`what`)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


Values = dict[str, Any]
Date = datetime.date | None
# (name, label, kind, unit, enum members) of each fact an explanation shows
Used = tuple[tuple[str, str, str, str | None, tuple[tuple[str, str], ...]], ...]
Conditions = dict[str, bool | None]
# the shared requirements' failures, undecided ones, the facts they need, and each one's truth
Shared = tuple[list[str], list[str], set[str], Conditions]
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


def facts_text(f: Values, facts: Used) -> str:
    """`label = value` for the facts an expression uses (name, label, kind, unit, enum members), as
    explanations show them."""
    return "；".join(
        f"{label} = {fact_shown(f.get(n), kind, unit, members)}" for n, label, kind, unit, members in facts
    )


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
    """A measure's result with its `head` (name, label, article, payment forms): MeasureResult(name,
    label, cite, status, None, forms, reasons, conditions=conditions), its fields set one by one
    without the call of the class and its default factories (the hot path makes several per
    applicant; test_measure_result_is_the_class_s checks that every field is set)."""
    result: MeasureResult = object.__new__(MeasureResult)
    result.measure, result.label, result.cite, result.forms = head
    result.status = status
    result.amount = None
    result.reasons = reasons
    result.clauses = []
    result.needed = []
    result.explanation = []
    result.conditions = conditions
    result.selection = None
    result.floor = None
    result.pot = None
    result.claim = None
    result.checks = ()
    return result


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


def unmet_texts(data: Unmet) -> dict[Any, str]:
    """The reason of a failed requirement on one yes/no or enumeration fact (`data`, one part), for
    each value the fact can have and for None: worked out once, when the module is loaded, by
    runtime.unmet itself (such a reason does not depend on the date)."""
    part = data[2][0]
    values = (True, False) if part[0] == "is" else tuple(key for key, _ in part[5])
    return {value: UNMET + unmet(data, {part[1]: value}, None) for value in (*values, None)}


def pair_texts(labels: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """`a+b` by the measures' labels, for each pair of measures a < b (runtime.combine_total's
    undeclared pairs, named as its notes name them)."""
    return {a: {b: f"{labels.get(a, a)}+{labels.get(b, b)}" for b in labels if a < b} for a in labels}


def plain_total(
    amounts: Amounts, rounding: Rounding, pairs: Mapping[str, Mapping[str, str]]
) -> MeasureResult:
    """runtime.combine_total for a policy with no combination rules, no total caps, no awards under
    other documents and no floors: the sum of what the measures pay, a ceiling (naming every pair,
    `pairs` from pair_texts) when more than one pays, since the policy never says they add up."""
    paying = sorted([name for name, pair in amounts.items() if pair[0] != INELIGIBLE])
    if not paying:
        nothing = ["没有可获得的扶持"]
        return MeasureResult("total", "合计", None, INELIGIBLE, None, (), nothing, [], [], [], {}, None)
    reasons = []
    precision = EXACT
    value = ZERO
    try:
        for name in paying:
            status, amount = amounts[name]
            if status == UNDETERMINED or amount is None:
                precision = UNKNOWN
            elif status == CEILING and precision == EXACT:
                precision = AT_MOST
            if amount is not None:
                value += amount
        if len(paying) > 1:
            precision = combine_precision(precision, AT_MOST)
            said = [pairs[a][b] for i, a in enumerate(paying) for b in paying[i + 1 :]]
            reasons.append(UNDECLARED_PAIRS + "、".join(said))
        if precision == UNKNOWN:
            return MeasureResult("total", "合计", None, UNDETERMINED, None, (), reasons, [], [], [], {}, None)
        status = CEILING if precision == AT_MOST else DETERMINED
        return MeasureResult(
            "total", "合计", None, status, rounding(value), (), reasons, [], [], [], {}, None
        )
    except ARITHMETIC as exc:
        total = MeasureResult("total", "合计", None, UNDETERMINED, None, (), [], [], [], [], {}, None)
        total.reasons.append(failure("合计", exc))
        return total


class RuleSets:
    """Each measure's combination rules (`rules`: their places in the policy's list): two measures
    that share one are a pair the policy declares.  Whether every pair of a set of paying measures is
    declared is kept per set (a population meets few sets; at most SETS of them are kept)."""

    SETS = 4096

    def __init__(self, combines: Sequence[tuple[str, Sequence[str]]]) -> None:
        rules: dict[str, set[int]] = {}
        for index, (_, names) in enumerate(combines):
            for name in names:
                rules.setdefault(name, set()).add(index)
        self.rules = {name: frozenset(indexes) for name, indexes in rules.items()}
        self.known: dict[tuple[str, ...], bool] = {}

    def declared(self, paying: list[str]) -> bool:
        """Whether every pair of the measures `paying` shares a rule."""
        key = tuple(paying)
        known = self.known.get(key)
        if known is None:
            rules, none = self.rules, frozenset[int]()
            known = all(
                rules.get(a, none) & rules.get(b, none) for i, a in enumerate(paying) for b in paying[i + 1 :]
            )
            if len(self.known) < self.SETS:
                self.known[key] = known
        return known


def added_figures(amounts: Amounts, rounding: Rounding, rules: RuleSets) -> tuple[str, Decimal | None]:
    """runtime.combine_total's status and amount, without its reasons, for a policy whose every
    combination rule adds its measures up (no 就高/互斥), with no total caps and no awards under
    other documents: the sum of what the measures pay, rounded; undetermined when some amount is not
    known; a ceiling when some measure pays a ceiling or two paying measures share no rule."""
    paying = sorted([name for name, pair in amounts.items() if pair[0] != INELIGIBLE])
    if not paying:
        return NO
    ceiling = False
    value = ZERO
    try:
        for name in paying:
            status, amount = amounts[name]
            if status == UNDETERMINED or amount is None:
                return UNDETERMINED, None
            ceiling = ceiling or status == CEILING
            value += amount
        if not ceiling and len(paying) > 1:
            ceiling = not rules.declared(paying)
        return (CEILING if ceiling else DETERMINED), rounding(value)
    except ARITHMETIC:
        return UNDETERMINED, None


def require_facts(measures: dict[str, MeasureResult]) -> None:
    """Outside partial evaluation, a fact some decision needs but lacks is an input error."""
    for m in measures.values():
        if m.needed:
            missing = sorted({n for m in measures.values() for n in m.needed})
            raise missing_facts(missing)


def combine(
    amounts: Amounts,
    combines: Sequence[tuple[str, Sequence[str]]],
    caps: Sequence[tuple[Decimal | None, Sequence[str]]],
    rounding: Rounding,
    *,
    floors: Mapping[str, Decimal | None] | None = None,
    others: Sequence[OtherAward] = (),
    labels: Mapping[str, str] | None = None,
) -> MeasureResult:
    """The total under the combination rules, from (status, amount) per measure (and the `floors` of
    ranges, when some measure has one, and the combinations with awards under other documents; its
    notes name measures by `labels`); undetermined, with the reason, when it cannot be computed."""
    try:
        if others or (floors is not None and any(f is not None for f in floors.values())):
            return combine_total(
                amounts, combines, caps, rounding, floors=floors, others=others, labels=labels
            )
        return _combine(amounts, combines, caps, rounding, labels)
    except ARITHMETIC as exc:
        total = MeasureResult("total", "合计", None, UNDETERMINED, None)
        total.reasons.append(failure("合计", exc))
        return total


def _combine(
    amounts: Amounts,
    combines: Sequence[tuple[str, Sequence[str]]],
    caps: Sequence[tuple[Decimal | None, Sequence[str]]],
    rounding: Rounding,
    labels: Mapping[str, str] | None = None,
) -> MeasureResult:
    """runtime.combine_total, with a short path for an applicant that at most one measure pays."""
    paying = None
    for name, pair in amounts.items():
        if pair[0] != INELIGIBLE:
            if paying is not None:
                return combine_total(amounts, combines, caps, rounding, labels=labels)
            paying = name
    for cap, names in caps:
        # a cap over the paying measure (worked out or not), or a negative one, is the general case
        if (paying is not None and paying in names) or (cap is not None and cap < 0):
            return combine_total(amounts, combines, caps, rounding, labels=labels)
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
    declared), or a `group_cap` over the groups the fact `group` tells apart, cut by `allocate`.  A
    quota whose selection the facts record has `selected` (the yes/no fact given as true) and that
    fact's `selected_label`: more rows marked selected than the quota are inconsistent input."""

    measure: str
    quota: int | None = None
    rank: Callable[[Mapping[str, Any]], Decimal | None] | None = None
    group_cap: Decimal | None = None
    group: str | None = None
    allocate: str | None = None
    selected: Callable[[Mapping[str, Any]], bool] | None = None
    selected_label: str = ""


@dataclasses.dataclass(frozen=True)
class PotShare:
    """A pot shared across a batch: `total` for `label` (`text` as written) over `measures`, shared by
    `allocate` (ranked by `rank`) to the `quantum` of the policy's rounding (runtime.share_pot)."""

    name: str
    label: str
    total: Decimal
    measures: tuple[str, ...]
    allocate: str | None = None
    rank: Callable[[Mapping[str, Any]], Decimal | None] | None = None
    quantum: Decimal = Decimal("0.01")
    text: str = ""


# ------------------------------------------------------------------------------ the full path as data
# A generated evaluator writes each measure's requirements (its gates) out as code and describes the
# rest of the measure as data (a MeasureSpec of clauses, limits and stages, with a small function per
# expression) that run_measure runs once the requirements hold; only its fast path is unrolled.
# `Expr` is such a function: its value from the facts `f`, the parameters `p` and the `date`,
# recording each missing fact it reads in `need`; it raises Unset or an ARITHMETIC error when the value
# cannot be worked out.  A condition that only reads one fact is given as that fact's name, and one
# that compares a fact with a figure as (fact, operator, figure).
Expr = Callable[[Values, Values, Date, set[str]], Any]
Test = Expr | str | tuple[str, str, Any]
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


# Each entry is a plain tuple made by the function of its name (amount, clause, stage, measure_spec),
# so that the evaluation unpacks it at the cost of a tuple.
# a clause's figure: written as it is, a figure times a fact as (figure, fact), else a function
Figure = Expr | Decimal | tuple[Decimal, str] | None
# a floor or an offset: (value, text as written)
Bound = tuple[Expr | Decimal, str] | None
Amount = tuple[
    Figure, str, Used, bool, tuple[tuple[Expr | Decimal, str], ...], str, Expr | None, Bound, Bound, bool
]
Clause = tuple[
    str,
    str,
    str,
    str | None,
    str,
    Amount,
    tuple[tuple[Test, str, bool, Used, Unmet], ...],
    str,
    str | None,
    int | None,
    Used,
]
Stage = tuple[str, str, Test, str, Expr | Decimal | None]
MeasureSpec = tuple[
    tuple[str, str, str | None, tuple[str, ...]],
    tuple[Clause, ...],
    str,
    tuple[tuple[Expr | Decimal, Expr | Decimal, str], ...],
    tuple[Stage, ...],
    bool,
    tuple[tuple[Test, str, str], ...],
    str | None,
    bool,
    tuple[int, ...],
    bool,
]


# What add_checks lists: the shared requirements (key, Unmet), and per measure its applicants gate
# (reason, kinds), its requirements and exclusions (key, Unmet) and its spec.
Gates = tuple[tuple[str, Unmet], ...]
Checks = tuple[Gates, dict[str, tuple[tuple[str, tuple[str, ...]] | None, Gates, MeasureSpec]]]


def add_checks(
    measures: Mapping[str, MeasureResult],
    table: Checks,
    shared: Shared,
    f: Values,
    p: Values,
    date: Date,
    role: FactSpec | None,
) -> None:
    """Each measure's conditions as evaluated (Interpreter.checks), for an explained decision,
    worked out the first time they are read (see measure_checks): a decision lists them only in
    its JSON, so deciding does not pay for them.  What they depend on that a later step could change
    (the truths recorded) is copied now."""
    common = (table[0], dict(shared[3]), bool(shared[0]))
    for name, result in measures.items():
        result.checks = LaterChecks((common, table[1][name], dict(result.conditions), f, p, date, role))


def measure_checks(
    common: tuple[Gates, Conditions, bool],
    entry: tuple[tuple[str, tuple[str, ...]] | None, Gates, MeasureSpec],
    conditions: Conditions,
    f: Values,
    p: Values,
    date: Date,
    role: FactSpec | None,
) -> list[Check]:
    """One measure's conditions as evaluated: the shared requirements, then, unless one failed, the
    applicants gate, the measure's requirements and exclusions, then, unless one failed, each
    clause's conditions up to the first that fails.  The gates' truths are those recorded
    (`conditions`); a clause's conditions are asked again (they read facts only)."""
    shared_gates, shared_truths, shared_failed = common
    applicants, gates, spec = entry
    out = [check(data, shared_truths.get(key), f, date) for key, data in shared_gates]
    if not shared_failed:
        if applicants is not None and role is not None:
            out.append(role_check(applicants[0], applicants[1], f.get(role.name), role))
        out += [check(data, conditions.get(key), f, date) for key, data in gates]
        if all(c["value"] is not False for c in out):
            for clause in spec[1]:
                for test, text, negated, _, data in clause[6]:
                    holds = truth(test, text, f, p, date, set())[0]
                    if negated and holds is not None:
                        holds = not holds
                    out.append(check(data, holds, f, date))
                    if holds is False:
                        break
    return out


class LaterChecks(Sequence[Check]):
    """A measure's checks (measure_checks), worked out in the evaluator's context the first time
    they are read, then kept; equal to the list they are."""

    __slots__ = ("_args", "_checks")

    def __init__(self, args: tuple[Any, ...]) -> None:
        self._args: tuple[Any, ...] | None = args
        self._checks: list[Check] | None = None

    def _list(self) -> list[Check]:
        if self._checks is None:
            assert self._args is not None
            with decimal.localcontext(CONTEXT):
                self._checks = measure_checks(*self._args)
            self._args = None
        return self._checks

    def __getitem__(self, index: Any) -> Any:  # an int or a slice, as a list's
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LaterChecks):
            return self._list() == other._list()
        if isinstance(other, list):
            return self._list() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._list())


def amount(
    value: Figure,
    text: str,
    used: Used,
    ceiling: bool,
    caps: tuple[tuple[Expr | Decimal, str], ...] = (),
    unset_reason: str = "",
    arithmetic: Expr | None = None,
    floor: Bound = None,
    offset: Bound = None,
) -> Amount:
    """A clause's figure: `value` (None: the text leaves it unset, for `unset_reason`) as written in
    `text`, the facts its explanation shows (`used`), a `ceiling` or exact, its caps (value, text),
    the steps that show its `arithmetic` (blocks, the band applied, brackets), if any, and its
    `floor` and `offset` (value, text), if any.  The last field tells run_measure that the amount is
    plain (a figure, caps that are figures, no steps, floor or offset), which it works out without a
    call."""
    plain = (
        value is not None
        and all(type(cap) is Decimal for cap, _ in caps)
        and arithmetic is None
        and floor is None
        and offset is None
    )
    return (value, text, used, ceiling, caps, unset_reason, arithmetic, floor, offset, plain)


def clause(
    id: str,
    kind: str,
    label: str,
    cite: str | None,
    head: str,
    amount: Amount,
    conditions: tuple[tuple[Test, str, bool, Used, Unmet], ...] = (),
    conds: str = "",
    exception_of: str | None = None,
    priority: int | None = None,
) -> Clause:
    """An award or bonus clause: its explanation `head`, its `amount`, its conditions (test, text,
    negated, facts shown) as written together in `conds`, and the default it is an exception of.  The
    last field is every fact the conditions show, in their order, for the explanation's head."""
    shown = tuple(fact for condition in conditions for fact in condition[3])
    return (id, kind, label, cite, head, amount, conditions, conds, exception_of, priority, shown)


def stage(name: str, label: str, test: Test, text: str, share: Expr | Decimal | None) -> Stage:
    """An instalment: `name`, `label`, its condition (`test`, `text`) and `share` (None: the rest)."""
    return (name, label, test, text, share)


def measure_spec(
    head: tuple[str, str, str | None, tuple[str, ...]],
    clauses: tuple[Clause, ...],
    none_reason: str,
    funding: tuple[tuple[Expr | Decimal, Expr | Decimal, str], ...] = (),
    stages: tuple[Stage, ...] = (),
    no_clawback: bool = False,
    preferences: tuple[tuple[Test, str, str], ...] = (),
    selection: str | None = None,
    general: bool = False,
) -> MeasureSpec:
    """A measure past its requirements: its `head` (name, label, article, payment forms), its clauses,
    the reason when no clause applies, its funding limits (limit, received, text; the last applies),
    instalments, preferences (test, text, note), quota selection, and whether runtime.finish_measure
    always settles it (`general`: a clause is an exception of another, or states a range's floor).
    The last fields are the order in which a settled measure lists its clauses (awards, then
    bonuses) and whether run_measure takes its simple path: a single award clause whose amount is
    plain, and nothing else to settle (no funding limit, instalment, preference or selection)."""
    order = tuple(i for i, c in enumerate(clauses) if c[1] == "award")
    order += tuple(i for i, c in enumerate(clauses) if c[1] != "award")
    simple = (
        len(clauses) == 1
        and clauses[0][1] == "award"
        and clauses[0][5][9]
        and not funding
        and not stages
        and not preferences
        and selection is None
        and not general
    )
    return (
        head,
        clauses,
        none_reason,
        funding,
        stages,
        no_clawback,
        preferences,
        selection,
        general,
        order,
        simple,
    )


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
    if type(test) is tuple:
        name, op, figure = test
        value = f.get(name)
        if value is None:
            need.add(name)
            return None, None
        return COMPARE[op](value, figure), None
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


def run_measure(
    spec: MeasureSpec,
    f: Values,
    p: Values,
    date: Date,
    need: set[str],
    conditions: Conditions,
    unknown: list[str],
    explain: bool,
    needed: Mapping[str, str],
    rounding: Rounding,
) -> MeasureResult:
    """A measure whose requirements hold (or are not yet decided: `unknown`), on the facts
    (Interpreter.measure from its clauses on): its clauses, then their outcomes settled into its
    result; the facts still needed are named as `needed` names them.  The clauses' conditions, a
    clause whose amount is plain (see `amount`), and the settlement of a single clause are written out
    here, not called: truth, _applies and _settle_straight do the same."""
    if spec[10]:  # measure_spec's simple path: one award clause, a plain amount, nothing else to settle
        clause = spec[1][0]
        result = measure_result(spec[0], DETERMINED, [], conditions)
        why = None
        applies: bool | None = True
        for test, text, negated, _, data in clause[6]:
            if type(test) is tuple:
                name, op, figure = test
                holds = f.get(name)
                if holds is None:
                    need.add(name)
                else:
                    holds = COMPARE[op](holds, figure)
            elif type(test) is str:
                holds = f.get(test)
                if holds is None:
                    need.add(test)
            else:
                try:
                    holds = test(f, p, date, need)  # type: ignore[operator]
                except Unset as exc:
                    holds, why = None, exc.what
                except ARITHMETIC as exc:
                    holds, why = None, failure(text, exc)
            if negated and holds is not None:
                holds = not holds
            if holds is False:
                applies = False
                failed_data = data
                break
            if holds is None:
                applies = None
        if applies is False:
            conditions[clause[0]] = False
            result.status = INELIGIBLE
            result.reasons.append(none_applies([unmet(failed_data, f, date)], spec[2]))
        elif applies is None:
            outcome = ClauseOutcome(*clause[:4], clause[8], clause[9], None, None, EXACT, [], why, None, None)
            try:
                finish_measure(result, [outcome], rounding, None, [], spec[5])
            except ARITHMETIC as exc:
                result.status, result.amount = UNDETERMINED, None
                result.reasons.append(failure(spec[0][1], exc))
        else:
            amount = clause[5]
            quantum = ROUNDING_QUANTA[rounding.unit]
            mode = ROUNDING_MODES[rounding.mode]
            steps: list[str] = []
            if explain:
                steps.append(
                    f"{clause[4]}（{clause[7]}；{facts_text(f, clause[10])}）" if clause[6] else clause[4]
                )
            figure = amount[0]
            value: Any = None
            precision = AT_MOST if amount[3] else EXACT
            try:
                if type(figure) is Decimal:
                    value = figure
                elif type(figure) is tuple:  # a figure times a fact
                    value = f.get(figure[1])
                    if value is None:
                        need.add(figure[1])
                    else:
                        value = figure[0] * value
                else:
                    value = figure(f, p, date, need)  # type: ignore[misc,operator]
                if explain and value is not None:
                    used = facts_text(f, amount[2]) if amount[2] else ""
                    amount_step(steps, amount[1], value.quantize(quantum, mode), used)
            except Unset as exc:
                value, precision, why = None, UNKNOWN, exc.what
            except ARITHMETIC as exc:
                value, precision, why = None, UNKNOWN, failure(amount[1], exc)
            if value is None:
                precision = UNKNOWN
            else:
                for cap, quoted in amount[4]:
                    ceiling_figure: Decimal = cap  # type: ignore[assignment]  # a figure, in a plain amount
                    if ceiling_figure < value:
                        if explain:
                            steps.append(f"封顶 {quoted}：{yuan(ceiling_figure)}（起作用）")
                        value = ceiling_figure
                    elif explain:
                        steps.append(f"封顶 {quoted}：{yuan(ceiling_figure)}（未起作用）")
                try:
                    value = value.quantize(quantum, mode)
                except ARITHMETIC as exc:
                    value, precision, why = None, UNKNOWN, failure(clause[2], exc)
                else:
                    if explain and amount[3]:
                        ceiling_step(steps, value, None)
            cid = clause[0]
            conditions[cid] = True
            result.clauses.append(cid)
            result.explanation.extend(steps)
            try:
                if precision == UNKNOWN:
                    result.status = UNDETERMINED
                else:
                    result.amount = (ZERO + value).quantize(quantum, mode)
                    result.status = CEILING if precision == AT_MOST else DETERMINED
                if why:
                    result.reasons.append(why)
            except ARITHMETIC as exc:
                result.status, result.amount = UNDETERMINED, None
                result.reasons.append(failure(spec[0][1], exc))
        if unknown or need:
            return settle_unknown(result, unknown, need, needed)
        return result
    head, clauses, none_reason, funding_limits, stages_of, no_clawback, prefs, selection, general, _, _ = spec
    result = measure_result(head, DETERMINED, [], conditions)
    quantum = ROUNDING_QUANTA[rounding.unit]
    mode = ROUNDING_MODES[rounding.mode]
    outs: list[Outcome] = []
    failed: list[tuple[int, Unmet]] = []  # the clauses that fail, with the data of their reasons
    decided = True
    for clause in clauses:
        why = None
        applies = True
        for test, text, negated, _, data in clause[6]:
            if type(test) is tuple:
                name, op, figure = test
                holds = f.get(name)
                if holds is None:
                    need.add(name)
                else:
                    holds = COMPARE[op](holds, figure)
            elif type(test) is str:
                holds = f.get(test)
                if holds is None:
                    need.add(test)
            else:
                try:
                    holds = test(f, p, date, need)  # type: ignore[operator]
                except Unset as exc:
                    holds, why = None, exc.what
                except ARITHMETIC as exc:
                    holds, why = None, failure(text, exc)
            if negated and holds is not None:
                holds = not holds
            if holds is False:  # a clause that fails: its reason is worked out below, if it is shown
                applies = False
                failed.append((len(outs), data))
                break
            if holds is None:
                applies = None
        if not applies:
            outs.append((applies, None, EXACT, why, NO_STEPS, None))
            if applies is None:
                decided = False
            continue
        amount = clause[5]
        if not amount[9]:
            outs.append(_applies(clause, f, p, date, need, explain, quantum, mode, why))
            continue
        # a plain amount (a figure, caps that are figures): _applies written out
        steps = []
        if explain:
            steps.append(
                f"{clause[4]}（{clause[7]}；{facts_text(f, clause[10])}）" if clause[6] else clause[4]
            )
        figure = amount[0]
        try:
            if type(figure) is Decimal:
                value = figure
            elif type(figure) is tuple:  # a figure times a fact
                value = f.get(figure[1])
                if value is None:
                    need.add(figure[1])
                else:
                    value = figure[0] * value
            else:
                value = figure(f, p, date, need)  # type: ignore[misc,operator]
            if explain and value is not None:
                used = facts_text(f, amount[2]) if amount[2] else ""
                amount_step(steps, amount[1], value.quantize(quantum, mode), used)
        except Unset as exc:
            outs.append((True, None, UNKNOWN, exc.what, steps, None))
            continue
        except ARITHMETIC as exc:
            outs.append((True, None, UNKNOWN, failure(amount[1], exc), steps, None))
            continue
        if value is None:
            outs.append((True, None, UNKNOWN, why, steps, None))
            continue
        for cap, quoted in amount[4]:
            ceiling_figure = cap  # type: ignore[assignment]  # a figure, in a plain amount
            if ceiling_figure < value:
                if explain:
                    steps.append(f"封顶 {quoted}：{yuan(ceiling_figure)}（起作用）")
                value = ceiling_figure
            elif explain:
                steps.append(f"封顶 {quoted}：{yuan(ceiling_figure)}（未起作用）")
        try:
            value = value.quantize(quantum, mode)
        except ARITHMETIC as exc:
            outs.append((True, None, UNKNOWN, failure(clause[2], exc), steps, None))
            continue
        if amount[3]:
            if explain:
                ceiling_step(steps, value, None)
            outs.append((True, value, AT_MOST, why, steps, None))
        else:
            outs.append((True, value, EXACT, why, steps, None))
    funding = None
    for limit, received, text in funding_limits:  # every limit is worked out; the last applies
        funding = (safe_value(limit, f, p, date, need), safe_value(received, f, p, date, need), text)
    stages: list[tuple[str, str, Decimal | None, bool | None]] = []
    for name, label, test, text, share_of in stages_of:
        if stages and stages[-1][3] is False:
            break  # this stage and every later one are forfeit: their facts are not read
        holds, _ = truth(test, text, f, p, date, need)
        share = None
        if share_of is not None:
            share = safe_value(share_of, f, p, date, need)
            if share is None:
                holds = None  # the share cannot be worked out, so neither can the stage
        stages.append((name, label, share, holds))
    if failed and (
        not decided
        or general
        or not any(o[0] and c[1] == "award" for c, o in zip(clauses, outs, strict=True))
    ):
        for i, data in failed:  # shown: some clause may be undecided, or no award applies
            outs[i] = (False, None, EXACT, unmet(data, f, date), NO_STEPS, None)
    try:
        if not decided or general or not outs:
            outcomes = [
                ClauseOutcome(*c[:4], c[8], c[9], o[0], o[1], o[2], list(o[4]), *_why(o))
                for c, o in zip(clauses, outs, strict=True)
            ]
            finish_measure(result, outcomes, rounding, funding, stages, no_clawback)
        elif len(outs) > 1:
            _settle_straight(result, spec, outs, funding, stages, quantum, mode, rounding)
        else:  # one decided clause: _settle_straight written out
            chosen, value, precision, why, lines, _ = outs[0]
            cid = clauses[0][0]
            conditions[cid] = chosen
            if not chosen or clauses[0][1] != "award":
                result.status = INELIGIBLE
                result.reasons.append(none_applies([why if chosen is False else None], none_reason))
            else:
                result.clauses.append(cid)
                result.explanation.extend(lines)
                reasons = [why] if why else []
                total = ZERO if value is None else ZERO + value
                if funding is not None and precision != UNKNOWN:
                    total, precision = apply_funding(result, total, precision, reasons, funding, rounding)
                undecided = False
                if stages and precision != UNKNOWN:
                    total, complete = _instalments(result, total, stages, no_clawback, rounding)
                    undecided = not complete
                if precision == UNKNOWN or undecided:
                    result.status = UNDETERMINED
                else:
                    result.amount = total.quantize(quantum, mode)
                    result.status = CEILING if precision == AT_MOST else DETERMINED
                result.reasons.extend(reasons)
    except ARITHMETIC as exc:
        result.status, result.amount = UNDETERMINED, None
        result.reasons.append(failure(head[1], exc))
    for test, text, note in prefs:
        if truth(test, text, f, p, date, need)[0] is True:
            result.explanation.append(note)
    if selection is not None and result.status != INELIGIBLE:
        result.selection = selection
    if unknown or need:
        return settle_unknown(result, unknown, need, needed)
    return result


def _applies(
    clause: Clause,
    f: Values,
    p: Values,
    date: Date,
    need: set[str],
    explain: bool,
    quantum: Decimal,
    mode: str,
    why: str | None,
) -> Outcome:
    """The outcome of a clause whose conditions hold: its amount after caps and rounding, the
    precision, the reason it cannot be told and the explanation steps (Interpreter.clause)."""
    _, _, label, _, head, amount, conditions, conds, _, _, shown = clause
    figure, quoted_amount, used_facts, ceiling, caps, unset_reason, arithmetic, floor_of, offset_of, _ = (
        amount
    )
    steps: list[str] = []
    if explain:
        steps.append(f"{head}（{conds}；{facts_text(f, shown)}）" if conditions else head)
    if figure is None:  # no figure: the outcome is unknown whatever the caps say
        for cap, quoted in caps:
            try:
                limit = value_of(cap, f, p, date, need)
            except (Unset, *ARITHMETIC) as exc:
                what = exc.what if isinstance(exc, Unset) else failure(quoted, exc)
                steps.append(f"封顶 {quoted}：{what}，金额为上限")
                continue
            if limit is not None:
                steps.append("封顶 " + yuan(limit))
        return True, None, UNKNOWN, unset_reason, steps, None
    value = None
    precision = AT_MOST if ceiling else EXACT
    try:
        if type(figure) is Decimal:
            value = figure
        elif type(figure) is tuple:  # a figure times a fact
            factor, name = figure
            value = f.get(name)
            if value is None:
                need.add(name)
            else:
                value = factor * value
        else:
            value = figure(f, p, date, need)  # type: ignore[operator]
        if explain and value is not None:
            used = facts_text(f, used_facts) if used_facts else ""
            amount_step(steps, quoted_amount, value.quantize(quantum, mode), used)
            if arithmetic is not None:
                steps.extend(arithmetic(f, p, date, need))
    except Unset as exc:
        why = exc.what
        precision = UNKNOWN
    except ARITHMETIC as exc:
        why = failure(quoted_amount, exc)
        precision = UNKNOWN
    floor = None
    if floor_of is not None and value is not None and precision != UNKNOWN:  # before the caps
        try:
            floor = value_of(floor_of[0], f, p, date, need)
        except (Unset, *ARITHMETIC) as exc:
            why = exc.what if isinstance(exc, Unset) else failure(floor_of[1], exc)
            precision = UNKNOWN
        else:
            if floor is None:
                precision = UNKNOWN  # a fact it reads is missing
            else:
                value = lift(value, floor, floor_of[1], ceiling, steps if explain else None)
    for cap, quoted in caps:
        try:
            limit = cap if type(cap) is Decimal else cap(f, p, date, need)  # type: ignore[operator]
        except (Unset, *ARITHMETIC) as exc:
            what = exc.what if isinstance(exc, Unset) else failure(quoted, exc)
            if precision == EXACT:
                precision = AT_MOST
            steps.append(f"封顶 {quoted}：{what}，金额为上限")
            continue
        if limit is None:
            precision = UNKNOWN  # a fact it reads is missing: the cap may bind
        elif value is None or precision == UNKNOWN:
            pass
        elif limit < value:
            if explain:
                steps.append(f"封顶 {quoted}：{yuan(limit)}（起作用）")
            value = limit
        elif explain:
            steps.append(f"封顶 {quoted}：{yuan(limit)}（未起作用）")
    lower = None
    if offset_of is not None and value is not None and precision != UNKNOWN:  # after the caps
        try:
            offset = value_of(offset_of[0], f, p, date, need)
        except (Unset, *ARITHMETIC) as exc:
            what = exc.what if isinstance(exc, Unset) else failure(offset_of[1], exc)
            if precision == EXACT:
                precision = AT_MOST
            steps.append(f"扣除已获 {offset_of[1]}：{what}，金额为上限")
            offset = None
        else:
            if offset is None:
                precision = UNKNOWN  # a fact it reads is missing: the amount cannot be told
    else:
        offset = None
    if (floor_of is not None or offset_of is not None) and value is not None and precision != UNKNOWN:
        texts = (None if floor_of is None else floor_of[1], None if offset_of is None else offset_of[1])
        value, lower = settle_bounds(value, floor, offset, ceiling, texts, steps if explain else None)
    if value is not None and precision != UNKNOWN:
        try:
            value = value.quantize(quantum, mode)
        except ARITHMETIC as exc:
            return True, None, UNKNOWN, failure(label, exc), steps, None
        if lower is not None:
            lower = lower.quantize(quantum, mode)
        if explain and ceiling:
            ceiling_step(steps, value, lower)
        return True, value, precision, why, steps, lower if precision == AT_MOST else None
    return True, None, UNKNOWN, why, steps, None


def _why(o: Outcome) -> tuple[str | None, Decimal | None, str | None]:
    """An outcome's unknown reason, floor and failed condition, as ClauseOutcome takes them last
    (a clause that does not apply keeps its failed condition where the others keep why unknown)."""
    return (None, o[5], o[3]) if o[0] is False else (o[3], o[5], None)


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
    clauses = spec[1]
    applies = False
    for c, o in zip(clauses, outs, strict=True):
        result.conditions[c[0]] = o[0]
        if o[0] and c[1] == "award":
            applies = True
    if not applies:
        result.status = INELIGIBLE
        unmet = (o[3] for c, o in zip(clauses, outs, strict=True) if c[1] == "award" and o[0] is False)
        result.reasons.append(none_applies(unmet, spec[2]))
        return
    reasons: list[str] = []
    total = ZERO
    precision = EXACT
    count = 0
    for i in spec[9]:  # awards, then bonuses
        chosen, value, clause_precision, why, steps, _ = outs[i]
        if not chosen:
            continue
        count += 1
        result.clauses.append(clauses[i][0])
        result.explanation.extend(steps)
        if why:
            reasons.append(why)
        if clause_precision != EXACT and precision != UNKNOWN:
            precision = clause_precision
        if value is not None:
            total += value
    if count > 1 and precision != UNKNOWN:
        result.explanation.append("合计 " + yuan(total))
    if funding is not None and precision != UNKNOWN:
        total, precision = apply_funding(result, total, precision, reasons, funding, rounding)
    undecided = False
    if stages and precision != UNKNOWN:
        total, decided = _instalments(result, total, stages, spec[5], rounding)
        undecided = not decided
    if precision == UNKNOWN or undecided:
        result.status = UNDETERMINED
    else:
        result.amount = total.quantize(quantum, mode)
        result.status = CEILING if precision == AT_MOST else DETERMINED
    result.reasons.extend(reasons)
