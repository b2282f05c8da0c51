"""Lowering: a checked policy (its Model and source text) into its plan; the only reader of the AST here."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from types import MappingProxyType
from typing import assert_never

from policydsl.checking.model import Model
from policydsl.checking.types import APPLICANT_ENUM, EnumValueSym, FactSym, ParamSym
from policydsl.dates import PartialDate, first_day, last_day
from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.syntax import ast
from policydsl.syntax.keywords import (
    ALLOCATIONS,
    COMBINE_MODES,
    PAYMENT_FORMS,
    POT_ALLOCATIONS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
)

# The texts a reader sees that the plan composes (a message catalogue will take them over).
APPLICANTS_REASON = "适用主体为 {labels}"
NO_AMOUNT = "{label}：原文未给出金额"
NO_AWARD = "不满足任何给予条件：{labels}"
NO_CLAUSES = "（无条款）"
PARAM_UNSET = "参数 {label}（{name}）原文未给出"
ROW_UNSET = "{key} 档的金额原文未给出"
BAND_UNSET = "分档金额原文未给出"
PREFERRED = "优先支持：{reason}"
SELECTION = "每年遴选不超过 {count} 个"
NO_RANKING = "（原文未规定遴选排序）"
SELECTED_BY = "（入选与否以“{label}”为准）"
HEAD = "{cite}{label}：适用"
AWARD_PERIOD = "奖励期：自{event}当年起{years}"
TITLE_VERB = {"award": "给予", "bonus": "追加"}


def award_period(amount: P.Amount) -> tuple[P.Condition, ...]:
    """The condition each schedule by year in a clause's amount or caps adds to the clause: outside
    the schedule's years (first to last row) the clause does not apply."""
    out: list[P.Condition] = []
    for expr in [amount.expr, *(cap.expr for cap in amount.caps)]:
        for node in P.walk(expr) if expr is not None else ():
            if not isinstance(node, P.Band) or node.counted_from is None:
                continue
            years = node.years
            lo, hi = min(a for a, _ in years), max(b for _, b in years)
            counted = node.subject
            at = node.span  # the period is written where the schedule is
            first = P.Const(Decimal(lo), "number", text=str(lo), span=at)
            last = P.Const(Decimal(hi), "number", text=str(hi), span=at)
            cond = P.And(
                P.Cmp(">=", counted, first, ">=", span=at), P.Cmp("<=", counted, last, "<=", span=at), span=at
            )
            said = f"第{lo}年" if lo == hi else f"第{lo}至{hi}年"
            text = AWARD_PERIOD.format(event=node.counted_from, years=said)
            condition = P.Condition(cond, False, text, span=node.span)
            if condition not in out:
                out.append(condition)
    return tuple(out)


class UnresolvedName(AssertionError):
    """A name the checker did not resolve: lowering runs only on policies without errors."""


def lower(model: Model, source_text: str = "") -> Plan:
    """The plan of a policy that type-checked without errors; `source_text` lets the plan quote the
    formulas as the drafter wrote them."""
    return _Lowering(model, source_text).plan()


Plan = P.Plan


def lower_expr(model: Model, node: ast.Expr, source_text: str = "") -> tuple[P.Expr, str]:
    """One expression the plan does not hold (an example's given value or expected amount), with
    its text as written."""
    lowering = _Lowering(model, source_text)
    return lowering.expr(node), lowering.quote(node)


