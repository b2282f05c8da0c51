"""The plan's nodes: a checked policy lowered into one resolved, frozen form that back ends read.

Nothing here refers to the AST: names are resolved (a fact, a parameter or an enum value), amounts
are exact `Decimal` in 元 (percentages as fractions, 万 and 亿 multiplied out), statutory words are
plain comparisons (`超过` is `>`, `以上` is `>=`), and every text a reader sees (labels, reasons,
explanation heads, the formulas as written) is worked out once.  The reference semantics stay in
docs/semantics.md; the plan only says *what* each back end evaluates, never *how*.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeAlias, assert_never

import attrs

from policydsl.dates import PartialDate
from policydsl.source import Span

# ------------------------------------------------------------------------------- expressions

# How an expression was spelled (a literal's text, a statutory word, a ratio, `implies`) is kept for
# the readers' wording (render/text.py) only, and where it is written (`span`, set by the lowering)
# for the analyses' findings only: such fields take no part in a node's equality, hash or repr, so a
# back end that compares or pools expressions sees only their meaning.


def _spelling(default: object) -> Any:
    return attrs.field(default=default, eq=False, repr=False)


@attrs.frozen
class Const:
    """A number: `value` (exact; money in 元, a percentage as a fraction) of `kind` (money, percent,
    number, count, per_unit), counts and per-unit amounts with their `unit`; `text` as written
    (`50万`, `80%`, `3000家`)."""

    value: Decimal
    kind: str
    unit: str | None = None
    text: str = _spelling("")
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class DateConst:
    """A calendar date, `text` as written."""

    value: datetime.date
    text: str = _spelling("")
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class DurationConst:
    """A length of time: `count` of `unit` (year, month or day), `text` as written."""

    count: int
    unit: str
    text: str = _spelling("")
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class BoolConst:
    """true or false."""

    value: bool
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class EnumConst:
    """The value `member` of enumeration `enum` (the applicant kinds are the enum `applicant`)."""

    enum: str
    member: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class FactRef:
    """The applicant's fact `name` (its spec is `Plan.facts[name]`)."""

    name: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class ParamRef:
    """The parameter `name` (its versions are `Plan.params[name]`; a caller may override it)."""

    name: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Arith:
    """`left op right` with op one of + - * /, giving a value of `kind` (money, percent, number,
    count, per_unit, date).  A date plus or minus a duration is calendar arithmetic.  `symbol` is
    the operator as written; `ratio` the text of a matching ratio (`1:1`) lowered to a division."""

    op: str
    left: Expr
    right: Expr
    kind: str
    symbol: str = _spelling("")
    ratio: str | None = _spelling(None)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Neg:
    """Unary minus."""

    operand: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Cmp:
    """`left op right`, op one of >= > <= < == != (the statutory word already turned into it);
    `word` is how the file wrote it (`>=`, `以上`, `超过`…), `postfix` that it stood after the number."""

    op: str
    left: Expr
    right: Expr
    word: str = _spelling("")
    postfix: bool = _spelling(False)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Since:
    """The time from the date `start` to the evaluation date, compared (`op`) with `duration`;
    needs an evaluation date.  `word` and `postfix` as for `Cmp`."""

    start: Expr
    op: str
    duration: Expr
    word: str = _spelling("")
    postfix: bool = _spelling(False)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class In:
    """The enum value `subject` is one of `members` (of the enumeration `enum`)."""

    subject: Expr
    members: tuple[str, ...]
    enum: str | None = _spelling(None)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class And:
    """Both, `left` first (three-valued; `right` is not evaluated when `left` is false)."""

    left: Expr
    right: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Or:
    """Either, `left` first (three-valued; `right` is not evaluated when `left` is true).  `a implies
    b` is lowered to `Or(Not(a), b)`, with `implies` set."""

    left: Expr
    right: Expr
    implies: bool = _spelling(False)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Not:
    """Not `operand`."""

    operand: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class MinMax:
    """`func` (min or max) of `args`."""

    func: str
    args: tuple[Expr, ...]
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Whole:
    """Whole units of `size` in `value`: `func` blocks is how many whole sizes fit (a plain number;
    0 when `value` is below one size, or negative), round_down is `value` rounded down to a
    multiple of `size` (in `value`'s unit).  A size that is not more than zero makes the figure
    unknown, as a division by zero does."""

    func: str
    value: Expr
    size: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Year:
    """A year as a plain whole number: `func` year is the calendar year of the date `date`; year_no
    is the year of the evaluation date counted from `date`'s own calendar year as year 1
    (`year(evaluation date) - year(date) + 1`; needs an evaluation date, as `Since` does)."""

    func: str
    date: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Unset:
    """A value the text leaves open; evaluating it makes the figure unknown for the reason `why`.  In
    a tier table's `otherwise` row, `{key}` in `why` stands for the applicant's value of the key."""

    why: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class TableRow:
    """One row of a tier table: enum member `key` (None for `otherwise`) gives `value`; `span` is
    where the row is written (for the analyses' findings; no part of its meaning)."""

    key: str | None
    value: Expr
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Table:
    """A tier table keyed by the enum fact `fact`: the first row whose key matches gives the value
    (`span`: where it is written)."""

    fact: str
    rows: tuple[TableRow, ...]
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class BandRow:
    """One band: the subject satisfies every `(op, value)` of `bounds` (None: `otherwise`); `words`
    says how each bound was written: (word, postfix), which the wording and the analyses' hints quote
    (`不满`, `以上`); `span` is where the band is written."""

    bounds: tuple[tuple[str, Expr], ...] | None
    value: Expr
    words: tuple[tuple[str, bool], ...] = _spelling(())
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Band:
    """Bands of thresholds over `subject`: the first band whose bounds hold gives the value.  `span`
    is where it is written; `subject_kind` and `subject_unit` are the subject's type, for showing a
    value of it."""

    subject: Expr
    rows: tuple[BandRow, ...]
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    subject_kind: str = attrs.field(default="number", eq=False, repr=False, kw_only=True)
    subject_unit: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    # A schedule by year (`schedule d { years 1 until 2: … }`) is lowered to a band over
    # `Year("year_no", d)` whose rows are `>= first` and `<= last`; `counted_from` then names the
    # event in the reader's words (the wording and the findings speak of years, not bands).
    counted_from: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def years(self) -> tuple[tuple[int, int], ...]:
        """A schedule's rows as (first, last) years, both included (empty for other bands)."""
        if self.counted_from is None:
            return ()
        out = []
        for row in self.rows:
            limits = {op: b.value for op, b in row.bounds or () if isinstance(b, Const)}
            out.append((int(limits[">="]), int(limits["<="])))
        return tuple(out)


