"""The policy analysis run by `check` after the type checks: every finding, acknowledged or not."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from policydsl import codes
from policydsl.analysis.base import Context, Finding, Options, Settled, Stats
from policydsl.analysis.caps import CapChecks
from policydsl.analysis.clauses import ClauseChecks
from policydsl.analysis.combinations import group
from policydsl.analysis.gaps import check_gaps
from policydsl.analysis.language import acknowledge, duplicates, exception_cycles
from policydsl.analysis.undetermined import check_undetermined
from policydsl.diagnostics import Diagnostic, Sink
from policydsl.messages import msg
from policydsl.source import Span

if TYPE_CHECKING:
    from policydsl.checking.model import Model

__all__ = ["Analysis", "Finding", "Options", "Settled", "analyse", "report"]


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
    """Run every analysis over a checked policy (one that has no errors).  The semantic checks read
    the plan the context lowers; the Model is for that lowering and for the language-level checks
    (analysis_language, `check_left_unset`), which look at what the file writes."""
    options = options or Options()
    started = time.perf_counter()
    ctx = Context(model, options, text)
    clauses = ClauseChecks(ctx, text)
    if clauses.eligibility():
        for m in ctx.plan.measures:
            # what is written (language level) before what it means
            if exception_cycles(ctx, m):
                ctx.kill(m)
            elif clauses.admits(m):
                clauses.clauses(m, duplicates(ctx, m))
        clauses.cross(ctx.plan.measures)
        check_gaps(ctx)
        CapChecks(ctx).run()
    check_undetermined(ctx)
    if ctx.skipped:
        whole = ctx.plan.span  # the file's first character stands for all of it
        ctx.add(
            Finding(
                codes.P900,
                msg("finding.budget_stopped", budget=options.budget, skipped=ctx.skipped),
                None if whole is None else Span(whole.file, 1, 1, 1, 1, 0, 0),
                (),
                hint=msg("finding.budget_hint"),
                data={"budget": options.budget, "skipped": ctx.skipped},
            )
        )
    findings, settled = acknowledge(ctx, complete=not ctx.skipped)
    findings = group(ctx, findings)
    return Analysis(tuple(findings), tuple(settled), ctx.stats(), time.perf_counter() - started, ctx.skipped)


def report(model: Model, sink: Sink, text: str = "", options: Options | None = None) -> Analysis:
    """Analyse and put the open findings into `sink`; the settled ones are in the result."""
    result = analyse(model, text, options)
    sink.extend(result.findings)
    return result
