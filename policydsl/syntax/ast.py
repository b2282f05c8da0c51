"""The policy AST: frozen attrs nodes, each carrying the source span it was built from."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeAlias, TypeVar

import attrs

from policydsl.dates import PartialDate
from policydsl.source import Span

_T = TypeVar("_T")


def position(items: Sequence[object], node: object) -> int:
    """Where `node` itself stands in `items` (0-based). Nodes compare by value (spans aside), so
    two clauses written alike are equal; `list.index` would give the first for both."""
    for i, item in enumerate(items):
        if item is node:
            return i
    raise ValueError(f"{type(node).__name__} is not among the items")


@attrs.frozen
class Node:
    """Base of every node; `span` is where it stands in the source."""

    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class Ident(Node):
    """A declared or referenced name (`text`)."""

    text: str


# ------------------------------------------------------------------------------- expressions


@attrs.frozen
class Money(Node):
    """An amount of money in 元 (`value`), written as `text` (`50万`, `1.5亿`, `200000元`)."""

    value: Decimal
    text: str


@attrs.frozen
class Percent(Node):
    """A percentage as a fraction (`50%` has value 0.5), written as `text`."""

    value: Decimal
    text: str


@attrs.frozen
class Ratio(Node):
    """A matching ratio `left:right` (`1:1`); its value is left/right."""

    left: Decimal
    right: Decimal
    text: str


@attrs.frozen
class Count(Node):
    """A count of `unit` (家, 人, 项…), written as `text` (`3000家`, `2000万条`)."""

    value: Decimal
    unit: str
    text: str


@attrs.frozen
class PerUnit(Node):
    """Money per unit of a count (`5万/家`): `value` 元 per `unit`."""

    value: Decimal
    unit: str
    text: str


@attrs.frozen
class Duration(Node):
    """A length of time: `value` of `unit` (year, month or day), written as `text`."""

    value: int
    unit: str
    text: str


@attrs.frozen
class Number(Node):
    """A plain number with no unit."""

    value: Decimal
    text: str


@attrs.frozen
class DateLit(Node):
    """A calendar date, written as `text` (`2021-05-16` or `2021年5月16日`)."""

    value: datetime.date
    text: str


@attrs.frozen
class Bool(Node):
    """`true`/`是` or `false`/`否`."""

    value: bool


@attrs.frozen
class Name(Node):
    """A reference to a fact, parameter or enum value: `parts` of a dotted name."""

    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@attrs.frozen
class BinOp(Node):
    """Arithmetic `left op right`; `op` is one of + - * / and `symbol` is how it was written."""

    op: str
    left: Expr
    right: Expr
    symbol: str


@attrs.frozen
class Negate(Node):
    """Unary minus."""

    operand: Expr


@attrs.frozen
class Compare(Node):
    """A comparison `left op right`.  `op` is the meaning (>=, >, <=, <, ==, !=); `word` is how the
    file wrote it (`>=`, `以上`, `超过`…) and `postfix` says the word stood after the number;
    `elided` says the file left its subject out, as the comparison before it has it (`营业收入 超过
    3000万 且 不满 5000万`): `left` is that comparison's subject."""

    op: str
    left: Expr
    right: Expr
    word: str
    postfix: bool
    elided: bool = attrs.field(default=False, eq=False)


@attrs.frozen
class Member(Node):
    """`subject in [a, b]`: the enum value is one of `values`."""

    subject: Expr
    values: tuple[Ident, ...]


@attrs.frozen
class And(Node):
    """Both `left` and `right`."""

    left: Expr
    right: Expr


@attrs.frozen
class Or(Node):
    """Either `left` or `right`."""

    left: Expr
    right: Expr


@attrs.frozen
class Not(Node):
    """Not `operand`."""

    operand: Expr


@attrs.frozen
class Implies(Node):
    """`left implies right` (background facts)."""

    left: Expr
    right: Expr


@attrs.frozen
class Call(Node):
    """A built-in function `func` (min, max, blocks, round_down, since, year, year_no) applied to `args`."""

    func: str
    args: tuple[Expr, ...]


