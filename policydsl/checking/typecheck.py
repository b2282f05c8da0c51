"""Names, types and units: resolve every name and give every expression a type, or report why not."""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Iterable, Iterator, Sequence
from typing import assert_never

import attrs

from policydsl import codes
from policydsl.checking import types as T
from policydsl.checking.model import Model
from policydsl.checking.types import Symbol, Type
from policydsl.diagnostics import Fix, Note, Sink
from policydsl.messages import Message, msg, text
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
    spelling,
    vocab_spelling,
)
from policydsl.syntax.parser import MAX_DEPTH

# A duration is only ever compared with the time since a date (`since(established) 届满 1年`) or
# added to a date; it is not a number to compute with.
_DURATION_HINT = msg("hint.duration")


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


def _conjuncts(expr: ast.Expr) -> Iterator[ast.Expr]:
    """The parts of a condition joined by `and` (the condition itself when it is no conjunction)."""
    if isinstance(expr, ast.And):
        yield from _conjuncts(expr.left)
        yield from _conjuncts(expr.right)
    else:
        yield expr


def _suggest(word: str, candidates: Iterable[str]) -> Message | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if close:
        return msg("hint.did_you_mean", name=close[0])
    for glue in _GLUE_WORDS:
        if len(word) > len(glue) and (word.startswith(glue) or word.endswith(glue) or glue in word):
            return msg("hint.glued_keyword", word=word, keyword=glue)
    return None


# The words a message names a thing with (`what`): the English phrase the code passes → its entry.
_WORDS: dict[str, Message] = {
    "unit": msg("word.unit"),
    "kind": msg("word.kind"),
    "enum": msg("word.enum"),
    "value": msg("word.value"),
    "fact": msg("word.fact"),
    "param": msg("word.param"),
    "measure": msg("word.measure"),
    "clause": msg("word.clause"),
    "payment stage": msg("word.payment_stage"),
    "rounding unit": msg("word.rounding_unit"),
    "rounding mode": msg("word.rounding_mode"),
    "combination": msg("word.combination"),
    "payment form": msg("word.payment_form"),
    "allocation rule": msg("word.allocation_rule"),
    "a total cap": msg("word.total_cap"),
    "a funding limit": msg("word.funding_limit"),
    "the funding already received": msg("word.funding_received"),
    "a group cap": msg("word.group_cap"),
    "a pot": msg("word.pot"),
    "an expected number": msg("word.expected_number"),
    "a budget": msg("word.budget"),
    "a quota": msg("word.quota"),
    "no_clawback": msg("word.no_clawback"),
    "an award": msg("word.award"),
    "a cap": msg("word.cap"),
    "a floor": msg("word.floor"),
    "an offset": msg("word.offset"),
    "an expected award": msg("word.expected_award"),
    "a schedule by year": msg("word.schedule"),
    "a tier table": msg("word.tier_table"),
    "a band table": msg("word.band_table"),
    "progressive brackets": msg("word.brackets"),
}


def _word(what: str) -> Message:
    """The catalogue's word for `what`; a name in backquotes (`max`) is shown as it is."""
    return _WORDS.get(what) or text(what)


def _codes(names: Iterable[str]) -> tuple[Message, ...]:
    """Names shown as code, for a list in a message."""
    return tuple(text(f"`{n}`") for n in names)


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


def describe(ty: Type) -> Message:
    """A type in the words of a message: `an amount of money`, `a count of 家`…"""
    match ty.kind:
        case "money":
            return msg("type.money")
        case "percent":
            return msg("type.percent")
        case "number":
            return msg("type.number")
        case "count":
            return msg("type.count_of", unit=ty.unit) if ty.unit else msg("type.count")
        case "per_unit":
            return msg("type.per_unit", unit=str(ty.unit))
        case "bool":
            return msg("type.bool")
        case "date":
            return msg("type.date")
        case "duration":
            return msg("type.duration")
        case "text":
            return msg("type.text")
        case "enum" if ty.enum == T.APPLICANT_ENUM:
            return msg("type.applicant_kind")
        case "enum":
            return msg("type.enum", enum=str(ty.enum))
    return text(str(ty))


def _literal_hint(ty: Type) -> Message | None:
    """How to write a literal of type `ty`, for hints."""
    match ty.kind:
        case "money":
            return msg("hint.literal_money")
        case "percent":
            return msg("hint.literal_percent")
        case "count":
            return msg("hint.literal_count", unit=ty.unit) if ty.unit else None
        case "duration":
            return msg("hint.literal_duration")
        case "date":
            return msg("hint.literal_date")
    return None


