"""The reference semantics: evaluate a checked policy on one applicant, explaining every figure."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from policydsl import ast
from policydsl import runtime as rt
from policydsl.checks.typecheck import Model
from policydsl.keywords import APPLICANT_FACT
from policydsl.types import EnumValueSym, FactSym, ParamSym

DATE_NEEDED = "评估日期"
ARITHMETIC = rt.ARITHMETIC  # the failures that make a figure unknown (runtime.failure says why)


class Unset(Exception):
    """An expression used a value the text leaves open (`what`)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def fact_specs(model: Model) -> dict[str, rt.FactSpec]:
    """What each fact accepts, for checking an applicant's input (both spellings of `applicant`)."""
    specs: dict[str, rt.FactSpec] = {}
    for name, sym in model.facts.items():
        ty = sym.type
        members: tuple[tuple[str, str], ...] = ()
        if ty.kind == "enum" and ty.enum is not None:
            members = tuple((m.member, m.label) for m in model.enums.get(ty.enum, {}).values())
        bounds: list[tuple[str, Decimal]] = []
        for bound in sym.decl.bounds if sym.decl is not None else ():
            value = bound.value
            if isinstance(value, ast.Money | ast.Number | ast.Count | ast.Percent):
                bounds.append((bound.op, value.value))
            elif isinstance(value, ast.Negate) and isinstance(
                value.operand, ast.Money | ast.Number | ast.Count
            ):
                bounds.append((bound.op, -value.operand.value))
        specs[name] = rt.FactSpec(sym.name, sym.label, ty.kind, ty.unit, members, tuple(bounds))
    return specs


def validity_window(header: ast.Header | None) -> tuple[datetime.date | None, datetime.date | None, bool]:
    """(first day, last day, whether the start is left blank) of the policy's validity, both inclusive."""
    if header is None or header.validity is None:
        return None, None, False
    v = header.validity
    start: datetime.date | None
    if v.start == "issued":
        start = header.issued
    elif isinstance(v.start, datetime.date):
        start = v.start
    else:
        start = None
    end = v.end
    if v.duration is not None and start is not None:
        try:
            end = rt.add_duration(start, v.duration.value, v.duration.unit) - datetime.timedelta(days=1)
        except OverflowError:
            end = datetime.date.max  # the validity runs past the end of the calendar
    return start, end, v.start is None or (v.start == "issued" and header.issued is None)


class _Env:
    """One evaluation: the applicant's `facts`, the `date`, parameter values, and what was missing."""

    def __init__(
        self, facts: Mapping[str, Any], date: datetime.date | None, params: Mapping[str, Any]
    ) -> None:
        self.facts = facts
        self.date = date
        self.params = params
        self.needed: set[str] = set()
        self.coverage: dict[int, set[bool]] | None = None


