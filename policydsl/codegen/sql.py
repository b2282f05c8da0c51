"""The SQL back end: a policy's plan lowered to one sqlglot query over a relation of applicants.

The query reads an input relation whose columns are the facts, as text (a CSV read with every column
as VARCHAR); it checks and converts each cell (a bad cell makes its row invalid, with a reason naming
the column, never a dropped row), then decides every measure and the total exactly as the
interpreter does: three-valued conditions (a missing fact is NULL, SQL's AND, OR and NOT are
Kleene's, as `runtime.and3`/`or3`/`not3`), amounts as exact DECIMAL(38, s) rounded by the policy's
rule, ceilings and undetermined amounts as a status beside a NULL or bounded amount.  Reasons are
codes; `SqlQuery.reasons` maps each to its text.  The tree is built with sqlglot's builders only,
so every name and text is quoted by sqlglot, and printed for any dialect sqlglot knows.

A construct this module does not translate is refused (`Refused`, code E801) with the place it
stands, never translated into something else; docs/semantics.md ("SQL mapping") lists what is
covered.  The evaluation runs as `eval --partial` does: a fact left empty makes what it feeds
undetermined.  Limits across applicants (quotas, group caps, pots) are window functions over the
whole relation in the order of its column `row`, as the Python batch's first pass applies them.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

import attrs
from sqlglot import exp

from policydsl.evaluation import runtime as rt
from policydsl.messages import Lang, Message, default_lang, msg
from policydsl.plan import nodes as P

# Every figure a fact gives is read into DECIMAL(38, FACT_SCALE): at most that many decimal places
# (a finer cell is refused as input, never rounded), at most 38 - FACT_SCALE whole digits.
FACT_SCALE = 10
MAX_SCALE = 38
_ROUND_PLACES = {"yuan": 0, "jiao": 1, "fen": 2}
# the statuses the query gives, as runtime's
INVALID = "invalid"
STATUSES = (rt.DETERMINED, rt.CEILING, rt.UNDETERMINED, rt.INELIGIBLE, INVALID)
_INEXACT_DIVISION = "a division by a figure other than a constant with an exact inverse"
_QUOTIENT_COMPARED = (
    "a division by a figure other than a constant with an exact inverse, compared with anything but"
    " a constant"
)
_QUOTIENT_PLACES = (
    "a division by a figure compared with a constant of more decimal places than it compares exactly"
)
# A quotient x / y compared with a constant c is decided exactly, by multiplying c by y; the
# interpreter rounds the quotient to CONTEXT.prec (60) significant digits first.  Both agree while
# c's places plus y's, less x's, are at most this many (`_Exprs.quotient` says why).
_QUOTIENT_PLACES_MAX = 21
_EXACT, _AT_MOST, _UNKNOWN = 0, 1, 2  # a figure's precision, as runtime's, ordered
# a shared funding limit's reason names the earlier members whose amount is not known: one reason
# code per such set, so the measures a limit counts are kept few
_MOST_COUNTED = 6


class Refused(Exception):
    """A construct the SQL back end does not translate: `construct` (what it is) at `where`."""

    def __init__(self, construct: str, where: P.Where | None) -> None:
        super().__init__(construct)
        self.construct = construct
        self.where = where


@attrs.frozen
class SqlQuery:
    """The query (`tree`) over `source`, the `facts` it reads (the input's columns, by fact name),
    the `measures` it decides, and `reasons`: each reason code with its text."""

    tree: exp.Query
    source: str
    facts: tuple[str, ...]
    measures: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]

    def sql(self, dialect: str = "duckdb", pretty: bool = True) -> str:
        """The query in `dialect`, printed by sqlglot."""
        return self.tree.sql(dialect=dialect, pretty=pretty)

    def reasons_tree(self) -> exp.Query:
        """The table of reason codes as a VALUES relation `reasons(code, label)`."""
        values = exp.values(
            [(exp.Literal.string(code), exp.Literal.string(label)) for code, label in self.reasons],
            alias="reasons",
            columns=["code", "label"],
        )
        return exp.select("code", "label").from_(values)


# ---------------------------------------------------------------------------------------------- helpers


# The Spark session settings under which the spark dialect's query keeps its figures exact
# (evaluation/sparkbatch.py says why each one); `compile --target sql --dialect spark` writes them first
SPARK_SETTINGS = {
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.legacy.decimal.retainFractionDigitsOnTruncate": "true",
    "spark.sql.ansi.enabled": "true",
}


def _id(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str) -> exp.Column:
    return exp.column(_id(name))


def _str(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _try_cast(this: exp.Expr, to: exp.DataType) -> exp.TryCast:
    """A cast that gives NULL where the text is no value of the type; `safe` makes sqlglot print
    TRY_CAST for Spark too (it prints a plain CAST otherwise, which fails the whole job in ANSI mode)."""
    return exp.TryCast(this=this, to=to, safe=True)


def _decimal_type(scale: int) -> exp.DataType:
    # a figure anywhere in an expression (a rate inside a condition's band, say), not only the
    # expression's own: no engine has a DECIMAL finer than its width
    if scale > MAX_SCALE:
        raise Refused(f"a figure with more than {MAX_SCALE} decimal places", None)
    return exp.DataType.build(f"DECIMAL(38, {scale})")


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _number(value: Decimal) -> exp.Expr:
    """An exact figure, typed DECIMAL(38, its own scale)."""
    value = value.normalize() if value == value.to_integral_value() else value
    text = format(value, "f")
    return decimal(exp.Literal.number(text), _scale(Decimal(text)))


def _case(*whens: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Case:
    case = exp.Case()
    for cond, then in whens:
        case = case.when(cond, then)
    return case.else_(default) if default is not None else case


def _any_null(args: Iterable[exp.Expr]) -> exp.Expr:
    return _or_all(exp.Is(this=a.copy(), expression=exp.Null()) for a in args)


def _grouped(part: exp.Expr) -> exp.Expr:
    """`part` in parentheses when it is an `and` or `or` itself: sqlglot prints the nodes it is given
    as they nest, without parentheses for precedence, so `p AND (q OR r)` built of bare nodes
    printed as `p AND q OR r`."""
    return exp.paren(part) if isinstance(part, exp.Connector) else part


def _or_all(items: Iterable[exp.Expr]) -> exp.Expr:
    parts = [_grouped(p) for p in items]
    if not parts:
        return exp.false()
    out = parts[0]
    for part in parts[1:]:
        out = exp.Or(this=out, expression=part)
    return exp.paren(out) if len(parts) > 1 else out


def _and_all(items: Iterable[exp.Expr]) -> exp.Expr:
    parts = [_grouped(p) for p in items]
    if not parts:
        return exp.true()
    out = parts[0]
    for part in parts[1:]:
        out = exp.And(this=out, expression=part)
    return exp.paren(out) if len(parts) > 1 else out


def _true(cond: exp.Expr) -> exp.Expr:
    """`cond IS TRUE`: a NULL (unknown) is not true."""
    return exp.Is(this=exp.paren(cond.copy()), expression=exp.true())


def _false(cond: exp.Expr) -> exp.Expr:
    return exp.Is(this=exp.paren(cond.copy()), expression=exp.false())


def _null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=exp.paren(value.copy()), expression=exp.Null())


def _cast(value: exp.Expr, to: exp.DataType) -> exp.Cast:
    """`CAST(value AS to)`, always written out: sqlglot's `exp.cast` drops a cast over a cast it
    takes for the same type, and it takes DECIMAL(38, 0) and DECIMAL(38, 2) for one."""
    return exp.Cast(this=value.copy(), to=to)


def decimal(value: exp.Expr, scale: int) -> exp.Expr:
    """`value` as DECIMAL(38, scale): the one way a figure gets its SQL type.

    DuckDB gives a CASE, LEAST, GREATEST or COALESCE over DECIMALs of different scales the
    smallest scale, rounding the others away, silently.  So every figure the query computes is
    typed here to the scale proven for it (`_Exprs.scale`, never below its value's own: widening
    is exact), and every LEAST, GREATEST, COALESCE and CASE over figures takes its arguments
    through `least`, `greatest`, `coalesce` and `_widen`, which type them all to one scale."""
    target = _decimal_type(scale)
    constant = _constant(value)
    if constant is not None and not _holds(constant, scale):
        raise Refused(_too_big(constant, scale), None)
    if isinstance(value, exp.Cast) and value.to.sql() == target.sql():
        return value.copy()
    return _cast(value, target)


def _holds(value: Decimal, scale: int) -> bool:
    """Whether DECIMAL(38, scale) holds `value`: at most 38 - scale whole digits.  An engine casts a
    figure it cannot hold into an error that stops the whole query, so such a constant is refused."""
    return abs(value) < Decimal(10) ** (MAX_SCALE - scale)


def _too_big(value: Decimal, scale: int) -> str:
    whole = MAX_SCALE - scale
    return f"the figure {value.normalize():E}, more than the {whole} whole digits DECIMAL(38, {scale}) holds"


def _constant(value: exp.Expr) -> Decimal | None:
    """The value of a constant figure as `_number` writes it (a number, maybe negated, in a cast)."""
    while isinstance(value, exp.Cast | exp.Paren | exp.Neg):
        value = value.this
    if isinstance(value, exp.Literal) and not value.is_string:
        return Decimal(value.this)
    return None


def _widen(value: exp.Expr, scale: int) -> exp.Expr:
    return decimal(value, scale)


def least(scale: int, *args: exp.Expr) -> exp.Expr:
    """LEAST of figures (NULLs skipped), every argument and the result DECIMAL(38, scale)."""
    return decimal(
        exp.Least(this=decimal(args[0], scale), expressions=[decimal(a, scale) for a in args[1:]]), scale
    )


def greatest(scale: int, *args: exp.Expr) -> exp.Expr:
    """GREATEST of figures (NULLs skipped), every argument and the result DECIMAL(38, scale)."""
    return decimal(
        exp.Greatest(this=decimal(args[0], scale), expressions=[decimal(a, scale) for a in args[1:]]), scale
    )


def coalesce(scale: int, *args: exp.Expr) -> exp.Expr:
    """COALESCE of figures, every argument and the result DECIMAL(38, scale)."""
    return decimal(exp.func("coalesce", *(decimal(a, scale) for a in args)), scale)


def case_of(scale: int, *whens: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Expr:
    """A CASE over figures: every branch and the result DECIMAL(38, scale)."""
    return decimal(
        _case(
            *((cond, decimal(then, scale)) for cond, then in whens),
            default=None if default is None else decimal(default, scale),
        ),
        scale,
    )


def _strict(func: str, args: Sequence[exp.Expr], scale: int) -> exp.Expr:
    """min/max that is NULL when any argument is (LEAST and GREATEST skip NULLs), every argument
    widened to `scale`."""
    if len(args) == 1:
        return decimal(args[0], scale)
    call = (least if func == "min" else greatest)(scale, *args)
    return case_of(scale, (_any_null(args), exp.Null()), default=call)


def _concat_ws(separator: exp.Expr, *parts: exp.Expr) -> exp.Expr:
    """concat_ws as the engines define it (NULL parts skipped); sqlglot's own node would add a NULL
    test of its own around it."""
    return exp.Anonymous(this="concat_ws", expressions=[separator, *parts])


def _count_true(conds: Iterable[exp.Expr]) -> exp.Expr:
    """How many of `conds` are true, in SQL every dialect knows (DuckDB's list_sum is no Spark
    function: a 就高 rule failed the whole Spark job)."""
    out: exp.Expr = exp.Literal.number(0)
    for cond in conds:
        one = _case((_true(cond), exp.Literal.number(1)), default=exp.Literal.number(0))
        out = exp.Add(this=out, expression=one)
    return exp.paren(out)


def _zero(scale: int) -> exp.Expr:
    return decimal(exp.Literal.number(0), scale)


def _sum(values: Sequence[exp.Expr]) -> exp.Expr:
    out: exp.Expr = _number(Decimal(0))
    for v in values:
        out = exp.Add(this=out, expression=v)
    return out


def _exact_reciprocal(value: Decimal) -> Decimal | None:
    """1/value when it is a finite decimal (value = ±2^a·5^b·10^k), else None."""
    if value == 0:
        return None
    digits = int(abs(value).scaleb(_scale(abs(value))))
    for prime in (2, 5):
        while digits % prime == 0:
            digits //= prime
    if digits != 1:
        return None
    with __import__("decimal").localcontext(rt.CONTEXT):
        return rt.ONE / value


# ---------------------------------------------------------------------------------------------- expressions


class _Exprs:
    """Translates plan expressions; knows the facts' columns, the parameters and the evaluation day."""

    def __init__(
        self,
        plan: P.Plan,
        date: datetime.date | None,
        columns: dict[str, str],
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.plan = plan
        self.date = date
        self.columns = columns  # fact name -> typed column
        self.params = dict(params or {})  # parameter values given for the run (parsed), by name

    def param(self, ref: P.ParamRef, where: P.Where | None) -> P.Expr:
        if ref.name in self.params:  # a value given for the run wins over the text's, as the interpreter's
            return _given(self.params[ref.name], self.plan.params[ref.name], where)
        versions = self.plan.params[ref.name].versions
        chosen = versions[0]
        for version in versions:
            if version.start is None or self.date is None or version.start <= self.date:
                chosen = version
        return chosen.value

    def raises(self, expr: P.Expr) -> bool:
        """Whether evaluating `expr` may raise in the interpreter (no row of a table or band, a unit
        not above zero): such a failure makes a condition unknown as a whole and a cap a bound,
        which NULL does not say; it is allowed only in an amount or a funding limit."""
        for node in P.walk(expr):
            match node:
                case P.Arith() if _divides(node) and not isinstance(node.right, P.Const):  # by zero
                    return True
                case P.Arith() if _date_arith(node):  # a day outside years 1 to 9999
                    return True
                case P.Band() if all(r.bounds is not None for r in node.rows):
                    return True
                case P.Table() if all(r.key is not None for r in node.rows) or any(
                    isinstance(r.value, P.Unset) for r in node.rows
                ):
                    return True
                case P.ParamRef():
                    if self.raises(self.param(node, None)):
                        return True
                case P.Unset():
                    return True
        return False

    def fails(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        """TRUE where evaluating `expr` raises in the interpreter (no row of a table or band, a value
        left unset), FALSE elsewhere, never NULL: the interpreter evaluates both sides of an
        arithmetic or a comparison, a table's or band's one row, the right of `and`/`or` only when
        the left does not decide, and a table or band whose key is missing not at all."""
        if not self.raises(expr):
            return exp.false()
        match expr:
            case P.Unset():
                return exp.true()
            case P.ParamRef():
                return self.fails(self.param(expr, where), where)
            case P.Arith() if _divides(expr):
                # both sides are evaluated first; a known zero divisor raises (0/0 too)
                left, right = self.expr(expr.left, where), self.expr(expr.right, where)
                zero = _and_all(
                    [exp.not_(_null(left)), exp.not_(_null(right)), exp.EQ(this=right, expression=_zero(0))]
                )
                return _or_all([self.fails(expr.left, where), self.fails(expr.right, where), zero])
            case P.Arith() if _date_arith(expr):
                start, count, unit = self.shift(expr, where)
                date = self.expr(start, where)
                return _or_all(
                    [
                        self.fails(start, where),
                        _and_all([exp.not_(_null(date)), _off_calendar(date, count, unit)]),
                    ]
                )
            case P.Arith() | P.Cmp():
                return _or_all([self.fails(expr.left, where), self.fails(expr.right, where)])
            case P.Neg() | P.Not():
                return self.fails(expr.operand, where)
            case P.MinMax():
                return _or_all(self.fails(a, where) for a in expr.args)
            case P.Whole():
                return _or_all([self.fails(expr.value, where), self.fails(expr.size, where)])
            case P.In():
                return self.fails(expr.subject, where)
            case P.Year():
                return self.fails(expr.date, where)
            case P.Since():
                return _or_all([self.fails(expr.start, where), self.fails(expr.duration, where)])
            case P.And() | P.Or():
                left = self.expr(expr.left, where)
                decides = _false(left) if isinstance(expr, P.And) else _true(left)
                return _or_all(
                    [
                        self.fails(expr.left, where),
                        _and_all([exp.not_(decides), self.fails(expr.right, where)]),
                    ]
                )
            case P.Brackets():
                parts = [expr.subject]
                for bracket in expr.rows:
                    parts += [b for b in (bracket.lower, bracket.upper) if b is not None] + [bracket.rate]
                return _or_all(self.fails(part, where) for part in parts)
            case P.Table():
                key = _col(self.columns[expr.fact])
                whens: list[tuple[exp.Expr, exp.Expr]] = [(_null(key), exp.false())]
                default: exp.Expr = exp.true()  # no row for the key
                for row in expr.rows:
                    broken = exp.true() if isinstance(row.value, P.Unset) else self.fails(row.value, where)
                    if row.key is None:
                        default = broken
                        break
                    whens.append((exp.EQ(this=key.copy(), expression=_str(row.key)), broken))
                return _case(*whens, default=default)
            case P.Band():
                subject = self.expr(expr.subject, where)
                whens = []
                default = exp.true()  # no band holds the subject
                for band in expr.rows:
                    broken = self.fails(band.value, where)
                    if band.bounds is None:
                        default = broken
                        break
                    if any(self.raises(bound) for _, bound in band.bounds):
                        raise Refused("a band whose bound may have no value", where)
                    for _, bound in band.bounds:
                        self.fits(bound, expr.subject, where)
                    tests = [_compare(op, subject, self.expr(bound, where)) for op, bound in band.bounds]
                    whens.append((_and_all(tests), broken))
                known = _and_all([exp.not_(_null(subject)), _case(*whens, default=default)])
                return _or_all([self.fails(expr.subject, where), known])
        raise Refused(f"{type(expr).__name__} that may have no value", where)

    def fits(self, bound: P.Expr, subject: P.Expr, where: P.Where | None) -> None:
        """Refuse a band bound the engine cannot compare with the subject: it compares at the
        subject's scale, and a bound with more whole digits than that leaves fails the query."""
        if isinstance(bound, P.Const) and self.numeric(subject):
            whole = len(str(int(abs(bound.value)))) if abs(bound.value) >= 1 else 0
            if whole + max(self.scale(subject), _scale(bound.value)) > MAX_SCALE:
                raise Refused(f"a band bound with more than {MAX_SCALE} digits at the subject's scale", where)

    def guarded(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        """`expr` in SQL, NULL (unknown) where the interpreter raises evaluating it."""
        node = self(expr, where)
        if not self.raises(expr):
            return node
        broken = self.fails(expr, where)
        if self.numeric(expr):
            return case_of(self.scale(expr), (broken, exp.Null()), default=node)
        return _case((broken, exp.Null()), default=node)

    def scale(self, expr: P.Expr) -> int:
        """An upper bound of the decimal scale of `expr`'s value in SQL."""
        match expr:
            case P.Const():
                return _scale(expr.value)
            case P.FactRef():
                return FACT_SCALE
            case P.ParamRef():
                return self.scale(self.param(expr, None))
            case P.Arith() if expr.op == "*":
                return self.scale(expr.left) + self.scale(expr.right)
            case P.Arith() if _divides(expr):
                # never a figure of the query: only compared with a constant (`quotient`), which
                # computes at the scales of its parts
                return max(self.scale(expr.left), self.scale(expr.right))
            case P.Arith() if expr.op == "/":
                assert isinstance(expr.right, P.Const)
                inverse = _exact_reciprocal(expr.right.value)
                if inverse is None:
                    raise Refused(_INEXACT_DIVISION, None)
                return self.scale(expr.left) + _scale(inverse)
            case P.Arith():
                return max(self.scale(expr.left), self.scale(expr.right))
            case P.Neg():
                return self.scale(expr.operand)
            case P.MinMax():
                return max(self.scale(a) for a in expr.args)
            case P.Whole():
                return 0 if expr.func == "blocks" else self.scale(expr.size)
            case P.Table():
                return max(
                    (self.scale(r.value) for r in expr.rows if not isinstance(r.value, P.Unset)), default=0
                )
            case P.Band():
                return max(self.scale(r.value) for r in expr.rows)
            case P.Brackets():
                subject = self.scale(expr.subject)
                return max(
                    self.scale(r.rate)
                    + max([subject] + [self.scale(b) for b in (r.lower, r.upper) if b is not None])
                    for r in expr.rows
                )
            case _:
                return 0

    def __call__(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        try:
            node = self.expr(expr, where)
        except Refused as refused:
            raise Refused(refused.construct, refused.where or where) from None
        if self.scale(expr) > MAX_SCALE:
            raise Refused(f"a figure with more than {MAX_SCALE} decimal places", where)
        self.held(expr, where)
        return node

    def held(self, expr: P.Expr, where: P.Where | None) -> None:
        """Refuses a constant of `expr` that the scale it is compared or computed at cannot hold: the
        engine widens both sides of a comparison or a sum to the finer scale (a fact's is FACT_SCALE)
        and stops the whole query on a figure out of range."""
        numbers = list(_constants(self, expr))
        if not numbers:
            return
        scale = max([FACT_SCALE, *(self.scale(n) for n in P.walk(expr) if self.numeric(n))])
        for value in numbers:
            if not _holds(value, scale):
                raise Refused(_too_big(value, scale), where)

    def expr(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        """`expr` in SQL; a figure typed DECIMAL(38, its proven scale) by `decimal`."""
        node = self.node(expr, where)
        return decimal(node, self.scale(expr)) if self.numeric(expr) else node

    def node(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        match expr:
            case P.Const():
                return _number(expr.value)
            case P.BoolConst():
                return exp.true() if expr.value else exp.false()
            case P.EnumConst():
                return _str(expr.member)
            case P.DateConst():
                return _cast(_str(expr.value.isoformat()), exp.DataType.build("DATE"))
            case P.FactRef():
                return _col(self.columns[expr.name])
            case P.ParamRef():
                chosen = self.param(expr, where)
                if isinstance(chosen, P.Unset):  # no value: unknown, as the interpreter's exception
                    spec = self.plan.params[expr.name]
                    return decimal(exp.Null(), 0) if spec.kind in _FIGURES else exp.Null()
                return self.expr(chosen, where)
            case P.Arith():
                if _date_arith(expr):
                    start, count, unit = self.shift(expr, where)
                    return _shifted(self.expr(start, where), count, unit)
                left, right = self.expr(expr.left, where), self.expr(expr.right, where)
                if expr.op == "+":
                    return exp.paren(exp.Add(this=left, expression=right))
                if expr.op == "-":
                    return exp.paren(exp.Sub(this=left, expression=right))
                if expr.op == "*":
                    return exp.paren(exp.Mul(this=left, expression=right))
                inverse = _exact_reciprocal(expr.right.value) if isinstance(expr.right, P.Const) else None
                if inverse is None:
                    raise Refused(_INEXACT_DIVISION, where)
                return exp.paren(exp.Mul(this=left, expression=_number(inverse)))
            case P.Neg():
                return exp.paren(exp.Neg(this=self.expr(expr.operand, where)))
            case P.Cmp():
                return self.compare(expr, where)
            case P.In():
                subject = self.expr(expr.subject, where)
                members: list[exp.Expr] = [_str(m) for m in expr.members]
                if _is_roles(self.plan, expr.subject):
                    return _has_role(subject, members)
                return exp.paren(exp.In(this=subject, expressions=members))
            case P.And():
                return exp.paren(
                    exp.And(this=self.expr(expr.left, where), expression=self.expr(expr.right, where))
                )
            case P.Or():
                return exp.paren(
                    exp.Or(this=self.expr(expr.left, where), expression=self.expr(expr.right, where))
                )
            case P.Not():
                return exp.Not(this=exp.paren(self.expr(expr.operand, where)))
            case P.MinMax():
                return _strict(expr.func, [self.expr(a, where) for a in expr.args], self.scale(expr))
            case P.Whole():
                return self.whole(expr, where)
            case P.Since():
                return self.since(expr, where)
            case P.Year():
                date = self.expr(expr.date, where)
                year = decimal(exp.Year(this=date), 0)
                if expr.func == "year":
                    return year
                if self.date is None:
                    return exp.Null()
                return exp.paren(exp.Sub(this=_number(Decimal(self.date.year + 1)), expression=year))
            case P.Table():
                key = _col(self.columns[expr.fact])
                whens: list[tuple[exp.Expr, exp.Expr]] = []
                default: exp.Expr | None = None
                for row in expr.rows:
                    # a row left unset is unknown (NULL), as the interpreter's exception makes it
                    value = (
                        exp.Null() if isinstance(row.value, P.Unset) else self.branch(row.value, expr, where)
                    )
                    if row.key is None:
                        default = value
                        break
                    whens.append((exp.EQ(this=key.copy(), expression=_str(row.key)), value))
                return self.choice(expr, key, whens, default)
            case P.Band():
                subject = self.expr(expr.subject, where)
                whens = []
                default = None
                for band in expr.rows:
                    value = self.branch(band.value, expr, where)
                    if band.bounds is None:
                        default = value
                        break
                    tests = []
                    for op, bound in band.bounds:
                        if any(isinstance(n, P.FactRef) for n in P.walk(bound)):
                            raise Refused("a band whose bound reads a fact", where)
                        self.fits(bound, expr.subject, where)
                        tests.append(_compare(op, subject, self.expr(bound, where)))
                    whens.append((_and_all(tests), value))
                return self.choice(expr, subject, whens, default)
            case P.Brackets():
                return self.brackets(expr, where)
            case P.Unset():
                return exp.Null()  # unknown, as the interpreter's exception (`fails` says where)
            case P.DurationConst():
                raise Refused("a duration outside `since`", where)
        raise AssertionError(f"unhandled plan expression {type(expr).__name__}")

    def choice(
        self, whole: P.Expr, key: exp.Expr, whens: list[tuple[exp.Expr, exp.Expr]], default: exp.Expr | None
    ) -> exp.Expr:
        """A table's or band's CASE (NULL when its key is): over figures, every branch at one scale."""
        cases = [(_null(key), exp.Null()), *whens]
        if self.numeric(whole):
            return case_of(self.scale(whole), *cases, default=default)
        return _case(*cases, default=default)

    def branch(self, value: P.Expr, whole: P.Expr, where: P.Where | None) -> exp.Expr:
        """One branch of a table or band, widened to the scale of the whole when it is a figure."""
        node = self.expr(value, where)
        return _widen(node, self.scale(whole)) if self.numeric(value) else node

    def numeric(self, expr: P.Expr) -> bool:
        match expr:
            case P.Arith() if _date_arith(expr):
                return False
            case P.Const() | P.Arith() | P.Neg() | P.MinMax() | P.Whole() | P.Brackets() | P.Year():
                return True
            case P.FactRef():
                return self.plan.facts[expr.name].kind in ("money", "percent", "number", "count")
            case P.ParamRef():
                return self.plan.params[expr.name].kind in _FIGURES or self.numeric(self.param(expr, None))
            case P.Table():
                return any(self.numeric(r.value) for r in expr.rows)
            case P.Band():
                return any(self.numeric(r.value) for r in expr.rows)
        return False

    def compare(self, expr: P.Cmp, where: P.Where | None) -> exp.Expr:
        if isinstance(expr.left, P.Arith) and _divides(expr.left):
            return self.quotient(expr.left, expr.op, expr.right, where)
        if isinstance(expr.right, P.Arith) and _divides(expr.right):
            return self.quotient(expr.right, _REVERSED[expr.op], expr.left, where)
        left, right = self.expr(expr.left, where), self.expr(expr.right, where)
        for roles, other in ((expr.left, right), (expr.right, left)):
            if _is_roles(self.plan, roles):
                held = _has_role(left if roles is expr.left else right, [other])
                return held if expr.op == "==" else exp.Not(this=exp.paren(held))
        return exp.paren(_compare(expr.op, left, right))

    def shift(self, expr: P.Arith, where: P.Where | None) -> tuple[P.Expr, int, str]:
        """A date plus or minus a duration as (the date, the signed count, the unit), as the
        interpreter reads it (`rt.add_duration(date, sign * count, unit)`)."""
        sign = 1 if expr.op == "+" else -1
        for date, duration in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(duration, P.ParamRef):
                duration = self.param(duration, where)
            if isinstance(duration, P.DurationConst) and expr.op in "+-":
                return date, sign * duration.count, duration.unit
        raise Refused("date arithmetic other than a date plus or minus a duration written out", where)

    def constant(self, expr: P.Expr, where: P.Where | None) -> Decimal | None:
        """The value of a figure written as a constant (maybe negated, maybe a parameter), else None."""
        match expr:
            case P.Const():
                return expr.value
            case P.Neg():
                value = self.constant(expr.operand, where)
                return None if value is None else -value
            case P.ParamRef():
                return self.constant(self.param(expr, where), where)
        return None

    def quotient(self, division: P.Arith, op: str, bound: P.Expr, where: P.Where | None) -> exp.Expr:
        """`x / y OP c`, c a constant, decided without dividing: for y > 0 it is `x OP c * y`, for y < 0
        `x OP' c * y` (OP' the order reversed); NULL when y is 0 (the interpreter raises: `fails` says
        so) or unknown.  The product is `c * y` at x's scale when c's places and y's fit in x's, or
        else, when c has an exact inverse r whose places and x's fit in y's, `r * x` compared with y;
        any other constant is refused (the exact product could need more than 38 digits).

        The interpreter compares the quotient q rounded to 60 significant digits, which moves it by at
        most half a unit of its 60th digit, |q| * 10^-59 / 2.  With x of scale sx (|x| < 10^(38 - sx),
        its DECIMAL), y of scale sy and c of scale s, x - c * y is a multiple of 10^-m, m = max(sx, s +
        sy): a quotient other than c is at least 10^-m / |y| from it.  Rounding can bring it to c or
        past only if 10^-m / |y| <= |x| / |y| * 10^-59 / 2 < 10^(38 - sx - 59) / (2 |y|), that is
        m > sx + 21, so while s + sy - sx <= 21 the rounded quotient is on the same side of c as the
        exact one (c = 0: rounding keeps the sign).  A quotient equal to c has at most 38 digits, and
        60 keep it."""
        c = self.constant(bound, where)
        if c is None:
            raise Refused(_QUOTIENT_COMPARED, where)
        sx, sy = self.scale(division.left), self.scale(division.right)
        if _scale(c) + sy - sx > _QUOTIENT_PLACES_MAX:
            raise Refused(_QUOTIENT_PLACES, where)
        x, y = self.expr(division.left, where), self.expr(division.right, where)
        positive = exp.GT(this=y.copy(), expression=_zero(0))
        negative = exp.LT(this=y.copy(), expression=_zero(0))
        if c == 0:  # the quotient's sign is the product's
            zero = _zero(0)
            return _case(
                (positive, exp.paren(_compare(op, x, zero))),
                (negative, exp.paren(_compare(_REVERSED[op], x, zero))),
            )
        inverse = _exact_reciprocal(c)
        if _scale(c) + sy <= sx:  # x OP c * y
            return _case(
                (positive, _scaled_compare(op, x, sx, c, y, sy)),
                (negative, _scaled_compare(_REVERSED[op], x, sx, c, y, sy)),
            )
        if inverse is not None and _scale(inverse) + sx <= sy:
            # x OP c * y, divided by c (which reverses OP when c < 0), is y OP'' r * x
            same = _REVERSED[op] if c > 0 else op
            return _case(
                (positive, _scaled_compare(same, y, sy, inverse, x, sx)),
                (negative, _scaled_compare(_REVERSED[same], y, sy, inverse, x, sx)),
            )
        raise Refused(_QUOTIENT_PLACES, where)

    def whole(self, expr: P.Whole, where: P.Where | None) -> exp.Expr:
        if not isinstance(expr.size, P.Const) or expr.size.value <= 0:
            raise Refused(f"`{expr.func}` by a unit other than a constant above zero", where)
        inverse = _exact_reciprocal(expr.size.value)
        if inverse is None:
            raise Refused(f"`{expr.func}` by a unit without an exact inverse", where)
        value = self.expr(expr.value, where)
        count = exp.Floor(this=exp.Mul(this=value, expression=_number(inverse)))
        if expr.func == "blocks":
            return _case(
                (_null(value), exp.Null()),
                default=greatest(0, count, _zero(0)),
            )
        return exp.paren(exp.Mul(this=count, expression=_number(expr.size.value)))

    def since(self, expr: P.Since, where: P.Where | None) -> exp.Expr:
        duration = expr.duration
        if isinstance(duration, P.ParamRef):
            duration = self.param(duration, where)
        if not isinstance(duration, P.DurationConst):
            raise Refused("`since` compared with a duration that is not written out", where)
        start = self.expr(expr.start, where)
        if self.date is None:
            return exp.Null()  # the interpreter: no evaluation day, no answer
        boundary = _cast(
            exp.DateAdd(
                this=start, expression=exp.Literal.number(duration.count), unit=exp.var(duration.unit.upper())
            ),
            exp.DataType.build("DATE"),
        )
        today = _cast(_str(self.date.isoformat()), exp.DataType.build("DATE"))
        # elapsed OP duration <=> boundary (OP reversed) today, as runtime.since_compare
        flipped = {">=": "<=", ">": "<", "<": ">", "<=": ">=", "==": "==", "!=": "!="}[expr.op]
        return exp.paren(_compare(flipped, boundary, today))

    def brackets(self, expr: P.Brackets, where: P.Where | None) -> exp.Expr:
        subject = self.expr(expr.subject, where)
        parts: list[exp.Expr] = []
        known: list[exp.Expr] = [subject]
        for row in expr.rows:
            scale = self.scale(expr)
            top = (
                subject.copy()
                if row.upper is None
                else _strict("min", [subject, self.expr(row.upper, where)], scale)
            )
            bottom = _number(rt.ZERO) if row.lower is None else self.expr(row.lower, where)
            rate = self.expr(row.rate, where)
            known += [top, bottom, rate]
            part = exp.paren(exp.Sub(this=top, expression=bottom))
            parts.append(
                case_of(
                    scale,
                    (
                        exp.GT(this=part, expression=_number(rt.ZERO)),
                        _widen(exp.Mul(this=rate, expression=part.copy()), scale),
                    ),
                    default=_zero(scale),
                )
            )
        return case_of(self.scale(expr), (_any_null(known), exp.Null()), default=_sum(parts))


def _constants(ev: _Exprs, expr: P.Expr) -> Iterable[Decimal]:
    """The constant figures of `expr`, parameters' values included."""
    for node in P.walk(expr):
        if isinstance(node, P.Const):
            yield node.value
        elif isinstance(node, P.ParamRef):
            value = ev.param(node, None)
            if not isinstance(value, P.Unset):
                yield from _constants(ev, value)


_FIGURES = ("money", "percent", "number", "count")


def _given(value: object, spec: P.ParamSpec, where: P.Where | None) -> P.Expr:
    """A parameter value given for the run (runtime.parse_fact's) as a plan constant."""
    if isinstance(value, bool):
        return P.BoolConst(value)
    if isinstance(value, Decimal):
        return P.Const(value, spec.kind, spec.unit)
    if isinstance(value, datetime.date):
        return P.DateConst(value)
    if isinstance(value, str):
        return P.EnumConst(spec.kind, value)
    raise Refused(f"a value given for the parameter `{spec.name}` of type {spec.kind}", where)


def _is_date(expr: P.Expr) -> bool:
    return isinstance(expr, P.DateConst | P.DurationConst) or (
        isinstance(expr, P.Arith) and expr.kind == "date"
    )


def _is_roles(plan: P.Plan, expr: P.Expr) -> bool:
    return P.roles_fact(expr, plan.facts)


def _has_role(roles: exp.Expr, members: list[exp.Expr]) -> exp.Expr:
    # typed nodes every dialect prints (DuckDB's list_has_any has no Spark spelling sqlglot knows)
    held = exp.ArrayIntersect(expressions=[roles, exp.Array(expressions=members)])
    return exp.GT(this=exp.ArraySize(this=held), expression=exp.Literal.number(0))


# an order with its sides swapped: `a OP b` is `b OP' a` (also `x / y OP c` as `x OP' c * y`, y < 0)
_REVERSED = {">=": "<=", ">": "<", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


def _date_arith(expr: P.Arith) -> bool:
    return expr.kind == "date" or _is_date(expr.left) or _is_date(expr.right)


def _shifted(date: exp.Expr, count: int, unit: str) -> exp.Expr:
    """`date` plus `count` days, months or years: DuckDB's and Spark's month and year arithmetic keep
    to the month's last day (29 February plus a year is 28 February), as `rt.add_duration`."""
    added = exp.DateAdd(this=date, expression=exp.Literal.number(count), unit=exp.var(unit.upper()))
    return _cast(added, exp.DataType.build("DATE"))


def _off_calendar(date: exp.Expr, count: int, unit: str) -> exp.Expr:
    """TRUE where `date` plus `count` units falls outside years 1 to 9999, where `rt.add_duration`
    raises; decided on `date` against a constant day, so that no engine works out such a day."""
    first, last = datetime.date.min, datetime.date.max

    def day(value: datetime.date) -> exp.Expr:
        return _cast(_str(value.isoformat()), exp.DataType.build("DATE"))

    if count == 0:
        return exp.false()
    if unit == "day":
        try:
            edge = (
                last - datetime.timedelta(days=count) if count > 0 else first - datetime.timedelta(days=count)
            )
        except OverflowError:
            return exp.true()  # more days than the calendar holds
        return (
            exp.GT(this=date.copy(), expression=day(edge))
            if count > 0
            else exp.LT(this=date.copy(), expression=day(edge))
        )
    months = count * 12 if unit == "year" else count
    # a month's place, year * 12 + month - 1, runs from 12 (January of year 1) to 9999 * 12 + 11
    edge_index = last.year * 12 + 12 - months if months > 0 else first.year * 12 - months
    if not first.year * 12 < edge_index <= last.year * 12 + 11:
        return exp.true()
    edge = datetime.date(edge_index // 12, edge_index % 12 + 1, 1)
    if months > 0:
        return exp.GTE(this=date.copy(), expression=day(edge))
    return exp.LT(this=date.copy(), expression=day(edge))


def _divides(expr: P.Expr) -> bool:
    """Whether `expr` is a division the query does not turn into a product: its divisor is not a
    constant with an exact inverse (a fact, a formula, `/ 3`)."""
    if not isinstance(expr, P.Arith) or expr.op != "/":
        return False
    return not isinstance(expr.right, P.Const) or _exact_reciprocal(expr.right.value) is None


def _scaled_compare(op: str, left: exp.Expr, ls: int, k: Decimal, m: exp.Expr, ms: int) -> exp.Expr:
    """`left OP k * m`, left of scale ls and m of scale ms (k's places and m's within ls), exactly and
    without an overflow: the product is worked out only where |k * m| < 10^(38 - ls), so that it
    holds at left's scale; elsewhere it is beyond any left (|left| < 10^(38 - ls)) and its sign
    decides."""
    # the least multiple of 10^-ms at or above 10^(38 - ls) / |k|, in whole numbers
    units, places = int(abs(k).scaleb(_scale(k))), _scale(k)
    small = Decimal(-(-(10 ** (MAX_SCALE - ls + ms + places)) // units)).scaleb(-ms)
    product = decimal(exp.Mul(this=_number(k), expression=m.copy()), _scale(k) + ms)
    exact = exp.paren(_compare(op, decimal(left, ls), decimal(product, ls)))
    if small >= Decimal(10) ** (MAX_SCALE - ms):
        return exact  # every m is small enough
    # |left| < |k * m|: left OP k * m as 0 OP k * m, whose sign is k's times m's
    up = _OPS_AT_ZERO[op][0 if k > 0 else 1]
    down = _OPS_AT_ZERO[op][1 if k > 0 else 0]
    magnitude = exp.Abs(this=m.copy())
    return _case(
        (_any_null([left, m]), exp.Null()),
        (exp.LT(this=magnitude, expression=_number(small)), exact),
        (exp.GT(this=m.copy(), expression=_zero(0)), exp.true() if up else exp.false()),
        default=exp.true() if down else exp.false(),
    )


# `0 OP p` for p > 0 and for p < 0
_OPS_AT_ZERO = {
    ">=": (False, True),
    ">": (False, True),
    "<=": (True, False),
    "<": (True, False),
    "==": (False, False),
    "!=": (True, True),
}


def _none_reason(m: P.Measure) -> str:
    """Why no award clause of `m` applies, naming the clauses by the labels written for them: a
    clause without one is known to the plan by its id (`measure.1`), which no reader should see."""
    written = [c.written_label for c in m.clauses if c.kind == "award" and c.written_label]
    return rt.NO_AWARD_MET + "、".join(written) if written else rt.NO_AWARD_MET.rstrip("：")


def _compare(op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
    builder: type[exp.Binary] = {
        ">=": exp.GTE,
        ">": exp.GT,
        "<=": exp.LTE,
        "<": exp.LT,
        "==": exp.EQ,
        "!=": exp.NEQ,
    }[op]
    return builder(this=left.copy(), expression=right.copy())


# ---------------------------------------------------------------------------------------------- input


_PLAIN = r"[+-]?([0-9]+(\.[0-9]{0,%d})?|\.[0-9]{1,%d})"
_GROUPED = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{0,%d})?"
_SHIFTS = (("亿", 8), ("万", 4), ("千", 3))
_TRUE_WORDS = ("true", "是", "yes", "1")
_FALSE_WORDS = ("false", "否", "no", "0")
_ROLE_SPLIT = "[;；、,，]"


def _matches(text: exp.Expr, pattern: str) -> exp.Expr:
    return exp.RegexpLike(this=text.copy(), expression=_str("^(" + pattern + ")$"))


def _ends(text: exp.Expr, suffix: str) -> exp.Expr:
    return exp.EndsWith(this=text.copy(), expression=_str(suffix))


def _drop_last(text: exp.Expr, suffix: str) -> exp.Expr:
    """`text` without `suffix` at its very end (`\\z`: RE2's and Java's end of text, never before a
    final newline).  One function over `text`, not a CASE naming it three times: nested for each
    suffix a figure may carry, the CASE grew the query threefold per level, past what Spark's SQL
    parser reads in reasonable time."""
    return exp.RegexpReplace(
        this=text.copy(), expression=_str(re.escape(suffix) + r"\z"), replacement=_str("")
    )


def _figure(text: exp.Expr, places: int) -> tuple[exp.Expr, exp.Expr]:
    """A figure written plainly or in groups of three, with 万/亿/千 after it: (value, valid)."""
    shift = _case(*((_ends(text, s), _number(Decimal(10) ** k)) for s, k in _SHIFTS), default=_number(rt.ONE))
    # at most one of them, as the interpreter reads figures (`3万亿`, `1千万` are no figures there):
    # stripping each in turn read `1千万` as 1000
    shifts = "|".join(re.escape(s) for s, _ in _SHIFTS)
    body = exp.RegexpReplace(this=text.copy(), expression=_str(f"({shifts})\\z"), replacement=_str(""))
    valid = _or_all([_matches(body, _PLAIN % (places, places)), _matches(body, _GROUPED % places)])
    digits = exp.func("replace", body, _str(","), _str(""))
    value = _try_cast(
        this=exp.Mul(this=_try_cast(this=digits, to=_decimal_type(FACT_SCALE)), expression=shift),
        to=_decimal_type(FACT_SCALE),
    )
    return value, valid


@attrs.frozen
class _Reading:
    """How the query reads a fact's cell (a column of text): `value`, the text as the fact's type
    (its form unchecked; NULL where the type has no such value); `shape`, whether the text has a
    form the Python engine reads as the same value; `checks`, what the value read must meet, given
    the columns holding the value and the text; `fast`, a cheap test of the common plain cell whose
    value is `fast_value` and whose shape is right (None: every cell takes the general path);
    `refusal`, the reason a cell is refused, as the Python engine words it where both read the
    same forms."""

    value: exp.Expr
    shape: exp.Expr
    checks: Callable[[exp.Expr, exp.Expr], list[exp.Expr]]
    refusal: Callable[[str], Message]
    fast: exp.Expr | None = None
    fast_value: exp.Expr | None = None


# A figure written as plain digits with at most FACT_SCALE decimal places and nothing else (no sign,
# space, separator, unit or exponent): every engine's cast to DECIMAL reads such a text as the
# figure it writes, as the Python engine does; every other text takes the general reading.
_PLAIN_CELL = rf"[0-9]+(\.[0-9]{{0,{FACT_SCALE}}})?"


def _parse(spec: P.FactSpec, cell: exp.Expr) -> _Reading:
    """How the query reads a fact's text `cell` (NULL or blank: not given)."""
    text = exp.Trim(this=cell.copy())
    kind = spec.kind

    def given(v: exp.Expr, t: exp.Expr) -> list[exp.Expr]:
        return [exp.not_(_null(v))]

    if kind in ("money", "number", "count", "percent"):
        body: exp.Expr = text
        if kind == "money":
            body = _drop_last(text, "元")
        elif kind == "count" and spec.unit:
            body = _drop_last(text, spec.unit)
        value, ok = _figure(body, FACT_SCALE)
        what = msg("sql.what_figure")
        bare = False
        if kind == "percent":
            pct_value, pct_ok = _figure(_drop_last(text, "%"), FACT_SCALE - 2)
            pct_value = _try_cast(
                this=exp.Mul(this=pct_value, expression=_number(Decimal("0.01"))),
                to=_decimal_type(FACT_SCALE),
            )
            value = _case((_ends(text, "%"), pct_value), default=value)
            ok = _case((_ends(text, "%"), pct_ok), default=ok)
            what, bare = msg("sql.what_percent"), True
        floor = None
        if kind == "money" and not any(op in (">", ">=") and b < 0 for op, b in spec.bounds):
            floor, what = rt.ZERO, msg("sql.what_money")
        whole = False
        if kind == "count":
            floor, what = rt.ZERO, msg("sql.what_count")
            if rt.whole_unit(spec.unit):
                whole, what = True, msg("sql.what_whole_count")
        for op, bound in spec.bounds:
            what = msg("sql.what_bounded", what=what, op=op, bound=rt.show(bound))
        bounds = spec.bounds

        def checks(v: exp.Expr, t: exp.Expr) -> list[exp.Expr]:
            out = given(v, t)
            if bare:  # a bare figure is a fraction, at most 1 (`60` would be 6000%)
                out.append(
                    exp.or_(
                        _ends(exp.Trim(this=t.copy()), "%"),
                        exp.LTE(this=exp.Abs(this=v.copy()), expression=_number(rt.ONE)),
                    )
                )
            if whole:
                out.append(exp.EQ(this=v.copy(), expression=exp.Floor(this=v.copy())))
            if floor is not None:
                out.append(exp.GTE(this=v.copy(), expression=_number(floor)))
            out.extend(_compare(op, v, _number(bound)) for op, bound in bounds)
            return out

        figure = what
        return _Reading(
            value,
            ok,
            checks,
            lambda v: msg("sql.not_plain", value=v, what=figure, places=str(FACT_SCALE)),
            _matches(cell, _PLAIN_CELL),
            _try_cast(this=cell.copy(), to=_decimal_type(FACT_SCALE)),
        )
    if kind == "bool":
        low = exp.Lower(this=text)
        value = _case(
            (exp.In(this=low.copy(), expressions=[_str(w) for w in _TRUE_WORDS]), exp.true()),
            (exp.In(this=low.copy(), expressions=[_str(w) for w in _FALSE_WORDS]), exp.false()),
        )
        # the cell exactly as a file written by a program says it: trimming and lowering every cell
        # was most of a large batch's time
        plain = exp.In(this=cell.copy(), expressions=[_str("true"), _str("false")])
        fast_value = exp.EQ(this=cell.copy(), expression=_str("true"))
        return _Reading(value, exp.true(), given, lambda v: msg("input.not_bool", value=v), plain, fast_value)
    if kind == "date":
        shape = _and_all([_matches(text, "[0-9]{4}-[0-9]{2}-[0-9]{2}"), exp.not_(_matches(text, "0000-.*"))])
        value = _try_cast(this=text, to=exp.DataType.build("DATE"))
        return _Reading(value, shape, given, lambda v: msg("input.not_a_date", value=v))
    if kind == "enum":
        # a label first: the interpreter lets a label win over a member's name
        pairs = [(label, name) for name, label in spec.members] + [(name, name) for name, _ in spec.members]
        value = _case(*((exp.EQ(this=text.copy(), expression=_str(a)), _str(b)) for a, b in pairs))
        choices = ", ".join(n for n, _ in spec.members)
        return _Reading(
            value, exp.true(), given, lambda v: msg("input.not_a_member", value=v, choices=choices)
        )
    if kind == "roles":
        value, _ = _roles(spec, text)  # NULL where the names are not all members, or clash
        what = msg("sql.what_roles", choices=", ".join(n for n, _ in spec.members))
        return _Reading(
            value,
            exp.true(),
            given,
            lambda v: msg("sql.not_plain", value=v, what=what, places=str(FACT_SCALE)),
        )
    if kind == "text":
        return _Reading(
            _cast(cell.copy(), exp.DataType.build("VARCHAR")),
            exp.true(),
            lambda v, t: [],
            lambda v: msg("input.not_a_member", value=v, choices=""),
        )
    raise Refused(f"a fact of type {kind}", None)


def _roles(spec: P.FactSpec, text: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
    x = exp.to_identifier("x")
    item = exp.Trim(this=exp.column(x))
    pairs = [(label, name) for name, label in spec.members] + [(name, name) for name, _ in spec.members]
    name_of = _case(*((exp.EQ(this=item.copy(), expression=_str(a)), _str(b)) for a, b in pairs))
    whole = exp.In(this=text.copy(), expressions=[_str(a) for a, _ in pairs])
    inner = _case(
        (
            exp.and_(_ends(text, "}"), exp.StartsWith(this=text.copy(), expression=_str("{"))),
            exp.Substring(
                this=text.copy(),
                start=exp.Literal.number(2),
                length=exp.Sub(this=exp.Length(this=text.copy()), expression=exp.Literal.number(2)),
            ),
        ),
        default=text.copy(),
    )
    items = _case(
        (whole, exp.Array(expressions=[text.copy()])),
        default=exp.RegexpSplit(this=inner, expression=_str(_ROLE_SPLIT)),
    )
    # typed list nodes, not DuckDB's function names, so that the spark dialect prints Spark's
    names = exp.Transform(this=items, expression=exp.Lambda(this=name_of, expressions=[x.copy()]))
    unnamed = exp.ArrayFilter(
        this=names.copy(), expression=exp.Lambda(this=_null(exp.column(x.copy())), expressions=[x.copy()])
    )
    tests: list[exp.Expr] = [
        exp.EQ(this=exp.ArraySize(this=unnamed), expression=exp.Literal.number(0)),
        exp.EQ(
            this=exp.ArraySize(this=exp.ArrayDistinct(this=names.copy())),
            expression=exp.ArraySize(this=names.copy()),
        ),
    ]
    for group in spec.exclusive:
        held = exp.ArrayIntersect(expressions=[names.copy(), exp.Array(expressions=[_str(g) for g in group])])
        tests.append(exp.LTE(this=exp.ArraySize(this=held), expression=exp.Literal.number(1)))
    ok = _and_all(tests)
    return _case((ok.copy(), names), default=exp.Null()), ok


# ---------------------------------------------------------------------------------------------- across rows
# The limits across applicants (quotas, group caps, pots) are window functions over the whole input
# relation, as the batch's first pass (evaluation/batch.py `_plan`) applies them; the batch's order
# is the input's column `row`.

_ROW = "row"
# NFKC folds full-width forms (`Ａ`, `　`) into plain ones: what batch.group_key does to a group's name,
# as one TRANSLATE of every character of the Basic Multilingual Plane that NFKC maps to one other
# character (a character it expands into several is left as it is), then the white space Python's
# str.strip trims, at both ends.
_FOLD = [
    (chr(c), folded)
    for c in range(0x80, 0x10000)
    if not 0xD800 <= c <= 0xDFFF
    for folded in [unicodedata.normalize("NFKC", chr(c))]
    if len(folded) == 1 and folded != chr(c)
]
_SPACE = "".join(f"\\x{{{c:04x}}}" for c in range(0x10000) if chr(c).isspace())


def _group_key(value: exp.Expr) -> exp.Expr:
    """A group's name as batch.group_key tells groups apart: folded, trimmed, NULL when blank."""
    folded = exp.func(
        "translate",
        _cast(value, exp.DataType.build("VARCHAR")),
        _str("".join(a for a, _ in _FOLD)),
        _str("".join(b for _, b in _FOLD)),
    )
    trimmed = exp.RegexpReplace(
        this=folded, expression=_str(f"^[{_SPACE}]+|[{_SPACE}]+$"), replacement=_str("")
    )
    return exp.func("nullif", trimmed, _str(""))


def _over(
    value: exp.Expr,
    *,
    partition: Sequence[exp.Expr] = (),
    order: Sequence[exp.Ordered] = (),
    before: bool = False,
) -> exp.Window:
    """`value` as a window over the rows: over all of them (`partition`: each group), or, with
    `order`, over the rows up to this one (`before`: up to the one before it)."""
    spec = None
    if order:
        end, side = ("1", "PRECEDING") if before else ("CURRENT ROW", None)
        spec = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=end, end_side=side)
    return exp.Window(
        this=value,
        partition_by=[p.copy() for p in partition] or None,
        order=exp.Order(expressions=[o.copy() for o in order]) if order else None,
        spec=spec,
    )


def _count_if(cond: exp.Expr) -> exp.Expr:
    return exp.func("sum", _case((cond.copy(), exp.Literal.number(1)), default=exp.Literal.number(0)))


def _ranked(rank: exp.Expr) -> list[exp.Ordered]:
    """The highest rank first, an unknown rank last, ties in the batch's order."""
    return [
        exp.Ordered(this=rank.copy(), desc=True, nulls_first=False),
        exp.Ordered(this=_col(_ROW), nulls_first=True),
    ]


# ---------------------------------------------------------------------------------------------- the query


class _Builder:
    """Builds the query in stages, each a SELECT over the one before that adds named columns."""

    def __init__(
        self,
        plan: P.Plan,
        date: datetime.date | None,
        source: str,
        passthrough: Sequence[str],
        params: Mapping[str, object] | None = None,
        lang: Lang | None = None,
    ) -> None:
        self.plan = plan
        self.lang: Lang = lang or default_lang()  # the language of the error texts the query writes
        self.date = date
        self.source = source
        self.passthrough = tuple(passthrough)
        self.fact_names = tuple(plan.facts)
        self.columns = {name: f"f{i}" for i, name in enumerate(self.fact_names)}
        self.ev = _Exprs(plan, date, self.columns, params)
        # ranks and pots are worked out without the evaluation day, as the interpreter's `value`
        self.undated = _Exprs(plan, None, self.columns, params)
        self.error = "error"  # the column saying why a row is an error row
        self.final: dict[str, str] = {}  # a measure's column -> that column after the batch's limits
        self.stages: list[list[tuple[str, exp.Expr]]] = []
        self.reasons: dict[str, str] = {}
        self.rounding = plan.rounding
        self.places = _ROUND_PLACES[plan.rounding.unit]

    # -- helpers
    def reason(self, code: str, label: str) -> exp.Literal:
        self.reasons.setdefault(code, label)
        return _str(code)

    def round(self, value: exp.Expr) -> exp.Expr:
        places = exp.Literal.number(_ROUND_PLACES[self.rounding.unit])
        func = {"half_up": "round", "half_even": "round_even", "down": "trunc"}[self.rounding.mode]
        return decimal(exp.func(func, value, places), _ROUND_PLACES[self.rounding.unit])

    def cond(self, expr: P.Expr, where: P.Where | None) -> exp.Expr:
        """A condition: NULL is unknown, also where the interpreter raises evaluating it (its
        `test` makes such a condition unknown)."""
        return self.ev.guarded(expr, where)

    # -- the stages
    def build(self) -> SqlQuery:
        plan = self.plan
        self.refuse_policy()
        self.input_stage()
        gates_stage: list[tuple[str, exp.Expr]] = []
        shared_fail: list[exp.Expr] = []
        shared_unknown: list[exp.Expr] = []
        shared_codes: list[exp.Expr] = []
        self.validity(shared_fail, shared_unknown, shared_codes)
        for i, gate in enumerate(plan.eligibility):
            name = f"e{i}"
            gates_stage.append((name, self.gate(gate)))
            shared_fail.append(_false(_col(name)))
            shared_unknown.append(_null(_col(name)))
            shared_codes.append(_case((_false(_col(name)), self.reason(gate.key, rt.UNMET + gate.reason))))
            shared_codes.append(
                _case((_null(_col(name)), self.reason(gate.key + "/unknown", "尚无法判断：" + gate.reason)))
            )
        for m in plan.measures:
            self.refuse_measure(m)
            gates_stage += self.measure_inputs(m)
        self.stages.append(gates_stage)
        settle: list[tuple[str, exp.Expr]] = []
        for m in plan.measures:
            settle += self.settle(m)
        self.stages.append(settle)
        sums: list[tuple[str, exp.Expr]] = []
        for m in plan.measures:
            sums += self.sums(m)
        self.stages.append(sums)
        finish: list[tuple[str, exp.Expr]] = []
        for m in plan.measures:
            finish += self.finish(m, shared_fail, shared_unknown, shared_codes)
        self.stages.append(self.before_sharing(finish))
        self.share_funding()
        self.limits()
        self.total()
        return SqlQuery(
            self.query(),
            self.source,
            self.fact_names,
            tuple(m.name for m in plan.measures),
            tuple(self.reasons.items()),
        )

    def refuse_policy(self) -> None:
        plan = self.plan
        seen: dict[str, str] = {}
        for name in (*self.passthrough, *self.fact_names):
            first = seen.setdefault(name.casefold(), name)
            if first != name:  # SQL engines match column names regardless of case
                raise Refused(f"facts `{first}` and `{name}` differing only in case", None)
        for c in plan.combinations:
            if c.every and c.mode != "added":
                raise Refused(f"a policy-wide `combine {c.mode}` rule", _where(c.span))
        for pot in plan.pots:
            where = _where(pot.span)
            if pot.allocate == "proportional":
                raise Refused("a pot shared in proportion (`allocate proportional`)", where)
            if self.undated.scale(pot.amount) > self.places:
                raise Refused("a pot finer than the policy's rounding", where)

    def refuse_measure(self, m: P.Measure) -> None:
        cap = m.group_cap
        if cap is not None:
            where = _where(cap.span) or m.where
            if cap.allocate == "proportional":
                raise Refused("a group cap shared in proportion (`allocate proportional`)", where)
            if self.plan.facts[cap.per].kind not in ("text", "enum"):
                raise Refused("a group cap per a fact that is not a text or a choice", where)
        if m.funding is not None and len(m.funding.measures) > _MOST_COUNTED:
            raise Refused(
                f"a funding limit counting more than {_MOST_COUNTED} other measures",
                _where(m.funding.span) or m.where,
            )
        for c in m.clauses:
            if c.kind == "bonus" and c.exception_of is not None:
                raise Refused("an exception among bonuses", c.where)

    def input_stage(self) -> None:
        """The cells read, each computed once and named, so that what follows reads columns: the
        text (t), whether the common plain form (q), the value and whether its form is right (p, k;
        k NULL: not given), whether the value is one the fact takes (o: NULL, not given), the
        fact's value (f), then the error column from them."""
        n = len(self.fact_names)
        texts = [_col(f"t{i}") for i in range(n)]
        self.stages.append(
            [
                (f"t{i}", _cast(_col(name), exp.DataType.build("VARCHAR")))
                for i, name in enumerate(self.fact_names)
            ]
        )
        readings = [_parse(self.plan.facts[name], texts[i]) for i, name in enumerate(self.fact_names)]
        tests = [(f"q{i}", r.fast) for i, r in enumerate(readings) if r.fast is not None]
        if tests:
            self.stages.append(tests)
        shapes: list[tuple[str, exp.Expr]] = []
        values: list[tuple[str, exp.Expr]] = []
        for i, r in enumerate(readings):
            cell = texts[i]
            blank = exp.or_(_null(cell), exp.EQ(this=exp.Trim(this=cell.copy()), expression=_str("")))
            plain = [(_true(_col(f"q{i}")), r.fast_value)] if r.fast_value is not None else []
            quick = [(_true(_col(f"q{i}")), exp.true())] if plain else []
            shapes.append((f"k{i}", _case(*quick, (blank, exp.Null()), default=r.shape)))
            values.append((f"p{i}", _case(*plain, (_true(_col(f"k{i}")), r.value))))
        self.stages += [shapes, values]
        self.stages.append(
            [
                (
                    f"o{i}",
                    _case(
                        (_true(_col(f"k{i}")), _and_all(r.checks(_col(f"p{i}"), texts[i]))),
                        (_false(_col(f"k{i}")), exp.false()),
                    ),
                )
                for i, r in enumerate(readings)
            ]
        )
        self.stages.append(
            [
                (self.columns[name], _case((_true(_col(f"o{i}")), _col(f"p{i}"))))
                for i, name in enumerate(self.fact_names)
            ]
        )
        errors: list[exp.Expr] = []
        for i, name in enumerate(self.fact_names):
            spec = self.plan.facts[name]
            mark = "\x00"  # the cell's own text goes where the message names it
            words = msg("input.fact", key=name, label=spec.label, reason=readings[i].refusal(mark))
            head, _, tail = words.render(self.lang).partition(mark)
            errors.append(
                _case((_false(_col(f"o{i}")), exp.func("concat", _str(head), texts[i].copy(), _str(tail))))
            )
        for a in self.plan.assumption_lines:
            held = self.cond(a.cond, a.where)
            errors.append(_case((_false(held), _str(rt.contradiction(a.text, a.label)))))
        self.stages.append(
            [("error", exp.func("nullif", _concat_ws(_str("; "), *errors), _str("")))]
            if errors
            else [("error", _cast(exp.Null(), exp.DataType.build("VARCHAR")))]
        )

    def validity(self, fail: list[exp.Expr], unknown: list[exp.Expr], codes: list[exp.Expr]) -> None:
        v, date = self.plan.validity, self.date
        if date is None:
            return
        if v.start is not None and date < v.start:
            fail.append(exp.true())
            codes.append(
                self.reason("validity/not_yet", f"政策自 {v.start.isoformat()} 起施行，评估日期尚未生效")
            )
        if v.end is not None and date > v.end:
            fail.append(exp.true())
            codes.append(self.reason("validity/expired", f"政策有效期至 {v.end.isoformat()}，评估日期已失效"))
        surely = (v.sure_start is None or v.sure_start <= date) and (v.sure_end is None or date <= v.sure_end)
        if v.vague is not None and not fail and not surely:
            unknown.append(exp.true())
            codes.append(self.reason("validity/vague", f"{v.vague}，评估日期是否在有效期内未定"))

    def gate(self, gate: P.Gate) -> exp.Expr:
        held = self.cond(gate.cond, gate.where)
        return held if gate.passes_when else exp.Not(this=exp.paren(held))

    def measure_inputs(self, m: P.Measure) -> list[tuple[str, exp.Expr]]:
        """Each gate's passing, each clause's applying and its amount, the funding limit's figures."""
        out: list[tuple[str, exp.Expr]] = []
        k = self.key(m)
        if m.applicants is not None:
            roles = _col(self.columns[self.applicant_fact()])
            out.append((f"{k}_who", _has_role(roles, [_str(n) for n in m.applicants.kinds])))
        for i, gate in enumerate(m.gates):
            out.append((f"{k}_g{i}", self.gate(gate)))
        for c in m.clauses:
            conds = []
            for condition in c.conditions:
                held = self.cond(condition.cond, c.where)
                conds.append(exp.Not(this=exp.paren(held)) if condition.negated else held)
            out.append((self.applies(c), _and_all(conds)))
            amount, loose = self.clause_amount(c)
            out.append((self.amount_col(c), amount))
            out.append((self.loose_col(c), loose))
        for j, stage in enumerate(m.instalments):
            holds = self.cond(stage.cond, m.where)
            if stage.share is not None:  # a share that cannot be worked out: the stage cannot be told
                share = self.ev.guarded(stage.share, m.where)
                out.append((f"{k}_share{j}", share))
                holds = _case((_null(share), exp.Null()), default=holds)
            out.append((f"{k}_stage{j}", holds))
        if m.funding is not None:
            out.append((f"{k}_lim", self.ev(m.funding.limit, m.where)))
            out.append((f"{k}_rec", self.ev(m.funding.received, m.where)))
        return out

    def applicant_fact(self) -> str:
        for name, spec in self.plan.facts.items():
            if spec.kind == P.ROLES:
                return name
        raise Refused("an `applicants` line without applicant kinds", None)

    def key(self, m: P.Measure) -> str:
        return f"m{self.plan.measures.index(m)}"

    def applies(self, c: P.Clause) -> str:
        return f"c{self.clause_no(c)}"

    def amount_col(self, c: P.Clause) -> str:
        return f"a{self.clause_no(c)}"

    def loose_col(self, c: P.Clause) -> str:
        return f"l{self.clause_no(c)}"

    def chosen(self, c: P.Clause) -> str:
        return f"ch{self.clause_no(c)}"

    def clause_no(self, c: P.Clause) -> int:
        return [x.id for m in self.plan.measures for x in m.clauses].index(c.id)

    def clause_amount(self, c: P.Clause) -> tuple[exp.Expr, exp.Expr]:
        """_clause_amount, a constant too big for the scale a figure is widened to refused at the
        clause's place."""
        try:
            return self._clause_amount(c)
        except Refused as refused:
            raise Refused(refused.construct, refused.where or c.where) from None

    def _clause_amount(self, c: P.Clause) -> tuple[exp.Expr, exp.Expr]:
        """The clause's figure after its floor, caps and offset and the rounding, NULL when it cannot
        be told (the clause's precision is then unknown), and whether it is only an upper bound for
        want of a cap's or the offset's value (interpreter.amount): the floor lifts the figure, the
        caps cut it, the offset comes off what is left, floored at zero.  A floor without a value,
        or a cap or offset whose facts are missing, leaves the amount unknown; a cap or offset that
        raises in the interpreter (no row of its table) is skipped and the amount is a ceiling."""
        amount = c.amount
        if amount.expr is None:
            return decimal(exp.Null(), _ROUND_PLACES[self.rounding.unit]), exp.false()
        parts = [amount.expr, *(cap.expr for cap in amount.caps)]
        parts += [b.expr for b in (amount.floor, amount.offset) if b is not None]
        scale = max(self.ev.scale(p) for p in parts)
        value = self.ev.guarded(amount.expr, c.where)
        unknown: list[exp.Expr] = [_null(value)]
        if amount.floor is not None:
            floor = self.ev.guarded(amount.floor.expr, c.where)
            unknown.append(_null(floor))
            value = greatest(scale, value, floor)
        loose: list[exp.Expr] = []
        limits: list[exp.Expr] = []
        for cap in amount.caps:
            broken = self.ev.fails(cap.expr, c.where)
            limit = self.ev(cap.expr, c.where)
            loose.append(broken)
            unknown.append(exp.and_(exp.not_(broken.copy()), _null(limit)))
            limits.append(case_of(scale, (broken.copy(), value.copy()), default=limit))
        if limits:
            # a cap without a value stands as the figure itself (sqlglot prints a LEAST that is
            # NULL when any argument is, for DuckDB as for Spark)
            value = least(scale, value, *limits)
        if amount.offset is not None:
            broken = self.ev.fails(amount.offset.expr, c.where)
            offset = self.ev(amount.offset.expr, c.where)
            loose.append(broken)
            unknown.append(exp.and_(exp.not_(broken.copy()), _null(offset)))
            taken = case_of(scale, (broken.copy(), _zero(scale)), default=offset)
            value = greatest(scale, _widen(exp.Sub(this=value, expression=taken), scale), _zero(scale))
        figure = case_of(scale, (_or_all(unknown), exp.Null()), default=value)
        return self.round(figure), _true(_or_all(loose))

    def settle(self, m: P.Measure) -> list[tuple[str, exp.Expr]]:
        """runtime.settle_clauses and the choice of bonuses: each clause's `chosen`, and whether the
        choice is undecided."""
        k = self.key(m)
        out: list[tuple[str, exp.Expr]] = []
        awards = [c for c in m.clauses if c.kind == "award"]
        fires = {c.id: _true(_col(self.applies(c))) for c in awards}
        overridden: dict[str, list[exp.Expr]] = {}
        undecided: list[exp.Expr] = []
        codes: list[exp.Expr] = []
        for default in dict.fromkeys(c.exception_of for c in awards if c.exception_of is not None):
            assert default is not None
            exceptions = [c for c in awards if c.exception_of == default]
            maybe = _or_all(_null(_col(self.applies(e))) for e in exceptions)
            undecided.append(maybe)
            codes.append(
                _case(
                    (
                        maybe.copy(),
                        self.reason(
                            default + "/exception_unknown",
                            "无法判断例外条款是否适用：" + "、".join(e.label for e in exceptions),
                        ),
                    )
                )
            )
            overridden.setdefault(default, []).append(_or_all(fires[e.id].copy() for e in exceptions))
            for e in exceptions:
                higher = [fires[x.id].copy() for x in exceptions if x.rank > e.rank]
                if higher:
                    overridden.setdefault(e.id, []).append(exp.and_(fires[e.id].copy(), _or_all(higher)))
            for rank in sorted({e.rank for e in exceptions}):
                same = [e for e in exceptions if e.rank == rank]
                if len(same) < 2:
                    continue
                firing = _count_true(fires[e.id] for e in same)
                above = [fires[x.id].copy() for x in exceptions if x.rank > rank]
                tie = exp.and_(
                    exp.GTE(this=firing, expression=exp.Literal.number(2)), exp.not_(_or_all(above))
                )
                undecided.append(tie)
                codes.append(
                    _case(
                        (
                            tie.copy(),
                            self.reason(
                                default + "/exception_tie",
                                "例外条款优先级相同且同时适用：" + "、".join(e.label for e in same),
                            ),
                        )
                    )
                )
        for c in awards:
            out.append(
                (self.chosen(c), exp.and_(fires[c.id].copy(), exp.not_(_or_all(overridden.get(c.id, [])))))
            )
        any_chosen = _or_all(_col(self.chosen(c)) for c in awards)
        unknown_awards = [c for c in awards if c.exception_of is None]
        for c in unknown_awards:
            unknown = _null(_col(self.applies(c)))
            undecided.append(unknown)
            codes.append(
                _case(
                    (
                        unknown.copy(),
                        self.reason(c.id + "/unknown", "无法判断是否适用：" + rt._clause_words(c, m.label)),
                    )
                )
            )
        out.append((f"{k}_und0", _or_all(undecided)))
        out.append((f"{k}_codes0", _concat_ws(_str(";"), *codes) if codes else _str("")))
        out.append((f"{k}_unknown_award", _or_all(_null(_col(self.applies(c))) for c in unknown_awards)))
        out.append((f"{k}_any", any_chosen))
        return out

    def sums(self, m: P.Measure) -> list[tuple[str, exp.Expr]]:
        """The chosen clauses' precision and sum, with the bonuses (runtime.finish_measure)."""
        k = self.key(m)
        any_chosen = _col(f"{k}_any")
        chosen: list[tuple[P.Clause, exp.Expr]] = [(c, _col(self.chosen(c))) for c in m.awards]
        undecided: list[exp.Expr] = [_col(f"{k}_und0")]
        codes: list[exp.Expr] = [_col(f"{k}_codes0")]
        for b in m.bonuses:
            chosen.append((b, exp.and_(_true(_col(self.applies(b))), any_chosen.copy())))
            unknown = exp.and_(_null(_col(self.applies(b))), any_chosen.copy())
            undecided.append(unknown)
            codes.append(
                _case(
                    (unknown.copy(), self.reason(b.id + "/unknown", f"无法判断追加条款 {b.label} 是否适用"))
                )
            )
        unknown_amount = _or_all(exp.and_(flag.copy(), _null(_col(self.amount_col(c)))) for c, flag in chosen)
        ceiling = _or_all(
            exp.and_(flag.copy(), exp.true() if c.amount.mode == "ceiling" else _col(self.loose_col(c)))
            for c, flag in chosen
        )
        for c, flag in chosen:
            why = (
                c.amount.unset_reason
                if c.amount.expr is None
                else f"{c.label}：金额无法计算（{c.amount.text}）"
            )
            codes.append(
                _case(
                    (
                        exp.and_(flag.copy(), _null(_col(self.amount_col(c)))),
                        self.reason(c.id + "/amount_unknown", why),
                    )
                )
            )
        precision = _case(
            (unknown_amount, exp.Literal.number(_UNKNOWN)),
            (ceiling, exp.Literal.number(_AT_MOST)),
            default=exp.Literal.number(_EXACT),
        )
        zero = _zero(self.places)
        total = _sum(
            [
                case_of(
                    self.places,
                    (flag.copy(), coalesce(self.places, _col(self.amount_col(c)), zero)),
                    default=zero.copy(),
                )
                for c, flag in chosen
            ]
        )
        funding = m.funding
        if funding is not None:
            lim, rec = _col(f"{k}_lim"), _col(f"{k}_rec")
            missing = _or_all([_null(lim), _null(rec)])
            room = greatest(self.places, zero, self.round(exp.Sub(this=lim.copy(), expression=rec.copy())))
            known = exp.NEQ(this=precision.copy(), expression=exp.Literal.number(_UNKNOWN))
            codes.append(
                _case(
                    (
                        exp.and_(known.copy(), missing.copy()),
                        self.reason(
                            m.name + "/funding_unknown", f"财政资助总额上限无法计算（{funding.text}）"
                        ),
                    )
                )
            )
            total = case_of(
                self.places,
                (
                    exp.and_(known.copy(), exp.not_(missing.copy())),
                    least(self.places, total, room),
                ),
                default=_widen(total, self.places),
            )
            precision = _case(
                (
                    exp.and_(exp.EQ(this=precision.copy(), expression=exp.Literal.number(_EXACT)), missing),
                    exp.Literal.number(_AT_MOST),
                ),
                default=precision,
            )
        return [
            (f"{k}_und", _or_all(undecided)),
            (f"{k}_prec", precision),
            (f"{k}_sum", total),
            (f"{k}_codes", _concat_ws(_str(";"), *codes)),
        ]

    def finish(
        self,
        m: P.Measure,
        shared_fail: list[exp.Expr],
        shared_unknown: list[exp.Expr],
        shared_codes: list[exp.Expr],
    ) -> list[tuple[str, exp.Expr]]:
        """The measure's status, amount and reason codes (interpreter.measure)."""
        k = self.key(m)
        gate_fail: list[exp.Expr] = []
        gate_unknown: list[exp.Expr] = []
        gate_codes: list[exp.Expr] = []
        unknown_codes: list[exp.Expr] = []
        if m.applicants is not None:
            who = _col(f"{k}_who")
            gate_fail.append(_false(who))
            gate_unknown.append(_null(who))
            gate_codes.append(
                _case((_false(who), self.reason(m.name + ".applicants", rt.UNMET + m.applicants.reason)))
            )
            unknown_codes.append(
                _case(
                    (
                        _null(who),
                        self.reason(m.name + ".applicants/unknown", "尚无法判断：" + m.applicants.reason),
                    )
                )
            )
        for i, gate in enumerate(m.gates):
            g = _col(f"{k}_g{i}")
            gate_fail.append(_false(g))
            gate_unknown.append(_null(g))
            gate_codes.append(_case((_false(g), self.reason(gate.key, rt.UNMET + gate.reason))))
            unknown_codes.append(
                _case((_null(g), self.reason(gate.key + "/unknown", "尚无法判断：" + gate.reason)))
            )
        shared = _or_all(s.copy() for s in shared_fail)
        failed = _or_all([*(g.copy() for g in gate_fail)])
        unknown = _or_all([*(s.copy() for s in shared_unknown), *gate_unknown])
        und, prec = _col(f"{k}_und"), _col(f"{k}_prec")
        none = exp.not_(_or_all([_col(f"{k}_any"), _col(f"{k}_unknown_award"), _col(f"{k}_und0")]))
        dead = _or_all([shared.copy(), failed.copy()])
        staged, stage_und, stage_codes = self.instalments(m)
        # a stage is only asked about when the measure pays something (runtime._instalments)
        pays = exp.not_(none.copy())
        stage_und = exp.and_(pays.copy(), exp.paren(stage_und))
        stage_codes = [_case((pays.copy(), code)) for code in stage_codes]
        undetermined = _or_all(
            [und.copy(), exp.EQ(this=prec.copy(), expression=exp.Literal.number(_UNKNOWN)), stage_und]
        )
        status = _case(
            (dead.copy(), _str(rt.INELIGIBLE)),
            (exp.or_(unknown.copy(), undetermined.copy()), _str(rt.UNDETERMINED)),
            (none.copy(), _str(rt.INELIGIBLE)),
            (exp.EQ(this=prec.copy(), expression=exp.Literal.number(_AT_MOST)), _str(rt.CEILING)),
            default=_str(rt.DETERMINED),
        )
        amount = case_of(
            self.places,
            (_or_all([dead.copy(), none.copy(), undetermined.copy()]), exp.Null()),
            default=self.round(staged),
        )
        none_code = _case((none.copy(), self.reason(m.name + "/none", _none_reason(m))))
        codes = _case(
            (shared.copy(), _concat_ws(_str(";"), *shared_codes) if shared_codes else _str("")),
            (failed.copy(), _concat_ws(_str(";"), *gate_codes) if gate_codes else _str("")),
            default=_concat_ws(
                _str(";"),
                none_code,
                _col(f"{k}_codes"),
                *stage_codes,
                *(c.copy() for c in shared_codes),
                *unknown_codes,
            ),
        )
        return [(f"{k}_status", status), (f"{k}_amount", amount), (f"{k}_reasons", codes)]

    # -- funding limits shared between measures (runtime.share_funding)
    def shared_keys(self) -> list[str]:
        """The keys of the measures a shared funding limit states or counts."""
        names = {n for m, limit in self.plan.shared_limits for n in (m.name, *limit.measures)}
        return [self.key(m) for m in self.plan.measures if m.name in names]

    def before_sharing(self, finish: list[tuple[str, exp.Expr]]) -> list[tuple[str, exp.Expr]]:
        """The finish stage, the status, amount and reasons of each measure a shared funding limit
        touches named as they stand before the limits (`{k}_fst0`, `{k}_fam0`, `{k}_frs0`)."""
        renamed = {
            f"{k}_{what}": f"{k}_{short}0"
            for k in self.shared_keys()
            for what, short in (("status", "fst"), ("amount", "fam"), ("reasons", "frs"))
        }
        return [(renamed.get(name, name), e) for name, e in finish]

    def share_funding(self) -> None:
        """runtime.share_funding row by row: each shared limit in the plan's order, its room
        (max(0, round(limit - received)), the stating measure's own figures) going to the measures
        counted, in the order written, then to the measure stating it, each cut to what is left; one
        stage per member, carrying what is left (`sl{i}_left{j}`) and whether the member's amount is
        unknown (`sl{i}_u{j}`: every later member it does not cut is then a ceiling).  The limit binds
        nothing while the stating measure is ineligible; a cut it would make is undetermined while
        that measure is; a limit or funding without a value makes the determined members counted
        ceilings.  The last versions are the measures' `{k}_status`, `{k}_amount`, `{k}_reasons`."""
        keys = self.shared_keys()
        if not keys:
            return
        current = {k: (f"{k}_fst0", f"{k}_fam0", f"{k}_frs0") for k in keys}
        version = dict.fromkeys(keys, 0)
        zero = _zero(self.places)
        for i, (holder, limit) in enumerate(self.plan.shared_limits):
            hk = self.key(holder)
            lim, rec = _col(f"{hk}_lim"), _col(f"{hk}_rec")
            missing = _or_all([_null(lim), _null(rec)])
            room = greatest(self.places, zero, self.round(exp.Sub(this=lim.copy(), expression=rec.copy())))
            left = f"sl{i}_left0"
            self.stages.append([(left, case_of(self.places, (missing.copy(), zero.copy()), default=room))])
            members = [self.plan.measure(n) for n in (*limit.measures, holder.name)]
            for j, m in enumerate(members):
                k = self.key(m)
                status, amount, reasons = (_col(c) for c in current[k])
                holder_status = _col(current[hk][0])  # the holder is the last member: not yet changed
                member = _and_all(
                    [
                        exp.NEQ(this=holder_status.copy(), expression=_str(rt.INELIGIBLE)),
                        exp.NEQ(this=status.copy(), expression=_str(rt.INELIGIBLE)),
                    ]
                )
                determined = exp.EQ(this=status.copy(), expression=_str(rt.DETERMINED))
                room_j = _col(left)
                known = _and_all([member.copy(), exp.not_(missing.copy()), exp.not_(_null(amount))])
                over = exp.and_(known.copy(), exp.GT(this=amount.copy(), expression=room_j.copy()))
                if m is holder:
                    undone: exp.Expr = exp.false()
                else:
                    undone = exp.and_(
                        over.copy(), exp.EQ(this=holder_status.copy(), expression=_str(rt.UNDETERMINED))
                    )
                unknown_before = _or_all(_col(f"sl{i}_u{e}") for e in range(j))
                loose = _and_all(
                    [
                        known.copy(),
                        exp.not_(undone.copy()),
                        unknown_before.copy(),
                        determined.copy(),
                        exp.or_(over.copy(), exp.GT(this=amount.copy(), expression=zero.copy())),
                    ]
                )
                unset = (
                    exp.false()
                    if m is holder
                    else _and_all([member.copy(), missing.copy(), determined.copy()])
                )
                new_status = _case(
                    (undone.copy(), _str(rt.UNDETERMINED)),
                    (exp.or_(loose.copy(), unset.copy()), _str(rt.CEILING)),
                    default=status.copy(),
                )
                new_amount = case_of(
                    self.places,
                    (undone.copy(), exp.Null()),
                    (over.copy(), room_j.copy()),
                    default=amount.copy(),
                )
                code = _case(
                    (
                        undone.copy(),
                        self.reason(
                            f"{holder.name}.funding/holder_unknown",
                            f"尚无法判断：{holder.label} 是否适用（其财政资助总额上限可能削减本项）",
                        ),
                    ),
                    (
                        unset.copy(),
                        self.reason(
                            holder.name + "/funding_unknown", f"财政资助总额上限无法计算（{limit.text}）"
                        ),
                    ),
                    *self.unknown_members(i, members[:j], loose),
                )
                taken = case_of(
                    self.places,
                    (exp.and_(known.copy(), exp.not_(undone.copy())), least(self.places, amount, room_j)),
                    default=zero.copy(),
                )
                version[k] += 1
                v = version[k]
                current[k] = (f"{k}_fst{v}", f"{k}_fam{v}", f"{k}_frs{v}")
                self.stages.append(
                    [
                        (current[k][0], new_status),
                        (current[k][1], new_amount),
                        (current[k][2], _concat_ws(_str(";"), reasons.copy(), code)),
                        (f"sl{i}_u{j}", _true(exp.and_(member.copy(), _null(amount)))),
                        (
                            f"sl{i}_left{j + 1}",
                            decimal(exp.Sub(this=room_j.copy(), expression=taken), self.places),
                        ),
                    ]
                )
                left = f"sl{i}_left{j + 1}"
        self.stages.append(
            [
                (f"{k}_{what}", _col(column))
                for k in keys
                for what, column in zip(("status", "amount", "reasons"), current[k], strict=True)
            ]
        )

    def unknown_members(
        self, i: int, before: Sequence[P.Measure], loose: exp.Expr
    ) -> list[tuple[exp.Expr, exp.Expr]]:
        """The reason of a member of shared limit `i` made a ceiling by the members `before` it whose
        amount is not known: one code per set of them, naming them in order as the runtime does."""
        whens: list[tuple[exp.Expr, exp.Expr]] = []
        for mask in range(1, 2 ** len(before)):
            chosen = [m for e, m in enumerate(before) if mask >> e & 1]
            flags = [
                _col(f"sl{i}_u{e}") if mask >> e & 1 else exp.not_(_col(f"sl{i}_u{e}"))
                for e in range(len(before))
            ]
            labels = "、".join(m.label for m in chosen)
            code = "shared_limit/unknown:" + ",".join(m.name for m in chosen)
            whens.append(
                (
                    _and_all([loose.copy(), *flags]),
                    self.reason(code, f"{labels} 金额未定，财政资助总额上限下本项为上限"),
                )
            )
        return whens

    # -- the limits across applicants (evaluation/batch.py `_plan` and `_apply`)
    def settled(self, k: str, what: str) -> str:
        """The column of measure `k`'s `what` (status, amount, reasons) once the limits are applied."""
        column = f"{k}_{what}"
        return self.final.get(column, column)

    def limits(self) -> None:
        """Pots (what one applicant alone is promised, then the batch's shares), quotas and group
        caps, as window functions over the rows in the order of the column `row`; a row marked
        selected over a quota is an error row.  Each limited measure keeps its status and amount
        before the limits (`before`)."""
        plan = self.plan
        pots = {n: pot for pot in plan.pots for n in pot.measures}
        limited = [m for m in plan.measures if m.quota or m.group_cap or m.name in pots]
        if not limited:
            return
        ok = _null(_col("error"))
        # one applicant alone: a measure over a pot is at most the pot, a ceiling (runtime.pot_ceiling)
        stage: list[tuple[str, exp.Expr]] = []
        for m in limited:
            k = self.key(m)
            status, amount = _col(f"{k}_status"), _col(f"{k}_amount")
            pot = pots.get(m.name)
            if pot is None:
                stage += [(f"{k}_st0", status), (f"{k}_am0", amount)]
                continue
            total = self.undated(pot.amount, _where(pot.span))
            kept = _or_all(
                [
                    exp.In(this=status.copy(), expressions=[_str(rt.INELIGIBLE), _str(rt.UNDETERMINED)]),
                    _null(amount),
                ]
            )
            at_most = greatest(self.places, total, _zero(self.places))
            room = case_of(
                self.places, (_null(total), amount.copy()), default=least(self.places, amount, at_most)
            )
            stage += [
                (f"{k}_st0", _case((kept.copy(), status.copy()), default=_str(rt.CEILING))),
                (f"{k}_am0", case_of(self.places, (kept, amount.copy()), default=room)),
            ]
        # the marks read the statuses just named: a stage of their own (Spark refuses a window over
        # a column named in the same SELECT, a lateral alias)
        self.stages.append(stage)
        stage = []
        # the quotas whose selection the rows record: more rows marked than the quota, each is an error
        marks: list[tuple[P.Measure, P.Quota]] = []
        for m in limited:
            q = m.quota
            if q is not None and q.selected_by is not None:
                k = self.key(m)
                marked = _and_all(
                    [
                        ok.copy(),
                        exp.NEQ(this=_col(f"{k}_st0"), expression=_str(rt.INELIGIBLE)),
                        _true(_col(self.columns[q.selected_by])),
                    ]
                )
                stage += [(f"{k}_mk", marked), (f"{k}_nmk", _over(_count_if(marked)))]
                marks.append((m, q))
        self.stages.append(stage)
        stage = []
        bad_parts: list[exp.Expr] = []
        texts: list[exp.Expr] = []
        for m, q in marks:
            k = self.key(m)
            over = exp.and_(
                _true(_col(f"{k}_mk")), exp.GT(this=_col(f"{k}_nmk"), expression=exp.Literal.number(q.count))
            )
            bad_parts.append(over)
            assert q.selected_by is not None
            spec = plan.facts[q.selected_by]
            mark = "\x00"
            words = msg(
                "batch.over_quota", measure=m.label, quota=q.count, count=mark, fact=spec.label
            ).render(self.lang)
            head, _, tail = words.partition(mark)
            count = _cast(_col(f"{k}_nmk"), exp.DataType.build("VARCHAR"))
            texts.append(_case((over.copy(), exp.func("concat", _str(head), count, _str(tail)))))
        bad = _or_all(bad_parts)
        if marks:
            stage.append(("bad", bad))
            stage.append(
                (
                    "error_l",
                    _case(
                        (_null(_col("error")), exp.func("nullif", _concat_ws(_str("；"), *texts), _str(""))),
                        default=_col("error"),
                    ),
                )
            )
            self.error = "error_l"
        self.stages.append(stage)
        live = exp.and_(ok.copy(), exp.not_(_col("bad"))) if marks else ok.copy()
        # quotas (a ranking, or none: every applicant undetermined), then group caps
        stage = []
        for m in limited:
            k = self.key(m)
            part: exp.Expr = exp.and_(
                live.copy(), exp.NEQ(this=_col(f"{k}_st0"), expression=_str(rt.INELIGIBLE))
            )
            changed: list[
                tuple[exp.Expr, exp.Expr, exp.Expr, exp.Expr]
            ] = []  # (when, status, amount, reason)
            q = m.quota
            if q is not None and q.selected_by is None:
                eligible: exp.Expr = _over(_count_if(part))
                over = exp.and_(part.copy(), exp.GT(this=eligible, expression=exp.Literal.number(q.count)))
                if q.rank is None:
                    changed.append(
                        (
                            over,
                            _str(rt.UNDETERMINED),
                            _col(f"{k}_am0"),
                            self.reason(
                                m.name + ".quota/unranked",
                                f"符合条件者多于名额 {q.count} 个，原文未规定遴选排序",
                            ),
                        )
                    )
                else:
                    rank = self.undated(q.rank, q.where)
                    place = _over(_count_if(part), order=_ranked(rank))
                    out = exp.and_(over, exp.GT(this=place, expression=exp.Literal.number(q.count)))
                    changed.append(
                        (
                            out,
                            _str(rt.INELIGIBLE),
                            decimal(exp.Null(), self.places),
                            self.reason(m.name + ".quota/out", f"未入选：名额 {q.count} 个，排名在名额之外"),
                        )
                    )
            stage.append((f"{k}_qch", _or_all([c[0] for c in changed]) if changed else exp.false()))
            stage += self.limited_columns(k, "q", changed)
        self.stages.append(stage)
        stage = []
        for m in limited:
            k = self.key(m)
            cap = m.group_cap
            if cap is None:
                stage += [
                    (f"{k}_gch", exp.false()),
                    (f"{k}_st2", _col(f"{k}_st1q")),
                    (f"{k}_am2", _col(f"{k}_am1q")),
                    (f"{k}_rs2", _col(f"{k}_rs1q")),
                ]
                continue
            group = _group_key(_col(self.columns[cap.per]))
            part = _and_all(
                [
                    live.copy(),
                    exp.NEQ(this=_col(f"{k}_st0"), expression=_str(rt.INELIGIBLE)),
                    exp.not_(_col(f"{k}_qch")),
                    exp.not_(_null(group)),
                ]
            )
            summed = _over(
                exp.func(
                    "sum",
                    case_of(
                        self.places,
                        (part.copy(), coalesce(self.places, _col(f"{k}_am0"), _zero(self.places))),
                        default=_zero(self.places),
                    ),
                ),
                partition=[group],
            )
            limit = self.ev(cap.amount, _where(cap.span))
            over = exp.and_(part, exp.GT(this=summed, expression=limit))
            reason = self.reason(
                m.name + ".group_cap/unset", f"同组成员合计超过集体封顶 {cap.text}，原文未规定分配办法"
            )
            stage.append((f"{k}_gch", _true(over)))
            stage.append((f"{k}_st2", _case((_true(over), _str(rt.CEILING)), default=_col(f"{k}_st1q"))))
            stage.append((f"{k}_am2", _col(f"{k}_am1q")))
            stage.append((f"{k}_rs2", _case((_true(over), reason), default=_col(f"{k}_rs1q"))))
        self.stages.append(stage)
        # pots: the claims (each measure's figure before the pot, or what a quota or group cap made
        # it) shared by runtime.share_pot's rules
        steps: list[list[tuple[str, exp.Expr]]] = [[], [], [], [], [], []]
        for pot in plan.pots:
            self.pot_share(pot, live, steps)
        self.stages += [step for step in steps if step]
        final: list[tuple[str, exp.Expr]] = []
        for m in limited:
            k = self.key(m)
            touched = exp.or_(_col(f"{k}_qch"), _col(f"{k}_gch"))
            if m.name in pots:
                touched = exp.or_(touched, _col(f"{k}_pch"))
                status_l: exp.Expr = _case((_col(f"{k}_pch"), _col(f"{k}_st3")), default=_col(f"{k}_st2"))
                amount_l: exp.Expr = case_of(
                    self.places, (_col(f"{k}_pch"), _col(f"{k}_am3")), default=_col(f"{k}_am2")
                )
                reason_l: exp.Expr = _case((_col(f"{k}_pch"), _col(f"{k}_rs3")), default=_col(f"{k}_rs2"))
            else:
                status_l, amount_l, reason_l = _col(f"{k}_st2"), _col(f"{k}_am2"), _col(f"{k}_rs2")
            final += [
                (f"{k}_lstatus", status_l),
                (f"{k}_lamount", amount_l),
                (
                    f"{k}_lreasons",
                    _concat_ws(_str(";"), exp.func("nullif", _col(f"{k}_reasons"), _str("")), reason_l),
                ),
                (f"{k}_before_status", _col(f"{k}_st0")),
                (f"{k}_before_amount", _col(f"{k}_am0")),
                (f"{k}_touched", touched),
            ]
            for what in ("status", "amount", "reasons"):
                self.final[f"{k}_{what}"] = f"{k}_l{what}"
        self.stages.append(final)

    def limited_columns(
        self, k: str, tag: str, changed: list[tuple[exp.Expr, exp.Expr, exp.Expr, exp.Expr]]
    ) -> list[tuple[str, exp.Expr]]:
        """Status, amount and reason code of measure `k` after one limit's `changed` rows."""
        if not changed:
            none = _cast(exp.Null(), exp.DataType.build("VARCHAR"))
            return [
                (f"{k}_st1{tag}", _col(f"{k}_st0")),
                (f"{k}_am1{tag}", _col(f"{k}_am0")),
                (f"{k}_rs1{tag}", none),
            ]
        return [
            (f"{k}_st1{tag}", _case(*((_true(w), st) for w, st, _, _ in changed), default=_col(f"{k}_st0"))),
            (
                f"{k}_am1{tag}",
                case_of(self.places, *((_true(w), am) for w, _, am, _ in changed), default=_col(f"{k}_am0")),
            ),
            (
                f"{k}_rs1{tag}",
                _case(
                    *((_true(w), rs) for w, _, _, rs in changed),
                    default=_cast(exp.Null(), exp.DataType.build("VARCHAR")),
                ),
            ),
        ]

    def pot_share(self, pot: P.Pot, live: exp.Expr, steps: list[list[tuple[str, exp.Expr]]]) -> None:
        """runtime.share_pot over the rows: every claim in full when they fit; first_come and ranked
        in turn while the pot lasts; otherwise (unset, not said, or a claim of unknown amount) each
        share undetermined, at most the pot."""
        where = _where(pot.span)
        total = self.undated(pot.amount, where)
        scale = self.places
        claims_step, sums_step, peak_step, top_step, paid_step, share_step = steps
        keys = [self.key(self.plan.measure(n)) for n in pot.measures]
        zero = _zero(scale)
        p = f"p{self.plan.pots.index(pot)}"
        # the claim of each measure: its figure before the pot, or what a quota or group cap made it
        for k in keys:
            touched = exp.or_(_col(f"{k}_qch"), _col(f"{k}_gch"))
            claim_status = _case((touched.copy(), _col(f"{k}_st2")), default=_col(f"{k}_status"))
            claim_amount = case_of(self.places, (touched, _col(f"{k}_am2")), default=_col(f"{k}_amount"))
            claims = exp.and_(live.copy(), exp.NEQ(this=claim_status.copy(), expression=_str(rt.INELIGIBLE)))
            claims_step += [
                (f"{k}_cst", claim_status),
                (f"{k}_cam", claim_amount),
                (f"{k}_cl", _true(claims)),
            ]
        row_sum = _sum(
            [
                case_of(scale, (_col(f"{k}_cl"), coalesce(scale, _col(f"{k}_cam"), zero)), default=zero)
                for k in keys
            ]
        )
        unknown = _or_all(exp.and_(_col(f"{k}_cl"), _null(_col(f"{k}_cam"))) for k in keys)
        sums_step.append((f"{p}_unk", _over(_count_if(unknown))))
        sums_step.append((f"{p}_sum", _over(exp.func("sum", decimal(row_sum.copy(), scale)))))
        rule = pot.allocate if pot.allocate in ("ranked", "first_come") else None
        if rule is not None:
            order = (
                _ranked(self.undated(pot.rank, where))
                if rule == "ranked" and pot.rank is not None
                else [exp.Ordered(this=_col(_ROW), nulls_first=True)]
            )
            earlier = _over(exp.func("sum", decimal(row_sum.copy(), scale)), order=order, before=True)
            sums_step.append((f"{p}_before", coalesce(scale, earlier, zero)))
            # share_pot takes each payment min(claim, room) from the room, so a negative claim gives
            # room back: room = max(pot, the highest running sum of the claims so far) - their sum
            # (the running sums per claim: the earlier rows', then this row's measures in turn)
            peak_step.append(
                (f"{p}_peak", greatest(scale, *(self.running(p, keys, i) for i in range(1, len(keys) + 1))))
            )
            top_step.append((f"{p}_top", _over(exp.func("max", _col(f"{p}_peak")), order=order, before=True)))
        label = pot.label
        head = (
            rt.pot_head(label, pot.amount.value, pot.text, pot.allocate)
            if isinstance(pot.amount, P.Const)
            else f"{label}资金池 {pot.text}，{rt.POT_RULE_WORDS.get(pot.allocate, rt.POT_RULE_WORDS[None])}"
        )
        fits = exp.and_(
            exp.EQ(this=_col(f"{p}_unk"), expression=exp.Literal.number(0)),
            exp.LTE(this=_col(f"{p}_sum"), expression=total.copy()),
        )
        unknown_any = exp.GT(this=_col(f"{p}_unk"), expression=exp.Literal.number(0))
        for i, k in enumerate(keys):
            claim, amount, status = _col(f"{k}_cl"), _col(f"{k}_cam"), _col(f"{k}_cst")
            at_most = case_of(scale, (_null(amount), total.copy()), default=least(scale, amount, total))
            whens: list[tuple[exp.Expr, exp.Expr, exp.Expr, exp.Expr]] = [
                (
                    fits.copy(),
                    status.copy(),
                    amount.copy(),
                    self.reason(f"pot.{pot.name}/full", f"{head}：同期申请合计未超过资金池，足额支付"),
                ),
                (
                    unknown_any.copy(),
                    _str(rt.UNDETERMINED),
                    at_most.copy(),
                    self.reason(
                        f"pot.{pot.name}/unknown",
                        f"{head}：部分申请金额未定，份额未定，最多为申请金额与资金池中较小者",
                    ),
                ),
            ]
            if rule is None:
                whens.append(
                    (
                        exp.true(),
                        _str(rt.UNDETERMINED),
                        at_most,
                        self.reason(
                            f"pot.{pot.name}/over",
                            f"{head}：同期申请合计超过资金池，份额未定，最多为申请金额与资金池中较小者",
                        ),
                    )
                )
            else:
                # the claims before this one: the earlier rows', then this row's earlier measures'
                spent = self.running(p, keys, i)
                highest = greatest(
                    scale,
                    total.copy(),
                    coalesce(scale, _col(f"{p}_top"), total),
                    *(self.running(p, keys, j) for j in range(1, i + 1)),
                )
                room = greatest(scale, exp.Sub(this=highest, expression=exp.paren(spent)), zero)
                paid = least(scale, coalesce(scale, amount, zero), room)
                paid_step.append((f"{k}_paid", paid))
                whens.append(
                    (
                        exp.EQ(this=_col(f"{k}_paid"), expression=zero.copy()),
                        _str(rt.INELIGIBLE),
                        exp.Null(),
                        self.reason(f"pot.{pot.name}/spent", f"{head}：资金池已分配完"),
                    )
                )
                whens.append(
                    (
                        exp.true(),
                        status.copy(),
                        _col(f"{k}_paid"),
                        self.reason(f"pot.{pot.name}/turn", f"{head}：按顺序获资金池余额"),
                    )
                )
            share_step += [
                (f"{k}_pch", claim.copy()),
                (f"{k}_st3", _case(*((w, st) for w, st, _, _ in whens))),
                (f"{k}_am3", case_of(self.places, *((w, am) for w, _, am, _ in whens))),
                (f"{k}_rs3", _case(*((w, rs) for w, _, _, rs in whens))),
            ]

    def running(self, p: str, keys: Sequence[str], i: int) -> exp.Expr:
        """The sum of pot `p`'s claims up to this row's first `i` measures (`keys` in the pot's order)."""
        zero = _zero(self.places)
        claims = [
            case_of(
                self.places, (_col(f"{o}_cl"), coalesce(self.places, _col(f"{o}_cam"), zero)), default=zero
            )
            for o in keys[:i]
        ]
        return decimal(_sum([_col(f"{p}_before"), *claims]), self.places)

    def instalments(self, m: P.Measure) -> tuple[exp.Expr, exp.Expr, list[exp.Expr]]:
        """Staged payment (runtime._instalments) over the measure's sum: what is paid in the end,
        whether a stage cannot be told (the first stage not met is unknown), and its reason codes.
        Stage by stage: a stage met pays its share of the sum rounded (`rest`: what is left); the
        first stage not met stops the payment, keeping what was paid under `no_clawback`, else
        nothing."""
        k = self.key(m)
        total = _col(f"{k}_sum")
        holds = [_col(f"{k}_stage{j}") for j in range(len(m.instalments))]

        def pay(j: int, paid: exp.Expr) -> exp.Expr:
            if j == len(m.instalments):
                return paid
            share = m.instalments[j].share
            after = (
                total.copy()
                if share is None
                else exp.Add(
                    this=paid.copy(),
                    expression=self.round(exp.Mul(this=total.copy(), expression=_col(f"{k}_share{j}"))),
                )
            )
            return case_of(
                self.places,
                (_null(holds[j]), paid.copy()),
                (_false(holds[j]), paid.copy() if m.no_clawback else _zero(self.places)),
                default=pay(j + 1, after),
            )

        if not m.instalments:
            return total, exp.false(), []
        unknown = [
            _and_all([_null(h), *(_true(before) for before in holds[:j])]) for j, h in enumerate(holds)
        ]
        codes: list[exp.Expr] = [
            _case(
                (
                    u.copy(),
                    self.reason(f"{m.name}.{stage.name}/unknown", f"无法判断分期 {stage.label} 的条件"),
                )
            )
            for u, stage in zip(unknown, m.instalments, strict=True)
        ]
        return pay(0, _zero(self.places)), _or_all(unknown), codes

    def total(self) -> None:
        """runtime.combine_total: the combination rules in order, undeclared pairs, the total caps."""
        plan = self.plan
        names = [m.name for m in plan.measures]
        key = {m.name: self.key(m) for m in plan.measures}
        status_of = {n: self.settled(key[n], "status") for n in names}
        paying = {n: exp.NEQ(this=_col(status_of[n]), expression=_str(rt.INELIGIBLE)) for n in names}
        statuses = [_col(status_of[n]) for n in names]
        start = [
            (
                f"t0_am_{key[n]}",
                case_of(self.places, (paying[n].copy(), _col(self.settled(key[n], "amount")))),
            )
            for n in names
        ]
        prec: exp.Expr = _case(
            (
                _or_all(exp.EQ(this=s.copy(), expression=_str(rt.UNDETERMINED)) for s in statuses),
                exp.Literal.number(_UNKNOWN),
            ),
            (
                _or_all(exp.EQ(this=s.copy(), expression=_str(rt.CEILING)) for s in statuses),
                exp.Literal.number(_AT_MOST),
            ),
            default=exp.Literal.number(_EXACT),
        )
        self.stages.append([*start, ("t0_prec", prec), ("t0_codes", _str(""))])
        rules: dict[str, set[int]] = {}
        version = {n: 0 for n in names}  # each combination rule writes the amounts of its measures anew
        step = 0
        for index, c in enumerate(plan.combinations):
            for n in c.measures:
                rules.setdefault(n, set()).add(index)
            if c.mode not in ("highest", "exclusive") or c.every:
                continue
            group = [n for n in c.measures if n in key]
            count = _count_true(paying[n] for n in group)
            active = exp.GTE(this=count, expression=exp.Literal.number(2))
            am = {n: _col(f"t{version[n]}_am_{key[n]}") for n in group}
            some_null = _or_all(exp.and_(paying[n].copy(), _null(am[n])) for n in group)
            stage: list[tuple[str, exp.Expr]] = []
            for i, n in enumerate(group):
                beats = [
                    exp.or_(exp.not_(paying[o].copy()), exp.GT(this=am[n].copy(), expression=am[o].copy()))
                    for o in group[:i]
                ]
                beats += [
                    exp.or_(exp.not_(paying[o].copy()), exp.GTE(this=am[n].copy(), expression=am[o].copy()))
                    for o in group[i + 1 :]
                ]
                best = _and_all([paying[n].copy(), *beats])
                stage.append(
                    (
                        f"t{step + 1}_am_{key[n]}",
                        case_of(
                            self.places,
                            (
                                _and_all([active.copy(), exp.not_(some_null.copy()), exp.not_(best)]),
                                case_of(self.places, (paying[n].copy(), _zero(self.places))),
                            ),
                            default=am[n].copy(),
                        ),
                    )
                )
            p = _col(f"t{step}_prec")
            word = "就高不重复" if c.mode == "highest" else "互斥"
            new_prec = _case(
                (exp.and_(active.copy(), some_null.copy()), exp.Literal.number(_UNKNOWN)),
                *(
                    [(active.copy(), exp.Greatest(this=p.copy(), expressions=[exp.Literal.number(_AT_MOST)]))]
                    if c.mode == "exclusive"
                    else []
                ),
                default=p.copy(),
            )
            code = self.reason(
                f"combine.{index + 1}/unknown",
                f"{word}：部分金额未定，无法比较 " + "、".join(plan.measure(n).label for n in group),
            )
            rule_codes = _concat_ws(
                _str(";"), _col(f"t{step}_codes"), _case((exp.and_(active, some_null), code))
            )
            step += 1
            for n in group:
                version[n] = step
            self.stages.append([*stage, (f"t{step}_prec", new_prec), (f"t{step}_codes", rule_codes)])
        am_all = {n: _col(f"t{version[n]}_am_{key[n]}") for n in names}
        undeclared = [
            (a, b)
            for i, a in enumerate(sorted(names))
            for b in sorted(names)[i + 1 :]
            if not rules.get(a, set()) & rules.get(b, set())
        ]
        loose = _or_all(exp.and_(paying[a].copy(), paying[b].copy()) for a, b in undeclared)
        p = _col(f"t{step}_prec")
        prec = _case(
            (
                _or_all(exp.and_(paying[n].copy(), _null(am_all[n])) for n in names),
                exp.Literal.number(_UNKNOWN),
            ),
            (loose.copy(), exp.Greatest(this=p.copy(), expressions=[exp.Literal.number(_AT_MOST)])),
            default=p.copy(),
        )
        value: exp.Expr = _sum(
            [
                case_of(
                    self.places,
                    (paying[n].copy(), coalesce(self.places, am_all[n], _zero(self.places))),
                    default=_zero(self.places),
                )
                for n in names
            ]
        )
        codes: list[exp.Expr] = [_col(f"t{step}_codes")]
        if undeclared:
            codes.append(
                _case(
                    (loose.copy(), self.reason("total/undeclared", "政策未说明部分措施能否叠加，合计为上限"))
                )
            )
        cuts: list[tuple[tuple[str, ...], exp.Expr]] = []  # what each total cap takes off
        # a pot over several measures bounds one applicant's awards from them together (runtime.pot_caps)
        caps = [(f"total_cap.{i + 1}", self.ev, c.amount, c.measures) for i, c in enumerate(plan.total_caps)]
        caps += [
            (f"pot.{p.name}", self.undated, p.amount, p.measures) for p in plan.pots if len(p.measures) > 1
        ]
        for cap_code, ev, limit_expr, measures in caps:
            limit = ev(limit_expr, None)  # a cap without a value is NULL, as the interpreter's _safe
            group = [n for n in measures if n in key]
            some = _or_all(paying[n].copy() for n in group)
            prec = _case(
                (
                    exp.and_(_null(limit), some),
                    exp.Greatest(this=prec, expressions=[exp.Literal.number(_AT_MOST)]),
                ),
                default=prec.copy(),
            )
            codes.append(
                _case(
                    (
                        exp.and_(_null(limit), some.copy()),
                        self.reason(
                            f"{cap_code}/unknown",
                            "累计封顶无法计算，合计为上限："
                            + "、".join(plan.measure(n).label for n in group),
                        ),
                    )
                )
            )
            capped = _sum(
                [
                    case_of(
                        self.places,
                        (paying[n].copy(), coalesce(self.places, am_all[n], _zero(self.places))),
                        default=_zero(self.places),
                    )
                    for n in group
                ]
            )
            scale = max(self.places, ev.scale(limit_expr))
            cut = case_of(
                scale,
                (
                    exp.and_(exp.not_(_null(limit)), exp.GT(this=capped.copy(), expression=limit.copy())),
                    _widen(exp.Sub(this=capped, expression=limit), scale),
                ),
                default=_zero(scale),
            )
            cuts.append((tuple(measures), cut))
            value = exp.Sub(this=value, expression=cut.copy())
        for i, other in enumerate(plan.other_documents):
            value, prec, taken_code = self.other_documents(i, other, paying, am_all, cuts, value, prec)
            codes.append(taken_code)
        none = exp.not_(_or_all(p2.copy() for p2 in paying.values()))
        self.stages.append(
            [("t_prec2", prec), ("t_value", value), ("t_codes", _concat_ws(_str(";"), *codes))]
        )
        p = _col("t_prec2")
        status = _case(
            (none.copy(), _str(rt.INELIGIBLE)),
            (exp.EQ(this=p.copy(), expression=exp.Literal.number(_UNKNOWN)), _str(rt.UNDETERMINED)),
            (exp.EQ(this=p.copy(), expression=exp.Literal.number(_AT_MOST)), _str(rt.CEILING)),
            default=_str(rt.DETERMINED),
        )
        amount = case_of(
            self.places,
            (
                _or_all([none.copy(), exp.EQ(this=p.copy(), expression=exp.Literal.number(_UNKNOWN))]),
                exp.Null(),
            ),
            default=self.round(_col("t_value")),
        )
        codes_out = _case((none, self.reason("total/none", "没有可获得的扶持")), default=_col("t_codes"))
        self.stages.append([("total_status", status), ("total_amount", amount), ("total_reasons", codes_out)])

    def other_documents(
        self,
        index: int,
        other: P.OtherDocuments,
        paying: Mapping[str, exp.Expr],
        amounts: Mapping[str, exp.Expr],
        cuts: Sequence[tuple[tuple[str, ...], exp.Expr]],
        value: exp.Expr,
        prec: exp.Expr,
    ) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
        """runtime.other_documents: the total less what a combination with awards under other
        documents takes, the precision after it, and its reason code.  This policy's own award for
        the measures covered is their amounts less the cuts of the total caps over those measures
        alone (of the measures paying); under 就高 the policy pays max(0, own − received), under 互斥
        nothing for them when received > 0; an award received not given leaves a ceiling."""
        group = [n for n in other.measures if n in paying]
        if not group:
            return value, prec, _str("")
        some = _or_all(paying[n].copy() for n in group)
        zero = _zero(self.places)
        own = _sum(
            [
                case_of(
                    self.places,
                    (paying[n].copy(), coalesce(self.places, amounts[n], zero)),
                    default=zero.copy(),
                )
                for n in group
            ]
        )
        for capped, cut in cuts:
            outside = [paying[n].copy() for n in capped if n in paying and n not in group]
            inside = exp.not_(_or_all(outside)) if outside else exp.true()
            own = exp.Sub(
                this=own, expression=case_of(self.places, (inside, cut.copy()), default=zero.copy())
            )
        own = greatest(self.places, own, zero)
        received = self.ev.guarded(other.received, None)  # no value: not given, as the interpreter's _safe
        if other.mode == "highest":
            taken = least(self.places, own.copy(), greatest(self.places, received.copy(), zero))
            taken = case_of(
                self.places, (_or_all([exp.not_(some.copy()), _null(received)]), zero), default=taken
            )
        else:
            positive = exp.GT(this=received.copy(), expression=zero.copy())
            taken = case_of(self.places, (_true(exp.and_(some.copy(), positive)), own.copy()), default=zero)
        open_ = _and_all(
            [
                some,
                _null(received),
                _or_all(
                    [
                        exp.GT(this=own, expression=zero.copy()),
                        *(exp.and_(paying[n].copy(), _null(amounts[n])) for n in group),
                    ]
                ),
            ]
        )
        prec = _case(
            (open_.copy(), exp.Greatest(this=prec, expressions=[exp.Literal.number(_AT_MOST)])),
            default=prec.copy(),
        )
        words = "就高不重复" if other.mode == "highest" else "不可同时享受"
        covered = "、".join(self.plan.measure(n).label for n in group)
        label = self.reason(
            f"other.{index + 1}/unknown",
            f"未提供{other.label}（{other.received_text}）：与其他政策同类奖励{words}，本政策{covered}可能减少，合计为上限",
        )
        return exp.Sub(this=value, expression=taken), prec, _case((open_, label))

    def query(self) -> exp.Query:
        """The stages nested, and the output columns: a row with a bad cell is `invalid`."""
        select = exp.select(exp.Star()).from_(exp.Table(this=_id(self.source)))
        for i, stage in enumerate(self.stages):
            # each stage wraps the one before without copying it (a copy per stage made building
            # a large policy's query quadratic: seconds for the bundled ones)
            select = exp.select(exp.Star(), *(exp.alias_(e, _id(n)) for n, e in stage)).from_(
                select.subquery(_id(f"s{i}"), copy=False), copy=False
            )
        error = _col(self.error)
        bad = exp.not_(_null(error))
        out: list[exp.Expr] = [_col(c).as_(_id(c)) for c in self.passthrough]
        out.append(error.as_(_id("error")))
        out.append(_case((bad.copy(), _str(INVALID)), default=_col("total_status")).as_(_id("total_status")))
        out.append(_case((bad.copy(), exp.Null()), default=_col("total_amount")).as_(_id("total_amount")))
        out.append(
            _case((bad.copy(), exp.Null()), default=exp.func("nullif", _col("total_reasons"), _str(""))).as_(
                _id("total_reasons")
            )
        )
        for m in self.plan.measures:
            k = self.key(m)
            out.append(
                _case((bad.copy(), exp.Null()), default=_col(self.settled(k, "status"))).as_(
                    _id(f"{m.name}.status")
                )
            )
            out.append(
                _case((bad.copy(), exp.Null()), default=_col(self.settled(k, "amount"))).as_(
                    _id(f"{m.name}.amount")
                )
            )
            out.append(
                _case(
                    (bad.copy(), exp.Null()),
                    default=exp.func("nullif", _col(self.settled(k, "reasons")), _str("")),
                ).as_(_id(f"{m.name}.reasons"))
            )
        for m in self.plan.measures:  # what the batch's limits changed: each limited measure before them
            k = self.key(m)
            if f"{k}_status" in self.final:
                for what in ("status", "amount"):
                    out.append(
                        _case((bad.copy(), exp.Null()), default=_col(f"{k}_before_{what}")).as_(
                            _id(f"{m.name}.{what}_before")
                        )
                    )
        return exp.select(*out).from_(select.subquery(_id("decided"), copy=False), copy=False)


def _where(span: object) -> P.Where | None:
    line, col = getattr(span, "line", None), getattr(span, "col", None)
    return P.Where(line, col) if isinstance(line, int) and isinstance(col, int) else None


def build(
    plan: P.Plan,
    *,
    date: datetime.date | None = None,
    source: str = "applicants",
    passthrough: Sequence[str] = (),
    params: Mapping[str, object] | None = None,
    lang: Lang | None = None,
) -> SqlQuery:
    """The query deciding every row of the relation `source` (its columns: the facts by name, as
    text, and the `passthrough` columns, copied out first) on `date`, with the parameter values
    `params` given for the run (parsed as runtime.parse_fact does; they win over the text's), its
    error rows' texts in `lang` (None: default_lang()); Refused for a construct the back end does
    not translate."""
    return _Builder(plan, date, source, passthrough, params, lang).build()


def dialects() -> tuple[str, ...]:
    """The dialects `compile --target sql` prints."""
    return ("duckdb", "spark", "postgres")