@attrs.frozen
class BracketRow:
    """One bracket of progressive brackets: the part of the subject between `lower` and `upper`
    (None: from zero, or without end) is charged at `rate`.  `bounds` are the limits as written,
    `(op, value)`, and `words` how (word, postfix), for the wording; the words do not change the
    amount (a bracket's part is the same whether its limit is included or not).  `span` is where
    the bracket is written."""

    lower: Expr | None
    upper: Expr | None
    rate: Expr
    bounds: tuple[tuple[str, Expr], ...] = _spelling(())
    words: tuple[tuple[str, bool], ...] = _spelling(())
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Brackets:
    """Progressive (marginal) brackets over `subject`: the sum, over the rows, of each rate times
    the part of the subject inside the row, max(0, min(subject, upper) - lower).  `kind` and
    `unit` are the result's type; `span`, `subject_kind` and `subject_unit` as for `Band`."""

    subject: Expr
    rows: tuple[BracketRow, ...]
    kind: str = "money"
    unit: str | None = None
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    subject_kind: str = attrs.field(default="number", eq=False, repr=False, kw_only=True)
    subject_unit: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


Expr: TypeAlias = (
    Const
    | DateConst
    | DurationConst
    | BoolConst
    | EnumConst
    | FactRef
    | ParamRef
    | Arith
    | Neg
    | Cmp
    | Since
    | In
    | And
    | Or
    | Not
    | MinMax
    | Whole
    | Year
    | Unset
    | Table
    | Band
    | Brackets
)

