"""The reference semantics: evaluate a policy's plan on one applicant, explaining every figure."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, assert_never

from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower
from policydsl.plan.specs import (
    DATE_NEEDED,
    NO_BAND,
    NO_YEAR,
    condition_unmet,
    gate_unmet,
    reader_plan,
    runtime_specs,
)
from policydsl.render import steps
from policydsl.syntax.keywords import APPLICANT_FACT

if TYPE_CHECKING:
    from policydsl.checking.model import Model

ARITHMETIC = rt.ARITHMETIC  # the failures that make a figure unknown (runtime.failure says why)
# The reasons the interpreter itself gives (the plan composes the others; those the generated
# evaluator gives too are in plan/specs.py).
NO_ROW = "分级表没有 {key} 档"
NOT_YET = "政策自 {start} 起施行，评估日期 {date} 尚未生效"
EXPIRED = "政策有效期至 {end}，评估日期 {date} 已失效"
VAGUE = "{why}，评估日期 {date} 是否在有效期内未定"

# What example coverage counts (`evaluate(coverage=...)`, `examples.coverage_gaps`): a clause's id
# for whether it applied, and (clause id, condition index, atom index) for each atom of a condition
# (`plan.nodes.atoms`), both counting from 0.
_At: TypeAlias = tuple[str, int, int]
CoverageKey: TypeAlias = str | _At
Coverage: TypeAlias = dict[CoverageKey, set[bool]]
# The atoms whose outcome is recorded (a literal `true` is not a branch the examples can reach).
_BRANCHES = (P.Cmp, P.Since, P.In, P.FactRef, P.ParamRef)


class Unset(Exception):
    """An expression used a value the text leaves open (`what`)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Env:
    """One evaluation: the applicant's `facts`, the `date`, parameter values, and what was missing."""

    def __init__(
        self, facts: Mapping[str, Any], date: datetime.date | None, params: Mapping[str, Any]
    ) -> None:
        self.facts = facts
        self.date = date
        self.params = params
        self.needed: set[str] = set()
        self.coverage: Coverage | None = None


