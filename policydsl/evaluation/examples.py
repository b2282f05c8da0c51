"""The examples written in policy files, past the checks: read once into plain data (the one reader of
`example` blocks), run, and measured for which clauses and branches they reach."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from policydsl.checking.model import Model
from policydsl.dates import last_day
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.interpreter import Coverage, CoverageKey, Interpreter
from policydsl.messages import Message, msg
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower, lower_expr
from policydsl.source import Span
from policydsl.syntax import ast


@attrs.frozen
class Given:
    """One fact an example gives: the `fact` as written and its `value`, a text or an expression
    that uses no fact, lowered (`text` as written)."""

    fact: str
    value: P.Expr | str | tuple[str, ...]
    text: str = ""


@attrs.frozen
class Expected:
    """What an example expects of a measure (`target`; None is the total): `kind` is "amount",
    "ceiling", "undetermined" or "ineligible", with the `value` (lowered; `text` as written) for the
    first two."""

    target: str | None
    kind: str
    value: P.Expr | None
    text: str = ""


@attrs.frozen
class Example:
    """A worked example, read: its `name`, where it stands (`span`), the `day` it is evaluated on
    (its own `on` date, else its base's, else the policy's first valid day, else the day of issue;
    None: not known), the `given` facts and the `expectations`, and the parameter values it sets
    (`params`).  An example that extends a base holds the base's facts and parameters with its own
    in their place, in the base's order, its own new ones after."""

    name: str
    span: Span
    day: datetime.date | None
    given: tuple[Given, ...]
    expectations: tuple[Expected, ...]
    params: tuple[Given, ...] = ()


@attrs.frozen
class Examples:
    """A policy's examples in order (`cases`), and `sites`: where each branch example coverage
    counts is written (keyed as the interpreter records it, `interpreter.CoverageKey`)."""

    cases: tuple[Example, ...]
    sites: Mapping[CoverageKey, Span]

    def matching(self, pattern: str | None) -> list[Example]:
        """The examples whose name contains `pattern` (all of them without one)."""
        return [e for e in self.cases if not pattern or pattern in e.name]


def read_examples(model: Model, plan: P.Plan, source_text: str = "") -> Examples:
    """The `example` blocks of a checked policy without errors (`plan` its lowering), with their
    values lowered as the plan's expressions are, and the places coverage points at."""
    # an example without a date is evaluated on the first day the policy is surely in force
    first = first_day(plan)

    def lowered(node: ast.Expr) -> tuple[P.Expr, str]:
        return lower_expr(model, node, source_text)

    def given(binding: ast.Binding) -> Given:
        if isinstance(binding.value, ast.Text):
            return Given(binding.name.text, binding.value.value)
        if isinstance(binding.value, ast.Roles):  # the applicant's roles, as an input's list
            return Given(binding.name.text, tuple(k.text for k in binding.value.kinds))
        return Given(binding.name.text, *lowered(binding.value))

    def expected(e: ast.Expectation) -> Expected:
        target = None if e.target is None else e.target.text
        if e.value is None:
            return Expected(target, e.kind, None)
        return Expected(target, e.kind, *lowered(e.value))

    written = model.policy.of(ast.Example)
    cases = tuple(
        Example(
            ex.name,
            ex.span,
            _day(ex, written) or first,
            tuple(given(b) for b in _merged(ex, written, "given")),
            tuple(expected(e) for e in ex.expectations),
            tuple(given(b) for b in _merged(ex, written, "params")),
        )
        for ex in written
        if not ex.template
    )
    return Examples(cases, MappingProxyType(_sites(model, plan)))


def _chain(ex: ast.Example, written: list[ast.Example]) -> list[ast.Example]:
    """`ex` and the bases it extends, the farthest last (the checker has refused unknown, doubly
    named and circular bases: E120, E121)."""
    by_name = {e.name: e for e in written}
    chain = [ex]
    while len(chain) <= len(written):
        base = chain[-1].base
        if base is None or base.value not in by_name:
            break
        chain.append(by_name[base.value])
    return chain