EXPR_CLASSES: tuple[type, ...] = (
    Const,
    DateConst,
    DurationConst,
    BoolConst,
    EnumConst,
    FactRef,
    ParamRef,
    Arith,
    Neg,
    Cmp,
    Since,
    In,
    And,
    Or,
    Not,
    MinMax,
    Whole,
    Year,
    Unset,
    Table,
    Band,
    Brackets,
)


def children(expr: Expr) -> Iterator[Expr]:
    """The direct subexpressions of `expr`, in evaluation order."""
    match expr:
        case Arith() | Cmp() | And() | Or():
            yield expr.left
            yield expr.right
        case Neg() | Not():
            yield expr.operand
        case Since():
            yield expr.start
            yield expr.duration
        case In():
            yield expr.subject
        case MinMax():
            yield from expr.args
        case Whole():
            yield expr.value
            yield expr.size
        case Year():
            yield expr.date
        case Table():
            yield FactRef(expr.fact)
            for row in expr.rows:
                yield row.value
        case Band():
            yield expr.subject
            for band in expr.rows:
                for _, bound in band.bounds or ():
                    yield bound
                yield band.value
        case Brackets():
            yield expr.subject
            for bracket in expr.rows:
                yield from (b for b in (bracket.lower, bracket.upper) if b is not None)
                yield bracket.rate
        case (
            Const()
            | DateConst()
            | DurationConst()
            | BoolConst()
            | EnumConst()
            | FactRef()
            | ParamRef()
            | Unset()
        ):
            pass
        case _:
            assert_never(expr)


def walk(expr: Expr) -> Iterator[Expr]:
    """`expr` and every expression inside it, depth first."""
    stack = [expr]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(list(children(item))))


def atoms(cond: Expr) -> tuple[Expr, ...]:
    """The atoms of a condition, left to right: what is neither `And`, `Or` nor `Not` (a comparison,
    a membership, a yes/no fact).  Example coverage counts each atom's true and false outcome."""
    match cond:
        case And() | Or():
            return atoms(cond.left) + atoms(cond.right)
        case Not():
            return atoms(cond.operand)
        case _:
            return (cond,)


ROLES = "roles"


def roles_fact(expr: Expr, facts: Mapping[str, FactSpec]) -> bool:
    """Whether `expr` reads the applicant's roles (a set: compared by membership, not equality)."""
    return isinstance(expr, FactRef) and expr.name in facts and facts[expr.name].kind == ROLES


def facts_of(expr: Expr) -> tuple[str, ...]:
    """The facts `expr` reads, sorted by name (what an explanation lists as `label = value`)."""
    return tuple(sorted({e.name for e in walk(expr) if isinstance(e, FactRef)}))


# ------------------------------------------------------------------------------- declarations


@attrs.frozen
class FactSpec:
    """What a fact accepts: `name`, `label`, `kind` (money, percent, number, count, bool, date, text,
    enum, duration), count `unit`, the `enum` it takes values of with its `members` ((name, label)…),
    the literal `bounds` ((op, value)…) and whether it is the built-in applicant kind (`builtin`).
    `declared` has every bound as declared, literal or not ((op, expression)…), which the analyses
    assume of every applicant.  The built-in applicant fact is of kind `roles`: its value is the set
    of kinds (roles) the applicant has, one or more of `members`, at most one of each `exclusive`
    group; `applicant == k` holds when k is one of them, `applicant in [a, b]` when a or b is."""

    name: str
    label: str
    kind: str
    unit: str | None
    enum: str | None
    members: tuple[tuple[str, str], ...]
    bounds: tuple[tuple[str, Decimal], ...]
    builtin: bool
    declared: tuple[tuple[str, Expr], ...] = attrs.field(default=(), kw_only=True)
    exclusive: tuple[tuple[str, ...], ...] = attrs.field(default=(), kw_only=True)


