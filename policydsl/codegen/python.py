"""Compile a checked policy to one standalone Python evaluator module (standard library only)."""

from __future__ import annotations

import ast as pyast
import builtins
import datetime
import decimal
import importlib
import keyword
import re
import sys
import threading
import types
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

import attrs

from policydsl.codegen import support
from policydsl.codegen.fast import TYPES, FastPath, received_text, value_tests
from policydsl.codegen.writer import INDENT, CodeWriter, Seq, comment_text, literal, negated, width
from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower
from policydsl.plan.specs import (
    DATE_NEEDED,
    NO_BAND,
    NO_YEAR,
    condition_unmet,
    gate_unmet,
    reader_plan,
    runtime_specs,
)
from policydsl.render import steps
from policydsl.syntax.keywords import APPLICANT_FACT

if TYPE_CHECKING:
    from policydsl.checking.model import Model

# (name, label, kind, unit, enum members) of each fact an explanation shows (support.Used)
Used = tuple[tuple[str, str, str, str | None, tuple[tuple[str, str], ...]], ...]

RUNTIME_PATH = Path(rt.__file__)
SUPPORT_PATH = Path(support.__file__)

HEADER = """\
# Evaluator module written by the policydsl compiler; change the policy file, not this module.
# It needs only the Python standard library.
"""

_RUNTIME_NAMES_CACHE: dict[str, frozenset[str]] = {}


def _module_names(source: str) -> frozenset[str]:
    """Every name a module defines at top level (so generated names never shadow one)."""
    cached = _RUNTIME_NAMES_CACHE.get(source)
    if cached is not None:
        return cached
    names: set[str] = set()
    for node in pyast.walk(pyast.parse(source)):
        if isinstance(node, pyast.Name) and isinstance(node.ctx, pyast.Store):
            names.add(node.id)
        elif isinstance(node, pyast.FunctionDef | pyast.ClassDef):
            names.add(node.name)
        elif isinstance(node, pyast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, pyast.arg):
            names.add(node.arg)
    result = frozenset(names)
    _RUNTIME_NAMES_CACHE[source] = result
    return result


class CompileError(Exception):
    """The policy uses something the generator cannot compile (a checked policy never should)."""


_ASCII_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_TEMP = re.compile(r"(v|c|ok|a|x|amount|precision|why|steps)\d+_?\Z")
_LOCALS = frozenset(
    {
        "f",
        "p",
        "date",
        "need",
        "explain",
        "shared",
        "result",
        "conditions",
        "failures",
        "unknown",
        "holds",
        "why",
        "value",
        "precision",
        "steps",
        "limit",
        "total",
        "reasons",
        "stages",
        "funding",
        "kind",
        "key",
        "exc",
        "raw",
        "found",
        "values",
        "item",
        "facts",
        "partial",
        "params",
        "measures",
        "undecided",
        "decided",
        "outcomes",
        "self",
        "eligible",
        "ok",
        "saved",
        "room",
        "received",
        "paid",
        "going",
        "at_most",
        "amounts",
        "fast",
        "later",
    }
)


class Namer:
    """Allocates Python identifiers for policy names: keywords, builtins, dunders, names the module
    already uses and non-ASCII names are mangled; every identifier is unique.  `given` maps each
    (namespace, policy name) to its identifier."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.taken: set[str] = (
            set(reserved) | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
        )
        self.given: dict[tuple[str, str], str] = {}
        self.counts: dict[str, int] = {}

    def safe(self, name: str, fallback: str) -> str:
        """A readable ASCII stem for `name` (`fallback` when it has no ASCII letters to keep)."""
        if _ASCII_NAME.match(name) and not name.startswith("__"):
            return name
        ascii_part = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
        if ascii_part and ascii_part[0].isalpha():
            return ascii_part
        return fallback

    def get(self, space: str, name: str, stem: str) -> str:
        key = (space, name)
        if key in self.given:
            return self.given[key]
        candidate = stem
        n = 1
        while candidate in self.taken or _TEMP.match(candidate) or not candidate.isidentifier():
            n += 1
            candidate = f"{stem}_" if n == 2 else f"{stem}_{n - 1}"
        self.taken.add(candidate)
        self.given[key] = candidate
        return candidate


@attrs.define
class Val:
    """A compiled expression: Python `code` free of side effects, whether it may be None
    (`nullable`: a fact is missing) and whether it needs brackets inside a larger expression."""

    code: str
    nullable: bool
    atomic: bool = True

    def inner(self) -> str:
        return self.code if self.atomic else f"({self.code})"


@attrs.define
class _Fn:
    """The function being generated: its body, the facts it reads, its temporaries."""

    w: CodeWriter
    facts: dict[str, str] = attrs.field(factory=dict)
    temps: int = 0

    def temp(self, prefix: str = "v") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"


def kind_text(spec: P.FactSpec) -> str:
    """A fact's type as the Facts class comments it (`count of 家`, `enum industry`)."""
    if spec.kind == "count":
        return f"count of {spec.unit}"
    if spec.kind == "per_unit":
        return f"money per {spec.unit}"
    if spec.kind == "enum":
        return f"enum {spec.enum}"
    if spec.kind == P.ROLES:
        return f"one or more of {spec.enum}"
    return spec.kind


# `since(start) op duration` as a comparison of the day the duration ends with today's date
_SINCE = {">=": "<=", ">": "<", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_OP_SYMBOLS = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "==": "==", "!=": "!="}


def _same_value_runs(rows: tuple[P.BandRow, ...]) -> list[list[P.BandRow]]:
    """The rows of a band in order, neighbours with bounds and the same value in one run."""
    runs: list[list[P.BandRow]] = []
    for row in rows:
        last = runs[-1][-1] if runs else None
        if last is not None and None not in (row.bounds, last.bounds) and last.value == row.value:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def has_role_code(roles: str, kinds: list[str]) -> str:
    """runtime.has_role written out: whether the set `roles` holds any of `kinds` (code of texts)."""
    if len(kinds) == 1:
        return f"{kinds[0]} in {roles}"
    return f"not {roles}.isdisjoint(({', '.join(kinds)}))"


