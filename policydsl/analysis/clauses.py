"""Clause analyses over the plan: dead clauses, overlaps (within and across measures), exceptions,
merges, holes (the language-level P205 and P302 are analysis_language's)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import partial
from typing import Any

from policydsl import codes
from policydsl.analysis.base import Context, Finding, measure_label
from policydsl.analysis.boxes import (
    Box,
    Interval,
    Simple,
    clause_box,
    clause_conjuncts,
    conjuncts,
    describe_interval,
    gate_box,
    shared_box,
    simple,
)
from policydsl.analysis.smt import Answer, Encoder, Formula, SolverError, Unsupported
from policydsl.analysis.witness import amount_text, literal
from policydsl.diagnostics import Code, Note
from policydsl.messages import Message, msg, text
from policydsl.plan import nodes as P
from policydsl.source import Span
from policydsl.syntax.keywords import spelling

Part = tuple[Message, Span, Callable[[], Formula]]


class ClauseChecks:
    """Runs the clause analyses over one policy, in an order where each can skip what an earlier
    one found dead."""

    def __init__(self, ctx: Context, text: str) -> None:
        self.ctx = ctx
        self.enc: Encoder = ctx.enc
        self.plan = ctx.plan
        self.text = text
        self.shared = shared_box(ctx.plan)
        self.boxes: dict[str, Box] = {}  # by clause id
        self.copies: set[tuple[str, str]] = set()  # ids of a clause and its word-for-word copy (P205)

    def quote(self, span: Span | None, node: object) -> str:
        """The text at `span` as written, spaces folded (the node's kind when there is no text)."""
        if self.text and span is not None and span.end <= len(self.text):
            return " ".join(self.text[span.start : span.end].split())
        return type(node).__name__

    # ------------------------------------------------------------------ unsat cores as notes
    def gate_parts(self, measure: P.Measure | None) -> list[Part]:
        enc = self.enc
        parts: list[Part] = []
        for g in self.plan.eligibility:
            what = msg("clauses.eligibility_part", reason=g.reason)
            parts.append((what, _at(g.span), partial(_holds, enc, g.cond, False)))
        if measure is None:
            return parts
        for span in measure.applicants.spans if measure.applicants is not None else ():
            quoted = text(f"`{self.quote(span, measure.applicants)}`")
            parts.append((quoted, span, partial(enc.kind_gate, measure)))
        for g in measure.gates:
            what = (
                msg("clauses.requirement_part", reason=g.reason)
                if g.passes_when
                else msg("clauses.exclusion_part", reason=g.reason)
            )
            parts.append((what, _at(g.span), partial(_holds, enc, g.cond, not g.passes_when)))
        return parts

    def clause_parts(self, clause: P.Clause) -> list[Part]:
        """Each conjunct of the clause's conditions on its own, so a core can name the two that clash."""
        parts: list[Part] = []
        for c in clause.conditions:
            for piece in [c.cond] if c.negated else list(conjuncts(c.cond)):
                quoted = self.quote(piece.span, piece)
                written = f"{spelling('unless', self.ctx.chinese)} {quoted}" if c.negated else quoted
                what = msg("clauses.condition_part", condition=written)
                parts.append((what, _at(piece.span), partial(_holds, self.enc, piece, c.negated)))
        return parts

    def core_notes(self, parts: Sequence[Part], base: Sequence[Formula] = ()) -> list[Note]:
        try:
            named = [(str(i), build()) for i, (_, _, build) in enumerate(parts)]
            core = self.ctx.session.core(named, base)
        except (Unsupported, SolverError):
            return []  # the notes only explain a finding already made
        if core is None:
            return []
        if not core:
            return [Note(msg("clauses.ruled_out"))]
        if len(core) == 1:
            what, span, _ = parts[int(core[0])]
            return [Note(msg("clauses.cannot_hold", what=what), span)]
        return [
            Note(msg("clauses.cannot_hold_together", what=parts[int(i)][0]), parts[int(i)][1]) for i in core
        ]

    # ------------------------------------------------------------------ the policy as a whole
    def eligibility(self) -> bool:
        """P104: False when no applicant can ever be eligible (every later check is moot)."""
        ctx, enc, plan = self.ctx, self.enc, self.plan
        span = plan.eligibility_span or plan.header_span
        if span is None:  # every diagnostic has a position: the background facts, or the file's start
            assumes = plan.assumption_lines
            span = assumes[0].span if assumes else plan.span
        facts = ctx.facts_for()
        answer = ctx.ask(
            lambda: [enc.eligibility()],
            code=codes.P104,
            targets=(),
            span=span,
            what=msg("clauses.whether_eligible"),
            facts=facts,
        )
        if answer is None or not answer.unsat:
            return True
        notes = self.core_notes(self.gate_parts(None))
        ctx.add(
            Finding(
                codes.P104,
                msg("clauses.no_eligible"),
                span,
                ("eligibility",),
                tuple(notes),
                hint=msg("clauses.no_eligible_hint", eligibility=spelling("eligibility", ctx.chinese)),
            )
        )
        return False

    # ------------------------------------------------------------------ one measure
    def admits(self, measure: P.Measure) -> bool:
        """P103 (False: the measure admits no applicant); the outer boxes of its clauses."""
        if not self.gate(measure):
            return False
        gate = gate_box(measure, self.plan, self.shared)
        for clause in measure.clauses:
            self.boxes[clause.id] = gate.meet(clause_box(clause, self.plan))
        return True

    def clauses(self, measure: P.Measure, copies: set[tuple[str, str]]) -> None:
        """The clauses of a measure that admits applicants; `copies`, the pairs of clauses written
        word for word alike (reported as P205), are not compared again."""
        self.copies |= copies
        for clause in measure.clauses:
            self.alive(measure, clause)
        self.ambiguous(measure)
        self.overlaps(measure)
        self.merges(measure)

    def copied(self, a: P.Clause, b: P.Clause) -> bool:
        """`b` is a word-for-word copy of `a` (or `a` of `b`), already reported as P205."""
        return (a.id, b.id) in self.copies or (b.id, a.id) in self.copies

    def gate(self, measure: P.Measure) -> bool:
        """P103: False when the measure admits no applicant at all."""
        ctx, enc = self.ctx, self.enc
        name = measure.name
        answer = ctx.ask(
            lambda: [enc.gate(measure)],
            code=codes.P103,
            targets=(name,),
            span=measure.name_span,
            what=msg("clauses.whether_admits", measure=measure_label(measure)),
        )
        if answer is None or not answer.unsat:
            return True
        ctx.kill(measure)
        notes = self.core_notes(self.gate_parts(measure))
        ctx.add(
            Finding(
                codes.P103,
                msg("clauses.never_pays", measure=measure_label(measure)),
                measure.name_span,
                (name,),
                tuple(notes),
                data={"cites": ctx.cites(measure)},
            )
        )
        return False

    def alive(self, measure: P.Measure, clause: P.Clause) -> None:
        """P101 dead clause, P102 always replaced by an exception, P502 masked by a sibling."""
        ctx, enc = self.ctx, self.enc
        cid = clause.id
        facts = ctx.clause_facts(measure, clause)
        bonus = clause.kind == "bonus"
        first = ctx.ask(
            lambda: [enc.gate(measure), enc.fires(clause)],
            code=codes.P101,
            targets=(cid,),
            span=_at(clause.span),
            what=msg("clauses.whether_can_apply", clause=ctx.clause_label(measure, clause)),
            facts=facts,
        )
        if first is None:
            return
        if first.unsat:
            ctx.kill(clause)
            core = tuple(self.core_notes(self.gate_parts(measure) + self.clause_parts(clause)))
            ctx.add(
                Finding(
                    codes.P101,
                    msg("clauses.never_applies", clause=ctx.clause_label(measure, clause)),
                    _at(clause.span),
                    (cid,),
                    core,
                    data={"clauses": [cid], "cites": ctx.cites(measure, clause)},
                )
            )
            return
        if bonus:
            with_award = ctx.ask(
                lambda: [enc.gate(measure), enc.applies(measure, clause)],
                code=codes.P101,
                targets=(cid,),
                span=_at(clause.span),
                what=msg("clauses.whether_can_apply", clause=ctx.clause_label(measure, clause)),
                facts=facts,
            )
            if with_award is not None and with_award.unsat:
                ctx.kill(clause)
                ctx.add(
                    Finding(
                        codes.P101,
                        msg("clauses.bonus_never", clause=ctx.clause_label(measure, clause)),
                        _at(clause.span),
                        (cid,),
                        witness=first.witness,
                        data={
                            "clauses": [cid],
                            "cites": ctx.cites(measure, clause),
                            **ctx.witness_data(first.witness),
                        },
                    )
                )
            return
        exceptions = enc.exceptions(measure, clause)
        higher = enc.higher_siblings(measure, clause)
        if not exceptions and not higher:
            return
        second = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, clause)],
            code=codes.P102,
            targets=(cid,),
            span=_at(clause.span),
            what=msg("clauses.whether_can_apply", clause=ctx.clause_label(measure, clause)),
            facts=facts,
        )
        if second is None or not second.unsat:
            return
        ctx.kill(clause)
        data = {"clauses": [cid], "cites": ctx.cites(measure, clause), **ctx.witness_data(first.witness)}
        replaced = None
        if exceptions:
            replaced = ctx.ask(
                lambda: [
                    enc.gate(measure),
                    enc.fires(clause),
                    enc.not_(enc.or_(*(enc.fires(e) for e in exceptions))),
                ],
                code=codes.P102,
                targets=(cid,),
                span=_at(clause.span),
                what=msg("clauses.whether_replaced", clause=ctx.clause_label(measure, clause)),
            )
        if replaced is not None and replaced.unsat:
            names = tuple(text(f"`{e.id}`") for e in exceptions)
            notes: tuple[Note, ...] = tuple(
                Note(msg("clauses.exception_note", clause=ctx.clause_label(measure, e)), e.span)
                for e in exceptions
            )
            ctx.add(
                Finding(
                    codes.P102,
                    msg("clauses.always_replaced", clause=ctx.clause_label(measure, clause), names=names),
                    _at(clause.span),
                    (cid, *(e.id for e in exceptions)),
                    notes,
                    witness=first.witness,
                    hint=msg("clauses.always_replaced_hint"),
                    data=data,
                )
            )
        elif higher:
            ranked = tuple(
                msg("clauses.with_priority", clause=h.id, priority=h.priority or 0) for h in higher
            )
            notes = tuple(
                Note(msg("clauses.higher_note", clause=ctx.clause_label(measure, h)), h.span) for h in higher
            )
            ctx.add(
                Finding(
                    codes.P502,
                    msg(
                        "clauses.never_wins",
                        clause=ctx.clause_label(measure, clause),
                        priority=clause.priority or 0,
                        names=ranked,
                    ),
                    _at(clause.span),
                    (cid, *(h.id for h in higher)),
                    notes,
                    witness=first.witness,
                    hint=msg("clauses.never_wins_hint"),
                    data=data,
                )
            )

    def ambiguous(self, measure: P.Measure) -> None:
        """P301: two exceptions of one default with the same priority can both apply."""
        ctx, enc = self.ctx, self.enc
        for default in measure.awards:
            exceptions = [e for e in enc.exceptions(measure, default) if not ctx.is_dead(e)]
            for i, a in enumerate(exceptions):
                for b in exceptions[i + 1 :]:
                    if not _tied(measure, a, b) or self.copied(a, b):
                        continue
                    ia, ib = a.id, b.id
                    if self.boxes[a.id].disjoint(self.boxes[b.id]):
                        ctx.filtered += 1
                        continue
                    higher = enc.higher_siblings(measure, a)
                    answer = ctx.ask(
                        partial(self._both_fire, measure, a, b, higher),
                        code=codes.P301,
                        targets=(ia, ib),
                        span=b.span,
                        what=msg("clauses.whether_both_exceptions", a=ia, b=ib),
                        facts=ctx.clause_facts(measure, a, b),
                    )
                    if answer is None or not answer.sat:
                        continue
                    prio = (
                        msg("clauses.no_priority")
                        if a.priority is None
                        else msg("clauses.same_priority", priority=a.priority)
                    )
                    chinese = ctx.chinese
                    exception, priority = spelling("exception", chinese), spelling("priority", chinese)
                    example = f"{exception} {default.name or ''} {priority} 2"
                    ctx.add(
                        Finding(
                            codes.P301,
                            msg(
                                "clauses.ambiguous",
                                a=ctx.clause_label(measure, a),
                                b=ctx.clause_label(measure, b),
                                default=default.id,
                                prio=prio,
                            ),
                            b.span,
                            (ia, ib),
                            (
                                Note(
                                    msg("clauses.other_exception", clause=ctx.clause_label(measure, a)),
                                    a.span,
                                ),
                            ),
                            witness=answer.witness,
                            hint=msg(
                                "clauses.ambiguous_hint",
                                priority=spelling("priority", chinese),
                                example=example,
                            ),
                            data={
                                "clauses": [ia, ib],
                                "cites": ctx.cites(measure, a, b),
                                **ctx.witness_data(answer.witness),
                            },
                        )
                    )

    def _both_fire(
        self, measure: P.Measure, a: P.Clause, b: P.Clause, higher: list[P.Clause]
    ) -> list[Formula]:
        enc = self.enc
        return [
            enc.gate(measure),
            enc.fires(a),
            enc.fires(b),
            enc.not_(enc.or_(*(enc.fires(h) for h in higher))),
        ]

    # ------------------------------------------------------------------ overlaps
    def overlaps(self, measure: P.Measure) -> None:
        """P203/P204: two award clauses of one measure both apply; can their amounts differ?"""
        ctx = self.ctx
        awards = [c for c in measure.awards if not ctx.is_dead(c)]
        for i, a in enumerate(awards):
            for b in awards[i + 1 :]:
                if _related(a, b) or self.copied(a, b):
                    continue
                if self.boxes[a.id].disjoint(self.boxes[b.id]):
                    ctx.filtered += 1
                    continue
                ia, ib = a.id, b.id
                self.overlap(
                    partial(self._clauses_apply, measure, a, b),
                    partial(self._clause_amounts, measure, a, b),
                    codes=(codes.P203, codes.P204),
                    targets=(ia, ib),
                    span=_at(b.span),
                    names=(ctx.clause_label(measure, a), ctx.clause_label(measure, b)),
                    facts_amounts=ctx.clause_facts(measure, a, b, amounts=True),
                    other=(msg("clauses.other_clause", clause=ctx.clause_label(measure, a)), _at(a.span)),
                    conjuncts=(self.conjuncts(measure, a), self.conjuncts(measure, b)),
                    data={"clauses": [ia, ib], "cites": ctx.cites(measure, a, b)},
                    settled=None,
                )

    def _clauses_apply(self, measure: P.Measure, a: P.Clause, b: P.Clause) -> list[Formula]:
        enc = self.enc
        return [enc.gate(measure), enc.applies(measure, a), enc.applies(measure, b)]

    def _clause_amounts(self, measure: P.Measure, a: P.Clause, b: P.Clause, rounded: bool) -> dict[str, Any]:
        enc = self.enc
        return {a.id: enc.clause_amount(a, rounded), b.id: enc.clause_amount(b, rounded)}

    def _measures_pay(self, a: P.Measure, b: P.Measure) -> list[Formula]:
        return [self.enc.pays(a), self.enc.pays(b)]

    def _measure_amounts(self, a: P.Measure, b: P.Measure, rounded: bool) -> dict[str, Any]:
        enc = self.enc
        return {a.name: enc.measure_amount(a, rounded), b.name: enc.measure_amount(b, rounded)}

    def conjuncts(self, measure: P.Measure, clause: P.Clause | None) -> list[Simple]:
        exprs: list[P.Expr] = [g.cond for g in measure.gates if g.kind == "require"]
        for c in [clause] if clause is not None else list(measure.awards[:1]):
            exprs += clause_conjuncts(c)
        out = []
        for e in exprs:
            s = simple(e, self.plan)
            if s is not None:
                out.append(s)
        return out

    def overlap(
        self,
        both: Callable[[], list[Formula]],
        amounts: Callable[[bool], dict[str, Any]],
        *,
        codes: tuple[Code, Code],
        targets: tuple[str, str],
        span: Span,
        names: tuple[str, str],
        facts_amounts: set[str],
        other: tuple[Message, Span],
        conjuncts: tuple[list[Simple], list[Simple]],
        data: dict[str, Any],
        settled: tuple[Message, Span] | None,
    ) -> None:
        ctx, enc = self.ctx, self.enc
        what = msg("clauses.whether_both_apply", a=names[0], b=names[1])
        rounded = partial(amounts, True)

        def paid() -> list[Formula]:
            # a witness where one of the two amounts is 0元 shows no overlap a drafter believes:
            # both amounts above zero first, any amounts only when they never both are
            return [*both(), *(enc.compare(">", t, enc.real(0)) for t in rounded().values())]

        first = ctx.ask(
            paid, code=codes[0], targets=targets, span=span, what=what, facts=facts_amounts, show=rounded
        )
        if first is not None and first.unsat:
            paid = both
            first = ctx.ask(
                both, code=codes[0], targets=targets, span=span, what=what, facts=facts_amounts, show=rounded
            )
        if first is None or not first.sat:
            return

        def differ(exact: bool) -> Callable[[], list[Formula]]:
            def build() -> list[Formula]:
                shown = list(amounts(exact).values())
                return [*paid(), enc.compare("!=", shown[0], shown[1])]

            return build

        what = msg("clauses.whether_differ", a=names[0], b=names[1])
        second: Answer | None = first
        if len(set(first.values.values())) < 2:
            # Amounts before rounding decide quickly; a witness whose rounded amounts differ
            # settles it, anything else is decided again with the rounding (exact, but slower).
            second = ctx.ask(
                differ(False),
                code=codes[0],
                targets=targets,
                span=span,
                what=what,
                facts=facts_amounts,
                show=rounded,
            )
            if second is None or not second.sat or len(set(second.values.values())) < 2:
                second = ctx.ask(
                    differ(True),
                    code=codes[0],
                    targets=targets,
                    span=span,
                    what=what,
                    facts=facts_amounts,
                    show=rounded,
                )
        if second is None:
            return
        chinese = self.ctx.chinese
        ack = (
            f"{spelling('acknowledge', chinese)} {(codes[0] if second.sat else codes[1]).id} "
            f'{{ {", ".join(targets)} }} "{msg("clauses.reason").render("zh" if chinese else "en")}"'
        )
        hint = _boundary_hint(*conjuncts, self.plan, chinese) or msg("clauses.overlap_hint", ack=ack)
        answer = second if second.sat else first
        # the witness shown: the question asked again for round amounts (50万 and 1万, not 50万 and
        # 0.01元), first with both amounts paid, then, when that shows them equal where they can
        # differ, with them differing (before the rounding to the fen, then, as two amounts less than
        # a fen apart round alike, after it); whether they differ was decided on the solver's own figures
        for chosen in (paid, differ(False), differ(True)) if second.sat else (paid,):
            tidy = self.rounder(chosen, facts_amounts, rounded)
            if tidy is not None and (len(set(tidy.values.values())) > 1) == second.sat:
                answer = tidy
                break
        values = {k: amount_text(v, k in answer.unset) for k, v in answer.values.items()}
        shown = msg("combine.amounts", a=_amount_of(values, 0), b=_amount_of(values, 1))
        if second.sat:
            code, message = (
                codes[0],
                msg("clauses.overlap_differ", a=names[0], b=names[1], shown=shown),
            )
        else:
            code, message = (
                codes[1],
                msg("clauses.overlap_equal", a=names[0], b=names[1], shown=shown),
            )
        ctx.add(
            Finding(
                code,
                message,
                span,
                targets,
                (Note(other[0], other[1]),),
                hint,
                answer.witness,
                {**data, **ctx.witness_data(answer.witness), "amounts": values},
                settled,
            )
        )

    def rounder(
        self, build: Callable[[], list[Formula]], facts: set[str], show: Callable[[], dict[str, Any]]
    ) -> Answer | None:
        """The witness of a decided overlap asked again for round amounts: only for display, so a
        question the solver cannot answer, or answers unsat, is no finding (None: keep the first)."""
        if self.ctx.spent():
            return None
        try:
            answer = self.ctx.session.check(build(), facts, show(), round_shown=True)
        except (Unsupported, SolverError):
            return None
        return answer if answer.sat else None

    def cross(self, measures: Sequence[P.Measure]) -> None:
        """P201/P202: two measures both pay one applicant and no `combine` says how."""
        ctx = self.ctx
        settled: dict[frozenset[str], tuple[Message, Span]] = {}
        for comb in self.plan.combinations:
            declared = f"{spelling('combine', self.ctx.chinese)} {comb.word}"
            mode = f" ({comb.mode})" if comb.mode != comb.word else ""
            reason = (
                msg("clauses.settled_combine_because", declared=declared, mode=mode, reason=comb.reason)
                if comb.reason
                else msg("clauses.settled_combine", declared=declared, mode=mode)
            )
            for x in comb.measures:
                for y in comb.measures:
                    if x != y:
                        settled.setdefault(frozenset((x, y)), (reason, _at(comb.span)))
        paying = [
            m
            for m in measures
            if not ctx.is_dead(m) and any(not ctx.is_dead(c) for c in m.clauses if c.kind == "award")
        ]
        boxes: dict[str, Box] = {}
        for m in paying:
            hull: Box | None = None
            for c in m.clauses:
                if c.kind == "award" and not ctx.is_dead(c):
                    box = self.boxes.get(c.id) or gate_box(m, self.plan, self.shared)
                    hull = box if hull is None else hull.join(box)
            boxes[m.name] = hull if hull is not None else gate_box(m, self.plan, self.shared)
        hulls = [boxes[m.name] for m in paying]
        candidates = _candidate_pairs(hulls)
        ctx.filtered += len(paying) * (len(paying) - 1) // 2 - len(candidates)
        for k, (i, j) in enumerate(candidates):
            # once the budget is spent every remaining pair is skipped at once: a loop that only
            # counted them would still cost time in proportion to the pairs of a large file
            if ctx.out_of_budget(len(candidates) - k):
                break
            a, b = paying[i], paying[j]
            na, nb = a.name, b.name
            settle = settled.get(frozenset((na, nb)))
            if settle is not None and not ctx.options.verbose:
                continue
            if hulls[i].disjoint(hulls[j]):
                ctx.filtered += 1
                continue
            self.overlap(
                partial(self._measures_pay, a, b),
                partial(self._measure_amounts, a, b),
                codes=(codes.P201, codes.P202),
                targets=(na, nb),
                span=_at(b.name_span),
                names=(measure_label(a), measure_label(b)),
                facts_amounts=ctx.facts_for([a, b], a.clauses + b.clauses, amounts=True),
                other=(msg("clauses.other_measure", measure=measure_label(a)), _at(a.name_span)),
                conjuncts=(self.conjuncts(a, None), self.conjuncts(b, None)),
                data={"measures": [na, nb], "cites": ctx.cites(a) + ctx.cites(b)},
                settled=settle,
            )

    # ------------------------------------------------------------------ merges and holes
    def merges(self, measure: P.Measure) -> None:
        """P501 clauses that could be one; P404 adjacent thresholds that leave one value out."""
        ctx = self.ctx
        clauses = [c for c in measure.clauses if not ctx.is_dead(c)]
        keyed = {c.id: _keys(c, self.plan) for c in clauses}
        for i, a in enumerate(clauses):
            for b in clauses[i + 1 :]:
                if (a.kind, a.exception_of, a.priority) != (
                    b.kind,
                    b.exception_of,
                    b.priority,
                ) or self.copied(a, b):
                    continue
                diff = _one_difference(keyed[a.id], keyed[b.id])
                if diff is None:
                    continue
                sa, sb = diff
                if isinstance(sa.constraint, Interval) and isinstance(sb.constraint, Interval):
                    gap = _single_gap(sa.constraint, sb.constraint)
                    if gap is not None:
                        self.hole(measure, a, b, sa, sb, gap, keyed[a.id], keyed[b.id])
                        continue
                    if _disjoint_with_gap(sa.constraint, sb.constraint):
                        continue
                    merged: Message = text(
                        describe_interval(
                            sa.fact, sa.constraint.join(sb.constraint), self.show(sa.fact), self.ctx.chinese
                        )
                    )
                elif isinstance(sa.constraint, frozenset) and isinstance(sb.constraint, frozenset):
                    union = sa.constraint | sb.constraint
                    spec = self.plan.facts[sa.fact]
                    if spec.kind == "bool":
                        if union != frozenset({"True", "False"}):
                            continue
                        merged = msg("clauses.no_condition", fact=sa.fact)
                    else:
                        members = list(self.plan.enums.get(spec.enum or "", {}))
                        listed = ", ".join(m for m in members if m in union)
                        merged = text(f"{sa.fact} {spelling('in', self.ctx.chinese)} [{listed}]")
                else:
                    continue
                if not _same_amount(a.amount, b.amount):
                    continue
                self.mergeable(measure, a, b, merged)

    def show(self, fact: str) -> Callable[[Fraction], str]:
        spec = self.plan.facts[fact]
        return lambda v: literal(v, spec, self.ctx.chinese)

    def mergeable(self, measure: P.Measure, a: P.Clause, b: P.Clause, merged: Message) -> None:
        ctx, enc = self.ctx, self.enc
        ia, ib = a.id, b.id
        wa = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, a)],
            code=codes.P501,
            targets=(ia, ib),
            span=b.span,
            what=msg("clauses.whether_clause_applies", clause=ia),
            facts=ctx.clause_facts(measure, a),
        )
        wb = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, b)],
            code=codes.P501,
            targets=(ia, ib),
            span=b.span,
            what=msg("clauses.whether_clause_applies", clause=ib),
            facts=ctx.clause_facts(measure, b),
        )
        if wa is None or wb is None or not (wa.sat and wb.sat):
            return
        data: dict[str, Any] = {
            "clauses": [ia, ib],
            "cites": ctx.cites(measure, a, b),
            **ctx.witness_data(wa.witness),
        }
        other = ctx.witness_data(wb.witness)
        if other:
            data["witness_other"] = other.get("witness", {})
        notes: tuple[Note, ...] = (
            Note(msg("clauses.same_amount_in", clause=ctx.clause_label(measure, a)), _at(a.span)),
        )
        if wb.witness is not None:
            notes += (Note(msg("witness.applies_to", clause=ib, applicant=ctx.describe(wb.witness))),)
        ctx.add(
            Finding(
                codes.P501,
                msg("clauses.mergeable", a=ctx.clause_label(measure, a), b=ctx.clause_label(measure, b)),
                _at(b.span),
                (ia, ib),
                notes,
                msg("clauses.mergeable_hint", merged=merged),
                wa.witness,
                data,
            )
        )

    def hole(
        self,
        measure: P.Measure,
        a: P.Clause,
        b: P.Clause,
        sa: Simple,
        sb: Simple,
        gap: Fraction,
        keys_a: list[Any],
        keys_b: list[Any],
    ) -> None:
        ctx, enc = self.ctx, self.enc
        ia, ib = a.id, b.id
        common = [k for k in keys_a if _key_id(k) != ("s", sa.fact, sa.constraint)]
        spec = self.plan.facts[sa.fact]

        def build() -> list[Formula]:
            parts = [enc.gate(measure), enc.not_(enc.any_award(measure))]
            for k in common:
                parts += [enc.cond(k[1])] if k[0] == "e" else [enc.cond(n) for n in k[3]]
            parts.append(enc.compare("==", enc.fact(spec.name), enc.real(gap)))
            return parts

        facts = ctx.clause_facts(measure, a, b) | {sa.fact}
        answer = ctx.ask(
            build,
            code=codes.P404,
            targets=(ia, ib),
            span=b.span,
            what=msg("clauses.whether_gap", value=literal(gap, spec), a=ia, b=ib),
            facts=facts,
        )
        if answer is None or not answer.sat:
            return
        value = literal(gap, spec, self.ctx.chinese)
        wa, wb = (
            " and ".join(self.quote(n.span, n) for n in _nodes(keys, s))
            for keys, s in ((keys_a, sa), (keys_b, sb))
        )
        ctx.add(
            Finding(
                codes.P404,
                msg(
                    "clauses.hole",
                    a=ctx.clause_label(measure, a),
                    wa=wa,
                    b=ctx.clause_label(measure, b),
                    wb=wb,
                    label=spec.label,
                    value=value,
                    measure=measure.name,
                ),
                _at(b.span),
                (ia, ib),
                (Note(msg("clauses.other_band", clause=ctx.clause_label(measure, a)), _at(a.span)),),
                msg("clauses.hole_hint", value=value),
                answer.witness,
                {"clauses": [ia, ib], "cites": ctx.cites(measure, a, b), **ctx.witness_data(answer.witness)},
            )
        )


