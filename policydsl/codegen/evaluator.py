"""The compiled evaluator in this process (what `policydsl.load` and `eval` use) and `compile`'s work."""

from __future__ import annotations

import datetime
import os
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policydsl import runtime as rt
from policydsl.api import PolicyEvaluator
from policydsl.batch import Constraint
from policydsl.checks.typecheck import Model
from policydsl.codegen.python import GeneratedModule, generate
from policydsl.diagnostics import Sink
from policydsl.pipeline import Checked, check_file


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
            facts, date, partial=partial, explain=explain, params=self.params or None, strict=strict
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


def write_atomically(target: Path, text: str) -> None:
    """Write `text` to `target` so that a reader never sees half a module."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def compile_command(policy: Path, output: Path | None) -> int:
    """`policydsl compile`: write the evaluator module, or print the policy's errors (exit 1)."""
    import click

    from policydsl.diagnostics import format_text
    from policydsl.frontend import load_file

    sink = Sink()
    source = compile_file(policy, sink)
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
        click.echo(f"cannot write {output}: {exc.strerror or exc}", err=True)
        return 2
    click.echo(f"{policy} compiled into {output} ({len(source.splitlines())} lines)")
    return 0