@attrs.frozen
class ParamVersion:
    """A parameter's value from `start` (None: from the beginning), with its legal `cite`; `value` is
    an `Unset` when the text leaves it open."""

    start: datetime.date | None
    value: Expr
    cite: str | None


@attrs.frozen
class ParamSpec:
    """A parameter: `name`, `label`, `kind` and `unit` of its values, and its `versions` by date (the
    last version whose start is on or before the evaluation date applies; without a date, the last).
    `where` it is declared, for comments in generated code."""

    name: str
    label: str
    kind: str
    unit: str | None
    versions: tuple[ParamVersion, ...]
    where: Where | None = None


@attrs.frozen
class Validity:
    """The days the policy is in force, both inclusive: `start` and `end` (None: not said, not
    known, or no end: open validity); `start_blank` says the text leaves the start open (`valid
    from unset`, or `from issued` with `issued unset`); `text` is the window in the reader's words.

    When the text gives a date only to the year or the month (`2022年*月*日`), `start` is the
    earliest first day and `end` the latest last day it may be; `sure_start` and `sure_end` are the
    latest first day and the earliest last day (the days it is in force whatever the unknown part),
    and `vague` says why the days between are undetermined (「施行日期仅知年份（2022年）」).  For an
    exact window they equal `start` and `end`, and `vague` is None."""

    start: datetime.date | None
    end: datetime.date | None
    start_blank: bool
    text: str | None
    sure_start: datetime.date | None = attrs.field(kw_only=True, default=None)
    sure_end: datetime.date | None = attrs.field(kw_only=True, default=None)
    vague: str | None = attrs.field(kw_only=True, default=None)


@attrs.frozen
class Assumption:
    """An `assume` line: `cond` (the same expression as in `Plan.assumptions`), `text` the condition
    as written and the drafter's `label` (None: not given); what an applicant whose facts contradict
    it is told.  `where` it stands."""

    cond: Expr
    text: str
    label: str | None
    where: Where | None = None
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Rounding:
    """How money is rounded: to `unit` (yuan, jiao, fen) with `mode` (half_up, half_even, down)."""

    unit: str = "fen"
    mode: str = "half_up"


@attrs.frozen
class Where:
    """Where a piece stands in the policy file (1-based `line` and `col`), for comments in generated
    code and for diagnostics."""

    line: int
    col: int


# ------------------------------------------------------------------------------- gates


@attrs.frozen
class Gate:
    """One condition an applicant must pass before any clause is looked at.

    `key` names it in a result's `conditions` (`measure.require.1`, `measure.exclude.2`; the shared
    eligibility's gates are `eligibility.require.N`); `kind` is "require" or "exclude"; the gate
    passes when `cond` holds (a requirement) or fails to hold (an exclusion, `passes_when` False).
    `reason` is the text shown when it fails (the drafter's reason, else `text`, the condition as
    written); `cite` is the article; `written_reason` the drafter's reason (None: not given); `span` where the
    requirement or exclusion is written."""

    key: str
    kind: str
    cond: Expr
    text: str
    reason: str
    cite: str | None
    where: Where
    written_reason: str | None = None
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def passes_when(self) -> bool:
        return self.kind == "require"


@attrs.frozen
class ApplicantsGate:
    """The kinds of applicant a measure serves (`kinds`, sorted), with the `reason` shown when the
    applicant is of another kind or its kind is not given; `written`, the kinds in the order the
    text names them; `spans`, where each `applicants` line stands."""

    kinds: tuple[str, ...]
    reason: str
    written: tuple[str, ...] = ()
    spans: tuple[Span, ...] = attrs.field(default=(), eq=False, repr=False, kw_only=True)


# ------------------------------------------------------------------------------- clauses


