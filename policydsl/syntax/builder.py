"""Lark parse to AST; nothing else.  Each rule's node is built as the parser reduces it, with its span."""

from __future__ import annotations

import contextvars
import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
from lark import Token, Tree
from lark.grammar import Rule

from policydsl import codes
from policydsl.dates import PartialDate
from policydsl.diagnostics import Sink
from policydsl.evaluation.runtime import MAX_DIGITS, MAX_PLACES, odd_character, shift, too_precise
from policydsl.messages import msg
from policydsl.source import SourceFile, Span
from policydsl.syntax import ast
from policydsl.syntax.keywords import (
    KEYWORDS,
    POINTS,
    POSTFIX_WORDS,
    PREFIX_WORDS,
    SYMBOLS,
    chinese_keywords,
    spelling,
)
from policydsl.textsafety import UNSAFE_IN_TEXT, visible

_N = TypeVar("_N", bound=ast.Node)
_F = TypeVar("_F", bound=Callable[..., Any])

MAX_EXPR_DEPTH = 400

_QUANTITY = re.compile(
    r"(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?P<mult>亿|万|千(?!瓦))?(?P<suffix>[^/]+)?(?:/(?P<per>.+))?$"
)
# 千, 万 and 亿 move the decimal point; shifting is exact however many digits are written.
_SHIFTS = {None: 0, "千": 3, "万": 4, "亿": 8}
_DURATIONS = {"年": "year", "个月": "month", "月": "month", "日": "day", "天": "day"}
_YEAR_NUMBER = re.compile(r"(\d{1,4})年?$")
_ZH_KEYWORDS = frozenset(zh for _, zh in KEYWORDS.values())
_DATE = re.compile(r"(\d{4})(?:-|年)(\d{1,2})(?:-|月)(\d{1,2})日?$")
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-|年)(\d{1,2}|\*)(?:-|月)\*日?$")


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _opt_str(token: Token | None) -> str | None:
    return None if token is None else _unquote(token)


def _with_span(method: _F) -> _F:
    """Mark a builder method that takes the node's span before its children."""
    method._with_span = True  # type: ignore[attr-defined]
    return method


@attrs.frozen
class _Tail:
    """A `floor` or `offset` of a clause (`kind`), its `expr` and `span`, until the clause takes it."""

    kind: str
    expr: ast.Expr
    span: Span


def _token_span(source: SourceFile, token: Token) -> Span:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start
    return source.span(start, end)


class _Recorder:
    """Holds the builder's reports until the parse is known to have succeeded, and then gives them
    to the real sink after the checks of the whole text (control characters in texts), in the order
    the passes ran when the tree was built first and walked afterwards."""

    def __init__(self) -> None:
        self.reports: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def report(self, *args: Any, **kwargs: Any) -> None:
        self.reports.append((args, kwargs))