@attrs.frozen
class Unset(Node):
    """A value the text leaves open (`unset` / `未定`)."""


@attrs.frozen
class TableEntry(Node):
    """One row of a tier table: enum value `key` (None for `otherwise`) gives `value`."""

    key: Ident | None
    value: Expr | Unset


@attrs.frozen
class Table(Node):
    """A tier table keyed by an enum fact: `by level { national: 1亿, ... }`."""

    subject: Ident
    entries: tuple[TableEntry, ...]


@attrs.frozen
class Bound(Node):
    """One side of a range, `op value`, as written with `word` (prefix or `postfix`)."""

    op: str
    value: Expr
    word: str
    postfix: bool


@attrs.frozen
class BandEntry(Node):
    """One band: the subject satisfies all `bounds` (None for `otherwise`) and gives `value`."""

    bounds: tuple[Bound, ...] | None
    value: Expr | Unset


@attrs.frozen
class Band(Node):
    """Bands of thresholds over `subject`: `band revenue { 不满 100万: 5万, 100万 以上: 10万 }`."""

    subject: Expr
    entries: tuple[BandEntry, ...]


@attrs.frozen
class BracketEntry(Node):
    """One bracket of a progressive table: the part of the subject inside `bounds` (a lower bound,
    an upper bound or both) is charged at `rate`."""

    bounds: tuple[Bound, ...]
    rate: Expr


@attrs.frozen
class Brackets(Node):
    """Progressive (marginal) brackets over `subject`, as income tax is charged:
    `progressive investment { 不超过 1000万: 10%, 超过 1000万: 5% }`; each bracket's rate applies
    to the part of the subject inside it."""

    subject: Expr
    entries: tuple[BracketEntry, ...]


@attrs.frozen
class ScheduleEntry(Node):
    """One row of a schedule by year: years `first` to `last` (both included, counted from the
    event, its own calendar year being year 1) give `value`; `first_span` and `last_span` are where
    the two year numbers are written."""

    first: int
    last: int
    value: Expr | Unset
    first_span: Span = attrs.field(eq=False, kw_only=True)
    last_span: Span = attrs.field(eq=False, kw_only=True)


@attrs.frozen
class Schedule(Node):
    """A schedule by year counted from the date `start`:
    `schedule recognised { years 1 until 2: 80%, years 3 until 5: 50% }` (`逐年 认定日期 { 第1至2年:
    80%, 第3至5年: 50% }`); the row that covers the year of the evaluation date gives the value."""

    start: Expr
    entries: tuple[ScheduleEntry, ...]


Expr: TypeAlias = (
    Money
    | Percent
    | Ratio
    | Count
    | PerUnit
    | Duration
    | Number
    | DateLit
    | Bool
    | Name
    | BinOp
    | Negate
    | Compare
    | Member
    | And
    | Or
    | Not
    | Implies
    | Call
    | Table
    | Band
    | Brackets
    | Schedule
)

# ------------------------------------------------------------------------------- declarations


@attrs.frozen
class Validity(Node):
    """When the policy is in force: `start` is a date (exact or known only to the year or month),
    "issued" (the issue date) or None (the text leaves it blank); it ends on `end` or after
    `duration`, or never when neither is written (`valid from issued`: open validity)."""

    start: datetime.date | PartialDate | str | None
    end: datetime.date | PartialDate | None
    duration: Duration | None


@attrs.frozen
class Rounding(Node):
    """How money is rounded: to `unit` (yuan, jiao, fen) with `mode` (half_up, half_even, down)."""

    unit: Ident
    mode: Ident


@attrs.frozen
class Header(Node):
    """The policy header: `title`, `issuer`, document number `docno`, `issued` date (None when the
    text leaves it blank), `validity`, the `source` document and the `rounding` rule; `lines` says
    which header lines the file wrote, where, in order (the formatter keeps both, and `issued unset`)."""

    title: str
    issuer: str | None
    docno: str | None
    issued: datetime.date | PartialDate | None
    validity: Validity | None
    source: str | None
    rounding: Rounding | None
    cite: str | None
    lines: tuple[tuple[str, Span], ...] = attrs.field(default=(), eq=False, repr=False)


