"""The policy analysis run by `check` after the type checks: every finding, acknowledged or not."""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs

from policydsl import ast
from policydsl.checks.analysis_base import Context, Finding, Options, Stats
from policydsl.checks.analysis_caps import CapChecks
from policydsl.checks.analysis_clauses import ClauseChecks
from policydsl.checks.analysis_gaps import check_gaps
from policydsl.checks.analysis_undetermined import check_undetermined
from policydsl.checks.analysis_witness import describe
from policydsl.codes import ANALYSIS_CODES, CODES
from policydsl.diagnostics import Diagnostic, Note, Sink
from policydsl.model import Model
from policydsl.source import Span

__all__ = ["Analysis", "Finding", "Options", "Settled", "analyse", "report"]


@attrs.frozen
class Settled:
    """A finding the policy settles: the `diagnostic` it would be, the `reason` and where (`span`)
    the acknowledgement or declaration stands."""

    diagnostic: Diagnostic
    reason: str
    span: Span | None


@attrs.frozen
class Analysis:
    """The outcome for one policy: open `findings`, `settled` ones, solver `stats`, `seconds`, and
    the checks `skipped` once the budget was spent."""

    findings: tuple[Diagnostic, ...]
    settled: tuple[Settled, ...]
    stats: Stats
    seconds: float
    skipped: int = 0  # checks not run because the budget was spent: the analysis was cut short


def analyse(model: Model, text: str = "", options: Options | None = None) -> Analysis:
    """Run every analysis over a checked policy (one that has no errors)."""
    options = options or Options()
    started = time.perf_counter()
    ctx = Context(model, options, text)
    clauses = ClauseChecks(ctx, text)
    measures = model.policy.of(ast.Measure)
    if clauses.eligibility():
        for m in measures:
            clauses.measure(m)
        clauses.cross(measures)
        check_gaps(ctx)
        CapChecks(ctx).run()
    check_undetermined(ctx)
    if ctx.skipped:
        ctx.add(
            Finding(
                "P900",
                f"the analysis stopped after {options.budget} solver questions (its budget): "
                f"{ctx.skipped} checks were not run",
                Span(model.policy.span.file, 1, 1, 1, 1, 0, 0),
                (),
                hint="split the policy into smaller files, or check it with a larger `--budget`",
                data={"budget": options.budget, "skipped": ctx.skipped},
            )
        )
    acks = model.policy.of(ast.Acknowledge)
    findings, settled = _acknowledge(ctx.findings, acks, model, complete=not ctx.skipped)
    return Analysis(tuple(findings), tuple(settled), ctx.stats(), time.perf_counter() - started, ctx.skipped)


def report(model: Model, sink: Sink, text: str = "", options: Options | None = None) -> Analysis:
    """Analyse and put the open findings into `sink`; the settled ones are in the result."""
    result = analyse(model, text, options)
    sink.extend(result.findings)
    return result


# ---------------------------------------------------------------------------------- acknowledgements


def _matches(target: str, named: str) -> bool:
    """An acknowledgement's target names a finding's target: the same, or the measure of a clause."""
    return named == target or named.startswith(target + ".")


def _settles(ack: ast.Acknowledge, finding: Finding) -> bool:
    if not finding.targets:
        return False
    targets = [t.text for t in ack.targets]
    return all(any(_matches(t, f) for t in targets) for f in finding.targets) and all(
        any(_matches(t, f) for f in finding.targets) for t in targets
    )


def _acknowledge(
    found: Sequence[Finding], acks: Sequence[ast.Acknowledge], model: Model, complete: bool = True
) -> tuple[list[Diagnostic], list[Settled]]:
    """Settle the findings the acknowledgements name; report the acknowledgements that name none
    (unless the analysis stopped early: then the finding may be among the checks not run)."""
    open_: list[Diagnostic] = []
    settled: list[Settled] = []
    used: set[int] = set()
    for f in found:
        if f.settled_by is not None:
            settled.append(Settled(_diagnostic(f, model), *f.settled_by))
            continue
        ack = next((a for a in acks if a.code.text == f.code and _settles(a, f)), None)
        if ack is None and f.code == "P900":
            # an undecided query keeps the acknowledgement of the finding it was deciding alive
            check = str(f.data.get("check", ""))
            used.update(id(a) for a in acks if a.code.text == check and _settles(a, f))
        if ack is None:
            open_.append(_diagnostic(f, model))
        else:
            used.add(id(ack))
            settled.append(Settled(_diagnostic(f, model), ack.reason, ack.span))
    for ack in acks:
        if id(ack) in used:
            continue
        targets = ", ".join(t.text for t in ack.targets)
        if ack.code.text not in ANALYSIS_CODES:
            known = ack.code.text in CODES
            why = "is not a finding of the policy analysis" if known else "is not a known code"
            open_.append(
                _diagnostic(
                    Finding(
                        "P902",
                        f"acknowledge {ack.code.text} {{ {targets} }}: `{ack.code.text}` {why}",
                        ack.code.span,
                        (),
                    ),
                    model,
                )
            )
            continue
        if not complete:
            continue
        open_.append(
            _diagnostic(
                Finding(
                    "P902",
                    f"acknowledge {ack.code.text} {{ {targets} }} matches no finding: "
                    "the policy no longer has it",
                    ack.span,
                    (),
                    hint="remove the acknowledgement, or check that its code and targets are right",
                ),
                model,
            )
        )
    return open_, settled


def _diagnostic(f: Finding, model: Model) -> Diagnostic:
    notes = list(f.notes)
    if f.witness is not None and (f.witness.facts or f.witness.params or f.witness.on):
        notes.append(Note(f"witness: {describe(f.witness, model)}"))
    data = dict(f.data)
    data["targets"] = list(f.targets)
    severity = f.severity if f.severity is not None else CODES[f.code].severity
    return Diagnostic(f.code, severity, f.message, f.span, tuple(notes), f.hint, data)
