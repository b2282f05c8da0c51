"""The solver encoding of a checked policy; the only module that imports the SMT solver (z3).

What an applicant is, to the solver:
- money facts are whole numbers of fen (an Int), read as 元 (Real = fen / 100), so every witness
  is an amount a drafter can write down exactly; percentages and plain numbers are exact Reals;
  counts are non-negative Ints; booleans are Bools; enum values (and the applicant kind) are Ints
  numbering the members in declaration order;
- dates are (year, month, day) Ints with a valid calendar day; they are ordered by
  year*512 + month*32 + day, and `since(d) >= N年` compares the evaluation date with d plus N years,
  clamped to the end of a short month exactly as the interpreter does;
- durations held by facts are whole months;
- a value the text leaves open (an unset parameter, tier or amount) is an unknown of its type.
Every query runs under the domain: declared bounds, the kinds of fact, `assume` background facts and
the validity of the policy for the evaluation date.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, assert_never

import attrs
import z3

from policydsl.evaluation.runtime import shift, whole_unit
from policydsl.messages import Message, msg
from policydsl.plan import nodes as P
from policydsl.syntax.keywords import APPLICANT_FACT

Formula = Any  # a z3 BoolRef; opaque outside this module
Term = Any  # a z3 ArithRef (Real)

# The calendar years a date fact may take; outside them an applicant is not plausible (Catala's
# proof mode reported "witnesses" born in 1900 until users could rule them out).
YEAR_RANGE = (1949, 2100)
_QUANTA = {"yuan": Fraction(1), "jiao": Fraction(1, 10), "fen": Fraction(1, 100)}
TODAY = "评估日期"
# Amounts beyond a million 亿 are taken as unbounded by the extreme-value search.
_LIMIT = Fraction(10) ** 14
# The solver's resource limit per question (z3 `rlimit`, a count of its elementary steps): a
# question not decided within it is undecided (P900) on every machine and under any load, where
# the wall-clock timeout depends on both.  About a second of solver work on the development
# machine; the busiest question of the bundled policies and test data takes under a tenth of it
# (docs/performance.md).
DEFAULT_RLIMIT = 5_000_000
RLIMIT_REASON = "rlimit"  # the reason of a question stopped by the step limit
# Solver questions a witness may take to find rounder figures (Session.tidy): bounded, so a finding
# costs at most this much more; not counted against the analysis budget, which counts checks.
TIDY_TRIES = 24
_WAN_EXPONENT = 4  # a money figure is tried at 1万 and rounder first: 0.01元 is a solver's edge value
# The powers of ten a shown amount is made a multiple of (Session.round_amounts): from 0.01元 (the
# fen, below which no amount is shown) to 1亿.
_AMOUNT_EXPONENTS = (-2, 8)
# why an extreme is undecided when the solver's answer and the values it gives disagree
_UNWITNESSED = (
    "the solver's values do not bear out its answer, as when an amount is divided by a fact that can be 0"
)


# What z3 raises when it rejects a term; the analysis turns it into a "could not check" finding.
SolverError = z3.Z3Exception


class Unsupported(Exception):
    """A construct the encoding cannot express exactly (`reason`, in the plan expression `expr`, None
    when the encoder does not know which); the analysis reports "could not check" for what depends
    on it, never a clean result."""

    def __init__(self, reason: str | Message, expr: P.Expr | None = None) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.expr = expr


@attrs.frozen
class DateTerm:
    """A date as three Int terms `y`, `m`, `d`."""

    y: Any
    m: Any
    d: Any

    @property
    def key(self) -> Any:
        # Monotone in calendar order: months < 32 days, years < 16 months.
        return self.y * 512 + self.m * 32 + self.d


@attrs.frozen
class DurationTerm:
    """A length of time: `count` (an Int term) of `unit` ("month" or "day"; years are 12 months)."""

    count: Any
    unit: str


@attrs.frozen
class EnumTerm:
    """An enum value: the Int `index` of a member of enum `enum`."""

    index: Any
    enum: str


@attrs.frozen
class RolesTerm:
    """The applicant's roles: one Bool per kind of applicant (`roles`, kind -> Bool), at least one of
    them true and at most one of each group the policy declares exclusive."""

    roles: Mapping[str, Any]


Value = Any  # Term | Formula | DateTerm | DurationTerm | EnumTerm | RolesTerm


@attrs.frozen
class Witness:
    """A concrete applicant found by the solver: `facts` (name -> Decimal, Fraction, bool, enum
    member name, date or (count, unit) duration), the evaluation date `on`, and the values assumed
    for parameters the text leaves unset (`params`)."""

    facts: Mapping[str, Any]
    on: datetime.date | None
    params: Mapping[str, Any] = attrs.field(factory=dict)


class Answer:
    """One query's result: `status` sat, unsat or unknown; a `witness` when sat, with `values` of
    the terms asked for (both read from the solution only when asked: most answers are only
    looked at for their status); `ms` the time taken and, when unknown, the solver's `reason`.
    `unset` names the terms whose value depends on an amount, tier or band the text leaves unset:
    the figure in `values` is only the solver's pick and must not be shown as the amount."""

    def __init__(
        self,
        status: str,
        ms: int = 0,
        reason: str = "",
        decode: Callable[[], tuple[Witness, dict[str, Fraction | None], frozenset[str]]] | None = None,
    ) -> None:
        self.status = status
        self.ms = ms
        self.reason = reason
        self._decode = decode
        self._decoded: tuple[Witness, dict[str, Fraction | None], frozenset[str]] | None = None

    def _get(self) -> tuple[Witness, dict[str, Fraction | None], frozenset[str]] | None:
        if self._decoded is None and self._decode is not None:
            self._decoded = self._decode()
        return self._decoded

    @property
    def witness(self) -> Witness | None:
        got = self._get()
        return None if got is None else got[0]

    @property
    def values(self) -> dict[str, Fraction | None]:
        got = self._get()
        return {} if got is None else got[1]

    @property
    def unset(self) -> frozenset[str]:
        got = self._get()
        return frozenset() if got is None else got[2]

    @property
    def sat(self) -> bool:
        return self.status == "sat"

    @property
    def unsat(self) -> bool:
        return self.status == "unsat"


@attrs.frozen
class Optimum:
    """The largest (or least) value of a term: `status` as in Answer; `value` the bound (None when
    unbounded), `attained` whether some applicant reaches it, and a `witness` at or near it."""

    status: str
    value: Fraction | None = None
    attained: bool = True
    witness: Witness | None = None
    ms: int = 0
    reason: str = ""


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)


# ---------------------------------------------------------------------------------- the encoder


