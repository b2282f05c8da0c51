"""Names, types and units: resolve every name and give every expression a type, or report why not."""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Iterable, Sequence
from typing import assert_never

import attrs

from policydsl import codes
from policydsl.checking import types as T
from policydsl.checking.model import Model
from policydsl.checking.types import Symbol, Type
from policydsl.diagnostics import Fix, Note, Sink
from policydsl.source import Span
from policydsl.syntax import ast
from policydsl.syntax.keywords import (
    ALLOCATIONS,
    APPLICANT_FACT,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    POINTS,
    POSTFIX_WORDS,
    POT_ALLOCATIONS,
    PREFIX_WORDS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    TYPE_NAMES,
    UNITS,
)
from policydsl.syntax.parser import MAX_DEPTH

# A duration is only ever compared with the time since a date (`since(established) 届满 1年`) or
# added to a date; it is not a number to compute with.
_DURATION_HINT = "write one duration, such as `18个月`, and compare the time since a date with it"


_GLUE_WORDS = sorted(
    {zh for _, zh in KEYWORDS.values()} | set(PREFIX_WORDS) | set(POSTFIX_WORDS), key=len, reverse=True
)


_RESERVED = frozenset(w for pair in KEYWORDS.values() for w in pair) | set(PREFIX_WORDS) | set(POSTFIX_WORDS)


# Rules a measure states at most once (see `Checker.single_rules`).
_SINGLE_RULES: tuple[tuple[type[ast.MeasureItem], str], ...] = (
    (ast.FundingLimit, "a funding limit"),
    (ast.Quota, "a quota"),
    (ast.GroupCap, "a group cap"),
    (ast.Budget, "a budget"),
    (ast.Population, "an expected number"),
    (ast.NoClawback, "no_clawback"),
)


