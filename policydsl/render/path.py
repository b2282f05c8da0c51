"""Follow one applicant through a diagram: the nodes and edges they pass and the figures they get."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from policydsl.evaluation import runtime as rt
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan import nodes as P
from policydsl.render.diagram import Decision, Diagram
from policydsl.render.text import wrap
from policydsl.syntax.keywords import APPLICANT_FACT


class Applicant:
    """One applicant evaluated by the reference interpreter: the `decision` on the whole policy, and
    the answer to any decision node of a diagram (`truth`), read from the interpreter's plan."""

    def __init__(
        self, interpreter: Interpreter, facts: Mapping[str, Any], date: datetime.date | None
    ) -> None:
        self.interpreter = interpreter
        self.plan = interpreter.plan
        self.date = date
        # Unknown fact names are the evaluator's to reject; the diagram only needs the known ones.
        self.values = rt.parse_facts(interpreter.specs, facts, strict=False)
        self.decision = interpreter.evaluate(self.values, date, partial=True, parsed=True)

    def test(self, expr: P.Expr, text: str) -> bool | None:
        with decimal.localcontext(rt.CONTEXT):
            holds, _ = self.interpreter.test(expr, self.interpreter.env(self.values, self.date), text)
        return holds

    def truth(self, decision: Decision) -> bool | None:
        """The answer to a decision node; None when it cannot be told."""
        subject = decision.subject
        match subject:
            case P.Validity():
                if self.date is None:
                    return None
                start, end = subject.start, subject.end
                return (start is None or self.date >= start) and (end is None or self.date <= end)
            case P.ApplicantsGate():
                kind = self.values.get(APPLICANT_FACT[0], self.values.get(APPLICANT_FACT[1]))
                return None if kind is None else rt.has_role(kind, subject.kinds)
            case P.Gate() | P.Instalment() | P.Condition():
                # an exclusion's node asks whether the condition holds, as a requirement's does
                return self.test(subject.cond, subject.text)
            case _:
                assert_never(subject)

    def clause_figure(self, measure: P.Measure, clause: P.Clause) -> str:
        """What one clause gives this applicant, before the measure's own rules."""
        with decimal.localcontext(rt.CONTEXT):
            outcome = self.interpreter.clause(
                measure, clause, self.interpreter.env(self.values, self.date), False
            )
        if outcome.amount is None or outcome.precision == rt.UNKNOWN:
            return "本申请人：金额未定" + (f"（{outcome.unknown_reason}）" if outcome.unknown_reason else "")
        word = "最高 " if outcome.precision == rt.AT_MOST else ""
        return f"本申请人：{word}{rt.yuan(outcome.amount)}"

    def measure_figure(self, name: str) -> str:
        result = self.decision.measures[name]
        lines = ["本申请人：" + rt.describe(result)]
        if result.status == rt.INELIGIBLE:
            # why, as the evaluator says it (the failed condition, the facts, the article), wrapped
            for reason in result.reasons[:3]:
                lines.extend(wrap(reason, FIGURE_WIDTH))
        return "\n".join(lines)


def follow(diagram: Diagram, truth: Callable[[Decision], bool | None]) -> None:
    """Mark the nodes and edges reached from the first node: a decision node leads on only along
    the answer `truth` gives it (nowhere when unknown); any other node leads along all its edges."""
    if not diagram.nodes:
        return
    stack = [diagram.nodes[0].id]
    while stack:
        node_id = stack.pop()
        if node_id in diagram.path_nodes:
            continue
        diagram.path_nodes.add(node_id)
        node = diagram.node(node_id)
        answer = truth(node.decision) if node.decision is not None else None
        for edge in diagram.out(node_id):
            if node.decision is not None and (answer is None or edge.role != ("yes" if answer else "no")):
                continue
            diagram.path_edges.add((edge.tail, edge.head))
            stack.append(edge.head)


