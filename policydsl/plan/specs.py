"""What every back end that evaluates a plan shares: the facts' input checks and its own reasons."""

from __future__ import annotations

import re

import attrs

from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.render.text import label_text

# The reasons an evaluation itself gives (the plan composes the others), in the interpreter and in
# every generated evaluator alike.
DATE_NEEDED = "评估日期"
NO_BAND = "没有适用的档次"
NO_YEAR = "逐年表未列出本年度，原文未给出该年的金额"


def runtime_specs(plan: P.Plan) -> dict[str, rt.FactSpec]:
    """What each fact accepts, for checking an applicant's input, keyed by every spelling an input
    may use (each alias right after the fact it names)."""
    specs: dict[str, rt.FactSpec] = {}
    for name, spec in plan.facts.items():
        specs[name] = rt.FactSpec(
            spec.name, spec.label, spec.kind, spec.unit, spec.members, spec.bounds, spec.exclusive
        )
        specs.update((alias, specs[name]) for alias, target in plan.aliases.items() if target == name)
    return specs


# ------------------------------------------------------------------------------ why a condition failed

_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
_MIRROR = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


def unmet_data(plan: P.Plan, said: str, cite: str | None, cond: P.Expr, holds_when: bool = True) -> rt.Unmet:
    """What runtime.unmet needs to say why `cond` failed (`holds_when` False: an exclusion or an
    `unless`, which fails when `cond` holds): `said`, the condition in the drafter's words, its
    article, and a Part per fact it reads (runtime.Part)."""
    if holds_when and _schedule_years(plan, cond):
        years = _part(plan, cond, True)
        assert years is not None
        return said, cite, (years,), True
    conjuncts = _conjuncts(cond) if holds_when else None
    if conjuncts is not None:
        parts = [_part(plan, c, True) for c in conjuncts]
        if all(p is not None for p in parts):
            return said, cite, tuple(p for p in parts if p is not None), True
    if holds_when is False or not isinstance(cond, P.And | P.Or):
        part = _part(plan, cond, holds_when)
        if part is not None:
            return said, cite, (part,), True
    shown = tuple(_value_part(plan, name) for name in P.facts_of(cond))
    return said, cite, shown, False


def gate_unmet(plan: P.Plan, gate: P.Gate) -> rt.Unmet:
    """A requirement's or an exclusion's Unmet: in the drafter's reason, else the condition in labels."""
    said = gate.written_reason or label_text(gate.cond, plan)
    return unmet_data(plan, said, gate.cite, gate.cond, gate.passes_when)


def condition_unmet(plan: P.Plan, clause: P.Clause, condition: P.Condition) -> rt.Unmet:
    """A clause condition's Unmet: the condition in labels, after the clause's own label if written."""
    words = label_text(condition.cond, plan)
    if _schedule_years(plan, condition.cond):  # the award years, as lowering words them (奖励期：…)
        words = condition.text
    if condition.negated:
        words = "不属于：" + words
    said = f"「{clause.written_label}」{words}" if clause.written_label else words
    return unmet_data(plan, said, clause.cite, condition.cond, not condition.negated)


def _schedule_years(plan: P.Plan, cond: P.Expr) -> bool:
    """Whether `cond` is a schedule's award years (lower.award_period)."""
    part = _part(plan, cond, True) if isinstance(cond, P.And) else None
    return part is not None and part[0] == "years"


def _conjuncts(cond: P.Expr) -> list[P.Expr] | None:
    if isinstance(cond, P.And):
        left, right = _conjuncts(cond.left), _conjuncts(cond.right)
        return None if left is None or right is None else left + right
    return None if isinstance(cond, P.Or) else [cond]


def _fact_head(plan: P.Plan, name: str) -> tuple[str, str, str, str | None, tuple[tuple[str, str], ...]]:
    spec = plan.facts[name]
    return name, spec.label, spec.kind, spec.unit, spec.members


def _value_part(plan: P.Plan, name: str) -> rt.Part:
    return ("value", *_fact_head(plan, name), "", "", None)


