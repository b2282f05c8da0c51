"""The served policies: each file's compiled evaluator, swapped for a fresh one when the file changes.

A request takes one `Served` (immutable) at its start and works on it to the end, so a reload never
changes the evaluator under a request in flight: the new one is built beside the old and swapped in
with one assignment.  A file is looked at (its size and modification time) at most every
`RECHECK_SECONDS` per policy; a file that no longer checks keeps its last good evaluator and the
errors are kept to show in the listing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from policydsl.api import CompiledEvaluator, PolicyError, compile_policy
from policydsl.checking.pipeline import errors_text
from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.service.schema import questions

RECHECK_SECONDS = 0.5


@attrs.frozen
class Served:
    """One policy as it is served: its `name` (the file's stem), `path`, the compiled `evaluator`,
    the file's `stamp` (size, mtime) when it was read, the fact names by what `needed` lists, and
    what the questionnaire needs to ask each fact (`questions`, made once here, not per request)."""

    name: str
    path: Path
    evaluator: CompiledEvaluator
    stamp: tuple[int, int]
    needed_names: dict[str, str]
    questions: dict[str, dict[str, Any]]

    @property
    def plan(self) -> P.Plan:
        return self.evaluator.plan

    @property
    def specs(self) -> dict[str, rt.FactSpec]:
        return self.evaluator.interpreter.specs


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def build(name: str, path: Path) -> Served:
    """Check and compile one policy file; PolicyError with the diagnostics when it has errors."""
    stamp = _stamp(path)
    evaluator, sink = compile_policy(path, compiled=True)
    if evaluator is None:
        raise PolicyError(errors_text(str(path), sink.errors_only()))
    assert isinstance(evaluator, CompiledEvaluator)
    plan = evaluator.plan
    # a decision lists the facts it still needs as `label（name）`
    needed = {f"{spec.label}（{fact}）": fact for fact, spec in plan.facts.items()}
    asked = {q["name"]: q for q in questions(plan)}
    return Served(name, path, evaluator, stamp, needed, asked)


class Registry:
    """The served policies by name, in the order given."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._served: dict[str, Served] = {}
        self._checked: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.reload_errors: dict[str, str] = {}
        for path in paths:
            name = path.stem
            if name in self._served:
                raise PolicyError(f"{path}: two policies named `{name}`; each file's name must differ")
            self._served[name] = build(name, path)
            self._checked[name] = time.monotonic()
            self._locks[name] = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._served)

    def get(self, name: str) -> Served | None:
        """The policy `name` as it is now (reloaded first when its file changed); None: not served."""
        served = self._served.get(name)
        if served is None:
            return None
        now = time.monotonic()
        if now - self._checked[name] < RECHECK_SECONDS:
            return served
        self._checked[name] = now
        try:
            stamp = _stamp(served.path)
        except OSError:
            return served  # a file being replaced: keep serving the last good one
        if stamp == served.stamp:
            return served
        with self._locks[name]:
            current = self._served[name]
            if current.stamp != stamp:
                try:
                    fresh = build(name, current.path)
                except (PolicyError, OSError, rt.InputError) as exc:
                    self.reload_errors[name] = str(exc)
                    # do not try again until the file changes once more
                    self._served[name] = attrs.evolve(current, stamp=stamp)
                    return current
                self.reload_errors.pop(name, None)
                self._served[name] = fresh  # the swap: one assignment
            return self._served[name]

    def all(self) -> list[Served]:
        return [s for s in (self.get(name) for name in self.names) if s is not None]