class Encoder:
    """Turns the expressions, clauses and measures of a policy's plan into solver formulas.

    Every encoding is cached by plan node, so a clause used by several queries is encoded once and
    its unknowns are shared.  `background` collects the domain constraints and definitions of the
    variables created so far; a Session asserts them before each query."""

    def __init__(self, plan: P.Plan) -> None:
        self.plan = plan
        self.ctx = z3.Context()
        self.background: list[Formula] = []
        self.facts: dict[str, Value] = {}
        self.unknowns: dict[str, Value] = {}
        self._cache: dict[tuple[int, str], Any] = {}
        self._today: DateTerm | None = None
        self._fresh = 0
        self.fen: dict[str, Any] = {}  # money facts: the Int number of fen behind each
        self.whole: dict[str, Any] = {}  # count facts: the Int behind each
        self._half: Any = None
        self._reals: dict[Fraction, Any] = {}
        # the members of each enumeration, in declaration order (their index is the solver's value)
        self.enums: dict[str, list[str]] = {"applicant": list(plan.kinds)}
        for spec in plan.facts.values():
            if spec.enum is not None:
                self.enums[spec.enum] = [name for name, _ in spec.members]
        self._unset_names: dict[int, str] = {}
        self.quantum = _QUANTA[plan.rounding.unit]
        self.rounding_mode = plan.rounding.mode
        # the days the policy may be in force: from the earliest first day to the latest last day
        # when the text gives a date only to the year or month (the evaluators leave the days
        # between undetermined, so the analysis asks about all of them)
        self.window = (plan.validity.start, plan.validity.end)
        for assume in plan.assumptions:
            # an assumption the encoding cannot express only makes the domain wider
            with contextlib.suppress(Unsupported):
                self.background.append(self.cond(assume))

    # ------------------------------------------------------------------ constants and combinators
    def real(self, value: Fraction | Decimal | int) -> Term:
        f = Fraction(value)
        hit = self._reals.get(f)
        if hit is None:
            hit = self._reals[f] = z3.RealVal(f"{f.numerator}/{f.denominator}", self.ctx)
        return hit

    def integer(self, value: int) -> Any:
        return z3.IntVal(value, self.ctx)

    def true(self) -> Formula:
        return z3.BoolVal(True, self.ctx)

    def false(self) -> Formula:
        return z3.BoolVal(False, self.ctx)

    def and_(self, *parts: Formula) -> Formula:
        items = [p for p in parts if not z3.is_true(p)]
        if not items:
            return self.true()
        return items[0] if len(items) == 1 else z3.And(*items)

    def or_(self, *parts: Formula) -> Formula:
        items = [p for p in parts if not z3.is_false(p)]
        if not items:
            return self.false()
        return items[0] if len(items) == 1 else z3.Or(*items)

    def not_(self, part: Formula) -> Formula:
        return z3.Not(part)

    def ite(self, cond: Formula, then: Any, other: Any) -> Any:
        return z3.If(cond, then, other)

    def compare(self, op: str, left: Term, right: Term) -> Formula:
        return _ARITH[op](left, right)

    def sum(self, terms: Sequence[Term]) -> Term:
        return z3.Sum(*terms) if len(terms) > 1 else (terms[0] if terms else self.real(0))

    def min(self, a: Term, b: Term) -> Term:
        return z3.If(b < a, b, a)

    def max(self, a: Term, b: Term) -> Term:
        return z3.If(b > a, b, a)

    def fresh(self, prefix: str, sort: str = "real") -> Any:
        self._fresh += 1
        name = f"{prefix}!{self._fresh}"
        if sort == "int":
            return z3.Int(name, self.ctx)
        if sort == "bool":
            return z3.Bool(name, self.ctx)
        return z3.Real(name, self.ctx)

    def round(self, x: Term) -> Term:
        """`x` rounded to the policy's unit by its mode, exactly (to_int is the floor)."""
        return z3.ToReal(self.units(x)) * self.real(self.quantum)

    def units(self, x: Term) -> Any:
        """`x` rounded, as a whole number of the policy's rounding unit (an Int term)."""
        if self._half is None:
            self._half = self.real(Fraction(1, 2))
        half = self._half
        # dividing by the unit is multiplying by its inverse (a whole number: 100 for fen)
        t = x * self.real(1 / self.quantum)
        if self.rounding_mode == "down":
            n = z3.If(t >= 0, z3.ToInt(t), -z3.ToInt(-t))
        elif self.rounding_mode == "half_even":
            f = z3.ToInt(t)
            r = t - z3.ToReal(f)
            n = z3.If(r > half, f + 1, z3.If(r < half, f, z3.If(f % 2 == 0, f, f + 1)))
        else:  # half_up: ties away from zero
            n = z3.If(t >= 0, z3.ToInt(t + half), -z3.ToInt(-t + half))
        return n

    def round_value(self, value: Fraction) -> Fraction:
        """A known amount rounded as `round` rounds a term (the Python mirror, for reports)."""
        t = value / self.quantum
        if self.rounding_mode == "down":
            n = math.trunc(t)
        elif self.rounding_mode == "half_even":
            n = round(t)  # Fraction rounds half to even
        else:
            n = math.floor(abs(t) + Fraction(1, 2)) * (1 if t >= 0 else -1)
        return n * self.quantum

    # ------------------------------------------------------------------ variables
    def today(self) -> DateTerm:
        """The evaluation date: a valid date inside the policy's validity, when it is known."""
        if self._today is None:
            date = self._date_vars(TODAY)
            start, end = self.window
            if start is not None:
                self.background.append(date.key >= _date_const(self, start).key)
            if end is not None:
                self.background.append(date.key <= _date_const(self, end).key)
            self._today = date
        return self._today

    def in_force(self) -> Formula:
        """The policy is in force on the evaluation date (always, when no validity is declared)."""
        start, end = self.window
        if start is None and end is None:
            return self.true()
        self.today()
        return self.true()  # the window constrains the evaluation date itself

    def _date_vars(self, name: str, years: tuple[int, int] = YEAR_RANGE) -> DateTerm:
        y, m, d = (z3.Int(f"{name}.{part}", self.ctx) for part in ("y", "m", "d"))
        date = DateTerm(y, m, d)
        self.background.append(self._valid_date(date, *years))
        return date

    def _valid_date(self, date: DateTerm, lo: int, hi: int) -> Formula:
        # the leap-year rule only matters on 29 February; guarding it keeps the rest linear
        short = z3.Or(date.m == 4, date.m == 6, date.m == 9, date.m == 11)
        return z3.And(
            date.y >= lo,
            date.y <= hi,
            date.m >= 1,
            date.m <= 12,
            date.d >= 1,
            date.d <= z3.If(date.m == 2, 29, z3.If(short, 30, 31)),
            z3.Implies(z3.And(date.m == 2, date.d == 29), _leap(date.y)),
        )

    def fact(self, name: str) -> Value:
        """The variable of the fact `name`, created with its domain on first use."""
        if name in self.facts:
            return self.facts[name]
        spec = self.plan.facts[name]
        kind = spec.kind
        value: Value
        if kind == "money":
            fen = z3.Int(f"{name}.fen", self.ctx)
            value = z3.ToReal(fen) / 100
            self.fen[name] = fen
        elif kind in ("percent", "number", "per_unit"):
            value = z3.Real(name, self.ctx)
        elif kind == "count" and not whole_unit(spec.unit):  # an area, a power…: any amount ≥ 0
            value = z3.Real(name, self.ctx)
            self.background.append(value >= 0)
        elif kind == "count":
            var = z3.Int(name, self.ctx)
            self.background.append(var >= 0)
            value = z3.ToReal(var)
            self.whole[name] = var
        elif kind == "bool":
            value = z3.Bool(name, self.ctx)
        elif kind == "enum" and spec.enum is not None:
            var = z3.Int(name, self.ctx)
            self.background.append(z3.And(var >= 0, var < len(spec.members)))
            value = EnumTerm(var, spec.enum)
        elif kind == "roles":
            # roles overlap unless the policy says they exclude each other
            roles = {member: z3.Bool(f"{name}.{member}", self.ctx) for member, _ in spec.members}
            self.background.append(self.or_(*roles.values()))
            for group in spec.exclusive:
                self.background.append(z3.AtMost(*(roles[k] for k in group if k in roles), 1))
            value = RolesTerm(roles)
        elif kind == "date":
            value = self._date_vars(name)
        elif kind == "duration":
            var = z3.Int(name, self.ctx)
            self.background.append(var >= 0)
            value = DurationTerm(var, "month")
        else:
            raise Unsupported(msg("finding.fact_kind_unsupported", kind=_kind_text(kind, spec.unit)))
        self.facts[name] = value
        for op, bound in spec.bounds:
            self.background.append(self._compare_values(op, value, self.real(bound), None))
        return value

    def unknown(self, key: str, kind: str, enum: str | None = None) -> Value:
        """A value the text leaves open, of `kind`, shared by every use of `key`."""
        if key in self.unknowns:
            return self.unknowns[key]
        value: Value
        if kind in ("money", "percent", "per_unit"):
            value = z3.Real(key, self.ctx)
            self.background.append(value >= 0)
        elif kind == "number":
            value = z3.Real(key, self.ctx)
        elif kind == "count":
            var = z3.Int(key, self.ctx)
            self.background.append(var >= 0)
            value = z3.ToReal(var)
        elif kind == "bool":
            value = z3.Bool(key, self.ctx)
        elif kind == "enum" and enum is not None:
            var = z3.Int(key, self.ctx)
            self.background.append(z3.And(var >= 0, var < len(self.enums.get(enum, ()))))
            value = EnumTerm(var, enum)
        elif kind == "date":
            value = self._date_vars(key)
        elif kind == "duration":
            var = z3.Int(key, self.ctx)
            self.background.append(var >= 0)
            value = DurationTerm(var, "month")
        else:
            raise Unsupported(msg("finding.unset_kind_unsupported", kind=kind))
        self.unknowns[key] = value
        return value

    def name_unset(self, node: P.Expr, name: str) -> None:
        """Call the unknown behind `node` (an unset tier or band value, or the table or band whose
        row is missing) `name` in the solver; unnamed ones are numbered."""
        self._unset_names[id(node)] = name

    def _unset_key(self, node: Any, suffix: str = "") -> str:
        name = self._unset_names.get(id(node))
        if name is None:
            name = self._unset_names[id(node)] = f"unset!{self._next()}"
        return name + suffix

    # ------------------------------------------------------------------ expressions
    def _cached(self, node: object, tag: str, make: Any, expr: P.Expr | None = None) -> Any:
        key = (id(node), tag)
        hit = self._cache.get(key)
        if hit is None:
            try:
                hit = make()
            except Unsupported as exc:
                if exc.expr is None:
                    exc.expr = expr
                hit = exc
            self._cache[key] = hit
        if isinstance(hit, Unsupported):
            raise hit
        return hit

    def cond(self, node: P.Expr) -> Formula:
        """A condition as a formula."""
        value = self.value(node)
        if not z3.is_bool(value):
            raise Unsupported("this is not a condition", node)
        return value

    def num(self, node: P.Expr) -> Term:
        """A numeric expression (money in 元, percentages as fractions, counts) as a Real term."""
        value = self.value(node)
        if isinstance(value, DateTerm | DurationTerm | EnumTerm | RolesTerm) or z3.is_bool(value):
            raise Unsupported("a number was expected here", node)
        return value

    def value(self, node: P.Expr) -> Value:
        return self._cached(node, "v", lambda: self._value(node), node)

    def _value(self, node: P.Expr) -> Value:
        match node:
            case P.Const():
                return self.real(node.value)
            case P.BoolConst():
                return z3.BoolVal(node.value, self.ctx)
            case P.DateConst():
                return _date_const(self, node.value)
            case P.DurationConst():
                if node.unit == "year":
                    return DurationTerm(self.integer(node.count * 12), "month")
                return DurationTerm(self.integer(node.count), node.unit)
            case P.FactRef():
                return self.fact(node.name)
            case P.ParamRef():
                return self.param(node.name)
            case P.EnumConst():
                return EnumTerm(self.integer(self.enums[node.enum].index(node.member)), node.enum)
            case P.Neg():
                return -self.num(node.operand)
            case P.Arith():
                return self._arith(node)
            case P.Cmp():
                return self._compare_values(node.op, self.value(node.left), self.value(node.right), node)
            case P.Since():
                return self._since(node)
            case P.In():
                subject = self.value(node.subject)
                if isinstance(subject, RolesTerm):  # the applicant has any of the roles
                    return self.or_(*(subject.roles[v] for v in node.members if v in subject.roles))
                if not isinstance(subject, EnumTerm):
                    raise Unsupported("`in [...]` needs an enum value", node)
                members = self.enums.get(subject.enum, [])
                return self.or_(*(subject.index == members.index(v) for v in node.members if v in members))
            case P.And():
                return z3.And(self.cond(node.left), self.cond(node.right))
            case P.Or():
                if isinstance(node.left, P.Not):  # `a implies b`, as the lowering writes it
                    return z3.Implies(self.cond(node.left.operand), self.cond(node.right))
                return z3.Or(self.cond(node.left), self.cond(node.right))
            case P.Not():
                return z3.Not(self.cond(node.operand))
            case P.MinMax():
                terms = [self.num(a) for a in node.args]
                result = terms[0]
                for t in terms[1:]:
                    result = self.min(result, t) if node.func == "min" else self.max(result, t)
                return result
            case P.Whole():
                value, size = self.num(node.value), self.num(node.size)
                # floor(value / size) exactly; Session.defined asks a size that is not a number to be > 0
                whole = z3.ToReal(z3.ToInt(value / size))
                if node.func == "blocks":
                    return z3.If(value >= 0, whole, self.real(Decimal(0)))
                return size * whole
            case P.Table():
                return self._table(node)
            case P.Band():
                return self._band(node)
            case P.Brackets():
                # the sum of each rate times max(0, min(subject, upper) - lower), as runtime.progressive
                subject, zero = self.num(node.subject), self.real(Decimal(0))
                total: Term = zero
                for row in node.rows:
                    lower = zero if row.lower is None else self.num(row.lower)
                    upper = subject if row.upper is None else self.min(subject, self.num(row.upper))
                    part = upper - lower
                    total = total + self.num(row.rate) * z3.If(part > 0, part, zero)
                return total
            case P.Year():
                date = self.value(node.date)
                if not isinstance(date, DateTerm):
                    raise Unsupported("a year is taken of a date", node)
                if node.func == "year":
                    return z3.ToReal(date.y)
                # the year of the evaluation date counted from the date's own year as year 1
                return z3.ToReal(self.today().y - date.y + 1)
            case P.Unset():
                raise Unsupported("a value the text leaves unset stands where a figure is needed", node)
            case _:
                assert_never(node)

    def param(self, name: str) -> Value:
        """A parameter's value on the evaluation date; an unset version is an unknown."""
        spec = self.plan.params[name]

        def make() -> Value:
            result: Value = None
            for version in spec.versions:
                if isinstance(version.value, P.Unset):
                    # an amount in a measuring unit (亩) is any amount ≥ 0, as a percentage is
                    whole = spec.kind != "count" or whole_unit(spec.unit)
                    current = self.unknown(
                        f"param:{name}" + (f"@{version.start}" if version.start else ""),
                        spec.kind if whole else "percent",
                    )
                else:
                    current = self.value(version.value)
                if result is None or version.start is None:
                    result = current
                else:
                    newer = self.today().key >= _date_const(self, version.start).key
                    result = _ite_value(newer, current, result)
            return result

        return self._cached(spec, "param", make)

    def _arith(self, node: P.Arith) -> Value:
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(left, DateTerm) or isinstance(right, DateTerm):
            date, dur = (left, right) if isinstance(left, DateTerm) else (right, left)
            if not isinstance(dur, DurationTerm):
                raise Unsupported("a date can only be moved by a duration", node)
            count = dur.count if node.op == "+" else -dur.count
            return self.add_duration(date, count, dur.unit)
        if isinstance(left, DurationTerm) and isinstance(right, DurationTerm):
            if left.unit != right.unit:
                raise Unsupported("days and months cannot be added exactly", node)
            return DurationTerm(
                left.count + right.count if node.op == "+" else left.count - right.count, left.unit
            )
        if isinstance(left, DurationTerm | EnumTerm | RolesTerm) or isinstance(
            right, DurationTerm | EnumTerm | RolesTerm
        ):
            raise Unsupported("arithmetic on durations other than sums", node)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return left / right

    def _compare_values(self, op: str, left: Value, right: Value, node: P.Expr | None) -> Formula:
        if isinstance(left, RolesTerm) or isinstance(right, RolesTerm):
            roles, kind = (left, right) if isinstance(left, RolesTerm) else (right, left)
            if not isinstance(kind, EnumTerm) or not isinstance(node, P.Cmp) or op not in ("==", "!="):
                raise Unsupported("the applicant's kind is compared with a kind, with == or != only", node)
            member = node.right if isinstance(node.right, P.EnumConst) else node.left
            if not isinstance(member, P.EnumConst) or member.member not in roles.roles:
                raise Unsupported("the applicant's kind is compared with a kind written out", node)
            has = roles.roles[member.member]
            return has if op == "==" else z3.Not(has)
        if isinstance(left, EnumTerm) or isinstance(right, EnumTerm):
            if not (isinstance(left, EnumTerm) and isinstance(right, EnumTerm)) or op not in ("==", "!="):
                raise Unsupported("an enum value is compared with == or != only", node)
            return _ARITH[op](left.index, right.index)
        if isinstance(left, DateTerm) and isinstance(right, DateTerm):
            return _ARITH[op](left.key, right.key)
        if isinstance(left, DurationTerm) and isinstance(right, DurationTerm):
            if left.unit != right.unit:
                raise Unsupported("a duration in days is compared with one in months or years", node)
            return _ARITH[op](left.count, right.count)
        if isinstance(left, DateTerm | DurationTerm) or isinstance(right, DateTerm | DurationTerm):
            raise Unsupported("mismatched comparison", node)
        if z3.is_bool(left) or z3.is_bool(right):
            if op not in ("==", "!="):
                raise Unsupported("true/false values are compared with == or != only", node)
            return left == right if op == "==" else left != right
        return _ARITH[op](left, right)

    def _since(self, node: P.Since) -> Formula:
        start = self.value(node.start)
        dur = self.value(node.duration)
        if not isinstance(start, DateTerm) or not isinstance(dur, DurationTerm):
            raise Unsupported("`since(date)` is compared with a duration", node)
        boundary = self.add_duration(start, dur.count, dur.unit).key
        today = self.today().key
        # elapsed op duration  <=>  boundary (start + duration) op' today, as the interpreter reads it
        return {
            ">=": boundary <= today,
            ">": boundary < today,
            "<": boundary > today,
            "<=": boundary >= today,
            "==": boundary == today,
            "!=": boundary != today,
        }[node.op]

    def add_duration(self, date: DateTerm, count: Any, unit: str) -> DateTerm:
        """`date` plus whole months (the day clamped to the end of a short month) or days."""
        if unit == "month":
            known = count.as_long() if z3.is_int_value(count) else None
            if known is not None:
                # a stated duration: whole years move the year; the rest may carry into it
                years, months = divmod(known, 12)
                carry = date.m + months > 12
                y = date.y + years + (z3.If(carry, 1, 0) if months else 0)
                m = z3.If(carry, date.m + months - 12, date.m + months) if months else date.m
            else:
                t = date.m - 1 + count
                y = date.y + t / 12  # Int division by a positive numeral is the floor
                m = t % 12 + 1
            # only a day past the 28th can need clamping to the end of a short month
            dim = _days_in_month(y, m)
            return DateTerm(y, m, z3.If(date.d <= 28, date.d, z3.If(date.d <= dim, date.d, dim)))
        # the moved date is defined by its day number; it may leave the plausible years
        moved = self._date_vars(f"date+days!{self._next()}", (1, 9999))
        self.background.append(_ordinal(moved) == _ordinal(date) + count)
        return moved

    def _next(self) -> int:
        self._fresh += 1
        return self._fresh

    def _kind_of(self, rows: Sequence[P.Expr]) -> tuple[str, str | None]:
        """The kind (and enum) of the values of a table's or a band's rows, for its unknowns."""
        for row in rows:
            if isinstance(row, P.Const | P.Arith):
                return row.kind, None
            if isinstance(row, P.FactRef | P.ParamRef):
                spec = self.plan.facts.get(row.name) if isinstance(row, P.FactRef) else None
                if spec is not None and spec.kind != "enum":
                    return spec.kind, None
        for row in rows:
            value = self.value(row) if not isinstance(row, P.Unset) else None
            if isinstance(value, EnumTerm):
                return "enum", value.enum
            if isinstance(value, DateTerm):
                return "date", None
            if isinstance(value, DurationTerm):
                return "duration", None
            if value is not None and z3.is_bool(value):
                return "bool", None
        return "money", None

    def _table(self, node: P.Table) -> Value:
        subject = self.fact(node.fact)
        if not isinstance(subject, EnumTerm):
            raise Unsupported("a tier table is keyed by an enum", node)
        members = self.enums.get(subject.enum, [])
        kind, enum = self._kind_of([r.value for r in node.rows])
        result: Value = self.unknown(self._unset_key(node, ":none"), kind, enum)
        for row in reversed(node.rows):
            value = self._row_value(row.value, kind, enum)
            if row.key is None:
                result = value
            elif row.key in members:
                result = _ite_value(subject.index == members.index(row.key), value, result)
        return result

    def _row_value(self, value: P.Expr, kind: str, enum: str | None) -> Value:
        if isinstance(value, P.Unset):
            return self.unknown(self._unset_key(value), kind, enum)
        return self.value(value)

    def band_conditions(self, node: P.Band) -> list[Formula | None]:
        """Each band's condition on the subject (None for `otherwise`)."""

        def make() -> list[Formula | None]:
            subject = self.value(node.subject)
            conds: list[Formula | None] = []
            for row in node.rows:
                if row.bounds is None:
                    conds.append(None)
                else:
                    conds.append(
                        self.and_(
                            *(
                                self._compare_values(op, subject, self.value(bound), bound)
                                for op, bound in row.bounds
                            )
                        )
                    )
            return conds

        return list(self._cached(node, "bands", make, node))

    def _band(self, node: P.Band) -> Value:
        kind, enum = self._kind_of([r.value for r in node.rows])
        conds = self.band_conditions(node)
        result: Value = self.unknown(self._unset_key(node, ":none"), kind, enum)
        for row, cond in reversed(list(zip(node.rows, conds, strict=True))):
            value = self._row_value(row.value, kind, enum)
            result = value if cond is None else _ite_value(cond, value, result)
        return result

    def table_key(self, node: P.Table, member: str) -> Formula:
        """The tier table's subject has the value `member`."""
        subject = self.fact(node.fact)
        if not isinstance(subject, EnumTerm):
            raise Unsupported("a tier table is keyed by an enum", node)
        return subject.index == self.enums.get(subject.enum, []).index(member)

    # ------------------------------------------------------------------ the policy's structure
    def exceptions(self, measure: P.Measure, clause: P.Clause) -> list[P.Clause]:
        """The exceptions that replace the default `clause`, as written (`Measure.groups`)."""
        for group in measure.groups:
            if group.default == clause.id:
                return [c for c in measure.clauses if c.id in group.exceptions]
        return []

    def higher_siblings(self, measure: P.Measure, clause: P.Clause) -> list[P.Clause]:
        """The exceptions to the same default as `clause` with a higher priority, as written."""
        for group in measure.groups:
            if clause.id in group.exceptions:
                return [c for c in measure.clauses if c.id in group.exceptions and c.rank > clause.rank]
        return []

    def eligibility(self) -> Formula:
        """The shared eligibility: every `require` of the `eligibility` blocks."""

        def make() -> Formula:
            return self.and_(self.in_force(), *(self.cond(g.cond) for g in self.plan.eligibility))

        return self._cached(self.plan, "eligibility", make)

    def kind_gate(self, measure: P.Measure) -> Formula:
        """The applicant is of a kind the measure serves."""
        if measure.applicants is None:
            return self.true()
        applicant = self.fact(APPLICANT_FACT[0])
        if isinstance(applicant, RolesTerm):  # any of the roles the measure names
            return self.or_(*(applicant.roles[k] for k in measure.applicants.kinds if k in applicant.roles))
        members = self.enums["applicant"]
        return self.or_(
            *(applicant.index == members.index(k) for k in measure.applicants.kinds if k in members)
        )

    def gate(self, measure: P.Measure) -> Formula:
        """Everything but its clauses that a measure asks of an applicant."""

        def make() -> Formula:
            parts = [self.eligibility(), self.kind_gate(measure)]
            for g in measure.gates:
                held = self.cond(g.cond)
                parts.append(held if g.passes_when else z3.Not(held))
            return self.and_(*parts)

        return self._cached(measure, "gate", make)

    def fires(self, clause: P.Clause) -> Formula:
        """The clause's own conditions hold."""

        def make() -> Formula:
            parts = []
            for c in clause.conditions:
                f = self.cond(c.cond)
                parts.append(z3.Not(f) if c.negated else f)
            return self.and_(*parts)

        return self._cached(clause, "fires", make)

    def applies(self, measure: P.Measure, clause: P.Clause) -> Formula:
        """The clause pays, for an applicant the measure admits: an award that fires and is not
        replaced by one of its exceptions nor beaten by a sibling of higher priority; a bonus that
        fires beside an award that applies."""

        def make() -> Formula:
            if clause.kind == "bonus":
                return self.and_(self.fires(clause), self.any_award(measure))
            parts = [self.fires(clause)]
            replaced = [self.fires(e) for e in self.exceptions(measure, clause)]
            if replaced:
                parts.append(z3.Not(self.or_(*replaced)))
            higher = [self.fires(s) for s in self.higher_siblings(measure, clause)]
            if higher:
                parts.append(z3.Not(self.or_(*higher)))
            return self.and_(*parts)

        return self._cached(clause, "applies", make)

    def any_award(self, measure: P.Measure) -> Formula:
        return self._cached(
            measure,
            "any_award",
            lambda: self.or_(*(self.applies(measure, c) for c in measure.awards)),
        )

    def pays(self, measure: P.Measure) -> Formula:
        """The measure pays something: its gate holds and some award clause applies."""
        return self._cached(measure, "pays", lambda: self.and_(self.gate(measure), self.any_award(measure)))

    def formula(self, clause: P.Clause) -> Term:
        """The clause's stated amount before caps (an unknown when the text gives none)."""

        def make() -> Term:
            if clause.amount.expr is None:
                return self.unknown(f"amount:{clause.where.line}:{clause.where.col}", "money")
            return self.num(clause.amount.expr)

        return self._cached(clause, "formula", make)

    def lifted(self, clause: P.Clause) -> Term:
        """The clause's formula lifted to its floor: what its caps bind on."""
        floor = clause.amount.floor
        if floor is None or clause.amount.expr is None:
            return self.formula(clause)
        return self.max(self.formula(clause), self.num(floor.expr))

    def clause_amount(self, clause: P.Clause, rounded: bool = True) -> Term:
        """What the clause gives: its formula lifted to its floor, then each cap, then its offset
        (floored at zero), then rounding (the upper bound for a ceiling), as runtime.lift and
        runtime.settle_bounds work it out."""

        def make() -> Term:
            amount = clause.amount
            value = self.lifted(clause)
            for cap in amount.caps:
                value = self.min(value, self.num(cap.expr))
            if amount.offset is not None and amount.expr is not None:
                value = self.max(value - self.num(amount.offset.expr), self.real(0))
            return self.round(value) if rounded else value

        return self._cached(clause, "amount" if rounded else "amount~", make)

    def measure_amount(self, measure: P.Measure, rounded: bool = True) -> Term:
        """What the measure pays an applicant it admits (0 when no clause applies): its own amount
        (`own_amount`), then the funding limits it shares with other measures, as
        runtime.share_funding applies them."""
        if self.plan.shared_limits:
            shared = self._cached(self.plan, "shared" if rounded else "shared~", lambda: self.shared(rounded))
            if measure.name in shared:
                return shared[measure.name]
        return self.own_amount(measure, rounded)

    def shared(self, rounded: bool) -> dict[str, Term]:
        """The amounts of the measures under shared funding limits: each limit's room (the limit less
        the funding already received) goes to the measures it counts in the order written, then to
        the measure stating it, each cut to what is left; only when the measure stating it pays."""
        by_name = {m.name: m for m in self.plan.measures}
        amounts: dict[str, Term] = {}
        for holder, limit in self.plan.shared_limits:
            left = self.max(self.real(0), self.funding_room(limit, rounded))
            binds = self.pays(holder)
            for name in limit.measures:
                member = by_name[name]
                own = amounts.get(name)
                if own is None:
                    own = self.own_amount(member, rounded)
                cut = self.min(own, left)
                amounts[name] = z3.If(binds, cut, own)
                left = left - z3.If(self.pays(member), cut, self.real(0))
            # the holder's amount is read only where it pays, where its limit binds
            own = amounts.get(holder.name)
            amounts[holder.name] = self.min(self.own_amount(holder, rounded) if own is None else own, left)
        return amounts

    def own_amount(self, measure: P.Measure, rounded: bool = True) -> Term:
        """What the measure pays an applicant it admits (0 when no clause applies): its award and
        bonus clauses added up, then the cross-funding ceiling the evaluation applies
        (`Measure.funding`, with the facts it counts; instalments only pay it out)."""

        def make() -> Term:
            parts = [
                z3.If(self.applies(measure, c), self.clause_amount(c, rounded), self.real(0))
                for c in measure.clauses
            ]
            total = self.sum(parts)
            if measure.funding is not None:
                room = self.max(self.real(0), self.funding_room(measure.funding, rounded))
                total = self.min(total, room)
            return self.round(total) if rounded else total

        return self._cached(measure, "amount" if rounded else "amount~", make)

    def funding_room(self, limit: P.FundingLimit, rounded: bool = True) -> Term:
        room = self.num(limit.limit) - self.num(limit.received)
        return self.round(room) if rounded else room


