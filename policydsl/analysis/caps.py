"""Caps: caps that never bind or always do, dominated caps, group caps, quotas against budgets, and
cross-funding ceilings that put a stated cap out of reach.  Reads the plan: its caps, limits,
budgets and quotas carry where they are written and how."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Any

from policydsl import codes
from policydsl.analysis.base import Context, Finding, measure_label
from policydsl.analysis.boxes import plan_constant
from policydsl.analysis.smt import Formula, SolverError, Unsupported
from policydsl.analysis.witness import money_literal
from policydsl.diagnostics import Note
from policydsl.messages import Message, msg, text
from policydsl.plan import nodes as P
from policydsl.syntax.keywords import ALLOCATIONS, spelling


def _yuan(value: Fraction) -> str:
    """An amount as the findings' arithmetic shows it: 5万元, 1亿元, 12345.67元."""
    text = money_literal(value)
    return text if text.endswith("元") else text + "元"


class CapChecks:
    """The cap analyses over one policy's plan (`ctx.plan`); the formulas are quoted as written
    (the plan keeps their text)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.enc = ctx.enc
        self.plan = ctx.plan
        self.idle: set[int] = set()  # id() of the plan's caps that never bind

    def constant(self, expr: P.Expr) -> Fraction | None:
        return plan_constant(expr, self.plan)

    def run(self) -> None:
        for m in self.plan.measures:
            if self.ctx.is_dead(m):
                continue
            for c in m.clauses:
                if not self.ctx.is_dead(c) and c.amount.caps:
                    self.clause(m, c)
                if not self.ctx.is_dead(c) and c.amount.floor is not None and c.amount.expr is not None:
                    self.floor(m, c, c.amount.floor)
            for g in m.group_caps:
                self.group(m, g)
            for q in m.quotas:
                for b in m.budgets:
                    self.budget(m, q, b)
            if m.funding is not None:  # the limit the evaluation applies
                self.funding(m, m.funding)
            if m.population is not None:
                for b in m.budgets:
                    self.overflow(m.population, b.amount, "预算", b.span, [m])
        for tc in self.plan.total_caps:
            self.total(tc)
        for pot in self.plan.pots:
            measures = [m for m in self.plan.measures if m.name in pot.measures]
            if measures and all(not self.ctx.is_dead(m) for m in measures):
                self.overflow(None, pot.amount, f"资金池 {pot.label}", pot.span, measures)

    # ------------------------------------------------------------------ caps of one clause
    def clause(self, m: P.Measure, c: P.Clause) -> None:
        ctx, enc = self.ctx, self.enc
        cid = c.id
        where = ctx.clause_label(m, c)
        facts = ctx.clause_facts(m, c, amounts=True)
        data = {"clauses": [cid], "cites": ctx.cites(m, c)}
        amount = c.amount

        def context() -> list[Formula]:
            return [enc.gate(m), enc.fires(c)]

        def against(op: str, cap: P.Cap) -> list[Formula]:
            return [*context(), enc.compare(op, enc.lifted(c), enc.num(cap.expr))]

        expr = amount.expr
        binding: list[P.Cap] = []
        for cap in amount.caps:
            if expr is None:
                binding.append(cap)
                continue
            fc, kc = self.constant(expr), self.constant(cap.expr)
            if amount.floor is not None and fc is not None:  # the caps bind on the lifted formula
                lifted = self.constant(amount.floor.expr)
                fc = None if lifted is None else max(fc, lifted)
            if fc is not None and kc is not None:
                never, always = fc <= kc, fc >= kc
            else:
                q1 = ctx.ask(
                    partial(against, ">", cap),
                    code=codes.P601,
                    targets=(cid,),
                    span=cap.span,
                    what=msg("caps.whether_binds", cap=cap.text, clause=where),
                    facts=facts,
                )
                if q1 is None:
                    continue
                never = q1.unsat
                always = False
                if not never:
                    q2 = ctx.ask(
                        partial(against, "<", cap),
                        code=codes.P603,
                        targets=(cid,),
                        span=cap.span,
                        what=msg("caps.whether_below", clause=where),
                        facts=facts,
                    )
                    if q2 is None:
                        continue
                    always = q2.unsat
            if never:
                self.idle.add(id(cap))
                best = self.extreme(lambda: (enc.formula(c), context()), True, cid, cap, facts)
                reach = text("") if best is None else msg("caps.at_most", value=best[0])
                same = msg("caps.always_equals") if always else msg("caps.never_exceeds", reach=reach)
                ctx.add(
                    Finding(
                        codes.P601,
                        msg(
                            "caps.never_binds",
                            cap=cap.text,
                            clause=where,
                            formula=amount.text or "",
                            same=same,
                        ),
                        cap.span,
                        (cid,),
                        (Note(msg("caps.the_formula"), expr.span),),
                        msg("caps.never_binds_hint"),
                        best[1] if best else None,
                        {**data, **ctx.witness_data(best[1] if best else None)},
                    )
                )
            elif always:
                low = self.extreme(lambda: (enc.formula(c), context()), False, cid, cap, facts)
                least = text("") if low is None else msg("caps.least", value=low[0])
                ctx.add(
                    Finding(
                        codes.P603,
                        msg(
                            "caps.never_below",
                            formula=amount.text or "",
                            clause=where,
                            cap=cap.text,
                            least=least,
                        ),
                        cap.span,
                        (cid,),
                        (Note(msg("caps.the_formula"), expr.span),),
                        msg("caps.never_below_hint"),
                        low[1] if low else None,
                        {**data, **ctx.witness_data(low[1] if low else None)},
                    )
                )
            else:
                binding.append(cap)
        self.dominated(m, c, binding, context, facts, data)

    def floor(self, m: P.Measure, c: P.Clause, floor: P.Bound) -> None:
        """A floor above a cap for some applicant (P608: the cap wins, which the text should say),
        and the floor of a determined amount that never lifts it (P609)."""
        ctx, enc = self.ctx, self.enc
        cid = c.id
        where = ctx.clause_label(m, c)
        facts = ctx.clause_facts(m, c, amounts=True)
        data = {"clauses": [cid], "cites": ctx.cites(m, c)}

        def context() -> list[Formula]:
            return [enc.gate(m), enc.fires(c)]

        for cap in c.amount.caps:
            above = ctx.ask(
                lambda cap=cap: [*context(), enc.num(floor.expr) > enc.num(cap.expr)],  # type: ignore[misc]
                code=codes.P608,
                targets=(cid,),
                span=floor.span,
                what=msg("caps.whether_floor_above", floor=floor.text, clause=where, cap=cap.text),
                facts=facts,
            )
            if above is None or above.unsat:
                continue
            ctx.add(
                Finding(
                    codes.P608,
                    msg("caps.floor_above", floor=floor.text, clause=where, cap=cap.text),
                    floor.span,
                    (cid,),
                    (Note(msg("caps.the_cap"), cap.span),),
                    msg("caps.floor_above_hint"),
                    above.witness,
                    {**data, **ctx.witness_data(above.witness)},
                )
            )
        if c.amount.mode != "determined" or c.amount.expr is None:
            return  # the floor of a range is its lower bound: it always matters
        binds = ctx.ask(
            lambda: [*context(), enc.num(floor.expr) > enc.formula(c)],
            code=codes.P609,
            targets=(cid,),
            span=floor.span,
            what=msg("caps.whether_floor_lifts", floor=floor.text, clause=where),
            facts=facts,
        )
        if binds is not None and binds.unsat:
            ctx.add(
                Finding(
                    codes.P609,
                    msg("caps.floor_idle", floor=floor.text, clause=where, formula=c.amount.text or ""),
                    floor.span,
                    (cid,),
                    (),
                    msg("caps.floor_idle_hint"),
                    None,
                    data,
                )
            )

    def extreme(
        self,
        build: Callable[[], tuple[Any, list[Formula]]],
        maximise: bool,
        cid: str,
        cap: P.Cap,
        facts: set[str],
    ) -> tuple[Message, Any] | None:
        result = self.ctx.optimise(
            build,
            code=codes.P601,
            targets=(cid,),
            span=cap.span,
            what=msg("caps.extreme"),
            facts=facts,
            maximise=maximise,
        )
        if result is None or result.status != "sat" or result.value is None:
            return None
        value = money_literal(result.value)
        if result.attained:
            return text(value), result.witness
        near = msg("caps.just_under", value=value) if maximise else msg("caps.just_over", value=value)
        return near, result.witness

    def dominated(
        self,
        m: P.Measure,
        c: P.Clause,
        caps: list[P.Cap],
        context: Callable[[], list[Formula]],
        facts: set[str],
        data: dict[str, Any],
    ) -> None:
        """P602: a cap that another cap of the clause is never above (it never decides the amount)."""
        ctx, enc = self.ctx, self.enc
        cid = c.id
        reported: set[int] = set()

        def below(a: P.Cap, b: P.Cap) -> list[Formula]:
            return [*context(), enc.compare("<", enc.num(a.expr), enc.num(b.expr))]

        for i, a in enumerate(caps):
            for b in caps[i + 1 :]:
                if id(a) in reported or id(b) in reported:
                    continue
                ca, cb = self.constant(a.expr), self.constant(b.expr)
                if ca is not None and cb is not None:
                    a_over, b_over = ca >= cb, cb >= ca
                else:
                    qa = ctx.ask(
                        partial(below, a, b),
                        code=codes.P602,
                        targets=(cid,),
                        span=a.span,
                        what=msg("caps.whether_cap_below", a=a.text, b=b.text),
                        facts=facts,
                    )
                    qb = ctx.ask(
                        partial(below, b, a),
                        code=codes.P602,
                        targets=(cid,),
                        span=b.span,
                        what=msg("caps.whether_cap_below", a=b.text, b=a.text),
                        facts=facts,
                    )
                    if qa is None or qb is None:
                        continue
                    a_over, b_over = qa.unsat, qb.unsat
                if not (a_over or b_over):
                    continue
                # the cap that is never lower is the idle one; with always-equal caps, the later one
                idle, other = (b, a) if b_over else (a, b)
                reported.add(id(idle))
                sample = ctx.ask(
                    context,
                    code=codes.P602,
                    targets=(cid,),
                    span=idle.span,
                    what=msg("caps.an_applicant"),
                    facts=facts,
                )
                witness = sample.witness if sample is not None and sample.sat else None
                ctx.add(
                    Finding(
                        codes.P602,
                        msg(
                            "caps.cap_dominated",
                            idle=idle.text,
                            clause=ctx.clause_label(m, c),
                            other=other.text,
                        ),
                        idle.span,
                        (cid,),
                        (Note(msg("caps.lower_cap"), other.span),),
                        msg("caps.cap_dominated_hint"),
                        witness,
                        {**data, **ctx.witness_data(witness)},
                    )
                )

    # ------------------------------------------------------------------ group caps
    def group(self, m: P.Measure, g: P.GroupCap) -> None:
        """P604 one member alone passes the group cap; P605 members together pass it and no
        allocation rule says how to cut."""
        ctx, enc = self.ctx, self.enc
        name = m.name
        facts = ctx.facts_for([m], m.clauses, amounts=True)
        data = {"measures": [name], "cites": ctx.cites(m)}
        per = g.per
        one = ctx.ask(
            lambda: [enc.pays(m), enc.compare(">", enc.measure_amount(m), enc.num(g.amount))],
            code=codes.P604,
            targets=(name,),
            span=g.span,
            what=msg("caps.whether_member_over", measure=measure_label(m)),
            facts=facts,
            show=lambda: {"amount": enc.measure_amount(m)},
        )
        if one is None:
            return
        if one.sat:
            value = one.values.get("amount")
            # an amount the text leaves unset has no figure to show (the solver's pick is none)
            got = msg("caps.more") if value is None or "amount" in one.unset else text(money_literal(value))
            ctx.add(
                Finding(
                    codes.P604,
                    msg("caps.member_over", per=per, got=got, measure=measure_label(m), cap=g.text),
                    g.span,
                    (name,),
                    (),
                    msg("caps.member_over_hint"),
                    one.witness,
                    {**data, **ctx.witness_data(one.witness)},
                )
            )
            return
        settled = None
        if g.allocate == "proportional":
            if not ctx.options.verbose or g.span is None:
                return
            declared = f"{spelling('allocate', ctx.chinese)} {g.allocate_text or ''}"
            settled = (msg("caps.settled_allocate", declared=declared), g.span)
        cap = self.constant(g.amount)
        if cap is None or cap <= 0:
            return
        best = ctx.optimise(
            lambda: (enc.measure_amount(m, rounded=False), [enc.pays(m)]),
            code=codes.P605,
            targets=(name,),
            span=g.span,
            what=msg("caps.largest_award", measure=measure_label(m)),
            facts=facts,
        )
        if best is None or best.status != "sat" or best.value is None:
            return
        largest = enc.round_value(best.value)
        if largest <= 0:
            return
        members = math.floor(cap / largest) + 1
        total = members * largest
        chinese = ctx.chinese  # code proposed in the file's keywords
        allocate, proportional = spelling("allocate", chinese), _allocation("proportional", chinese)
        rule = (
            msg("caps.allocation_unset", word=_allocation("unset", chinese))
            if g.allocate == "unset"
            else msg("caps.allocation_proportional", allocate=allocate, word=proportional)
            if g.allocate == "proportional"
            else msg("caps.allocation_none", allocate=allocate, word=proportional)
        )
        group_cap, each = spelling("group_cap", chinese), spelling("per", chinese)
        declaration = f"{group_cap} {g.text} {each} {per} {allocate} {proportional}"
        ctx.add(
            Finding(
                codes.P605,
                msg(
                    "caps.group_over",
                    members=members,
                    per=per,
                    member=money_literal(largest),
                    measure=measure_label(m),
                    total=money_literal(total),
                    cap=g.text,
                    rule=rule,
                ),
                g.span,
                (name,),
                (),
                msg("caps.group_over_hint", declaration=declaration),
                best.witness,
                {
                    **data,
                    **ctx.witness_data(best.witness),
                    "members": members,
                    "member_amount": money_literal(largest),
                    "group_total": money_literal(total),
                },
                settled,
            )
        )

    # ------------------------------------------------------------------ quotas and budgets
    def budget(self, m: P.Measure, q: P.Quota, b: P.Budget) -> None:
        """P606: the quota of winners times the largest award passes the declared budget."""
        ctx, enc = self.ctx, self.enc
        name = m.name
        limit = self.constant(b.amount)
        if limit is None:
            return
        facts = ctx.facts_for([m], m.clauses, amounts=True)
        best = ctx.optimise(
            lambda: (enc.measure_amount(m, rounded=False), [enc.pays(m)]),
            code=codes.P606,
            targets=(name,),
            span=b.span,
            what=msg("caps.largest_award", measure=measure_label(m)),
            facts=facts,
        )
        if best is None or best.status != "sat":
            return
        data: dict[str, Any] = {
            "measures": [name],
            "cites": ctx.cites(m),
            "quota": q.count,
            "budget": money_literal(limit),
        }
        if best.value is None:
            ctx.add(
                Finding(
                    codes.P606,
                    msg("caps.no_largest", measure=measure_label(m), count=q.count, budget=b.text),
                    b.span,
                    (name,),
                    (Note(msg("caps.quota_of", count=q.count), q.span),),
                    msg("caps.cap_the_award"),
                    best.witness,
                    {**data, **ctx.witness_data(best.witness)},
                )
            )
            return
        largest = enc.round_value(best.value)
        need = largest * q.count
        if need <= limit:
            return
        ctx.add(
            Finding(
                codes.P606,
                msg(
                    "caps.budget_over",
                    count=q.count,
                    measure=measure_label(m),
                    largest=money_literal(largest),
                    need=money_literal(need),
                    budget=b.text,
                ),
                b.span,
                (name,),
                (Note(msg("caps.quota_of", count=q.count), q.span),),
                msg("caps.budget_over_hint"),
                best.witness,
                {
                    **data,
                    **ctx.witness_data(best.witness),
                    "largest": money_literal(largest),
                    "needed": money_literal(need),
                },
            )
        )

    # ------------------------------------------------------------------ expected populations
    def overflow(
        self,
        population: P.Population | None,
        limit_expr: P.Expr,
        limit_text: str,
        span: Any,
        measures: list[P.Measure],
    ) -> None:
        """P610: the population the text expects (or a measure's quota) at the largest award passes a
        budget or pot.  Over a pot of several measures, every one of them needs a stated population or
        quota; the need is the sum over them."""
        ctx, enc = self.ctx, self.enc
        limit = self.constant(limit_expr)
        if limit is None:
            return
        parts: list[str] = []
        need = Fraction(0)
        witnesses: dict[str, Any] = {}
        for m in measures:
            pop = population if population is not None else m.population
            count, unit, counting = (
                (pop.count, pop.unit, pop.counting) if pop is not None else (None, None, None)
            )
            if count is None and m.quota is not None:
                count = m.quota.count
            if count is None:
                return  # how many the text expects is not said: nothing to compare
            try:
                fixed: list[Formula] = [enc.pays(m)]
                if counting is not None:
                    fixed.append(enc.compare("==", enc.fact(counting), enc.real(1)))
            except (Unsupported, SolverError):
                return  # what makes the measure pay cannot be encoded: no exact comparison to make
            best = ctx.optimise(
                partial(self._largest, m, fixed),
                code=codes.P610,
                targets=(m.name,),
                span=span,
                what=msg("caps.whether_largest", measure=measure_label(m)),
                facts=ctx.facts_for([m], m.clauses, amounts=True),
            )
            if best is None or best.status != "sat" or best.value is None:
                return
            largest = enc.round_value(best.value)
            per = f"/{unit}" if counting is not None and unit else ""
            about = "约 " if pop is not None and pop.about else ""
            parts.append(f"{about}{count}{unit or '家'} × {_yuan(largest)}{per}")
            need += largest * count
            if len(measures) == 1:  # several measures: each largest award is a different applicant's
                witnesses = ctx.witness_data(best.witness)
        if need <= limit:
            return
        arithmetic = " + ".join(parts) + f" = {_yuan(need)}，超过{limit_text} {_yuan(limit)}"
        names = tuple(m.name for m in measures)
        label = "、".join(measure_label(m) for m in measures)
        ctx.add(
            Finding(
                codes.P610,
                msg("caps.population_over", measures=label, arithmetic=arithmetic),
                span,
                names,
                (),
                msg("caps.population_hint"),
                None,
                {
                    "measures": list(names),
                    "needed": money_literal(need),
                    "limit": money_literal(limit),
                    "arithmetic": arithmetic,
                    **witnesses,
                },
            )
        )

    def _largest(self, m: P.Measure, fixed: list[Formula]) -> tuple[Any, list[Formula]]:
        return self.enc.measure_amount(m, rounded=False), fixed

    # ------------------------------------------------------------------ cross-funding ceilings
    def funding(self, m: P.Measure, limit: P.FundingLimit) -> None:
        """P607: a clause's stated cap is within reach of its formula, but the cross-funding ceiling
        always leaves less room than it."""
        ctx, enc = self.ctx, self.enc

        def room() -> dict[str, Any]:
            return {"room": enc.max(enc.real(0), enc.funding_room(limit))}

        def reach(c: P.Clause, k: P.Cap, within: bool) -> list[Formula]:
            parts = [enc.gate(m), enc.applies(m, c), enc.compare(">=", enc.clause_amount(c), enc.num(k.expr))]
            if within:
                parts.append(enc.compare(">=", room()["room"], enc.num(k.expr)))
            return parts

        for c in m.clauses:
            if c.kind != "award" or ctx.is_dead(c):
                continue
            amount = c.amount
            stated = [k for k in amount.caps if id(k) not in self.idle]
            if not amount.caps and amount.expr is not None and self.constant(amount.expr) is not None:
                # a fixed amount is its own stated figure
                stated = [P.Cap(amount.expr, amount.text or "", span=amount.expr.span)]
            cid = c.id
            facts = ctx.clause_facts(m, c, amounts=True) | ctx.names(limit.limit, limit.received)[0]
            for k in stated:
                before = ctx.ask(
                    partial(reach, c, k, False),
                    code=codes.P607,
                    targets=(cid,),
                    span=k.span,
                    what=msg("caps.whether_reaches", clause=ctx.clause_label(m, c), cap=k.text),
                    facts=facts,
                    show=room,
                )
                if before is None or not before.sat:
                    continue
                after = ctx.ask(
                    partial(reach, c, k, True),
                    code=codes.P607,
                    targets=(cid,),
                    span=k.span,
                    what=msg("caps.whether_room", cap=k.text),
                    facts=facts,
                )
                if after is None or not after.unsat:
                    continue
                most = ctx.optimise(
                    partial(self._room_for, m, c, room),
                    code=codes.P607,
                    targets=(cid,),
                    span=k.span,
                    what=msg("caps.most_room"),
                )
                if most is not None and most.status == "sat" and most.value is not None:
                    here: Message = msg("caps.room_at_most", value=money_literal(most.value))
                else:
                    left = before.values.get("room")
                    shown = left is not None and "room" not in before.unset
                    here = (
                        msg("caps.room_here", value=money_literal(left))
                        if shown and left is not None
                        else text("")
                    )
                ctx.add(
                    Finding(
                        codes.P607,
                        msg(
                            "caps.unreachable",
                            clause=ctx.clause_label(m, c),
                            cap=k.text,
                            limit=limit.text,
                            received=limit.received_text,
                            here=here,
                        ),
                        k.span,
                        (cid,),
                        (Note(msg("caps.the_ceiling"), limit.span),),
                        msg("caps.unreachable_hint"),
                        before.witness,
                        {"clauses": [cid], "cites": ctx.cites(m, c), **ctx.witness_data(before.witness)},
                    )
                )

    def _room_for(
        self, m: P.Measure, c: P.Clause, room: Callable[[], dict[str, Any]]
    ) -> tuple[Any, list[Formula]]:
        return room()["room"], [self.enc.gate(m), self.enc.applies(m, c)]

    # ------------------------------------------------------------------ total caps
    def total(self, tc: P.TotalCap) -> None:
        """P601 for a total cap: the measures it covers can never pay more than it together."""
        ctx, enc = self.ctx, self.enc
        known = {m.name: m for m in self.plan.measures}
        measures = [known[n] for n in tc.measures if n in known]
        names = tuple(m.name for m in measures)

        def paid() -> Any:
            return enc.sum([enc.ite(enc.pays(m), enc.measure_amount(m), enc.real(0)) for m in measures])

        answer = ctx.ask(
            lambda: [enc.compare(">", paid(), enc.num(tc.amount))],
            code=codes.P601,
            targets=names,
            span=tc.amount_span,
            what=msg("caps.whether_total_binds", cap=tc.text),
        )
        if answer is None or not answer.unsat:
            return
        ctx.add(
            Finding(
                codes.P601,
                msg("caps.total_idle", cap=tc.text, measures=tuple(text(f"`{n}`") for n in names)),
                tc.amount_span,
                names,
                (),
                msg("caps.total_idle_hint"),
                data={"measures": list(names)},
            )
        )


def _allocation(word: str, chinese: bool) -> str:
    """An allocation rule in the file's language (ALLOCATIONS maps both spellings to English)."""
    if not chinese:
        return word
    return next(w for w, english in ALLOCATIONS.items() if english == word and w != word)
