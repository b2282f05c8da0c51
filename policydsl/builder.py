"""Lark parse tree to AST; nothing else.  Spans are made here, once, from Lark's positions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import lark
from lark import Token, Transformer_NonRecursive, Tree
from lark.exceptions import GrammarError, VisitError

from policydsl import ast
from policydsl.diagnostics import Sink
from policydsl.keywords import KEYWORDS, POSTFIX_WORDS, PREFIX_WORDS, SYMBOLS
from policydsl.runtime import MAX_DIGITS, MAX_PLACES, odd_characters, shift, too_precise
from policydsl.source import SourceFile, Span
from policydsl.textsafety import UNSAFE_IN_TEXT, visible

_N = TypeVar("_N", bound=ast.Node)
_F = TypeVar("_F", bound=Callable[..., Any])

MAX_EXPR_DEPTH = 400

_QUANTITY = re.compile(
    r"(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?P<mult>亿|万|千)?(?P<suffix>元|%|‰|个月|[家人场项条次个件台套名所年月日天])?"
    r"(?:/(?P<per>.+))?$"
)
# 千, 万 and 亿 move the decimal point; shifting is exact however many digits are written.
_SHIFTS = {None: 0, "千": 3, "万": 4, "亿": 8}
_DURATIONS = {"年": "year", "个月": "month", "月": "month", "日": "day", "天": "day"}
_ZH_KEYWORDS = frozenset(zh for _, zh in KEYWORDS.values())
_DATE = re.compile(r"(\d{4})(?:-|年)(\d{1,2})(?:-|月)(\d{1,2})日?$")


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _opt_str(token: Token | None) -> str | None:
    return None if token is None else _unquote(token)


def _with_meta(method: _F) -> _F:
    """Mark a builder method that takes the node's `meta` (its position) before its children."""
    method._with_meta = True  # type: ignore[attr-defined]
    return method