def trace_measure(diagram: Diagram, measure: str, applicant: Applicant) -> None:
    """Highlight the applicant's path through the tree of the measure named `measure` and put the
    figures on it."""
    planned = applicant.plan.measure(measure)
    follow(diagram, applicant.truth)
    clauses = {c.id: c for c in planned.clauses}
    for node in diagram.nodes:
        if node.clause is not None and node.id in diagram.path_nodes and node.clause in clauses:
            node.figure = applicant.clause_figure(planned, clauses[node.clause])
    diagram.nodes[0].figure = applicant.measure_figure(measure)


def trace_overview(diagram: Diagram, applicant: Applicant) -> None:
    """Highlight the measures that pay this applicant and show each measure's and the total figure."""
    decision = applicant.decision
    roles = applicant.values.get(APPLICANT_FACT[0], applicant.values.get(APPLICANT_FACT[1]))
    reached = {"policy"}
    if not decision.eligibility_failures:
        reached.add("eligibility")
        reached.update(f"kind.{kind}" for kind in roles or ())  # every role the applicant has
    paying = {name for name, m in decision.measures.items() if m.status != rt.INELIGIBLE}
    reached.update(f"measure.{name}" for name in paying)
    for node in diagram.nodes:
        if node.id.startswith("measure."):
            node.figure = applicant.measure_figure(node.id.split(".", 1)[1])

    def ends(node_id: str, group: str | None) -> bool:
        """Whether the applicant reaches this end of an edge: for a group's frame, any member."""
        if group is None:
            return node_id in reached
        return any(member in reached for member in diagram.group_of(group).nodes)

    if paying:
        for edge in diagram.edges:
            # From a paying measure on to the rules that combine or cap it (not along the hidden
            # edges that only stack measures in columns).
            if ends(edge.tail, edge.tail_group) and edge.tail.startswith("measure.") and edge.role != "order":
                reached.add(edge.head)
        for edge in diagram.edges:
            if ends(edge.tail, edge.tail_group) and edge.head == "total":
                reached.add("total")
        if any(n.id == "total" for n in diagram.nodes):
            diagram.node("total").figure = total_figure(applicant)
    for edge in diagram.edges:
        if ends(edge.tail, edge.tail_group) and ends(edge.head, edge.head_group) and edge.role != "order":
            # A kind node leads only to the measures that pay; the eligibility box only to the kind.
            diagram.path_edges.add((edge.tail, edge.head))
    ids = {n.id for n in diagram.nodes}
    diagram.path_nodes.update(n for n in reached if n in ids)


# The longest line of a figure in a box, as the boxes' own text (trees.LEAF_WIDTH).
FIGURE_WIDTH = 40


def total_figure(applicant: Applicant) -> str:
    """The applicant's total for the overview's total box: the figure, then why it is only an upper
    bound in the measures' own titles (the evaluator's reason lists every undeclared pair by name,
    which with many measures runs to one unreadable line), wrapped to the box."""
    decision, plan = applicant.decision, applicant.plan
    lines = ["本申请人：" + rt.describe(decision.total)]
    paying = [m for m in plan.measures if decision.measures[m.name].status != rt.INELIGIBLE]
    rules = {m.name: {i for i, c in enumerate(plan.combinations) if m.name in c.measures} for m in paying}
    loose = [
        m for m in paying if any(not rules[m.name] & rules[other.name] for other in paying if other is not m)
    ]
    others = [r for r in decision.total.reasons if not r.startswith(UNDECLARED_REASON)]
    if loose:
        labels = "、".join(f"「{m.label}」" for m in loose)
        others.append(f"原文未说明以下 {len(loose)} 项措施能否叠加，合计只是上限：{labels}")
    for reason in others[:3]:
        lines.extend(wrap(reason, FIGURE_WIDTH))
    return "\n".join(lines)


# How the evaluator's reason about undeclared combinations begins (runtime.combine_total).
UNDECLARED_REASON = "政策未说明以下措施能否叠加"
