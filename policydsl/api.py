"""The Python API: load a policy once and evaluate applicants in-process."""

from __future__ import annotations

import datetime
import decimal
import functools
import hashlib
import threading
import types
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policydsl.checking.pipeline import Checked, check_file, errors_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import Constraint, Limit, PotShare
from policydsl.evaluation.interpreter import Interpreter
from policydsl.messages import Lang, default_lang, problem_message
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower
from policydsl.syntax.keywords import chinese_keywords

if TYPE_CHECKING:
    from policydsl.codegen.python import GeneratedModule


class PolicyError(Exception):
    """The policy file has errors; the message is the diagnostics as text."""


def evaluation_date(date: object) -> datetime.date | None:
    """The evaluation date as given to `evaluate`, or InputError: a `datetime` (whose comparison with a
    date raises TypeError) or a text is not a date."""
    if date is None or (isinstance(date, datetime.date) and not isinstance(date, datetime.datetime)):
        return date
    shown = type(date).__name__
    hint = "use its .date()" if isinstance(date, datetime.datetime) else "convert it with date.fromisoformat"
    raise rt.InputError([f"the evaluation date must be a datetime.date, not {shown} ({hint})"])


class PolicyEvaluator:
    """A checked policy's `plan` ready to evaluate applicants (`evaluate`), with its `measures` and
    the cross-applicant `constraints` batch evaluation applies."""

    def __init__(
        self, plan: P.Plan, params: Mapping[str, Any] | None = None, *, chinese: bool | None = None
    ) -> None:
        self.plan = plan
        self.interpreter = Interpreter(plan, params=params)
        # whether the policy is written with Chinese keywords (None: not known): the default
        # language of input_problems
        self.chinese = chinese

    def input_problems(self, error: rt.InputError, lang: Lang | None = None) -> list[str]:
        """The problems of an InputError `evaluate` raised, each in `lang` (zh or en; default: the
        policy's keyword language, as for its diagnostics)."""
        chosen = lang or default_lang(self.chinese)
        return [problem_message(p).render(chosen) for p in error.details]

    @property
    def measures(self) -> list[str]:
        return [m.name for m in self.plan.measures]

    def evaluate(
        self,
        facts: Mapping[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
        strict: bool = False,
    ) -> rt.Decision:
        """Decide one applicant; raises runtime.InputError listing every problem with the facts.  A key
        that names no fact is ignored and listed in `decision.ignored_keys`, or refused when `strict`."""
        return self.interpreter.evaluate(
            facts, evaluation_date(date), partial=partial, explain=explain, strict=strict
        )

    def retotal(self, decision: rt.Decision, facts: Mapping[str, Any] | None = None) -> None:
        """Recompute the total after batch limits (quotas, group caps) changed some measures; `facts`
        (the applicant's, raw) give the total caps and the awards received under other documents."""
        interpreter = self.interpreter
        values = rt.parse_facts(interpreter.specs, facts) if facts is not None else {}
        env = interpreter.env(values, decision.date)
        with decimal.localcontext(rt.CONTEXT):
            floors = {name: m.floor for name, m in decision.measures.items()}
            decision.total = rt.combine_total(
                decision.amounts,
                interpreter.combines(),
                interpreter.total_caps(env),
                interpreter.rounding,
                floors=floors,
                others=interpreter.others(env),
                labels={name: m.label for name, m in decision.measures.items()},
            )

    def constraints(self) -> list[Limit]:
        """The quota and group cap of each measure, as `Measure.quota` and `Measure.group_cap` choose
        them where the text writes one twice, then the pots."""
        out: list[Limit] = []
        for m in self.plan.measures:
            quota, cap = m.quota, m.group_cap
            if quota is None and cap is None:
                continue
            rank = selected = None
            if quota is not None and quota.rank is not None:
                rank = functools.partial(self._rank, quota.rank)
            if quota is not None and quota.selected_by is not None:
                selected = functools.partial(self._selected, quota.selected_by)
            out.append(
                Constraint(
                    m.name,
                    quota=None if quota is None else quota.count,
                    rank=rank,
                    group_cap=None if cap is None else self.interpreter.literal(cap.amount, cap.text),
                    group=None if cap is None else cap.per,
                    allocate=None if cap is None else cap.allocate,
                    selected=selected,
                    selected_label=self._label(quota.selected_by if quota is not None else None),
                )
            )
        quantum = rt.ROUNDING_QUANTA[self.interpreter.rounding.unit]
        for pot in self.plan.pots:
            out.append(
                PotShare(
                    pot.name,
                    pot.label,
                    self.interpreter.literal(pot.amount, pot.text),
                    pot.measures,
                    pot.allocate,
                    None if pot.rank is None else functools.partial(self._rank, pot.rank),
                    quantum,
                    pot.text,
                )
            )
        return out

    def _label(self, fact: str | None) -> str:
        spec = None if fact is None else self.interpreter.specs.get(fact)
        return "" if fact is None else spec.label if spec is not None else fact

    def _selected(self, fact: str, facts: dict[str, Any]) -> bool:
        return rt.marked_selected(self.interpreter.specs, facts, fact)

    def _rank(self, expr: P.Expr, facts: dict[str, Any]) -> Decimal | None:
        try:
            values = rt.parse_facts(self.interpreter.specs, facts)
        except rt.InputError:
            return None
        value = self.interpreter.value(expr, values)  # None: ranked like one whose rank is not known
        return value if isinstance(value, Decimal) else None


class CompiledEvaluator(PolicyEvaluator):
    """A policy's generated evaluator `module`, loaded in this process, behind the same interface as
    the interpreter-backed PolicyEvaluator (whose `plan` and `interpreter` it keeps)."""

    def __init__(
        self,
        plan: P.Plan,
        generated: GeneratedModule,
        params: Mapping[str, Any] | None = None,
        *,
        chinese: bool | None = None,
    ) -> None:
        super().__init__(plan, params, chinese=chinese)  # checks the parameter values once
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

    def constraints(self) -> list[Limit]:
        return [
            PotShare(c.name, c.label, c.total, c.measures, c.allocate, c.rank, c.quantum, c.text)
            if hasattr(c, "total")
            else Constraint(
                c.measure, c.quota, c.rank, c.group_cap, c.group, c.allocate, c.selected, c.selected_label
            )
            for c in self.module.constraints(self.params or None)
        ]


def build(checked: Checked, params: Mapping[str, Any] | None = None) -> CompiledEvaluator:
    """The compiled evaluator of a checked policy without errors."""
    assert checked.model is not None and checked.source is not None
    from policydsl.codegen.python import generate  # deferred: `import policydsl` does not load the generator

    generated = generate(checked.model, checked.source.text, checked.source.name)
    plan = lower(checked.model, checked.source.text)
    return CompiledEvaluator(plan, generated, params, chinese=chinese_keywords(checked.source.text))


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
        return build(checked, params), sink
    plan = lower(checked.model, checked.source.text)
    return PolicyEvaluator(plan, params, chinese=chinese_keywords(checked.source.text)), sink


# Loaded evaluators by (resolved path, SHA-256 of the file's bytes): a file changed within the same
# mtime (a fast edit, a copy that keeps times) is still compiled afresh. One lock per key makes
# concurrent first calls compile the policy once and share it.
_LOADED: dict[tuple[str, str], PolicyEvaluator] = {}
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()
_MAX_LOADED = 64


def load(path: str | Path) -> PolicyEvaluator:
    """The compiled evaluator for a policy file, cached until the file's content changes."""
    resolved = Path(path).resolve()
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = (str(resolved), hashlib.sha256(data).hexdigest())
    with _GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        evaluator = _LOADED.get(key)
        if evaluator is None:
            evaluator, sink = compile_policy(resolved, compiled=True)
            if evaluator is None:
                raise PolicyError(errors_text(str(resolved), sink.errors_only()))
            with _GUARD:
                if len(_LOADED) >= _MAX_LOADED:  # forget the oldest
                    oldest = next(iter(_LOADED))
                    del _LOADED[oldest]
                    _LOCKS.pop(oldest, None)
                _LOADED[key] = evaluator
    return evaluator


def decide_on_spark(
    path: str | Path,
    spark: Any,
    *,
    table: str | None = None,
    frame: Any = None,
    date: datetime.date | None = None,
) -> Any:
    """The decisions for every row of a Spark `table` (or DataFrame `frame`) as a DataFrame with the
    columns `eval --batch --engine spark` writes, `row` in input order, computed lazily on `spark`
    (the caller's SparkSession: local or a cluster; set for exact DECIMAL figures).  PolicyError when
    the policy has errors or a construct the SQL back end refuses (S101); sqlbatch.BatchProblem for an
    input column that names no fact or holds binary floats."""
    from policydsl.codegen.evaluator import sql_query
    from policydsl.evaluation import sparkbatch, sqlbatch

    sink = Sink()
    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        raise PolicyError(errors_text(str(path), sink.errors_only()))
    plan = lower(checked.model, checked.source.text)
    query = sql_query(plan, checked.source, sink, date, sqlbatch.PASSTHROUGH)
    if query is None:
        raise PolicyError(errors_text(str(path), sink.errors_only()))
    p = sqlbatch.for_plan(plan, query)
    if frame is None:
        frame = sparkbatch.read_input(sparkbatch.exact(spark), table=table)
    return sparkbatch.decide_frame(
        p.query_for, p.facts, p.labels, p.forms, frame, table or "the input", notes=p.notes
    )