@attrs.frozen
class Condition:
    """One `if` (or, `negated`, `unless`) of a clause: `cond` and `text`, the condition as written;
    `span` where it stands (its `unless` included)."""

    cond: Expr
    negated: bool
    text: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Cap:
    """A cap on a clause's amount: `expr` and `text`, the cap as written (`span`: where, for the
    analyses' findings)."""

    expr: Expr
    text: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Bound:
    """A clause's floor (保底) or offset (扣除): `expr` and `text`, as written (`span`: where)."""

    expr: Expr
    text: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Amount:
    """What a clause gives: `mode` "determined" (an entitlement), "ceiling" (discretionary, up to the
    figure) or "unset"; `expr` and `text` (as written; None when unset), then each of `caps`.
    `unset_reason` is the reason shown when the text gives no figure; `span` where it is written
    (where its formula is: `expr.span`).

    `floor` (None: none) lifts the figure to at least its value before the caps, and is the lower
    bound of a ceiling (a range; `written_range` when written `range A to B`); the caps bind both
    bounds.  `offset` (None: none) is deducted from both after the caps, floored at zero."""

    mode: str
    expr: Expr | None
    text: str | None
    caps: tuple[Cap, ...]
    unset_reason: str
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    floor: Bound | None = attrs.field(default=None, kw_only=True)
    offset: Bound | None = attrs.field(default=None, kw_only=True)
    written_range: bool = attrs.field(default=False, eq=False, kw_only=True)


@attrs.frozen
class Clause:
    """An `award` or a `bonus` (`kind`).

    `id` is positional and unique (`measure.name`, or `measure.N` for the N-th clause of the
    measure, counting from 1); `index` is that N; `name` is the clause's own name.  `label` is what
    results and explanations call it, `title` what diagrams call it (`给予「…」`), `head` the first
    line of its explanation (`[cite] label：适用`) and `conditions_text` its conditions as written,
    joined.  `exception_of` is the id of the default clause it replaces, with its `priority` as
    written (None: not given, which ranks as 0).  `written_label` is the label as written (None: not
    given, where `label` falls back to the name or the id), which the analyses' messages quote;
    `span` is where the clause is written."""

    id: str
    index: int
    name: str | None
    kind: str
    label: str
    title: str
    head: str
    cite: str | None
    exception_of: str | None
    priority: int | None
    conditions: tuple[Condition, ...]
    conditions_text: str
    amount: Amount
    where: Where
    written_label: str | None = None
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def rank(self) -> int:
        """The priority the settlement compares (an unwritten priority is 0)."""
        return self.priority or 0


@attrs.frozen
class ExceptionGroup:
    """A default clause (`default`, an id) with the exceptions that may replace it (`exceptions`,
    ids), in the order they are tried: highest priority first, then as written.  `ties` lists the
    exceptions that share a priority with another (if two of them apply, the choice is undecided)."""

    default: str
    exceptions: tuple[str, ...]
    ties: tuple[tuple[str, ...], ...]


# ------------------------------------------------------------------------------- measure rules


@attrs.frozen
class FundingLimit:
    """Cross-funding ceiling: the public funding `received` (an expression: the facts counted added
    up, `0` when none) plus this award is at most `limit`; `measures` are the other measures of the
    policy whose awards it also counts, in the order written (a shared limit: `Plan.shared_limits`);
    `text` is the limit as written, `received_text` the facts counted as written, `span` where the
    ceiling stands (for the analyses' findings)."""

    limit: Expr
    received: Expr
    text: str
    cite: str | None
    measures: tuple[str, ...] = ()
    received_text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Instalment:
    """One stage of a staged payout: `key` (`measure.stage`, in `conditions`), `name`, `label`; pays
    `share` of the award (None: the rest) when `cond` (as written: `text`) holds, otherwise this and
    every later stage is forfeit.  `written_label` is the label as written (None: not given, where
    `label` is the name)."""

    key: str
    name: str
    label: str
    share: Expr | None
    cond: Expr
    text: str
    cite: str | None
    written_label: str | None = None