class Interpreter:
    """Evaluates one checked policy through its plan: the plan itself, or the Model lowered here
    (`source_text` lets explanations quote the formulas as written); `params` overrides parameter
    values (a yearly application guide fills unset amounts)."""

    def __init__(
        self, policy: P.Plan | Model, source_text: str = "", params: Mapping[str, Any] | None = None
    ) -> None:
        plan = policy if isinstance(policy, P.Plan) else lower(policy, source_text)
        self.plan = plan = reader_plan(plan)  # explanations in the reader's words
        self.specs = runtime_specs(plan)
        self.rounding = rt.Rounding(plan.rounding.unit, plan.rounding.mode)
        self.title = plan.title
        self.validity = plan.validity
        self._conditions: dict[str, bool | None] = {}  # the measure being evaluated: each gate's outcome
        # when explained: each shared requirement's and each clause condition's truth, in order
        self._shared_truths: list[tuple[str, bool | None]] = []
        self._truths: list[tuple[Any, bool | None]] = []
        self.overrides: dict[str, Any] = {}
        for name, raw in (params or {}).items():
            param = plan.params.get(name)
            if param is None:
                raise rt.InputError([f"`{name}`: no such parameter"])
            spec = rt.FactSpec(name, param.label, param.kind, param.unit)
            try:
                self.overrides[name] = rt.parse_fact(spec, raw)
            except ValueError as exc:
                raise rt.InputError([f"parameter `{name}`: {exc}"]) from None
        # why each requirement, exclusion and clause condition failed, as data (runtime.unmet)
        gates = [*plan.eligibility, *(g for m in plan.measures for g in m.gates)]
        self.unmet: dict[Any, rt.Unmet] = {g.key: gate_unmet(plan, g) for g in gates}
        for m in plan.measures:
            for c in m.clauses:
                for i, condition in enumerate(c.conditions):
                    self.unmet[c.id, i] = condition_unmet(plan, c, condition)
        # the other spellings of each fact an already parsed input may still use (`申报主体`)
        self.spellings: dict[str, tuple[str, ...]] = {}
        for alias, name in plan.aliases.items():
            self.spellings[name] = (*self.spellings.get(name, ()), alias)

    # ------------------------------------------------------------------ helpers
    def facts_in(self, expr: P.Expr, env: _Env) -> str:
        """`label = value` for every fact an expression uses."""
        shown = []
        for name in P.facts_of(expr):
            spec = self.plan.facts[name]
            value = env.facts.get(name)
            shown.append(f"{spec.label} = {rt.fact_shown(value, spec.kind, spec.unit, spec.members)}")
        return "；".join(shown)

    def param_value(self, name: str, env: _Env) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        versions = self.plan.params[name].versions
        chosen = versions[0]
        for version in versions:
            if version.start is None or env.date is None or version.start <= env.date:
                chosen = version
        return self.ev(chosen.value, env)

    def known(self, data: rt.Unmet, env: _Env) -> dict[str, Any]:
        """The values of the facts a reason shows (under any spelling), without asking for them."""
        out = {}
        for part in data[2]:
            name = part[1]
            out[name] = env.facts.get(name)
            for alias in self.spellings.get(name, ()):
                if out[name] is None:
                    out[name] = env.facts.get(alias)
        return out

    def failed(self, key: Any, env: _Env) -> str:
        data = self.unmet[key]
        return rt.unmet(data, self.known(data, env), env.date)

    def fact_value(self, name: str, env: _Env) -> Any:
        if name in env.facts:
            return env.facts[name]
        for alias in self.spellings.get(name, ()):
            if alias in env.facts:
                return env.facts[alias]
        env.needed.add(name)
        return None

    # ------------------------------------------------------------------ expressions
    def ev(self, expr: P.Expr, env: _Env) -> Any:
        """The value of an expression; None when a needed fact is missing."""
        match expr:
            case P.Const() | P.DateConst() | P.BoolConst():
                return expr.value
            case P.DurationConst():
                return expr
            case P.EnumConst():
                return expr.member
            case P.FactRef():
                return self.fact_value(expr.name, env)
            case P.ParamRef():
                return self.param_value(expr.name, env)
            case P.Arith():
                left = self.ev(expr.left, env)
                right = self.ev(expr.right, env)
                if left is None or right is None:
                    return None
                if isinstance(left, datetime.date) or isinstance(right, datetime.date):
                    date, dur = (left, right) if isinstance(left, datetime.date) else (right, left)
                    sign = 1 if expr.op == "+" else -1
                    return rt.add_duration(date, sign * dur.count, dur.unit)
                if expr.op == "+":
                    return left + right
                if expr.op == "-":
                    return left - right
                if expr.op == "*":
                    return left * right
                return left / right
            case P.Neg():
                value = self.ev(expr.operand, env)
                return None if value is None else -value
            case P.Cmp():
                left = self.ev(expr.left, env)
                right = self.ev(expr.right, env)
                if left is None or right is None:
                    return None
                if isinstance(left, frozenset):  # the applicant's roles: `==` is "has the role"
                    return rt.has_role(left, (right,)) == (expr.op == "==")
                if isinstance(right, frozenset):
                    return rt.has_role(right, (left,)) == (expr.op == "==")
                return rt._OPS[expr.op](left, right)
            case P.Since():
                start = self.ev(expr.start, env)
                duration = self.ev(expr.duration, env)
                if env.date is None:
                    env.needed.add(DATE_NEEDED)
                    return None
                if start is None or duration is None:
                    return None
                return rt.since_compare(start, env.date, expr.op, duration.count, duration.unit)
            case P.Year():
                start = self.ev(expr.date, env)
                if expr.func == "year":
                    return None if start is None else rt.calendar_year(start)
                if env.date is None:
                    env.needed.add(DATE_NEEDED)
                    return None
                return None if start is None else rt.year_no(start, env.date)
            case P.In():
                subject = self.ev(expr.subject, env)
                if isinstance(subject, frozenset):  # the applicant's roles: any of the members
                    return rt.has_role(subject, expr.members)
                return None if subject is None else subject in expr.members
            case P.And() | P.Or() | P.Not():
                return self.cond(expr, env)
            case P.MinMax():
                values = [self.ev(a, env) for a in expr.args]
                if any(v is None for v in values):
                    return None
                return min(values) if expr.func == "min" else max(values)
            case P.Whole():
                value, size = self.ev(expr.value, env), self.ev(expr.size, env)
                if value is None or size is None:
                    return None
                return rt.blocks(value, size) if expr.func == "blocks" else rt.round_down(value, size)
            case P.Table():
                key = env.facts.get(expr.fact)
                if key is None:
                    env.needed.add(expr.fact)
                    return None
                return self.table(expr, str(key), env)
            case P.Band():
                subject = self.ev(expr.subject, env)
                if subject is None:
                    return None
                for band in expr.rows:
                    if band.bounds is None or all(
                        rt._OPS[op](subject, self.ev(bound, env)) for op, bound in band.bounds
                    ):
                        return self.ev(band.value, env)
                raise Unset(NO_BAND if expr.counted_from is None else NO_YEAR)
            case P.Brackets():
                subject, rows = self.brackets(expr, env)
                if subject is None or rows is None:
                    return None
                return rt.progressive(subject, rows)
            case P.Unset():
                raise Unset(expr.why)
            case _:
                assert_never(expr)

    def brackets(self, expr: P.Brackets, env: _Env) -> tuple[Any, list[Any] | None]:
        """The subject and the (lower, upper, rate) of each row, evaluated in order; None for the
        rows when any is unknown."""
        subject = self.ev(expr.subject, env)
        rows = []
        for row in expr.rows:
            lower = None if row.lower is None else self.ev(row.lower, env)
            upper = None if row.upper is None else self.ev(row.upper, env)
            rows.append((lower, upper, self.ev(row.rate, env)))
        known = all(
            (row.lower is None or lo is not None)
            and (row.upper is None or hi is not None)
            and rate is not None
            for row, (lo, hi, rate) in zip(expr.rows, rows, strict=True)
        )
        return subject, rows if known else None

    def arithmetic(self, expr: P.Expr, env: _Env) -> list[str]:
        """The steps that show the arithmetic of an amount worked out as `expr` (render/steps.py):
        each part it names is evaluated again, as it was for the amount."""
        out: list[str] = []
        for node in steps.explained(expr):
            texts = steps.texts(self.plan, node)
            match node:
                case P.Whole():
                    value, size = self.ev(node.value, env), self.ev(node.size, env)
                    rt.whole_step(out, node.func, texts.text, value, size, texts.shown)
                case P.Band() if node.counted_from is not None:
                    year = self.ev(node.subject, env)
                    rt.year_step(out, texts.text, year, node.years, texts.rows)
                case P.Band():
                    rows = [
                        None if r.bounds is None else tuple((op, self.ev(b, env)) for op, b in r.bounds)
                        for r in node.rows
                    ]
                    subject = self.ev(node.subject, env)
                    rt.band_step(out, texts.text, subject, rows, texts.rows, texts.shown)
                case P.Brackets():
                    subject, bracket_rows = self.brackets(node, env)
                    rt.bracket_step(out, texts.text, subject, bracket_rows or [], texts.shown)
        return out

    def table(self, expr: P.Table, key: str, env: _Env) -> Any:
        for row in expr.rows:
            if row.key is None or row.key == key:
                if isinstance(row.value, P.Unset):
                    raise Unset(row.value.why.replace("{key}", key))
                return self.ev(row.value, env)
        raise Unset(NO_ROW.format(key=key))

    def cond(self, expr: P.Expr, env: _Env, at: _At | None = None) -> bool | None:
        """A condition's truth (three-valued, left to right); with `at`, the coverage key of its
        first atom, each atom's outcome is recorded."""
        match expr:
            case P.And():
                return rt.and3(
                    self.cond(expr.left, env, at), lambda: self.cond(expr.right, env, _after(at, expr.left))
                )
            case P.Or():
                return rt.or3(
                    self.cond(expr.left, env, at), lambda: self.cond(expr.right, env, _after(at, expr.left))
                )
            case P.Not():
                return rt.not3(self.cond(expr.operand, env, at))
        value = self.ev(expr, env)
        if at is not None and isinstance(expr, _BRANCHES):
            self.record(at, value, env)
        return value  # type: ignore[no-any-return]

    def record(self, key: CoverageKey, value: bool | None, env: _Env) -> None:
        if env.coverage is not None and value is not None:
            env.coverage.setdefault(key, set()).add(value)

    failure = staticmethod(rt.failure)

    def test(
        self, expr: P.Expr, env: _Env, text: str = "", at: _At | None = None
    ) -> tuple[bool | None, str | None]:
        """A condition's truth, or None with the reason it cannot be told (`text` is the condition
        as written)."""
        try:
            return self.cond(expr, env, at), None
        except Unset as exc:
            return None, exc.what
        except ARITHMETIC as exc:
            return None, self.failure(text, exc)

    # ------------------------------------------------------------------ clauses and measures
    def clause(self, measure: P.Measure, clause: P.Clause, env: _Env, explain: bool) -> rt.ClauseOutcome:
        outcome = rt.ClauseOutcome(
            clause.id, clause.kind, clause.label, clause.cite, clause.exception_of, clause.priority, True
        )
        applies: bool | None = True
        for i, condition in enumerate(clause.conditions):
            at = (clause.id, i, 0) if env.coverage is not None else None
            holds, why = self.test(condition.cond, env, condition.text, at)
            if condition.negated:
                holds = rt.not3(holds)
            if why:
                outcome.unknown_reason = why
            applies = rt.and3(applies, lambda h=holds: h)  # type: ignore[misc]
            if explain:
                self._truths.append(((clause.id, i), holds))
            if applies is False:
                outcome.failed = self.failed((clause.id, i), env)
                break
        outcome.applies = applies
        self.record(clause.id, applies, env)
        if applies is not True:
            return outcome
        if explain:
            conds = clause.conditions_text
            used = "；".join(filter(None, (self.facts_in(c.cond, env) for c in clause.conditions)))
            outcome.steps.append(clause.head + (f"（{conds}；{used}）" if conds else ""))
        self.amount(clause, outcome, env, explain)
        return outcome

    def amount(self, clause: P.Clause, outcome: rt.ClauseOutcome, env: _Env, explain: bool) -> None:
        amount = clause.amount
        value: Decimal | None = None
        precision = rt.AT_MOST if amount.mode == "ceiling" else rt.EXACT
        if amount.expr is None or amount.text is None:
            outcome.unknown_reason = amount.unset_reason
            precision = rt.UNKNOWN
        else:
            try:
                value = self.ev(amount.expr, env)
                if explain and value is not None:
                    used = self.facts_in(amount.expr, env)
                    shown = rt.yuan(self.rounding(value))
                    outcome.steps.append(f"金额：{amount.text} = {shown}" + (f"（{used}）" if used else ""))
                    outcome.steps.extend(self.arithmetic(amount.expr, env))
            except Unset as exc:
                outcome.unknown_reason = exc.what
                precision = rt.UNKNOWN
            except ARITHMETIC as exc:
                outcome.unknown_reason = self.failure(amount.text, exc)
                precision = rt.UNKNOWN
        floor: Decimal | None = None
        if amount.floor is not None and value is not None and precision != rt.UNKNOWN:
            try:
                floor = self.ev(amount.floor.expr, env)
            except (Unset, *ARITHMETIC) as exc:
                outcome.unknown_reason = (
                    exc.what if isinstance(exc, Unset) else self.failure(amount.floor.text, exc)
                )
                precision = rt.UNKNOWN
            else:
                if floor is None:  # a fact it reads is missing: the amount cannot be told
                    precision = rt.UNKNOWN
                else:
                    value = rt.lift(
                        value,
                        floor,
                        amount.floor.text,
                        amount.mode == "ceiling",
                        outcome.steps if explain else None,
                    )
        for cap in amount.caps:
            try:
                limit = self.ev(cap.expr, env)
            except (Unset, *ARITHMETIC) as exc:
                why = exc.what if isinstance(exc, Unset) else self.failure(cap.text, exc)
                precision = rt.combine_precision(precision, rt.AT_MOST)
                outcome.steps.append(f"封顶 {cap.text}：{why}，金额为上限")
                continue
            if limit is None:  # a fact it reads is missing: the cap may bind, the amount cannot be told
                precision = rt.UNKNOWN
                continue
            if value is None or precision == rt.UNKNOWN:
                if precision == rt.UNKNOWN and amount.expr is None:
                    outcome.steps.append(f"封顶 {rt.yuan(limit)}")
                continue
            if limit < value:
                if explain:
                    outcome.steps.append(f"封顶 {cap.text}：{rt.yuan(limit)}（起作用）")
                value = limit
            elif explain:
                outcome.steps.append(f"封顶 {cap.text}：{rt.yuan(limit)}（未起作用）")
        offset: Decimal | None = None
        if amount.offset is not None and value is not None and precision != rt.UNKNOWN:
            try:
                offset = self.ev(amount.offset.expr, env)
            except (Unset, *ARITHMETIC) as exc:
                why = exc.what if isinstance(exc, Unset) else self.failure(amount.offset.text, exc)
                precision = rt.combine_precision(precision, rt.AT_MOST)
                outcome.steps.append(f"扣除已获 {amount.offset.text}：{why}，金额为上限")
            else:
                if offset is None:  # a fact it reads is missing: the amount cannot be told
                    precision = rt.UNKNOWN
        lower: Decimal | None = None
        if value is not None and precision != rt.UNKNOWN and (amount.floor or amount.offset) is not None:
            texts = (
                None if amount.floor is None else amount.floor.text,
                None if amount.offset is None else amount.offset.text,
            )
            steps = outcome.steps if explain else None
            value, lower = rt.settle_bounds(value, floor, offset, amount.mode == "ceiling", texts, steps)
        if value is not None and precision != rt.UNKNOWN:
            try:
                value = self.rounding(value)
                lower = None if lower is None else self.rounding(lower)
            except ARITHMETIC as exc:
                outcome.unknown_reason = self.failure(outcome.label, exc)
                precision, value = rt.UNKNOWN, None
        if value is not None and precision != rt.UNKNOWN and amount.mode == "ceiling" and explain:
            rt.ceiling_step(outcome.steps, value, lower)
        outcome.amount = value if precision != rt.UNKNOWN else None
        outcome.precision = precision if value is not None else rt.UNKNOWN
        outcome.floor = lower if outcome.precision == rt.AT_MOST else None

    def gates(self, measure: P.Measure, env: _Env) -> tuple[list[str], list[str]]:
        """Reasons the measure is ruled out, and reasons it cannot yet be told."""
        failures: list[str] = []
        unknown: list[str] = []
        applicants = measure.applicants
        if applicants is not None:
            kind = env.facts.get(APPLICANT_FACT[0], env.facts.get(APPLICANT_FACT[1]))
            role = self.specs[APPLICANT_FACT[0]]
            if kind is None:
                env.needed.add(APPLICANT_FACT[0])
                unknown.append(rt.role_unmet(applicants.reason, None, role))
            elif not rt.has_role(kind, applicants.kinds):
                failures.append(rt.role_unmet(applicants.reason, kind, role))
        for gate in measure.gates:
            holds, why = self.test(gate.cond, env, gate.text)
            passes = holds if gate.passes_when else rt.not3(holds)
            self._conditions[gate.key] = passes
            if passes is False:
                failures.append(rt.UNMET + self.failed(gate.key, env))
            elif passes is None:
                data = self.unmet[gate.key]
                unknown.append(why or rt.undecided_reason(data, self.known(data, env)))
        return failures, unknown

    def measure(
        self, measure: P.Measure, env: _Env, shared: tuple[list[str], list[str], set[str]], explain: bool
    ) -> rt.MeasureResult:
        self._truths = []
        result = self._measure(measure, env, shared, explain)
        if explain:
            result.checks = self.checks(measure, env, result, bool(shared[0]))
        return result

    def checks(
        self, measure: P.Measure, env: _Env, result: rt.MeasureResult, shared_failed: bool
    ) -> list[rt.Check]:
        """Each condition evaluated for the measure, in order (runtime.check): the shared requirements,
        then, unless one failed, the applicants gate and the measure's requirements and exclusions,
        then, unless one failed, each clause's conditions up to the first that fails."""

        def check(key: Any, holds: bool | None) -> rt.Check:
            data = self.unmet[key]
            return rt.check(data, holds, self.known(data, env), env.date)

        out = [check(key, holds) for key, holds in self._shared_truths]
        if shared_failed:
            return out
        if measure.applicants is not None:
            kind = env.facts.get(APPLICANT_FACT[0], env.facts.get(APPLICANT_FACT[1]))
            gate = measure.applicants
            out.append(rt.role_check(gate.reason, gate.kinds, kind, self.specs[APPLICANT_FACT[0]]))
        out += [check(g.key, result.conditions.get(g.key)) for g in measure.gates]
        if any(c["value"] is False for c in out):
            return out
        return out + [check(key, holds) for key, holds in self._truths]

    def _measure(
        self, measure: P.Measure, env: _Env, shared: tuple[list[str], list[str], set[str]], explain: bool
    ) -> rt.MeasureResult:
        result = rt.MeasureResult(
            measure.name, measure.label, measure.cite, rt.DETERMINED, None, measure.forms
        )
        self._conditions = result.conditions
        shared_failures, shared_unknown, shared_needed = shared
        if shared_failures:
            return rt.ineligible(result, shared_failures)
        before = set(env.needed)
        env.needed = set(shared_needed)
        failures, unknown = self.gates(measure, env)
        unknown = shared_unknown + unknown
        if failures:
            env.needed = before
            return rt.ineligible(result, failures)
        outcomes = [self.clause(measure, c, env, explain) for c in measure.clauses]
        funding = None
        # Every limit written is worked out (the facts it reads count as needed, as in the generated
        # code); the evaluation applies `measure.funding`, the last.
        for limit in measure.funding_limits:
            funding = (self._safe(limit.limit, env), self._safe(limit.received, env), limit.text)
        stages = []
        for stage in measure.instalments:
            holds, _ = self.test(stage.cond, env, stage.text)
            share = None if stage.share is None else self._safe(stage.share, env)
            if stage.share is not None and share is None:
                holds = None  # the share cannot be worked out, so neither can the stage (None is `rest`)
            stages.append((stage.name, stage.label, share, holds))
            if holds is False:
                break  # this stage and every later one are forfeit: their facts cannot matter
        try:
            rt.finish_measure(result, outcomes, self.rounding, funding, stages, measure.no_clawback)
        except ARITHMETIC as exc:
            result.status, result.amount = rt.UNDETERMINED, None
            result.reasons.append(self.failure(result.label, exc))
        for pref in measure.preferences:
            holds, _ = self.test(pref.cond, env)
            if holds:
                result.explanation.append(pref.note)
        if measure.quota is not None and result.status != rt.INELIGIBLE:
            result.selection = measure.quota.selection
        if unknown and result.status != rt.INELIGIBLE:
            result.status = rt.UNDETERMINED
            result.reasons.extend(f"尚无法判断：{u}" for u in unknown)
        elif unknown:
            result.status = rt.UNDETERMINED
            result.reasons = [f"尚无法判断：{u}" for u in unknown]
        # A decided measure asks for nothing more: a fact that could change it would have left it
        # undetermined (three-valued logic); what was read on the way (a preference) does not count.
        result.needed = sorted(self._label(n) for n in env.needed) if result.status == rt.UNDETERMINED else []
        env.needed = before | env.needed
        return result

    def _safe(self, expr: P.Expr, env: _Env) -> Any:
        try:
            return self.ev(expr, env)
        except (Unset, *ARITHMETIC):
            return None

    def _label(self, fact: str) -> str:
        spec = self.plan.facts.get(fact)
        return f"{spec.label}（{fact}）" if spec is not None and spec.label != fact else fact

    def env(self, values: Mapping[str, Any], date: datetime.date | None = None) -> _Env:
        """A fresh evaluation of these parsed facts on `date`, for a caller that asks the plan's nodes
        one at a time (a diagram's path, a batch's ranking and total)."""
        return _Env(values, date, self.overrides)

    def value(self, expr: P.Expr, values: Mapping[str, Any]) -> Any:
        """`expr` for these parsed facts, without an evaluation date; None when it is not known (an
        unset value, a failure of arithmetic)."""
        try:
            with decimal.localcontext(rt.CONTEXT):
                return self.ev(expr, self.env(values))
        except (Unset, *ARITHMETIC):
            return None

    def literal(self, expr: P.Expr, text: str) -> Any:
        """The value of an expression that uses no fact (an example's given value or expectation; `text`
        as written); InputError when it has none (an unset parameter, a division by zero)."""
        try:
            with decimal.localcontext(rt.CONTEXT):
                return self.ev(expr, _Env({}, None, self.overrides))
        except Unset as exc:
            raise rt.InputError([f"{text}：{exc.what}"]) from None
        except ARITHMETIC as exc:
            raise rt.InputError([self.failure(text, exc)]) from None

    # ------------------------------------------------------------------ the whole policy
    def evaluate(
        self,
        facts: Mapping[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
        parsed: bool = False,
        coverage: Coverage | None = None,
        strict: bool = False,
    ) -> rt.Decision:
        """Decide one applicant.  `facts` are raw values (JSON/CSV/Python) unless `parsed`.  Without
        `partial`, a missing fact the decision needs raises InputError naming all of them.  A key that
        names no fact is ignored and listed in the decision's `ignored_keys`, or refused when `strict`."""
        values = dict(facts) if parsed else rt.parse_facts(self.specs, facts, strict=strict)
        ignored = () if parsed else rt.unknown_keys(self.specs, facts)
        env = _Env(values, date, self.overrides)
        env.coverage = coverage
        with decimal.localcontext(rt.CONTEXT):
            self.check_assumptions(values, date)
            shared = self.shared_gates(env)
            measures = {m.name: self.measure(m, env, shared, explain) for m in self.plan.measures}
            if self.plan.shared_limits:
                rt.share_funding(measures, self.shared_limits(env), self.rounding)

            rt.apply_pots(measures, self.pots(), explain)
            if not partial:
                missing = sorted({n for m in measures.values() for n in m.needed})
                if missing:
                    raise rt.missing_facts(missing)
            try:
                amounts = {name: (m.status, m.amount) for name, m in measures.items()}
                floors = {name: m.floor for name, m in measures.items()}
                labels = {m.name: m.label for m in self.plan.measures}
                total = rt.combine_total(
                    amounts,
                    self.combines(),
                    self.total_caps(env),
                    self.rounding,
                    floors=floors,
                    others=self.others(env),
                    labels=labels,
                )
            except ARITHMETIC as exc:
                total = rt.MeasureResult("total", "合计", None, rt.UNDETERMINED, None)
                total.reasons.append(self.failure("合计", exc))
            if total.needed and not partial:
                raise rt.missing_facts(sorted(set(total.needed)))
        return rt.Decision(self.title, date, measures, total, shared[0], ignored)

    def check_assumptions(self, values: Mapping[str, Any], date: datetime.date | None) -> None:
        """Raise InputError when the facts contradict an `assume` line: the policy's analysis (and
        its author) took it for granted, so the figures of such an applicant are not to be trusted.
        An assumption that cannot be told (a fact left out) is no contradiction."""
        env = _Env(values, date, self.overrides)
        problems = [
            rt.contradiction_problem(a.text, a.label)
            for a in self.plan.assumption_lines
            if self.test(a.cond, env, a.text)[0] is False
        ]
        if problems:
            raise rt.InputError(problems)

    def shared_gates(self, env: _Env) -> tuple[list[str], list[str], set[str]]:
        """The policy-wide reasons to rule every measure out, those not yet decidable, and the facts
        they need."""
        failures: list[str] = []
        unknown: list[str] = []
        before = env.needed
        env.needed = set()
        start, end = self.validity.start, self.validity.end
        if env.date is not None:
            if start is not None and env.date < start:
                failures.append(NOT_YET.format(start=start.isoformat(), date=env.date.isoformat()))
            if end is not None and env.date > end:
                failures.append(EXPIRED.format(end=end.isoformat(), date=env.date.isoformat()))
            if self.validity.vague is not None and not failures and not self._surely_in_force(env.date):
                unknown.append(VAGUE.format(why=self.validity.vague, date=env.date.isoformat()))
        self._conditions = {}
        self._shared_truths = []
        for gate in self.plan.eligibility:
            holds, why = self.test(gate.cond, env, gate.text)
            self._shared_truths.append((gate.key, holds))
            if holds is False:
                failures.append(rt.UNMET + self.failed(gate.key, env))
            elif holds is None:
                data = self.unmet[gate.key]
                unknown.append(why or rt.undecided_reason(data, self.known(data, env)))
        needed, env.needed = env.needed, before
        return failures, unknown, needed

    def _surely_in_force(self, date: datetime.date) -> bool:
        """Whether the policy is in force on `date` whatever the part of a date the text leaves
        out (the date lies between the latest first day and the earliest last day)."""
        start, end = self.validity.sure_start, self.validity.sure_end
        return (start is None or start <= date) and (end is None or date <= end)

    def shared_limits(self, env: _Env) -> list[rt.SharedLimit]:
        """The funding limits that count other measures' awards, worked out for this applicant."""
        return [
            (
                m.name,
                limit.measures,
                self._safe(limit.limit, env),
                self._safe(limit.received, env),
                limit.text,
            )
            for m, limit in self.plan.shared_limits
        ]

    def combines(self) -> list[tuple[str, list[str]]]:
        return [(c.rule[0], list(c.measures)) for c in self.plan.combinations]

    def others(self, env: _Env) -> list[rt.OtherAward]:
        """The combinations with awards under other documents, with what this applicant received."""
        return [
            (o.mode, o.measures, self._safe(o.received, env), o.label, o.received_text, labels)
            for o in self.plan.other_documents
            for labels in [self.labels(o.measures)]
        ]

    def labels(self, names: Sequence[str]) -> list[str]:
        """The labels of the measures `names` (as the applicant reads them)."""
        return [self.plan.measure(n).label for n in names]

    def total_caps(self, env: _Env) -> list[tuple[Decimal | None, list[str]]]:
        caps = [(self._safe(c.amount, env), list(c.measures)) for c in self.plan.total_caps]
        return caps + rt.pot_caps(self.pots())

    def pots(self) -> list[rt.PotRule]:
        """The policy's pots, each amount worked out (None: it cannot be; a pot reads no fact)."""
        env = _Env({}, None, self.overrides)
        return [
            (pot.name, pot.label, self._safe(pot.amount, env), pot.text, pot.measures, pot.allocate)
            for pot in self.plan.pots
        ]


def _after(at: _At | None, left: P.Expr) -> _At | None:
    """The coverage key of the first atom right of `left`."""
    return None if at is None else (at[0], at[1], at[2] + len(P.atoms(left)))