class _Builder:
    """Turns each rule the parser reduces into its AST node (see `reductions`); one per parse."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.sink: Any = _Recorder()
        self.depth: dict[int, int] = {}
        self.too_deep = False
        self.strings: list[Token] = []  # every quoted text, in the order of the file
        self.too_deep_at: int | None = None
        self.chinese = chinese_keywords(source.text)  # hints propose code in the file's keywords

    def _tok(self, token: Token) -> Span:
        return _token_span(self.source, token)

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(self._tok(token), str(token))

    def _idents(self, node: Any) -> tuple[ast.Ident, ...]:
        return tuple(node)

    def _deep(self, node: _N, *children: Any) -> _N:
        depth = 1 + max((self.depth.get(id(c), 0) for c in children), default=0)
        self.depth[id(node)] = depth
        if depth > MAX_EXPR_DEPTH and not self.too_deep:
            self.too_deep = True
            self.sink.report(codes.E005, msg("build.expression_too_deep", limit=MAX_EXPR_DEPTH), node.span)
        return node

    def _date_or_partial(self, token: Token) -> datetime.date | PartialDate | None:
        """A header's date: exact, or known only to the year or the month (`2022-*-*`)."""
        m = _PARTIAL_DATE.match(str(token))
        if m is None:
            return self._date(token)
        month = None if m.group(2) == "*" else int(m.group(2))
        if (month is not None and not 1 <= month <= 12) or int(m.group(1)) < 1:
            self.sink.report(codes.E006, msg("build.not_a_date", text=str(token)), self._tok(token))
            return None
        return PartialDate(int(m.group(1)), month)

    def _date(self, token: Token) -> datetime.date | None:
        m = _DATE.match(str(token))
        if m:
            try:
                return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                pass
        self.sink.report(codes.E006, msg("build.not_a_date", text=str(token)), self._tok(token))
        return None

    # ------------------------------------------------------------------ literals
    def quantity(self, children: list[Any]) -> ast.Expr:
        (token,) = children
        return self._quantity(token)

    def _quantity(self, token: Token) -> ast.Expr:
        text, span = str(token), self._tok(token)
        m = _QUANTITY.match(text)
        try:
            if m is None:
                raise InvalidOperation
            written = Decimal(m.group("num"))
            odd = None if m.group("num").isascii() else odd_character(m.group("num"))
            if odd is not None:  # `৪0万` reads as 40万 and looks like 80万
                char, invisible = odd
                what = msg("build.invisible_character") if invisible else msg("build.foreign_digit")
                self.sink.report(
                    codes.E006, msg("build.odd_character", text=m.group("num"), what=what, char=char), span
                )
                written = Decimal(0)  # keep the unit, so that no error follows from this one
        except InvalidOperation:
            self.sink.report(codes.E006, msg("build.not_a_number", text=text), span)
            return ast.Number(span, Decimal(0), text)
        places = _SHIFTS[m.group("mult")]
        if written and written.adjusted() + places >= MAX_DIGITS:
            self.sink.report(codes.E006, msg("build.too_large", text=text, limit=MAX_DIGITS), span)
            written = Decimal(0)  # keep the unit, so that no error follows from this one
        elif too_precise(written, places):
            self.sink.report(codes.E006, msg("build.too_precise", text=text, limit=MAX_PLACES), span)
            written = Decimal(0)
        number = shift(written, places)
        mult, suffix, per = m.group("mult"), m.group("suffix"), m.group("per")
        if per is not None:
            if suffix not in (None, "元"):
                self.sink.report(
                    codes.E006,
                    msg("build.per_unit_money", text=text),
                    span,
                    hint=msg("parse.write", code="5万/家"),
                )
            return ast.PerUnit(span, number, per, text)
        if suffix == "元" or (suffix is None and mult is not None):
            return ast.Money(span, number, text)
        if suffix in ("%", "‰", *POINTS):
            if mult is not None:
                self.sink.report(codes.E006, msg("build.percent_multiplier", text=text), span)
            return ast.Percent(span, shift(number, -3 if suffix == "‰" else -2), text)
        if suffix in _DURATIONS:
            if mult is not None or number != number.to_integral_value():
                self.sink.report(codes.E006, msg("build.whole_duration", text=text), span)
            return ast.Duration(span, int(number), _DURATIONS[suffix], text)
        if suffix is not None:
            return ast.Count(span, number, suffix, text)
        return ast.Number(span, number, text)

    def ratio(self, children: list[Any]) -> ast.Expr:
        (token,) = children
        left, right = str(token).split(":")
        span = self._tok(token)
        if Decimal(right) == 0:
            self.sink.report(codes.E006, msg("build.ratio_zero", text=str(token)), span)
            return ast.Ratio(span, Decimal(left), Decimal(1), str(token))
        return ast.Ratio(span, Decimal(left), Decimal(right), str(token))

    @_with_span
    def date(self, span: Span, children: list[Any]) -> ast.Expr:
        (token,) = children
        value = self._date(token) or datetime.date(1970, 1, 1)
        return ast.DateLit(span, value, str(token))

    @_with_span
    def true_(self, span: Span, children: list[Any]) -> ast.Expr:
        return ast.Bool(span, True)

    @_with_span
    def false_(self, span: Span, children: list[Any]) -> ast.Expr:
        return ast.Bool(span, False)

    @_with_span
    def dotted(self, span: Span, children: list[Any]) -> ast.Name:
        return ast.Name(span, tuple(str(c) for c in children))

    def name(self, children: list[Any]) -> ast.Name:
        (node,) = children
        return node  # type: ignore[no-any-return]

    @_with_span
    def unset(self, span: Span, children: list[Any]) -> ast.Unset:
        return ast.Unset(span)

    # ------------------------------------------------------------------ expressions
    @_with_span
    def binop(self, span: Span, children: list[Any]) -> ast.Expr:
        left, op, right = children
        symbol = str(op.children[0])
        canonical = {"×": "*", "÷": "/"}.get(symbol, symbol)
        return self._deep(ast.BinOp(span, canonical, left, right, symbol), left, right)

    @_with_span
    def negate(self, span: Span, children: list[Any]) -> ast.Expr:
        (operand,) = children
        return self._deep(ast.Negate(span, operand), operand)

    @_with_span
    def compare(self, span: Span, children: list[Any]) -> ast.Expr:
        left, bound = children
        node = ast.Compare(span, bound.op, left, bound.value, bound.word, bound.postfix)
        return self._deep(node, left, bound.value)

    @_with_span
    def tail_prefix(self, span: Span, children: list[Any]) -> ast.Bound:
        word_tree, value = children
        word = str(word_tree.children[0])
        op = SYMBOLS.get(word) or PREFIX_WORDS[word]
        return ast.Bound(span, op, value, word, False)

    @_with_span
    def tail_postfix(self, span: Span, children: list[Any]) -> ast.Bound:
        value, word_tree = children
        word = str(word_tree.children[0])
        return ast.Bound(span, POSTFIX_WORDS[word], value, word, True)

    def bound(self, children: list[Any]) -> ast.Bound:
        return children[0]  # type: ignore[no-any-return]

    @_with_span
    def member(self, span: Span, children: list[Any]) -> ast.Expr:
        subject, names = children
        return self._deep(ast.Member(span, subject, names), subject)

    @_with_span
    def and_(self, span: Span, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.And(span, left, right), left, right)

    @_with_span
    def or_(self, span: Span, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.Or(span, left, right), left, right)

    @_with_span
    def and_tail(self, span: Span, children: list[Any]) -> ast.Expr:
        left, bound = children
        right = self._elided(left, bound)
        return self._deep(ast.And(span, left, right), left, right)

    @_with_span
    def or_tail(self, span: Span, children: list[Any]) -> ast.Expr:
        left, bound = children
        right = self._elided(left, bound)
        return self._deep(ast.Or(span, left, right), left, right)

    def _elided(self, left: ast.Expr, bound: ast.Bound) -> ast.Expr:
        """The comparison `bound` whose subject the text leaves out: the subject of the comparison
        just before it (`营业收入 超过 3000万 且 不满 5000万`)."""
        last = left
        while isinstance(last, ast.And | ast.Or):
            last = last.right
        if isinstance(last, ast.Compare):
            node = ast.Compare(bound.span, bound.op, last.left, bound.value, bound.word, bound.postfix, True)
            return self._deep(node, last.left, bound.value)
        conj = spelling("and", self.chinese)
        self.sink.report(
            codes.E001,
            msg("build.elided_subject"),
            bound.span,
            hint=msg(
                "build.elided_hint",
                full=f"营业收入 超过 3000万 {conj} 营业收入 不满 5000万",
                joined=f"营业收入 超过 3000万 {conj} 不满 5000万",
            ),
        )
        # compared with itself, so that no follow-on error comes of the missing subject
        return ast.Compare(bound.span, bound.op, bound.value, bound.value, bound.word, bound.postfix)

    @_with_span
    def not_(self, span: Span, children: list[Any]) -> ast.Expr:
        (operand,) = children
        return self._deep(ast.Not(span, operand), operand)

    @_with_span
    def implies(self, span: Span, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.Implies(span, left, right), left, right)

    def expr_list(self, children: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(c for c in children if c is not None)

    @_with_span
    def min_(self, span: Span, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(span, "min", args), *args)

    @_with_span
    def max_(self, span: Span, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(span, "max", args), *args)

    @_with_span
    def blocks(self, span: Span, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(span, "blocks", args), *args)

    @_with_span
    def round_down(self, span: Span, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(span, "round_down", args), *args)

    @_with_span
    def since(self, span: Span, children: list[Any]) -> ast.Expr:
        (arg,) = children
        return self._deep(ast.Call(span, "since", (arg,)), arg)

    @_with_span
    def year(self, span: Span, children: list[Any]) -> ast.Expr:
        (arg,) = children
        return self._deep(ast.Call(span, "year", (arg,)), arg)

    @_with_span
    def year_no(self, span: Span, children: list[Any]) -> ast.Expr:
        (arg,) = children
        return self._deep(ast.Call(span, "year_no", (arg,)), arg)

    @_with_span
    def schedule(self, span: Span, children: list[Any]) -> ast.Expr:
        start, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Schedule(span, start, rows), start, *(r.value for r in rows))

    @_with_span
    def schedule_entry(self, span: Span, children: list[Any]) -> ast.ScheduleEntry:
        first, last, value = children
        last = first if last is None else last
        return ast.ScheduleEntry(
            span,
            self._year_number(first),
            self._year_number(last),
            value,
            first_span=self._tok(first),
            last_span=self._tok(last),
        )

    def _year_number(self, token: Token) -> int:
        """A year of a schedule, `3` or `3年`: a whole number from 1 (year 1 is the event's own)."""
        m = _YEAR_NUMBER.match(str(token))
        if m is None or int(m.group(1)) < 1:
            self.sink.report(
                codes.E006,
                msg("build.schedule_year", text=str(token)),
                self._tok(token),
                hint=msg(
                    "parse.for_example", code="第1至2年: 80%" if self.chinese else "years 1 until 2: 80%"
                ),
            )
            return 1
        return int(m.group(1))

    @_with_span
    def table(self, span: Span, children: list[Any]) -> ast.Expr:
        subject, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Table(span, self._ident(subject), rows), *(r.value for r in rows))

    @_with_span
    def table_entry(self, span: Span, children: list[Any]) -> ast.TableEntry:
        key, value = children
        return ast.TableEntry(span, self._ident(key), value)

    @_with_span
    def table_otherwise(self, span: Span, children: list[Any]) -> ast.TableEntry:
        (value,) = children
        return ast.TableEntry(span, None, value)

    @_with_span
    def band(self, span: Span, children: list[Any]) -> ast.Expr:
        subject, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Band(span, subject, rows), subject, *(r.value for r in rows))

    @_with_span
    def band_entry(self, span: Span, children: list[Any]) -> ast.BandEntry:
        bounds, value = children
        return ast.BandEntry(span, bounds, value)

    @_with_span
    def band_otherwise(self, span: Span, children: list[Any]) -> ast.BandEntry:
        (value,) = children
        return ast.BandEntry(span, None, value)

    @_with_span
    def progressive(self, span: Span, children: list[Any]) -> ast.Expr:
        subject, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Brackets(span, subject, rows), subject, *(r.rate for r in rows))

    @_with_span
    def bracket_entry(self, span: Span, children: list[Any]) -> ast.BracketEntry:
        bounds, rate = children
        return ast.BracketEntry(span, bounds, rate)

    def band_cond(self, children: list[Any]) -> tuple[ast.Bound, ...]:
        return tuple(children)

    def name_list(self, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ------------------------------------------------------------------ header
    @_with_span
    def policy_header(self, span: Span, children: list[Any]) -> ast.Header:
        title, *items = children
        fields: dict[str, Any] = {}
        for key, value, where in items:
            if key in fields:
                self.sink.report(codes.E102, msg("build.header_twice", key=key), where)
            fields[key] = value
        return ast.Header(
            span,
            _unquote(title),
            fields.get("issuer"),
            fields.get("docno"),
            fields.get("issued"),
            fields.get("valid"),
            fields.get("source"),
            fields.get("rounding"),
            fields.get("cite"),
            tuple((key, where) for key, _, where in items),
        )

    @_with_span
    def h_issuer(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        return ("issuer", _unquote(children[0]), span)

    @_with_span
    def h_docno(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        return ("docno", _unquote(children[0]), span)

    @_with_span
    def h_source(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        return ("source", _unquote(children[0]), span)

    @_with_span
    def h_cite(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        return ("cite", children[0], span)

    @_with_span
    def h_issued(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        return ("issued", children[0], span)

    def date_or_unset(self, children: list[Any]) -> datetime.date | PartialDate | None:
        return self._date_or_partial(children[0]) if children and children[0] is not None else None

    @_with_span
    def h_valid(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        start, ending = children
        end, duration = ending if ending is not None else (None, None)
        return ("valid", ast.Validity(span, start, end, duration), span)

    def start_date(self, children: list[Any]) -> datetime.date | PartialDate | None:
        return self._date_or_partial(children[0])

    def start_issued(self, children: list[Any]) -> str:
        return "issued"

    def start_unset(self, children: list[Any]) -> None:
        return None

    def end_date(self, children: list[Any]) -> tuple[datetime.date | PartialDate | None, None]:
        return (self._date_or_partial(children[0]), None)

    def end_duration(self, children: list[Any]) -> tuple[None, ast.Duration | None]:
        value = self._quantity(children[0])
        if not isinstance(value, ast.Duration):
            self.sink.report(codes.E006, msg("build.not_a_duration", text=str(children[0])), value.span)
            return (None, None)
        return (None, value)

    @_with_span
    def h_rounding(self, span: Span, children: list[Any]) -> tuple[str, Any, Span]:
        unit, mode = children
        return (
            "rounding",
            ast.Rounding(span, self._ident(unit), self._ident(mode)),
            span,
        )

    def cite_(self, children: list[Any]) -> str:
        return _unquote(children[0])

    # ------------------------------------------------------------------ declarations
    @_with_span
    def kind_decl(self, span: Span, children: list[Any]) -> ast.KindDecl:
        name, label = children
        return ast.KindDecl(span, self._ident(name), _opt_str(label))

    @_with_span
    def exclusive_kinds(self, span: Span, children: list[Any]) -> ast.ExclusiveKinds:
        kinds, cite = children
        return ast.ExclusiveKinds(span, kinds, cite)

    @_with_span
    def unit_decl(self, span: Span, children: list[Any]) -> ast.UnitDecl:
        name, label = children
        return ast.UnitDecl(span, self._ident(name), _opt_str(label))

    @_with_span
    def enum_decl(self, span: Span, children: list[Any]) -> ast.EnumDecl:
        name, label, *members = children
        return ast.EnumDecl(
            span, self._ident(name), _opt_str(label), tuple(m for m in members if m is not None)
        )

    @_with_span
    def enum_member(self, span: Span, children: list[Any]) -> ast.EnumMember:
        name, label = children
        return ast.EnumMember(span, self._ident(name), _opt_str(label))

    @_with_span
    def type_ref(self, span: Span, children: list[Any]) -> ast.TypeRef:
        name, unit = children
        return ast.TypeRef(span, self._ident(name), None if unit is None else self._ident(unit))

    @_with_span
    def fact_decl(self, span: Span, children: list[Any]) -> ast.FactDecl:
        name, label, type_ref, *bounds = children
        return ast.FactDecl(span, self._ident(name), _opt_str(label), type_ref, tuple(bounds))

    @_with_span
    def param_single(self, span: Span, children: list[Any]) -> ast.ParamDecl:
        name, label, type_ref, value, cite = children
        version = ast.ParamVersion(span, None, value, cite)
        return ast.ParamDecl(span, self._ident(name), _opt_str(label), type_ref, (version,))

    @_with_span
    def param_versions(self, span: Span, children: list[Any]) -> ast.ParamDecl:
        name, label, type_ref, *versions = children
        return ast.ParamDecl(span, self._ident(name), _opt_str(label), type_ref, tuple(versions))

    @_with_span
    def param_version(self, span: Span, children: list[Any]) -> ast.ParamVersion:
        start, value, cite = children
        return ast.ParamVersion(span, self._date(start), value, cite)

    @_with_span
    def assume_decl(self, span: Span, children: list[Any]) -> ast.Assume:
        cond, label = children
        return ast.Assume(span, cond, _opt_str(label))

    @_with_span
    def eligibility(self, span: Span, children: list[Any]) -> ast.Eligibility:
        return ast.Eligibility(span, tuple(children))

    @_with_span
    def requirement(self, span: Span, children: list[Any]) -> ast.Requirement:
        cond, reason, cite = children
        return ast.Requirement(span, cond, _opt_str(reason), cite)

    # ------------------------------------------------------------------ measures
    @_with_span
    def measure(self, span: Span, children: list[Any]) -> ast.Measure:
        name, label, cite, *items = children
        return ast.Measure(span, self._ident(name), _opt_str(label), cite, tuple(items))

    @_with_span
    def applicants(self, span: Span, children: list[Any]) -> ast.Applicants:
        return ast.Applicants(span, children[0])

    @_with_span
    def pays(self, span: Span, children: list[Any]) -> ast.Pays:
        return ast.Pays(span, children[0])

    def _clause(self, kind: str, span: Span, children: list[Any]) -> ast.Clause:
        name_part, exception, amount, *rest = children
        cite = rest.pop()
        name, label = name_part if name_part is not None else (None, None)
        target, priority = exception if exception is not None else (None, None)
        # caps, floors, offsets and conditions may come in any order; all but conditions belong to
        # the amount
        conditions = tuple(t for t in rest if isinstance(t, ast.Condition))
        tails = [t for t in rest if isinstance(t, _Tail)]
        caps = tuple(t for t in rest if not isinstance(t, ast.Condition | _Tail))
        floors = tuple(t.expr for t in tails if t.kind == "floor")
        offsets = tuple(t.expr for t in tails if t.kind == "offset")
        if caps or tails:
            end = max(amount.span.end, *(c.span.end for c in caps), *(t.span.end for t in tails))
            amount = ast.Amount(
                self.source.span(amount.span.start, end),
                amount.mode,
                amount.expr,
                caps,
                floors=amount.floors + floors,
                offsets=offsets,
                written_range=amount.written_range,
            )
        return ast.Clause(span, kind, name, label, target, priority, amount, conditions, cite)

    @_with_span
    def award_clause(self, span: Span, children: list[Any]) -> ast.Clause:
        return self._clause("award", span, children)

    @_with_span
    def bonus_clause(self, span: Span, children: list[Any]) -> ast.Clause:
        return self._clause("bonus", span, children)

    def clause_name(self, children: list[Any]) -> tuple[ast.Ident, str | None]:
        name, label = children
        return self._ident(name), _opt_str(label)

    def exception_of(self, children: list[Any]) -> tuple[ast.Ident, int | None]:
        name, priority = children
        if priority is None:
            return self._ident(name), None
        value = self._quantity(priority)
        if not isinstance(value, ast.Number) or value.value != value.value.to_integral_value():
            self.sink.report(codes.E006, msg("build.priority_whole", text=str(priority)), value.span)
            return self._ident(name), None
        return self._ident(name), int(value.value)

    @_with_span
    def ceiling_amount(self, span: Span, children: list[Any]) -> ast.Amount:
        (expr,) = children
        return ast.Amount(span, "ceiling", expr, ())

    @_with_span
    def range_amount(self, span: Span, children: list[Any]) -> ast.Amount:
        low, high = children
        return ast.Amount(span, "ceiling", high, (), floors=(low,), written_range=True)

    @_with_span
    def determined_amount(self, span: Span, children: list[Any]) -> ast.Amount:
        (expr,) = children
        return ast.Amount(span, "determined", expr, ())

    @_with_span
    def unset_amount(self, span: Span, children: list[Any]) -> ast.Amount:
        return ast.Amount(span, "unset", None, ())

    def cap(self, children: list[Any]) -> ast.Expr:
        return children[0]  # type: ignore[no-any-return]

    @_with_span
    def floor(self, span: Span, children: list[Any]) -> _Tail:
        return _Tail("floor", children[0], span)

    @_with_span
    def offset(self, span: Span, children: list[Any]) -> _Tail:
        return _Tail("offset", children[0], span)

    @_with_span
    def cond_if(self, span: Span, children: list[Any]) -> ast.Condition:
        return ast.Condition(span, children[0], False)

    @_with_span
    def cond_unless(self, span: Span, children: list[Any]) -> ast.Condition:
        return ast.Condition(span, children[0], True)

    @_with_span
    def exclusion(self, span: Span, children: list[Any]) -> ast.Exclusion:
        cond, reason, cite = children
        return ast.Exclusion(span, cond, _opt_str(reason), cite)

    @_with_span
    def preference(self, span: Span, children: list[Any]) -> ast.Preference:
        cond, reason, cite = children
        return ast.Preference(span, cond, _opt_str(reason), cite)

    @_with_span
    def funding_limit(self, span: Span, children: list[Any]) -> ast.FundingLimit:
        limit, *counting, cite = children
        return ast.FundingLimit(span, limit, tuple(counting), cite)

    @_with_span
    def quota(self, span: Span, children: list[Any]) -> ast.Quota:
        count, rank, selected_by, cite = children
        value = self._quantity(count)
        number = value.value if isinstance(value, ast.Number | ast.Count) else Decimal(-1)
        if number < 0 or number != number.to_integral_value():
            self.sink.report(codes.E006, msg("build.quota_whole", text=str(count)), value.span)
            number = Decimal(0)
        selected = None if selected_by is None else self._ident(selected_by)
        return ast.Quota(span, int(number), rank, cite, selected)

    @_with_span
    def group_cap(self, span: Span, children: list[Any]) -> ast.GroupCap:
        amount, per, allocate, cite = children
        return ast.GroupCap(
            span,
            amount,
            self._ident(per),
            None if allocate is None else self._ident(allocate),
            cite,
        )

    @_with_span
    def budget(self, span: Span, children: list[Any]) -> ast.Budget:
        amount, cite = children
        return ast.Budget(span, amount, cite)

    def _count(self, count: Token) -> int:
        """An expected number of recipients: a whole number."""
        value = self._quantity(count)
        number = value.value if isinstance(value, ast.Number | ast.Count) else Decimal(-1)
        if number < 0 or number != number.to_integral_value():
            self.sink.report(codes.E006, msg("build.population_whole", text=str(count)), value.span)
            number = Decimal(0)
        return int(number)

    @_with_span
    def population_recipients(self, span: Span, children: list[Any]) -> ast.Population:
        about, count, cite = children
        number = self._count(count)
        return ast.Population(span, number, str(count), about is not None, None, cite)

    @_with_span
    def population_counting(self, span: Span, children: list[Any]) -> ast.Population:
        about, count, counting, cite = children
        number = self._count(count)
        return ast.Population(span, number, str(count), about is not None, self._ident(counting), cite)

    def about(self, children: list[Any]) -> bool:
        return True

    def each_year(self, children: list[Any]) -> bool:
        return True

    @_with_span
    def instalment(self, span: Span, children: list[Any]) -> ast.Instalment:
        name, label, share, cond, cite = children
        return ast.Instalment(span, self._ident(name), _opt_str(label), share, cond, cite)

    def share(self, children: list[Any]) -> ast.Expr:
        return children[0]  # type: ignore[no-any-return]

    def rest(self, children: list[Any]) -> None:
        return None

    @_with_span
    def no_clawback(self, span: Span, children: list[Any]) -> ast.NoClawback:
        return ast.NoClawback(span, children[0])

    # ------------------------------------------------------------------ across measures
    @_with_span
    def combine_decl(self, span: Span, children: list[Any]) -> ast.Combine:
        mode, names, cite, reason = children
        return ast.Combine(span, self._ident(mode), names, cite, _opt_str(reason))

    @_with_span
    def combine_all(self, span: Span, children: list[Any]) -> ast.Combine:
        mode, cite, reason = children
        return ast.Combine(span, self._ident(mode), (), cite, _opt_str(reason), every=True)

    @_with_span
    def combine_other(self, span: Span, children: list[Any]) -> ast.Combine:
        mode, other, names, cite, reason = children
        return ast.Combine(span, self._ident(mode), names, cite, _opt_str(reason), other=other)

    @_with_span
    def combine_other_all(self, span: Span, children: list[Any]) -> ast.Combine:
        mode, other, cite, reason = children
        return ast.Combine(span, self._ident(mode), (), cite, _opt_str(reason), every=True, other=other)

    @_with_span
    def total_cap_decl(self, span: Span, children: list[Any]) -> ast.TotalCap:
        amount, names, cite = children
        return ast.TotalCap(span, amount, names, cite)

    @_with_span
    def pot_decl(self, span: Span, children: list[Any]) -> ast.Pot:
        name, label, amount, each_year, names, allocation, cite = children
        allocate, by = allocation if allocation is not None else (None, None)
        return ast.Pot(
            span, self._ident(name), _opt_str(label), amount, each_year is not None, names, allocate, by, cite
        )

    def pot_allocation(self, children: list[Any]) -> tuple[ast.Ident, ast.Expr | None]:
        rule, by = children
        return self._ident(rule), by

    @_with_span
    def acknowledge(self, span: Span, children: list[Any]) -> ast.Acknowledge:
        code, *targets, reason = children
        return ast.Acknowledge(
            span, self._ident(code), tuple(t for t in targets if t is not None), _unquote(reason)
        )

    # ------------------------------------------------------------------ examples
    @_with_span
    def example(self, span: Span, children: list[Any]) -> ast.Example:
        name, base, date, given, params, *expectations = children
        return ast.Example(
            span,
            _unquote(name),
            None if date is None else self._date(date),
            () if given is None else given[1],
            tuple(expectations),
            base,
            () if params is None else params[1],
            given_span=None if given is None else given[0],
            params_span=None if params is None else params[0],
        )

    @_with_span
    def base_applicant(self, span: Span, children: list[Any]) -> ast.Example:
        name, base, date, given, params = children
        return ast.Example(
            span,
            _unquote(name),
            None if date is None else self._date(date),
            () if given is None else given[1],
            (),
            base,
            () if params is None else params[1],
            template=True,
            given_span=None if given is None else given[0],
            params_span=None if params is None else params[0],
        )

    def base_from(self, children: list[Any]) -> ast.Text:
        (name,) = children
        return ast.Text(self._tok(name), _unquote(name))

    @_with_span
    def given(self, span: Span, children: list[Any]) -> tuple[Span, tuple[ast.Binding, ...]]:
        return span, tuple(c for c in children if c is not None)

    @_with_span
    def with_params(self, span: Span, children: list[Any]) -> tuple[Span, tuple[ast.Binding, ...]]:
        return span, tuple(c for c in children if c is not None)

    @_with_span
    def binding(self, span: Span, children: list[Any]) -> ast.Binding:
        name, value = children
        return ast.Binding(span, self._ident(name), value)

    @_with_span
    def roles_binding(self, span: Span, children: list[Any]) -> ast.Binding:
        name, kinds = children
        # the set's span: from its `{` to its `}`, found in the binding's text after the name
        # (typed in full-width forms, `｛…｝` reads as `{…}`)
        text = self.source.text
        open_at = min(i for i in (text.find("{", name.end_pos), text.find("｛", name.end_pos)) if i >= 0)
        after = kinds[-1].span.end if kinds else open_at
        close_at = min(i for i in (text.find("}", after), text.find("｝", after)) if i >= 0)
        return ast.Binding(span, self._ident(name), ast.Roles(self.source.span(open_at, close_at + 1), kinds))

    @_with_span
    def text_binding(self, span: Span, children: list[Any]) -> ast.Binding:
        name, text = children
        return ast.Binding(span, self._ident(name), ast.Text(self._tok(text), _unquote(text)))

    @_with_span
    def expectation(self, span: Span, children: list[Any]) -> ast.Expectation:
        target, (kind, value) = children
        return ast.Expectation(span, target, kind, value)

    def target(self, children: list[Any]) -> ast.Ident:
        return self._ident(children[0])

    def total_target(self, children: list[Any]) -> None:
        return None

    def expect_amount(self, children: list[Any]) -> tuple[str, Any]:
        return ("amount", children[0])

    def expect_ceiling(self, children: list[Any]) -> tuple[str, Any]:
        return ("ceiling", children[0])

    def expect_undetermined(self, children: list[Any]) -> tuple[str, Any]:
        return ("undetermined", None)

    def expect_ineligible(self, children: list[Any]) -> tuple[str, Any]:
        return ("ineligible", None)

    # ------------------------------------------------------------------ the file
    @_with_span
    def start(self, span: Span, children: list[Any]) -> ast.Policy:
        headers = [c for c in children if isinstance(c, ast.Header)]
        for extra in headers[1:]:
            self.sink.report(codes.E102, msg("build.second_header"), extra.span)
        items = tuple(c for c in children if not isinstance(c, ast.Header))
        span = self.source.span(0, len(self.source.text))
        return ast.Policy(span, headers[0] if headers else None, items, False, ())


# rule name -> (the builder's method, whether it takes the span)
_METHODS: dict[str, tuple[Callable[..., Any], bool]] = {
    name: (method, getattr(method, "_with_span", False))
    for name, method in vars(_Builder).items()
    if callable(method) and not name.startswith("_")
}


def _refuse_controls(token: Token, source: SourceFile, sink: Sink) -> None:
    # Labels and citations reach terminals, logs, diagrams and the review site: a control character
    # could rewrite a reviewer's screen or break a diagram, so it is refused (tab and `\n` are fine).
    found = UNSAFE_IN_TEXT.search(str(token))
    if found is not None:
        start = (token.start_pos or 0) + found.start()
        sink.report(
            codes.E006,
            msg("build.control_character", char=visible(found.group(0))),
            source.span(start, start + 1),
            hint=msg("build.control_hint"),
        )


# ------------------------------------------------------------------ during the parse

_current: contextvars.ContextVar[_Builder] = contextvars.ContextVar("builder")


class _Reduced:
    """A rule's result on the parser's stack: its `value`; `start` and `end`, the offsets of the text
    its rule covered, filtered keywords and brackets included (None when it covered none; widened
    when a `?rule` passes the value up with brackets around it); `first`, its own start; and its
    `height` in levels of the parse tree that Lark would have built."""

    __slots__ = ("end", "first", "height", "start", "value")

    def __init__(self, value: Any, start: int | None, end: int | None, height: int) -> None:
        self.value = value
        self.start = start
        self.end = end
        self.first = start
        self.height = height


@attrs.frozen
class Parsed:
    """What the parse built: the `policy` (before the checks of `build`), the builder's `reports`
    held back, the quoted texts (`strings`), and the start of the last declaration nested deeper
    than the parser's limit (`too_deep_at`, None when none is)."""

    policy: ast.Policy
    reports: list[tuple[tuple[Any, ...], dict[str, Any]]]
    strings: list[Token]
    too_deep_at: int | None


def on_string(token: Token) -> Token:
    """The lexer's callback for quoted texts: each is checked for control characters in `build`."""
    _current.get().strings.append(token)
    return token


def reductions(rules: list[Rule], max_depth: int) -> dict[Rule, Callable[[list[Any]], Any]]:
    """The parser's callback for each rule: the AST node built as the rule is reduced, with the span
    and the shaping (filtered tokens, `[x]` placeholders, inlined `_rules`, `?rules` passing their
    single child up) that Lark's tree builder with `propagate_positions` would have given it."""
    return {rule: _reduction(rule, max_depth) for rule in rules}


def _included(rule: Rule) -> tuple[list[tuple[int, bool, int]], int]:
    """Which of the rule's symbols become children (index, inlined, placeholders before it), and
    the placeholders after the last: Lark's `maybe_create_child_filter`."""
    expansion = rule.expansion
    empty = rule.options.empty_indices
    if empty:
        runs = "".join(str(int(b)) for b in empty).split("0")
        nones = [len(ones) for ones in runs]
    else:
        nones = [0] * (len(expansion) + 1)
    included: list[tuple[int, bool, int]] = []
    pending = 0
    for i, sym in enumerate(expansion):
        pending += nones[i]
        if rule.options.keep_all_tokens or not (sym.is_term and sym.filter_out):  # type: ignore[attr-defined]
            included.append((i, not sym.is_term and sym.name.startswith("_"), pending))
            pending = 0
    return included, pending + nones[len(expansion)]


def _extent(values: list[Any]) -> tuple[int | None, int | None]:
    start = end = None
    for c in values:
        if c.__class__ is _Reduced:
            if c.start is not None:
                start = c.start
                break
        elif c is not None:
            start = c.start_pos
            break
    for c in reversed(values):
        if c.__class__ is _Reduced:
            if c.end is not None:
                end = c.end
                break
        elif c is not None:
            end = c.end_pos
            break
    return start, end


def _reduction(rule: Rule, max_depth: int) -> Callable[[list[Any]], Any]:
    name = rule.alias or rule.options.template_source or rule.origin.name
    included, trailing = _included(rule)
    inlined = rule.origin.name.startswith("_")
    passes_up = bool(rule.options.expand1) and not rule.alias
    if (inlined and passes_up) or (passes_up and any(expand for _, expand, _ in included)):
        raise NotImplementedError(f"rule {name}: an inlined `?rule`")  # not in this grammar
    method, with_span = _METHODS.get(name, (None, False))
    is_root = name == "start"

    def inline(values: list[Any]) -> _Reduced:
        # an `_rule`: its children (still wrapped) are spliced into the parent's
        items: list[Any] = []
        for i, expand, nones in included:
            if nones:
                items += [None] * nones
            c = values[i]
            if expand:
                if items:
                    items += c.value
                else:  # left recursion (`item*`): extend the child's list instead of copying it
                    items = c.value
            else:
                items.append(c)
        if trailing:
            items += [None] * trailing
        start, end = _extent(values)
        return _Reduced(items, start, end, 0)

    def reduce(values: list[Any]) -> Any:
        children: list[Any] = []
        height = 0
        deepest: _Reduced | None = None
        for i, expand, nones in included:
            if nones:
                children += [None] * nones
            c = values[i]
            if expand:
                for x in c.value:
                    if x.__class__ is _Reduced:
                        children.append(x.value)
                        if x.height > height:
                            height = x.height
                        if is_root and x.height >= max_depth:
                            deepest = x
                    else:
                        children.append(x)
            elif c.__class__ is _Reduced:
                children.append(c.value)
                if c.height > height:
                    height = c.height
                if is_root and c.height >= max_depth:
                    deepest = c
            else:
                children.append(c)
        if trailing:
            children += [None] * trailing
        start, end = _extent(values)
        if passes_up and len(children) == 1:
            (child,) = children
            for i, _, _ in included:
                c = values[i]
                if c.__class__ is _Reduced and c.value is child:
                    if start is not None:  # the brackets around it count for its parent
                        c.start, c.end = start, end
                    return c
            return child  # a token, or a placeholder
        builder = _current.get()
        if method is None:
            value: Any = Tree(name, children)
        elif with_span:
            if start is None or end is None:
                span = builder.source.span(0, 0)
            else:
                span = builder.source.span(start, end)
            value = method(builder, span, children)
        else:
            value = method(builder, children)
        if is_root:
            builder.too_deep_at = None if deepest is None else (deepest.first or 0)
        return _Reduced(value, start, end, height + 1)

    return inline if inlined else reduce


def parse_with(source: SourceFile, parse: Callable[[], Any]) -> Parsed:
    """Run `parse` (a parser whose callbacks are `reductions`), building the AST of `source`."""
    reset = _current.set(_Builder(source))
    try:
        root = parse()
        builder = _current.get()
    finally:
        _current.reset(reset)
    policy = root.value if root.__class__ is _Reduced else root
    return Parsed(policy, builder.sink.reports, builder.strings, builder.too_deep_at)


def build(source: SourceFile, parsed: Parsed, comments: list[Token], sink: Sink) -> ast.Policy:
    """Finish the policy AST built during the parse: report control characters in texts and then
    what the builder found (invalid literals…), and attach the comments."""
    for token in parsed.strings:
        _refuse_controls(token, source, sink)
    for args, kwargs in parsed.reports:
        sink.report(*args, **kwargs)
    policy = parsed.policy
    first = re.search(r"[^\s#][^\s]*", re.sub(r"#[^\n]*", "", source.text))
    chinese = bool(first and first.group(0) in _ZH_KEYWORDS)
    notes = tuple(ast.Comment(_token_span(source, c), str(c)) for c in comments)
    return ast.Policy(policy.span, policy.header, policy.items, chinese, notes)