def _kind_text(kind: str, unit: str | None) -> str:
    return f"{kind}({unit})" if unit else kind


def _ite_value(cond: Formula, then: Value, other: Value) -> Value:
    if isinstance(then, EnumTerm) and isinstance(other, EnumTerm):
        return EnumTerm(z3.If(cond, then.index, other.index), then.enum)
    if isinstance(then, DateTerm) and isinstance(other, DateTerm):
        return DateTerm(
            z3.If(cond, then.y, other.y), z3.If(cond, then.m, other.m), z3.If(cond, then.d, other.d)
        )
    if isinstance(then, DurationTerm) and isinstance(other, DurationTerm) and then.unit == other.unit:
        return DurationTerm(z3.If(cond, then.count, other.count), then.unit)
    if any(isinstance(v, EnumTerm | DateTerm | DurationTerm) for v in (then, other)):
        # a parameter's versions of different shapes (70天 from one day, unset, counted in months,
        # from another): no one term holds both
        raise Unsupported("a parameter whose versions are durations in different units")
    return z3.If(cond, then, other)


_ARITH = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _leap(y: Any) -> Any:
    return z3.And(y % 4 == 0, z3.Or(y % 100 != 0, y % 400 == 0))


def _days_in_month(y: Any, m: Any) -> Any:
    return z3.If(m == 2, z3.If(_leap(y), 29, 28), z3.If(z3.Or(m == 4, m == 6, m == 9, m == 11), 30, 31))