def validity_window(header: ast.Header | None) -> P.Validity:
    """The days the policy is in force (first and last, inclusive), and the window in words.

    "自…起施行，有效期N年" counts its first day (施行 begins at the start of that day), so the
    window ends the day before the corresponding day N years on (民法典 第二百零二条: the
    corresponding day, or the month's last day when there is none); docs/semantics.md, "Periods
    and dates".  A date known only to the year or month gives the earliest and latest window."""
    if header is None or header.validity is None:
        return P.Validity(None, None, False, None)
    v = header.validity
    begins: datetime.date | PartialDate | None
    if v.start == "issued":
        begins = header.issued
        said = f"自印发之日（{_said(header.issued) if header.issued else '日期未定'}）"
    elif isinstance(v.start, datetime.date | PartialDate):
        begins = v.start
        said = f"自 {_said(v.start)}"
    else:
        begins = None
        said = "起始日期原文未定"
    start = None if begins is None else first_day(begins)
    sure_start = None if begins is None else last_day(begins)
    end = None if v.end is None else last_day(v.end)
    sure_end = None if v.end is None else first_day(v.end)
    if v.duration is not None and start is not None and sure_start is not None:
        end, sure_end = (_last_day_lasting(day, v.duration) for day in (sure_start, start))
    if v.end is not None:
        text = f"{said} 至 {_said(v.end)}"
    elif v.duration is not None:
        text = f"{said} 起 {v.duration.text}"
    else:
        text = f"{said} 起，无截止日期"
    vague = [
        f"{what}仅知{day.known}（{day.words()}）"
        for what, day in (("施行日期", begins), ("有效期截止日期", v.end))
        if isinstance(day, PartialDate)
    ]
    blank = v.start is None or (v.start == "issued" and header.issued is None)
    return P.Validity(
        start, end, blank, text, sure_start=sure_start, sure_end=sure_end, vague="，".join(vague) or None
    )


def _last_day_lasting(start: datetime.date, duration: ast.Duration) -> datetime.date:
    """The last day of a validity that starts on `start` (counted) and lasts `duration`: the day
    before the corresponding day."""
    try:
        return rt.add_duration(start, duration.value, duration.unit) - datetime.timedelta(days=1)
    except OverflowError:
        return datetime.date.max  # the validity runs past the end of the calendar


def _said(day: datetime.date | PartialDate) -> str:
    return day.words() if isinstance(day, PartialDate) else day.isoformat()


def lower_header(header: ast.Header | None) -> P.Header:
    """What the header says, as the plan holds it; it needs no Model, so the review page of a
    policy with errors (which has no plan) shows the same."""
    if header is None:
        return P.Header(None)
    at = next((span for key, span in header.lines if key == "source"), header.span)
    return P.Header(
        header.title,
        header.issuer,
        header.docno,
        header.issued,
        header.source,
        header.cite,
        validity_window(header),
        header.validity is not None and header.validity.start is None,
        (at.start, at.end),
    )


def quote_node(text: str, node: ast.Node) -> str:
    """The source text of a node, as the drafter wrote it: spaces folded, and what only lays out
    a table written over several lines left out (its comments, a comma before the closing brace)."""
    if text and node.span.end <= len(text):
        return folded(text[node.span.start : node.span.end])
    return type(node).__name__


def folded(written: str) -> str:
    """Source text on one line: spaces folded, comments and a comma before a closing brace left out."""
    lines = [_uncommented(line) for line in written.splitlines()]
    return _TRAILING_COMMA.sub(r" \1", " ".join(" ".join(lines).split()))


_TRAILING_COMMA = re.compile(r"\s*,\s*([}\])])")


