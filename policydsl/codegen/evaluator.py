"""The text `policydsl compile` writes: a policy file's evaluator module, or its plan."""

from __future__ import annotations

from pathlib import Path

from policydsl.checking.pipeline import check_file
from policydsl.codegen.python import generate
from policydsl.diagnostics import Sink


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
