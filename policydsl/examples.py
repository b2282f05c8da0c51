"""Run the examples written in policy files and measure which clauses and branches they reach."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs

from policydsl import ast
from policydsl import runtime as rt
from policydsl.interpreter import Coverage, Interpreter
from policydsl.model import Model
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower_expr, validity_window
from policydsl.source import Span


@attrs.frozen
class ExampleResult:
    """One example's outcome: the `failures` (empty when it passed), the `decision` when it ran."""

    example: ast.Example
    failures: tuple[str, ...]
    decision: rt.Decision | None

    @property
    def passed(self) -> bool:
        return not self.failures


def examples_of(model: Model, pattern: str | None = None) -> list[ast.Example]:
    """The policy's `example` blocks, in order; with `pattern`, those whose name contains it."""
    return [e for e in model.policy.of(ast.Example) if not pattern or pattern in e.name]


def example_date(policy: ast.Policy, example: ast.Example) -> datetime.date | None:
    """The day an example is evaluated on: its own `on` date, else the policy's first valid day."""
    if example.date is not None:
        return example.date
    start = validity_window(policy.header).start
    return start or (policy.header.issued if policy.header else None)


def given_facts(interpreter: Interpreter, example: ast.Example) -> dict[str, Any]:
    """An example's given block as fact values."""
    facts: dict[str, Any] = {}
    for binding in example.given:
        if isinstance(binding.value, ast.Text):
            facts[binding.name.text] = binding.value.value
        elif isinstance(binding.value, ast.Duration):
            facts[binding.name.text] = binding.value.text
        else:
            facts[binding.name.text] = literal(interpreter, binding.value)
    return facts


def literal(interpreter: Interpreter, node: ast.Expr) -> Any:
    """The value of an example's expression (no fact in it); InputError when it has none."""
    return interpreter.literal(*lower_expr(interpreter.model, node, interpreter.text))


def _expected(kind: str, value: Decimal | None) -> str:
    if kind == "amount":
        return f"= {rt.yuan(value)}"
    if kind == "ceiling":
        return f"最高 {rt.yuan(value)}"
    return {"undetermined": "金额未定", "ineligible": "不符合"}[kind]


def _matches(result: rt.MeasureResult, kind: str, value: Decimal | None) -> bool:
    if kind == "amount":
        return result.status == rt.DETERMINED and result.amount == value
    if kind == "ceiling":
        return result.status == rt.CEILING and result.amount == value
    if kind == "undetermined":
        return result.status == rt.UNDETERMINED
    return result.status == rt.INELIGIBLE


def run_example(
    interpreter: Interpreter, example: ast.Example, coverage: Coverage | None = None
) -> ExampleResult:
    policy = interpreter.model.policy
    try:
        facts = given_facts(interpreter, example)
        decision = interpreter.evaluate(facts, example_date(policy, example), coverage=coverage)
    except rt.InputError as exc:
        return ExampleResult(example, tuple(f"the given facts are unusable: {p}" for p in exc.problems), None)
    failures: list[str] = []
    for expectation in example.expectations:
        try:
            value = None if expectation.value is None else literal(interpreter, expectation.value)
        except rt.InputError as exc:  # an unset parameter, a division by zero
            failures.extend(f"the expected amount has no value: {p}" for p in exc.problems)
            continue
        if expectation.target is None:
            result = decision.total
            name = "total"
        else:
            name = expectation.target.text
            result = decision.measures[name]
        if not _matches(result, expectation.kind, value):
            got = rt.describe(result)
            why = f"（{'；'.join(result.reasons)}）" if result.reasons else ""
            failures.append(f"{name}: expected {_expected(expectation.kind, value)}, got {got}{why}")
    return ExampleResult(example, tuple(failures), decision)


def run_examples(model: Model, source_text: str, coverage: Coverage | None = None) -> list[ExampleResult]:
    interpreter = Interpreter(model, source_text)
    return [run_example(interpreter, ex, coverage) for ex in model.policy.of(ast.Example)]


@attrs.frozen
class Gap:
    """Something no example reaches: a clause never applied, or a condition never true / never false."""

    span: Span
    message: str


def coverage_gaps(model: Model, plan: P.Plan, seen: Coverage) -> tuple[int, int, list[Gap]]:
    """(branches reached, branches in all, what is missed): every clause counts its applying and not
    applying, every atom of a condition (a comparison, a yes/no fact) its true and false outcome.
    `seen` is keyed as the interpreter records it (`interpreter.CoverageKey`); the spans come from
    the AST, whose clauses and atoms the plan keeps in the same order."""
    gaps: list[Gap] = []
    reached = total = 0
    for measure in model.policy.of(ast.Measure):
        planned = plan.measure(measure.name.text)
        for clause, pc in zip(measure.clauses, planned.clauses, strict=True):
            total += 1
            if True in seen.get(pc.id, set()):
                reached += 1
            else:
                gaps.append(Gap(clause.span, f"clause {pc.id} never applies in any example"))
            for ci, (cond, pcond) in enumerate(zip(clause.conditions, pc.conditions, strict=True)):
                atoms = zip(_atoms(cond.expr), P.atoms(pcond.cond), strict=True)
                for ai, (atom, _) in enumerate(atoms):
                    outcomes = seen.get((pc.id, ci, ai), set())
                    for value in (True, False):
                        total += 1
                        if value in outcomes:
                            reached += 1
                        else:
                            never = f"`{pc.id}` condition is never {'true' if value else 'false'}"
                            gaps.append(Gap(atom.span, f"{never} in any example"))
    return reached, total, gaps


def _atoms(expr: ast.Expr) -> list[ast.Expr]:
    """The atoms of a condition as written, in the order of `plan.nodes.atoms` (`a implies b` is
    lowered to `not a or b`, which keeps it)."""
    if isinstance(expr, ast.And | ast.Or | ast.Implies):
        return _atoms(expr.left) + _atoms(expr.right)
    if isinstance(expr, ast.Not):
        return _atoms(expr.operand)
    return [expr]