def _merged(ex: ast.Example, written: list[ast.Example], field: str) -> list[ast.Binding]:
    """The facts (`given`) or parameters (`params`) of `ex` with those of its bases: the nearest
    binding of each name wins, in the order the farthest base first writes them."""
    merged: dict[str, ast.Binding] = {}
    for node in reversed(_chain(ex, written)):
        for binding in getattr(node, field):
            merged[binding.name.text] = binding
    return list(merged.values())


def _day(ex: ast.Example, written: list[ast.Example]) -> datetime.date | None:
    """The nearest `on` date along the chain of bases (None: none says)."""
    return next((node.date for node in _chain(ex, written) if node.date is not None), None)


def _sites(model: Model, plan: P.Plan) -> dict[CoverageKey, Span]:
    """Where each clause and each atom of its conditions is written, by the plan's clause ids: the
    plan keeps the AST's clauses and atoms in the same order (and adds the award period of a
    schedule by year after them)."""
    sites: dict[CoverageKey, Span] = {}
    for measure in model.policy.of(ast.Measure):
        planned = plan.measure(measure.name.text)
        for clause, pc in zip(measure.clauses, planned.clauses, strict=True):
            sites[pc.id] = clause.span
            written = len(clause.conditions)
            for ci, (cond, pcond) in enumerate(zip(clause.conditions, pc.conditions[:written], strict=True)):
                for ai, (atom, _) in enumerate(zip(_atoms(cond.expr), P.atoms(pcond.cond), strict=True)):
                    sites[(pc.id, ci, ai)] = atom.span
            # the award period of a schedule by year (plan/lower.py award_period): where it is written
            for ci, pcond in enumerate(pc.conditions[written:], written):
                for ai, _ in enumerate(P.atoms(pcond.cond)):
                    sites[(pc.id, ci, ai)] = pcond.span or clause.span
    return sites


def given_facts(interpreter: Interpreter, example: Example) -> dict[str, Any]:
    """An example's given facts as an applicant's input: a text as it is, a duration as written,
    any other value as the interpreter works it out (InputError when it has none)."""
    facts = {given.fact: _raw(interpreter, given) for given in example.given}
    for name, value in facts.items():
        spec = interpreter.specs.get(name)
        if spec is not None and spec.kind == P.ROLES:  # one kind or several: the set of roles
            try:
                facts[name] = rt.parse_fact(spec, value)
            except ValueError as exc:
                raise rt.InputError([f"`{name}` ({spec.label}): {exc}"]) from None
    return facts


def _raw(interpreter: Interpreter, given: Given) -> Any:
    """A given value as an input: a text as it is, a set of kinds as a list, a duration as
    written, any other value as the interpreter works it out (InputError when it has none)."""
    if isinstance(given.value, str):
        return given.value
    if isinstance(given.value, tuple):
        return list(given.value)
    if isinstance(given.value, P.DurationConst):
        return given.value.text
    return interpreter.literal(given.value, given.text)


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


@attrs.frozen
class ExampleResult:
    """One example's outcome: the `failures` (empty when it passed), the `decision` when it ran."""

    example: Example
    failures: tuple[Message, ...]
    decision: rt.Decision | None

    @property
    def passed(self) -> bool:
        return not self.failures