@attrs.frozen
class KindDecl(Node):
    """A kind of applicant (`kind platform "工业互联网平台"`)."""

    name: Ident
    label: str | None


@attrs.frozen
class ExclusiveKinds(Node):
    """Kinds of applicant that exclude each other (`exclusive_kinds { enterprise, association }`):
    an applicant has at most one of `kinds`; kinds not named together may overlap."""

    kinds: tuple[Ident, ...]
    cite: str | None


@attrs.frozen
class UnitDecl(Node):
    """A unit the policy measures in beyond the built-in ones (`unit 标准箱 "标准箱"`)."""

    name: Ident
    label: str | None


@attrs.frozen
class EnumMember(Node):
    """One value of an enum, with its label."""

    name: Ident
    label: str | None


@attrs.frozen
class EnumDecl(Node):
    """An enumeration: `name`, `label` and its `members`."""

    name: Ident
    label: str | None
    members: tuple[EnumMember, ...]


@attrs.frozen
class TypeRef(Node):
    """A type as written: `name` (money, percent, count, bool, date, duration, number or an enum)
    and, for counts, the `unit` (家, 人, 项…)."""

    name: Ident
    unit: Ident | None


@attrs.frozen
class FactDecl(Node):
    """A fact about an applicant: `name`, human `label`, `type` and optional `bounds`."""

    name: Ident
    label: str | None
    type: TypeRef
    bounds: tuple[Bound, ...]


@attrs.frozen
class ParamVersion(Node):
    """A parameter's value from date `start` (None: from the beginning), with its legal `cite`."""

    start: datetime.date | None
    value: Expr | Unset
    cite: str | None


@attrs.frozen
class ParamDecl(Node):
    """A named value with its legal reference, versioned by date; a version may be `unset`."""

    name: Ident
    label: str | None
    type: TypeRef
    versions: tuple[ParamVersion, ...]


@attrs.frozen
class Assume(Node):
    """A background fact the analysis may assume (`assume national implies provincial`)."""

    cond: Expr
    label: str | None


@attrs.frozen
class Requirement(Node):
    """An eligibility condition, with the `reason` shown when it fails and its `cite`."""

    cond: Expr
    reason: str | None
    cite: str | None


@attrs.frozen
class Eligibility(Node):
    """Eligibility shared by every measure of the policy."""

    requirements: tuple[Requirement, ...]


# ------------------------------------------------------------------------------- measures


@attrs.frozen
class Applicants(Node):
    """The kinds of applicant a measure serves."""

    kinds: tuple[Ident, ...]


@attrs.frozen
class Pays(Node):
    """The payment forms of a measure (cash, voucher, interest_subsidy, equity, grant)."""

    forms: tuple[Ident, ...]


@attrs.frozen
class Amount(Node):
    """What a clause gives.  `mode` is "determined" (an entitlement: `expr`, capped by `caps`),
    "ceiling" (discretionary up to `expr` and `caps`) or "unset" (the text gives no figure).
    `floor` (保底) lifts a determined amount to at least its value and is the lower bound of a
    ceiling (`range A to B` is a ceiling B with the floor A, `written_range` says it was written so);
    `floors` and `offsets` hold every one written (the checker refuses a second); `offset` (扣除)
    is what the applicant already received for the same thing, deducted last and floored at zero."""

    mode: str
    expr: Expr | None
    caps: tuple[Expr, ...]
    floors: tuple[Expr, ...] = attrs.field(default=(), kw_only=True)
    offsets: tuple[Expr, ...] = attrs.field(default=(), kw_only=True)
    written_range: bool = attrs.field(default=False, kw_only=True)

    @property
    def floor(self) -> Expr | None:
        return self.floors[0] if self.floors else None

    @property
    def offset(self) -> Expr | None:
        return self.offsets[0] if self.offsets else None


