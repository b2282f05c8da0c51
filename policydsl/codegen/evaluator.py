"""The compiled evaluator in this process (what `policydsl.load` and `eval` use) and `compile`'s work."""

from __future__ import annotations

import datetime
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policydsl import runtime as rt
from policydsl.api import PolicyEvaluator, evaluation_date
from policydsl.batch import Constraint
from policydsl.checks.typecheck import Model
from policydsl.codegen.python import GeneratedModule, generate
from policydsl.diagnostics import Sink
from policydsl.files import write_atomically
from policydsl.pipeline import Checked, check_file
from policydsl.textsafety import echo


class CompiledEvaluator(PolicyEvaluator):
    """A policy's generated evaluator `module`, loaded in this process, behind the same interface as
    the interpreter-backed PolicyEvaluator (whose `model` and `interpreter` it keeps for examples)."""

    def __init__(
        self,
        model: Model,
        source_text: str,
        generated: GeneratedModule,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, source_text, params)  # checks the parameter values once
        self.generated = generated
        self.module: types.ModuleType = generated.load()
        self.params = dict(params or {})

    def evaluate(
        self,
        facts: Mapping[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
        strict: bool = False,
    ) -> rt.Decision:
        decision: rt.Decision = self.module.evaluate(
            facts,
            evaluation_date(date),
            partial=partial,
            explain=explain,
            params=self.params or None,
            strict=strict,
        )
        return decision

    def constraints(self) -> list[Constraint]:
        return [
            Constraint(c.measure, c.quota, c.rank, c.group_cap, c.group, c.allocate)
            for c in self.module.constraints(self.params or None)
        ]


def build(checked: Checked, params: Mapping[str, Any] | None = None) -> CompiledEvaluator:
    """The compiled evaluator of a checked policy without errors."""
    assert checked.model is not None and checked.source is not None
    generated = generate(checked.model, checked.source.text, checked.source.name)
    return CompiledEvaluator(checked.model, checked.source.text, generated, params)


def compile_file(path: Path, sink: Sink) -> str | None:
    """The evaluator module's source for a policy file, or None when it has errors (see `sink`)."""
    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None
    return generate(checked.model, checked.source.text, checked.source.name).source()


def plan_file(path: Path, sink: Sink) -> str | None:
    """The plan of a policy file as text, or None when it has errors (see `sink`)."""
    from policydsl.plan import format_plan, lower

    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None
    return format_plan(lower(checked.model, checked.source.text))


def compile_command(policy: Path, output: Path | None, target: str = "python") -> int:
    """`policydsl compile`: write the evaluator module (or, `target` plan, the plan as text), or
    print the policy's errors (exit 1)."""
    import click

    from policydsl.diagnostics import format_text
    from policydsl.frontend import load_file

    sink = Sink()
    source = plan_file(policy, sink) if target == "plan" else compile_file(policy, sink)
    if source is None:
        loaded = load_file(policy, Sink())
        sources = {loaded.source.name: loaded.source} if loaded.source else {}
        click.echo(format_text(sink.errors_only(), sources), err=True)
        return 1
    if output is None:
        click.echo(source, nl=False)
        return 0
    try:
        write_atomically(output, source)
    except OSError as exc:
        echo(f"cannot write {output}: {exc.strerror or exc}", err=True)
        return 2
    what = "the plan of " if target == "plan" else ""
    echo(f"{what}{policy} compiled into {output} ({len(source.splitlines())} lines)")
    return 0
