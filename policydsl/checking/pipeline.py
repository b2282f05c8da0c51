"""Run the front end and the checks over files; what `check` and every later command start from."""

from __future__ import annotations

from pathlib import Path

import attrs

from policydsl.checking.frontend import load_file, load_text
from policydsl.checking.model import Model
from policydsl.checking.typecheck import check_types
from policydsl.diagnostics import Diagnostic, Sink, format_text
from policydsl.source import SourceFile
from policydsl.syntax import ast


@attrs.frozen
class Checked:
    """A file after the front end and the type checks: `model` is None when it did not parse."""

    source: SourceFile | None
    model: Model | None

    @property
    def policy(self) -> ast.Policy | None:
        return None if self.model is None else self.model.policy


def check_file(path: str | Path, sink: Sink) -> Checked:
    """Parse, build and type-check one file."""
    loaded = load_file(path, sink)
    if loaded.policy is None:
        return Checked(loaded.source, None)
    return Checked(loaded.source, check_types(loaded.policy, sink))


def check_text(name: str, text: str, sink: Sink) -> Checked:
    loaded = load_text(name, text, sink)
    if loaded.policy is None:
        return Checked(loaded.source, None)
    return Checked(loaded.source, check_types(loaded.policy, sink))


def errors_text(path: str | Path, diagnostics: list[Diagnostic]) -> str:
    """Diagnostics about one file as text, with its source lines under them."""
    loaded = load_file(path, Sink())
    sources = {loaded.source.name: loaded.source} if loaded.source else {}
    return format_text(diagnostics, sources)
