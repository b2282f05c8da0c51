"""The plan as readable, deterministic text (`policydsl compile --target plan`), for debugging.

Expressions are printed resolved: a fact by its name, a parameter as `$name`, an enum value as
`enum.member`, numbers exact in their normalised unit (`5000000元`, `60%`, `3家`, `50000元/家`),
comparisons with their operator (the statutory word already turned into it), every compound
subexpression in parentheses.  Texts are printed as JSON strings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import assert_never

from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P

INDENT = "  "


def q(text: str | None) -> str:
    """A text as a JSON string (`null` for None)."""
    return json.dumps(text, ensure_ascii=False)


def number(value: Decimal) -> str:
    """An exact figure with no exponent and no trailing zeros after the point."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def expr(e: P.Expr) -> str:
    """One expression, fully parenthesised below the top."""
    match e:
        case P.Const():
            if e.kind == "money":
                return f"{number(e.value)}元"
            if e.kind == "percent":
                return f"{number(rt.shift(e.value, 2))}%"
            if e.kind == "count":
                return f"{number(e.value)}{e.unit or ''}"
            if e.kind == "per_unit":
                return f"{number(e.value)}元/{e.unit}"
            return number(e.value)
        case P.DateConst():
            return e.value.isoformat()
        case P.DurationConst():
            return f"{e.count} {e.unit}"
        case P.BoolConst():
            return "true" if e.value else "false"
        case P.EnumConst():
            return f"{e.enum}.{e.member}"
        case P.FactRef():
            return e.name
        case P.ParamRef():
            return f"${e.name}"
        case P.Arith():
            return f"({expr(e.left)} {e.op} {expr(e.right)})"
        case P.Neg():
            return f"-{expr(e.operand)}"
        case P.Cmp():
            return f"({expr(e.left)} {e.op} {expr(e.right)})"
        case P.Since():
            return f"(since({expr(e.start)}) {e.op} {expr(e.duration)})"
        case P.In():
            return f"({expr(e.subject)} in [{', '.join(e.members)}])"
        case P.And():
            return f"({expr(e.left)} and {expr(e.right)})"
        case P.Or():
            return f"({expr(e.left)} or {expr(e.right)})"
        case P.Not():
            return f"(not {expr(e.operand)})"
        case P.MinMax():
            return f"{e.func}({', '.join(expr(a) for a in e.args)})"
        case P.Whole():
            return f"{e.func}({expr(e.value)}, {expr(e.size)})"
        case P.Year():
            return f"{e.func}({expr(e.date)})"
        case P.Unset():
            return f"unset({q(e.why)})"
        case P.Table():
            rows = ", ".join(f"{r.key or 'otherwise'}: {expr(r.value)}" for r in e.rows)
            return f"table {e.fact} {{{rows}}}"
        case P.Band():
            bands = []
            for b in e.rows:
                when = (
                    "otherwise" if b.bounds is None else " and ".join(f"{op} {expr(v)}" for op, v in b.bounds)
                )
                bands.append(f"{when}: {expr(b.value)}")
            return f"band {expr(e.subject)} {{{'; '.join(bands)}}}"
        case P.Brackets():
            parts = []
            for r in e.rows:
                upper = "" if r.upper is None else f" to {expr(r.upper)}"
                parts.append(f"from {'0' if r.lower is None else expr(r.lower)}{upper}: {expr(r.rate)}")
            return f"progressive {expr(e.subject)} {{{'; '.join(parts)}}}"
        case _:
            assert_never(e)


