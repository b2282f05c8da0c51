"""The compiled evaluator in this process (what `policydsl.load` and `eval` use) and the text of `compile`."""

from __future__ import annotations

import datetime
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policydsl import runtime as rt
from policydsl.api import PolicyEvaluator, evaluation_date
from policydsl.batch import Constraint
from policydsl.codegen.python import GeneratedModule, generate
from policydsl.diagnostics import Sink
from policydsl.model import Model
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