def _at(span: Span | None) -> Span:
    """A span the lowering sets on every node the analyses place a finding at."""
    assert span is not None, "the lowering gives this node its span"
    return span


def _tied(measure: P.Measure, a: P.Clause, b: P.Clause) -> bool:
    """Whether exceptions `a` and `b` of one default share a priority (`ExceptionGroup.ties`)."""
    return any(a.id in tie and b.id in tie for g in measure.groups for tie in g.ties)


def _same_amount(a: P.Amount, b: P.Amount) -> bool:
    """The same amount and caps (what is written, not how: the texts and reasons aside)."""
    return (a.mode, a.expr, [c.expr for c in a.caps]) == (b.mode, b.expr, [c.expr for c in b.caps])


def _holds(enc: Encoder, expr: P.Expr, negated: bool) -> Formula:
    f = enc.cond(expr)
    return enc.not_(f) if negated else f


def _candidate_pairs(boxes: Sequence[Box]) -> list[tuple[int, int]]:
    """The pairs (i < j, in order) of boxes that can meet on the two facts most of them restrict
    to a set of values (an enum, a truth value, the applicant kind); pairs apart on those are
    never formed, so a policy of thousands of measures in separate sectors costs no quadratic
    loop.  A box that does not restrict a fact meets every value of it."""
    counts: dict[str, int] = {}
    for box in boxes:
        if box.bottom:
            continue
        for fact, c in box.bounds.items():
            if isinstance(c, frozenset):
                counts[fact] = counts.get(fact, 0) + 1
    keys = sorted(counts, key=lambda f: (-counts[f], f))[:2]
    if not keys:
        return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))]
    domains: dict[str, list[str]] = {}
    for f in keys:
        seen: set[str] = {"*"}
        for b in boxes:
            got = b.bounds.get(f)
            if isinstance(got, frozenset):
                seen |= got
        domains[f] = sorted(seen)
    cells: dict[tuple[str, ...], list[int]] = {}
    for i, box in enumerate(boxes):
        if box.bottom:
            continue
        values: list[list[str]] = []
        for f in keys:
            allowed = box.bounds.get(f)
            values.append(sorted(allowed) if isinstance(allowed, frozenset) else domains[f])
        for cell in itertools.product(*values):
            cells.setdefault(cell, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in cells.values():
        for x, i in enumerate(members):
            pairs.update((i, j) for j in members[x + 1 :])
    return sorted(pairs)


def _related(a: P.Clause, b: P.Clause) -> bool:
    """Clauses that cannot both apply by construction: a default and its exception, or two
    exceptions of one default (those with one priority are the ambiguity check's business)."""
    if a.exception_of == b.id or b.exception_of == a.id:
        return True
    return a.exception_of is not None and a.exception_of == b.exception_of


def _keys(clause: P.Clause, plan: P.Plan) -> list[Any]:
    """A clause's conditions as comparable keys: ("e", conjunct) for a general conjunct, and one
    ("s", fact, constraint, conjuncts) per fact for the simple ones (`50万以上 and 不满 100万` is one
    interval)."""
    out: list[Any] = []
    by_fact: dict[str, tuple[Any, list[P.Expr]]] = {}
    for conj in clause_conjuncts(clause):
        s = simple(conj, plan)
        if s is None:
            out.append(("e", conj))
            continue
        if s.fact in by_fact:
            constraint, nodes = by_fact[s.fact]
            merged = Box({s.fact: constraint}).meet(Box({s.fact: s.constraint}))
            by_fact[s.fact] = (merged.bounds.get(s.fact, constraint), [*nodes, conj])
        else:
            by_fact[s.fact] = (s.constraint, [conj])
    out += [("s", fact, constraint, tuple(nodes)) for fact, (constraint, nodes) in by_fact.items()]
    return out


def _nodes(keys: list[Any], s: Simple) -> tuple[P.Expr, ...]:
    for k in keys:
        if k[0] == "s" and k[1] == s.fact:
            return tuple(k[3])
    return (s.node,)


def _key_id(key: Any) -> Any:
    return key[:3] if key[0] == "s" else key


def _one_difference(a: list[Any], b: list[Any]) -> tuple[Simple, Simple] | None:
    """The one simple conjunct on the same fact by which two conjunct lists differ, if that is all."""
    ids_a = [_key_id(k) for k in a]
    ids_b = [_key_id(k) for k in b]
    only_a = [k for k, i in zip(a, ids_a, strict=True) if i not in ids_b]
    only_b = [k for k, i in zip(b, ids_b, strict=True) if i not in ids_a]
    if len(only_a) != 1 or len(only_b) != 1 or len(a) != len(b):
        return None
    ka, kb = only_a[0], only_b[0]
    if ka[0] != "s" or kb[0] != "s" or ka[1] != kb[1]:
        return None
    return Simple(ka[1], ka[2], ka[3][0]), Simple(kb[1], kb[2], kb[3][0])


def _single_gap(a: Interval, b: Interval) -> Fraction | None:
    """The one number that lies between two intervals and in neither, if exactly one does."""
    for low, high in ((a, b), (b, a)):
        if low.hi is not None and high.lo is not None and low.hi == high.lo and low.hi_open and high.lo_open:
            return low.hi
    return None


def _disjoint_with_gap(a: Interval, b: Interval) -> bool:
    if not a.meet(b).empty:
        return False
    for low, high in ((a, b), (b, a)):
        if (
            low.hi is not None
            and high.lo is not None
            and low.hi == high.lo
            and not (low.hi_open and high.lo_open)
        ):
            return False  # they touch: [.., c) and [c, ..)
    return True


def _boundary_hint(a: list[Simple], b: list[Simple], plan: P.Plan, chinese: bool) -> Message | None:
    """When two conditions meet at one number that both include: the statutory words to split it."""
    for sa in a:
        for sb in b:
            if (
                sa.fact != sb.fact
                or not isinstance(sa.constraint, Interval)
                or not isinstance(sb.constraint, Interval)
            ):
                continue
            meet = sa.constraint.meet(sb.constraint)
            if meet.lo is None or meet.lo != meet.hi or meet.empty:
                continue
            if sa.constraint.lo == sa.constraint.hi or sb.constraint.lo == sb.constraint.hi:
                continue
            value = literal(meet.lo, plan.facts[sa.fact], chinese)
            words = msg("combine.amounts", a=f"`{_word(sa.node)}`", b=f"`{_word(sb.node)}`")
            return msg("clauses.boundary_hint", words=words, value=value)
    return None


def _word(node: P.Expr) -> str:
    return node.word if isinstance(node, P.Cmp) else "="


def _amount_of(values: dict[str, str], index: int) -> Message:
    """The `index`th of an overlap's two amounts, with the clause or measure it is of."""
    name, amount = list(values.items())[index]
    return msg("clauses.amount_of", name=name, amount=amount)