def _ordinal(date: DateTerm) -> Any:
    """Days since a fixed origin (the civil-from-days algorithm run backwards; linear in y, m, d)."""
    y = z3.If(date.m <= 2, date.y - 1, date.y)
    era = y / 400
    yoe = y - era * 400
    mp = (date.m + 9) % 12
    doy = (153 * mp + 2) / 5 + date.d - 1
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe


def _date_const(enc: Encoder, value: datetime.date) -> DateTerm:
    return DateTerm(enc.integer(value.year), enc.integer(value.month), enc.integer(value.day))


# ---------------------------------------------------------------------------------- queries


def _timed_out(reason: str) -> bool:
    """z3 says "timeout" or, for a solver interrupted by its timer, "canceled"."""
    return "timeout" in reason or "canceled" in reason


def _find(parent: dict[int, int], x: int) -> int:
    """Union-find root of `x`, halving the path as it goes."""
    while True:
        up = parent.get(x, x)
        if up == x:
            return x
        top = parent.get(up, up)
        parent[x] = top
        x = top


class _Merged:
    """The values of every variable, gathered from the models of independent parts of a query;
    answers `eval` like a z3 model with completion."""

    def __init__(self, session: Session, values: dict[int, Any]) -> None:
        self.session = session
        self.values = values
        self._model: Any = None  # a z3 model holding the values, made when a formula is evaluated
        self._filled: set[int] = set()

    def eval(self, term: Any, model_completion: bool = True) -> Any:
        value = self.values.get(term.get_id())
        if value is None:
            value = self.session.background_value(term.get_id())
        if value is not None:
            return value
        model = self._model
        if model is None:
            model = self._model = z3.Model(self.session.enc.ctx)
            for vid, known in self.values.items():
                model.update_value(self.session.var(vid), known)
        for vid in self.session.variables(term):
            if vid not in self.values and vid not in self._filled:
                self._filled.add(vid)
                known = self.session.background_value(vid)
                if known is not None:
                    model.update_value(self.session.var(vid), known)
        return model.eval(term, model_completion=True)


