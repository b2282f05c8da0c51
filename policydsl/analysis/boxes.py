"""Cheap interval reasoning over conditions: a sound outer box per clause that rules pairs out
before the solver is asked, and the simple conjuncts that the merge and threshold checks compare."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction

import attrs

from policydsl.plan import nodes as P
from policydsl.syntax.keywords import spelling

_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
_NUMERIC = ("money", "percent", "number", "count", "per_unit")


@attrs.frozen
class Interval:
    """Numbers between `lo` and `hi` (None: unbounded); `lo_open`/`hi_open` exclude the end."""

    lo: Fraction | None = None
    lo_open: bool = False
    hi: Fraction | None = None
    hi_open: bool = False

    @property
    def empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open))

    def meet(self, other: Interval) -> Interval:
        lo, lo_open = self.lo, self.lo_open
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and other.lo_open)):
            lo, lo_open = other.lo, other.lo_open
        hi, hi_open = self.hi, self.hi_open
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and other.hi_open)):
            hi, hi_open = other.hi, other.hi_open
        return Interval(lo, lo_open, hi, hi_open)

    def join(self, other: Interval) -> Interval:
        """The smallest interval holding both (the hull)."""
        if self.empty:
            return other
        if other.empty:
            return self
        lo, lo_open = self.lo, self.lo_open
        if lo is not None and (other.lo is None or other.lo < lo or (other.lo == lo and not other.lo_open)):
            lo, lo_open = other.lo, other.lo_open
        hi, hi_open = self.hi, self.hi_open
        if hi is not None and (other.hi is None or other.hi > hi or (other.hi == hi and not other.hi_open)):
            hi, hi_open = other.hi, other.hi_open
        return Interval(lo, lo_open, hi, hi_open)

    @staticmethod
    def of(op: str, value: Fraction) -> Interval | None:
        """The numbers x with `x op value`; None for != (not an interval)."""
        return {
            ">=": Interval(lo=value),
            ">": Interval(lo=value, lo_open=True),
            "<=": Interval(hi=value),
            "<": Interval(hi=value, hi_open=True),
            "==": Interval(value, False, value, False),
        }.get(op)


Constraint = Interval | frozenset[str]  # numbers, or the enum members / truth values allowed


class Box:
    """An outer approximation of a condition: for some facts, the values it allows (`bounds`);
    `bottom` when it can never hold.  Facts not mentioned are unconstrained."""

    def __init__(self, bounds: dict[str, Constraint] | None = None, bottom: bool = False) -> None:
        self.bounds = bounds or {}
        self.bottom = bottom or any(_is_empty(c) for c in self.bounds.values())

    def meet(self, other: Box) -> Box:
        if self.bottom or other.bottom:
            return BOTTOM
        bounds = dict(self.bounds)
        for name, c in other.bounds.items():
            mine = bounds.get(name)
            bounds[name] = c if mine is None else _meet(mine, c)
        return Box(bounds)

    def join(self, other: Box) -> Box:
        if self.bottom:
            return other
        if other.bottom:
            return self
        bounds = {}
        for name in self.bounds.keys() & other.bounds.keys():
            bounds[name] = _join(self.bounds[name], other.bounds[name])
        return Box(bounds)

    def disjoint(self, other: Box) -> bool:
        """No applicant lies in both (checked on the facts both constrain)."""
        if self.bottom or other.bottom:
            return True
        mine = self.bounds
        for name, c in other.bounds.items():
            here = mine.get(name)
            if here is not None and here is not c and _is_empty(_meet(here, c)):
                return True
        return False


TOP = Box()
BOTTOM = Box(bottom=True)


def _is_empty(c: Constraint) -> bool:
    return c.empty if isinstance(c, Interval) else not c


def _meet(a: Constraint, b: Constraint) -> Constraint:
    if isinstance(a, Interval) and isinstance(b, Interval):
        return a.meet(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a & b
    return a


def _join(a: Constraint, b: Constraint) -> Constraint:
    if isinstance(a, Interval) and isinstance(b, Interval):
        return a.join(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a | b
    return a


# ---------------------------------------------------------------------------------- constants


def _progressive(
    subject: Fraction | None,
    limits: list[tuple[Fraction | None, Fraction | None, bool]],
    rates: list[Fraction | None],
) -> Fraction | None:
    """Progressive brackets of constants (runtime.progressive): (lower, upper, has an upper limit)
    and the rate of each row; None when a figure is not a constant."""
    if subject is None or any(r is None for r in rates):
        return None
    total = Fraction(0)
    for (lower, upper, bounded), rate in zip(limits, rates, strict=True):
        if lower is None or (bounded and upper is None) or rate is None:
            return None
        part = (min(subject, upper) if upper is not None else subject) - lower
        total += rate * max(part, Fraction(0))
    return total


def plan_constant(expr: P.Expr, plan: P.Plan) -> Fraction | None:
    """The value of a plan expression that depends on no fact (None when it does, or is unset)."""
    match expr:
        case P.Const():
            return Fraction(expr.value)
        case P.Neg():
            inner = plan_constant(expr.operand, plan)
            return None if inner is None else -inner
        case P.Arith():
            left, right = plan_constant(expr.left, plan), plan_constant(expr.right, plan)
            if left is None or right is None:
                return None
            if expr.op == "+":
                return left + right
            if expr.op == "-":
                return left - right
            if expr.op == "*":
                return left * right
            return None if right == 0 else left / right
        case P.MinMax():
            values = [plan_constant(a, plan) for a in expr.args]
            if any(v is None for v in values):
                return None
            known = [v for v in values if v is not None]
            return min(known) if expr.func == "min" else max(known)
        case P.Brackets():
            figures = [
                (
                    Fraction(0) if r.lower is None else plan_constant(r.lower, plan),
                    None if r.upper is None else plan_constant(r.upper, plan),
                    r.upper is not None,
                )
                for r in expr.rows
            ]
            rates = [plan_constant(r.rate, plan) for r in expr.rows]
            return _progressive(plan_constant(expr.subject, plan), figures, rates)
        case P.Whole():  # exactly as runtime.blocks and runtime.round_down
            value, size = plan_constant(expr.value, plan), plan_constant(expr.size, plan)
            if value is None or size is None or size <= 0:  # a unit not above zero has no value
                return None
            whole = Fraction(math.floor(value / size))
            return max(whole, Fraction(0)) if expr.func == "blocks" else whole * size
        case P.Year() if expr.func == "year" and isinstance(expr.date, P.DateConst):
            return Fraction(expr.date.value.year)
        case P.ParamRef():
            versions = plan.params[expr.name].versions
            if len(versions) == 1:
                return plan_constant(versions[0].value, plan)
    return None


# ---------------------------------------------------------------------------------- conjuncts


@attrs.frozen
class Simple:
    """A conjunct that constrains one fact alone: `fact`, and the `constraint` it puts on it;
    `node` is the conjunct (its `span` and `word` for hints quoting the drafter's words)."""

    fact: str
    constraint: Constraint
    node: P.Expr


def conjuncts(expr: P.Expr) -> Iterator[P.Expr]:
    """The top-level parts of a conjunction."""
    if isinstance(expr, P.And):
        yield from conjuncts(expr.left)
        yield from conjuncts(expr.right)
    else:
        yield expr


def clause_conjuncts(clause: P.Clause) -> list[P.Expr]:
    """Every condition of a clause as a list of conjuncts (`unless x` is one conjunct, not x)."""
    out: list[P.Expr] = []
    for c in clause.conditions:
        if c.negated:
            out.append(P.Not(c.cond, span=c.span))
        else:
            out.extend(conjuncts(c.cond))
    return out


def _fact(expr: P.Expr, plan: P.Plan) -> P.FactSpec | None:
    return plan.facts.get(expr.name) if isinstance(expr, P.FactRef) else None


def simple(expr: P.Expr, plan: P.Plan) -> Simple | None:
    """The single-fact constraint a conjunct states, when it states one."""
    match expr:
        case P.Cmp():
            left, right, op = expr.left, expr.right, expr.op
            spec = _fact(left, plan)
            if spec is None:
                spec, left, right, op = _fact(right, plan), right, left, _FLIP[op]
            if spec is None:
                return None
            if spec.kind in _NUMERIC:
                value = plan_constant(right, plan)
                interval = None if value is None else Interval.of(op, value)
                return None if interval is None else Simple(spec.name, interval, expr)
            if spec.kind == "enum" and op in ("==", "!=") and isinstance(right, P.EnumConst):
                members = frozenset(plan.enums.get(right.enum, {}))
                allowed = frozenset({right.member}) if op == "==" else members - {right.member}
                return Simple(spec.name, allowed, expr)
            if spec.kind == "bool" and op in ("==", "!=") and isinstance(right, P.BoolConst):
                return Simple(spec.name, frozenset({str(right.value == (op == "=="))}), expr)
        case P.In():
            spec = _fact(expr.subject, plan)
            if spec is not None and spec.kind == "enum":
                return Simple(spec.name, frozenset(expr.members), expr)
        case P.FactRef():
            spec = _fact(expr, plan)
            if spec is not None and spec.kind == "bool":
                return Simple(spec.name, frozenset({"True"}), expr)
        case P.Not():
            spec = _fact(expr.operand, plan)
            if spec is not None and spec.kind == "bool":
                return Simple(spec.name, frozenset({"False"}), expr)
            inner = simple(expr.operand, plan)
            if inner is not None and isinstance(inner.constraint, frozenset):
                enum = plan.facts[inner.fact].enum
                if enum is not None:
                    members = frozenset(plan.enums.get(enum, {}))
                else:
                    members = frozenset({"True", "False"})
                return Simple(inner.fact, members - inner.constraint, expr)
    return None


def box_of(expr: P.Expr, plan: P.Plan) -> Box:
    """A sound outer box of a condition: every applicant satisfying it lies in the box."""
    match expr:
        case P.And():
            return box_of(expr.left, plan).meet(box_of(expr.right, plan))
        case P.Or():
            return box_of(expr.left, plan).join(box_of(expr.right, plan))
        case P.BoolConst():
            return TOP if expr.value else BOTTOM
    s = simple(expr, plan)
    if s is None:
        return TOP
    return Box({s.fact: s.constraint})


def clause_box(clause: P.Clause, plan: P.Plan) -> Box:
    box = TOP
    for conj in clause_conjuncts(clause):
        box = box.meet(box_of(conj, plan))
    return box


def domain_box(plan: P.Plan) -> Box:
    """What the declared bounds of the facts allow."""
    box = TOP
    for name, spec in plan.facts.items():
        if spec.kind not in _NUMERIC:
            continue
        for op, bound in spec.declared:
            value = plan_constant(bound, plan)
            interval = None if value is None else Interval.of(op, value)
            if interval is not None:
                box = box.meet(Box({name: interval}))
    return box


def gate_box(measure: P.Measure, plan: P.Plan, shared: Box) -> Box:
    """The outer box of what a measure asks (its requirements) within the shared eligibility.  The
    kinds it serves are no box: an applicant may have several roles (the solver decides)."""
    box = shared
    for gate in measure.gates:
        if gate.kind == "require":
            box = box.meet(box_of(gate.cond, plan))
    return box


def shared_box(plan: P.Plan) -> Box:
    box = domain_box(plan)
    for gate in plan.eligibility:
        box = box.meet(box_of(gate.cond, plan))
    return box


def describe_interval(
    name: str, interval: Interval, show: Callable[[Fraction], str], chinese: bool = False
) -> str:
    """`name >= 100万 and name < 500万` for an interval, in the language's syntax (with the Chinese
    keywords `且`, `是` when `chinese`)."""
    parts = []
    if interval.lo is not None and interval.lo == interval.hi:
        return f"{name} == {show(interval.lo)}"
    if interval.lo is not None:
        parts.append(f"{name} {'>' if interval.lo_open else '>='} {show(interval.lo)}")
    if interval.hi is not None:
        parts.append(f"{name} {'<' if interval.hi_open else '<='} {show(interval.hi)}")
    return f" {spelling('and', chinese)} ".join(parts) or spelling("true", chinese)
