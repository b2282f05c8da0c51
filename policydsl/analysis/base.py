"""What every policy analysis shares: the Finding it produces and the Context it asks (the codes are
in policydsl/codes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import attrs

from policydsl import codes
from policydsl.analysis.smt import (
    DEFAULT_RLIMIT,
    RLIMIT_REASON,
    Answer,
    Encoder,
    Formula,
    Optimum,
    Session,
    SolverError,
    Unsupported,
    Witness,
)
from policydsl.analysis.witness import describe, literals, param_literals
from policydsl.codes import CODES
from policydsl.diagnostics import Code, Diagnostic, Note, Severity
from policydsl.messages import Message, as_message, msg
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower
from policydsl.source import Span
from policydsl.syntax.keywords import APPLICANT_FACT

if TYPE_CHECKING:
    from policydsl.checking.model import Model

DEFAULT_BUDGET = 20000  # solver questions per file (docs/performance.md: about a minute's work)


@attrs.frozen
class Options:
    """How the analysis runs: the per-query `timeout_ms`, `verbose` (also compute the findings
    the policy's own declarations settle, to show them with their reason), and `budget`, the most
    solver questions the analysis of one file may ask: the checks are pairwise, so a file of
    hundreds of measures could otherwise run for hours; once the budget is spent the remaining
    checks are skipped and one P900 finding says how many.  A count of questions, not a clock:
    the same file stops at the same question on every run and machine."""

    timeout_ms: int = 2000
    verbose: bool = False
    budget: int = DEFAULT_BUDGET
    rlimit: int = DEFAULT_RLIMIT  # solver steps per question, the deterministic limit (smt.py)


def code_id(code: Code) -> str:
    """The id of a code of the registry (`codes.P601` is "P601")."""
    return code.id


@attrs.frozen
class Finding:
    """One analysis result before acknowledgements: `code`, `message`, `span`; the `targets` an
    acknowledgement names (clause ids `measure.clause` or measure names); `notes` pointing at the
    other places; a `hint`; the `witness` applicant; extra `data`; and, when a declaration of the
    policy already settles it, `settled_by` (reason, where)."""

    code: str = attrs.field(converter=code_id)
    message: Message = attrs.field(converter=as_message)
    span: Span | None
    targets: tuple[str, ...]
    notes: tuple[Note, ...] = ()
    hint: Message | None = attrs.field(default=None, converter=attrs.converters.optional(as_message))
    witness: Witness | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    settled_by: tuple[Message, Span] | None = None
    severity: Severity | None = None


@attrs.frozen
class Stats:
    """Solver use: `calls`, `undecided` queries, `seconds` in the solver, pairs `filtered` by
    interval reasoning before any call."""

    calls: int
    undecided: int
    seconds: float
    filtered: int


@attrs.frozen
class Settled:
    """A finding the policy settles: the `diagnostic` it would be, the `reason` and where (`span`)
    the acknowledgement or declaration stands."""

    diagnostic: Diagnostic
    reason: Message
    span: Span | None


class Context:
    """One policy under analysis: the checked `model`, its solver `enc`oding and `session`, the
    `options`, and the `findings` so far.  Checks ask through `ask` and `optimise`, which turn an
    encoding failure or an undecided query into a finding instead of a silent pass."""

    def __init__(self, model: Model, options: Options, text: str = "") -> None:
        self.model = model
        self.options = options
        self.plan = lower(model, text)
        self.enc = Encoder(self.plan)
        name_unset(self.enc, self.plan)
        self.chinese = model.policy.chinese  # values are shown as the file writes them
        self.session = Session(self.enc, options.timeout_ms, options.rlimit)
        self.findings: list[Finding] = []
        self.filtered = 0
        self.dead: set[str] = set()  # the measures (names) and clauses (ids) that never apply
        self._unsupported: set[tuple[int, int]] = set()
        self._names: dict[int, tuple[set[str], set[str]]] = {}
        self._keep: list[Any] = []  # what _names is keyed on, kept alive so its id stays unique
        self._assume_facts = [self.names(a)[0] for a in self.plan.assumptions]
        self._eligibility = [g.cond for g in self.plan.eligibility]
        self.skipped = 0  # checks not run because the budget was spent

    def spent(self) -> bool:
        """Whether the budget of solver questions is spent (every later question is skipped)."""
        return self.session.calls >= self.options.budget

    def out_of_budget(self, checks: int = 1) -> bool:
        """True, counting the `checks` as skipped, once the analysis's budget is spent."""
        if not self.spent():
            return False
        self.skipped += checks
        return True

    # ------------------------------------------------------------------ reporting
    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def unsupported(
        self, exc: Unsupported, targets: Sequence[str], what: Message | str, span: Span | None
    ) -> None:
        span = (exc.expr.span if exc.expr is not None else None) or span
        key = (span.start, span.end) if span is not None else (-1, -1)
        if key in self._unsupported:
            return
        self._unsupported.add(key)
        self.add(
            Finding(
                codes.P901,
                msg("finding.could_not_check", what=as_message(what), reason=exc.reason),
                span,
                tuple(targets),
                data={"reason": str(exc.reason)},
            )
        )

    def ask(
        self,
        build: Callable[[], Sequence[Formula]],
        *,
        code: Code,
        targets: Sequence[str],
        span: Span | None,
        what: Message | str,
        facts: Iterable[str] = (),
        show: Callable[[], Mapping[str, Any]] | None = None,
        round_shown: bool = False,
    ) -> Answer | None:
        """Run one query; None when it could not be encoded or decided (a finding says so).  With
        `round_shown`, the witness's shown amounts are round figures where the region allows."""
        if self.out_of_budget():
            return None
        try:
            formulas = build()
            terms = show() if show is not None else None
            answer = self.session.check(formulas, facts, terms, round_shown)
        except Unsupported as exc:
            self.unsupported(exc, targets, what, span)
            return None
        except SolverError as exc:
            self.solver_error(exc, targets, span, what)
            return None
        if answer.status == "unknown":
            self.undecided(code, targets, span, what, answer.reason)
            return None
        return answer

    def optimise(
        self,
        build: Callable[[], tuple[Any, Sequence[Formula]]],
        *,
        code: Code,
        targets: Sequence[str],
        span: Span | None,
        what: Message | str,
        facts: Iterable[str] = (),
        maximise: bool = True,
    ) -> Optimum | None:
        if self.out_of_budget():
            return None
        try:
            term, formulas = build()
            result = self.session.optimise(term, formulas, facts, maximise)
        except Unsupported as exc:
            self.unsupported(exc, targets, what, span)
            return None
        except SolverError as exc:
            self.solver_error(exc, targets, span, what)
            return None
        if result.status == "unknown":
            self.undecided(code, targets, span, what, result.reason)
            return None
        return result

    def solver_error(
        self, exc: Exception, targets: Sequence[str], span: Span | None, what: Message | str
    ) -> None:
        self.add(
            Finding(
                codes.P901,
                msg("finding.solver_rejected", what=as_message(what), error=str(exc)),
                span,
                tuple(targets),
                data={"reason": str(exc)},
            )
        )

    def undecided(
        self, code: Code, targets: Sequence[str], span: Span | None, what: Message | str, reason: str
    ) -> None:
        timeout = "timeout" in reason or "canceled" in reason or not reason
        shown = as_message(what)
        message = (
            msg("finding.undecided_in_steps", steps=self.options.rlimit, what=shown)
            if reason == RLIMIT_REASON
            else msg("finding.undecided_in_time", ms=self.options.timeout_ms, what=shown)
            if timeout
            else msg("finding.undecided_because", reason=reason, what=shown)
        )
        self.add(
            Finding(
                codes.P900,
                message,
                span,
                tuple(targets),
                data={"check": code.id, "reason": reason or "timeout"},
            )
        )

    # ------------------------------------------------------------------ names for witnesses
    def names(self, *exprs: P.Expr) -> tuple[set[str], set[str]]:
        """Facts and parameters the plan expressions use, through the values of the parameters."""
        facts: set[str] = set()
        params: set[str] = set()
        for expr in exprs:
            got = self._names.get(id(expr))
            if got is None:
                got = self._names[id(expr)] = self._uncached_names(expr)
                self._keep.append(expr)
            facts |= got[0]
            params |= got[1]
        return facts, params

    def _uncached_names(self, *exprs: P.Expr) -> tuple[set[str], set[str]]:
        facts: set[str] = set()
        params: set[str] = set()
        todo = list(exprs)
        while todo:
            for node in P.walk(todo.pop()):
                if isinstance(node, P.FactRef):
                    facts.add(node.name)
                elif isinstance(node, P.ParamRef) and node.name not in params:
                    params.add(node.name)
                    todo.extend(v.value for v in self.plan.params[node.name].versions)
        return facts, params

    def facts_for(
        self,
        measures: Iterable[P.Measure] = (),
        clauses: Iterable[P.Clause] = (),
        amounts: bool = False,
        extra: Iterable[P.Expr] = (),
    ) -> set[str]:
        """The facts a witness should show: those of the shared eligibility, the measures' gates,
        the clauses and what decides whether they apply (their exceptions and siblings), the
        amounts when asked, closed under the background facts that link them."""
        measures, clauses = list(measures), list(clauses)
        exprs: list[P.Expr] = list(self._eligibility)
        facts: set[str] = set()
        for m in measures:
            exprs += [g.cond for g in m.gates]
            if m.applicants is not None:
                facts.add(APPLICANT_FACT[0])
            if amounts:
                exprs += [e for f in m.funding_limits for e in (f.limit, f.received)]
        for c in clauses:
            exprs += _clause_exprs(c, amounts)
        for m in measures:
            for c in clauses:
                if any(c is own for own in m.clauses):
                    for e in self.enc.exceptions(m, c) + self.enc.higher_siblings(m, c):
                        exprs += [k.cond for k in e.conditions]
        exprs += list(extra)
        found, params = self.names(*exprs)
        facts |= found
        # parameters the text leaves unset take a value in the witness too
        facts |= {
            f"param:{p}"
            for p in params
            if any(isinstance(v.value, P.Unset) for v in self.plan.params[p].versions)
        }
        changed = True
        while changed:
            changed = False
            for used in self._assume_facts:
                if used & facts and not used <= facts:
                    facts |= used
                    changed = True
        return facts

    def clause_facts(self, measure: P.Measure, *clauses: P.Clause, amounts: bool = False) -> set[str]:
        return self.facts_for([measure], clauses or measure.clauses, amounts)

    # ------------------------------------------------------------------ the plan's names
    def clause_label(self, measure: P.Measure, clause: P.Clause) -> str:
        """`measure.clause` with the clause's label and cited article, for messages."""
        cite = clause.cite or measure.cite
        label = f" “{clause.written_label}”" if clause.written_label else ""
        return f"`{clause.id}`{label}" + (f" ({cite})" if cite else "")

    def cites(self, measure: P.Measure, *clauses: P.Clause) -> list[str]:
        """The articles a finding cites: each clause's, else its measure's."""
        found = [c.cite or measure.cite for c in clauses] if clauses else [measure.cite]
        return [c for c in found if c]

    def is_dead(self, node: P.Measure | P.Clause) -> bool:
        """Whether an earlier check found the measure or clause never applies."""
        return _dead_key(node) in self.dead

    def kill(self, node: P.Measure | P.Clause) -> None:
        self.dead.add(_dead_key(node))

    def stats(self) -> Stats:
        return Stats(self.session.calls, self.session.undecided, self.session.seconds, self.filtered)

    # ------------------------------------------------------------------ presentation helpers
    def witness_data(self, witness: Witness | None) -> dict[str, Any]:
        if witness is None:
            return {}
        data: dict[str, Any] = {"witness": literals(witness, self.plan, self.chinese)}
        if witness.on is not None:
            data["on"] = witness.on.isoformat()
        params = param_literals(witness, self.plan, self.chinese)
        if params:
            data["params"] = params
        return data

    def describe(self, witness: Witness) -> Message:
        return describe(witness, self.plan, self.chinese)

    def diagnostic(self, f: Finding) -> Diagnostic:
        """The finding as the diagnostic reported (its witness a note)."""
        notes = list(f.notes)
        if f.witness is not None and (f.witness.facts or f.witness.params or f.witness.on):
            notes.append(Note(msg("witness.note", applicant=self.describe(f.witness))))
        data = dict(f.data)
        data["targets"] = list(f.targets)
        severity = f.severity if f.severity is not None else CODES[f.code].severity
        return Diagnostic(f.code, severity, f.message, f.span, tuple(notes), f.hint, data)


def name_unset(enc: Encoder, plan: P.Plan) -> None:
    """Name in the solver each value the text leaves unset by where it is written: a tier table
    or band (`tier:line:col`, for its missing row) and each of their rows written `unset`."""
    for expr in plan_exprs(plan):
        for node in P.walk(expr):
            if not isinstance(node, P.Table | P.Band) or node.span is None:
                continue
            tag = "tier" if isinstance(node, P.Table) else "band"
            enc.name_unset(node, f"{tag}:{node.span.line}:{node.span.col}")
            for row in node.rows:
                if isinstance(row.value, P.Unset) and row.span is not None:
                    enc.name_unset(row.value, f"{tag}:{row.span.line}:{row.span.col}")


def plan_exprs(plan: P.Plan) -> Iterator[P.Expr]:
    """Every expression the plan holds (not those inside them)."""
    for param in plan.params.values():
        yield from (v.value for v in param.versions)
    for spec in plan.facts.values():
        yield from (bound for _, bound in spec.declared)
    yield from plan.assumptions
    yield from (a.cond for a in plan.assumption_lines)
    yield from (g.cond for g in plan.eligibility)
    for m in plan.measures:
        yield from (g.cond for g in m.gates)
        for c in m.clauses:
            yield from _clause_exprs(c, amounts=True)
        for f in m.funding_limits:
            yield from (f.limit, f.received)
        for s in m.instalments:
            yield from ([s.share] if s.share is not None else [])
            yield s.cond
        yield from (p.cond for p in m.preferences)
        yield from (q.rank for q in m.quotas if q.rank is not None)
        yield from (g.amount for g in m.group_caps)
        yield from (b.amount for b in m.budgets)
    yield from (t.amount for t in plan.total_caps)


def _clause_exprs(clause: P.Clause, amounts: bool) -> list[P.Expr]:
    """The expressions of a clause's conditions, and of its amount and caps when `amounts`."""
    exprs = [c.cond for c in clause.conditions]
    if amounts:
        exprs += [clause.amount.expr] if clause.amount.expr is not None else []
        exprs += [cap.expr for cap in clause.amount.caps]
        exprs += [b.expr for b in (clause.amount.floor, clause.amount.offset) if b is not None]
    return exprs


def measure_label(measure: P.Measure) -> str:
    """`measure` with its label as written and its cited article, for messages."""
    shown = f" “{measure.written_label}”" if measure.written_label else ""
    return f"`{measure.name}`{shown}" + (f" ({measure.cite})" if measure.cite else "")


def _dead_key(node: P.Measure | P.Clause) -> str:
    """Measures are known by name, clauses by id."""
    return node.name if isinstance(node, P.Measure) else node.id


def fraction_text(value: Fraction) -> str:
    from policydsl.analysis.witness import money_literal

    return money_literal(value)