class Interpreter:
    """Evaluates one checked policy.  `source_text` lets explanations quote the formulas as written;
    `params` overrides parameter values (a yearly application guide fills unset amounts)."""

    def __init__(self, model: Model, source_text: str = "", params: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.policy = model.policy
        self.text = source_text
        self.specs = fact_specs(model)
        header = self.policy.header
        rounding = header.rounding if header is not None else None
        from policydsl.keywords import ROUNDING_MODES, ROUNDING_UNITS

        self.rounding = (
            rt.Rounding(ROUNDING_UNITS[rounding.unit.text], ROUNDING_MODES[rounding.mode.text])
            if rounding is not None
            else rt.Rounding()
        )
        self.title = header.title if header is not None else "policy"
        self.valid_from, self.valid_until, self.start_blank = validity_window(header)
        self.overrides: dict[str, Any] = {}
        for name, raw in (params or {}).items():
            sym = model.params.get(name)
            if sym is None:
                raise rt.InputError([f"`{name}`: no such parameter"])
            spec = rt.FactSpec(name, sym.label, sym.type.kind, sym.type.unit)
            try:
                self.overrides[name] = rt.parse_fact(spec, raw)
            except ValueError as exc:
                raise rt.InputError([f"parameter `{name}`: {exc}"]) from None

    # ------------------------------------------------------------------ helpers
    def quote(self, node: ast.Node) -> str:
        """The source text of a node, as the drafter wrote it."""
        if self.text and node.span.end <= len(self.text):
            return " ".join(self.text[node.span.start : node.span.end].split())
        return type(node).__name__

    def facts_in(self, node: ast.Node, env: _Env) -> str:
        """`label = value` for every fact an expression uses."""
        seen: dict[str, str] = {}
        stack: list[Any] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Name):
                sym = self.model.ref(item)
                if isinstance(sym, FactSym) and sym.name not in seen:
                    value = env.facts.get(sym.name)
                    shown = (
                        rt.yuan(value) if sym.type.kind == "money" and value is not None else rt.show(value)
                    )
                    seen[sym.name] = f"{sym.label} = {shown}"
            elif isinstance(item, ast.Node):
                for field in item.__attrs_attrs__:
                    child = getattr(item, field.name)
                    if isinstance(child, ast.Node):
                        stack.append(child)
                    elif isinstance(child, tuple):
                        stack.extend(c for c in child if isinstance(c, ast.Node))
        return "；".join(seen[k] for k in sorted(seen))

    def param_value(self, sym: ParamSym, env: _Env) -> Any:
        if sym.name in self.overrides:
            return self.overrides[sym.name]
        versions = sym.decl.versions
        chosen = versions[0]
        for version in versions:
            if version.start is None or env.date is None or version.start <= env.date:
                chosen = version
        if isinstance(chosen.value, ast.Unset):
            raise Unset(f"参数 {sym.label}（{sym.name}）原文未给出")
        return self.ev(chosen.value, env)

    # ------------------------------------------------------------------ expressions
    def ev(self, node: ast.Expr, env: _Env) -> Any:
        """The value of an expression; None when a needed fact is missing."""
        match node:
            case ast.Money() | ast.Percent() | ast.Count() | ast.Number() | ast.PerUnit():
                return node.value
            case ast.Ratio():
                return node.left / node.right
            case ast.Bool():
                return node.value
            case ast.DateLit():
                return node.value
            case ast.Duration():
                return node
            case ast.Name():
                sym = self.model.ref(node)
                if isinstance(sym, FactSym):
                    if sym.name in env.facts:
                        return env.facts[sym.name]
                    if sym.decl is None and APPLICANT_FACT[1] in env.facts:
                        return env.facts[APPLICANT_FACT[1]]
                    env.needed.add(sym.name)
                    return None
                if isinstance(sym, ParamSym):
                    return self.param_value(sym, env)
                if isinstance(sym, EnumValueSym):
                    return sym.member
                raise AssertionError(f"unresolved name {node.text}")
            case ast.BinOp():
                left = self.ev(node.left, env)
                right = self.ev(node.right, env)
                if left is None or right is None:
                    return None
                if isinstance(left, datetime.date) or isinstance(right, datetime.date):
                    date, dur = (left, right) if isinstance(left, datetime.date) else (right, left)
                    sign = 1 if node.op == "+" else -1
                    return rt.add_duration(date, sign * dur.value, dur.unit)
                if node.op == "+":
                    return left + right
                if node.op == "-":
                    return left - right
                if node.op == "*":
                    return left * right
                return left / right
            case ast.Negate():
                value = self.ev(node.operand, env)
                return None if value is None else -value
            case ast.Compare():
                return self.record(node, self.compare(node, env), env)
            case ast.Member():
                subject = self.ev(node.subject, env)
                result = None if subject is None else subject in {v.text for v in node.values}
                return self.record(node, result, env)
            case ast.And():
                return rt.and3(self.cond(node.left, env), lambda: self.cond(node.right, env))
            case ast.Or():
                return rt.or3(self.cond(node.left, env), lambda: self.cond(node.right, env))
            case ast.Not():
                return rt.not3(self.cond(node.operand, env))
            case ast.Implies():
                return rt.or3(rt.not3(self.cond(node.left, env)), lambda: self.cond(node.right, env))
            case ast.Call():
                if node.func == "since":
                    raise AssertionError("since() is evaluated inside its comparison")
                values = [self.ev(a, env) for a in node.args]
                if any(v is None for v in values):
                    return None
                return min(values) if node.func == "min" else max(values)
            case ast.Table():
                fake_sym = self.model.refs.get(id(node.subject))
                key = env.facts.get(fake_sym.name) if isinstance(fake_sym, FactSym) else None
                if key is None and isinstance(fake_sym, FactSym):
                    env.needed.add(fake_sym.name)
                    return None
                return self.table(node, str(key), env)
            case ast.Band():
                subject = self.ev(node.subject, env)
                if subject is None:
                    return None
                for entry in node.entries:
                    if entry.bounds is None or all(
                        rt._OPS[b.op](subject, self.ev(b.value, env)) for b in entry.bounds
                    ):
                        return self.value(entry.value, env, "分档金额原文未给出")
                raise Unset("没有适用的档次")
        raise AssertionError(f"unhandled expression {type(node).__name__}")

    def value(self, node: ast.Expr | ast.Unset, env: _Env, why: str) -> Any:
        if isinstance(node, ast.Unset):
            raise Unset(why)
        return self.ev(node, env)

    def table(self, node: ast.Table, key: str, env: _Env) -> Any:
        for entry in node.entries:
            if entry.key is None or entry.key.text == key:
                label = key
                return self.value(entry.value, env, f"{label} 档的金额原文未给出")
        raise Unset(f"分级表没有 {key} 档")

    def compare(self, node: ast.Compare, env: _Env) -> bool | None:
        if isinstance(node.left, ast.Call) and node.left.func == "since":
            start = self.ev(node.left.args[0], env)
            duration = self.ev(node.right, env)
            if env.date is None:
                env.needed.add(DATE_NEEDED)
                return None
            if start is None or duration is None:
                return None
            return rt.since_compare(start, env.date, node.op, duration.value, duration.unit)
        left = self.ev(node.left, env)
        right = self.ev(node.right, env)
        if left is None or right is None:
            return None
        return rt._OPS[node.op](left, right)

    def cond(self, node: ast.Expr, env: _Env) -> bool | None:
        value = self.ev(node, env)
        if isinstance(node, ast.Name):
            self.record(node, value, env)
        return value  # type: ignore[no-any-return]

    def record(self, node: ast.Node, value: bool | None, env: _Env) -> bool | None:
        if env.coverage is not None and value is not None:
            env.coverage.setdefault(id(node), set()).add(value)
        return value

    failure = staticmethod(rt.failure)

    def test(self, node: ast.Expr, env: _Env) -> tuple[bool | None, str | None]:
        """A condition's truth, or None with the reason it cannot be told."""
        try:
            return self.cond(node, env), None
        except Unset as exc:
            return None, exc.what
        except ARITHMETIC as exc:
            return None, self.failure(self.quote(node), exc)

    # ------------------------------------------------------------------ clauses and measures
    def clause(self, measure: ast.Measure, clause: ast.Clause, env: _Env, explain: bool) -> rt.ClauseOutcome:
        cid = measure.clause_id(clause)
        label = clause.label or (clause.name.text if clause.name else cid)
        outcome = rt.ClauseOutcome(
            cid,
            clause.kind,
            label,
            clause.cite,
            None if clause.exception_of is None else f"{measure.name.text}.{clause.exception_of.text}",
            clause.priority,
            True,
        )
        applies: bool | None = True
        for condition in clause.conditions:
            holds, why = self.test(condition.expr, env)
            if condition.negated:
                holds = rt.not3(holds)
            if env.coverage is not None and holds is not None:
                env.coverage.setdefault(id(condition), set()).add(holds)
            if why:
                outcome.unknown_reason = why
            applies = rt.and3(applies, lambda h=holds: h)  # type: ignore[misc]
            if applies is False:
                break
        outcome.applies = applies
        if env.coverage is not None and applies is not None:
            env.coverage.setdefault(id(clause), set()).add(applies)
        if applies is not True:
            return outcome
        if explain:
            cite = f"[{clause.cite}] " if clause.cite else ""
            conds = "；".join(self.quote(c) for c in clause.conditions)
            used = "；".join(filter(None, (self.facts_in(c.expr, env) for c in clause.conditions)))
            outcome.steps.append(f"{cite}{label}：适用" + (f"（{conds}；{used}）" if conds else ""))
        self.amount(clause, outcome, env, explain)
        return outcome

    def amount(self, clause: ast.Clause, outcome: rt.ClauseOutcome, env: _Env, explain: bool) -> None:
        amount = clause.amount
        value: Decimal | None = None
        precision = rt.AT_MOST if amount.mode == "ceiling" else rt.EXACT
        if amount.expr is None:
            outcome.unknown_reason = f"{outcome.label}：原文未给出金额"
            precision = rt.UNKNOWN
        else:
            try:
                value = self.ev(amount.expr, env)
                if explain and value is not None:
                    used = self.facts_in(amount.expr, env)
                    outcome.steps.append(
                        f"金额：{self.quote(amount.expr)} = {rt.yuan(self.rounding(value))}"
                        + (f"（{used}）" if used else "")
                    )
            except Unset as exc:
                outcome.unknown_reason = exc.what
                precision = rt.UNKNOWN
            except ARITHMETIC as exc:
                outcome.unknown_reason = self.failure(self.quote(amount.expr), exc)
                precision = rt.UNKNOWN
        for cap in amount.caps:
            try:
                limit = self.ev(cap, env)
            except (Unset, *ARITHMETIC) as exc:
                why = exc.what if isinstance(exc, Unset) else self.failure(self.quote(cap), exc)
                precision = rt.combine_precision(precision, rt.AT_MOST)
                outcome.steps.append(f"封顶 {self.quote(cap)}：{why}，金额为上限")
                continue
            if limit is None:
                continue
            if value is None or precision == rt.UNKNOWN:
                if precision == rt.UNKNOWN and amount.expr is None:
                    outcome.steps.append(f"封顶 {rt.yuan(limit)}")
                continue
            if limit < value:
                if explain:
                    outcome.steps.append(f"封顶 {self.quote(cap)}：{rt.yuan(limit)}（起作用）")
                value = limit
            elif explain:
                outcome.steps.append(f"封顶 {self.quote(cap)}：{rt.yuan(limit)}（未起作用）")
        if value is not None and precision != rt.UNKNOWN:
            try:
                value = self.rounding(value)
            except ARITHMETIC as exc:
                outcome.unknown_reason = self.failure(outcome.label, exc)
                precision, value = rt.UNKNOWN, None
        if value is not None and precision != rt.UNKNOWN and amount.mode == "ceiling" and explain:
            outcome.steps.append(f"最高 {rt.yuan(value)}（酌情核定，非确定金额）")
        outcome.amount = value if precision != rt.UNKNOWN else None
        outcome.precision = precision if value is not None else rt.UNKNOWN

    def gates(self, measure: ast.Measure, env: _Env) -> tuple[list[str], list[str]]:
        """Reasons the measure is ruled out, and reasons it cannot yet be told."""
        failures: list[str] = []
        unknown: list[str] = []
        applicants = measure.of(ast.Applicants)
        if applicants and self.model.kinds:
            allowed = {k.text for a in applicants for k in a.kinds}
            kind = env.facts.get(APPLICANT_FACT[0], env.facts.get(APPLICANT_FACT[1]))
            labels = "、".join(self.model.kinds[k].label for k in sorted(allowed) if k in self.model.kinds)
            if kind is None:
                env.needed.add(APPLICANT_FACT[0])
                unknown.append(f"适用主体为 {labels}")
            elif kind not in allowed:
                failures.append(f"适用主体为 {labels}")
        for i, req in enumerate(measure.of(ast.Requirement), 1):
            holds, why = self.test(req.cond, env)
            self._gate(
                f"{measure.name.text}.require.{i}",
                holds,
                why,
                req.reason or self.quote(req.cond),
                failures,
                unknown,
                env,
            )
        for i, exc in enumerate(measure.of(ast.Exclusion), 1):
            holds, why = self.test(exc.cond, env)
            self._gate(
                f"{measure.name.text}.exclude.{i}",
                rt.not3(holds),
                why,
                exc.reason or self.quote(exc.cond),
                failures,
                unknown,
                env,
            )
        return failures, unknown

    def _gate(
        self,
        key: str,
        holds: bool | None,
        why: str | None,
        reason: str,
        failures: list[str],
        unknown: list[str],
        env: _Env,
    ) -> None:
        self._conditions[key] = holds
        if holds is False:
            failures.append(reason)
        elif holds is None:
            unknown.append(why or reason)

    def measure(
        self, measure: ast.Measure, env: _Env, shared: tuple[list[str], list[str], set[str]], explain: bool
    ) -> rt.MeasureResult:
        forms = tuple(f.text for p in measure.of(ast.Pays) for f in p.forms) or ("cash",)
        result = rt.MeasureResult(
            measure.name.text, measure.label or measure.name.text, measure.cite, rt.DETERMINED, None, forms
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
        for limit in measure.of(ast.FundingLimit):
            funding = (self._safe(limit.limit, env), self._safe(limit.counting, env), self.quote(limit.limit))
        stages = []
        for stage in measure.of(ast.Instalment):
            holds, _ = self.test(stage.cond, env)
            share = None if stage.share is None else self._safe(stage.share, env)
            if stage.share is not None and share is None:
                holds = None  # the share cannot be worked out, so neither can the stage (None is `rest`)
            stages.append((stage.name.text, stage.label or stage.name.text, share, holds))
            if holds is False:
                break  # this stage and every later one are forfeit: their facts cannot matter
        no_clawback = bool(measure.of(ast.NoClawback))
        try:
            rt.finish_measure(result, outcomes, self.rounding, funding, stages, no_clawback)
        except ARITHMETIC as exc:
            result.status, result.amount = rt.UNDETERMINED, None
            result.reasons.append(self.failure(result.label, exc))
        for pref in measure.of(ast.Preference):
            holds, _ = self.test(pref.cond, env)
            if holds:
                result.explanation.append(f"优先支持：{pref.reason or self.quote(pref.cond)}")
        quotas = measure.of(ast.Quota)
        if quotas and result.status != rt.INELIGIBLE:
            q = quotas[0]
            result.selection = f"每年遴选不超过 {q.count} 个" + ("" if q.rank else "（原文未规定遴选排序）")
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

    def _safe(self, node: ast.Expr, env: _Env) -> Any:
        try:
            return self.ev(node, env)
        except (Unset, *ARITHMETIC):
            return None

    def _label(self, fact: str) -> str:
        sym = self.model.facts.get(fact)
        return f"{sym.label}（{fact}）" if sym is not None and sym.label != fact else fact

    def literal(self, node: ast.Expr) -> Any:
        """The value of an expression that uses no fact (an example's given value or expectation);
        InputError when it has none (an unset parameter, a division by zero)."""
        try:
            with decimal.localcontext(rt.CONTEXT):
                value = self.ev(node, _Env({}, None, self.overrides))
        except Unset as exc:
            raise rt.InputError([f"{self.quote(node)}：{exc.what}"]) from None
        except ARITHMETIC as exc:
            raise rt.InputError([self.failure(self.quote(node), exc)]) from None
        if isinstance(value, ast.Duration):
            return value.text
        return value

    # ------------------------------------------------------------------ the whole policy
    def evaluate(
        self,
        facts: Mapping[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
        parsed: bool = False,
        coverage: dict[int, set[bool]] | None = None,
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
            measures = {
                m.name.text: self.measure(m, env, shared, explain) for m in self.policy.of(ast.Measure)
            }
            if not partial:
                missing = sorted({n for m in measures.values() for n in m.needed})
                if missing:
                    raise rt.InputError([f"missing fact {n}" for n in missing])
            try:
                amounts = {name: (m.status, m.amount) for name, m in measures.items()}
                total = rt.combine_total(amounts, self.combines(), self.total_caps(env), self.rounding)
            except ARITHMETIC as exc:
                total = rt.MeasureResult("total", "合计", None, rt.UNDETERMINED, None)
                total.reasons.append(self.failure("合计", exc))
        return rt.Decision(self.title, date, measures, total, shared[0], ignored)

    def check_assumptions(self, values: Mapping[str, Any], date: datetime.date | None) -> None:
        """Raise InputError when the facts contradict an `assume` line: the policy's analysis (and
        its author) took it for granted, so the figures of such an applicant are not to be trusted.
        An assumption that cannot be told (a fact left out) is no contradiction."""
        env = _Env(values, date, self.overrides)
        problems = [
            rt.contradiction(self.quote(a.cond), a.label)
            for a in self.policy.of(ast.Assume)
            if self.test(a.cond, env)[0] is False
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
        if env.date is not None:
            if self.valid_from is not None and env.date < self.valid_from:
                failures.append(
                    f"政策自 {self.valid_from.isoformat()} 起施行，评估日期 {env.date.isoformat()} 尚未生效"
                )
            if self.valid_until is not None and env.date > self.valid_until:
                failures.append(
                    f"政策有效期至 {self.valid_until.isoformat()}，评估日期 {env.date.isoformat()} 已失效"
                )
        self._conditions = {}
        for eligibility in self.policy.of(ast.Eligibility):
            for req in eligibility.requirements:
                holds, why = self.test(req.cond, env)
                if holds is False:
                    failures.append(req.reason or self.quote(req.cond))
                elif holds is None:
                    unknown.append(why or req.reason or self.quote(req.cond))
        needed, env.needed = env.needed, before
        return failures, unknown, needed

    def combines(self) -> list[tuple[str, list[str]]]:
        from policydsl.keywords import COMBINE_MODES

        return [
            (COMBINE_MODES[c.mode.text], [m.text for m in c.measures]) for c in self.policy.of(ast.Combine)
        ]

    def total_caps(self, env: _Env) -> list[tuple[Decimal | None, list[str]]]:
        return [
            (self._safe(c.amount, env), [m.text for m in c.measures]) for c in self.policy.of(ast.TotalCap)
        ]