def run_example(
    interpreter: Interpreter, example: Example, coverage: Coverage | None = None
) -> ExampleResult:
    try:
        if example.params:  # the parameter values the example sets, over those already set
            values = {p.fact: _raw(interpreter, p) for p in example.params}
            interpreter = Interpreter(interpreter.plan, params={**interpreter.overrides, **values})
        facts = given_facts(interpreter, example)
        decision = interpreter.evaluate(facts, example.day, coverage=coverage)
    except rt.InputError as exc:
        return ExampleResult(
            example, tuple(msg("test.unusable_facts", problem=p) for p in exc.problems), None
        )
    failures: list[Message] = []
    for expectation in example.expectations:
        try:
            value = (
                None
                if expectation.value is None
                else interpreter.literal(expectation.value, expectation.text)
            )
        except rt.InputError as exc:  # an unset parameter, a division by zero
            failures.extend(msg("test.no_expected_value", problem=p) for p in exc.problems)
            continue
        name: Message | str
        if expectation.target is None:
            result = decision.total
            name = msg("test.total")
        else:
            name = expectation.target
            result = decision.measures[name]
        if not _matches(result, expectation.kind, value):
            got = rt.describe(result)
            why = f"（{'；'.join(result.reasons)}）" if result.reasons else ""
            expected = _expected(expectation.kind, value)
            failures.append(msg("test.mismatch", name=name, expected=expected, got=got, why=why))
    return ExampleResult(example, tuple(failures), decision)


def run_examples(model: Model, source_text: str, coverage: Coverage | None = None) -> list[ExampleResult]:
    """Every example of a checked policy without errors, run by the interpreter."""
    plan = lower(model, source_text)
    return run_all(plan, read_examples(model, plan, source_text), coverage)


def run_all(plan: P.Plan, examples: Examples, coverage: Coverage | None = None) -> list[ExampleResult]:
    """Each of `examples` run on `plan` by the interpreter, in order."""
    interpreter = Interpreter(plan)
    return [run_example(interpreter, ex, coverage) for ex in examples.cases]


@attrs.frozen
class Gap:
    """Something no example reaches: a clause never applied, or a condition never true / never false."""

    span: Span
    message: Message


def coverage_gaps(
    plan: P.Plan, sites: Mapping[CoverageKey, Span], seen: Coverage
) -> tuple[int, int, list[Gap]]:
    """(branches reached, branches in all, what is missed): every clause counts its applying and not
    applying, every atom of a condition (a comparison, a yes/no fact) its true and false outcome.
    `seen` is keyed as the interpreter records it (`interpreter.CoverageKey`), `sites` the same
    (`Examples.sites`)."""
    gaps: list[Gap] = []
    reached = total = 0
    for measure in plan.measures:
        for pc in measure.clauses:
            total += 1
            if True in seen.get(pc.id, set()):
                reached += 1
            else:
                gaps.append(Gap(sites[pc.id], msg("test.clause_never_applies", clause=pc.id)))
            for ci, pcond in enumerate(pc.conditions):
                for ai, _ in enumerate(P.atoms(pcond.cond)):
                    outcomes = seen.get((pc.id, ci, ai), set())
                    for value in (True, False):
                        total += 1
                        if value in outcomes:
                            reached += 1
                        else:
                            never = (
                                msg("test.never_true", clause=pc.id)
                                if value
                                else msg("test.never_false", clause=pc.id)
                            )
                            gaps.append(Gap(sites[(pc.id, ci, ai)], never))
    return reached, total, gaps


def _atoms(expr: ast.Expr) -> list[ast.Expr]:
    """The atoms of a condition as written, in the order of `plan.nodes.atoms` (`a implies b` is
    lowered to `not a or b`, which keeps it)."""
    if isinstance(expr, ast.And | ast.Or | ast.Implies):
        return _atoms(expr.left) + _atoms(expr.right)
    if isinstance(expr, ast.Not):
        return _atoms(expr.operand)
    return [expr]


def first_day(plan: P.Plan) -> datetime.date | None:
    """The day an applicant without a date of its own is evaluated on, as an example is: the first
    day the policy is surely in force, else the last day its issue date may be."""
    return plan.validity.sure_start or (last_day(plan.issued) if plan.issued is not None else None)


def decide_applicant(plan: P.Plan, facts: Mapping[str, Any], day: datetime.date | None) -> rt.Decision:
    """A sample applicant's decision by the reference interpreter, partial (a fact left out leaves
    what needs it undecided) and with its reasons; InputError when a value cannot be used."""
    return Interpreter(plan).evaluate(facts, day, partial=True, explain=True)