def _uncommented(line: str) -> str:
    """`line` without its comment: a `#` outside a string starts one."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:i]
    return line


def _where(node: ast.Node) -> P.Where:
    return P.Where(node.span.line, node.span.col)


class _Lowering:
    """One lowering: the `model`, the source `text`, and the parts lowered so far."""

    def __init__(self, model: Model, text: str) -> None:
        self.model = model
        self.policy = model.policy
        self.text = text

    # ------------------------------------------------------------------ texts
    def quote(self, node: ast.Node) -> str:
        return quote_node(self.text, node)

    def selection_note(self, quota: ast.Quota) -> str:
        """What a result says of how the quota's applicants are chosen: the fact that records the
        selection, or that the text gives no ranking (nothing when it ranks)."""
        if quota.selected_by is not None:
            sym = self.model.facts.get(quota.selected_by.text)
            return SELECTED_BY.format(label=sym.label if sym is not None else quota.selected_by.text)
        return "" if quota.rank else NO_RANKING

    # ------------------------------------------------------------------ expressions
    def bound(self, node: ast.Expr) -> P.Bound:
        return P.Bound(self.expr(node), self.quote(node), span=node.span)

    def funding_limit(self, f: ast.FundingLimit) -> P.FundingLimit:
        """A funding limit: the facts it counts added up (`0` when it counts only awards), and the
        measures whose awards it counts."""
        facts = [c for c in f.counting if c.text not in self.model.measures]
        received: P.Expr = P.Const(Decimal(0), "money", text="0", span=f.span)
        for n, name in enumerate(facts):
            value = self.expr(name)
            received = value if n == 0 else P.Arith("+", received, value, "money", "+", span=name.span)
        return P.FundingLimit(
            self.expr(f.limit),
            received,
            self.quote(f.limit),
            f.cite,
            tuple(c.text for c in f.counting if c.text in self.model.measures),
            received_text=", ".join(c.text for c in facts) or "0",
            span=f.span,
        )

    def other_documents(self, c: ast.Combine) -> P.OtherDocuments:
        """A combination with awards under other documents (`combine highest against other_award { … }`)."""
        assert c.other is not None
        fact = self.model.facts.get(c.other.text)
        label = fact.decl.label if fact is not None and fact.decl is not None else None
        return P.OtherDocuments(
            COMBINE_MODES[c.mode.text],
            tuple(m.name.text for m in self.policy.of(ast.Measure))
            if c.every
            else tuple(m.text for m in c.measures),
            self.expr(c.other),
            c.cite,
            c.reason,
            label or c.other.text,
            c.mode.text,
            c.every,
            received_text=c.other.text,
            span=c.span,
        )

    def expr(self, node: ast.Expr) -> P.Expr:
        at = node.span
        match node:
            case ast.Money():
                return P.Const(node.value, "money", text=node.text, span=at)
            case ast.Percent():
                return P.Const(node.value, "percent", text=node.text, span=at)
            case ast.Number():
                ty = self.model.type_of(node)  # the checker gives a plain 0 beside money the type money
                if ty.kind in ("money", "percent", "count"):
                    return P.Const(node.value, ty.kind, ty.unit, node.text, span=at)
                return P.Const(node.value, "number", text=node.text, span=at)
            case ast.Count():
                return P.Const(node.value, "count", node.unit, node.text, span=at)
            case ast.PerUnit():
                return P.Const(node.value, "per_unit", node.unit, node.text, span=at)
            case ast.Ratio():
                kind = self.model.type_of(node).kind
                left, right = P.Const(node.left, "number"), P.Const(node.right, "number")
                return P.Arith("/", left, right, kind, ratio=node.text, span=at)
            case ast.Duration():
                return P.DurationConst(node.value, node.unit, node.text, span=at)
            case ast.DateLit():
                return P.DateConst(node.value, node.text, span=at)
            case ast.Bool():
                return P.BoolConst(node.value, span=at)
            case ast.Name():
                return self.name(node)
            case ast.BinOp():
                kind = self.model.type_of(node).kind
                return P.Arith(
                    node.op, self.expr(node.left), self.expr(node.right), kind, node.symbol, span=at
                )
            case ast.Negate():
                return P.Neg(self.expr(node.operand), span=at)
            case ast.Compare():
                if isinstance(node.left, ast.Call) and node.left.func == "since":
                    start, duration = self.expr(node.left.args[0]), self.expr(node.right)
                    return P.Since(start, node.op, duration, node.word, node.postfix, span=at)
                lhs, rhs = self.expr(node.left), self.expr(node.right)
                return P.Cmp(node.op, lhs, rhs, node.word, node.postfix, span=at)
            case ast.Member():
                members = tuple(v.text for v in node.values)
                return P.In(self.expr(node.subject), members, self.model.type_of(node.subject).enum, span=at)
            case ast.And():
                return P.And(self.expr(node.left), self.expr(node.right), span=at)
            case ast.Or():
                return P.Or(self.expr(node.left), self.expr(node.right), span=at)
            case ast.Not():
                return P.Not(self.expr(node.operand), span=at)
            case ast.Implies():
                return P.Or(P.Not(self.expr(node.left)), self.expr(node.right), implies=True, span=at)
            case ast.Call():
                if node.func == "since":
                    raise AssertionError("since() stands only on the left of a comparison")
                if node.func in ("year", "year_no"):
                    return P.Year(node.func, self.expr(node.args[0]), span=at)
                if node.func in ("blocks", "round_down"):
                    value, size = node.args
                    return P.Whole(node.func, self.expr(value), self.expr(size), span=at)
                return P.MinMax(node.func, tuple(self.expr(a) for a in node.args), span=at)
            case ast.Table():
                sym = self.model.refs.get(id(node.subject))
                if not isinstance(sym, FactSym):
                    raise UnresolvedName(node.subject.text)
                rows = tuple(
                    P.TableRow(
                        None if e.key is None else e.key.text,
                        self.value(e.value, ROW_UNSET.format(key="{key}" if e.key is None else e.key.text)),
                        span=e.span,
                    )
                    for e in node.entries
                )
                return P.Table(sym.name, rows, span=at)
            case ast.Band():
                bands = tuple(
                    P.BandRow(
                        None if e.bounds is None else tuple((b.op, self.expr(b.value)) for b in e.bounds),
                        self.value(e.value, BAND_UNSET),
                        words=tuple((b.word, b.postfix) for b in e.bounds or ()),
                        span=e.span,
                    )
                    for e in node.entries
                )
                shown = self.model.type_of(node.subject)
                return P.Band(
                    self.expr(node.subject),
                    bands,
                    span=at,
                    subject_kind=shown.kind,
                    subject_unit=shown.unit,
                )
            case ast.Brackets():
                brackets = []
                for e in node.entries:
                    bounds = tuple((b.op, self.expr(b.value)) for b in e.bounds)
                    lower = next((v for op, v in bounds if op in (">", ">=")), None)
                    upper = next((v for op, v in bounds if op in ("<", "<=")), None)
                    words = tuple((b.word, b.postfix) for b in e.bounds)
                    row = P.BracketRow(lower, upper, self.expr(e.rate), bounds, words, span=e.span)
                    brackets.append(row)
                result, shown = self.model.type_of(node), self.model.type_of(node.subject)
                return P.Brackets(
                    self.expr(node.subject),
                    tuple(brackets),
                    result.kind,
                    result.unit,
                    span=node.span,
                    subject_kind=shown.kind,
                    subject_unit=shown.unit,
                )
            case ast.Schedule():
                return self.schedule(node)
            case _:
                assert_never(node)

    def schedule(self, node: ast.Schedule) -> P.Band:
        """A schedule by year: a band over the year counted from its start (year_no), each row
        `>= first` and `<= last`; no row for a year makes the figure unknown, as in any band."""
        counted = P.Year("year_no", self.expr(node.start), span=node.start.span)
        rows = []
        for e in node.entries:
            first = P.Const(Decimal(e.first), "number", text=str(e.first), span=e.first_span)
            last = P.Const(Decimal(e.last), "number", text=str(e.last), span=e.last_span)
            bounds = ((">=", first), ("<=", last))
            words = ((">=", False), ("<=", False))
            rows.append(P.BandRow(bounds, self.value(e.value, BAND_UNSET), words, span=e.span))
        return P.Band(counted, tuple(rows), span=node.span, counted_from=self.event(node.start))

    def event(self, node: ast.Expr) -> str:
        """The event a schedule counts years from, in the reader's words: a fact's label."""
        sym = self.model.refs.get(id(node)) if isinstance(node, ast.Name) else None
        if isinstance(sym, FactSym):
            return sym.label
        return self.quote(node)

    def value(self, node: ast.Expr | ast.Unset, why: str) -> P.Expr:
        if isinstance(node, ast.Unset):
            return P.Unset(why, span=node.span)
        return self.expr(node)

    def name(self, node: ast.Name) -> P.Expr:
        sym = self.model.ref(node)
        if isinstance(sym, FactSym):
            return P.FactRef(sym.name, span=node.span)
        if isinstance(sym, ParamSym):
            return P.ParamRef(sym.name, span=node.span)
        if isinstance(sym, EnumValueSym):
            return P.EnumConst(sym.enum, sym.member, span=node.span)
        raise UnresolvedName(node.text)

    # ------------------------------------------------------------------ declarations
    def facts(self) -> tuple[dict[str, P.FactSpec], dict[str, str]]:
        specs: dict[str, P.FactSpec] = {}
        aliases: dict[str, str] = {}
        for key, sym in self.model.facts.items():
            if sym.name in specs:
                aliases[key] = sym.name
                continue
            ty = sym.type
            members: tuple[tuple[str, str], ...] = ()
            if ty.kind == "enum" and ty.enum is not None:
                members = tuple((m.member, m.label) for m in self.model.enums.get(ty.enum, {}).values())
            roles = sym.decl is None and ty.enum == APPLICANT_ENUM
            specs[sym.name] = P.FactSpec(
                sym.name,
                sym.label,
                P.ROLES if roles else ty.kind,
                ty.unit,
                ty.enum,
                members,
                self.bounds(sym),
                sym.decl is None,
                declared=tuple(
                    (b.op, self.expr(b.value)) for b in (sym.decl.bounds if sym.decl is not None else ())
                ),
                exclusive=tuple(self.model.exclusive_kinds) if roles else (),
            )
            if key != sym.name:
                aliases[key] = sym.name
        return specs, aliases

    @staticmethod
    def bounds(sym: FactSym) -> tuple[tuple[str, Decimal], ...]:
        """A fact's literal bounds (a bound by any other expression checks nothing at the input)."""
        bounds: list[tuple[str, Decimal]] = []
        for bound in sym.decl.bounds if sym.decl is not None else ():
            value = bound.value
            if isinstance(value, ast.Money | ast.Number | ast.Count | ast.Percent):
                bounds.append((bound.op, value.value))
            elif isinstance(value, ast.Negate) and isinstance(
                value.operand, ast.Money | ast.Number | ast.Count
            ):
                bounds.append((bound.op, -value.operand.value))
        return tuple(bounds)

    def params(self) -> dict[str, P.ParamSpec]:
        params: dict[str, P.ParamSpec] = {}
        for name, sym in self.model.params.items():
            why = PARAM_UNSET.format(label=sym.label, name=sym.name)
            versions = tuple(
                P.ParamVersion(v.start, self.value(v.value, why), v.cite) for v in sym.decl.versions
            )
            params[name] = P.ParamSpec(
                sym.name, sym.label, sym.type.kind, sym.type.unit, versions, _where(sym.decl)
            )
        return params

    def rounding(self) -> P.Rounding:
        header = self.policy.header
        rounding = header.rounding if header is not None else None
        if rounding is None:
            return P.Rounding()
        return P.Rounding(ROUNDING_UNITS[rounding.unit.text], ROUNDING_MODES[rounding.mode.text])

    # ------------------------------------------------------------------ gates
    def gate(self, key: str, kind: str, node: ast.Requirement | ast.Exclusion) -> P.Gate:
        text = self.quote(node.cond)
        cond, reason = self.expr(node.cond), node.reason or text
        return P.Gate(key, kind, cond, text, reason, node.cite, _where(node), node.reason, span=node.span)

    def eligibility(self) -> tuple[P.Gate, ...]:
        requirements = [r for e in self.policy.of(ast.Eligibility) for r in e.requirements]
        return tuple(
            self.gate(f"eligibility.require.{i}", "require", r) for i, r in enumerate(requirements, 1)
        )

    def applicants(self, measure: ast.Measure) -> P.ApplicantsGate | None:
        applicants = measure.of(ast.Applicants)
        kinds = self.model.kinds
        if not applicants or not kinds:
            return None
        written = tuple(k.text for a in applicants for k in a.kinds)
        allowed = tuple(sorted(set(written)))
        labels = "、".join(kinds[k].label for k in allowed if k in kinds)
        reason = APPLICANTS_REASON.format(labels=labels)
        return P.ApplicantsGate(allowed, reason, written, spans=tuple(a.span for a in applicants))

    # ------------------------------------------------------------------ clauses
    def clause(self, measure: ast.Measure, index: int, clause: ast.Clause) -> P.Clause:
        mname = measure.name.text
        name = clause.name.text if clause.name is not None else None
        cid = f"{mname}.{name}" if name is not None else f"{mname}.{index}"
        label = clause.label or name or cid
        verb = TITLE_VERB[clause.kind]
        if clause.label:
            title = f"{verb}「{clause.label}」"
        elif name is not None:
            title = f"{verb}（{name}）"
        else:
            title = f"{verb}（第 {index} 项）"
        cite = f"[{clause.cite}] " if clause.cite else ""
        conditions = tuple(
            P.Condition(self.expr(c.expr), c.negated, self.quote(c.expr), span=c.span)
            for c in clause.conditions
        )
        amount = clause.amount
        lowered = P.Amount(
            amount.mode,
            None if amount.expr is None else self.expr(amount.expr),
            None if amount.expr is None else self.quote(amount.expr),
            tuple(P.Cap(self.expr(c), self.quote(c), span=c.span) for c in amount.caps),
            NO_AMOUNT.format(label=label),
            span=amount.span,
            floor=None if amount.floor is None else self.bound(amount.floor),
            offset=None if amount.offset is None else self.bound(amount.offset),
            written_range=amount.written_range,
        )
        conditions += award_period(lowered)
        return P.Clause(
            cid,
            index,
            name,
            clause.kind,
            label,
            title,
            HEAD.format(cite=cite, label=label),
            clause.cite,
            None if clause.exception_of is None else f"{mname}.{clause.exception_of.text}",
            clause.priority,
            conditions,
            "；".join(c.text for c in conditions),
            lowered,
            _where(clause),
            clause.label,
            span=clause.span,
        )

    @staticmethod
    def groups(clauses: tuple[P.Clause, ...]) -> tuple[P.ExceptionGroup, ...]:
        """Each award that has exceptions, with them in the order they are tried (highest priority
        first, then as written); the groups in the order of their defaults."""
        awards = [c for c in clauses if c.kind == "award"]
        groups = []
        for default in awards:
            exceptions = [c for c in awards if c.exception_of == default.id and c is not default]
            if not exceptions:
                continue
            exceptions.sort(key=lambda c: (-c.rank, c.index))
            ranks: dict[int, list[str]] = {}
            for e in exceptions:
                ranks.setdefault(e.rank, []).append(e.id)
            ties = tuple(tuple(ids) for ids in ranks.values() if len(ids) > 1)
            groups.append(P.ExceptionGroup(default.id, tuple(e.id for e in exceptions), ties))
        return tuple(groups)

    # ------------------------------------------------------------------ measures
    def measure(self, measure: ast.Measure) -> P.Measure:
        mname = measure.name.text
        label = measure.label or mname
        gates = [
            self.gate(f"{mname}.require.{i}", "require", r)
            for i, r in enumerate(measure.of(ast.Requirement), 1)
        ]
        gates += [
            self.gate(f"{mname}.exclude.{i}", "exclude", x)
            for i, x in enumerate(measure.of(ast.Exclusion), 1)
        ]
        clauses = tuple(self.clause(measure, i, c) for i, c in enumerate(measure.clauses, 1))
        awards = [c for c in clauses if c.kind == "award"]
        none_reason = NO_AWARD.format(labels="、".join(c.label for c in awards) or NO_CLAUSES)
        funding = tuple(self.funding_limit(f) for f in measure.of(ast.FundingLimit))
        stages = tuple(
            P.Instalment(
                f"{mname}.{s.name.text}",
                s.name.text,
                s.label or s.name.text,
                None if s.share is None else self.expr(s.share),
                self.expr(s.cond),
                self.quote(s.cond),
                s.cite,
                s.label,
            )
            for s in measure.of(ast.Instalment)
        )
        preferences = tuple(
            P.Preference(
                self.expr(p.cond),
                PREFERRED.format(reason=p.reason or self.quote(p.cond)),
                p.cite,
                self.quote(p.cond),
                p.reason,
            )
            for p in measure.of(ast.Preference)
        )
        quotas = tuple(
            P.Quota(
                q.count,
                None if q.rank is None else self.expr(q.rank),
                SELECTION.format(count=q.count) + self.selection_note(q),
                q.cite,
                None if q.rank is None else self.quote(q.rank),
                _where(q),
                None if q.selected_by is None else q.selected_by.text,
                span=q.span,
            )
            for q in measure.of(ast.Quota)
        )
        group_caps = tuple(
            P.GroupCap(
                self.expr(g.amount),
                g.per.text,
                None if g.allocate is None else ALLOCATIONS[g.allocate.text],
                g.cite,
                self.quote(g.amount),
                allocate_text=None if g.allocate is None else g.allocate.text,
                span=g.span,
            )
            for g in measure.of(ast.GroupCap)
        )
        budgets = tuple(
            P.Budget(self.expr(b.amount), b.cite, text=self.quote(b.amount), span=b.span)
            for b in measure.of(ast.Budget)
        )
        return P.Measure(
            mname,
            label,
            measure.cite,
            # the canonical name of each form, whichever spelling the file uses (`奖励` is `reward`)
            tuple(PAYMENT_FORMS.get(f.text, f.text) for p in measure.of(ast.Pays) for f in p.forms)
            or ("cash",),
            self.applicants(measure),
            tuple(gates),
            clauses,
            self.groups(clauses),
            none_reason,
            funding,
            stages,
            bool(measure.of(ast.NoClawback)),
            preferences,
            quotas,
            group_caps,
            budgets,
            _where(measure),
            tuple(k.cite for k in measure.of(ast.NoClawback)),
            measure.label,
            self.population(measure),
            name_span=measure.name.span,
        )

    def population(self, measure: ast.Measure) -> P.Population | None:
        written = measure.of(ast.Population)
        if not written:
            return None
        pop = written[0]
        unit = None
        if pop.counting is not None:
            spec = self.model.facts.get(pop.counting.text)
            unit = None if spec is None else spec.type.unit
        counting = None if pop.counting is None else pop.counting.text
        return P.Population(pop.count, pop.about, counting, pop.cite, unit, text=pop.written, span=pop.span)

    def pots(self) -> tuple[P.Pot, ...]:
        return tuple(
            P.Pot(
                p.name.text,
                p.label or p.name.text,
                self.expr(p.amount),
                p.each_year,
                tuple(m.text for m in p.measures),
                None if p.allocate is None else POT_ALLOCATIONS[p.allocate.text],
                None if p.by is None else self.expr(p.by),
                p.cite,
                text=self.quote(p.amount),
                rank_text=None if p.by is None else self.quote(p.by),
                allocate_text=None if p.allocate is None else p.allocate.text,
                span=p.span,
            )
            for p in self.policy.of(ast.Pot)
        )

    # ------------------------------------------------------------------ the policy
    def plan(self) -> P.Plan:
        written = self.policy.header
        header = lower_header(written)
        blocks = self.policy.of(ast.Eligibility)
        facts, aliases = self.facts()
        return P.Plan(
            header.title if header.title is not None else "policy",
            header.validity,
            self.rounding(),
            MappingProxyType(facts),
            MappingProxyType(aliases),
            MappingProxyType(self.params()),
            MappingProxyType({k: sym.label for k, sym in self.model.kinds.items()}),
            tuple(self.expr(a.cond) for a in self.policy.of(ast.Assume)),
            self.eligibility(),
            tuple(self.measure(m) for m in self.policy.of(ast.Measure)),
            tuple(
                P.Combination(
                    COMBINE_MODES[c.mode.text],
                    tuple(m.name.text for m in self.policy.of(ast.Measure))
                    if c.every
                    else tuple(m.text for m in c.measures),
                    c.cite,
                    c.reason,
                    c.mode.text,
                    c.every,
                    span=c.span,
                )
                # the rules naming measures first: they override a policy-wide one
                for c in sorted(self.policy.of(ast.Combine), key=lambda c: c.every)
                if c.other is None
            ),
            tuple(
                P.TotalCap(
                    self.expr(t.amount),
                    tuple(m.text for m in t.measures),
                    t.cite,
                    text=self.quote(t.amount),
                    amount_span=t.amount.span,
                )
                for t in self.policy.of(ast.TotalCap)
            ),
            tuple(
                P.Assumption(self.expr(a.cond), self.quote(a.cond), a.label, _where(a), span=a.span)
                for a in self.policy.of(ast.Assume)
            ),
            MappingProxyType(
                {
                    enum: MappingProxyType({key: m.label for key, m in members.items()})
                    for enum, members in self.model.enums.items()
                }
            ),
            header,
            tuple(self.other_documents(c) for c in self.policy.of(ast.Combine) if c.other is not None),
            self.pots(),
            span=self.policy.span,
            header_span=written.span if written is not None else None,
            eligibility_span=blocks[0].span if blocks else None,
        )
