"""Clause analyses: dead clauses, overlaps (within and across measures), exceptions, merges, holes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import partial
from typing import Any

from policydsl import ast
from policydsl.checks.analysis_base import (
    Context,
    Finding,
    PlanEncoder,
    measure_label,
)
from policydsl.checks.analysis_boxes import (
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
from policydsl.checks.analysis_witness import amount_text, literal
from policydsl.diagnostics import Note
from policydsl.keywords import COMBINE_MODES
from policydsl.smt import Answer, Formula, SolverError, Unsupported
from policydsl.source import Span

Part = tuple[str, Span, Callable[[], Formula]]


class ClauseChecks:
    """Runs the clause analyses over one policy, in an order where each can skip what an earlier
    one found dead."""

    def __init__(self, ctx: Context, text: str) -> None:
        self.ctx = ctx
        self.enc = ctx.enc
        self.model = ctx.model
        self.text = text
        self.shared = shared_box(ctx.model)
        self.boxes: dict[int, Box] = {}
        self.copies: set[tuple[int, int]] = set()  # (id, id) of a clause and its word-for-word copy

    def quote(self, node: ast.Node) -> str:
        if self.text and node.span.end <= len(self.text):
            return " ".join(self.text[node.span.start : node.span.end].split())
        return type(node).__name__

    # ------------------------------------------------------------------ unsat cores as notes
    def gate_parts(self, measure: ast.Measure | None) -> list[Part]:
        enc = self.enc
        parts: list[Part] = []
        for e in self.model.policy.of(ast.Eligibility):
            for r in e.requirements:
                what = f"eligibility “{r.reason or self.quote(r.cond)}”"
                parts.append((what, r.span, partial(_holds, enc, r.cond, False)))
        if measure is None:
            return parts
        for a in measure.of(ast.Applicants):
            parts.append((f"`{self.quote(a)}`", a.span, partial(enc.kind_gate, measure)))
        for r in measure.of(ast.Requirement):
            what = f"requirement “{r.reason or self.quote(r.cond)}”"
            parts.append((what, r.span, partial(_holds, enc, r.cond, False)))
        for x in measure.of(ast.Exclusion):
            what = f"exclusion “{x.reason or self.quote(x.cond)}”"
            parts.append((what, x.span, partial(_holds, enc, x.cond, True)))
        return parts

    def clause_parts(self, clause: ast.Clause) -> list[Part]:
        """Each conjunct of the clause's conditions on its own, so a core can name the two that clash."""
        parts: list[Part] = []
        for c in clause.conditions:
            for piece in [c.expr] if c.negated else list(conjuncts(c.expr)):
                what = f"`unless {self.quote(piece)}`" if c.negated else f"`{self.quote(piece)}`"
                parts.append((f"condition {what}", piece.span, partial(_holds, self.enc, piece, c.negated)))
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
            return [Note("the declared bounds of the facts and the `assume` background facts rule it out")]
        if len(core) == 1:
            what, span, _ = parts[int(core[0])]
            return [Note(f"{what} cannot hold under the declared bounds and background facts", span)]
        return [
            Note(f"cannot hold together with the others noted: {parts[int(i)][0]}", parts[int(i)][1])
            for i in core
        ]

    # ------------------------------------------------------------------ the policy as a whole
    def eligibility(self) -> bool:
        """P104: False when no applicant can ever be eligible (every later check is moot)."""
        ctx, enc = self.ctx, self.enc
        blocks = self.model.policy.of(ast.Eligibility)
        header = self.model.policy.header
        span = blocks[0].span if blocks else header.span if header is not None else None
        if span is None:  # every diagnostic has a position: the background facts, or the file's start
            assumes = self.model.policy.of(ast.Assume)
            span = assumes[0].span if assumes else self.model.policy.span
        facts = ctx.facts_for()
        answer = ctx.ask(
            lambda: [enc.eligibility()],
            code="P104",
            targets=(),
            span=span,
            what="whether any applicant can be eligible",
            facts=facts,
        )
        if answer is None or not answer.unsat:
            return True
        notes = self.core_notes(self.gate_parts(None))
        ctx.add(
            Finding(
                "P104",
                "no applicant can satisfy the shared eligibility while the policy is in force",
                span,
                ("eligibility",),
                tuple(notes),
                hint="check the thresholds of the `eligibility` block against each other and the validity",
            )
        )
        return False

    # ------------------------------------------------------------------ one measure
    def measure(self, measure: ast.Measure) -> None:
        if self.cycles(measure):
            self.ctx.kill(measure)
            return
        if not self.gate(measure):
            return
        gate = gate_box(measure, self.model, self.shared)
        for clause in measure.clauses:
            self.boxes[id(clause)] = gate.meet(clause_box(clause, self.model))
        self.duplicates(measure)
        for clause in measure.clauses:
            self.alive(measure, clause)
        self.ambiguous(measure)
        self.overlaps(measure)
        self.merges(measure)

    def duplicates(self, measure: ast.Measure) -> None:
        """P205: a clause that repeats an earlier one of its measure word for word (a copy-paste slip:
        both apply to the same applicants and both are paid). The pair is not compared again as an
        overlap, an ambiguity or a merge."""
        ctx = self.ctx
        first: dict[ast.Clause, ast.Clause] = {}  # keyed by value on purpose: equal clauses meet here
        for clause in measure.clauses:
            original = first.setdefault(clause, clause)
            if original is clause:
                continue
            self.copies.add((id(original), id(clause)))
            ia, ib = ctx.id_of(original), ctx.id_of(clause)
            effect = (
                "paid twice wherever it applies"
                if clause.exception_of is None
                else "two exceptions that always tie"
            )
            self.ctx.add(
                Finding(
                    "P205",
                    f"`{ib}` repeats `{ia}` word for word: a duplicated clause, {effect}",
                    clause.span,
                    (ia, ib),
                    (Note(f"the first copy {ctx.clause_label(measure, original)}", original.span),),
                    "delete the copy; if the amount is meant to be paid twice, write it once as the sum",
                    data={"clauses": [ia, ib], "cites": ctx.cites(measure, original, clause)},
                )
            )

    def copied(self, a: ast.Clause, b: ast.Clause) -> bool:
        """`b` is a word-for-word copy of `a` (or `a` of `b`), already reported as P205."""
        return (id(a), id(b)) in self.copies or (id(b), id(a)) in self.copies

    def cycles(self, measure: ast.Measure) -> bool:
        """P302: a clause that is, through its defaults, an exception to itself."""
        ctx = self.ctx
        by_name = {c.name.text: c for c in measure.clauses if c.name is not None}
        found = False
        reported: set[str] = set()
        for clause in measure.clauses:
            path: list[ast.Clause] = []
            current: ast.Clause | None = clause
            while current is not None and current.exception_of is not None and not _among(current, path):
                path.append(current)
                current = by_name.get(current.exception_of.text)
            if current is None or not _among(current, path):
                continue
            loop = path[ast.position(path, current) :]
            names = sorted(ctx.id_of(c) for c in loop)
            if names[0] in reported:
                continue
            reported.add(names[0])
            found = True
            chain = " → ".join(ctx.id_of(c) for c in [*loop, loop[0]])
            notes = tuple(
                Note(
                    f"`{ctx.id_of(c)}` is an exception of `{c.exception_of.text}`",
                    c.exception_of.span,
                )
                for c in loop
                if c.exception_of is not None
            )
            self.ctx.add(
                Finding(
                    "P302",
                    f"exceptions form a cycle: {chain}",
                    loop[0].span,
                    tuple(names),
                    notes,
                    hint="an exception must replace a clause that is not "
                    "itself (through its defaults) an exception of it",
                    data={"cycle": names},
                )
            )
        return found

    def gate(self, measure: ast.Measure) -> bool:
        """P103: False when the measure admits no applicant at all."""
        ctx, enc = self.ctx, self.enc
        name = measure.name.text
        answer = ctx.ask(
            lambda: [enc.gate(measure)],
            code="P103",
            targets=(name,),
            span=measure.name.span,
            what=f"whether {measure_label(measure)} admits any applicant",
        )
        if answer is None or not answer.unsat:
            return True
        ctx.kill(measure)
        notes = self.core_notes(self.gate_parts(measure))
        ctx.add(
            Finding(
                "P103",
                f"{measure_label(measure)} can never pay: no applicant meets what it requires",
                measure.name.span,
                (name,),
                tuple(notes),
                data={"cites": ctx.cites(measure)},
            )
        )
        return False

    def alive(self, measure: ast.Measure, clause: ast.Clause) -> None:
        """P101 dead clause, P102 always replaced by an exception, P502 masked by a sibling."""
        ctx, enc = self.ctx, self.enc
        cid = ctx.id_of(clause)
        shape = enc.shape(measure)
        facts = ctx.clause_facts(measure, clause)
        bonus = clause.kind == "bonus"
        first = ctx.ask(
            lambda: [enc.gate(measure), enc.fires(clause)],
            code="P101",
            targets=(cid,),
            span=clause.span,
            what=f"whether {ctx.clause_label(measure, clause)} can apply",
            facts=facts,
        )
        if first is None:
            return
        if first.unsat:
            ctx.kill(clause)
            core = tuple(self.core_notes(self.gate_parts(measure) + self.clause_parts(clause)))
            ctx.add(
                Finding(
                    "P101",
                    f"{ctx.clause_label(measure, clause)} can never apply: its conditions cannot "
                    "hold for an applicant the measure admits",
                    clause.span,
                    (cid,),
                    core,
                    data={"clauses": [cid], "cites": ctx.cites(measure, clause)},
                )
            )
            return
        if bonus:
            with_award = ctx.ask(
                lambda: [enc.gate(measure), enc.applies(measure, clause)],
                code="P101",
                targets=(cid,),
                span=clause.span,
                what=f"whether {ctx.clause_label(measure, clause)} can apply",
                facts=facts,
            )
            if with_award is not None and with_award.unsat:
                ctx.kill(clause)
                ctx.add(
                    Finding(
                        "P101",
                        f"bonus {ctx.clause_label(measure, clause)} can never apply: whenever its "
                        "conditions hold, no award clause of the measure applies",
                        clause.span,
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
        exceptions = shape.exceptions(clause)
        higher = shape.higher_siblings(clause)
        if not exceptions and not higher:
            return
        second = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, clause)],
            code="P102",
            targets=(cid,),
            span=clause.span,
            what=f"whether {ctx.clause_label(measure, clause)} can apply",
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
                code="P102",
                targets=(cid,),
                span=clause.span,
                what=f"whether {ctx.clause_label(measure, clause)} is always replaced",
            )
        if replaced is not None and replaced.unsat:
            names = ", ".join(f"`{ctx.id_of(e)}`" for e in exceptions)
            notes: tuple[Note, ...] = tuple(
                Note(f"exception {ctx.clause_label(measure, e)}", e.span) for e in exceptions
            )
            ctx.add(
                Finding(
                    "P102",
                    f"{ctx.clause_label(measure, clause)} never applies: whenever its conditions hold, "
                    f"its exception {names} applies instead",
                    clause.span,
                    (cid, *(ctx.id_of(e) for e in exceptions)),
                    notes,
                    witness=first.witness,
                    hint="narrow the exception, or drop the default if the exception covers it",
                    data=data,
                )
            )
        elif higher:
            names = ", ".join(f"`{ctx.id_of(h)}` (priority {h.priority or 0})" for h in higher)
            notes = tuple(
                Note(f"higher-priority exception {ctx.clause_label(measure, h)}", h.span) for h in higher
            )
            ctx.add(
                Finding(
                    "P502",
                    f"exception {ctx.clause_label(measure, clause)} (priority {clause.priority or 0}) "
                    f"never wins: whenever it applies, {names} applies too and takes precedence",
                    clause.span,
                    (cid, *(ctx.id_of(h) for h in higher)),
                    notes,
                    witness=first.witness,
                    hint="give it a higher priority, or remove it",
                    data=data,
                )
            )

    def ambiguous(self, measure: ast.Measure) -> None:
        """P301: two exceptions of one default with the same priority can both apply."""
        ctx, enc = self.ctx, self.enc
        shape = enc.shape(measure)
        for default in shape.awards:
            exceptions = [e for e in shape.exceptions(default) if not ctx.is_dead(e)]
            for i, a in enumerate(exceptions):
                for b in exceptions[i + 1 :]:
                    if not shape.tied(a, b) or self.copied(a, b):
                        continue
                    ia, ib = ctx.id_of(a), ctx.id_of(b)
                    if self.boxes[id(a)].disjoint(self.boxes[id(b)]):
                        ctx.filtered += 1
                        continue
                    higher = shape.higher_siblings(a)
                    answer = ctx.ask(
                        partial(self._both_fire, measure, a, b, higher),
                        code="P301",
                        targets=(ia, ib),
                        span=b.span,
                        what=f"whether exceptions `{ia}` and `{ib}` can both apply",
                        facts=ctx.clause_facts(measure, a, b),
                    )
                    if answer is None or not answer.sat:
                        continue
                    prio = "no priority" if a.priority is None else f"the same priority {a.priority}"
                    ctx.add(
                        Finding(
                            "P301",
                            f"exceptions {ctx.clause_label(measure, a)} and "
                            f"{ctx.clause_label(measure, b)} of "
                            f"`{ctx.id_of(default)}` can both apply with {prio}: "
                            "which one replaces it is undetermined",
                            b.span,
                            (ia, ib),
                            (Note(f"the other exception {ctx.clause_label(measure, a)}", a.span),),
                            witness=answer.witness,
                            hint=f"give one of them a higher `priority`, e.g. "
                            f"`exception {default.name.text if default.name else ''} priority 2`",
                            data={
                                "clauses": [ia, ib],
                                "cites": ctx.cites(measure, a, b),
                                **ctx.witness_data(answer.witness),
                            },
                        )
                    )

    def _both_fire(
        self, measure: ast.Measure, a: ast.Clause, b: ast.Clause, higher: list[ast.Clause]
    ) -> list[Formula]:
        enc = self.enc
        return [
            enc.gate(measure),
            enc.fires(a),
            enc.fires(b),
            enc.not_(enc.or_(*(enc.fires(h) for h in higher))),
        ]

    # ------------------------------------------------------------------ overlaps
    def overlaps(self, measure: ast.Measure) -> None:
        """P203/P204: two award clauses of one measure both apply; can their amounts differ?"""
        ctx, enc = self.ctx, self.enc
        shape = enc.shape(measure)
        awards = [c for c in shape.awards if not ctx.is_dead(c)]
        for i, a in enumerate(awards):
            for b in awards[i + 1 :]:
                if _related(a, b) or self.copied(a, b):
                    continue
                if self.boxes[id(a)].disjoint(self.boxes[id(b)]):
                    ctx.filtered += 1
                    continue
                ia, ib = ctx.id_of(a), ctx.id_of(b)
                self.overlap(
                    partial(self._clauses_apply, measure, a, b),
                    partial(self._clause_amounts, measure, a, b),
                    codes=("P203", "P204"),
                    targets=(ia, ib),
                    span=b.span,
                    names=(ctx.clause_label(measure, a), ctx.clause_label(measure, b)),
                    facts_amounts=ctx.clause_facts(measure, a, b, amounts=True),
                    other=(f"the other clause {ctx.clause_label(measure, a)}", a.span),
                    conjuncts=(self.conjuncts(measure, a), self.conjuncts(measure, b)),
                    data={"clauses": [ia, ib], "cites": ctx.cites(measure, a, b)},
                    settled=None,
                )

    def _clauses_apply(self, measure: ast.Measure, a: ast.Clause, b: ast.Clause) -> list[Formula]:
        enc = self.enc
        return [enc.gate(measure), enc.applies(measure, a), enc.applies(measure, b)]

    def _clause_amounts(
        self, measure: ast.Measure, a: ast.Clause, b: ast.Clause, rounded: bool
    ) -> dict[str, Any]:
        enc = self.enc
        ctx = self.ctx
        return {
            ctx.id_of(a): enc.clause_amount(a, rounded),
            ctx.id_of(b): enc.clause_amount(b, rounded),
        }

    def _measures_pay(self, a: ast.Measure, b: ast.Measure) -> list[Formula]:
        return [self.enc.pays(a), self.enc.pays(b)]

    def _measure_amounts(self, a: ast.Measure, b: ast.Measure, rounded: bool) -> dict[str, Any]:
        enc = self.enc
        return {a.name.text: enc.measure_amount(a, rounded), b.name.text: enc.measure_amount(b, rounded)}

    def conjuncts(self, measure: ast.Measure, clause: ast.Clause | None) -> list[Simple]:
        exprs: list[ast.Expr] = [r.cond for r in measure.of(ast.Requirement)]
        for c in [clause] if clause is not None else [c for c in measure.clauses if c.kind == "award"][:1]:
            exprs += clause_conjuncts(c)
        out = []
        for e in exprs:
            s = simple(e, self.model)
            if s is not None:
                out.append(s)
        return out

    def overlap(
        self,
        both: Callable[[], list[Formula]],
        amounts: Callable[[bool], dict[str, Any]],
        *,
        codes: tuple[str, str],
        targets: tuple[str, str],
        span: Span,
        names: tuple[str, str],
        facts_amounts: set[str],
        other: tuple[str, Span],
        conjuncts: tuple[list[Simple], list[Simple]],
        data: dict[str, Any],
        settled: tuple[str, Span] | None,
    ) -> None:
        ctx, enc = self.ctx, self.enc
        what = f"whether {names[0]} and {names[1]} can both apply"
        rounded = partial(amounts, True)
        first = ctx.ask(
            both, code=codes[0], targets=targets, span=span, what=what, facts=facts_amounts, show=rounded
        )
        if first is None or not first.sat:
            return

        def differ(exact: bool) -> Callable[[], list[Formula]]:
            def build() -> list[Formula]:
                shown = list(amounts(exact).values())
                return [*both(), enc.compare("!=", shown[0], shown[1])]

            return build

        what = f"whether the amounts of {names[0]} and {names[1]} can differ when both apply"
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
        hint = _boundary_hint(*conjuncts, self.model) or (
            "make the conditions exclusive, declare how they combine, or acknowledge the overlap: "
            f'`acknowledge {codes[0] if second.sat else codes[1]} {{ {", ".join(targets)} }} "reason"`'
        )
        answer = second if second.sat else first
        values = {k: amount_text(v, k in answer.unset) for k, v in answer.values.items()}
        shown = " and ".join(f"`{k}` {v}" for k, v in values.items())
        if second.sat:
            code, message = (
                codes[0],
                (
                    f"{names[0]} and {names[1]} can both apply to one applicant and their "
                    f"amounts differ ({shown} here); the text does not say whether both are paid"
                ),
            )
        else:
            code, message = (
                codes[1],
                (
                    f"{names[0]} and {names[1]} can both apply to one applicant with always "
                    f"equal amounts ({shown} here); both would be paid"
                ),
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

    def cross(self, measures: Sequence[ast.Measure]) -> None:
        """P201/P202: two measures both pay one applicant and no `combine` says how."""
        ctx = self.ctx
        settled: dict[frozenset[str], tuple[str, Span]] = {}
        for comb in self.model.policy.of(ast.Combine):
            mode = COMBINE_MODES.get(comb.mode.text, comb.mode.text)
            reason = f"declared `combine {comb.mode.text}`" + (f" ({mode})" if mode != comb.mode.text else "")
            if comb.reason:
                reason += f": {comb.reason}"
            for x in comb.measures:
                for y in comb.measures:
                    if x.text != y.text:
                        settled.setdefault(frozenset((x.text, y.text)), (reason, comb.span))
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
                    box = self.boxes.get(id(c)) or gate_box(m, self.model, self.shared)
                    hull = box if hull is None else hull.join(box)
            boxes[m.name.text] = hull if hull is not None else gate_box(m, self.model, self.shared)
        hulls = [boxes[m.name.text] for m in paying]
        candidates = _candidate_pairs(hulls)
        ctx.filtered += len(paying) * (len(paying) - 1) // 2 - len(candidates)
        for k, (i, j) in enumerate(candidates):
            # once the budget is spent every remaining pair is skipped at once: a loop that only
            # counted them would still cost time in proportion to the pairs of a large file
            if ctx.out_of_budget(len(candidates) - k):
                break
            a, b = paying[i], paying[j]
            na, nb = a.name.text, b.name.text
            settle = settled.get(frozenset((na, nb)))
            if settle is not None and not ctx.options.verbose:
                continue
            if hulls[i].disjoint(hulls[j]):
                ctx.filtered += 1
                continue
            self.overlap(
                partial(self._measures_pay, a, b),
                partial(self._measure_amounts, a, b),
                codes=("P201", "P202"),
                targets=(na, nb),
                span=b.name.span,
                names=(measure_label(a), measure_label(b)),
                facts_amounts=ctx.facts_for([a, b], a.clauses + b.clauses, amounts=True),
                other=(f"the other measure {measure_label(a)}", a.name.span),
                conjuncts=(self.conjuncts(a, None), self.conjuncts(b, None)),
                data={"measures": [na, nb], "cites": ctx.cites(a) + ctx.cites(b)},
                settled=settle,
            )

    # ------------------------------------------------------------------ merges and holes
    def merges(self, measure: ast.Measure) -> None:
        """P501 clauses that could be one; P404 adjacent thresholds that leave one value out."""
        ctx = self.ctx
        clauses = [c for c in measure.clauses if not ctx.is_dead(c)]
        keyed = {id(c): _keys(c, self.model) for c in clauses}
        for i, a in enumerate(clauses):
            for b in clauses[i + 1 :]:
                if (a.kind, _text(a.exception_of), a.priority) != (
                    b.kind,
                    _text(b.exception_of),
                    b.priority,
                ) or self.copied(a, b):
                    continue
                diff = _one_difference(keyed[id(a)], keyed[id(b)])
                if diff is None:
                    continue
                sa, sb = diff
                if isinstance(sa.constraint, Interval) and isinstance(sb.constraint, Interval):
                    gap = _single_gap(sa.constraint, sb.constraint)
                    if gap is not None:
                        self.hole(measure, a, b, sa, sb, gap, keyed[id(a)], keyed[id(b)])
                        continue
                    if _disjoint_with_gap(sa.constraint, sb.constraint):
                        continue
                    merged = describe_interval(sa.fact, sa.constraint.join(sb.constraint), self.show(sa.fact))
                elif isinstance(sa.constraint, frozenset) and isinstance(sb.constraint, frozenset):
                    union = sa.constraint | sb.constraint
                    ty = self.model.facts[sa.fact].type
                    if ty.kind == "bool":
                        if union != frozenset({"True", "False"}):
                            continue
                        merged = f"no condition on `{sa.fact}`"
                    else:
                        members = list(self.model.enums.get(ty.enum or "", {}))
                        merged = f"{sa.fact} in [{', '.join(m for m in members if m in union)}]"
                else:
                    continue
                if a.amount != b.amount:
                    continue
                self.mergeable(measure, a, b, merged)

    def show(self, fact: str) -> Callable[[Fraction], str]:
        ty = self.model.facts[fact].type
        return lambda v: literal(v, ty, self.model.policy.chinese)

    def mergeable(self, measure: ast.Measure, a: ast.Clause, b: ast.Clause, merged: str) -> None:
        ctx, enc = self.ctx, self.enc
        ia, ib = ctx.id_of(a), ctx.id_of(b)
        wa = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, a)],
            code="P501",
            targets=(ia, ib),
            span=b.span,
            what=f"whether `{ia}` applies",
            facts=ctx.clause_facts(measure, a),
        )
        wb = ctx.ask(
            lambda: [enc.gate(measure), enc.applies(measure, b)],
            code="P501",
            targets=(ia, ib),
            span=b.span,
            what=f"whether `{ib}` applies",
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
        notes: tuple[Note, ...] = (Note(f"the same amount in {ctx.clause_label(measure, a)}", a.span),)
        if wb.witness is not None:
            notes += (Note(f"`{ib}` applies to: {ctx.describe(wb.witness)}"),)
        ctx.add(
            Finding(
                "P501",
                f"{ctx.clause_label(measure, a)} and {ctx.clause_label(measure, b)} give the same amount "
                "on adjacent conditions: they could be one clause",
                b.span,
                (ia, ib),
                notes,
                f"write one clause with {merged}",
                wa.witness,
                data,
            )
        )

    def hole(
        self,
        measure: ast.Measure,
        a: ast.Clause,
        b: ast.Clause,
        sa: Simple,
        sb: Simple,
        gap: Fraction,
        keys_a: list[Any],
        keys_b: list[Any],
    ) -> None:
        ctx, enc = self.ctx, self.enc
        ia, ib = ctx.id_of(a), ctx.id_of(b)
        common = [k for k in keys_a if _key_id(k) != ("s", sa.fact, sa.constraint)]
        sym = self.model.facts[sa.fact]

        def build() -> list[Formula]:
            parts = [enc.gate(measure), enc.not_(enc.any_award(measure))]
            for k in common:
                parts += [enc.cond(k[1])] if k[0] == "e" else [enc.cond(n) for n in k[3]]
            parts.append(enc.compare("==", enc.fact(sym), enc.real(gap)))
            return parts

        facts = ctx.clause_facts(measure, a, b) | {sa.fact}
        answer = ctx.ask(
            build,
            code="P404",
            targets=(ia, ib),
            span=b.span,
            what=f"whether {literal(gap, sym.type)} falls between `{ia}` and `{ib}`",
            facts=facts,
        )
        if answer is None or not answer.sat:
            return
        value = literal(gap, sym.type, self.model.policy.chinese)
        wa, wb = (
            " and ".join(self.quote(n) for n in _nodes(keys, s)) for keys, s in ((keys_a, sa), (keys_b, sb))
        )
        ctx.add(
            Finding(
                "P404",
                f"{ctx.clause_label(measure, a)} (`{wa}`) and "
                f"{ctx.clause_label(measure, b)} (`{wb}`) both exclude "
                f"{sym.label} = {value}: an applicant at exactly {value} gets nothing "
                f"from `{measure.name.text}`",
                b.span,
                (ia, ib),
                (Note(f"the other band {ctx.clause_label(measure, a)}", a.span),),
                f"不满 and 超过 both exclude the number (Civil Code Art. 1259); write `{value}以上` "
                f"for the upper band (or `不超过 {value}` for the lower one)",
                answer.witness,
                {"clauses": [ia, ib], "cites": ctx.cites(measure, a, b), **ctx.witness_data(answer.witness)},
            )
        )


def _holds(enc: PlanEncoder, expr: ast.Expr, negated: bool) -> Formula:
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


def _among(node: ast.Node, items: Sequence[ast.Node]) -> bool:
    """`node` itself is in `items` (`in` compares by value, and equal clauses are not the same)."""
    return any(item is node for item in items)


def _text(ident: ast.Ident | None) -> str | None:
    return None if ident is None else ident.text


def _related(a: ast.Clause, b: ast.Clause) -> bool:
    """Clauses that cannot both apply by construction: a default and its exception, or two
    exceptions of one default (those with one priority are the ambiguity check's business)."""
    an, bn = _text(a.name), _text(b.name)
    ae, be = _text(a.exception_of), _text(b.exception_of)
    if (ae is not None and ae == bn) or (be is not None and be == an):
        return True
    return ae is not None and ae == be


def _keys(clause: ast.Clause, model: Any) -> list[Any]:
    """A clause's conditions as comparable keys: ("e", conjunct) for a general conjunct, and one
    ("s", fact, constraint, conjuncts) per fact for the simple ones (`50万以上 and 不满 100万` is one
    interval)."""
    out: list[Any] = []
    by_fact: dict[str, tuple[Any, list[ast.Expr]]] = {}
    for conj in clause_conjuncts(clause):
        s = simple(conj, model)
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


def _nodes(keys: list[Any], s: Simple) -> tuple[ast.Expr, ...]:
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


def _boundary_hint(a: list[Simple], b: list[Simple], model: Any) -> str | None:
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
            ty = model.facts[sa.fact].type
            value = literal(meet.lo, ty, model.policy.chinese)
            words = " and ".join(f"`{_word(s.node)}`" for s in (sa, sb))
            return (
                f"{words} both include {value} (以上、以下 include the number, 不满、超过 exclude it: "
                f"Civil Code Art. 1259); for adjacent bands write `不满 {value}` for the lower one"
            )
    return None


def _word(node: ast.Expr) -> str:
    return node.word if isinstance(node, ast.Compare) else "="