class Session:
    """Asks the solver one query at a time and counts the calls.  Every query has `timeout_ms`;
    an undecided one answers "unknown", never sat or unsat.

    A query (with the domain) is split into independent parts, the conjuncts that share no
    variable; each part is decided alone and remembered, so the part every query repeats (the
    shared eligibility, say) is solved once and a query costs what its own clauses cost."""

    def __init__(self, encoder: Encoder, timeout_ms: int = 2000, rlimit: int = DEFAULT_RLIMIT) -> None:
        self.enc = encoder
        self.timeout_ms = timeout_ms
        self.rlimit = rlimit
        self.calls = 0
        self.undecided = 0
        self.seconds = 0.0
        self.parts_solved = 0
        self._vars: dict[int, frozenset[int]] = {}
        self._var_terms: dict[int, Any] = {}
        self._alive: list[Any] = []  # keeps every inspected term alive, so its id stays its own
        self._parts: dict[frozenset[int], tuple[str, dict[int, Any], str]] = {}
        self.solver = z3.SimpleSolver(ctx=encoder.ctx)
        self.solver.set("timeout", timeout_ms)
        self.solver.set("rlimit", rlimit)  # per check: the same work on every machine and load
        self._degree = z3.Probe("arith-max-deg", encoder.ctx)
        self._flat: dict[int, tuple[Any, ...]] = {}
        self._bg_seen = 0
        self._bg_false = False
        self._bg_parent: dict[int, int] = {}
        self._bg_conjs: list[tuple[Any, int]] = []
        self._bg_groups: dict[int, list[Any]] = {}
        self._bg_root: dict[int, int] = {}
        self._bg_solution: dict[int, Any] = {}

    # ------------------------------------------------------------------ division by zero
    def defined(self, terms: Iterable[Any]) -> list[Formula]:
        """`d != 0` for every division by a term `d` that is not a number, in `terms`, and `d > 0`
        for the unit `d` of a `blocks` or `round_down`: z3 lets `x / 0` be any value, where the
        evaluation makes the amount unknown, so a query never looks at an applicant for whom a
        division it holds is by zero."""
        out: dict[int, Formula] = {}
        stack = list(terms)
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            nid = node.get_id()
            if nid in seen or not z3.is_app(node):
                continue
            seen.add(nid)
            kids = node.children()
            if z3.is_div(node) and len(kids) == 2 and not z3.is_rational_value(kids[1]):
                guard = kids[1] != 0
                out[guard.get_id()] = guard
            elif z3.is_to_int(node) and z3.is_div(kids[0]):
                # blocks and round_down: a unit below zero makes the amount unknown too
                size = kids[0].children()[1]
                if not z3.is_rational_value(size):
                    guard = size > 0
                    out[guard.get_id()] = guard
            stack.extend(kids)
        return list(out.values())

    # ------------------------------------------------------------------ independent parts
    def var(self, vid: int) -> Any:
        return self._var_terms[vid]

    def background_value(self, vid: int) -> Any:
        """A variable's value in a solution of the domain alone (None if it has no constraint)."""
        return self._bg_solution.get(vid)

    def variables(self, term: Any) -> frozenset[int]:
        """The ids of the uninterpreted constants in a term (memoised over shared subterms).
        Walks the solver's own AST handles: the Python wrappers cost more than the walk."""
        tid = term.get_id()
        known = self._vars.get(tid)
        if known is not None:
            return known
        ref = self.enc.ctx.ref()
        memo = self._vars
        stack: list[tuple[Any, int, bool]] = [(term.as_ast(), tid, False)]
        while stack:
            node, nid, done = stack.pop()
            if nid in memo:
                continue
            if z3.Z3_get_ast_kind(ref, node) != z3.Z3_APP_AST:
                memo[nid] = frozenset()
                continue
            app = z3.Z3_to_app(ref, node)
            count = z3.Z3_get_app_num_args(ref, app)
            if count == 0:
                decl = z3.Z3_get_app_decl(ref, app)
                if z3.Z3_get_decl_kind(ref, decl) == z3.Z3_OP_UNINTERPRETED:
                    memo[nid] = frozenset({nid})
                    self._var_terms[nid] = z3.z3._to_expr_ref(node, self.enc.ctx)
                else:
                    memo[nid] = frozenset()
                continue
            kids = [z3.Z3_get_app_arg(ref, app, i) for i in range(count)]
            ids = [z3.Z3_get_ast_id(ref, k) for k in kids]
            if not done:
                stack.append((node, nid, True))
                stack.extend((k, i, False) for k, i in zip(kids, ids, strict=True) if i not in memo)
                continue
            memo[nid] = frozenset().union(*(memo[i] for i in ids))
        self._alive.append(term)
        return memo[tid]

    def _flatten(self, formula: Any) -> tuple[Any, ...]:
        """The conjuncts of a formula (nested `And`s opened, `True` dropped), memoised."""
        fid = formula.get_id()
        hit = self._flat.get(fid)
        if hit is not None:
            return hit
        ref = self.enc.ctx.ref()
        node = formula.as_ast()
        out: tuple[Any, ...] = (formula,)
        if z3.Z3_get_ast_kind(ref, node) == z3.Z3_APP_AST:
            app = z3.Z3_to_app(ref, node)
            kind = z3.Z3_get_decl_kind(ref, z3.Z3_get_app_decl(ref, app))
            if kind == z3.Z3_OP_TRUE:
                out = ()
            elif kind == z3.Z3_OP_AND:
                parts: list[Any] = []
                for k in range(z3.Z3_get_app_num_args(ref, app)):
                    child = z3.z3._to_expr_ref(z3.Z3_get_app_arg(ref, app, k), self.enc.ctx)
                    parts.extend(self._flatten(child))
                out = tuple(parts)
        self._flat[fid] = out
        return out

    def _sync_background(self) -> None:
        """Take in the domain constraints created since the last query, grouped by shared variables."""
        background = self.enc.background
        if self._bg_seen == len(background):
            return
        for f in background[self._bg_seen :]:
            for c in self._flatten(f):
                vs = self.variables(c)
                if not vs:
                    if z3.is_false(z3.simplify(c)):
                        self._bg_false = True
                    continue
                first, *rest = vs
                root = _find(self._bg_parent, first)
                for v in rest:
                    other = _find(self._bg_parent, v)
                    if other != root:
                        self._bg_parent[other] = root
                self._bg_conjs.append((c, first))
        self._bg_seen = len(background)
        groups: dict[int, list[Any]] = {}
        for c, first in self._bg_conjs:
            groups.setdefault(_find(self._bg_parent, first), []).append(c)
        self._bg_groups = groups
        self._bg_root = {v: _find(self._bg_parent, v) for v in list(self._bg_parent)}
        # the domain alone: every group must have an applicant (a contradiction here makes
        # every query unsat); their values stand in for facts a query does not mention
        self._bg_solution = {}
        for part in groups.values():
            status, values, _ = self._solve_part(part)
            if status == "unsat":
                self._bg_false = True
            self._bg_solution.update(values)

    def _split(self, formulas: Sequence[Any], touch: frozenset[int] = frozenset()) -> list[list[Any]] | None:
        """The independent parts of a query: its conjuncts with the domain constraints they share
        variables with (and those of the variables in `touch`), grouped by variable; None when the
        query is plainly false."""
        self._sync_background()
        if self._bg_false:
            return None
        conjs = [c for f in formulas for c in self._flatten(f)]
        parent: dict[int, int] = {}
        bg_root = self._bg_root
        seen: set[int] = set()
        owner: list[int] = []

        def union(nodes: list[int]) -> int:
            seen.update(nodes)
            root = _find(parent, nodes[0])
            for n in nodes[1:]:
                other = _find(parent, n)
                if other != root:
                    parent[other] = root
            return nodes[0]

        for c in conjs:
            vs = self.variables(c)
            if not vs:
                if z3.is_false(z3.simplify(c)):
                    return None
                owner.append(-1)
                continue
            owner.append(union([bg_root.get(v, v) for v in vs]))
        if touch:
            union([bg_root.get(v, v) for v in touch])
        groups: dict[int, list[Any]] = {}
        for c, o in zip(conjs, owner, strict=True):
            if o != -1:
                groups.setdefault(_find(parent, o), []).append(c)
        for node in seen:
            if node in self._bg_groups:
                groups.setdefault(_find(parent, node), []).extend(self._bg_groups[node])
        return list(groups.values())

    def _solve_part(self, part: list[Any]) -> tuple[str, dict[int, Any], str]:
        key = frozenset(c.get_id() for c in part)
        hit = self._parts.get(key)
        if hit is not None:
            return hit
        self.parts_solved += 1
        if self._nonlinear(part):
            # products of unknowns: a fresh solver picks the non-linear procedure (nlsat), which
            # the incremental core does not run
            solver = z3.Solver(ctx=self.enc.ctx)
            solver.set("timeout", self.timeout_ms)
            solver.set("rlimit", self.rlimit)
            solver.add(*part)
            started = time.perf_counter()
            answer = self._answer(solver, solver.check(), part, started)
        else:
            self.solver.push()
            try:
                self.solver.add(*part)
                started = time.perf_counter()
                answer = self._answer(self.solver, self.solver.check(), part, started)
            finally:
                self.solver.pop()
        self._parts[key] = answer
        return answer

    def _nonlinear(self, part: list[Any]) -> bool:
        goal = z3.Goal(ctx=self.enc.ctx)
        goal.add(*part)
        return bool(self._degree(goal) > 1)

    def _answer(
        self, solver: Any, result: Any, part: list[Any], started: float
    ) -> tuple[str, dict[int, Any], str]:
        values: dict[int, Any] = {}
        reason = ""
        if result == z3.sat:
            model = solver.model()
            for c in part:
                for vid in self.variables(c):
                    if vid not in values:
                        values[vid] = model.eval(self._var_terms[vid], model_completion=True)
            answer = ("sat", values, "")
        elif result == z3.unsat:
            answer = ("unsat", values, "")
        else:
            reason = solver.reason_unknown() or "unknown"
            # the incremental solver says "canceled" for both limits; the clock tells them apart
            # (the timeout takes at least its time, the step limit usually far less)
            if "resource limit" in reason or (
                reason == "canceled" and (time.perf_counter() - started) * 1000 < self.timeout_ms
            ):
                reason = RLIMIT_REASON
            answer = ("unknown", values, reason)
        return answer

    def _decide(self, formulas: Sequence[Any]) -> tuple[str, _Merged | None, str]:
        parts = self._split(formulas)
        if parts is None:
            return "unsat", None, ""
        merged: dict[int, Any] = {}
        undecided = ""
        # small parts first: an unsat one ends the query before a hard one is tried
        for part in sorted(parts, key=len):
            status, values, reason = self._solve_part(part)
            if status == "unsat":
                return "unsat", None, ""
            if status == "unknown":
                undecided = reason
                continue
            merged.update(values)
        if undecided:
            return "unknown", None, undecided
        return "sat", _Merged(self, merged), ""

    # ------------------------------------------------------------------ queries
    def check(
        self,
        formulas: Sequence[Formula],
        facts: Iterable[str] = (),
        show: Mapping[str, Term] | None = None,
        round_shown: bool = False,
    ) -> Answer:
        """Is there an applicant satisfying every formula (and the domain)?  With sat, a witness
        over `facts` (fact names, and `param:<name>` for unset parameters) and the values of the
        `show` terms; with `round_shown`, the shown terms (amounts) are made round figures first
        (`round_amounts`), then the facts (`tidy`)."""
        started = time.perf_counter()
        self.calls += 1
        try:
            guards = self.defined([*formulas, *(show or {}).values()])
            status, model, reason = self._decide([*formulas, *guards])
            if status == "unknown":
                self.undecided += 1
                return Answer("unknown", ms=self._ms(started), reason=reason)
            if status == "unsat" or model is None:
                return Answer("unsat", ms=self._ms(started))
            facts = list(facts)
            asked = [*formulas, *guards]
            first = model

            def decode() -> tuple[Witness, dict[str, Fraction | None], frozenset[str]]:
                chosen, held = first, list[Formula]()
                if round_shown and show:
                    chosen, held = self.round_amounts(asked, list(show.values()), first)
                chosen = self.tidy([*asked, *held], facts, chosen)
                return self.witness(chosen, facts), *self._values(chosen, show)

            return Answer("sat", self._ms(started), decode=decode)
        finally:
            self.seconds += time.perf_counter() - started

    def tidy(self, formulas: Sequence[Formula], facts: Sequence[str], model: _Merged) -> _Merged:
        """A solution of `formulas` whose numeric facts are round figures where the region allows:
        each fact in turn (in declaration order) is tried at the nearest multiples of the largest
        power of ten first (2亿 before 100000000.01元, 1万 before 0.01元) and kept at the first value
        that still satisfies everything; at most TIDY_TRIES questions, then the figures found so far.
        A drafter believes an applicant with round figures; the finding is the same either way."""
        started = time.perf_counter()
        tries = 0
        fixed: list[Formula] = []
        try:
            for name in [f for f in self.enc.plan.facts if f in facts]:
                var, scale, floor = self._numeric(name)
                if var is None:
                    continue
                raw = _as_fraction(model.eval(var, model_completion=True))
                if raw is None:
                    continue
                current = raw
                for candidate in _rounder(raw / scale, floor):
                    if tries >= TIDY_TRIES:
                        return model
                    tries += 1
                    value = candidate * scale
                    target = (
                        z3.IntVal(int(value), self.enc.ctx)
                        if z3.is_int(var)
                        else z3.RealVal(value, self.enc.ctx)
                    )
                    status, found, _ = self._decide([*formulas, *fixed, var == target])
                    if status == "sat" and found is not None:
                        model, current = found, value
                        break
                fixed.append(
                    var
                    == (
                        z3.IntVal(int(current), self.enc.ctx)
                        if z3.is_int(var)
                        else z3.RealVal(current, self.enc.ctx)
                    )
                )
            return model
        finally:
            self.seconds += time.perf_counter() - started

    def round_amounts(
        self, formulas: Sequence[Formula], terms: Sequence[Term], model: _Merged
    ) -> tuple[_Merged, list[Formula]]:
        """A solution of `formulas` whose `terms` (amounts, in yuan) are round figures where the
        region allows: each term in turn is made a multiple of the largest power of ten it can be,
        up to its own order of magnitude (165万 becomes 100万 or 200万, not 1亿) or 1万 for a smaller
        amount (0.01元 becomes 1万 where it can), while staying above zero; the power is found by
        bisection (a multiple of 10^k is one of every lower power), at most four questions a term,
        none for a figure of one or two significant digits already.  Returns the solution and the
        constraints that hold the figures, for `tidy` to keep.  An overlap of 50万 and 1万 is one a
        drafter believes; one of 50万 and 0.01元 is a solver's edge."""
        started = time.perf_counter()
        held: list[Formula] = []
        try:
            for term in terms:
                value = _as_fraction(model.eval(term, model_completion=True))
                if value is None or value <= 0:
                    continue
                real = z3.ToReal(term) if z3.is_int(term) else term
                low = _power_of_ten(value)
                high = min(max(math.floor(math.log10(value)), _WAN_EXPONENT), _AMOUNT_EXPONENTS[1])
                if low >= high - 1 and value >= 10**_WAN_EXPONENT:
                    high = low  # one or two significant digits already
                while low < high:
                    mid = (low + high + 1) // 2
                    multiple = z3.IsInt(real / z3.RealVal(Fraction(10) ** mid, self.enc.ctx))
                    status, found, _ = self._decide([*formulas, *held, multiple, real > 0])
                    if status == "sat" and found is not None:
                        model, low = found, mid
                    else:
                        high = mid - 1
                # held for the facts' tidying too, which would otherwise move the figure again
                if low >= _AMOUNT_EXPONENTS[0]:
                    held += [z3.IsInt(real / z3.RealVal(Fraction(10) ** low, self.enc.ctx)), real > 0]
            return model, held
        finally:
            self.seconds += time.perf_counter() - started

    def _numeric(self, name: str) -> tuple[Any, Fraction, int | None]:
        """The solver variable behind a numeric fact, the scale from its figure to the variable
        (money is held in fen), and the power of ten a figure is tried at first (None: its own)."""
        enc = self.enc
        if name in enc.fen:
            return enc.fen[name], Fraction(100), _WAN_EXPONENT
        if name in enc.whole:
            return enc.whole[name], Fraction(1), None
        value = enc.facts.get(name)
        if value is not None and z3.is_expr(value) and z3.is_real(value) and z3.is_const(value):
            return value, Fraction(1), None
        return None, Fraction(1), None

    def _values(
        self, model: Any, show: Mapping[str, Term] | None
    ) -> tuple[dict[str, Fraction | None], frozenset[str]]:
        """The shown terms' values, and which of them hang on a value the text leaves unset."""
        values = _values(model, show)
        return values, frozenset(
            k for k, t in (show or {}).items() if self._hangs_on_unset(model, t, values[k])
        )

    def _hangs_on_unset(self, model: Any, term: Term, value: Fraction | None) -> bool:
        """Whether `term` changes when the unset amounts, tiers and bands in it take other values
        (0, or far more than the model chose). Unset parameters are not counted: the witness shows
        the value it assumes for them."""
        open_ids = {
            vid
            for key, unknown in self.enc.unknowns.items()
            if not key.startswith("param:") and isinstance(unknown, z3.ExprRef)
            for vid in self.variables(unknown)
        }
        used = self.variables(term) & open_ids
        if not used:
            return False
        numeric = [self._var_terms[v] for v in sorted(used)]
        if any(not (z3.is_real(v) or z3.is_int(v)) for v in numeric):
            return True
        for far in (False, True):
            pairs = []
            for v in numeric:
                chosen = _as_fraction(model.eval(v, model_completion=True)) or Fraction(0)
                probe = chosen + 10**12 + 1 if far else Fraction(0)
                pairs.append(
                    (
                        v,
                        z3.RealVal(probe, self.enc.ctx)
                        if z3.is_real(v)
                        else z3.IntVal(int(probe), self.enc.ctx),
                    )
                )
            other = _as_fraction(model.eval(z3.substitute(term, *pairs), model_completion=True))
            if other != value:
                return True
        return False

    def core(self, named: Sequence[tuple[str, Formula]], base: Sequence[Formula] = ()) -> list[str] | None:
        """Names of a subset of `named` formulas that cannot hold together (with `base` and the
        domain); None when they can or the solver cannot tell."""
        started = time.perf_counter()
        self.calls += 1
        try:
            solver = z3.Solver(ctx=self.enc.ctx)
            solver.set("timeout", self.timeout_ms)
            solver.set("rlimit", self.rlimit)
            solver.set("core.minimize", True)  # name only the conditions that clash
            solver.add(*self.enc.background, *base, *self.defined([*base, *(f for _, f in named)]))
            flags = []
            for i, (_, f) in enumerate(named):
                flag = z3.Bool(f"core!{i}", self.enc.ctx)
                solver.add(z3.Implies(flag, f))
                flags.append(flag)
            if solver.check(*flags) != z3.unsat:
                return None
            core = {str(c) for c in solver.unsat_core()}
            return [name for (name, _), flag in zip(named, flags, strict=True) if str(flag) in core]
        finally:
            self.seconds += time.perf_counter() - started

    def optimise(
        self, term: Term, formulas: Sequence[Formula], facts: Iterable[str] = (), maximise: bool = True
    ) -> Optimum:
        """The largest (or least) value `term`, rounded to the policy's unit, takes under `formulas`
        (and the domain); None as the value when it passes a million 亿 (taken as unbounded).

        A search over whole units with the ordinary solver: z3's optimiser gives up on objectives
        that mix whole fen and fractions (`50% * investment - other_funding`), and an amount is
        paid in whole units anyway, so the extreme found is always reached by a witness."""
        started = time.perf_counter()
        self.calls += 1
        try:
            guards = self.defined([term, *formulas])
            return self._search(term, [*formulas, *guards], list(facts), maximise, started)
        finally:
            self.seconds += time.perf_counter() - started

    def _probe(self, formulas: Sequence[Formula], extra: Formula | None) -> tuple[str, _Merged | None, str]:
        status, model, reason = self._decide([*formulas, extra] if extra is not None else formulas)
        if status == "unknown":
            self.undecided += 1
        return status, model, reason

    def _search(
        self, term: Term, formulas: Sequence[Formula], facts: list[str], maximise: bool, started: float
    ) -> Optimum:
        units = self.enc.units(term) if maximise else -self.enc.units(term)
        limit = int(_LIMIT / self.enc.quantum)

        def value(model: _Merged) -> int | None:
            got = _as_fraction(model.eval(units))
            return None if got is None else int(got)

        def unwitnessed() -> Optimum:
            # The solver found a value past `c` but the values it gave do not reach it: the term
            # holds something the solver chose freely (z3 leaves x/0 unspecified), so no bound or
            # witness can be trusted.  Undecided, reported as such, never a crash or an endless search.
            self.undecided += 1
            return Optimum("unknown", ms=self._ms(started), reason=_UNWITNESSED)

        status, model, reason = self._probe(formulas, None)
        if status != "sat" or model is None:
            return Optimum(status, ms=self._ms(started), reason=reason)
        first = value(model)
        if first is None:
            return unwitnessed()
        best, best_model = first, model
        # the figures in the term (its caps, mostly) are where the extreme usually lies
        candidates = sorted({c for c in self._constants(term) if c > best} | {limit})
        high: int | None = None
        for c in [best, *candidates]:
            status, model, reason = self._probe(formulas, units > c)
            if status == "unknown":
                return Optimum("unknown", ms=self._ms(started), reason=reason)
            if status == "unsat":
                high = c
                break
            got = None if model is None else value(model)
            if model is None or got is None or got <= c:
                return unwitnessed()
            best, best_model = got, model
            if best > limit:
                return Optimum("sat", None, False, self.witness(best_model, facts), self._ms(started))
        if high is None:  # every candidate passed, the last being the limit: cannot happen, checked above
            return unwitnessed()
        while best < high:
            middle = (best + high + 1) // 2
            status, model, reason = self._probe(formulas, units >= middle)
            if status == "unknown":
                return Optimum("unknown", ms=self._ms(started), reason=reason)
            if status == "unsat":
                high = middle - 1
            else:
                got = None if model is None else value(model)
                if model is None or got is None or got < middle:  # the search would stand still
                    return unwitnessed()
                best, best_model = got, model
        extreme = Fraction(best if maximise else -best) * self.enc.quantum
        return Optimum("sat", extreme, True, self.witness(best_model, facts), self._ms(started))

    def _constants(self, term: Term) -> set[int]:
        """The numbers written in a term, in whole units of the rounding (both signs)."""
        out: set[int] = set()
        stack = [term]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if node.get_id() in seen:
                continue
            seen.add(node.get_id())
            if z3.is_rational_value(node) or z3.is_int_value(node):
                value = _as_fraction(node)
                if value is not None:
                    scaled = value / self.enc.quantum
                    out.update({math.floor(scaled), -math.ceil(scaled)})
            elif z3.is_app(node):
                stack.extend(node.children())
        return out

    def witness(self, model: Any, facts: Iterable[str]) -> Witness:
        enc = self.enc
        out: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for name in facts:
            if name.startswith("param:"):
                for key, value in enc.unknowns.items():
                    if key == name or key.startswith(name + "@"):
                        pspec = enc.plan.params.get(name[len("param:") :])
                        if pspec is not None:
                            whole = pspec.kind != "count" or whole_unit(pspec.unit)
                            kind = pspec.kind if whole else "number"
                            params[key[len("param:") :]] = _decode(enc, model, value, kind, None)
                continue
            value = enc.facts.get(name)
            if value is None:
                continue
            if name in enc.whole:
                count = _as_fraction(model.eval(enc.whole[name]))
                out[name] = None if count is None else Decimal(int(count))
                continue
            kind = enc.plan.facts[name].kind
            # a count not held as an Int above measures (12.5亩): decode it as any number
            out[name] = _decode(enc, model, value, "number" if kind == "count" else kind, enc.fen.get(name))
        on = None
        if enc._today is not None:
            on = _decode_date(model, enc._today)
        return Witness(out, on, params)

    @staticmethod
    def _ms(started: float) -> int:
        return int((time.perf_counter() - started) * 1000)