@attrs.frozen
class Condition(Node):
    """`if expr` or, with `negated`, `unless expr`."""

    expr: Expr
    negated: bool


@attrs.frozen
class Clause(Node):
    """`award` or `bonus` (追加, added on top of the award): an optional `name` and `label`, the
    default clause it is an `exception_of` with its `priority`, the `amount`, the `conditions`
    (all must hold) and the cited article."""

    kind: str
    name: Ident | None
    label: str | None
    exception_of: Ident | None
    priority: int | None
    amount: Amount
    conditions: tuple[Condition, ...]
    cite: str | None


@attrs.frozen
class Exclusion(Node):
    """The measure pays nothing when `cond` holds."""

    cond: Expr
    reason: str | None
    cite: str | None


@attrs.frozen
class Preference(Node):
    """Applicants for whom `cond` holds are preferred in selection (a ranking, not an amount)."""

    cond: Expr
    reason: str | None
    cite: str | None


@attrs.frozen
class FundingLimit(Node):
    """Cross-funding ceiling: all public funding, `counting` the funding already received (facts) and
    the awards of other measures of the policy for the same project, and this award, is at most
    `limit` (`funding_limit 50% * investment counting other_funding, center_match`)."""

    limit: Expr
    counting: tuple[Name, ...]
    cite: str | None


@attrs.frozen
class Quota(Node):
    """At most `count` applicants are selected each year, ranked by `rank` when declared; when
    `selected_by` names a yes/no fact, each applicant's facts record whether it was selected."""

    count: int
    rank: Expr | None
    cite: str | None
    selected_by: Ident | None = None


@attrs.frozen
class GroupCap(Node):
    """The awards of all members of one group (`per` fact) together are at most `amount`; how to
    cut when they pass it is `allocate` (proportional, unset)."""

    amount: Expr
    per: Ident
    allocate: Ident | None
    cite: str | None


@attrs.frozen
class Budget(Node):
    """The yearly budget of a measure."""

    amount: Expr
    cite: str | None


@attrs.frozen
class Population(Node):
    """How many the text expects a measure to fund (`expects about 2000 recipients`), or how many units
    of the fact `counting` its awards add up to (`expects about 2000家 counting served`), `written` as
    written; `about` when the text says 左右/约."""

    count: int
    written: str
    about: bool
    counting: Ident | None
    cite: str | None


@attrs.frozen
class Instalment(Node):
    """One stage of a staged payout: pays `share` of the award (None: the rest) when `cond` holds;
    otherwise this and every later stage is forfeit."""

    name: Ident
    label: str | None
    share: Expr | None
    cond: Expr
    cite: str | None


@attrs.frozen
class NoClawback(Node):
    """Instalments already paid are kept when a later stage is forfeit."""

    cite: str | None


MeasureItem: TypeAlias = (
    Applicants
    | Pays
    | Requirement
    | Clause
    | Exclusion
    | Preference
    | FundingLimit
    | Quota
    | GroupCap
    | Budget
    | Population
    | Instalment
    | NoClawback
)


@attrs.frozen
class Measure(Node):
    """A support measure (支持方向): `name`, `label`, cited article and its `items` in source order."""

    name: Ident
    label: str | None
    cite: str | None
    items: tuple[MeasureItem, ...]

    def of(self, cls: type[_T]) -> list[_T]:
        """The items of one kind, in source order."""
        return [item for item in self.items if isinstance(item, cls)]

    @property
    def clauses(self) -> list[Clause]:
        return self.of(Clause)

    def clause_id(self, clause: Clause) -> str:
        """`measure.clause`, numbering unnamed clauses by position from 1.  Position is found by
        identity, not equality: two clauses written alike (`award 10万 if x` twice) are two clauses."""
        if clause.name is not None:
            return f"{self.name.text}.{clause.name.text}"
        return f"{self.name.text}.{position(self.clauses, clause) + 1}"