def _values(members: Iterable[str]) -> Message:
    return msg("hint.enum_values", values=_codes(members))


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

    # ------------------------------------------------------------------ words of hints
    def kw(self, name: str) -> str:
        """A keyword as the file spells it: code a hint proposes is in the file's keyword language."""
        return spelling(name, self.policy.chinese)

    def sample(self, english: str, chinese: str) -> str:
        """A sample name in a hint: a Chinese one in a file written with Chinese keywords."""
        return chinese if self.policy.chinese else english

    def since_example(self) -> str:
        return f"{self.kw('since')}({self.sample('established', '成立日期')}) 届满 1年"

    def years(self, first: int, last: int) -> str:
        """Rows of a schedule, `第1至2年` or `years 1 until 2`, in the file's keywords."""
        return f"第{first}至{last}年" if self.policy.chinese else f"years {first} until {last}"

    def header_example(self) -> str:
        policy, issuer, issued = (self.kw(k) for k in ("policy", "issuer", "issued"))
        return f'{policy} "{self.sample("title", "标题")}" {{ {issuer} "…" {issued} 2021-05-16 }}'

    def share_example(self, percent: ast.Expr | None = None) -> str:
        """`<percent> * <amount>`: the user's percentage when it is written as a figure or a name
        (else `50%`), times the policy's first money fact (a sample name when it has none)."""
        share = percent.text if isinstance(percent, ast.Percent | ast.Name) else "50%"
        return f"{share} * {self.money_fact() or self.sample('investment', '投资额')}"

    def money_fact(self) -> str | None:
        """The first money fact the policy declares, for code a hint proposes."""
        return next((n for n, sym in self.model.facts.items() if sym.type.kind == "money"), None)

    def condition_example(self) -> str:
        subject, threshold = self.sample("revenue", "营业收入"), self.sample("threshold", "门槛")
        return f"{self.kw('award')} … {self.kw('if')} {subject} 超过 {threshold}"

    # ------------------------------------------------------------------ declarations
    def reserved(self, ident: ast.Ident, what: str) -> None:
        # Keywords are reserved only where the grammar can take them, so `fact if` parses; but
        # the name could not be used where the keyword is expected (`expect total`, `其他:`).
        if ident.text in _RESERVED:
            self.sink.report(
                codes.E208,
                msg("check.keyword_name", name=ident.text, what=_word(what)),
                ident.span,
                hint=msg("hint.other_name_keywords"),
            )

    def define(self, ident: ast.Ident, what: str) -> bool:
        self.reserved(ident, what)
        first = self.defined.get(ident.text)
        if first is not None:
            self.sink.report(
                codes.E102,
                msg("check.already_defined", name=ident.text),
                ident.span,
                notes=[Note(msg("note.first_defined"), first)],
            )
            return False
        self.defined[ident.text] = ident.span
        return True

    def declare_units(self) -> None:
        for decl in self.policy.of(ast.UnitDecl):
            name = decl.name.text
            first = self.units.get(name)
            if name in UNITS:
                message = msg("check.builtin_unit", unit=name)
                self.sink.report(codes.E208, message, decl.name.span, hint=msg("hint.delete_line"))
            elif name[0] in "亿万千" or name.startswith(
                UNITS + POINTS + ("元", "个月", "年", "月", "日", "天")
            ):
                # `50万吨` is 500000 吨 and `5人次` reads as 5人: such a unit could not be written
                message = msg("check.unit_prefix", first=name[0], unit=name)
                self.sink.report(codes.E208, message, decl.name.span, hint=msg("hint.other_unit_name"))
            elif first is not None:
                note = Note(msg("note.first_declared"), first)
                self.sink.report(
                    codes.E102, msg("check.unit_declared_twice", unit=name), decl.name.span, notes=[note]
                )
            else:
                self.reserved(decl.name, "unit")
                self.units[name] = decl.name.span

    def unit(self, unit: str | None, span: Span) -> None:
        """Report a unit that is neither built in nor declared."""
        if unit is None or unit in UNITS or unit in self.units:
            return
        declare = f"{self.kw('unit')} {unit}"
        hint = _suggest(unit, [*UNITS, *self.units]) or msg("hint.declare_unit", code=declare)
        self.sink.report(codes.E103, msg("check.unknown_unit", unit=unit), span, hint=hint)

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
        for group in self.policy.of(ast.ExclusiveKinds):
            self.exclusive(group)
        for e in self.policy.of(ast.EnumDecl):
            if not self.define(e.name, "enum"):
                continue
            values: dict[str, T.EnumValueSym] = {}
            for member in e.members:
                self.reserved(member.name, "value")
                text = member.name.text
                if text in values:
                    where = next(x.name.span for x in e.members if x.name.text == text)
                    first = Note(msg("note.first_listed"), where)
                    message = msg("check.enum_value_twice", value=text, enum=e.name.text)
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
            names = [k for k in known if k.isascii() != self.policy.chinese or k in self.model.enums]
            hint = _suggest(name, known) or msg("hint.types", types=_codes(names))
            self.sink.report(codes.E103, msg("check.unknown_type", name=name), ref.name.span, hint=hint)
            return T.ERROR
        if canonical == "count":
            if ref.unit is None:
                hint = msg("hint.count_unit", code=f"{name} 家")
                self.sink.report(codes.E208, msg("check.count_needs_unit"), ref.span, hint=hint)
                return T.count(None)
            self.unit(ref.unit.text, ref.unit.span)
            return T.count(ref.unit.text)
        if ref.unit is not None:
            self.sink.report(codes.E208, msg("check.unit_not_count", name=name), ref.unit.span)
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
                    msg("check.not_enum_value", value=text, enum=expected.enum),
                    node.span,
                    hint=_suggest(text, known) or _values(known),
                )
            else:
                declare = f'{self.kw("fact")} {text} "…": {"金额" if self.policy.chinese else "money"}'
                hint = _suggest(text, known) or msg("hint.declare_fact", code=declare)
                self.sink.report(codes.E101, msg("check.unknown_name", name=text), node.span, hint=hint)
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
                        msg("check.over_100_percent", figure=node.text),
                        node.span,
                        hint=msg("hint.over_100_percent"),
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
                    self.sink.report(codes.E201, msg("check.cannot_negate", type=describe(ty)), node.span)
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
                        msg("check.in_needs_enum", type=describe(subject)),
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
                    msg("check.not_enum_value", value=key.text, enum=subject.enum),
                    key.span,
                    hint=_suggest(key.text, members) or _values(members),
                )
            elif key.text in seen:
                self.sink.report(codes.E102, msg("check.listed_twice", value=key.text), key.span)
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
                message = msg("check.mixes", what=_word(what), first=describe(first), second=describe(ty))
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
                self.sink.report(codes.E204, msg("check.since_arguments", n=len(node.args)), node.span)
                return T.DURATION
            ty = self.expr(node.args[0])
            if ty.kind not in ("date", "error"):
                self.sink.report(
                    codes.E201,
                    msg("check.since_needs_date", type=describe(ty)),
                    node.args[0].span,
                    hint=msg("hint.since", code=self.since_example()),
                )
            if id(node) not in self.since_compared:
                self.sink.report(
                    codes.E201,
                    msg("check.since_compared"),
                    node.span,
                    hint=msg("hint.since_left", code=self.since_example()),
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
                msg("check.call_two_arguments", func=self.kw(node.func), n=len(node.args)),
                node.span,
                hint=text(f"`{self.kw(node.func)}(50% * {self.sample('investment', '投资额')}, 1000万)`"),
            )
        types = self.zeros(node.args, [self.expr(a, expected) for a in node.args])
        pairs = [(t, a.span) for t, a in zip(types, node.args, strict=True)]
        result = self.unify(pairs, f"`{self.kw(node.func)}`", call=True)
        if result.kind == "duration":
            message = msg("check.call_durations", func=self.kw(node.func))
            self.sink.report(codes.E201, message, node.span, hint=_DURATION_HINT)
            return T.ERROR
        return result

    def year(self, node: ast.Call) -> Type:
        """`year(d)`: the calendar year of the date d; `year_no(d)`: the year of the evaluation date
        counted from d's own year as year 1.  Both plain whole numbers (the grammar gives each
        one argument)."""
        example = f"`{self.kw(node.func)}({self.sample('recognised', '认定日期')})`"
        ty = self.expr(node.args[0])
        if ty.kind not in ("date", "error"):
            message = msg("check.year_needs_date", func=self.kw(node.func), type=describe(ty))
            self.sink.report(
                codes.E201, message, node.args[0].span, hint=msg("hint.with_date_fact", code=example)
            )
            return T.ERROR
        return T.ERROR if ty.kind == "error" else T.NUMBER

    def schedule(self, node: ast.Schedule, expected: Type | None) -> Type:
        """A schedule by year: its start a date, its rows years counted from it (first to last,
        none twice), their values of one type."""
        start = self.expr(node.start)
        shown = self.years(1, 2) + ": 80%, " + self.years(3, 5) + ": 50%"
        example = f"`{self.kw('schedule')} {self.sample('recognised', '认定日期')} {{ {shown} }}`"
        if not self.schedule_allowed:
            message = msg("check.schedule_here")
            code = f"{self.kw('award')} {example[1:-1]} * {self.sample('contribution', '贡献额')}"
            hint = msg("hint.schedule_amount", code=code)
            self.sink.report(codes.E216, message, node.span, hint=hint)
        if start.kind not in ("date", "error"):
            message = msg("check.schedule_needs_date", type=describe(start))
            self.sink.report(codes.E201, message, node.start.span, hint=text(example))
        taken: dict[int, ast.ScheduleEntry] = {}
        for entry in node.entries:
            if entry.last < entry.first:
                message = msg("check.years_backwards", first=entry.first, last=entry.last)
                hint = msg("hint.earlier_year_first", code=self.years(entry.last, entry.first))
                self.sink.report(codes.E216, message, entry.span, hint=hint)
                continue
            clash = next((taken[y] for y in range(entry.first, entry.last + 1) if y in taken), None)
            if clash is not None:
                year = next(y for y in range(entry.first, entry.last + 1) if taken.get(y) is clash)
                message = msg("check.year_twice", year=year)
                notes = (Note(msg("note.other_row"), clash.span),)
                hint = msg("hint.year_one_row")
                self.sink.report(codes.E216, message, entry.span, notes=notes, hint=hint)
                continue
            taken.update((y, entry) for y in range(entry.first, entry.last + 1))
        rows = [(self.value(e.value, expected), e.value.span) for e in node.entries]
        return self.unify(rows, "a schedule by year")

    def whole(self, node: ast.Call) -> Type:
        """`blocks(x, 100万)`: how many whole 100万 in x, a plain number; `round_down(x, 1万)`: x
        rounded down to a multiple of 1万, of x's type.  The unit is more than zero."""
        types = [self.expr(a) for a in node.args]
        example = f"`{self.kw(node.func)}({self.sample('investment', '投资额')} - 1000万, 100万)`"
        if len(node.args) != 2:
            message = msg("check.whole_arguments", func=self.kw(node.func), n=len(node.args))
            self.sink.report(codes.E204, message, node.span, hint=text(example))
            return T.ERROR
        size = node.args[1]
        written: list[tuple[ast.Expr, Span | None]] = [(size, None)]
        sym = self.model.ref(size) if isinstance(size, ast.Name) else None
        if isinstance(sym, T.ParamSym):  # a parameter's figure is as good as written here
            written += [(v.value, v.span) for v in sym.decl.versions if not isinstance(v.value, ast.Unset)]
        for value, where in written:
            sign = _literal_sign(value)
            if sign is not None and sign <= 0:
                said = msg("word.zero") if sign == 0 else msg("word.below_zero")
                message = msg("check.block_size", func=self.kw(node.func), said=said)
                notes = (Note(msg("note.param_is", said=said), where),) if where else ()
                hint = msg("hint.block_size", code=example)
                self.sink.report(codes.E209, message, size.span, notes=notes, hint=hint)
                return T.ERROR
        ty = self.unify(
            [(t, a.span) for t, a in zip(types, node.args, strict=True)], f"`{self.kw(node.func)}`", True
        )
        if ty.kind not in (*_ZERO_TAKES, "number", "error"):
            message = msg("check.whole_type", func=self.kw(node.func), type=describe(ty))
            self.sink.report(codes.E201, message, node.span, hint=text(example))
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
            message = msg("check.table_key", type=describe(subject))
            self.sink.report(codes.E202, message, node.subject.span)
        elif subject.enum == T.APPLICANT_ENUM:
            message = msg("check.table_by_applicant")
            hint = msg(
                "hint.table_by_applicant",
                code=f"… {self.kw('if')} {self.sample('applicant == platform', '申报主体 == 平台')}",
            )
            self.sink.report(codes.E202, message, node.subject.span, hint=hint)
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
                        msg("check.band_fact", fact=facts[0].text),
                        facts[0].span,
                        hint=msg("hint.facts_in_conditions", code=self.condition_example()),
                    )
        rows = [(self.value(e.value, expected), e.value.span) for e in node.entries]
        return self.unify(rows, "a band table")

    def brackets(self, node: ast.Brackets) -> Type:
        """Progressive brackets: each row a range of the subject (one lower bound, one upper bound
        or both; only the first open below, only the last open above), its rate times the part of
        the subject inside it; the type is that product's."""
        subject = self.expr(node.subject)
        base = self.sample("investment", "投资额")
        example = f"`{self.kw('progressive')} {base} {{ 不超过 1000万: 10%, 超过 1000万: 5% }}`"
        if subject.kind not in (*_ZERO_TAKES, "number", "error"):
            message = msg("check.brackets_type", type=describe(subject))
            self.sink.report(codes.E201, message, node.subject.span, hint=text(example))
            return T.ERROR
        last, malformed = len(node.entries) - 1, False
        for i, entry in enumerate(node.entries):
            for bound in entry.bounds:
                self.compare(node.subject, bound.op, bound.value, bound.span, bound.word, subject)
                facts = [n for n in _names(bound.value) if isinstance(self.model.ref(n), T.FactSym)]
                if facts:
                    self.sink.report(
                        codes.E208,
                        msg("check.bracket_fact", fact=facts[0].text),
                        facts[0].span,
                        hint=msg("hint.facts_in_conditions", code=self.condition_example()),
                    )
            lows = [b for b in entry.bounds if b.op in (">", ">=")]
            highs = [b for b in entry.bounds if b.op in ("<", "<=")]
            others = [b for b in entry.bounds if b.op not in (">", ">=", "<", "<=")]
            problem: Message | None = None
            if others:
                problem = msg("check.bracket_word", word=others[0].word)
            elif len(lows) > 1 or len(highs) > 1:
                problem = msg("check.bracket_limits")
            elif not lows and i > 0:
                problem = msg("check.bracket_lower")
            elif not highs and i < last:
                problem = msg("check.bracket_upper")
            if problem and not malformed:  # the first bracket out of place: the others follow from it
                hint = msg("hint.brackets_order", code=example)
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
                hint = msg("hint.percent_is_product", code=self.share_example())
            if op == "+":
                message = msg("check.cannot_add", left=describe(left), right=describe(right))
            else:
                message = msg("check.cannot_subtract", left=describe(left), right=describe(right))
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
                    msg("check.count_times_money"),
                    node.span,
                    hint=msg("hint.amount_per_unit", unit=str(cnt.unit), code=proposed),
                    fix=fix,
                )
                return T.ERROR
            if pair == {"per_unit", "count"}:
                per, cnt = (left, right) if a == "per_unit" else (right, left)
                if per.unit != cnt.unit:
                    self.sink.report(
                        codes.E207,
                        msg("check.per_unit_mismatch", per=str(per.unit), unit=str(cnt.unit)),
                        node.span,
                        hint=msg("hint.per_unit_mismatch", per=str(per.unit), unit=str(cnt.unit)),
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
                hint = msg("hint.product_side", code=self.share_example())
            elif "duration" in pair:
                hint = _DURATION_HINT
            message = msg("check.cannot_multiply", left=describe(left), right=describe(right))
            self.sink.report(codes.E201, message, node.span, hint=hint)
            return T.ERROR
        # division
        zero = isinstance(node.right, ast.Money | ast.Percent | ast.Count) and node.right.value == 0
        if _is_zero(node.right) or zero:
            self.sink.report(codes.E209, msg("check.division_by_zero"), node.right.span)
            return T.ERROR
        if left == right and a in ("money", "count", "percent"):
            return T.PERCENT
        if b in ("number", "percent") and left.numeric and a != "duration":
            return left
        if a == "money" and b == "count":
            return T.per_unit(right.unit or "")
        if left == right == T.NUMBER:
            return T.NUMBER
        message = msg("check.cannot_divide", left=describe(left), right=describe(right))
        self.sink.report(codes.E201, message, node.span)
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
                msg("check.duration_compared"),
                span,
                hint=text(f"`{self.since_example()}`"),
            )
            return
        ordered = op not in ("==", "!=")
        if lt == rt:
            if ordered and lt.kind in ("enum", "bool", "text"):
                self.sink.report(
                    codes.E202,
                    msg("check.unordered", word=word, type=describe(lt)),
                    span,
                    hint=msg("hint.test_value", code=f"{self.kw('in')} [national, provincial]")
                    if lt.kind == "enum"
                    else None,
                )
            return
        pair = {lt.kind, rt.kind}
        if pair == {"count", "number"} or pair == {"count"}:
            if lt.unit != rt.unit and "number" not in pair:
                self.sink.report(
                    codes.E207,
                    msg("check.count_units", left=str(lt.unit), right=str(rt.unit)),
                    span,
                    hint=msg("hint.number_in_unit", unit=str(lt.unit)),
                )
            return
        zero = _is_zero(left) or _is_zero(right)
        if "number" in pair and zero and pair <= {"number", "money", "percent"}:
            return
        hint = _literal_hint(lt) if rt.kind in ("number", "count", "money", "percent") else None
        if lt.kind == "date" and rt.kind == "duration":
            hint = msg("hint.time_since", code=self.since_example())
        message = msg("check.cannot_compare", left=describe(lt), right=describe(rt))
        self.sink.report(codes.E202, message, span, hint=hint)

    def condition(self, node: ast.Expr) -> None:
        ty = self.expr(node)
        if ty.kind not in ("bool", "error"):
            hint = None
            subject = node.text if isinstance(node, ast.Name) else "…"
            if ty.kind == "enum" and ty.enum is not None:
                value = next(iter(self.model.enums.get(ty.enum, {})), "…")
                hint = msg("hint.compare_value", code=f"{subject} == {value}")
            elif ty.numeric:
                hint = msg("hint.compare_threshold", code=f"{subject} 超过 …")
            self.sink.report(
                codes.E205,
                msg("check.condition_type", type=describe(ty)),
                node.span,
                hint=hint,
            )

    def money(self, node: ast.Expr, what: str) -> None:
        ty = self.expr(node, T.MONEY)
        if ty.kind not in ("money", "error"):
            hint = None
            fix: Fix | None = None
            if ty.kind == "percent":
                code = self.share_example(node)
                hint = msg("hint.percent_of_what", code=code)
                if isinstance(node, ast.Percent | ast.Name) and self.money_fact() is not None:
                    fix = Fix(node.span, code)  # their percentage, of the policy's first amount
            elif ty.kind == "count":
                subject = node.text if isinstance(node, ast.Name) else "…"
                hint = msg("hint.times_per_unit", unit=str(ty.unit), code=f"5万/{ty.unit} * {subject}")
            elif ty.kind == "per_unit":
                hint = msg("hint.times_count", unit=str(ty.unit))
            elif isinstance(node, ast.Call) and node.func == "blocks":
                hint = msg("hint.blocks_award", blocks=self.kw("blocks"))
            elif ty.kind == "number":
                hint = msg("hint.write_amount")
            message = msg("check.must_be_money", what=_word(what), type=describe(ty))
            self.sink.report(codes.E206, message, node.span, hint=hint, fix=fix)

    def funding_counted(self, m: ast.Measure, limit: ast.FundingLimit) -> None:
        """What a funding limit counts: money facts (funding already received) and the awards of
        other measures of the policy; a measure named twice or the limit's own measure is refused."""
        seen: builtins.set[str] = set()
        for name in limit.counting:
            text = name.text
            if text in seen:
                self.sink.report(codes.E208, msg("check.counted_twice", name=text), name.span)
            seen.add(text)
            if text == m.name.text:
                self.sink.report(
                    codes.E225,
                    msg("check.limit_counts_itself", name=text),
                    name.span,
                    hint=msg("hint.limit_counts_itself"),
                )
            elif text not in self.model.measures:  # a measure's award, or a fact's amount
                self.money(name, "the funding already received")

    def funding_cycles(self) -> None:
        """E225: funding limits whose measures count each other's awards in a circle have no order
        in which to cut them."""
        counts: dict[str, list[tuple[str, ast.Name]]] = {}
        for m in self.policy.of(ast.Measure):
            for limit in m.of(ast.FundingLimit):
                for name in limit.counting:
                    if name.text in self.model.measures and name.text != m.name.text:
                        counts.setdefault(m.name.text, []).append((name.text, name))
        reported: builtins.set[frozenset[str]] = set()
        for start in counts:
            path: list[tuple[str, ast.Name]] = []
            self._cycle(start, start, counts, path, builtins.set(), reported)

    def _cycle(
        self,
        start: str,
        at: str,
        counts: dict[str, list[tuple[str, ast.Name]]],
        path: list[tuple[str, ast.Name]],
        visited: builtins.set[str],
        reported: builtins.set[frozenset[str]],
    ) -> None:
        visited.add(at)
        for target, name in counts.get(at, []):
            if target == start:
                members = frozenset([start, *(t for t, _ in path)])
                if members not in reported:
                    reported.add(members)
                    circle = " → ".join([start, *(t for t, _ in path), start])
                    self.sink.report(
                        codes.E225,
                        msg("check.limit_circle", circle=circle),
                        name.span,
                        hint=msg("hint.limit_circle"),
                    )
            elif target not in visited:
                path.append((target, name))
                self._cycle(start, target, counts, path, visited, reported)
                path.pop()

    def other_documents(self, item: ast.Combine) -> None:
        """`combine highest|exclusive against FACT { … }`: the fact is money (what the applicant received
        under other documents for the same project), the mode is not `added` (adding what another
        document paid needs no rule), and no total cap runs across the measures named and others (the
        part of the capped total that is this rule's could not be told)."""
        assert item.other is not None
        text = item.other.text
        got = self.name(item.other)  # E101 for a name that is nothing
        known = text in self.model.facts or text in self.model.params
        if known and (got != T.MONEY or text not in self.model.facts):
            self.sink.report(
                codes.E235,
                msg("check.other_award_fact", name=text),
                item.other.span,
                hint=msg(
                    "hint.other_award_fact",
                    code=f'{self.kw("fact")} {text} "已获其他政策同类奖励": {self.sample("money", "金额")}',
                ),
            )
        if COMBINE_MODES.get(item.mode.text) == "added":
            self.sink.report(
                codes.E235,
                msg("check.other_award_mode"),
                item.mode.span,
                hint=msg("hint.other_award_mode"),
            )
        if item.every:
            return
        named = {m.text for m in item.measures}
        for cap in self.policy.of(ast.TotalCap):
            capped = {m.text for m in cap.measures}
            if capped & named and capped - named:
                self.sink.report(
                    codes.E235,
                    msg("check.other_award_cap"),
                    item.span,
                    notes=[Note(msg("note.the_total_cap"), cap.span)],
                    hint=msg("hint.other_award_cap"),
                )

    def option(self, ident: ast.Ident, table: dict[str, str], what: str) -> None:
        if ident.text not in table:
            self.sink.report(
                codes.E107,
                msg("check.unknown_option", what=_word(what), name=ident.text),
                ident.span,
                hint=_suggest(ident.text, table) or msg("hint.one_of", options=_codes(table)),
            )

    def measure_ref(self, ident: ast.Ident | ast.Name) -> None:
        text = ident.text
        if isinstance(ident, ast.Name) and len(ident.parts) == 2:
            if self.model.clause(*ident.parts) is not None:
                return
        elif text in self.model.measures:
            return
        self.sink.report(
            codes.E105,
            msg("check.no_measure_or_clause", name=text),
            ident.span,
            hint=_suggest(text, self.model.measures),
        )

    # ------------------------------------------------------------------ items
    def check(self) -> Model:
        if self.policy.header is None:
            start = self.policy.span
            self.sink.report(
                codes.W108,
                msg("check.no_header", policy=self.kw("policy")),
                Span(start.file, 1, 1, 1, 1, 0, 0),
                hint=msg("hint.start_with_header", code=self.header_example()),
            )
        else:
            rounding = self.policy.header.rounding
            if rounding is not None:
                self.option(rounding.unit, ROUNDING_UNITS, "rounding unit")
                self.option(rounding.mode, ROUNDING_MODES, "rounding mode")
        self.declare()
        for item in self.policy.items:
            self.item(item)
        self.funding_cycles()
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
                    msg("check.param_cycle", name=name),
                    sym.decl.name.span,
                    notes=[Note(msg("note.it_uses", names=_codes(sorted(needs[name]))))],
                    hint=msg("hint.param_cycle"),
                )
            elif depth[name] > MAX_DEPTH:
                self.sink.report(
                    codes.E005,
                    msg("check.param_depth", name=name, depth=MAX_DEPTH),
                    sym.decl.name.span,
                    hint=msg("hint.param_depth"),
                )

    def pot(self, pot: ast.Pot) -> None:
        """A pot: one figure of money (no applicant's facts), over measures each in one pot only, shared
        by a known rule; `by` goes with `ranked` and only with it."""
        self.money(pot.amount, "a pot")
        self.one_figure(pot.amount, msg("check.pot_facts"))
        for m in pot.measures:
            self.measure_ref(m)
            first = self.pot_of.setdefault(m.text, pot)
            if first is not pot:
                self.sink.report(
                    codes.E102,
                    msg("check.pot_twice", name=m.text, pot=first.name.text),
                    m.span,
                    notes=[Note(msg("note.first_stated"), first.name.span)],
                )
        rule = pot.allocate
        if rule is not None:
            self.option(rule, POT_ALLOCATIONS, "allocation rule")
        ranked = rule is not None and POT_ALLOCATIONS.get(rule.text) == "ranked"
        if pot.by is not None:
            ty = self.expr(pot.by)
            if ty.kind != "error" and not ty.numeric:
                message = msg("check.ranking_type", type=describe(ty))
                self.sink.report(codes.E201, message, pot.by.span)
            if not ranked:
                self.sink.report(
                    codes.E208,
                    msg("check.by_not_ranked", by=self.kw("by"), ranked=self.ranked_word()),
                    pot.by.span,
                    hint=msg("hint.by_not_ranked", code=f"{self.ranked_rule()} …", by=self.kw("by")),
                )
        elif ranked:
            assert rule is not None
            self.sink.report(
                codes.E208,
                msg("check.ranked_needs_by", ranked=self.ranked_word()),
                rule.span,
                hint=msg("hint.ranked_needs_by", code=f"{self.ranked_rule()} {self.sample('score', '得分')}"),
            )

    def quota_selection(self, m: ast.Measure, item: ast.Quota, fact: ast.Ident) -> None:
        """E236: the fact a quota's `selected_by` names records, per applicant, whether the authority
        selected it; it must be a yes/no fact the measure requires, and no ranking goes with it."""
        name = fact.text
        sym = self.model.facts.get(name)
        if sym is None and name not in self.model.params:
            self.sink.report(
                codes.E101,
                msg("check.unknown_fact", fact=name),
                fact.span,
                hint=_suggest(name, self.model.facts),
            )
            return
        if sym is None or sym.type != T.BOOL:
            label = sym.label if sym is not None else name
            code = f'{self.kw("fact")} {name} "{label}": {self.sample("bool", "布尔")}'
            self.sink.report(
                codes.E236,
                msg("check.selection_fact_type", name=name),
                fact.span,
                hint=msg("hint.selection_fact_type", code=code),
            )
            return
        self.model.refs[id(fact)] = sym
        required = {
            part.parts[0]
            for req in m.of(ast.Requirement)
            for part in _conjuncts(req.cond)
            if isinstance(part, ast.Name) and len(part.parts) == 1
        }
        if name not in required:
            self.sink.report(
                codes.E236,
                msg("check.selection_not_required", name=name, measure=m.name.text),
                fact.span,
                hint=msg("hint.selection_not_required", code=f"{self.kw('require')} {name}"),
            )
        if item.rank is not None:
            code = f"{self.kw('quota')} {item.count} {self.kw('selected_by')} {name}"
            self.sink.report(
                codes.E236,
                msg("check.selection_and_rank"),
                item.rank.span,
                hint=msg("hint.selection_and_rank", code=code),
            )

    def group_cap_facts(self, item: ast.GroupCap) -> None:
        """A group cap is one figure for the whole group; if it used an applicant's facts there would
        be no telling whose, and the cap would silently not apply."""
        self.one_figure(item.amount, msg("check.group_cap_facts"))

    def ranked_word(self) -> str:
        return vocab_spelling(POT_ALLOCATIONS, "ranked", self.policy.chinese)

    def ranked_rule(self) -> str:
        """`allocate ranked by` in the file's keywords."""
        return f"{self.kw('allocate')} {self.ranked_word()} {self.kw('by')}"

    def one_figure(self, amount: ast.Expr, message: Message) -> None:
        """E208 (the catalogue's `message`) when `amount`, through the parameters it uses, reads an
        applicant's facts."""
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
                message,
                amount.span,
                notes=[Note(msg("note.it_uses", names=_codes(sorted(facts))))],
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
                        message = msg(
                            "check.value_type", name=item.name.text, type=describe(ty), got=describe(got)
                        )
                        self.sink.report(codes.E201, message, version.value.span, hint=_literal_hint(ty))
                    if version.start is not None and last is not None and version.start <= last:
                        self.sink.report(codes.E208, msg("check.versions_order"), version.span)
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
                if item.other is not None:
                    self.other_documents(item)
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
            case ast.KindDecl() | ast.ExclusiveKinds() | ast.EnumDecl() | ast.UnitDecl():
                pass
            case _:
                assert_never(item)

    def measure(self, m: ast.Measure) -> None:
        names: dict[str, Span] = {}
        for clause in m.clauses:
            if clause.name is not None:
                self.reserved(clause.name, "clause")
                if clause.name.text in names:
                    first = Note(msg("note.first_defined"), names[clause.name.text])
                    message = msg("check.clause_twice", clause=clause.name.text, measure=m.name.text)
                    self.sink.report(codes.E102, message, clause.name.span, notes=[first])
                names[clause.name.text] = clause.name.span
        self.single_rules(m)
        for item in m.items:
            match item:
                case ast.Applicants():
                    for kind in item.kinds:
                        self.unknown_kind(kind)
                case ast.Pays():
                    for form in item.forms:
                        self.option(form, PAYMENT_FORMS, "payment form")
                case ast.Requirement() | ast.Exclusion() | ast.Preference():
                    self.condition(item.cond)
                case ast.Clause():
                    self.clause(m, item, names)
                case ast.FundingLimit():
                    self.money(item.limit, "a funding limit")
                    self.funding_counted(m, item)
                case ast.Quota():
                    if item.rank is not None:
                        ty = self.expr(item.rank)
                        if ty.kind not in ("error",) and not ty.numeric:
                            message = msg("check.rank_type", type=describe(ty))
                            self.sink.report(codes.E201, message, item.rank.span)
                    if item.selected_by is not None:
                        self.quota_selection(m, item, item.selected_by)
                case ast.GroupCap():
                    self.money(item.amount, "a group cap")
                    self.group_cap_facts(item)
                    if item.per.text not in self.model.facts:
                        self.sink.report(
                            codes.E101,
                            msg("check.unknown_fact", fact=item.per.text),
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
                                msg("check.unknown_fact", fact=item.counting.text),
                                item.counting.span,
                                hint=_suggest(item.counting.text, self.model.facts),
                            )
                        elif sym.type.kind not in ("count", "error"):
                            message = msg(
                                "check.population_counting", name=item.counting.text, type=describe(sym.type)
                            )
                            self.sink.report(codes.E201, message, item.counting.span)
                case ast.Instalment():
                    self.reserved(item.name, "payment stage")
                    if item.share is not None:
                        ty = self.expr(item.share)
                        if ty.kind not in ("percent", "error"):
                            message = msg("check.instalment_share", type=describe(ty))
                            self.sink.report(codes.E201, message, item.share.span, hint=msg("hint.write_50"))
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
                first = Note(msg("note.first_stated"), rules[0].span)
                message = msg("check.rule_twice", measure=m.name.text, what=_word(what))
                self.sink.report(codes.E102, message, extra.span, notes=[first], hint=msg("hint.merge_lines"))

    def clause(self, m: ast.Measure, clause: ast.Clause, names: dict[str, Span]) -> None:
        if clause.exception_of is not None and clause.exception_of.text not in names:
            self.sink.report(
                codes.E105,
                msg("check.no_clause", measure=m.name.text, clause=clause.exception_of.text),
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
                bonus = msg("word.this_clause") if clause.kind != "award" else text(f"`{target}`")
                example = (
                    f"{self.kw('bonus')} t30: 10万 {self.kw('if')} x 达到 30万 {self.kw('and')} x 低于 50万"
                )
                self.sink.report(
                    codes.E109,
                    msg("check.exception_bonus", bonus=bonus),
                    clause.exception_of.span,
                    hint=msg("hint.exception_bonus", code=example),
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
                first = Note(msg("note.first_stated"), exprs[0].span)
                self.sink.report(
                    codes.E102,
                    msg("check.clause_rule_twice", what=_word(what)),
                    extra.span,
                    notes=[first],
                    hint=msg("hint.keep_one", word=self.kw(word)),
                )
            if exprs and amount.expr is None:
                self.sink.report(
                    codes.E213,
                    msg("check.needs_amount", what=_word(what), unset=self.kw("unset")),
                    exprs[0].span,
                    hint=msg("hint.needs_amount", code=f"{self.kw('ceiling')} 100万", word=self.kw(word)),
                )

    def example(self, ex: ast.Example) -> None:
        self.in_example = True
        try:
            self._example(ex)
        finally:
            self.in_example = False

    def unknown_kind(self, kind: ast.Ident) -> bool:
        """Report a kind of applicant the file does not declare (E106); True when it is unknown."""
        if kind.text in self.model.kinds:
            return False
        self.sink.report(
            codes.E106,
            msg("check.unknown_kind", kind=kind.text),
            kind.span,
            hint=_suggest(kind.text, self.model.kinds)
            or msg("hint.declare_kind", code=f'{self.kw("kind")} {kind.text} "…"'),
        )
        return True

    def exclusive(self, group: ast.ExclusiveKinds) -> None:
        """An `exclusive_kinds` group: declared kinds, each named once, at least two of them."""
        seen: list[str] = []
        for kind in group.kinds:
            if self.unknown_kind(kind):
                continue
            if kind.text in seen:
                self.sink.report(codes.E110, msg("check.kind_twice_in_group", kind=kind.text), kind.span)
                continue
            seen.append(kind.text)
        if len(group.kinds) < 2:
            self.sink.report(
                codes.E110,
                msg("check.exclusive_too_few", keyword=self.kw("exclusive_kinds")),
                group.span,
                hint=msg(
                    "hint.exclusive_too_few",
                    code=self.kw("exclusive_kinds")
                    + " { "
                    + self.sample("enterprise, association", "企业, 协会")
                    + " }",
                ),
            )
        elif len(seen) == len(group.kinds):
            self.model.exclusive_kinds.append(tuple(seen))

    def roles(self, binding: ast.Binding, roles: ast.Roles, fact: T.FactSym) -> None:
        """An example's set of roles `{a, b}`: for the applicant's kind only, every role declared and
        named once, never two roles the policy says exclude each other."""
        if fact.type != T.enum(T.APPLICANT_ENUM):
            message = msg("check.roles_not_kinds", name=binding.name.text, type=describe(fact.type))
            self.sink.report(codes.E201, message, roles.span, hint=_literal_hint(fact.type))
            return
        seen: list[str] = []
        for kind in roles.kinds:
            if self.unknown_kind(kind):
                continue
            if kind.text in seen:
                self.sink.report(codes.E110, msg("check.kind_twice_in_set", kind=kind.text), kind.span)
                continue
            seen.append(kind.text)
        for group in self.model.exclusive_kinds:
            both = [k for k in group if k in seen]
            if len(both) > 1:
                self.sink.report(
                    codes.E110,
                    msg("check.kinds_exclude", a=both[0], b=both[1], keyword=self.kw("exclusive_kinds")),
                    roles.span,
                    hint=msg("hint.keep_one_kind"),
                )

    def _example(self, ex: ast.Example) -> None:
        self.example_base(ex)
        for binding in ex.params:
            psym = self.model.params.get(binding.name.text)
            if psym is None:
                self.sink.report(
                    codes.E101,
                    msg("check.not_a_parameter", name=binding.name.text),
                    binding.name.span,
                    hint=_suggest(binding.name.text, self.model.params),
                )
                if not isinstance(binding.value, ast.Text | ast.Roles):
                    self.expr(binding.value)
                continue
            if isinstance(binding.value, ast.Roles):  # a set of applicant kinds is no parameter's value
                message = msg("check.roles_not_kinds", name=binding.name.text, type=describe(psym.type))
                self.sink.report(codes.E201, message, binding.value.span, hint=_literal_hint(psym.type))
                continue
            got = T.TEXT if isinstance(binding.value, ast.Text) else self.expr(binding.value, psym.type)
            if "error" not in (got.kind, psym.type.kind) and got != psym.type:
                message = msg(
                    "check.value_type", name=binding.name.text, type=describe(psym.type), got=describe(got)
                )
                self.sink.report(codes.E201, message, binding.value.span, hint=_literal_hint(psym.type))
        for binding in ex.given:
            sym = self.model.facts.get(binding.name.text)
            if sym is None:
                self.sink.report(
                    codes.E101,
                    msg("check.not_a_fact", name=binding.name.text),
                    binding.name.span,
                    hint=_suggest(binding.name.text, self.model.facts),
                )
                if not isinstance(binding.value, ast.Text | ast.Roles):
                    self.expr(binding.value)
                continue
            if isinstance(binding.value, ast.Roles):
                self.roles(binding, binding.value, sym)
                continue
            got = T.TEXT if isinstance(binding.value, ast.Text) else self.expr(binding.value, sym.type)
            plain_count = sym.type.kind == "count" and got.kind == "number"
            if "error" not in (got.kind, sym.type.kind) and got != sym.type and not plain_count:
                message = msg(
                    "check.value_type", name=binding.name.text, type=describe(sym.type), got=describe(got)
                )
                self.sink.report(codes.E201, message, binding.value.span, hint=_literal_hint(sym.type))
        for expectation in ex.expectations:
            if expectation.target is not None:
                self.measure_ref(expectation.target)
            if expectation.value is not None:
                self.money(expectation.value, "an expected award")

    def example_base(self, ex: ast.Example) -> None:
        """The example or base block `ex` extends exists, is named once, and the chain of bases
        from `ex` comes back to none of them."""
        if ex.base is None:
            return
        named: dict[str, list[ast.Example]] = {}
        for other in self.policy.of(ast.Example):
            named.setdefault(other.name, []).append(other)
        found = named.get(ex.base.value, [])
        if len(found) != 1:
            if found:
                message = msg("check.base_named_twice", count=len(found), name=ex.base.value)
                hint = msg("hint.base_named_twice")
            else:
                message = msg("check.no_base", name=ex.base.value, block=self.kw("base"))
                hint = _suggest(ex.base.value, named) or msg(
                    "hint.no_base", example=self.kw("example"), block=self.kw("base")
                )
            self.sink.report(codes.E120, message, ex.base.span, hint=hint)
            return
        chain = [ex.name]
        current: ast.Example | None = found[0]
        while current is not None:
            if current.name in chain[1:]:
                return  # a circle further along, reported where its members are written
            if current.name == ex.name:
                path = " → ".join(f'"{n}"' for n in [*chain, current.name])
                self.sink.report(
                    codes.E121,
                    msg("check.base_circle", path=path),
                    ex.base.span,
                    hint=msg("hint.base_circle", keyword=self.sample("from", "基于")),
                )
                return
            chain.append(current.name)
            if current.base is None:
                return
            nxt = named.get(current.base.value, [])
            current = nxt[0] if len(nxt) == 1 else None


def check_types(policy: ast.Policy, sink: Sink) -> Model:
    """Resolve names and check types and units, reporting into `sink`."""
    return _Checker(policy, sink).check()