def _suggest(word: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    for glue in _GLUE_WORDS:
        if len(word) > len(glue) and (word.startswith(glue) or word.endswith(glue) or glue in word):
            return f"`{word}` reads as one name; put spaces around the keyword `{glue}`"
    return None


def _names(expr: ast.Node) -> list[ast.Name]:
    """Every name an expression reads."""
    found: list[ast.Name] = []
    stack: list[object] = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            found.append(item)
        elif isinstance(item, ast.Node):
            for field in attrs.fields(type(item)):
                child = getattr(item, field.name)
                stack.extend(child if isinstance(child, tuple) else [child])
    return found


def describe(ty: Type) -> str:
    """A type in the words of a message: `an amount of money`, `a count of 家`…"""
    match ty.kind:
        case "money":
            return "an amount of money"
        case "percent":
            return "a percentage"
        case "number":
            return "a plain number"
        case "count":
            return f"a count of {ty.unit}" if ty.unit else "a count"
        case "per_unit":
            return f"an amount per {ty.unit}"
        case "bool":
            return "a true/false value"
        case "date":
            return "a date"
        case "duration":
            return "a duration"
        case "text":
            return "a text"
        case "enum" if ty.enum == T.APPLICANT_ENUM:
            return "an applicant kind"
        case "enum":
            return f"a value of `{ty.enum}`"
    return str(ty)


def _literal_hint(ty: Type) -> str | None:
    """How to write a literal of type `ty`, for hints."""
    match ty.kind:
        case "money":
            return "write the figure as an amount such as `2000万` or `200000元`"
        case "percent":
            return "write a percentage such as `60%`"
        case "count":
            return f"write the number with its unit, such as `100{ty.unit}`" if ty.unit else None
        case "duration":
            return "write a duration such as `1年` or `6个月`"
        case "date":
            return "write a date such as `2021-05-16`"
    return None


def _values(members: Iterable[str]) -> str:
    return "its values are " + ", ".join(f"`{k}`" for k in members)


def _is_zero(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Number) and expr.value == 0


# a plain `0` beside an operand of one of these kinds takes its unit (`max(x - 1000万, 0)`)
_ZERO_TAKES = ("money", "percent", "count")


def _literal_sign(expr: ast.Expr) -> int | None:
    """-1, 0 or 1 for a figure written as a literal (`100万`, `-5`, `0`), None for anything else."""
    match expr:
        case ast.Money() | ast.Percent() | ast.Count() | ast.Number():
            return (expr.value > 0) - (expr.value < 0)
        case ast.Negate():
            inner = _literal_sign(expr.operand)
            return None if inner is None else -inner
    return None


class _Checker:
    def __init__(self, policy: ast.Policy, sink: Sink) -> None:
        self.policy = policy
        self.sink = sink
        self.model = Model(policy)
        self.defined: dict[str, Span] = {}
        self.since_compared: set[int] = set()  # since() calls that are the left side of a comparison
        self.in_example = False
        self.units: dict[str, Span] = {}  # the units the policy declares
        # a schedule by year stands in a clause's amount or cap, outside the rows of a table, band,
        # brackets or another schedule: its years become a condition of the whole clause
        self.schedule_allowed = False
        self.pot_of: dict[str, ast.Pot] = {}  # measure -> the pot it draws on

    # ------------------------------------------------------------------ declarations
    def reserved(self, ident: ast.Ident, what: str) -> None:
        # Keywords are reserved only where the grammar can take them, so `fact if` parses; but
        # the name could not be used where the keyword is expected (`expect total`, `其他:`).
        if ident.text in _RESERVED:
            self.sink.report(
                codes.E208,
                f"`{ident.text}` is a keyword and cannot name a {what}",
                ident.span,
                hint="choose another name; docs/language.md lists the keywords",
            )

    def define(self, ident: ast.Ident, what: str) -> bool:
        self.reserved(ident, what)
        first = self.defined.get(ident.text)
        if first is not None:
            self.sink.report(
                codes.E102,
                f"`{ident.text}` is already defined",
                ident.span,
                notes=[Note("first defined here", first)],
            )
            return False
        self.defined[ident.text] = ident.span
        return True

    def declare_units(self) -> None:
        for decl in self.policy.of(ast.UnitDecl):
            name = decl.name.text
            first = self.units.get(name)
            if name in UNITS:
                message = f"`{name}` is a built-in unit; it needs no declaration"
                self.sink.report(codes.E208, message, decl.name.span, hint="delete this line")
            elif name[0] in "亿万千" or name.startswith(
                UNITS + POINTS + ("元", "个月", "年", "月", "日", "天")
            ):
                # `50万吨` is 500000 吨 and `5人次` reads as 5人: such a unit could not be written
                message = f"a unit cannot begin with `{name[0]}`: `50{name}` would read as another unit"
                self.sink.report(codes.E208, message, decl.name.span, hint="choose another name for the unit")
            elif first is not None:
                note = Note("first declared here", first)
                self.sink.report(
                    codes.E102, f"unit `{name}` is already declared", decl.name.span, notes=[note]
                )
            else:
                self.reserved(decl.name, "unit")
                self.units[name] = decl.name.span

    def unit(self, unit: str | None, span: Span) -> None:
        """Report a unit that is neither built in nor declared."""
        if unit is None or unit in UNITS or unit in self.units:
            return
        hint = (
            _suggest(unit, [*UNITS, *self.units]) or f"declare it: `declare_unit {unit}` (`计量单位 {unit}`)"
        )
        self.sink.report(codes.E103, f"unknown unit `{unit}`", span, hint=hint)

    def declare(self) -> None:
        self.declare_units()
        kinds = self.policy.of(ast.KindDecl)
        if kinds:
            members: dict[str, T.EnumValueSym] = {}
            for k in kinds:
                if self.define(k.name, "kind"):
                    label = k.label or k.name.text
                    members[k.name.text] = T.EnumValueSym(T.APPLICANT_ENUM, k.name.text, label)
            self.model.enums[T.APPLICANT_ENUM] = members
            sym = T.FactSym(APPLICANT_FACT[0], T.enum(T.APPLICANT_ENUM), None)
            for spelling in APPLICANT_FACT:
                self.model.facts[spelling] = sym
        for e in self.policy.of(ast.EnumDecl):
            if not self.define(e.name, "enum"):
                continue
            values: dict[str, T.EnumValueSym] = {}
            for member in e.members:
                self.reserved(member.name, "value")
                text = member.name.text
                if text in values:
                    where = next(x.name.span for x in e.members if x.name.text == text)
                    first = Note("first listed here", where)
                    message = f"`{text}` appears twice in enum `{e.name.text}`"
                    self.sink.report(codes.E102, message, member.name.span, notes=[first])
                values[text] = T.EnumValueSym(e.name.text, text, member.label or text)
            self.model.enums[e.name.text] = values
        for f in self.policy.of(ast.FactDecl):
            if self.define(f.name, "fact"):
                self.model.facts[f.name.text] = T.FactSym(f.name.text, self.resolve_type(f.type), f)
        for p in self.policy.of(ast.ParamDecl):
            if self.define(p.name, "param"):
                self.model.params[p.name.text] = T.ParamSym(p.name.text, self.resolve_type(p.type), p)
        for m in self.policy.of(ast.Measure):
            if self.define(m.name, "measure"):
                self.model.measures[m.name.text] = m

    def resolve_type(self, ref: ast.TypeRef) -> Type:
        name = ref.name.text
        if name in self.model.enums and name != T.APPLICANT_ENUM:
            return T.enum(name)
        canonical = TYPE_NAMES.get(name)
        if canonical is None:
            known = list(TYPE_NAMES) + [e for e in self.model.enums if e != T.APPLICANT_ENUM]
            hint = _suggest(name, known) or "a type is " + ", ".join(f"`{k}`" for k in known if k.isascii())
            self.sink.report(codes.E103, f"unknown type `{name}`", ref.name.span, hint=hint)
            return T.ERROR
        if canonical == "count":
            if ref.unit is None:
                hint = f"write `{name} 家` (or 人, 场, 项, 条, 次…)"
                self.sink.report(codes.E208, "a count needs its unit", ref.span, hint=hint)
                return T.count(None)
            self.unit(ref.unit.text, ref.unit.span)
            return T.count(ref.unit.text)
        if ref.unit is not None:
            self.sink.report(codes.E208, f"only a count has a unit; `{name}` does not", ref.unit.span)
        return Type(canonical)

    # ------------------------------------------------------------------ expressions
    def set(self, node: ast.Node, ty: Type) -> Type:
        self.model.types[id(node)] = ty
        return ty

    def name(self, node: ast.Name, expected: Type | None = None) -> Type:
        text = node.text
        sym: Symbol | None = self.model.facts.get(text) or self.model.params.get(text)
        if expected is not None and expected.kind == "enum" and expected.enum is not None:
            # where an enum value is expected, a value of that enum wins over a fact or parameter of
            # the same name but another type (`fact cluster: text` and `enum kind { cluster }`)
            member = self.model.enums.get(expected.enum, {}).get(text)
            if member is not None and (sym is None or sym.type != expected):
                sym = member
        if sym is None and len(node.parts) == 2:
            sym = self.model.enums.get(node.parts[0], {}).get(node.parts[1])
        if sym is None:
            owners = [vals[text] for vals in self.model.enums.values() if text in vals]
            if len(owners) == 1:
                sym = owners[0]
        if sym is None:
            known = list(self.model.facts) + list(self.model.params)
            if expected is not None and expected.kind == "enum" and expected.enum is not None:
                known = list(self.model.enums.get(expected.enum, {}))
                self.sink.report(
                    codes.E104,
                    f"`{text}` is not a value of `{expected.enum}`",
                    node.span,
                    hint=_suggest(text, known) or "its values are " + ", ".join(f"`{k}`" for k in known),
                )
            else:
                hint = _suggest(text, known) or f'declare it: `fact {text} "…": money` (or another type)'
                self.sink.report(codes.E101, f"unknown name `{text}`", node.span, hint=hint)
            return self.set(node, T.ERROR)
        self.model.refs[id(node)] = sym
        return self.set(node, sym.type)

    def expr(self, node: ast.Expr, expected: Type | None = None) -> Type:
        match node:
            case ast.Money():
                return self.set(node, T.MONEY)
            case ast.Percent():
                # an applicant's figure above 100% (a completion rate of 120%) is no drafting slip
                if node.value > 1 and not self.in_example:
                    self.sink.report(
                        codes.W210,
                        f"`{node.text}` is more than 100%",
                        node.span,
                        hint="a share above 100% pays more than the whole; check the figure against the text",
                    )
                return self.set(node, T.PERCENT)
            case ast.Ratio():
                return self.set(node, T.PERCENT)
            case ast.Count():
                self.unit(node.unit, node.span)
                return self.set(node, T.count(node.unit))
            case ast.PerUnit():
                self.unit(node.unit, node.span)
                return self.set(node, T.per_unit(node.unit))
            case ast.Duration():
                return self.set(node, T.DURATION)
            case ast.Number():
                return self.set(node, T.NUMBER)
            case ast.DateLit():
                return self.set(node, T.DATE)
            case ast.Bool():
                return self.set(node, T.BOOL)
            case ast.Name():
                return self.name(node, expected)
            case ast.Negate():
                ty = self.expr(node.operand)
                if ty.kind not in ("error",) and (not ty.numeric or ty.kind == "duration"):
                    self.sink.report(codes.E201, f"cannot negate {describe(ty)}", node.span)
                    return self.set(node, T.ERROR)
                return self.set(node, ty)
            case ast.BinOp():
                return self.set(node, self.binop(node))
            case ast.Compare():
                self.compare(node.left, node.op, node.right, node.span, node.word)
                return self.set(node, T.BOOL)
            case ast.Member():
                subject = self.expr(node.subject)
                if subject.kind not in ("enum", "error"):
                    self.sink.report(
                        codes.E202,
                        f"`in [...]` tests a value of an enum, but this is {describe(subject)}",
                        node.subject.span,
                    )
                elif subject.kind == "enum":
                    self.enum_keys(subject, node.values)
                return self.set(node, T.BOOL)
            case ast.And() | ast.Or() | ast.Implies():
                self.condition(node.left)
                self.condition(node.right)
                return self.set(node, T.BOOL)
            case ast.Not():
                self.condition(node.operand)
                return self.set(node, T.BOOL)
            case ast.Call():
                return self.set(node, self.call(node, expected))
            case ast.Table():
                return self.set(node, self.table(node, expected))
            case ast.Band():
                return self.set(node, self.band(node, expected))
            case ast.Brackets():
                return self.set(node, self.brackets(node))
            case ast.Schedule():
                return self.set(node, self.schedule(node, expected))
            case _:
                assert_never(node)

    def enum_keys(self, subject: Type, keys: Iterable[ast.Ident]) -> None:
        assert subject.enum is not None
        members = self.model.enums.get(subject.enum, {})
        seen: set[str] = set()
        for key in keys:
            if key.text not in members:
                self.sink.report(
                    codes.E104,
                    f"`{key.text}` is not a value of `{subject.enum}`",
                    key.span,
                    hint=_suggest(key.text, members) or _values(members),
                )
            elif key.text in seen:
                self.sink.report(codes.E102, f"`{key.text}` is listed twice", key.span)
            seen.add(key.text)

    def value(self, node: ast.Expr | ast.Unset, expected: Type | None = None) -> Type:
        """A row's value (of a table, band or schedule), where no schedule may stand."""
        if isinstance(node, ast.Unset):
            return expected or T.ERROR
        allowed, self.schedule_allowed = self.schedule_allowed, False
        try:
            return self.expr(node, expected)
        finally:
            self.schedule_allowed = allowed

    def unify(self, types: list[tuple[Type, Span]], what: str, call: bool = False) -> Type:
        """The one type of `types`; with `call`, a plain number beside a unit gets a hint."""
        known = [(t, s) for t, s in types if t.kind != "error"]
        if not known:
            return T.ERROR
        first = known[0][0]
        for ty, span in known[1:]:
            if ty != first:
                message = f"{what} mixes {describe(first)} and {describe(ty)}"
                hint = None
                if call and T.NUMBER in (first, ty):  # `max(x, 5)`: only a plain 0 takes the unit
                    hint = _literal_hint(first if ty == T.NUMBER else ty)
                self.sink.report(codes.E201, message, span, hint=hint)
                return T.ERROR
        return first

    def zeros(self, nodes: Sequence[ast.Expr], types: list[Type]) -> list[Type]:
        """`types` of `nodes`, where a plain `0` takes the unit of the others (`max(x - 1000万, 0)`)."""
        units = {t for t in types if t.kind in _ZERO_TAKES}
        if len(units) != 1:
            return types
        (unit,) = units
        pairs = zip(nodes, types, strict=True)
        return [self.set(n, unit) if t == T.NUMBER and _is_zero(n) else t for n, t in pairs]

    def call(self, node: ast.Call, expected: Type | None) -> Type:
        if node.func == "since":
            for arg in node.args[1:]:
                self.expr(arg)
            if len(node.args) != 1:
                self.sink.report(
                    codes.E204, f"`since` takes one date, not {len(node.args)} arguments", node.span
                )
                return T.DURATION
            ty = self.expr(node.args[0])
            if ty.kind not in ("date", "error"):
                self.sink.report(
                    codes.E201,
                    f"`since` needs a date, but this is {describe(ty)}",
                    node.args[0].span,
                    hint="`since(established) 届满 1年`: the time from a date fact to the evaluation date",
                )
            if id(node) not in self.since_compared:
                self.sink.report(
                    codes.E201,
                    "the time since a date can only be compared with a duration",
                    node.span,
                    hint="write it on the left of a comparison: `since(established) 届满 1年`",
                )
                return T.ERROR
            return T.DURATION
        if node.func in ("blocks", "round_down"):
            return self.whole(node)
        if node.func in ("year", "year_no"):
            return self.year(node)
        if len(node.args) < 2:
            self.sink.report(
                codes.E204,
                f"`{node.func}` takes at least two arguments, not {len(node.args)}",
                node.span,
                hint=f"`{node.func}(50% * investment, 1000万)`",
            )
        types = self.zeros(node.args, [self.expr(a, expected) for a in node.args])
        pairs = [(t, a.span) for t, a in zip(types, node.args, strict=True)]
        result = self.unify(pairs, f"`{node.func}`", call=True)
        if result.kind == "duration":
            message = f"`{node.func}` of durations cannot be computed"
            self.sink.report(codes.E201, message, node.span, hint=_DURATION_HINT)
            return T.ERROR
        return result

    def year(self, node: ast.Call) -> Type:
        """`year(d)`: the calendar year of the date d; `year_no(d)`: the year of the evaluation date
        counted from d's own year as year 1.  Both plain whole numbers (the grammar gives each
        one argument)."""
        example = f"`{node.func}(recognised)`"
        ty = self.expr(node.args[0])
        if ty.kind not in ("date", "error"):
            message = f"`{node.func}` needs a date, but this is {describe(ty)}"
            self.sink.report(codes.E201, message, node.args[0].span, hint=f"{example}, with a date fact")
            return T.ERROR
        return T.ERROR if ty.kind == "error" else T.NUMBER

    def schedule(self, node: ast.Schedule, expected: Type | None) -> Type:
        """A schedule by year: its start a date, its rows years counted from it (first to last,
        none twice), their values of one type."""
        start = self.expr(node.start)
        example = "`schedule recognised { years 1 until 2: 80%, years 3 until 5: 50% }`"
        if not self.schedule_allowed:
            message = "a schedule by year gives a clause's amount or cap, not a value here"
            hint = f"write it as the amount of an award: `award {example[1:-1]} * contribution`"
            self.sink.report(codes.E216, message, node.span, hint=hint)
        if start.kind not in ("date", "error"):
            message = f"a schedule by year counts years from a date, but this is {describe(start)}"
            self.sink.report(codes.E201, message, node.start.span, hint=example)
        taken: dict[int, ast.ScheduleEntry] = {}
        for entry in node.entries:
            if entry.last < entry.first:
                message = f"years {entry.first} until {entry.last} run backwards"
                hint = f"write the earlier year first: `第{entry.last}至{entry.first}年`"
                self.sink.report(codes.E216, message, entry.span, hint=hint)
                continue
            clash = next((taken[y] for y in range(entry.first, entry.last + 1) if y in taken), None)
            if clash is not None:
                year = next(y for y in range(entry.first, entry.last + 1) if taken.get(y) is clash)
                message = f"year {year} is in two rows of the schedule"
                notes = (Note("the other row", clash.span),)
                hint = "give each year one row: `第1至2年: 80%, 第3至5年: 50%`"
                self.sink.report(codes.E216, message, entry.span, notes=notes, hint=hint)
                continue
            taken.update((y, entry) for y in range(entry.first, entry.last + 1))
        rows = [(self.value(e.value, expected), e.value.span) for e in node.entries]
        return self.unify(rows, "a schedule by year")

    def whole(self, node: ast.Call) -> Type:
        """`blocks(x, 100万)`: how many whole 100万 in x, a plain number; `round_down(x, 1万)`: x
        rounded down to a multiple of 1万, of x's type.  The unit is more than zero."""
        types = [self.expr(a) for a in node.args]
        example = f"`{node.func}(investment - 1000万, 100万)`"
        if len(node.args) != 2:
            message = f"`{node.func}` takes an amount and a unit, not {len(node.args)} arguments"
            self.sink.report(codes.E204, message, node.span, hint=example)
            return T.ERROR
        size = node.args[1]
        written: list[tuple[ast.Expr, Span | None]] = [(size, None)]
        sym = self.model.ref(size) if isinstance(size, ast.Name) else None
        if isinstance(sym, T.ParamSym):  # a parameter's figure is as good as written here
            written += [(v.value, v.span) for v in sym.decl.versions if not isinstance(v.value, ast.Unset)]
        for value, where in written:
            sign = _literal_sign(value)
            if sign is not None and sign <= 0:
                said = "zero" if sign == 0 else "below zero"
                message = f"the unit of `{node.func}` is {said}"
                notes = (Note(f"the parameter is {said} here", where),) if where else ()
                hint = f"give the size of one block: {example}"
                self.sink.report(codes.E209, message, size.span, notes=notes, hint=hint)
                return T.ERROR
        ty = self.unify([(t, a.span) for t, a in zip(types, node.args, strict=True)], f"`{node.func}`", True)
        if ty.kind not in (*_ZERO_TAKES, "number", "error"):
            message = f"`{node.func}` counts amounts, numbers and percentages, not {describe(ty)}"
            self.sink.report(codes.E201, message, node.span, hint=example)
            return T.ERROR
        if ty.kind == "error":
            return T.ERROR
        return T.NUMBER if node.func == "blocks" else ty

    def table(self, node: ast.Table, expected: Type | None) -> Type:
        fake = ast.Name(node.subject.span, (node.subject.text,))
        subject = self.name(fake)
        if id(fake) in self.model.refs:
            self.model.refs[id(node.subject)] = self.model.refs[id(fake)]
        if subject.kind not in ("enum", "error"):
            message = f"a tier table is keyed by an enum, but this is {describe(subject)}"
            self.sink.report(codes.E202, message, node.subject.span)
        elif subject.kind == "enum":
            self.enum_keys(subject, [e.key for e in node.entries if e.key is not None])
        rows = [(self.value(e.value, expected), e.value.span) for e in node.entries]
        return self.unify(rows, "a tier table")

    def band(self, node: ast.Band, expected: Type | None) -> Type:
        subject = self.expr(node.subject)
        for entry in node.entries:
            for bound in entry.bounds or ():
                self.compare(node.subject, bound.op, bound.value, bound.span, bound.word, subject)
                facts = [n for n in _names(bound.value) if isinstance(self.model.ref(n), T.FactSym)]
                if facts:
                    self.sink.report(
                        codes.E208,
                        f"a band's thresholds are fixed figures or parameters, not facts (`{facts[0].text}`)",
                        facts[0].span,
                        hint="compare facts in clause conditions: `award … if revenue 超过 threshold`",
                    )
        rows = [(self.value(e.value, expected), e.value.span) for e in node.entries]
        return self.unify(rows, "a band table")

    def brackets(self, node: ast.Brackets) -> Type:
        """Progressive brackets: each row a range of the subject (one lower bound, one upper bound
        or both; only the first open below, only the last open above), its rate times the part of
        the subject inside it; the type is that product's."""
        subject = self.expr(node.subject)
        example = "`progressive investment { 不超过 1000万: 10%, 超过 1000万: 5% }`"
        if subject.kind not in (*_ZERO_TAKES, "number", "error"):
            message = f"progressive brackets divide an amount, a count or a number, not {describe(subject)}"
            self.sink.report(codes.E201, message, node.subject.span, hint=example)
            return T.ERROR
        last, malformed = len(node.entries) - 1, False
        for i, entry in enumerate(node.entries):
            for bound in entry.bounds:
                self.compare(node.subject, bound.op, bound.value, bound.span, bound.word, subject)
                facts = [n for n in _names(bound.value) if isinstance(self.model.ref(n), T.FactSym)]
                if facts:
                    self.sink.report(
                        codes.E208,
                        f"a bracket's limits are fixed figures or parameters, not facts (`{facts[0].text}`)",
                        facts[0].span,
                        hint="compare facts in clause conditions: `award … if revenue 超过 threshold`",
                    )
            lows = [b for b in entry.bounds if b.op in (">", ">=")]
            highs = [b for b in entry.bounds if b.op in ("<", "<=")]
            others = [b for b in entry.bounds if b.op not in (">", ">=", "<", "<=")]
            problem = None
            if others:
                problem = f"a bracket is a range of the subject; `{others[0].word}` does not bound it"
            elif len(lows) > 1 or len(highs) > 1:
                problem = "a bracket has at most one lower and one upper limit"
            elif not lows and i > 0:
                problem = "only the first bracket starts from zero; this one needs its lower limit"
            elif not highs and i < last:
                problem = "only the last bracket is open above; this one needs its upper limit"
            if problem and not malformed:  # the first bracket out of place: the others follow from it
                hint = (
                    f"write the brackets in ascending order, each from where the one before ends: {example}"
                )
                self.sink.report(codes.E212, problem, entry.span, hint=hint)
                malformed = True
        if subject.kind == "error":
            return T.ERROR
        rows = []
        allowed, self.schedule_allowed = self.schedule_allowed, False
        for entry in node.entries:  # the rate times the part of the subject inside the bracket
            part = ast.BinOp(entry.span, "*", entry.rate, node.subject, "*")
            rows.append((self.binop(part), entry.rate.span))
        self.schedule_allowed = allowed
        return self.unify(rows, "progressive brackets")

    def binop(self, node: ast.BinOp) -> Type:
        left = self.expr(node.left)
        right = self.expr(node.right)
        if "error" in (left.kind, right.kind):
            return T.ERROR
        if node.op in "+-":
            left, right = self.zeros((node.left, node.right), [left, right])
        op, a, b = node.op, left.kind, right.kind
        if op in "+-":
            if left == right and left.numeric and a not in ("per_unit", "duration"):
                return left
            if (a == "date" and b == "duration") or (op == "+" and a == "duration" and b == "date"):
                return T.DATE
            hint = None
            if {a, b} == {"money", "number"}:
                hint = _literal_hint(T.MONEY)
            elif {a, b} == {"money", "percent"}:
                hint = "a percentage of an amount is a product: `50% * investment`"
            if op == "+":
                message = f"cannot add {describe(right)} to {describe(left)}"
            else:
                message = f"cannot subtract {describe(right)} from {describe(left)}"
            if "duration" in (a, b) and "date" not in (a, b):
                hint = _DURATION_HINT
            self.sink.report(codes.E201, message, node.span, hint=hint)
            return T.ERROR
        if op == "*":
            pair = {a, b}
            if pair == {"money", "count"}:
                cnt = left if a == "count" else right
                money = node.right if a == "count" else node.left
                example = money.text if isinstance(money, ast.Money) else "100万"
                counted = node.left if a == "count" else node.right
                subject = counted.text if isinstance(counted, ast.Name) else "…"
                proposed = f"{subject} * {example}/{cnt.unit}"
                fix = None
                if isinstance(money, ast.Money) and isinstance(counted, ast.Name):
                    fix = Fix(node.span, proposed)
                self.sink.report(
                    codes.E203,
                    "a count times money needs an amount per unit",
                    node.span,
                    hint=f"write the amount per {cnt.unit}: `{proposed}`",
                    fix=fix,
                )
                return T.ERROR
            if pair == {"per_unit", "count"}:
                per, cnt = (left, right) if a == "per_unit" else (right, left)
                if per.unit != cnt.unit:
                    self.sink.report(
                        codes.E207,
                        f"the amount is per {per.unit}, but the count is of {cnt.unit}",
                        node.span,
                        hint=f"give the amount per {cnt.unit} (such as `5万/{cnt.unit}`) or count {per.unit}",
                    )
                    return T.ERROR
                return T.MONEY
            for unitful in ("money", "count", "per_unit"):
                # one side carries the unit, the other scales it: money × money means nothing
                if unitful in pair and pair <= {unitful, "percent", "number"} and not a == b == unitful:
                    return left if a == unitful else right
            if pair <= {"percent", "number"}:
                return T.PERCENT if "percent" in pair else T.NUMBER
            hint = None
            if a == b == "money":
                hint = "one side of a product is a percentage or a number: `50% * investment`"
            elif "duration" in pair:
                hint = _DURATION_HINT
            message = f"cannot multiply {describe(left)} by {describe(right)}"
            self.sink.report(codes.E201, message, node.span, hint=hint)
            return T.ERROR
        # division
        zero = isinstance(node.right, ast.Money | ast.Percent | ast.Count) and node.right.value == 0
        if _is_zero(node.right) or zero:
            self.sink.report(codes.E209, "division by zero", node.right.span)
            return T.ERROR
        if left == right and a in ("money", "count", "percent"):
            return T.PERCENT
        if b in ("number", "percent") and left.numeric and a != "duration":
            return left
        if a == "money" and b == "count":
            return T.per_unit(right.unit or "")
        if left == right == T.NUMBER:
            return T.NUMBER
        self.sink.report(codes.E201, f"cannot divide {describe(left)} by {describe(right)}", node.span)
        return T.ERROR

    def compare(
        self, left: ast.Expr, op: str, right: ast.Expr, span: Span, word: str, left_type: Type | None = None
    ) -> None:
        since = isinstance(left, ast.Call) and left.func == "since"
        if since and left_type is None:
            self.since_compared.add(id(left))
        lt = left_type if left_type is not None else self.expr(left)
        rt = self.expr(right, lt)
        if "error" in (lt.kind, rt.kind):
            return
        if lt.kind == "duration" and not (since and left_type is None):
            self.sink.report(
                codes.E202,
                "a duration is compared only with the time since a date",
                span,
                hint="`since(established) 届满 1年`",
            )
            return
        ordered = op not in ("==", "!=")
        if lt == rt:
            if ordered and lt.kind in ("enum", "bool", "text"):
                self.sink.report(
                    codes.E202,
                    f"`{word}` orders amounts, numbers and dates, but this compares {describe(lt)}",
                    span,
                    hint="test a value with `==`, or several with `in [national, provincial]`"
                    if lt.kind == "enum"
                    else None,
                )
            return
        pair = {lt.kind, rt.kind}
        if pair == {"count", "number"} or pair == {"count"}:
            if lt.unit != rt.unit and "number" not in pair:
                self.sink.report(
                    codes.E207,
                    f"cannot compare a count of {lt.unit} with a count of {rt.unit}",
                    span,
                    hint=f"write the number in {lt.unit}, such as `100{lt.unit}`",
                )
            return
        zero = _is_zero(left) or _is_zero(right)
        if "number" in pair and zero and pair <= {"number", "money", "percent"}:
            return
        hint = _literal_hint(lt) if rt.kind in ("number", "count", "money", "percent") else None
        if lt.kind == "date" and rt.kind == "duration":
            hint = "for the time since a date write `since(established) 届满 1年`"
        self.sink.report(codes.E202, f"cannot compare {describe(lt)} with {describe(rt)}", span, hint=hint)

    def condition(self, node: ast.Expr) -> None:
        ty = self.expr(node)
        if ty.kind not in ("bool", "error"):
            hint = None
            subject = node.text if isinstance(node, ast.Name) else "…"
            if ty.kind == "enum" and ty.enum is not None:
                value = next(iter(self.model.enums.get(ty.enum, {})), "…")
                hint = f"compare it with a value: `{subject} == {value}`"
            elif ty.numeric:
                hint = f"compare it with a threshold: `{subject} 超过 …`"
            self.sink.report(
                codes.E205,
                f"a condition must be true or false, but this is {describe(ty)}",
                node.span,
                hint=hint,
            )

    def money(self, node: ast.Expr, what: str) -> None:
        ty = self.expr(node, T.MONEY)
        if ty.kind not in ("money", "error"):
            hint = None
            if ty.kind == "percent":
                hint = "a percentage of what? write `50% * investment`"
            elif ty.kind == "count":
                subject = node.text if isinstance(node, ast.Name) else "…"
                hint = f"multiply by an amount per {ty.unit}: `5万/{ty.unit} * {subject}`"
            elif ty.kind == "per_unit":
                hint = f"multiply by a count of {ty.unit}: `… * customers`"
            elif isinstance(node, ast.Call) and node.func == "blocks":
                hint = "`blocks` counts the blocks; multiply by the award per block: `10万 * blocks(…)`"
            elif ty.kind == "number":
                hint = "write an amount such as `50万` or `200000元`"
            message = f"{what} must be an amount of money, but this is {describe(ty)}"
            self.sink.report(codes.E206, message, node.span, hint=hint)

    def option(self, ident: ast.Ident, table: dict[str, str], what: str) -> None:
        if ident.text not in table:
            self.sink.report(
                codes.E107,
                f"unknown {what} `{ident.text}`",
                ident.span,
                hint=_suggest(ident.text, table) or "one of " + ", ".join(f"`{k}`" for k in table),
            )

    def measure_ref(self, ident: ast.Ident | ast.Name) -> None:
        text = ident.text
        if isinstance(ident, ast.Name) and len(ident.parts) == 2:
            if self.model.clause(*ident.parts) is not None:
                return
        elif text in self.model.measures:
            return
        self.sink.report(
            codes.E105, f"no measure or clause `{text}`", ident.span, hint=_suggest(text, self.model.measures)
        )

    # ------------------------------------------------------------------ items
    def check(self) -> Model:
        if self.policy.header is None:
            start = self.policy.span
            self.sink.report(
                codes.W108,
                "the file has no `policy` header",
                Span(start.file, 1, 1, 1, 1, 0, 0),
                hint='start with `policy "title" { issuer "…" issued 2021-05-16 }`',
            )
        else:
            rounding = self.policy.header.rounding
            if rounding is not None:
                self.option(rounding.unit, ROUNDING_UNITS, "rounding unit")
                self.option(rounding.mode, ROUNDING_MODES, "rounding mode")
        self.declare()
        for item in self.policy.items:
            self.item(item)
        self.parameter_chains()
        return self.model

    def uses(self, node: ast.Node) -> tuple[int, builtins.set[str], builtins.set[str]]:
        """The depth of an expression and the parameters and facts it names (walked without
        recursion: it runs before any depth is known to be safe)."""
        deepest = 0
        params: set[str] = set()
        facts: set[str] = set()
        stack: list[tuple[ast.Node, int]] = [(node, 1)]
        while stack:
            item, depth = stack.pop()
            deepest = max(deepest, depth)
            sym = self.model.refs.get(id(item))
            if isinstance(sym, T.ParamSym):
                params.add(sym.name)
            elif isinstance(sym, T.FactSym):
                facts.add(sym.name)
            for field in attrs.fields(type(item)):
                child = getattr(item, field.name)
                children = child if isinstance(child, tuple) else (child,)
                stack.extend((c, depth + 1) for c in children if isinstance(c, ast.Node))
        return deepest, params, facts

    def parameter_chains(self) -> None:
        """A parameter defined through itself has no value, and one defined through a long chain of
        others nests deeper than the evaluators (which recurse) allow: both are reported."""
        local: dict[str, int] = {}
        needs: dict[str, set[str]] = {}
        for name, sym in self.model.params.items():
            local[name], needs[name] = 0, set()
            for version in sym.decl.versions:
                if not isinstance(version.value, ast.Unset):
                    levels, params, _ = self.uses(version.value)
                    local[name] = max(local[name], levels)
                    needs[name] |= params & self.model.params.keys()
        # depths in dependency order (Kahn); what is left over lies on a cycle
        depth: dict[str, int] = {}
        waiting = {name: len(used) for name, used in needs.items()}
        users: dict[str, list[str]] = {name: [] for name in needs}
        for name, used in needs.items():
            for other in used:
                users[other].append(name)
        ready = [name for name, n in waiting.items() if n == 0]
        while ready:
            name = ready.pop()
            depth[name] = local[name] + max((depth[u] for u in needs[name]), default=0)
            for user in users[name]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    ready.append(user)
        for name, sym in self.model.params.items():
            if name not in depth:
                self.sink.report(
                    codes.E208,
                    f"`{name}` is defined through itself",
                    sym.decl.name.span,
                    notes=[Note(f"it uses {', '.join(f'`{u}`' for u in sorted(needs[name]))}")],
                    hint="give one of the parameters a value that does not use the others",
                )
            elif depth[name] > MAX_DEPTH:
                self.sink.report(
                    codes.E005,
                    f"`{name}` nests more than {MAX_DEPTH} levels deep through the parameters it uses",
                    sym.decl.name.span,
                    hint="shorten the chain of parameters defined through other parameters",
                )

    def pot(self, pot: ast.Pot) -> None:
        """A pot: one figure of money (no applicant's facts), over measures each in one pot only, shared
        by a known rule; `by` goes with `ranked` and only with it."""
        self.money(pot.amount, "a pot")
        self.one_figure(pot.amount, "a pot is one sum shared by its applicants")
        for m in pot.measures:
            self.measure_ref(m)
            first = self.pot_of.setdefault(m.text, pot)
            if first is not pot:
                self.sink.report(
                    codes.E102,
                    f"`{m.text}` is already shared from the pot `{first.name.text}`; "
                    "a measure draws on one pot",
                    m.span,
                    notes=[Note("first stated here", first.name.span)],
                )
        rule = pot.allocate
        if rule is not None:
            self.option(rule, POT_ALLOCATIONS, "allocation rule")
        ranked = rule is not None and POT_ALLOCATIONS.get(rule.text) == "ranked"
        if pot.by is not None:
            ty = self.expr(pot.by)
            if ty.kind != "error" and not ty.numeric:
                message = f"a ranking must be a number or an amount, but this is {describe(ty)}"
                self.sink.report(codes.E201, message, pot.by.span)
            if not ranked:
                self.sink.report(
                    codes.E208,
                    "`by` ranks the applicants of a pot allocated `ranked`",
                    pot.by.span,
                    hint="write `allocate ranked by …`, or leave out `by …`",
                )
        elif ranked:
            assert rule is not None
            self.sink.report(
                codes.E208,
                "a pot allocated `ranked` needs the figure it ranks by",
                rule.span,
                hint="write `allocate ranked by score` (the highest first)",
            )

    def group_cap_facts(self, item: ast.GroupCap) -> None:
        """A group cap is one figure for the whole group; if it used an applicant's facts there would
        be no telling whose, and the cap would silently not apply."""
        self.one_figure(item.amount, "a group cap is one figure for the whole group")

    def one_figure(self, amount: ast.Expr, what: str) -> None:
        """E208 when `amount` (through the parameters it uses) reads an applicant's facts."""
        facts: set[str] = set()
        seen: set[str] = set()
        todo: list[ast.Node] = [amount]
        while todo:
            _, params, used = self.uses(todo.pop())
            facts |= used
            for name in params - seen:
                seen.add(name)
                versions = self.model.params[name].decl.versions
                todo.extend(v.value for v in versions if not isinstance(v.value, ast.Unset))
        if facts:
            self.sink.report(
                codes.E208,
                f"{what}; it cannot depend on an applicant's facts",
                amount.span,
                notes=[Note(f"it uses {', '.join(f'`{f}`' for f in sorted(facts))}")],
            )

    def item(self, item: ast.Item) -> None:
        match item:
            case ast.FactDecl():
                sym = self.model.facts.get(item.name.text)
                subject = ast.Name(item.name.span, (item.name.text,))
                declared = sym.type if sym else T.ERROR
                for bound in item.bounds:
                    self.compare(subject, bound.op, bound.value, bound.span, bound.word, declared)
            case ast.ParamDecl():
                psym = self.model.params.get(item.name.text)
                ty = psym.type if psym else T.ERROR
                last = None
                for version in item.versions:
                    got = self.value(version.value, ty)
                    if "error" not in (got.kind, ty.kind) and got != ty:
                        message = f"`{item.name.text}` is {describe(ty)}, but this value is {describe(got)}"
                        self.sink.report(codes.E201, message, version.value.span, hint=_literal_hint(ty))
                    if version.start is not None and last is not None and version.start <= last:
                        self.sink.report(codes.E208, "parameter versions must be in date order", version.span)
                    last = version.start
            case ast.Assume():
                self.condition(item.cond)
            case ast.Eligibility():
                for req in item.requirements:
                    self.condition(req.cond)
            case ast.Measure():
                self.measure(item)
            case ast.Combine():
                self.option(item.mode, COMBINE_MODES, "combination")
                for m in item.measures:
                    self.measure_ref(m)
            case ast.TotalCap():
                self.money(item.amount, "a total cap")
                for m in item.measures:
                    self.measure_ref(m)
            case ast.Pot():
                self.pot(item)
            case ast.Acknowledge():
                for target in item.targets:
                    self.measure_ref(target)
            case ast.Example():
                self.example(item)
            case ast.KindDecl() | ast.EnumDecl() | ast.UnitDecl():
                pass
            case _:
                assert_never(item)

    def measure(self, m: ast.Measure) -> None:
        names: dict[str, Span] = {}
        for clause in m.clauses:
            if clause.name is not None:
                self.reserved(clause.name, "clause")
                if clause.name.text in names:
                    first = Note("first defined here", names[clause.name.text])
                    message = f"clause `{clause.name.text}` is already defined in `{m.name.text}`"
                    self.sink.report(codes.E102, message, clause.name.span, notes=[first])
                names[clause.name.text] = clause.name.span
        self.single_rules(m)
        for item in m.items:
            match item:
                case ast.Applicants():
                    for kind in item.kinds:
                        if kind.text not in self.model.kinds:
                            self.sink.report(
                                codes.E106,
                                f"unknown applicant kind `{kind.text}`",
                                kind.span,
                                hint=_suggest(kind.text, self.model.kinds)
                                or "declare it: `kind " + kind.text + ' "…"`',
                            )
                case ast.Pays():
                    for form in item.forms:
                        self.option(form, PAYMENT_FORMS, "payment form")
                case ast.Requirement() | ast.Exclusion() | ast.Preference():
                    self.condition(item.cond)
                case ast.Clause():
                    self.clause(m, item, names)
                case ast.FundingLimit():
                    self.money(item.limit, "a funding limit")
                    self.money(item.counting, "the funding already received")
                case ast.Quota():
                    if item.rank is not None:
                        ty = self.expr(item.rank)
                        if ty.kind not in ("error",) and not ty.numeric:
                            message = f"a ranking must be a number or an amount, but this is {describe(ty)}"
                            self.sink.report(codes.E201, message, item.rank.span)
                case ast.GroupCap():
                    self.money(item.amount, "a group cap")
                    self.group_cap_facts(item)
                    if item.per.text not in self.model.facts:
                        self.sink.report(
                            codes.E101,
                            f"unknown fact `{item.per.text}`",
                            item.per.span,
                            hint=_suggest(item.per.text, self.model.facts),
                        )
                    if item.allocate is not None:
                        self.option(item.allocate, ALLOCATIONS, "allocation rule")
                case ast.Budget():
                    self.money(item.amount, "a budget")
                case ast.Population():
                    if item.counting is not None:
                        sym = self.model.facts.get(item.counting.text)
                        if sym is None:
                            self.sink.report(
                                codes.E101,
                                f"unknown fact `{item.counting.text}`",
                                item.counting.span,
                                hint=_suggest(item.counting.text, self.model.facts),
                            )
                        elif sym.type.kind != "count":
                            message = (
                                f"an expected number counts units of a count fact, but "
                                f"`{item.counting.text}` is {describe(sym.type)}"
                            )
                            self.sink.report(codes.E201, message, item.counting.span)
                case ast.Instalment():
                    self.reserved(item.name, "payment stage")
                    if item.share is not None:
                        ty = self.expr(item.share)
                        if ty.kind not in ("percent", "error"):
                            message = f"an instalment pays a share of the award, but this is {describe(ty)}"
                            self.sink.report(codes.E201, message, item.share.span, hint="write `50%`")
                    self.condition(item.cond)
                case ast.NoClawback():
                    pass
                case _:
                    assert_never(item)

    def single_rules(self, m: ast.Measure) -> None:
        """A measure states each of these rules at most once: evaluation would apply one of two funding
        limits, quotas or group caps and ignore the other, while the analysis and diagrams read both."""
        for cls, what in _SINGLE_RULES:
            rules = m.of(cls)
            for extra in rules[1:]:
                first = Note("first stated here", rules[0].span)
                message = f"`{m.name.text}` already states {what}; a measure has one"
                self.sink.report(
                    codes.E102, message, extra.span, notes=[first], hint="merge the two into one line"
                )

    def clause(self, m: ast.Measure, clause: ast.Clause, names: dict[str, Span]) -> None:
        if clause.exception_of is not None and clause.exception_of.text not in names:
            self.sink.report(
                codes.E105,
                f"`{m.name.text}` has no clause `{clause.exception_of.text}`",
                clause.exception_of.span,
                hint=_suggest(clause.exception_of.text, names),
            )
        elif clause.exception_of is not None:
            # Exceptions are settled among the award clauses only (runtime.settle_clauses, the fast
            # path, the analysis); one that involves a bonus would be accepted here and ignored at
            # evaluation, so it is refused.
            target = clause.exception_of.text
            default = next(c for c in m.clauses if c.name is not None and c.name.text == target)
            if clause.kind != "award" or default.kind != "award":
                bonus = "this clause" if clause.kind != "award" else f"`{clause.exception_of.text}`"
                self.sink.report(
                    codes.E109,
                    f"an exception can only replace an award clause with an award clause, "
                    f"but {bonus} is a bonus",
                    clause.exception_of.span,
                    hint="write the higher bonus as a bonus whose condition excludes the lower one "
                    "(`bonus t30: 10万 if x 达到 30万 and x 低于 50万`)",
                )
        self.schedule_allowed = True
        try:
            if clause.amount.expr is not None:
                self.money(clause.amount.expr, "an award")
            for cap in clause.amount.caps:
                self.money(cap, "a cap")
        finally:
            self.schedule_allowed = False
        self.bounds(clause.amount)
        for cond in clause.conditions:
            self.condition(cond.expr)

    def bounds(self, amount: ast.Amount) -> None:
        """A clause's floor (保底) and offset (扣除): money, one of each, on an amount that is written."""
        for what, word, exprs in (
            ("a floor", "floor", amount.floors),
            ("an offset", "offset", amount.offsets),
        ):
            for expr in exprs:
                self.money(expr, what)
            for extra in exprs[1:]:
                first = Note("first stated here", exprs[0].span)
                self.sink.report(
                    codes.E102,
                    f"this clause already has {what}; a clause has one",
                    extra.span,
                    notes=[first],
                    hint=f"keep the one `{word}` the text states (the larger of two floors, "
                    "the sum of two offsets)",
                )
            if exprs and amount.expr is None:
                self.sink.report(
                    codes.E213,
                    f"{what} needs an amount to act on, but this clause's amount is `unset`",
                    exprs[0].span,
                    hint="write the amount the text gives (`ceiling 100万`), or leave out the "
                    f"`{word}` until it gives one",
                )

    def example(self, ex: ast.Example) -> None:
        self.in_example = True
        try:
            self._example(ex)
        finally:
            self.in_example = False

    def _example(self, ex: ast.Example) -> None:
        for binding in ex.given:
            sym = self.model.facts.get(binding.name.text)
            if sym is None:
                self.sink.report(
                    codes.E101,
                    f"`{binding.name.text}` is not a fact",
                    binding.name.span,
                    hint=_suggest(binding.name.text, self.model.facts),
                )
                if not isinstance(binding.value, ast.Text):
                    self.expr(binding.value)
                continue
            got = T.TEXT if isinstance(binding.value, ast.Text) else self.expr(binding.value, sym.type)
            plain_count = sym.type.kind == "count" and got.kind == "number"
            if "error" not in (got.kind, sym.type.kind) and got != sym.type and not plain_count:
                message = f"`{binding.name.text}` is {describe(sym.type)}, but this value is {describe(got)}"
                self.sink.report(codes.E201, message, binding.value.span, hint=_literal_hint(sym.type))
        for expectation in ex.expectations:
            if expectation.target is not None:
                self.measure_ref(expectation.target)
            if expectation.value is not None:
                self.money(expectation.value, "an expected award")


def check_types(policy: ast.Policy, sink: Sink) -> Model:
    """Resolve names and check types and units, reporting into `sink`."""
    return _Checker(policy, sink).check()