@attrs.frozen
class Preference:
    """Applicants for whom `cond` holds are preferred; `note` is the explanation line, `text` the
    condition as written, `reason` the drafter's reason (None: not given)."""

    cond: Expr
    note: str
    cite: str | None
    text: str = ""
    reason: str | None = None


@attrs.frozen
class Quota:
    """At most `count` applicants are selected each year, ranked by `rank` (None: the text gives no
    order); `selection` is the line shown on a result; `rank_text` the ranking as written and
    `where` the quota stands (`span`: its whole extent, for the analyses' findings).  `selected_by`
    names the yes/no fact that records, per applicant, that the authority selected it (None: not
    recorded): a batch with more such applicants than `count` is inconsistent input."""

    count: int
    rank: Expr | None
    selection: str
    cite: str | None
    rank_text: str | None = None
    where: Where | None = None
    selected_by: str | None = None
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class GroupCap:
    """The awards of all members of one group (the fact `per`) together are at most `amount`; how to
    cut when they pass it is `allocate` (proportional, unset; None: not said).  `text` is the
    amount as written (what a batch is told when it has no value), `allocate_text` the allocation
    word as written, `span` where the group cap stands (for the analyses' findings)."""

    amount: Expr
    per: str
    allocate: str | None
    cite: str | None
    text: str = ""
    allocate_text: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Budget:
    """The yearly budget of a measure: `amount`, with `text`, the amount as written, and `span`,
    where the budget stands (for the analyses' findings)."""

    amount: Expr
    cite: str | None
    text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Population:
    """How many the text expects a measure to fund: `count` recipients, or, with `counting`, `count`
    units of that count fact summed over the awards (`unit` its unit); `about` when the text says
    左右/约; `text` as written, `span` where (for the analyses' findings)."""

    count: int
    about: bool
    counting: str | None
    cite: str | None
    unit: str | None = None
    text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Measure:
    """A support measure: `name`, `label`, `cite`, payment `forms` (cash when not said).

    `applicants` and `gates` (requirements, then exclusions, each in source order) decide whether the
    applicant is admitted; `clauses` in source order, `groups` the exception groups in source order
    of their defaults; `none_reason` is the reason shown when no award applies.  Then the measure's
    rules as written, in source order: `funding_limits`, `instalments`, `no_clawback`,
    `preferences`, `quotas`, `group_caps`, `budgets`.  Where the text writes a rule twice, the
    evaluation applies one of them: `funding`, `quota` and `group_cap` say which (the analysis and
    the diagrams look at all of them).  `no_clawback_cites` has the article of each no-clawback line
    as written; `written_label` is the label as written (None: not given, where `label` falls back
    to the name), which the analyses' messages quote; `population` how many the text expects it to
    fund (None: not said); `name_span` is where its name is written."""

    name: str
    label: str
    cite: str | None
    forms: tuple[str, ...]
    applicants: ApplicantsGate | None
    gates: tuple[Gate, ...]
    clauses: tuple[Clause, ...]
    groups: tuple[ExceptionGroup, ...]
    none_reason: str
    funding_limits: tuple[FundingLimit, ...]
    instalments: tuple[Instalment, ...]
    no_clawback: bool
    preferences: tuple[Preference, ...]
    quotas: tuple[Quota, ...]
    group_caps: tuple[GroupCap, ...]
    budgets: tuple[Budget, ...]
    where: Where
    no_clawback_cites: tuple[str | None, ...] = ()
    written_label: str | None = None
    population: Population | None = None
    name_span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def funding(self) -> FundingLimit | None:
        """The funding limit the evaluation applies: the last one written."""
        return self.funding_limits[-1] if self.funding_limits else None

    @property
    def quota(self) -> Quota | None:
        """The quota the evaluation and the batch apply: the first one written."""
        return self.quotas[0] if self.quotas else None

    @property
    def group_cap(self) -> GroupCap | None:
        """The group cap the batch applies: the first one written."""
        return self.group_caps[0] if self.group_caps else None

    @property
    def awards(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.kind == "award")

    @property
    def bonuses(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.kind == "bonus")

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id (KeyError when there is none)."""
        for c in self.clauses:
            if c.id == clause_id:
                return c
        raise KeyError(clause_id)


# ------------------------------------------------------------------------------- the policy


@attrs.frozen
class Combination:
    """How `measures` combine for one applicant: `mode` added, highest (就高不重复) or exclusive;
    `every` for a policy-wide rule (`combine highest { all }`: `measures` are all of them), which
    governs only the pairs no other rule names; `word` the mode as written (`highest`, `就高`),
    `span` where the line stands."""

    mode: str
    measures: tuple[str, ...]
    cite: str | None
    reason: str | None
    word: str = _spelling("")
    every: bool = False
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def rule(self) -> tuple[str, tuple[str, ...]]:
        """The rule as the runtime takes it (runtime.combine_total): a policy-wide mode ends `/all`."""
        return (self.mode + "/all" if self.every else self.mode, self.measures)


@attrs.frozen
class TotalCap:
    """The awards of `measures` together are at most `amount` for one applicant; `text` is the
    amount as written and `amount_span` where (for the analyses' findings)."""

    amount: Expr
    measures: tuple[str, ...]
    cite: str | None
    text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    amount_span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class OtherDocuments:
    """Combination with awards under other documents (`combine highest against other_award { … }`,
    与其他政策同类奖励按就高不重复原则执行): `received` is what the applicant received elsewhere for
    the same project (a money fact); under `highest` this policy pays for `measures` together what
    is over it, max(0, own − received), so the applicant ends with the higher of the two; under
    `exclusive` it pays nothing for them when `received` is above zero.  `label` is the fact's
    label, `received_text` the fact as written, `word` the mode as written, `every` for `{ all }`."""

    mode: str
    measures: tuple[str, ...]
    received: Expr
    cite: str | None
    reason: str | None
    label: str = ""
    word: str = _spelling("")
    every: bool = False
    received_text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Pot:
    """A sum `amount` (`text` as written) for `label`, shared by the applicants of `measures`
    (`each_year`: a sum for each year; a batch is one year's applicants).  One applicant alone is
    promised at most the pot; over a batch, when the claims pass it, it is shared by `allocate`:
    proportional, ranked (by `rank`, the highest first; `rank_text` as written), first_come (in the
    batch's order) or unset (each share undetermined, at most the pot); None: not said, as unset.
    `allocate_text` is the rule as written, `span` where the pot stands."""

    name: str
    label: str
    amount: Expr
    each_year: bool
    measures: tuple[str, ...]
    allocate: str | None
    rank: Expr | None
    cite: str | None
    text: str = attrs.field(default="", eq=False, repr=False, kw_only=True)
    rank_text: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    allocate_text: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Header:
    """What a policy file's header says, as written: its `title` (None: the file has no header),
    `issuer`, document number `docno`, the day `issued`, the `source` document's file name and the
    article the policy `cite`s, each None when not given (`issued unset` too); `validity`, the days
    it is in force (worked out), with `start_unset` when the file writes its start `unset`; and
    `source_at`, the character offsets of the `source` line (else of the header) in the file, where
    a problem with the source document is reported."""

    title: str | None
    issuer: str | None = None
    docno: str | None = None
    issued: datetime.date | PartialDate | None = None
    source: str | None = None
    cite: str | None = None
    validity: Validity = Validity(None, None, False, None)
    start_unset: bool = False
    source_at: tuple[int, int] | None = None


@attrs.frozen
class Plan:
    """A checked policy, lowered.

    `title`, `validity`, `rounding`; `facts` (name -> spec, in declaration order, the built-in
    applicant kind first when the policy declares kinds), `aliases` (every other key an applicant's
    input may use for a fact -> its name: `申报主体` for `applicant`), `params` (name -> spec),
    `kinds` (applicant kind -> label), `assumptions` (background facts the analysis may assume) and
    `assumption_lines` (the same, each with its text and label, in the same order);
    `eligibility`, the gates shared by every measure; `measures` in source order; `combinations` and
    `total_caps`, which act on the total; `pots`, the sums shared across applicants.  `enums` gives
    each enumeration's members with their labels (enum -> member -> label), the applicant kinds
    under `applicant`.  `header` is what the file's header says of the document (`title` and
    `validity` above are worked out from it).  Where things stand, for the analyses' findings:
    `span` the whole file, `header_span` its header and `eligibility_span` its first `eligibility`
    block (None: not written)."""

    title: str
    validity: Validity
    rounding: Rounding
    facts: Mapping[str, FactSpec]
    aliases: Mapping[str, str]
    params: Mapping[str, ParamSpec]
    kinds: Mapping[str, str]
    assumptions: tuple[Expr, ...]
    eligibility: tuple[Gate, ...]
    measures: tuple[Measure, ...]
    combinations: tuple[Combination, ...]
    total_caps: tuple[TotalCap, ...]
    assumption_lines: tuple[Assumption, ...] = ()
    enums: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    header: Header = Header(None)
    other_documents: tuple[OtherDocuments, ...] = ()

    pots: tuple[Pot, ...] = ()
    span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    header_span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    eligibility_span: Span | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    def pot_of(self, measure: str) -> Pot | None:
        """The pot `measure` draws on (None: none; the checker allows one)."""
        for pot in self.pots:
            if measure in pot.measures:
                return pot
        return None

    @property
    def headed(self) -> bool:
        """Whether the file has a header at all (a title of its own)."""
        return self.header.title is not None

    @property
    def issued(self) -> datetime.date | PartialDate | None:
        """The day the policy was issued (None: not said, or left blank; a PartialDate: known only
        to the year or the month)."""
        return self.header.issued

    @property
    def document(self) -> tuple[tuple[str, str], ...]:
        """What the header says of the document, (field, value) for those given (issuer, docno,
        source), for comments in generated code."""
        h = self.header
        return tuple(
            (what, v) for what, v in (("issuer", h.issuer), ("docno", h.docno), ("source", h.source)) if v
        )

    def label(self, ref: FactRef | ParamRef | EnumConst) -> str:
        """What the drafter calls a fact, a parameter or an enum value (its name when the plan does
        not know it)."""
        match ref:
            case FactRef():
                fact = self.facts.get(ref.name)
                return fact.label if fact is not None else ref.name
            case ParamRef():
                param = self.params.get(ref.name)
                return param.label if param is not None else ref.name
            case EnumConst():
                return self.member_label(ref.enum, ref.member)
            case _:
                assert_never(ref)

    def member_label(self, enum: str | None, member: str) -> str:
        """The label of value `member` of `enum` (the member itself when the enum is not known)."""
        return self.enums.get(enum, {}).get(member, member) if enum is not None else member

    @property
    def shared_limits(self) -> tuple[tuple[Measure, FundingLimit], ...]:
        """The applied funding limits that count other measures' awards, with the measure stating
        each, in the order the evaluation applies them: a measure's limit after the limits of the
        measures it counts (the checker refuses circles, E225), otherwise in source order."""
        by_name = {m.name: m for m in self.measures}
        done: dict[str, None] = {}

        def visit(m: Measure, path: frozenset[str]) -> None:
            limit = m.funding
            if m.name in done or m.name in path or limit is None or not limit.measures:
                return
            for name in limit.measures:
                if name in by_name:
                    visit(by_name[name], path | {m.name})
            done[m.name] = None

        for m in self.measures:
            visit(m, frozenset())
        return tuple((by_name[n], by_name[n].funding) for n in done)  # type: ignore[misc]

    def measure(self, name: str) -> Measure:
        """The measure called `name` (KeyError when there is none)."""
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id, in whichever measure (KeyError when there is none)."""
        return self.measure(clause_id.split(".", 1)[0]).clause(clause_id)
