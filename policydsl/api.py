"""The Python API: load a policy once and evaluate applicants in-process."""

from __future__ import annotations

import datetime
import decimal
import functools
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from policydsl import ast
from policydsl import runtime as rt
from policydsl.batch import Constraint
from policydsl.checks.typecheck import Model
from policydsl.diagnostics import Sink
from policydsl.interpreter import ARITHMETIC, Interpreter, Unset, _Env
from policydsl.pipeline import check_file, errors_text
from policydsl.plan.lower import lower


class PolicyError(Exception):
    """The policy file has errors; the message is the diagnostics as text."""


class PolicyEvaluator:
    """A checked policy ready to evaluate applicants (`evaluate`), with its `measures` and the
    cross-applicant `constraints` batch evaluation applies."""

    def __init__(self, model: Model, source_text: str, params: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.interpreter = Interpreter(model, source_text, params)
        self.plan = lower(model, source_text)

    @property
    def measures(self) -> list[str]:
        return [m.name.text for m in self.model.policy.of(ast.Measure)]

    def evaluate(
        self,
        facts: Mapping[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
    ) -> rt.Decision:
        """Decide one applicant; raises runtime.InputError listing every problem with the facts."""
        return self.interpreter.evaluate(facts, date, partial=partial, explain=explain)

    def retotal(self, decision: rt.Decision) -> None:
        """Recompute the total after batch limits (quotas, group caps) changed some measures."""
        interpreter = self.interpreter
        env = _Env({}, decision.date, interpreter.overrides)
        with decimal.localcontext(rt.CONTEXT):
            decision.total = rt.combine_total(
                decision.amounts, interpreter.combines(), interpreter.total_caps(env), interpreter.rounding
            )

    def constraints(self) -> list[Constraint]:
        """The quota and group cap of each measure, as `Measure.quota` and `Measure.group_cap` choose
        them where the text writes one twice."""
        out: list[Constraint] = []
        for plan, m in zip(self.plan.measures, self.model.policy.of(ast.Measure), strict=True):
            quota, cap = plan.quota, plan.group_cap
            if quota is None and cap is None:
                continue
            rank = None
            if quota is not None and quota.rank is not None:
                # The interpreter evaluates the AST's expressions until it reads the plan's: the
                # chosen quota's rank and cap's amount as written (each the first one written).
                written = m.of(ast.Quota)[0].rank
                assert written is not None
                rank = functools.partial(self._rank, written)
            cap_value = None if cap is None else self.interpreter.literal(m.of(ast.GroupCap)[0].amount)
            out.append(
                Constraint(
                    plan.name,
                    quota=None if quota is None else quota.count,
                    rank=rank,
                    group_cap=cap_value,
                    group=None if cap is None else cap.per,
                    allocate=None if cap is None else cap.allocate,
                )
            )
        return out

    def _rank(self, expr: ast.Expr, facts: dict[str, Any]) -> Decimal | None:
        try:
            values = rt.parse_facts(self.interpreter.specs, facts)
        except rt.InputError:
            return None
        try:
            with decimal.localcontext(rt.CONTEXT):
                value = self.interpreter.ev(expr, _Env(values, None, self.interpreter.overrides))
        except (Unset, *ARITHMETIC):
            return None  # ranked like an applicant whose rank is not known
        return value if isinstance(value, Decimal) else None


def compile_policy(
    path: str | Path, params: Mapping[str, Any] | None = None, *, compiled: bool = False
) -> tuple[PolicyEvaluator | None, Sink]:
    """Check a policy file and build its evaluator; None when it has errors (see the sink).
    `compiled`: the generated Python evaluator loaded in this process instead of the interpreter."""
    sink = Sink()
    checked = check_file(path, sink)
    if checked.model is None or sink.has_errors or checked.source is None:
        return None, sink
    if compiled:
        from policydsl.codegen.evaluator import build

        return build(checked, params), sink
    return PolicyEvaluator(checked.model, checked.source.text, params), sink


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: float) -> PolicyEvaluator:
    evaluator, sink = compile_policy(path, compiled=True)
    if evaluator is None:
        raise PolicyError(errors_text(path, sink.errors_only()))
    return evaluator


def load(path: str | Path) -> PolicyEvaluator:
    """The compiled evaluator for a policy file, cached until the file changes."""
    resolved = Path(path).resolve()
    try:
        mtime = resolved.stat().st_mtime
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _load(str(resolved), mtime)