@attrs.frozen
class Combine(Node):
    """How `measures` combine for one applicant: `mode` added, highest (就高不重复) or exclusive;
    `every` for a policy-wide rule (`combine highest { all }`, no measures named) that settles every
    pair no other rule names.  With `other` (`combine highest against other_award { … }`), the rule is
    with awards under other documents: `other` is the money fact holding what the applicant received
    elsewhere for the same project, and the rule says how this policy's award for `measures` combines
    with it (就高: this policy pays what is over it; 互斥: nothing when it is above zero), not how the
    measures combine with each other."""

    mode: Ident
    measures: tuple[Ident, ...]
    cite: str | None
    reason: str | None
    every: bool = False
    other: Name | None = None


@attrs.frozen
class TotalCap(Node):
    """The sum of the awards of `measures` for one applicant is at most `amount`."""

    amount: Expr
    measures: tuple[Ident, ...]
    cite: str | None


@attrs.frozen
class Pot(Node):
    """A sum `amount` (`each_year`: for each year) shared by the applicants of `measures`; when their
    claims pass it, it is shared by `allocate` (proportional, ranked `by` a figure, first_come, unset;
    None: not said)."""

    name: Ident
    label: str | None
    amount: Expr
    each_year: bool
    measures: tuple[Ident, ...]
    allocate: Ident | None
    by: Expr | None
    cite: str | None


@attrs.frozen
class Acknowledge(Node):
    """A finding with `code` on `targets` (measures or measure.clause) is settled for `reason`."""

    code: Ident
    targets: tuple[Name, ...]
    reason: str


# ------------------------------------------------------------------------------- examples


@attrs.frozen
class Text(Node):
    """A quoted text given for a fact of type text (a cluster's name, say)."""

    value: str


@attrs.frozen
class Roles(Node):
    """The roles of an applicant who has several (`applicant: {platform, node_operator}`)."""

    kinds: tuple[Ident, ...]


@attrs.frozen
class Binding(Node):
    """`fact: value` in an example's given block."""

    name: Ident
    value: Expr | Text | Roles


@attrs.frozen
class Expectation(Node):
    """What an example expects of a measure (`target`; None is the total): `kind` is "amount",
    "ceiling", "undetermined" or "ineligible", with `value` for the first two."""

    target: Ident | None
    kind: str
    value: Expr | None


@attrs.frozen
class Example(Node):
    """A worked example: `name`, evaluation `date`, the `given` facts and `expectations`; `base` the
    example or base block it extends (None: none; its facts, parameters and date hold unless given
    here), `params` the parameter values it sets (`with { … }`); `template` marks a `base_applicant` block,
    which only lends its facts (no expectations, never run).  `given_span` and `params_span` are
    where the two blocks stand (None: not written)."""

    name: str
    date: datetime.date | None
    given: tuple[Binding, ...]
    expectations: tuple[Expectation, ...]
    base: Text | None = None
    params: tuple[Binding, ...] = ()
    template: bool = False
    given_span: Span | None = attrs.field(default=None, kw_only=True, eq=False)
    params_span: Span | None = attrs.field(default=None, kw_only=True, eq=False)


Item: TypeAlias = (
    KindDecl
    | ExclusiveKinds
    | UnitDecl
    | EnumDecl
    | FactDecl
    | ParamDecl
    | Assume
    | Eligibility
    | Measure
    | Combine
    | TotalCap
    | Pot
    | Acknowledge
    | Example
)


@attrs.frozen
class Comment(Node):
    """A `# comment`; kept so the formatter can put it back."""

    text: str


@attrs.frozen
class Policy(Node):
    """A whole policy file: the `header`, its `items` in source order, whether its keywords are
    Chinese (`chinese`) and its `comments`."""

    header: Header | None
    items: tuple[Item, ...]
    chinese: bool = attrs.field(eq=False)
    comments: tuple[Comment, ...] = attrs.field(eq=False)

    def of(self, cls: type[_T]) -> list[_T]:
        """The items of one kind, in source order."""
        return [item for item in self.items if isinstance(item, cls)]


# Every concrete node class; the visitor test checks each back end handles all of them.
NODE_CLASSES: tuple[type[Node], ...] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Node) and cls is not Node
)