def _part(plan: P.Plan, cond: P.Expr, holds_when: bool) -> rt.Part | None:
    """One atom as a Part, the op turned to what must hold; None when it is not one fact against a
    figure, a duration, enum values or yes/no."""
    match cond:
        case P.Not():
            return _part(plan, cond.operand, not holds_when)
        case P.FactRef() if plan.facts[cond.name].kind == "bool":
            return ("is", *_fact_head(plan, cond.name), "==", "", holds_when)
        case P.In() if isinstance(cond.subject, P.FactRef):
            return (
                "in",
                *_fact_head(plan, cond.subject.name),
                "in" if holds_when else "not in",
                "",
                cond.members,
            )
        case P.Cmp():
            fact, other, op = cond.left, cond.right, cond.op
            if not isinstance(fact, P.FactRef):
                fact, other, op = cond.right, cond.left, _MIRROR[cond.op]
            if not isinstance(fact, P.FactRef):
                return None
            op = op if holds_when else _FLIP[op]
            if isinstance(other, P.EnumConst) and op in ("==", "!="):
                return (
                    "in",
                    *_fact_head(plan, fact.name),
                    "in" if op == "==" else "not in",
                    "",
                    (other.member,),
                )
            if isinstance(other, P.Const):
                words = label_text(other, plan)
                return ("cmp", *_fact_head(plan, fact.name), op, words, other.value)
        case P.And(
            left=P.Cmp(
                op=">=", left=P.Year(func="year_no", date=P.FactRef() as start), right=P.Const() as lo
            ),
            right=P.Cmp(op="<=", left=P.Year(func="year_no"), right=P.Const() as hi),
        ) if holds_when:
            # a schedule's award years (lower.award_period): the applicant's year against them
            return ("years", *_fact_head(plan, start.name), "", "", (int(lo.value), int(hi.value)))
        case P.Since() if isinstance(cond.start, P.FactRef) and isinstance(cond.duration, P.DurationConst):
            op = cond.op if holds_when else _FLIP[cond.op]
            words = label_text(cond.duration, plan)
            return (
                "since",
                *_fact_head(plan, cond.start.name),
                op,
                words,
                (cond.duration.count, cond.duration.unit),
            )
    return None


# ------------------------------------------------------------------------------ texts explanations quote

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def reader_plan(plan: P.Plan) -> P.Plan:
    """The plan with the texts explanations quote (a clause's head, conditions, amount, caps, floor and
    offset) in the reader's words wherever the text as written names a fact, a parameter or an enum
    value by its identifier (`80% * project_investment` reads `80% × 该项目总投入金额`); a text
    without one stays as written.  Both back ends explain from it."""
    names = set(plan.facts) | set(plan.params) | set(plan.aliases)
    names |= {member for spec in plan.facts.values() for member, _ in spec.members}

    def said(expr: P.Expr, text: str) -> str:
        return label_text(expr, plan) if any(w in names for w in _WORD.findall(text)) else text

    def bound(b: P.Bound | None) -> P.Bound | None:
        return None if b is None else attrs.evolve(b, text=said(b.expr, b.text))

    def clause(m: P.Measure, c: P.Clause) -> P.Clause:
        a = c.amount
        head = c.head
        if c.label == c.id:  # written without a label: its measure and its place (runtime._clause_words)
            place = c.id.rpartition(".")[2]
            head = head.replace(c.id, f"{m.label} 第{place}项给予条件" if place.isdigit() else m.label)
        amount = attrs.evolve(
            a,
            text=a.text if a.expr is None or a.text is None else said(a.expr, a.text),
            caps=tuple(attrs.evolve(cap, text=said(cap.expr, cap.text)) for cap in a.caps),
            floor=bound(a.floor),
            offset=bound(a.offset),
        )
        conds = "；".join(said(k.cond, k.text) for k in c.conditions)
        return attrs.evolve(c, head=head, amount=amount, conditions_text=conds)

    measures = tuple(attrs.evolve(m, clauses=tuple(clause(m, c) for c in m.clauses)) for m in plan.measures)
    return attrs.evolve(plan, measures=measures)