class _Builder(Transformer_NonRecursive[Token, Any]):
    def __init__(self, source: SourceFile, sink: Sink) -> None:
        super().__init__(visit_tokens=False)  # no method handles a token by its terminal name
        self.source = source
        self.sink = sink
        self.depth: dict[int, int] = {}
        self.too_deep = False

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        # Lark's `v_args(meta=True)` makes a new wrapper object (with functools.update_wrapper) on
        # every call; here the methods are found once per rule name and called with the meta directly
        children = new_children if new_children is not None else tree.children
        try:
            method, with_meta = _METHODS[tree.data]
        except KeyError:
            return self.__default__(tree.data, children, tree.meta)  # type: ignore[no-untyped-call]
        try:
            return method(self, tree.meta, children) if with_meta else method(self, children)
        except GrammarError:
            raise
        except Exception as exc:
            raise VisitError(tree.data, tree, exc) from exc  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ spans and helpers
    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return self.source.span(0, 0)
        return self.source.span(meta.start_pos, meta.end_pos)

    def _tok(self, token: Token) -> Span:
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start
        return self.source.span(start, end)

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(self._tok(token), str(token))

    def _idents(self, node: Any) -> tuple[ast.Ident, ...]:
        return tuple(node)

    def _deep(self, node: _N, *children: Any) -> _N:
        depth = 1 + max((self.depth.get(id(c), 0) for c in children), default=0)
        self.depth[id(node)] = depth
        if depth > MAX_EXPR_DEPTH and not self.too_deep:
            self.too_deep = True
            self.sink.report(
                "E005", f"an expression nests more than {MAX_EXPR_DEPTH} operations deep", node.span
            )
        return node

    def _date(self, token: Token) -> datetime.date | None:
        m = _DATE.match(str(token))
        if m:
            try:
                return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                pass
        self.sink.report("E006", f"`{token}` is not a calendar date", self._tok(token))
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
            if not m.group("num").isascii():  # `৪0万` reads as 40万 and looks like 80万
                self.sink.report("E006", f"{odd_characters(m.group('num'))}; write digits 0-9", span)
                written = Decimal(0)  # keep the unit, so that no error follows from this one
        except InvalidOperation:
            self.sink.report("E006", f"`{text}` is not a number", span)
            return ast.Number(span, Decimal(0), text)
        places = _SHIFTS[m.group("mult")]
        if written and written.adjusted() + places >= MAX_DIGITS:
            message = f"`{text}` is too large; figures are limited to {MAX_DIGITS} digits"
            self.sink.report("E006", message, span)
            written = Decimal(0)  # keep the unit, so that no error follows from this one
        elif too_precise(written, places):
            message = f"`{text}` is too precise; figures have at most {MAX_PLACES} decimal places"
            self.sink.report("E006", message, span)
            written = Decimal(0)
        number = shift(written, places)
        mult, suffix, per = m.group("mult"), m.group("suffix"), m.group("per")
        if per is not None:
            if suffix not in (None, "元"):
                self.sink.report(
                    "E006", f"`{text}`: only money can be given per unit", span, hint="write `5万/家`"
                )
            return ast.PerUnit(span, number, per, text)
        if suffix == "元" or (suffix is None and mult is not None):
            return ast.Money(span, number, text)
        if suffix in ("%", "‰"):
            if mult is not None:
                self.sink.report("E006", f"`{text}` mixes 万/亿 with a percentage", span)
            return ast.Percent(span, shift(number, -2 if suffix == "%" else -3), text)
        if suffix in _DURATIONS:
            if mult is not None or number != number.to_integral_value():
                self.sink.report(
                    "E006", f"`{text}`: a duration is a whole number of years, months or days", span
                )
            return ast.Duration(span, int(number), _DURATIONS[suffix], text)
        if suffix is not None:
            return ast.Count(span, number, suffix, text)
        return ast.Number(span, number, text)

    def ratio(self, children: list[Any]) -> ast.Expr:
        (token,) = children
        left, right = str(token).split(":")
        span = self._tok(token)
        if Decimal(right) == 0:
            self.sink.report("E006", f"`{token}`: a ratio's second number cannot be 0", span)
            return ast.Ratio(span, Decimal(left), Decimal(1), str(token))
        return ast.Ratio(span, Decimal(left), Decimal(right), str(token))

    @_with_meta
    def date(self, meta: Any, children: list[Any]) -> ast.Expr:
        (token,) = children
        value = self._date(token) or datetime.date(1970, 1, 1)
        return ast.DateLit(self._span(meta), value, str(token))

    @_with_meta
    def true_(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.Bool(self._span(meta), True)

    @_with_meta
    def false_(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.Bool(self._span(meta), False)

    @_with_meta
    def dotted(self, meta: Any, children: list[Any]) -> ast.Name:
        return ast.Name(self._span(meta), tuple(str(c) for c in children))

    def name(self, children: list[Any]) -> ast.Name:
        (node,) = children
        return node  # type: ignore[no-any-return]

    @_with_meta
    def unset(self, meta: Any, children: list[Any]) -> ast.Unset:
        return ast.Unset(self._span(meta))

    # ------------------------------------------------------------------ expressions
    @_with_meta
    def binop(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, op, right = children
        symbol = str(op.children[0])
        canonical = {"×": "*", "÷": "/"}.get(symbol, symbol)
        return self._deep(ast.BinOp(self._span(meta), canonical, left, right, symbol), left, right)

    @_with_meta
    def negate(self, meta: Any, children: list[Any]) -> ast.Expr:
        (operand,) = children
        return self._deep(ast.Negate(self._span(meta), operand), operand)

    @_with_meta
    def compare(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, bound = children
        node = ast.Compare(self._span(meta), bound.op, left, bound.value, bound.word, bound.postfix)
        return self._deep(node, left, bound.value)

    @_with_meta
    def tail_prefix(self, meta: Any, children: list[Any]) -> ast.Bound:
        word_tree, value = children
        word = str(word_tree.children[0])
        op = SYMBOLS.get(word) or PREFIX_WORDS[word]
        return ast.Bound(self._span(meta), op, value, word, False)

    @_with_meta
    def tail_postfix(self, meta: Any, children: list[Any]) -> ast.Bound:
        value, word_tree = children
        word = str(word_tree.children[0])
        return ast.Bound(self._span(meta), POSTFIX_WORDS[word], value, word, True)

    def bound(self, children: list[Any]) -> ast.Bound:
        return children[0]  # type: ignore[no-any-return]

    @_with_meta
    def member(self, meta: Any, children: list[Any]) -> ast.Expr:
        subject, names = children
        return self._deep(ast.Member(self._span(meta), subject, names), subject)

    @_with_meta
    def and_(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.And(self._span(meta), left, right), left, right)

    @_with_meta
    def or_(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.Or(self._span(meta), left, right), left, right)

    @_with_meta
    def not_(self, meta: Any, children: list[Any]) -> ast.Expr:
        (operand,) = children
        return self._deep(ast.Not(self._span(meta), operand), operand)

    @_with_meta
    def implies(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, right = children
        return self._deep(ast.Implies(self._span(meta), left, right), left, right)

    def expr_list(self, children: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(c for c in children if c is not None)

    @_with_meta
    def min_(self, meta: Any, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(self._span(meta), "min", args), *args)

    @_with_meta
    def max_(self, meta: Any, children: list[Any]) -> ast.Expr:
        (args,) = children
        return self._deep(ast.Call(self._span(meta), "max", args), *args)

    @_with_meta
    def since(self, meta: Any, children: list[Any]) -> ast.Expr:
        (arg,) = children
        return self._deep(ast.Call(self._span(meta), "since", (arg,)), arg)

    @_with_meta
    def table(self, meta: Any, children: list[Any]) -> ast.Expr:
        subject, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Table(self._span(meta), self._ident(subject), rows), *(r.value for r in rows))

    @_with_meta
    def table_entry(self, meta: Any, children: list[Any]) -> ast.TableEntry:
        key, value = children
        return ast.TableEntry(self._span(meta), self._ident(key), value)

    @_with_meta
    def table_otherwise(self, meta: Any, children: list[Any]) -> ast.TableEntry:
        (value,) = children
        return ast.TableEntry(self._span(meta), None, value)

    @_with_meta
    def band(self, meta: Any, children: list[Any]) -> ast.Expr:
        subject, *entries = children
        rows = tuple(e for e in entries if e is not None)
        return self._deep(ast.Band(self._span(meta), subject, rows), subject, *(r.value for r in rows))

    @_with_meta
    def band_entry(self, meta: Any, children: list[Any]) -> ast.BandEntry:
        bounds, value = children
        return ast.BandEntry(self._span(meta), bounds, value)

    @_with_meta
    def band_otherwise(self, meta: Any, children: list[Any]) -> ast.BandEntry:
        (value,) = children
        return ast.BandEntry(self._span(meta), None, value)

    def band_cond(self, children: list[Any]) -> tuple[ast.Bound, ...]:
        return tuple(children)

    def name_list(self, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ------------------------------------------------------------------ header
    @_with_meta
    def policy_header(self, meta: Any, children: list[Any]) -> ast.Header:
        title, *items = children
        fields: dict[str, Any] = {}
        for key, value, span in items:
            if key in fields:
                self.sink.report("E102", f"the header gives `{key}` twice", span)
            fields[key] = value
        return ast.Header(
            self._span(meta),
            _unquote(title),
            fields.get("issuer"),
            fields.get("docno"),
            fields.get("issued"),
            fields.get("valid"),
            fields.get("source"),
            fields.get("rounding"),
            fields.get("cite"),
            tuple((key, span) for key, _, span in items),
        )

    @_with_meta
    def h_issuer(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return ("issuer", _unquote(children[0]), self._span(meta))

    @_with_meta
    def h_docno(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return ("docno", _unquote(children[0]), self._span(meta))

    @_with_meta
    def h_source(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return ("source", _unquote(children[0]), self._span(meta))

    @_with_meta
    def h_cite(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return ("cite", children[0], self._span(meta))

    @_with_meta
    def h_issued(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return ("issued", children[0], self._span(meta))

    def date_or_unset(self, children: list[Any]) -> datetime.date | None:
        return self._date(children[0]) if children and children[0] is not None else None

    @_with_meta
    def h_valid(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        start, (end, duration) = children
        return ("valid", ast.Validity(self._span(meta), start, end, duration), self._span(meta))

    def start_date(self, children: list[Any]) -> datetime.date | None:
        return self._date(children[0])

    def start_issued(self, children: list[Any]) -> str:
        return "issued"

    def start_unset(self, children: list[Any]) -> None:
        return None

    def end_date(self, children: list[Any]) -> tuple[datetime.date | None, None]:
        return (self._date(children[0]), None)

    def end_duration(self, children: list[Any]) -> tuple[None, ast.Duration | None]:
        value = self._quantity(children[0])
        if not isinstance(value, ast.Duration):
            self.sink.report("E006", f"`{children[0]}` is not a duration such as `3年`", value.span)
            return (None, None)
        return (None, value)

    @_with_meta
    def h_rounding(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        unit, mode = children
        return (
            "rounding",
            ast.Rounding(self._span(meta), self._ident(unit), self._ident(mode)),
            self._span(meta),
        )

    def cite_(self, children: list[Any]) -> str:
        return _unquote(children[0])

    # ------------------------------------------------------------------ declarations
    @_with_meta
    def kind_decl(self, meta: Any, children: list[Any]) -> ast.KindDecl:
        name, label = children
        return ast.KindDecl(self._span(meta), self._ident(name), _opt_str(label))

    @_with_meta
    def enum_decl(self, meta: Any, children: list[Any]) -> ast.EnumDecl:
        name, label, *members = children
        return ast.EnumDecl(
            self._span(meta), self._ident(name), _opt_str(label), tuple(m for m in members if m is not None)
        )

    @_with_meta
    def enum_member(self, meta: Any, children: list[Any]) -> ast.EnumMember:
        name, label = children
        return ast.EnumMember(self._span(meta), self._ident(name), _opt_str(label))

    @_with_meta
    def type_ref(self, meta: Any, children: list[Any]) -> ast.TypeRef:
        name, unit = children
        return ast.TypeRef(self._span(meta), self._ident(name), None if unit is None else self._ident(unit))

    @_with_meta
    def fact_decl(self, meta: Any, children: list[Any]) -> ast.FactDecl:
        name, label, type_ref, *bounds = children
        return ast.FactDecl(self._span(meta), self._ident(name), _opt_str(label), type_ref, tuple(bounds))

    @_with_meta
    def param_single(self, meta: Any, children: list[Any]) -> ast.ParamDecl:
        name, label, type_ref, value, cite = children
        version = ast.ParamVersion(self._span(meta), None, value, cite)
        return ast.ParamDecl(self._span(meta), self._ident(name), _opt_str(label), type_ref, (version,))

    @_with_meta
    def param_versions(self, meta: Any, children: list[Any]) -> ast.ParamDecl:
        name, label, type_ref, *versions = children
        return ast.ParamDecl(self._span(meta), self._ident(name), _opt_str(label), type_ref, tuple(versions))

    @_with_meta
    def param_version(self, meta: Any, children: list[Any]) -> ast.ParamVersion:
        start, value, cite = children
        return ast.ParamVersion(self._span(meta), self._date(start), value, cite)

    @_with_meta
    def assume_decl(self, meta: Any, children: list[Any]) -> ast.Assume:
        cond, label = children
        return ast.Assume(self._span(meta), cond, _opt_str(label))

    @_with_meta
    def eligibility(self, meta: Any, children: list[Any]) -> ast.Eligibility:
        return ast.Eligibility(self._span(meta), tuple(children))

    @_with_meta
    def requirement(self, meta: Any, children: list[Any]) -> ast.Requirement:
        cond, reason, cite = children
        return ast.Requirement(self._span(meta), cond, _opt_str(reason), cite)

    # ------------------------------------------------------------------ measures
    @_with_meta
    def measure(self, meta: Any, children: list[Any]) -> ast.Measure:
        name, label, cite, *items = children
        return ast.Measure(self._span(meta), self._ident(name), _opt_str(label), cite, tuple(items))

    @_with_meta
    def applicants(self, meta: Any, children: list[Any]) -> ast.Applicants:
        return ast.Applicants(self._span(meta), children[0])

    @_with_meta
    def pays(self, meta: Any, children: list[Any]) -> ast.Pays:
        return ast.Pays(self._span(meta), children[0])

    def _clause(self, kind: str, meta: Any, children: list[Any]) -> ast.Clause:
        name_part, exception, amount, *rest = children
        cite = rest.pop()
        name, label = name_part if name_part is not None else (None, None)
        target, priority = exception if exception is not None else (None, None)
        return ast.Clause(self._span(meta), kind, name, label, target, priority, amount, tuple(rest), cite)

    @_with_meta
    def award_clause(self, meta: Any, children: list[Any]) -> ast.Clause:
        return self._clause("award", meta, children)

    @_with_meta
    def bonus_clause(self, meta: Any, children: list[Any]) -> ast.Clause:
        return self._clause("bonus", meta, children)

    def clause_name(self, children: list[Any]) -> tuple[ast.Ident, str | None]:
        name, label = children
        return self._ident(name), _opt_str(label)

    def exception_of(self, children: list[Any]) -> tuple[ast.Ident, int | None]:
        name, priority = children
        if priority is None:
            return self._ident(name), None
        value = self._quantity(priority)
        if not isinstance(value, ast.Number) or value.value != value.value.to_integral_value():
            self.sink.report("E006", f"a priority is a whole number, not `{priority}`", value.span)
            return self._ident(name), None
        return self._ident(name), int(value.value)

    @_with_meta
    def ceiling_amount(self, meta: Any, children: list[Any]) -> ast.Amount:
        expr, *caps = children
        return ast.Amount(self._span(meta), "ceiling", expr, tuple(caps))

    @_with_meta
    def determined_amount(self, meta: Any, children: list[Any]) -> ast.Amount:
        expr, *caps = children
        return ast.Amount(self._span(meta), "determined", expr, tuple(caps))

    @_with_meta
    def unset_amount(self, meta: Any, children: list[Any]) -> ast.Amount:
        return ast.Amount(self._span(meta), "unset", None, tuple(children))

    def cap(self, children: list[Any]) -> ast.Expr:
        return children[0]  # type: ignore[no-any-return]

    @_with_meta
    def cond_if(self, meta: Any, children: list[Any]) -> ast.Condition:
        return ast.Condition(self._span(meta), children[0], False)

    @_with_meta
    def cond_unless(self, meta: Any, children: list[Any]) -> ast.Condition:
        return ast.Condition(self._span(meta), children[0], True)

    @_with_meta
    def exclusion(self, meta: Any, children: list[Any]) -> ast.Exclusion:
        cond, reason, cite = children
        return ast.Exclusion(self._span(meta), cond, _opt_str(reason), cite)

    @_with_meta
    def preference(self, meta: Any, children: list[Any]) -> ast.Preference:
        cond, reason, cite = children
        return ast.Preference(self._span(meta), cond, _opt_str(reason), cite)

    @_with_meta
    def funding_limit(self, meta: Any, children: list[Any]) -> ast.FundingLimit:
        limit, counting, cite = children
        return ast.FundingLimit(self._span(meta), limit, counting, cite)

    @_with_meta
    def quota(self, meta: Any, children: list[Any]) -> ast.Quota:
        count, rank, cite = children
        value = self._quantity(count)
        number = value.value if isinstance(value, ast.Number | ast.Count) else Decimal(-1)
        if number < 0 or number != number.to_integral_value():
            self.sink.report("E006", f"a quota is a whole number of applicants, not `{count}`", value.span)
            number = Decimal(0)
        return ast.Quota(self._span(meta), int(number), rank, cite)

    @_with_meta
    def group_cap(self, meta: Any, children: list[Any]) -> ast.GroupCap:
        amount, per, allocate, cite = children
        return ast.GroupCap(
            self._span(meta),
            amount,
            self._ident(per),
            None if allocate is None else self._ident(allocate),
            cite,
        )

    @_with_meta
    def budget(self, meta: Any, children: list[Any]) -> ast.Budget:
        amount, cite = children
        return ast.Budget(self._span(meta), amount, cite)

    @_with_meta
    def instalment(self, meta: Any, children: list[Any]) -> ast.Instalment:
        name, label, share, cond, cite = children
        return ast.Instalment(self._span(meta), self._ident(name), _opt_str(label), share, cond, cite)

    def share(self, children: list[Any]) -> ast.Expr:
        return children[0]  # type: ignore[no-any-return]

    def rest(self, children: list[Any]) -> None:
        return None

    @_with_meta
    def no_clawback(self, meta: Any, children: list[Any]) -> ast.NoClawback:
        return ast.NoClawback(self._span(meta), children[0])

    # ------------------------------------------------------------------ across measures
    @_with_meta
    def combine_decl(self, meta: Any, children: list[Any]) -> ast.Combine:
        mode, names, cite, reason = children
        return ast.Combine(self._span(meta), self._ident(mode), names, cite, _opt_str(reason))

    @_with_meta
    def total_cap_decl(self, meta: Any, children: list[Any]) -> ast.TotalCap:
        amount, names, cite = children
        return ast.TotalCap(self._span(meta), amount, names, cite)

    @_with_meta
    def acknowledge(self, meta: Any, children: list[Any]) -> ast.Acknowledge:
        code, *targets, reason = children
        return ast.Acknowledge(
            self._span(meta), self._ident(code), tuple(t for t in targets if t is not None), _unquote(reason)
        )

    # ------------------------------------------------------------------ examples
    @_with_meta
    def example(self, meta: Any, children: list[Any]) -> ast.Example:
        name, date, given, *expectations = children
        return ast.Example(
            self._span(meta),
            _unquote(name),
            None if date is None else self._date(date),
            given,
            tuple(expectations),
        )

    def given(self, children: list[Any]) -> tuple[ast.Binding, ...]:
        return tuple(c for c in children if c is not None)

    @_with_meta
    def binding(self, meta: Any, children: list[Any]) -> ast.Binding:
        name, value = children
        return ast.Binding(self._span(meta), self._ident(name), value)

    @_with_meta
    def text_binding(self, meta: Any, children: list[Any]) -> ast.Binding:
        name, text = children
        return ast.Binding(self._span(meta), self._ident(name), ast.Text(self._tok(text), _unquote(text)))

    @_with_meta
    def expectation(self, meta: Any, children: list[Any]) -> ast.Expectation:
        target, (kind, value) = children
        return ast.Expectation(self._span(meta), target, kind, value)

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
    @_with_meta
    def start(self, meta: Any, children: list[Any]) -> ast.Policy:
        headers = [c for c in children if isinstance(c, ast.Header)]
        for extra in headers[1:]:
            self.sink.report("E102", "a file has one policy header; this is a second", extra.span)
        items = tuple(c for c in children if not isinstance(c, ast.Header))
        span = self.source.span(0, len(self.source.text))
        return ast.Policy(span, headers[0] if headers else None, items, False, ())


# rule name -> (the builder's method, whether it takes the meta)
_METHODS: dict[str, tuple[Callable[..., Any], bool]] = {
    name: (method, getattr(method, "_with_meta", False))
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
            "E006",
            f"text holds the control character {visible(found.group(0))}",
            source.span(start, start + 1),
            hint="delete it; write `\\n` for a line break in a label",
        )


def build(source: SourceFile, tree: lark.Tree[Token], comments: list[Token], sink: Sink) -> ast.Policy:
    """Turn a parse tree into the policy AST, reporting invalid literals into `sink`."""
    builder = _Builder(source, sink)
    for token in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "STRING"):
        _refuse_controls(token, source, sink)
    policy: ast.Policy = builder.transform(tree)
    first = re.search(r"[^\s#][^\s]*", re.sub(r"#[^\n]*", "", source.text))
    chinese = bool(first and first.group(0) in _ZH_KEYWORDS)
    notes = tuple(ast.Comment(builder._tok(c), str(c)) for c in comments)
    return ast.Policy(policy.span, policy.header, policy.items, chinese, notes)