def _power_of_ten(value: Fraction) -> int:
    """The largest power of ten (within _AMOUNT_EXPONENTS) of which `value` (> 0) is a multiple;
    the lowest one when it is a multiple of none (a third of a fen)."""
    low, high = _AMOUNT_EXPONENTS
    for exponent in range(high, low - 1, -1):
        if (value / Fraction(10) ** exponent).denominator == 1:
            return exponent
    return low - 1


def _rounder(value: Fraction, floor: int | None) -> list[Fraction]:
    """Rounder figures than `value` (> 0) to try in its place, roundest first: for each power of
    ten from the value's own order of magnitude (or `floor`, when that is higher) down to the
    value's last digit, the multiples of it just below and just above, the nearer first."""
    if value <= 0:
        return []
    top = math.floor(math.log10(value))
    if floor is not None:
        top = max(top, floor)
    out: list[Fraction] = []
    for exponent in range(top, top - 3, -1):
        step = Fraction(10) ** exponent
        low = math.floor(value / step) * step
        if low == value:
            break  # the value is already a multiple of this power: nothing rounder below it
        high = low + step
        pair = [low, high] if value - low <= high - value else [high, low]
        out += [c for c in pair if c > 0 and c not in out]
    return out


def _values(model: Any, show: Mapping[str, Term] | None) -> dict[str, Fraction | None]:
    return {k: _as_fraction(model.eval(t, model_completion=True)) for k, t in (show or {}).items()}