class PythonGenerator:
    """Generates the evaluator module of one checked policy from its plan (`model`, its
    `source_text`, the policy file's `name`)."""

    def __init__(self, model: Model, source_text: str, name: str) -> None:
        self.plan = reader_plan(lower(model, source_text))  # explanations in the reader's words
        self.name = name
        self.specs = runtime_specs(self.plan)
        self.rounding = rt.Rounding(self.plan.rounding.unit, self.plan.rounding.mode)
        self.runtime_text = RUNTIME_PATH.read_text(encoding="utf-8")
        self.support_text = SUPPORT_PATH.read_text(encoding="utf-8")
        self.namer = Namer(
            _module_names(self.runtime_text) | _module_names(self.support_text) | _LOCALS | _GENERATED
        )
        # (module, name) the policy's own code imports from the standard library
        self.imports: set[tuple[str, str]] = set()
        self.decimals: dict[str, str] = {}
        self.dates: dict[datetime.date, str] = {}
        self.texts: dict[str, str] = {}
        self.text_order: list[tuple[str, str]] = []
        self.tuples: dict[str, tuple[str, Seq]] = {}
        # UNMET_N -> the constant of its reasons by value (support.unmet_texts)
        self.unmet_tables: dict[str, str] = {}
        self.fn = _Fn(CodeWriter())
        self.param_funcs: dict[str, str] = {}
        # the full path's expression functions (support.Expr), one per distinct body
        self.expr_funcs: dict[str, str] = {}
        self.expr_out = CodeWriter()
        self.pending: list[tuple[list[str], Seq]] = []
        self.measure_funcs: list[str] = []
        # writing the fast path: every fact is given and valid, the date too, and whatever cannot be
        # worked out raises (the fast path then leaves the applicant to the full one)
        self.fast = False
        self.quiet = False  # while explaining a figure already worked out: no facts are recorded as needed
        # each fact's spec once (FACT_SPECS also keys some under other spellings)
        self.fact_specs = [self.specs[name] for name in self.plan.facts]

    # ------------------------------------------------------------------ names and constants
    def file_line(self, where: P.Where | None) -> str:
        return f"{Path(self.name).name}:{where.line if where is not None else 0}"

    def fact_field(self, name: str) -> str:
        index = list(self.specs).index(name) + 1
        return self.namer.get("fact", name, self.namer.safe(name, f"fact_{index}"))

    def const(self, value: Decimal) -> str:
        text = str(value)
        if text not in self.decimals:
            plain = format(value, "f")  # 1E+8 is named D_100000000, 0.50 D_0_50
            stem = "D_" + plain.replace("-", "m").replace(".", "_")
            if len(stem) > 24:  # 2:3 to 60 digits: the name shows its first digits, not a line of them
                stem = stem[:18] + "_etc"
            self.decimals[text] = self.namer.get("decimal", text, stem)
        return self.decimals[text]

    def date_const(self, value: datetime.date) -> str:
        if value not in self.dates:
            self.dates[value] = self.namer.get("date", value.isoformat(), f"DATE_{value:%Y_%m_%d}")
        return self.dates[value]

    def s(self, text: str, room: int = 40) -> str:
        """A string literal inline when short, else a module constant (keeps lines within width)."""
        lit = literal(text)
        if width(lit) <= room:
            return lit
        if text not in self.texts:
            name = self.namer.get("text", text, f"TEXT_{len(self.texts) + 1}")
            self.texts[text] = name
            self.text_order.append((name, text))
        return self.texts[text]

    def needed_label(self, key: str) -> str:
        """How a result's `needed` names the fact under this key (`label（name）`)."""
        spec = self.plan.facts.get(key)
        return f"{spec.label}（{key}）" if spec is not None and spec.label != key else key

    # ------------------------------------------------------------------ static facts about expressions
    def is_date(self, e: P.Expr) -> bool:
        """Whether `e` is a date (the other operand of a date arithmetic is a duration)."""
        match e:
            case P.DateConst():
                return True
            case P.FactRef():
                return self.plan.facts[e.name].kind == "date"
            case P.ParamRef():
                return self.plan.params[e.name].kind == "date"
            case P.Arith():
                return e.kind == "date"
            case P.MinMax():
                return self.is_date(e.args[0])
            case P.Table() | P.Band():
                return any(not isinstance(r.value, P.Unset) and self.is_date(r.value) for r in e.rows)
            case _:
                return False

    @staticmethod
    def ratio(e: P.Expr) -> Decimal | None:
        """The value of a matching ratio (`1:1`, two exact numbers divided), worked out here once."""
        if not (
            isinstance(e, P.Arith)
            and e.op == "/"
            and isinstance(e.left, P.Const)
            and isinstance(e.right, P.Const)
            and e.left.kind == e.right.kind == "number"
            and e.right.value != 0
        ):
            return None
        with decimal.localcontext(rt.CONTEXT):
            return e.left.value / e.right.value

    def pure(self, e: P.Expr) -> bool:
        """Whether `e` is a figure written in the policy (no fact, parameter or operation)."""
        return isinstance(e, P.Const | P.BoolConst) or self.ratio(e) is not None

    def figure(self, e: P.Expr) -> Decimal:
        """The value of a pure figure."""
        value = self.ratio(e)
        if value is not None:
            return value
        assert isinstance(e, P.Const)
        return e.value

    def may_raise(self, e: P.Expr, seen: frozenset[str] = frozenset()) -> bool:
        """Whether evaluating `e` can raise Unset or an arithmetic error (a division by a value that
        can be zero, a date moved outside the calendar), so that it needs a handler."""
        match e:
            case P.Table() | P.Band() | P.Unset():
                return True
            case P.Arith() if e.kind == "date":
                return True
            case P.Arith() if e.op == "/" and not (
                isinstance(e.right, P.Const) and e.right.kind != "per_unit" and e.right.value != 0
            ):
                return True
            case P.Whole() if not (isinstance(e.size, P.Const) and e.size.value > 0):
                return True
            case P.ParamRef():
                if e.name in seen:
                    return True
                return any(
                    isinstance(v.value, P.Unset) or self.may_raise(v.value, seen | {e.name})
                    for v in self.plan.params[e.name].versions
                )
        return any(self.may_raise(c, seen) for c in P.children(e))

    def param_nullable(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in seen:
            return True
        return any(
            not isinstance(v.value, P.Unset) and self.nullable(v.value, seen | {name})
            for v in self.plan.params[name].versions
        )

    def nullable(self, e: P.Expr, seen: frozenset[str] = frozenset()) -> bool:
        match e:
            case P.FactRef() | P.Table():
                return True
            case P.ParamRef():
                return self.param_nullable(e.name, seen)
        return any(self.nullable(c, seen) for c in P.children(e))

    def facts_used(self, e: P.Expr) -> Used:
        """(name, label, kind, unit, enum members) of the facts an explanation shows for `e`."""
        specs = self.plan.facts
        return tuple(
            (n, specs[n].label, specs[n].kind, specs[n].unit, specs[n].members) for n in P.facts_of(e)
        )

    def facts_tuple(self, facts: Used) -> str:
        """A module constant listing the facts an explanation shows."""

        def members(pairs: tuple[tuple[str, str], ...]) -> Seq:
            return Seq([Seq([literal(value), literal(label)]) for value, label in pairs])

        seq = Seq(
            [
                Seq([literal(n), literal(label), literal(k), "None" if u is None else literal(u), members(m)])
                for n, label, k, u, m in facts
            ]
        )
        text = seq.inline()
        if text not in self.tuples:
            count = sum(1 for name, _ in self.tuples.values() if name.startswith("FACTS_"))
            self.tuples[text] = (self.namer.get("facts", text, f"FACTS_{count + 1}"), seq)
        return self.tuples[text][0]

    # ------------------------------------------------------------------ expressions
    def expr(self, e: P.Expr) -> Val:
        match e:
            case P.Const():
                return Val(self.const(e.value), False)
            case P.DateConst():
                return Val(self.date_const(e.value), False)
            case P.DurationConst():
                return Val(f"({e.count}, {literal(e.unit)})", False)
            case P.BoolConst():
                return Val("True" if e.value else "False", False)
            case P.EnumConst():
                return Val(self.s(e.member), False)
            case P.FactRef():
                local = self.fact_local(e.name)
                self.record_need(local, e.name)
                return Val(local, not self.fast)
            case P.ParamRef():
                func = self.param_func(e.name)
                return self.bind(f"{func}(f, p, date, need)", self.param_nullable(e.name) and not self.fast)
            case P.Arith():
                return self.arith(e)
            case P.Neg():
                operand = self.expr(e.operand)
                return self.none_if([operand], f"-{operand.inner()}")
            case P.Cmp():
                left = self.expr(e.left)
                right = self.expr(e.right)
                roles = self.roles_test(e.left, left, e.right, right, e.op)
                if roles is not None:  # `applicant == k`: the applicant has role k (`!=`: has not)
                    return self.none_if([left, right], roles, "c")
                return self.none_if([left, right], f"{left.inner()} {_OP_SYMBOLS[e.op]} {right.inner()}", "c")
            case P.Since():
                return self.since(e)
            case P.In():
                subject = self.expr(e.subject)
                values = [self.s(v) for v in e.members]
                options = "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"
                if P.roles_fact(e.subject, self.plan.facts) and not self.fast:  # any of the roles
                    return self.none_if([subject], has_role_code(subject.inner(), values), "c")
                return self.none_if([subject], f"{subject.inner()} in {options}", "c")
            case P.And():
                return self.and_(e)
            case P.Or():
                return self.or_(e)
            case P.Not():
                operand = self.expr(e.operand)
                return self.none_if([operand], f"not {operand.inner()}", "c")
            case P.MinMax():
                args = [self.expr(a) for a in e.args]
                return self.none_if(args, f"{e.func}({', '.join(a.code for a in args)})")
            case P.Whole():
                value, size = self.expr(e.value), self.expr(e.size)
                code = f"{e.func}({value.code}, {size.code})"
                if value.nullable or size.nullable:
                    return self.none_if([value, size], code)
                # a unit that can be zero fails where the interpreter computes it, before later operands
                return self.bind(code, False) if self.may_raise(e) else Val(code, False)
            case P.Year():
                return self.year(e)
            case P.Unset():
                self.unset_value(e.why)
                return Val("None", True)
            case P.Table():
                return self.table(e)
            case P.Band():
                return self.band(e)
            case P.Brackets():
                subject, rows, parts = self.bracket_rows(e)
                return self.none_if([subject, *parts], f"progressive({subject.code}, {rows})")
            case _:
                assert_never(e)

    def bracket_rows(self, e: P.Brackets) -> tuple[Val, str, list[Val]]:
        """The subject of progressive brackets, the code of its rows ((lower, upper, rate), …) and the
        values they read, evaluated in the interpreter's order; a module constant when every limit
        and rate is a figure written in the policy."""
        subject = self.expr(e.subject)
        parts: list[Val] = []
        rows: list[str | Seq] = []
        for row in e.rows:
            items = [self.expr(x) for x in (row.lower, row.upper, row.rate) if x is not None]
            parts.extend(items)
            codes = iter(v.code for v in items)
            rows.append(
                Seq([next(codes) if x is not None else "None" for x in (row.lower, row.upper, row.rate)])
            )
        if all(self.pure(x) for row in e.rows for x in (row.lower, row.upper, row.rate) if x is not None):
            return subject, self.tuple_code(rows), parts
        code = Seq(rows).inline()
        return subject, code if width(code) <= 60 else self.bind(code, False).code, parts

    def bind(self, code: str, nullable: bool, prefix: str = "v") -> Val:
        """Store `code` in a new temporary."""
        name = self.fn.temp(prefix)
        self.assign(name, code)
        return Val(name, nullable)

    def assign(self, target: str, code: str) -> None:
        w = self.fn.w
        line = f"{target} = {code}"
        if w.fits(line):
            w.line(line)
            return
        # a conditional expression too long for the line becomes an if/else, its else part in turn
        # (`True if a else None if b else False`, the three-valued `or`, has two conditions)
        match = re.fullmatch(r"(None|True|False) if (.+?) else (.+)", code)
        if match:
            with w.block(f"if {match.group(2)}"):
                w.line(f"{target} = {match.group(1)}")
            with w.block("else"):
                self.assign(target, match.group(3))
            return
        w.line(line)

    def none_if(self, vals: list[Val], code: str, prefix: str = "v") -> Val:
        """`code` over `vals`, None when any of them is None."""
        tests = [f"{v.code} is None" for v in vals if v.nullable]
        if not tests:
            return Val(code, False, atomic=False)
        return self.bind(f"None if {' or '.join(tests)} else {code}", True, prefix)

    def roles_test(self, a: P.Expr, a_val: Val, b: P.Expr, b_val: Val, op: str) -> str | None:
        """`k in roles` for a comparison `a op b` (`==` or `!=`) of the applicant's roles (a set)
        with a kind, either way round (`k not in roles` for `!=`); None for any other comparison.
        The fast path takes one role, as a text, and compares it with `op`."""
        for subject, value, kind in ((a, b_val, b), (b, a_val, a)):
            if P.roles_fact(subject, self.plan.facts) and isinstance(kind, P.EnumConst):
                local = self.fact_local(subject.name) if isinstance(subject, P.FactRef) else ""
                if self.fast:
                    return f"{local} {_OP_SYMBOLS[op]} {value.inner()}"
                return f"{value.inner()} {'in' if op == '==' else 'not in'} {local}"
        return None

    def fact_local(self, name: str) -> str:
        local = self.fact_field(name)
        self.fn.facts[name] = local
        return local

    def record_need(self, local: str, name: str) -> None:
        if self.fast or self.quiet:  # quiet: explaining a figure already worked out
            return
        with self.fn.w.block(f"if {local} is None"):
            self.fn.w.line(f"need.add({self.s(name)})")

    def arith(self, e: P.Arith) -> Val:
        ratio = self.ratio(e)
        if ratio is not None:
            return Val(self.const(ratio), False)
        left = self.expr(e.left)
        right = self.expr(e.right)
        if e.kind == "date" or self.is_date(e.left) or self.is_date(e.right):
            date_val, dur = (left, right) if self.is_date(e.left) else (right, left)
            sign = "" if e.op == "+" else "-"
            match = re.fullmatch(r"\((-?\d+), (\"\w+\")\)", dur.code)
            if match:
                count, unit = match.groups()
                code = f"add_duration({date_val.code}, {sign}{count}, {unit})"
            else:
                code = f"add_duration({date_val.code}, {sign}{dur.code}[0], {dur.code}[1])"
            return (
                self.none_if([left, right], code)
                if left.nullable or right.nullable
                else self.bind(code, False)
            )
        code = f"{left.inner()} {e.op} {right.inner()}"
        if e.op == "/" and self.may_raise(e):
            # a division that can fail is done where the interpreter does it, before later operands
            return (
                self.none_if([left, right], code)
                if left.nullable or right.nullable
                else self.bind(code, False)
            )
        return self.none_if([left, right], code)

    def year(self, e: P.Year) -> Val:
        """`year(d)`, or `year_no(d)`, which needs the evaluation date as `since` does."""
        start = self.expr(e.date)
        if e.func == "year":
            return self.none_if([start], f"calendar_year({start.code})")
        if self.fast:
            return Val(f"year_no({start.code}, date)", False)
        result = self.fn.temp()
        w = self.fn.w
        unknown = "date is None" + (f" or {start.code} is None" if start.nullable else "")
        if self.quiet:  # explaining a figure already worked out: the date is known
            w.line(f"{result} = None if {unknown} else year_no({start.code}, date)")
            return Val(result, True)
        with w.block("if date is None"):
            w.line(f"need.add({literal(DATE_NEEDED)})")
            w.line(f"{result} = None")
        if start.nullable:
            with w.block(f"elif {start.code} is None"):
                w.line(f"{result} = None")
        with w.block("else"):
            w.line(f"{result} = year_no({start.code}, date)")
        return Val(result, True)

    def since(self, e: P.Since) -> Val:
        start = self.expr(e.start)
        duration = self.expr(e.duration)
        holds = self.fn.temp("c")
        w = self.fn.w
        match = re.fullmatch(r"\((-?\d+), (\"\w+\")\)", duration.code)
        count, unit = match.groups() if match else (f"{duration.code}[0]", f"{duration.code}[1]")
        if self.fast:  # how far `date` is from the day the duration ends (an OverflowError: no such day)
            boundary = f"add_duration({start.code}, {count}, {unit})"
            w.line(f"{holds} = {boundary} {_SINCE[e.op]} date")
            return Val(holds, False)
        with w.block("if date is None"):
            w.line(f"need.add({literal(DATE_NEEDED)})")
            w.line(f"{holds} = None")
        nulls = [f"{v.code} is None" for v in (start, duration) if v.nullable]
        if nulls:
            with w.block(f"elif {' or '.join(nulls)}"):
                w.line(f"{holds} = None")
        with w.block("else"):
            w.call(f"{holds} = since_compare(", [start.code, "date", literal(e.op), count, unit])
        return Val(holds, True)

    def both(self, left: Val, right_expr: P.Expr, op: str) -> Val:
        """On the fast path (two-valued): `left and right` or `left or right`, the right side's
        statements run only when it is needed."""
        w = self.fn.w
        outer, w.lines = w.lines, []
        with w.indent():  # written where they run: in the `if` below, so that their width is checked there
            right = self.expr(right_expr)
        inner, w.lines = w.lines, outer
        if left.code in ("True", "False"):  # `true or x` as written: what Python would give, said plainly
            if (left.code == "True") == (op == "or"):
                return left
            w.lines.extend(line.removeprefix(INDENT) for line in inner)
            return right
        code = f"{left.inner()} {op} {right.inner()}"
        if not inner and width(code) <= 60:
            return Val(code, False, atomic=False)
        result = self.fn.temp("c")
        w.line(f"{result} = {left.code}")
        with w.block(f"if {result}" if op == "and" else f"if not {result}"):
            w.lines.extend(inner)
            w.line(f"{result} = {right.code}")
        return Val(result, False)

    def and_(self, e: P.And) -> Val:
        if self.fast:
            return self.both(self.expr(e.left), e.right, "and")
        left = self.expr(e.left)
        w = self.fn.w
        result = self.fn.temp("c")
        at = len(w.lines) + 1
        with w.block(f"if {left.inner()} is False"):
            w.line(f"{result} = False")
        with w.block("else"):
            right = self.expr(e.right)
            if left.nullable or right.nullable:
                self.declare_optional(at, result)
                self.assign(
                    result, f"False if {right.inner()} is False else {left.inner()} and {right.inner()}"
                )
            else:
                w.line(f"{result} = {right.code}")
        return Val(result, left.nullable or right.nullable)

    def or_(self, e: P.Or) -> Val:
        left = self.expr(e.left)
        if self.fast:
            return self.both(left, e.right, "or")
        if isinstance(e.left, P.Not) and not left.atomic:
            left = self.bind(left.code, False, "c")  # `a implies b`: `not a` in a temporary
        w = self.fn.w
        result = self.fn.temp("c")
        at = len(w.lines) + 1
        with w.block(f"if {left.inner()} is True"):
            w.line(f"{result} = True")
        with w.block("else"):
            right = self.expr(e.right)
            nulls = [f"{v.code} is None" for v in (left, right) if v.nullable]
            if nulls:
                self.declare_optional(at, result)
                self.assign(
                    result, f"True if {right.inner()} is True else None if {' or '.join(nulls)} else False"
                )
            else:
                w.line(f"{result} = {right.code}")
        return Val(result, left.nullable or right.nullable)

    def declare_optional(self, at: int, name: str) -> None:
        """Type the first assignment of `name` (line `at`) as `bool | None`: a later one may be None."""
        line = self.fn.w.lines[at]
        self.fn.w.lines[at] = line.replace(f"{name} = ", f"{name}: bool | None = ", 1)

    def unset_value(self, why: str) -> None:
        self.fn.w.line(f"raise Unset({self.s(why)})")

    def row_value(self, target: str, value: P.Expr, key: str | None = None) -> None:
        """A table row's or band's value into `target`; an unset one raises with its reason (`{key}`
        in it stands for the applicant's value of the table's key, the local `key`)."""
        if isinstance(value, P.Unset):
            if key is not None and "{key}" in value.why:
                before, after = value.why.split("{key}", 1)
                parts = [*([literal(before)] if before else []), key, *([literal(after)] if after else [])]
                self.fn.w.line(f"raise Unset({' + '.join(parts)})")
            else:
                self.unset_value(value.why)
            return
        self.fn.w.line(f"{target} = {self.expr(value).code}")

    def table(self, e: P.Table) -> Val:
        w = self.fn.w
        result = self.fn.temp()
        key = self.fact_local(e.fact)
        start = len(w.lines)
        first = True
        if not self.fast:
            with w.block(f"if {key} is None"):
                w.line(f"need.add({self.s(e.fact)})")
                w.line(f"{result} = None")
            first = False
        otherwise = False
        for row in e.rows:
            if row.key is None:
                with w.block("else" if not first else "if True"):
                    self.row_value(result, row.value, key)
                otherwise = True
                break
            with w.block(f"{'if' if first else 'elif'} {key} == {self.s(row.key)}"):
                self.row_value(result, row.value)
            first = False
        if not otherwise:
            with w.block("else" if not first else "if True"):
                w.line(f'raise Unset("分级表没有 " + {key} + " 档")')
        w.choice(start)  # one key and `otherwise`: `r = a if key == "k" else b`
        return Val(result, not self.fast)

    def band(self, e: P.Band) -> Val:
        w = self.fn.w
        subject = self.expr(e.subject)
        result = self.fn.temp()
        if all(self.pure(bound) for row in e.rows for _, bound in row.bounds or ()):
            start = len(w.lines)
            first = True
            if subject.nullable:
                with w.block(f"if {subject.code} is None"):
                    w.line(f"{result} = None")
                first = False
            done = False
            for group in _same_value_runs(e.rows):
                row = group[0]
                if row.bounds is None:
                    with w.block("else" if not first else "if True"):
                        self.row_value(result, row.value)
                    done = True
                    break
                # neighbouring rows of one value share a branch (ruff's SIM114 refuses equal branches)
                tests = [
                    " and ".join(
                        f"{subject.inner()} {_OP_SYMBOLS[op]} {self.expr(bound).code}"
                        for op, bound in r.bounds or ()
                    )
                    for r in group
                ]
                test = tests[0] if len(tests) == 1 else " or ".join(f"({t})" for t in tests)
                with w.block(("if " if first else "elif ") + test):
                    self.row_value(result, row.value)
                first = False
            if not done:
                with w.block("else" if not first else "if True"):
                    self.unset_value(NO_BAND if e.counted_from is None else NO_YEAR)
            w.choice(start)  # two rows: `r = a if x > b else c`
            # on the fast path every fact is given: as a table's, the value is never None there
            return Val(result, subject.nullable or not self.fast)
        # bounds that read facts or parameters are evaluated one by one, as the interpreter does
        with w.block(f"if {subject.code} is None" if subject.nullable else "if False"):
            w.line(f"{result} = None")
        with w.block("else"):
            self._band_rows(e.rows, subject, result)
        return Val(result, True)

    def _band_rows(self, rows: tuple[P.BandRow, ...], subject: Val, result: str) -> None:
        w = self.fn.w
        if not rows:
            self.unset_value(NO_BAND)
            return
        row = rows[0]
        if row.bounds is None:
            self.row_value(result, row.value)
            return
        ok = self.fn.temp("ok")
        for i, (op, bound) in enumerate(row.bounds):
            if i == 0:
                value = self.expr(bound)
                w.line(f"{ok} = {subject.inner()} {_OP_SYMBOLS[op]} {value.inner()}")
            else:
                with w.block(f"if {ok}"):
                    value = self.expr(bound)
                    w.line(f"{ok} = {subject.inner()} {_OP_SYMBOLS[op]} {value.inner()}")
        with w.block(f"if {ok}"):
            self.row_value(result, row.value)
        with w.block("else"):
            self._band_rows(rows[1:], subject, result)

    # ------------------------------------------------------------------ conditions with handlers
    def test(self, e: P.Expr, text: str, holds: str, why: str | None, reset: bool = True) -> bool:
        """Evaluate a condition (`text` as written) into `holds` (and the reason it cannot be told
        into `why`), as Interpreter.test does.  Returns whether `why` may have been set."""
        w = self.fn.w
        if self.fast or not self.may_raise(e):
            val = self.expr(e)
            w.line(f"{holds} = {val.code}")
            return False
        why_target = why or "_"
        if why is not None and reset:
            w.line(f"{why} = None")
        with w.block("try"):
            val = self.expr(e)
            w.line(f"{holds} = {val.code}")
        with w.block("except Unset as exc"):
            w.line(f"{holds}, {why_target} = None, exc.what")
        with w.block("except ARITHMETIC as exc"):
            w.line(f"{holds}, {why_target} = None, failure({self.s(text)}, exc)")
        return why is not None

    def safe(self, e: P.Expr, target: str) -> None:
        """Interpreter._safe: the value, or None when it cannot be computed."""
        w = self.fn.w
        if self.fast or not self.may_raise(e):
            w.line(f"{target} = {self.expr(e).code}")
            return
        with w.block("try"):
            w.line(f"{target} = {self.expr(e).code}")
        with w.block("except (Unset, *ARITHMETIC)"):
            w.line(f"{target} = None")

    # ------------------------------------------------------------------ functions
    def begin(self) -> CodeWriter:
        self.fn = _Fn(CodeWriter(1))
        return self.fn.w

    def end(
        self,
        out: CodeWriter,
        signature: str,
        args: list[str],
        returns: str,
        comments: list[str],
        prologue: Sequence[str] = (),
    ) -> None:
        """Write the finished function: comments, signature, the fact reads, then the body."""
        out.blank(2)
        for text in comments:
            out.comment(text)
        out.call(f"def {signature}(", args, f") -> {returns}:")
        with out.indent():
            for line in prologue:
                out.line(line)
            for name, local in sorted(self.fn.facts.items(), key=lambda kv: kv[1]):
                out.call(f"{local} = f.get(", [self.s(name)])
        out.extend(self.fn.w)

    @staticmethod
    def declare_used(w: CodeWriter, start: int, declarations: Sequence[tuple[str, str]]) -> None:
        """Insert before line `start` of `w`, at its current indentation, each (name, declaration)
        whose name the lines from `start` on use (a declaration nothing reads is left out)."""
        body = "\n".join(w.lines[start:])
        used = [decl for name, decl in declarations if re.search(rf"\b{name}\b", body)]
        w.lines[start:start] = [INDENT * w.level + decl for decl in used]

    def param_func(self, name: str) -> str:
        if name in self.param_funcs:
            return self.param_funcs[name]
        func = self.namer.get("param", name, "param_" + self.namer.safe(name, str(len(self.param_funcs) + 1)))
        self.param_funcs[name] = func
        return func

    def gen_param(self, out: CodeWriter, param: P.ParamSpec) -> None:
        func = self.param_func(param.name)
        saved = self.fn
        w = self.begin()
        w.line(f"if {self.s(param.name)} in p:")
        with w.indent():
            w.line(f"return p[{self.s(param.name)}]")
        versions = param.versions

        def give(version: P.ParamVersion) -> None:
            if isinstance(version.value, P.Unset):
                self.unset_value(version.value.why)
            else:
                w.line(f"return {self.expr(version.value).code}")

        for i in range(len(versions) - 1, -1, -1):
            version = versions[i]
            if version.start is None:
                give(version)
                break
            start = self.date_const(version.start)
            test = f"date is None or date >= {start}" if i == len(versions) - 1 else f"date >= {start}"
            with w.block(f"if {test}"):
                give(version)
        else:
            give(versions[0])
        comments = [f"{self.file_line(param.where)}  parameter {param.name} 「{param.label}」"]
        comments += [f"from {v.start or 'the start'}: {v.cite}" for v in versions if v.cite]
        self.end(out, func, ["f: Values", "p: Values", "date: Date", "need: set[str]"], "Any", comments)
        self.fn = saved

    # ------------------------------------------------------------------ the full path as data
    def expr_func(self, e: P.Expr, what: str) -> str:
        """A module function computing `e` from the facts, parameters and date (recording the missing
        facts it reads in `need`), as support.Expr; entries computing the same share one. Its name."""
        saved = self.fn
        w = self.begin()
        w.line(f"return {self.expr(e).code}")
        facts = tuple(sorted(self.fn.facts.items(), key=lambda kv: kv[1]))
        key = repr((facts, w.lines))
        name = self.expr_funcs.get(key)
        if name is None:
            name = self.namer.get("expr", key, f"value_{len(self.expr_funcs) + 1}")
            self.expr_funcs[key] = name
            args = ["f: Values", "p: Values", "date: Date", "need: set[str]"]
            self.end(self.expr_out, name, args, "Any", [what])
        self.fn = saved
        return name

    def test_code(self, e: P.Expr, text: str, negate: bool | None = None) -> tuple[str, bool]:
        """A condition as support.Test (a fact read as it is is given by its name; with a `negate`
        flag, so is the negation of one; a fact compared with a figure as (fact, operator, figure))
        and the flag."""
        if negate is not None and isinstance(e, P.Not) and isinstance(e.operand, P.FactRef):
            return self.s(e.operand.name), not negate
        if isinstance(e, P.FactRef):
            return self.s(e.name), bool(negate)
        if (
            isinstance(e, P.Cmp)
            and isinstance(e.left, P.FactRef)
            and not P.roles_fact(e.left, self.plan.facts)
        ):
            right = e.right
            if isinstance(right, P.Const | P.EnumConst | P.DateConst):
                figure = self.expr(right).code
                return Seq([self.s(e.left.name), literal(e.op), figure]).inline(), bool(negate)
        return self.expr_func(e, text), bool(negate)

    def value_code(self, e: P.Expr, text: str) -> str:
        """A value as support.Expr, or the Decimal itself when it is a figure written in the policy."""
        if isinstance(e, P.Const) or self.ratio(e) is not None:
            return self.const(self.figure(e))
        return self.expr_func(e, text)

    def arithmetic_steps(self, expr: P.Expr) -> None:
        """The steps that show the arithmetic of the amount `expr` (render/steps.py), as the
        interpreter's `arithmetic` writes them: each part evaluated again (its facts are known)."""
        w = self.fn.w
        self.quiet = True
        for node in steps.explained(expr):
            texts = steps.texts(self.plan, node)
            shown = self.tuple_code(
                [Seq([literal(k), "None" if u is None else literal(u)]) for k, u in texts.shown]
            )
            match node:
                case P.Whole():
                    value, size = self.expr(node.value), self.expr(node.size)
                    args = [literal(node.func), self.s(texts.text), value.code, size.code, shown]
                    w.call("whole_step(", ["steps", *args])
                case P.Band() if node.counted_from is not None:
                    year = self.expr(node.subject)
                    words = self.tuple_code([literal(t) for t in texts.rows])
                    years = self.tuple_code([f"({a}, {b})" for a, b in node.years])
                    w.call("year_step(", ["steps", self.s(texts.text), year.code, years, words])
                case P.Band():
                    subject = self.expr(node.subject)
                    rows: list[str | Seq] = [
                        "None"
                        if r.bounds is None
                        else Seq([Seq([literal(op), self.expr(b).code]) for op, b in r.bounds])
                        for r in node.rows
                    ]
                    words = self.tuple_code([literal(t) for t in texts.rows])
                    args = [self.s(texts.text), subject.code, self.tuple_code(rows), words, shown]
                    w.call("band_step(", ["steps", *args])
                case P.Brackets():
                    subject, bracket_rows, _ = self.bracket_rows(node)
                    w.call("bracket_step(", ["steps", self.s(texts.text), subject.code, bracket_rows, shown])
        self.quiet = False

    def steps_func(self, e: P.Expr, what: str) -> str | None:
        """A module function giving the steps that show the arithmetic of the amount `e` (whole blocks,
        the band applied, each bracket's part), as support.Expr returning them; None when it shows none.
        Functions with the same body are shared."""
        if next(steps.explained(e), None) is None:
            return None
        saved = self.fn
        w = self.begin()
        w.line("steps: list[str] = []")
        self.arithmetic_steps(e)
        w.line("return steps")
        facts = tuple(sorted(self.fn.facts.items(), key=lambda kv: kv[1]))
        key = repr(("steps", facts, w.lines))
        name = self.expr_funcs.get(key)
        if name is None:
            name = self.namer.get("expr", key, f"steps_{len(self.expr_funcs) + 1}")
            self.expr_funcs[key] = name
            args = ["f: Values", "p: Values", "date: Date", "need: set[str]"]
            self.end(self.expr_out, name, args, "list[str]", [what])
        self.fn = saved
        return name

    def product_code(self, e: P.Expr) -> str | None:
        """A figure times a fact (either way round) as support.Figure's (figure, fact), or None."""
        if isinstance(e, P.Arith) and e.op == "*" and e.kind != "date":
            for figure, fact in ((e.left, e.right), (e.right, e.left)):
                if isinstance(fact, P.FactRef) and isinstance(figure, P.Const):
                    return Seq([self.const(figure.value), self.s(fact.name)]).inline()
        return None

    def unmet_code(self, data: rt.Unmet) -> str:
        """Why a condition failed, as data (runtime.Unmet), a module constant named UNMET_N."""

        def code(item: Any) -> str | Seq:
            if isinstance(item, tuple):
                return Seq([code(x) for x in item])
            if isinstance(item, str):
                return self.s(item)
            if isinstance(item, Decimal):
                return self.const(item)
            return repr(item)

        seq = code(data)
        assert isinstance(seq, Seq)
        text = seq.inline()
        if text not in self.tuples:
            count = sum(1 for name, _ in self.tuples.values() if name.startswith("UNMET_"))
            self.tuples[text] = (self.namer.get("unmet", text, f"UNMET_{count + 1}"), seq)
        return self.tuples[text][0]

    def unmet_table(self, data: rt.Unmet, unmet: str) -> str | None:
        """For a condition on one yes/no or enumeration fact (not the roles), the name of a module
        constant holding its reason for each value of the fact (support.unmet_texts); else None."""
        if len(data[2]) != 1:
            return None
        shape, _, _, kind, _, members, *_ = data[2][0]
        if not ((shape == "is" and kind == "bool") or (shape == "in" and kind == "enum" and members)):
            return None
        if unmet not in self.unmet_tables:
            self.unmet_tables[unmet] = self.namer.get("unmet_texts", unmet, f"{unmet}_TEXTS")
        return self.unmet_tables[unmet]

    def gate(self, gate: P.Gate) -> None:
        """A requirement written out (Interpreter.gate): its outcome into `conditions` under its key,
        a failing one's reason into `failures`, an undecided one's into `unknown`."""
        w = self.fn.w
        raises = self.test(gate.cond, gate.text, "holds", "why")
        if not gate.passes_when:
            w.line("holds = None if holds is None else not holds")
        w.line(f"conditions[{self.s(gate.key)}] = holds")
        data = gate_unmet(self.plan, gate)
        unmet = self.unmet_code(data)
        table = self.unmet_table(data, unmet)
        with w.block("if holds is False"):
            if table is not None:  # worked out when the module is loaded
                w.line(f"failures.append({table}[{self.fact_local(data[2][0][1])}])")
            else:
                w.line(f"failures.append(UNMET + unmet({unmet}, f, date))")
        with w.block("elif holds is None"):
            w.line(f"unknown.append({'why or ' if raises else ''}undecided_reason({unmet}, f))")

    def entries(
        self, w: CodeWriter, head: str, entries: Sequence[tuple[Sequence[str], Seq]], tail: str
    ) -> None:
        """A tuple of `entries`, each after its comments (or `()` when there is none)."""
        if not entries:
            w.line(head + "()" + tail)
            return
        w.line(head + "(")
        with w.indent():
            for comments, seq in entries:
                for text in comments:
                    w.comment(text)
                w.display("", seq, ",")
        w.line(")" + tail)

    def clause_seq(self, clause: P.Clause) -> Seq:
        amount = clause.amount
        ceiling = "True" if amount.mode == "ceiling" else "False"
        caps = Seq([Seq([self.value_code(c.expr, f"cap {c.text}"), self.s(c.text)]) for c in amount.caps])
        if amount.expr is None or amount.text is None:
            amount_seq = Seq(
                ["None", '""', "()", ceiling, caps.inline() if caps.items else "()"], "amount(", ")"
            )
            amount_seq.items.append(f"unset_reason={self.s(amount.unset_reason)}")
        else:
            used = self.facts_used(amount.expr)
            value = self.product_code(amount.expr) or self.value_code(
                amount.expr, f"amount: {amount.mode} {amount.text}"
            )
            items: list[str | Seq] = [
                value,
                self.s(amount.text),
                self.facts_tuple(used) if used else "()",
                ceiling,
            ]
            if amount.caps:
                items.append(caps)
            arithmetic = self.steps_func(amount.expr, f"the arithmetic of {amount.text}")
            if arithmetic is not None:
                items.append(f"arithmetic={arithmetic}")
            for word, bound in (("floor", amount.floor), ("offset", amount.offset)):
                if bound is not None:
                    code = self.value_code(bound.expr, f"{word} {bound.text}")
                    items.append(Seq([code, self.s(bound.text)], f"{word}=(", ")"))
            amount_seq = Seq(items, "amount(", ")")
        cite = self.s(clause.cite) if clause.cite is not None else "None"
        items = [
            self.s(clause.id),
            literal(clause.kind),
            self.s(clause.label),
            cite,
            self.s(clause.head),
            amount_seq,
        ]
        if clause.conditions:
            conditions = []
            for cond in clause.conditions:
                test, negated = self.test_code(
                    cond.cond, ("unless " if cond.negated else "if ") + cond.text, cond.negated
                )
                used = self.facts_used(cond.cond)
                unmet = self.unmet_code(condition_unmet(self.plan, clause, cond))
                shown = self.facts_tuple(used) if used else "()"
                conditions.append(Seq([test, self.s(cond.text), str(negated), shown, unmet]))
            items.append(Seq(conditions))
            items.append(self.s(clause.conditions_text))
        if clause.exception_of is not None:
            items.append(f"exception_of={self.s(clause.exception_of)}")
        if clause.priority is not None:
            items.append(f"priority={clause.priority}")
        return Seq(items, "clause(", ")")

    def measure_seq(self, measure: P.Measure) -> Seq:
        forms = Seq([self.s(x) for x in measure.forms])
        cite = self.s(measure.cite) if measure.cite is not None else "None"
        items: list[str | Seq] = [Seq([self.s(measure.name), self.s(measure.label), cite, forms])]
        clauses = []
        for clause in measure.clauses:
            comments = [
                f"{self.file_line(clause.where)}  {clause.cite or ''}".rstrip(),
                f"{clause.kind} {clause.id} 「{clause.label}」",
            ]
            clauses.append((comments, self.clause_seq(clause)))
        items.append(Seq([s for _, s in clauses]) if clauses else "()")
        self.pending = clauses
        items.append(self.s(measure.none_reason))
        funding = [
            Seq(
                [
                    self.value_code(limit.limit, f"funding_limit {limit.text}"),
                    self.value_code(limit.received, f"counting {received_text(limit)}"),
                    self.s(limit.text),
                ]
            )
            for limit in measure.funding_limits
        ]
        if funding:
            items.append(Seq(funding, "funding=(", ")"))
        stages = []
        for stage in measure.instalments:
            test, _ = self.test_code(stage.cond, stage.text)
            share = "None" if stage.share is None else self.value_code(stage.share, f"share of {stage.name}")
            stages.append(
                Seq([self.s(stage.name), self.s(stage.label), test, self.s(stage.text), share], "stage(", ")")
            )
        if stages:
            items.append(Seq(stages, "stages=(", ")"))
        if measure.no_clawback:
            items.append("no_clawback=True")
        prefs = []
        for pref in measure.preferences:
            test, _ = self.test_code(pref.cond, f"prefer {pref.text}")
            prefs.append(Seq([test, self.s(pref.text), self.s(pref.note)]))
        if prefs:
            items.append(Seq(prefs, "preferences=(", ")"))
        if measure.quota is not None:
            items.append(f"selection={self.s(measure.quota.selection)}")
        # runtime.finish_measure settles exceptions and sums the floors of ranges
        if any(
            c.exception_of is not None or (c.amount.mode == "ceiling" and c.amount.floor is not None)
            for c in measure.clauses
        ):
            items.append("general=True")
        return Seq(items, "measure_spec(", ")")

    def write_measure(self, w: CodeWriter, measure: P.Measure, position: int) -> None:
        """One measure: its data (`SPEC_<name>`, with comments beside its clauses) and the function that
        writes out its requirements, then runs the data with support.run_measure."""
        seq = self.measure_seq(measure)
        clauses = self.pending
        stem = self.namer.safe(measure.name, str(position))
        spec = self.namer.get("spec", measure.name, "SPEC_" + stem)
        func = self.namer.get("measure", measure.name, "measure_" + stem)
        where = [
            f"{self.file_line(measure.where)}  {measure.cite or ''}".rstrip(),
            f"measure {measure.name} 「{measure.label}」",
        ]
        w.blank(2)
        for text in where:
            w.comment(text)
        w.line(f"{spec}: MeasureSpec = measure_spec(")
        with w.indent():
            head = seq.items[0]
            assert isinstance(head, Seq)
            w.display("", head, ",")
            self.entries(w, "", clauses, ",")
            for item in seq.items[2:]:
                if isinstance(item, Seq):
                    w.display("", item, ",")
                else:
                    w.line(item + ",")
        w.line(")")
        self.measure_func(w, measure, spec, func)
        self.measure_funcs.append(func)

    def measure_func(self, out: CodeWriter, measure: P.Measure, spec: str, func: str) -> None:
        """The function of one measure: its requirements written out (as Interpreter.measure takes
        them), then, unless one fails, its data run by support.run_measure."""
        w = self.begin()
        with w.block("if shared[0]"):
            w.call("return measure_result(", [f"{spec}[0]", "INELIGIBLE", "list(shared[0])", "{}"])
        w.line("need = set(shared[2])")
        w.line("conditions: Conditions = {}")
        w.line("unknown: list[str] = []")
        applicants = measure.applicants
        gates = applicants is not None or bool(measure.gates)
        if gates:
            w.line("failures: list[str] = []")
        if any(self.may_raise(g.cond) for g in measure.gates):
            w.line("why = None")
        if applicants is not None:
            reason = self.s(applicants.reason)
            w.comment("applicants " + ", ".join(applicants.kinds))
            kind = self.fact_local(APPLICANT_FACT[0])
            role = f"FACT_SPECS[{literal(APPLICANT_FACT[0])}]"
            with w.block(f"if {kind} is None"):
                w.line(f"need.add({literal(APPLICANT_FACT[0])})")
                w.call("unknown.append(role_unmet(", [reason, "None", role], "))")
            kinds = [self.s(k) for k in applicants.kinds]
            if len(kinds) == 1:  # runtime.has_role written out
                w.line(f"elif {kinds[0]} not in {kind}:")
            else:
                w.display(f"elif {kind}.isdisjoint(", Seq(kinds), "):")
            with w.indent():
                w.call("failures.append(role_unmet(", [reason, kind, role], "))")
        for gate in measure.gates:
            w.comment(f"{self.file_line(gate.where)}  {gate.kind} {gate.text}")
            self.gate(gate)
        if gates:
            with w.block("if failures"):
                w.call("return measure_result(", [f"{spec}[0]", "INELIGIBLE", "failures", "conditions"])
        w.line("if shared[1]:")
        with w.indent():
            w.line("unknown = shared[1] + unknown")
        args = [spec, "f", "p", "date", "need", "conditions", "unknown", "explain", "NEEDED", "ROUNDING"]
        w.call("return run_measure(", args)
        args = ["f: Values", "p: Values", "date: Date", "shared: Shared", "explain: bool"]
        self.end(out, func, args, "MeasureResult", ["its requirements, then its data"])

    def shared_func(self, out: CodeWriter) -> None:
        """The policy-wide reasons to rule every measure out (Interpreter.shared_gates): its validity and
        its eligibility requirements, those not yet decidable, and the facts they need."""
        w = self.begin()
        w.line("failures: list[str] = []")
        w.line("unknown: list[str] = []")
        w.line("need: set[str] = set()")
        w.line("conditions: Conditions = {}")
        if any(self.may_raise(g.cond) for g in self.plan.eligibility):
            w.line("why = None")
        start, end = self.plan.validity.start, self.plan.validity.end
        bounds = []
        if start is not None:
            const = self.date_const(start)
            text = f'f"政策自 {{{const}.isoformat()}} 起施行，评估日期 {{date.isoformat()}} 尚未生效"'
            bounds.append((f"date < {const}", text))
        if end is not None:
            const = self.date_const(end)
            text = f'f"政策有效期至 {{{const}.isoformat()}}，评估日期 {{date.isoformat()}} 已失效"'
            bounds.append((f"date > {const}", text))
        if len(bounds) == 1:
            test, text = bounds[0]
            with w.block(f"if date is not None and {test}"):
                w.call("failures.append(", [text])
        elif bounds:
            with w.block("if date is not None"):
                for test, text in bounds:
                    with w.block(f"if {test}"):
                        w.call("failures.append(", [text])
        vague = self.vague_window()
        if vague is not None:
            # a date the text gives only to the year or month: between its earliest and latest
            # window, whether the policy is in force is not known (Interpreter.shared_gates)
            why = self.s(self.plan.validity.vague or "")
            with w.block(f"if date is not None and not failures and ({vague})"):
                w.call("unknown.append(", [f'{why} + f"，评估日期 {{date.isoformat()}} 是否在有效期内未定"'])
        for gate in self.plan.eligibility:
            w.comment(f"{self.file_line(gate.where)}  require {gate.text}")
            self.gate(gate)
        w.line("return failures, unknown, need, conditions")
        comments = ["eligibility shared by every measure, and the policy's validity"]
        self.end(out, "shared_gates", ["f: Values", "p: Values", "date: Date"], "Shared", comments)

    def vague_window(self) -> str | None:
        """The test that the evaluation `date` falls where a validity date the text gives only to
        the year or month leaves it undetermined whether the policy is in force (None: exact)."""
        v = self.plan.validity
        if v.vague is None:
            return None
        tests = [
            *([f"date < {self.date_const(v.sure_start)}"] if v.sure_start is not None else []),
            *([f"date > {self.date_const(v.sure_end)}"] if v.sure_end is not None else []),
        ]
        return " or ".join(tests) or None

    def measures_data(self, out: CodeWriter) -> None:
        """The shared requirements, then every measure: its data and its function."""
        w = CodeWriter()
        self.shared_func(w)
        for position, measure in enumerate(self.plan.measures, 1):
            self.write_measure(w, measure, position)
        out.extend(self.expr_out)
        out.extend(w)

    def assumptions_func(self, out: CodeWriter) -> None:
        """Interpreter.check_assumptions: the `assume` lines the facts contradict."""
        w = self.begin()
        w.line("problems: list[Problem] = []")
        for assume in self.plan.assumption_lines:
            quoted = assume.text
            w.comment(f"{self.file_line(assume.where)}  assume {quoted}")
            self.test(assume.cond, quoted, "holds", None)
            with w.block("if holds is False"):
                label = "None" if assume.label is None else self.s(assume.label)
                w.call("broken = contradiction_problem(", [self.s(quoted), label])
                w.line("problems.append(broken)")
        w.line("return problems")
        self.declare_used(w, 0, [("need", "need: set[str] = set()")])  # none when no fact is read
        self.end(
            out,
            "contradicted",
            ["f: Values", "p: Values", "date: Date"],
            "list[Problem]",
            ["the policy's assumptions the facts contradict (an input error)"],
        )

    def total_caps_func(self, out: CodeWriter) -> None:
        w = self.begin()
        w.line("caps: list[tuple[Decimal | None, list[str]]] = []")
        for cap in self.plan.total_caps:
            self.safe(cap.amount, "limit")
            names = Seq([self.s(m) for m in cap.measures], "[", "]")
            if w.fits(f"caps.append((limit, {names.inline()}))"):
                w.line(f"caps.append((limit, {names.inline()}))")
            else:  # a long list of measures goes on lines of its own first, as the formatter lays it out
                w.display("capped = ", names)
                w.line("caps.append((limit, capped))")
        if any(len(pot.measures) > 1 for pot in self.plan.pots):
            w.line("caps += pot_caps(pots(p))")
        w.line("return caps")
        self.declare_used(w, 0, [("need", "need: set[str] = set()")])
        self.end(
            out,
            "total_caps",
            ["f: Values", "p: Values", "date: Date"],
            "list[tuple[Decimal | None, list[str]]]",
            ["total_cap: the sums of awards each applicant may receive at most"],
        )

    def other_awards_func(self, out: CodeWriter) -> None:
        """`other_awards(f, p, date)`: the combinations with awards under other documents, with what
        the applicant received (runtime.combine_total applies them to the total)."""
        w = self.begin()
        w.line("others: list[OtherAward] = []")
        for other in self.plan.other_documents:
            w.comment(f"combine {other.mode} against {other.received_text}")
            self.safe(other.received, "received")
            names = Seq([self.s(m) for m in other.measures], "[", "]")
            labels = Seq([self.s(self.plan.measure(m).label) for m in other.measures], "[", "]")
            head = f"others.append(({self.s(other.mode)}, "
            tail = f"{self.s(other.label)}, {self.s(other.received_text)}, "
            if w.fits(f"{head}{names.inline()}, received, {tail}{labels.inline()}))"):
                w.line(f"{head}{names.inline()}, received, {tail}{labels.inline()}))")
            else:  # long lists on lines of their own first, as the formatter lays them out
                w.display("covered = ", names)
                w.display("labels = ", labels)
                w.line(f"{head}covered, received, {tail}labels))")
        w.line("return others")
        self.declare_used(w, 0, [("need", "need: set[str] = set()")])
        self.end(
            out,
            "other_awards",
            ["f: Values", "p: Values", "date: Date"],
            "list[OtherAward]",
            ["combine … against <fact>: the awards received under other documents"],
        )

    def shared_limits_func(self, out: CodeWriter) -> None:
        """`shared_limits(f, p, date)`: the funding limits that count other measures' awards, worked
        out for one applicant, in the plan's order (runtime.share_funding applies them)."""
        w = self.begin()
        w.line("limits: list[SharedLimit] = []")
        for measure, limit in self.plan.shared_limits:
            w.comment(f"{measure.name}: funding_limit {limit.text} counting {', '.join(limit.measures)}")
            self.safe(limit.limit, "limit")
            self.safe(limit.received, "received")
            counted = Seq([self.s(n) for n in limit.measures], "[", "]")
            parts = [self.s(measure.name), counted.inline(), "limit", "received", self.s(limit.text)]
            if w.fits(f"limits.append(({', '.join(parts)}))"):
                w.line(f"limits.append(({', '.join(parts)}))")
            else:  # as the formatter lays it out: the measures counted first, the entry exploded
                w.display("counted = ", counted)
                w.items("entry = (", [parts[0], "counted", *parts[2:]], ")")
                w.line("limits.append(entry)")
        w.line("return limits")
        self.declare_used(w, 0, [("need", "need: set[str] = set()")])
        self.end(
            out,
            "shared_limits",
            ["f: Values", "p: Values", "date: Date"],
            "list[SharedLimit]",
            ["funding_limit … counting <measures>: the limits several measures share"],
        )

    def pots_func(self, out: CodeWriter) -> None:
        """`pots(p)`: each pot with its amount worked out (None: it cannot be); a pot reads no fact."""
        w = self.begin()
        w.line("out: list[PotRule] = []")
        for pot in self.plan.pots:
            self.safe(pot.amount, "amount")
            quoted = [self.s(m) for m in pot.measures]
            names = "(" + ", ".join(quoted) + ("," if len(quoted) == 1 else "") + ")"
            args = [self.s(pot.name), self.s(pot.label), "amount", self.s(pot.text), names]
            args.append("None" if pot.allocate is None else self.s(pot.allocate))
            w.call("out.append((", args, "))")
        w.line("return out")
        self.declare_used(w, 0, [("need", "need: set[str] = set()"), ("date", "date = None")])
        body = "\n".join(w.lines)
        prologue = ["f: Values = {}"] if self.fn.facts or re.search(r"\bf\b", body) else []
        self.end(
            out,
            "pots",
            ["p: Values"],
            "list[PotRule]",
            ["pot: the sums shared by the applicants of their measures"],
            prologue,
        )

    def rank_value(self, w: CodeWriter, rank: P.Expr) -> None:
        """`value = RANK`; guarded only when the rank may be unset (a parameter the text leaves open,
        a table without a matching row…): such an applicant is ranked as one not known, as the
        interpreter ranks it."""
        if not self.may_raise(rank):
            w.line(f"value = {self.expr(rank).code}")
            return
        with w.block("try"):
            w.line(f"value = {self.expr(rank).code}")
        with w.block("except Unset"):
            w.line("value = None")

    def rank_funcs(self, out: CodeWriter) -> dict[str, str]:
        ranks: dict[str, str] = {}
        for measure in self.plan.measures:
            quota = measure.quota
            if quota is None or quota.rank is None:
                continue
            func = self.namer.get("rank", measure.name, "rank_" + self.namer.safe(measure.name, "measure"))
            w = self.begin()
            with w.block("with decimal.localcontext(CONTEXT)"):
                self.rank_value(w, quota.rank)
            w.line("return value if isinstance(value, Decimal) else None")
            self.declare_used(w, 0, [("need", "need: set[str] = set()"), ("date", "date = None")])
            # the facts are checked even when the rank reads none of them (a figure)
            reads = self.fn.facts or re.search(r"\bf\b", "\n".join(w.lines))
            prologue = [
                "try:",
                "    f = parse_facts(FACT_SPECS, facts)" if reads else "    parse_facts(FACT_SPECS, facts)",
                "except InputError:",
                "    return None",
            ]
            comments = [f"{self.file_line(quota.where)}  quota {quota.count} rank {quota.rank_text}"]
            self.end(
                out, func, ["facts: Mapping[str, Any]", "p: Values"], "Decimal | None", comments, prologue
            )
            ranks[measure.name] = func
        for pot in self.plan.pots:
            if pot.rank is None:
                continue
            func = self.namer.get("rank", "pot " + pot.name, "rank_pot_" + self.namer.safe(pot.name, "pot"))
            w = self.begin()
            with w.block("with decimal.localcontext(CONTEXT)"):
                self.rank_value(w, pot.rank)
            w.line("return value if isinstance(value, Decimal) else None")
            self.declare_used(w, 0, [("need", "need: set[str] = set()"), ("date", "date = None")])
            reads = self.fn.facts or re.search(r"\bf\b", "\n".join(w.lines))
            prologue = [
                "try:",
                "    f = parse_facts(FACT_SPECS, facts)" if reads else "    parse_facts(FACT_SPECS, facts)",
                "except InputError:",
                "    return None",
            ]
            comments = [f"pot {pot.name} allocate ranked by {pot.rank_text}"]
            self.end(
                out, func, ["facts: Mapping[str, Any]", "p: Values"], "Decimal | None", comments, prologue
            )
            ranks["pot " + pot.name] = func
        return ranks

    def constraints_func(self, out: CodeWriter, ranks: dict[str, str]) -> None:
        w = self.begin()
        w.line("out: list[Constraint | PotShare] = []")
        for measure in self.plan.measures:
            quota = measure.quota
            cap = measure.group_cap
            if quota is None and cap is None:
                continue
            args = [self.s(measure.name)]
            if quota is not None:
                args.append(f"quota={quota.count}")
                if measure.name in ranks:
                    args.append(f"rank=lambda facts: {ranks[measure.name]}(facts, p)")
                if quota.selected_by is not None:
                    fact = self.s(quota.selected_by)
                    args.append(f"selected=lambda facts: marked_selected(FACT_SPECS, facts, {fact})")
                    args.append(f"selected_label={self.s(self.plan.facts[quota.selected_by].label)}")
            if cap is not None:
                quoted = self.s(cap.text)
                with w.block("try"), w.block("with decimal.localcontext(CONTEXT)"):
                    start = len(w.lines)
                    w.line(f"cap = {self.expr(cap.amount).code}")
                    self.declare_used(w, start, [("need", "need: set[str] = set()"), ("date", "date = None")])
                with w.block("except Unset as exc"):
                    w.line(f'raise InputError([{quoted} + "：" + exc.what]) from None')
                with w.block("except ARITHMETIC as exc"):
                    w.line(f"raise InputError([failure({quoted}, exc)]) from None")
                args += ["group_cap=cap", f"group={self.s(cap.per)}"]
                if cap.allocate is not None:
                    args.append(f"allocate={self.s(cap.allocate)}")
            if quota is not None and quota.selected_by is not None:  # wrapped as the formatter does
                w.call("constraint = Constraint(", args, ")")
                w.line("out.append(constraint)")
            else:
                w.call("out.append(Constraint(", args, "))")
        if self.plan.pots:
            quantum = self.const(rt.ROUNDING_QUANTA[self.rounding.unit])
            w.line("rules = {rule[0]: rule for rule in pots(p)}")
        for pot in self.plan.pots:
            quoted = self.s(pot.text)
            w.line(f"amount = rules[{self.s(pot.name)}][2]")
            with w.block("if amount is None"):
                w.line(f'raise InputError([{quoted} + "：资金池金额无法计算"])')
            quoted_names = [self.s(m) for m in pot.measures]
            names = "(" + ", ".join(quoted_names) + ("," if len(quoted_names) == 1 else "") + ")"
            args = [self.s(pot.name), self.s(pot.label), "amount", names]
            args.append("None" if pot.allocate is None else self.s(pot.allocate))
            key = "pot " + pot.name
            args.append(f"lambda facts: {ranks[key]}(facts, p)" if key in ranks else "None")
            args += [quantum, quoted]
            w.call("share = PotShare(", args, ")")
            w.line("out.append(share)")
        w.line("return out")
        body = "\n".join(w.lines)
        if re.search(r"\bp\b", body):
            prologue = ["p = parse_params(params, PARAM_SPECS) if params else {}"]
        else:
            prologue = [
                "if params:",
                INDENT + "parse_params(params, PARAM_SPECS)  # refuses unknown or bad values",
            ]
        if self.fn.facts or re.search(r"\bf\b", body):
            prologue.append("f: Values = {}")
        self.end(
            out,
            "constraints",
            ["params: Mapping[str, Any] | None = None"],
            "list[Constraint | PotShare]",
            ["quotas, group caps and pots, applied across a batch of applicants"],
            prologue,
        )

    def facts_class(self, out: CodeWriter) -> None:
        out.blank(2)
        out.line("@dataclasses.dataclass(frozen=True)")
        out.line("class Facts:")
        with out.indent():
            out.line('"""The applicant\'s facts, typed; a fact left None is not given."""')
            out.blank()
            for name, spec in self.plan.facts.items():
                py = {
                    "money": "Decimal | int",
                    "percent": "Decimal | int",
                    "number": "Decimal | int",
                    "count": "Decimal | int",
                    "bool": "bool",
                    "date": "datetime.date",
                    "enum": "str",
                    "roles": "str | frozenset[str]",
                    "text": "str",
                    "duration": "tuple[int, str]",
                }.get(spec.kind, "Any")
                out.comment(
                    f"{name} 「{spec.label}」" + (f" ({kind_text(spec)})" if spec.kind != "money" else "")
                )
                out.line(f"{self.fact_field(name)}: {py} | None = None")
            out.blank()
            out.line("def given(self) -> Values:")
            with out.indent():
                out.line('"""The facts given, by their names in the policy."""')
                out.line(
                    "return {name: value for field, name in FACT_FIELDS"
                    " if (value := getattr(self, field)) is not None}"
                )

    def read_facts_func(self, out: CodeWriter) -> None:
        """Facts given as typed Python values skip the general parser when every value is valid."""
        w = self.begin()
        w.line("raw = facts.given() if isinstance(facts, Facts) else facts")
        w.line("found = 0")
        roles = next((spec for spec in self.fact_specs if spec.kind == P.ROLES), None)
        if roles is not None:  # one role by its name is the set of that role; anything else is parsed
            w.comment(f"{roles.name} (roles)")
            w.line("roles: frozenset[str] | None = None")
            w.call("v = raw.get(", [self.s(roles.name)])
            with w.block("if v is not None"):
                (member,) = value_tests(self, roles)
                with w.block(f"if not (type(v) is str and {member.format(v='v')})"):
                    w.line("return parse_facts(FACT_SPECS, raw, strict=strict)")
                w.line("roles = frozenset((v,))")
                w.line("found += 1")
        for spec in self.fact_specs:
            check = self.fast_check(spec)
            if check is None:
                continue
            local = "v"
            w.comment(f"{spec.name} ({spec.kind})")
            w.call(f"{local} = raw.get(", [self.s(spec.name)])
            with w.block(f"if {local} is not None"):
                tests = [t.format(v=local) for t in check]
                joined = " and ".join(tests)
                for test in [joined] if w.fits(f"if not ({joined}):", 1) else tests:
                    with w.block(f"if {negated(test)}"):
                        w.line("return parse_facts(FACT_SPECS, raw, strict=strict)")
                w.line("found += 1")
        with w.block("if found != len(raw)"):
            w.line("# unknown or empty entries, other spellings: the general parser reports or drops them")
            w.line("return parse_facts(FACT_SPECS, raw, strict=strict)")
        w.line("# every value is already of its fact's type and within its bounds")
        if roles is not None:
            with w.block("if roles is not None"):
                w.line(f"return {{**raw, {self.s(roles.name)}: roles}}")
        w.line("return raw if type(raw) is dict else dict(raw)")
        self.end(
            out,
            "read_facts",
            ["facts: Facts | Mapping[str, Any]", "strict: bool = False"],
            "Values",
            [
                "the applicant's facts, checked and converted (every problem at once); a key that names",
                "no fact is ignored, or refused when `strict`",
            ],
        )

    def fast_check(self, spec: rt.FactSpec) -> list[str] | None:
        """Tests (on `{v}`) that a typed value passes exactly when runtime.parse_fact would return it
        unchanged; None for kinds that always go through the parser."""
        kind_type = TYPES.get(spec.kind)
        if kind_type is None or spec.kind == P.ROLES:  # roles are a set: the parser makes it
            return None
        finite = " and {v}.is_finite()" if kind_type == "Decimal" else ""
        return [f"type({{v}}) is {kind_type}{finite}", *value_tests(self, spec)]

    def checks_table(self, out: CodeWriter) -> None:
        """CHECKS, what support.add_checks lists for an explained decision: the shared requirements and,
        per measure, its applicants gate, requirements and exclusions, and its spec."""

        def gates(items: Sequence[P.Gate]) -> Seq:
            pairs = [Seq([self.s(g.key), self.unmet_code(gate_unmet(self.plan, g))]) for g in items]
            return Seq(pairs)

        entries: list[str | Seq] = []
        for measure in self.plan.measures:
            a = measure.applicants
            who: str | Seq = "None"
            if a is not None:
                who = Seq([self.s(a.reason), Seq([self.s(k) for k in a.kinds])])
            spec = self.namer.get("spec", measure.name, "")  # named when the measure was written
            entries.append(Seq([who, gates(measure.gates), spec], f"{self.s(measure.name)}: (", ")"))
        out.blank(2)
        out.display("CHECKS: Checks = ", Seq([gates(self.plan.eligibility), Seq(entries, "{", "}")]))

    def evaluate_funcs(self, out: CodeWriter) -> None:
        self.checks_table(out)
        w = self.begin()
        w.line("f = read_facts(facts, strict)")
        w.line("ignored = () if isinstance(facts, Facts) else unknown_keys(FACT_SPECS, facts)")
        w.line("p = parse_params(params, PARAM_SPECS) if params else {}")
        with w.block("with decimal.localcontext(CONTEXT)"):
            if self.plan.assumption_lines:
                w.line("problems = contradicted(f, p, date)")
                with w.block("if problems"):
                    w.line("raise InputError(problems)")
            w.line("shared = shared_gates(f, p, date)")
            w.line("measures: dict[str, MeasureResult] = {" + ("" if self.measure_funcs else "}"))
            if self.measure_funcs:
                with w.indent():
                    for measure, func in zip(self.plan.measures, self.measure_funcs, strict=True):
                        args = ["f", "p", "date", "shared", "explain"]
                        w.call(f"{self.s(measure.name)}: {func}(", args, "),")
                w.line("}")
            with w.block("if explain"):
                role = "None"
                if APPLICANT_FACT[0] in self.plan.facts:
                    role = f"FACT_SPECS[{literal(APPLICANT_FACT[0])}]"
                w.call("add_checks(", ["measures", "CHECKS", "shared", "f", "p", "date", role])
            if self.plan.shared_limits:
                w.line("share_funding(measures, shared_limits(f, p, date), ROUNDING)")

            if self.plan.pots:
                w.line("apply_pots(measures, pots(p), explain)")
            with w.block("if not partial"):
                w.line("require_facts(measures)")
            w.line("amounts = {name: (m.status, m.amount) for name, m in measures.items()}")
            if self.plain_total():
                w.line("total = plain_total(amounts, ROUNDING, PAIRS)")
            else:
                args = ["amounts", "COMBINES", "total_caps(f, p, date)", "ROUNDING"]
                if self.floors():
                    w.line("floors = {name: m.floor for name, m in measures.items()}")
                    args.append("floors=floors")
                if self.plan.other_documents:
                    args.append("others=other_awards(f, p, date)")
                w.call("total = combine(", [*args, "labels=LABELS"], ")")
            if self.plan.other_documents:
                with w.block("if not partial"):
                    w.line('require_facts({"total": total})')
        w.line("return Decision(TITLE, date, measures, total, shared[0], ignored)")
        args = [
            "facts: Facts | Mapping[str, Any]",
            "date: Date",
            "partial: bool",
            "explain: bool",
            "params: Mapping[str, Any] | None",
            "strict: bool = False",
        ]
        comments = ["the full path: every fact checked, three-valued conditions, the whole decision"]
        self.end(out, "decide", args, "Decision", comments)
        out.blank(2)
        out.lines.extend(EVALUATE.rstrip("\n").splitlines())
        w = self.begin()
        self.save_context(w)
        with w.block("try"):
            if self.plain_total():
                w.line("return plain_total(amounts, ROUNDING, PAIRS)")
            else:
                if self.total_capped():
                    w.line("caps = total_caps(dict(zip(FACT_KEYS, values, strict=True)), {}, date)")
                else:
                    w.line("caps: list[tuple[Decimal | None, list[str]]] = []")
                if self.plan.other_documents:
                    w.line("others = other_awards(dict(zip(FACT_KEYS, values, strict=True)), {}, date)")
                    w.line("return combine(amounts, COMBINES, caps, ROUNDING, others=others, labels=LABELS)")
                else:
                    w.line("return combine(amounts, COMBINES, caps, ROUNDING, labels=LABELS)")
        with w.block("finally"):
            w.line("setcontext(saved)")
        args = ["amounts: Amounts", "values: tuple[Any, ...]", "date: datetime.date", "explain: bool"]
        comments = ["the total of an applicant the fast path decided, from its amounts"]
        self.end(out, "later_total", args, "MeasureResult", comments)
        if self.added_total():
            w = self.begin()
            self.save_context(w)
            with w.block("try"):
                w.line("return added_figures(amounts, ROUNDING, RULES)")
            with w.block("finally"):
                w.line("setcontext(saved)")
            comments = [
                "the status and amount of later_total's total, without its reasons (a batch writing",
                "only statuses and amounts reads them)",
            ]
            self.end(out, "total_figures", ["amounts: Amounts"], "tuple[str, Decimal | None]", comments)

    def floors(self) -> bool:
        """Whether some measure pays a range with a floor (the total then has one)."""
        return any(
            c.amount.mode == "ceiling" and c.amount.floor for m in self.plan.measures for c in m.clauses
        )

    def total_capped(self) -> bool:
        """Whether the total has caps: total_cap lines, or pots shared by several measures."""
        return bool(self.plan.total_caps) or any(len(pot.measures) > 1 for pot in self.plan.pots)

    def plain_total(self) -> bool:
        """Whether the total is a plain sum (support.plain_total): no combination rules, no total
        caps, no awards under other documents, no floors."""
        plan = self.plan
        return not (plan.combinations or self.total_capped() or plan.other_documents or self.floors())

    def added_total(self) -> bool:
        """Whether later_total's status and amount are support.added_figures': every combination rule
        adds measures up, no total caps, no awards under other documents."""
        plan = self.plan
        if self.total_capped() or plan.other_documents:
            return False
        return all(c.mode == "added" for c in plan.combinations)

    def save_context(self, w: CodeWriter) -> None:
        """Switch to the fast path's decimal context, keeping the caller's in `saved`."""
        self.imports |= {("decimal", "getcontext"), ("decimal", "setcontext")}
        w.line("saved = getcontext()")
        w.line("setcontext(FAST_CONTEXT)")

    def generate(self) -> GeneratedModule:
        """The module's parts: header, runtime, support and the policy's own code."""
        functions = CodeWriter()
        for param in self.plan.params.values():
            self.gen_param(functions, param)
        if self.plan.assumption_lines:
            self.assumptions_func(functions)
        self.measures_data(functions)
        FastPath(self).write(functions)
        if self.plan.pots:
            self.pots_func(functions)
        self.total_caps_func(functions)
        if self.plan.shared_limits:
            self.shared_limits_func(functions)
        if self.plan.other_documents:
            self.other_awards_func(functions)
        ranks = self.rank_funcs(functions)
        self.constraints_func(functions, ranks)
        self.read_facts_func(functions)
        self.evaluate_funcs(functions)
        facts_cls = CodeWriter()
        self.facts_class(facts_cls)
        policy = self.policy_text(functions, facts_cls)
        return GeneratedModule(
            self.name, self.runtime_text, self.support_text, policy, tuple(sorted(self.imports))
        )

    def tuple_code(self, items: list[str | Seq]) -> str:
        """A tuple display, inline when short, else a module constant laid out one item per line."""
        seq = Seq(list(items))
        text = seq.inline()
        if width(text) <= 60:
            return text
        if text not in self.tuples:
            self.tuples[text] = (self.namer.get("tuple", text, f"TUPLE_{len(self.tuples) + 1}"), seq)
        return self.tuples[text][0]

    def policy_text(self, functions: CodeWriter, facts_cls: CodeWriter) -> str:
        specs = CodeWriter()
        entries = []
        for key, spec in self.specs.items():
            args = [literal(spec.name), literal(spec.label), literal(spec.kind)]
            args.append(literal(spec.unit) if spec.unit is not None else "None")
            args.append(self.tuple_code([Seq([literal(a), literal(b)]) for a, b in spec.members]))
            args.append(self.tuple_code([Seq([literal(op), self.const(b)]) for op, b in spec.bounds]))
            if spec.exclusive:
                args.append(self.tuple_code([Seq([literal(k) for k in group]) for group in spec.exclusive]))
            entries.append((f"{literal(key)}: FactSpec(", args))
        specs.line("FACT_SPECS: dict[str, FactSpec] = {" + ("}" if not entries else ""))
        with specs.indent():
            for head, args in entries:
                specs.call(head, args, "),")
        if entries:
            specs.line("}")
        params = list(self.plan.params.items())
        specs.line("PARAM_SPECS: dict[str, FactSpec] = {" + ("}" if not params else ""))
        with specs.indent():
            for name, param in params:
                unit = literal(param.unit) if param.unit is not None else "None"
                args = [literal(name), literal(param.label), literal(param.kind), unit]
                specs.call(f"{literal(name)}: FactSpec(", args, "),")
        if params:
            specs.line("}")
        specs.line("NEEDED = {")
        with specs.indent():
            specs.line(f"{literal(DATE_NEEDED)}: {literal(DATE_NEEDED)},")
            for key in self.specs:
                specs.string(f"{literal(key)}: ", self.needed_label(key), ",")
        specs.line("}")
        fields = [f"({literal(self.fact_field(name))}, {literal(name)})" for name in self.plan.facts]
        specs.items("FACT_FIELDS = (", fields, ")")
        keys = [literal(spec.name) for spec in self.fact_specs]
        specs.items("FACT_KEYS = (", keys, ")")
        if FastPath(self).possible:
            types_ = [TYPES[spec.kind] for spec in self.fact_specs]
            specs.items("FACT_TYPES: tuple[type, ...] = (", types_, ")")
        if len(keys) > 1:
            self.imports.add(("operator", "itemgetter"))
            specs.call("FACT_GETTER = itemgetter(", keys, ")")

        out = CodeWriter()
        out.line("# " + "-" * 76 + " the policy")
        out.comment(f"generated from {Path(self.name).name}")
        for what, value in self.plan.document:
            out.comment(f"{what}: {value}")
        out.blank()
        out.line(f"TITLE = {literal(self.plan.title)}")
        rounding = self.rounding
        out.line(f"ROUNDING = Rounding({literal(rounding.unit)}, {literal(rounding.mode)})")
        out.line(f"QUANTUM = ROUNDING_QUANTA[{literal(rounding.unit)}]")
        out.line(f"ROUND_MODE = ROUNDING_MODES[{literal(rounding.mode)}]")
        out.line("ROUNDED_ZERO = ZERO.quantize(QUANTUM, ROUND_MODE)")
        out.display("MEASURES: tuple[str, ...] = ", Seq([literal(m.name) for m in self.plan.measures]))
        labels = [f"{literal(m.name)}: {literal(m.label)}" for m in self.plan.measures]
        out.display("LABELS: dict[str, str] = ", Seq(labels, "{", "}"))
        combines = [c.rule for c in self.plan.combinations]
        entries_c: list[str | Seq] = [
            Seq([literal(mode), Seq([literal(n) for n in names], "[", "]")]) for mode, names in combines
        ]
        out.display("COMBINES: list[tuple[str, list[str]]] = ", Seq(entries_c, "[", "]"))
        if self.plain_total():
            out.comment("the pairs of measures by their labels, as a total paid by several names them")
            out.line("PAIRS = pair_texts(LABELS)")
        if self.added_total():
            out.comment(
                "each measure's combination rules (total_figures: measures sharing none may not add up)"
            )
            out.line("RULES = RuleSets(COMBINES)")
        for text, name in self.decimals.items():
            out.line(f"{name} = Decimal({literal(text)})")
        for day, name in sorted(self.dates.items()):
            out.line(f"{name} = datetime.date({day.year}, {day.month}, {day.day})")
        for name, text in self.text_order:
            out.string(f"{name} = ", text)
        for name, seq in self.tuples.values():
            out.display(f"{name} = ", seq)
        for unmet, name in self.unmet_tables.items():
            out.line(f"{name} = unmet_texts({unmet})")
        out.extend(specs)
        out.extend(facts_cls)
        out.extend(functions)
        return out.getvalue()


_GENERATED = frozenset(
    {
        "TITLE",
        "ROUNDING",
        "QUANTUM",
        "ROUND_MODE",
        "ROUNDED_ZERO",
        "MEASURES",
        "LABELS",
        "CHECKS",
        "COMBINES",
        "PAIRS",
        "RULES",
        "total_figures",
        "FACT_SPECS",
        "PARAM_SPECS",
        "NEEDED",
        "FACT_FIELDS",
        "Facts",
        "shared_gates",
        "total_caps",
        "constraints",
        "read_facts",
        "evaluate",
        "decide",
        "fast_amounts",
        "later_decision",
        "later_total",
        "FACT_KEYS",
        "FACT_TYPES",
        "FACT_GETTER",
        "functools",
        "used",
        "share",
        "cap",
        "caps",
        "capped",
        "out",
        "decimal",
        "datetime",
    }
)


# held while a generated module is registered in sys.modules (GeneratedModule.load)
_LOADING = threading.Lock()


def split_module(text: str) -> tuple[list[pyast.Import | pyast.ImportFrom], str]:
    """A module's leading imports and the text after them (its docstring dropped); the imports of
    policydsl itself name what the generated module defines and are left out."""
    tree = pyast.parse(text)
    imports: list[pyast.Import | pyast.ImportFrom] = []
    end = 0
    for node in tree.body:
        if isinstance(node, pyast.Expr) and isinstance(node.value, pyast.Constant) and end == 0:
            end = node.end_lineno or 0
        elif isinstance(node, pyast.Import | pyast.ImportFrom):
            end = node.end_lineno or 0
            if not (isinstance(node, pyast.ImportFrom) and (node.module or "").startswith("policydsl")):
                imports.append(node)
        else:
            break
    return imports, "".join(text.splitlines(keepends=True)[end:]).strip("\n") + "\n"


def _name_order(name: str) -> tuple[int, str]:
    """isort's order of imported names: constants, then classes, then the rest."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def import_block(nodes: Sequence[pyast.Import | pyast.ImportFrom], more: Sequence[tuple[str, str]]) -> str:
    """One sorted block of standard library imports (`import m` lines first, as ruff's isort sorts)
    from several modules' imports and the (module, name) pairs in `more`."""
    plain: set[str] = set()
    froms: dict[str, set[str]] = {}
    for node in nodes:
        if isinstance(node, pyast.Import):
            plain.update(alias.name for alias in node.names)
        else:
            froms.setdefault(node.module or "", set()).update(alias.name for alias in node.names)
    for module, name in more:
        froms.setdefault(module, set()).add(name)
    lines = [f"import {module}" for module in sorted(plain)]
    for module in sorted(froms):
        lines.append(f"from {module} import {', '.join(sorted(froms[module], key=_name_order))}")
    return "\n".join(lines) + "\n"


@attrs.frozen
class GeneratedModule:
    """A generated evaluator: the policy file's `name`, the `runtime` and `support` module texts it
    inlines, the `policy`'s own code and the standard library names that code `imports`
    ((module, name) pairs)."""

    name: str
    runtime: str
    support: str
    policy: str
    imports: tuple[tuple[str, str], ...] = ()

    def runtime_body(self) -> str:
        """The runtime without its module docstring and imports (the generated module has its own)."""
        return split_module(self.runtime)[1]

    def support_body(self) -> str:
        """The support helpers without their docstring and imports."""
        return split_module(self.support)[1]

    def source(self) -> str:
        """The whole standalone module."""
        doc = (
            '"""Evaluator for one subsidy policy, generated by policydsl from its policy file.\n\n'
            "evaluate(facts, date) decides an applicant; see the policy section at the end.\n"
            '"""\n\n'
        )
        runtime_imports, runtime = split_module(self.runtime)
        support_imports, support_code = split_module(self.support)
        imports = import_block([*runtime_imports, *support_imports], self.imports)
        origin = f"# generated from {comment_text(Path(self.name).name)} by policydsl — do not edit\n"
        banner = "# " + "-" * 76 + " evaluator support\n\n\n"
        return (
            HEADER
            + origin
            + doc
            + imports
            + "\n"
            + runtime
            + "\n\n"
            + banner
            + support_code
            + "\n\n"
            + self.policy
        )

    def load(self) -> types.ModuleType:
        """The evaluator as a fresh module object in this process, sharing policydsl's runtime and
        support helpers (so its decisions and errors are policydsl.evaluation.runtime's own classes)."""
        module = types.ModuleType("policydsl_evaluator_" + re.sub(r"\W", "_", Path(self.name).stem))
        namespace = module.__dict__
        for shared in (rt, support):
            namespace.update({k: v for k, v in vars(shared).items() if not k.startswith("__")})
        for module_name, name in self.imports:
            namespace[name] = getattr(importlib.import_module(module_name), name)
        namespace["__file__"] = self.name
        code = compile(self.policy, f"<evaluator {self.name}>", "exec")
        # dataclasses look the defining module up while the classes are made; the lock keeps two
        # threads loading the same policy from removing each other's entry
        with _LOADING:
            sys.modules[module.__name__] = module
            try:
                exec(code, namespace)
            finally:
                del sys.modules[module.__name__]
        return module


# The entry point and the two ways a deferred decision is completed, the same for every policy.
EVALUATE = """\
def evaluate(
    facts: Facts | Mapping[str, Any],
    date: Date = None,
    *,
    partial: bool = False,
    explain: bool = True,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> Decision:
    \"\"\"Decide one applicant: per measure the status, amount, reasons, clauses and explanation, and
    the total under the policy's combination rules.

    `facts` maps fact names to values (or is a Facts); `date` is the day of evaluation (without one
    the validity window is not checked and no condition on the date is decided).  Raises InputError
    listing every problem with the facts (and, unless `partial`, every fact a decision still needs).
    A key that names no fact is ignored and listed in the decision's ignored_keys, or, when `strict`,
    refused.  `params` gives values for the parameters the policy leaves to a yearly guide.  When
    every fact is given as a valid typed value (an int for a number), with a date and no parameter
    values, the fast path decides the amounts and the rest of the decision (results, reasons,
    explanation, total) is worked out when first read; the decision's `path` says which path decided.
    \"\"\"
    if date is not None and not params:
        raw = facts if type(facts) is dict else facts.given() if isinstance(facts, Facts) else facts
        fast = fast_amounts(raw, date)
        if fast is not None and not (strict and fast[2]):
            later = (later_decision, later_total, (fast[1], date, explain))
            return DeferredDecision(TITLE, date, fast[0], later, fast[2])
    return decide(facts, date, partial, explain, params, strict)


# the whole decision on an applicant the fast path decided
def later_decision(values: tuple[Any, ...], date: datetime.date, explain: bool) -> Decision:
    return decide(dict(zip(FACT_KEYS, values, strict=True)), date, True, explain, None)


"""


def generate(model: Model, source_text: str, name: str) -> GeneratedModule:
    """Generate the evaluator of one checked policy."""
    return PythonGenerator(model, source_text, name).generate()