def top(e: P.Expr) -> str:
    """An expression standing alone: without the outer parentheses."""
    text = expr(e)
    if isinstance(e, P.Arith | P.Cmp | P.Since | P.In | P.And | P.Or | P.Not):
        return text[1:-1]
    return text


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def cite(self, cite: str | None) -> str:
        return f"  cite {q(cite)}" if cite is not None else ""

    def header(self, plan: P.Plan) -> None:
        self.line(0, f"plan {q(plan.title)}")
        h = plan.header
        if h.title is not None:
            self.line(1, f"issued {h.issued.isoformat() if h.issued else 'unset'}")
        for what, value in (*plan.document, ("cite", h.cite)):
            if value is not None:
                self.line(1, f"{what} {q(value)}")
        v = plan.validity
        if v.text is not None:
            start = v.start.isoformat() if v.start else "?"
            end = v.end.isoformat() if v.end else "?"
            blank = "  start left blank" if v.start_blank else ""
            unset = "  start unset" if h.start_unset else ""
            self.line(1, f"validity {start} .. {end}  {q(v.text)}{blank}{unset}")
            if v.vague is not None:
                sure = [day.isoformat() if day else "?" for day in (v.sure_start, v.sure_end)]
                self.line(2, f"surely in force {sure[0]} .. {sure[1]}  {q(v.vague)}")
        self.line(1, f"rounding {plan.rounding.unit} {plan.rounding.mode}")

    def facts(self, plan: P.Plan) -> None:
        for spec in plan.facts.values():
            ty = spec.kind + (f" {spec.unit}" if spec.unit else "") + (f" {spec.enum}" if spec.enum else "")
            bounds = "".join(f" {op} {expr(P.Const(b, spec.kind, spec.unit))}" for op, b in spec.bounds)
            aliases = sorted(k for k, name in plan.aliases.items() if name == spec.name)
            extra = ("  builtin" if spec.builtin else "") + (
                f"  also {', '.join(aliases)}" if aliases else ""
            )
            self.line(0, f"fact {spec.name} {q(spec.label)}: {ty}{bounds}{extra}")
            for member, label in spec.members:
                self.line(1, f"member {member} {q(label)}")
            for group in spec.exclusive:
                self.line(1, f"exclusive {', '.join(group)}")
        for param in plan.params.values():
            ty = param.kind + (f" {param.unit}" if param.unit else "")
            self.line(0, f"param {param.name} {q(param.label)}: {ty}")
            for version in param.versions:
                start = version.start.isoformat() if version.start else "start"
                self.line(1, f"from {start}: {top(version.value)}{self.cite(version.cite)}")
        for said in plan.assumption_lines:
            self.line(0, f"assume {top(said.cond)}")
            label = f"  label {q(said.label)}" if said.label is not None else ""
            self.line(1, f"text {q(said.text)}{label}")

    def gate(self, depth: int, gate: P.Gate) -> None:
        self.line(depth, f"gate {gate.key} {gate.kind} {top(gate.cond)}")
        self.line(depth + 1, f"text {q(gate.text)}")
        if gate.reason != gate.text:
            self.line(depth + 1, f"reason {q(gate.reason)}")
        if gate.cite is not None:
            self.line(depth + 1, f"cite {q(gate.cite)}")

    def clause(self, c: P.Clause) -> None:
        exception = ""
        if c.exception_of is not None:
            exception = (
                f"  exception of {c.exception_of} priority {c.priority if c.priority is not None else '-'}"
            )
        self.line(1, f"clause {c.id} {c.kind} {q(c.label)}{exception}")
        self.line(2, f"title {q(c.title)}")
        self.line(2, f"head {q(c.head)}")
        for cond in c.conditions:
            self.line(2, f"{'unless' if cond.negated else 'if'} {top(cond.cond)}")
            self.line(3, f"text {q(cond.text)}")
        a = c.amount
        if a.expr is None:
            self.line(2, f"amount {a.mode}: unset({q(a.unset_reason)})")
        else:
            self.line(2, f"amount {a.mode} {top(a.expr)}")
            self.line(3, f"text {q(a.text)}")
        if a.floor is not None:
            self.line(2, f"floor {top(a.floor.expr)}")
            self.line(3, f"text {q(a.floor.text)}")
        for cap in a.caps:
            self.line(2, f"cap {top(cap.expr)}")
            self.line(3, f"text {q(cap.text)}")
        if a.offset is not None:
            self.line(2, f"offset {top(a.offset.expr)}")
            self.line(3, f"text {q(a.offset.text)}")

    def measure(self, m: P.Measure) -> None:
        self.line(0, f"measure {m.name} {q(m.label)}{self.cite(m.cite)}")
        self.line(1, f"pays {', '.join(m.forms)}")
        if m.applicants is not None:
            self.line(1, f"applicants {', '.join(m.applicants.kinds)}  reason {q(m.applicants.reason)}")
        for gate in m.gates:
            self.gate(1, gate)
        for c in m.clauses:
            self.clause(c)
        for g in m.groups:
            tried = ", ".join(f"{e} ({m.clause(e).rank})" for e in g.exceptions)
            ties = "".join(f"  tie {' = '.join(t)}" for t in g.ties)
            self.line(1, f"exceptions of {g.default}: {tried}{ties}")
        self.line(1, f"none {q(m.none_reason)}")
        for f in m.funding_limits:
            applied = "" if f is m.funding else "  (not applied: a later one is)"
            self.line(
                1,
                f"funding_limit {top(f.limit)} counting {', '.join([top(f.received), *f.measures])}"
                f"{self.cite(f.cite)}{applied}",
            )
        for s in m.instalments:
            share = "rest" if s.share is None else top(s.share)
            self.line(1, f"instalment {s.key} {q(s.label)} {share} if {top(s.cond)}{self.cite(s.cite)}")
        if m.no_clawback:
            self.line(1, "no_clawback")
        for p in m.preferences:
            self.line(1, f"prefer {top(p.cond)}  note {q(p.note)}{self.cite(p.cite)}")
        for quota in m.quotas:
            rank = "" if quota.rank is None else f" rank {top(quota.rank)}"
            if quota.selected_by is not None:
                rank += f" selected_by {quota.selected_by}"
            applied = "" if quota is m.quota else "  (not applied: the first one is)"
            self.line(
                1, f"quota {quota.count}{rank}  note {q(quota.selection)}{self.cite(quota.cite)}{applied}"
            )
        for cap in m.group_caps:
            allocate = f" allocate {cap.allocate}" if cap.allocate else ""
            applied = "" if cap is m.group_cap else "  (not applied in a batch: the first one is)"
            self.line(1, f"group_cap {top(cap.amount)} per {cap.per}{allocate}{self.cite(cap.cite)}{applied}")
        for b in m.budgets:
            self.line(1, f"budget {top(b.amount)}{self.cite(b.cite)}")
        pop = m.population
        if pop is not None:
            what = "recipients" if pop.counting is None else f"counting {pop.counting}"
            about = "about " if pop.about else ""
            self.line(1, f"expects {about}{pop.count} {what}{self.cite(pop.cite)}")

    def plan(self, plan: P.Plan) -> str:
        self.header(plan)
        self.facts(plan)
        if plan.eligibility:
            self.line(0, "eligibility")
            for gate in plan.eligibility:
                self.gate(1, gate)
        for m in plan.measures:
            self.measure(m)
        for c in plan.combinations:
            reason = f"  reason {q(c.reason)}" if c.reason is not None else ""
            names = "all" if c.every else ", ".join(c.measures)
            self.line(0, f"combine {c.mode} {names}{self.cite(c.cite)}{reason}")
        for t in plan.total_caps:
            self.line(0, f"total_cap {top(t.amount)} over {', '.join(t.measures)}{self.cite(t.cite)}")
        for o in plan.other_documents:
            reason = f"  reason {q(o.reason)}" if o.reason is not None else ""
            names = "all" if o.every else ", ".join(o.measures)
            self.line(0, f"combine {o.mode} against {top(o.received)} {names}{self.cite(o.cite)}{reason}")

        for pot in plan.pots:
            year = " each_year" if pot.each_year else ""
            rule = "" if pot.allocate is None else f" allocate {pot.allocate}"
            by = "" if pot.rank is None else f" by {top(pot.rank)}"
            self.line(
                0,
                f"pot {pot.name} {q(pot.label)} {top(pot.amount)}{year} over {', '.join(pot.measures)}"
                f"{rule}{by}{self.cite(pot.cite)}",
            )
        return "\n".join(self.lines) + "\n"


def format_plan(plan: P.Plan) -> str:
    """The whole plan as text, one piece to a line, in the policy's order."""
    return _Printer().plan(plan)