def _as_fraction(value: Any) -> Fraction | None:
    """A numeral as an exact fraction (None for anything else, an irrational algebraic number say)."""
    ref = value.ctx_ref()
    node = value.as_ast()
    if z3.Z3_get_ast_kind(ref, node) != z3.Z3_NUMERAL_AST:
        return None
    return Fraction(z3.Z3_get_numeral_string(ref, node))


def _decode_date(model: Any, date: DateTerm) -> datetime.date | None:
    parts = [_as_fraction(model.eval(p, model_completion=True)) for p in (date.y, date.m, date.d)]
    if any(p is None for p in parts):
        return None
    try:
        return datetime.date(*(int(p) for p in parts if p is not None))
    except ValueError:
        return None


def _decode(enc: Encoder, model: Any, value: Value, kind: str, fen: Any) -> Any:
    if fen is not None:
        raw = _as_fraction(model.eval(fen, model_completion=True))
        return None if raw is None else Decimal(int(raw)) / 100
    if isinstance(value, RolesTerm):
        held = frozenset(
            k for k, b in value.roles.items() if z3.is_true(model.eval(b, model_completion=True))
        )
        return held or None
    if isinstance(value, EnumTerm):
        index = _as_fraction(model.eval(value.index, model_completion=True))
        members = enc.enums.get(value.enum, [])
        return members[int(index)] if index is not None and 0 <= index < len(members) else None
    if isinstance(value, DateTerm):
        return _decode_date(model, value)
    if isinstance(value, DurationTerm):
        count = _as_fraction(model.eval(value.count, model_completion=True))
        return None if count is None else (int(count), value.unit)
    got = model.eval(value, model_completion=True)
    if z3.is_true(got):
        return True
    if z3.is_false(got):
        return False
    frac = _as_fraction(got)
    if frac is None:
        return None
    return _exact_decimal(frac) if kind != "count" else Decimal(int(frac))


def _exact_decimal(value: Fraction) -> Decimal | Fraction:
    """The fraction as a Decimal when it has a finite decimal expansion, else itself."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return value
    scale = 10 ** max(twos, fives)
    # shift, not scaleb: scaleb rounds to the context's 28 digits
    return shift(Decimal(value.numerator * (scale // value.denominator)), -max(twos, fives))


def exact_decimal(value: Fraction) -> Decimal | Fraction:
    """A rational as an exact Decimal when it has one (shared with the analysis's printers)."""
    return _exact_decimal(value)
