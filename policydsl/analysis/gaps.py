"""Gaps: tier tables that miss an enum value, bands of thresholds with holes or overlaps,
progressive brackets with gaps or overlaps.

Reads the plan: its measures and clauses, and the tier tables and bands of their amounts, which
carry where they are written."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import attrs

from policydsl import codes
from policydsl.analysis.base import Context, Finding
from policydsl.analysis.boxes import Interval, plan_constant
from policydsl.analysis.smt import Encoder, Formula
from policydsl.analysis.witness import literal
from policydsl.diagnostics import Note
from policydsl.messages import Message, msg, text
from policydsl.plan import nodes as P
from policydsl.syntax.keywords import spelling

Site = tuple[P.Measure, P.Clause | None, Callable[[], list[Formula]], tuple[str, ...], str]


def tiers(exprs: Iterable[P.Expr | None]) -> Iterator[P.Table | P.Band]:
    """The tier tables and bands in `exprs`, last written first: the order the analysis has always
    reported them in (each expression after those written after it, itself before its parts)."""
    stack = [e for e in exprs if e is not None]
    while stack:
        expr = stack.pop()
        if isinstance(expr, P.Table | P.Band):
            yield expr
        stack.extend(P.children(expr))


def amount_tiers(clause: P.Clause) -> Iterator[P.Table | P.Band]:
    """The tier tables and bands of a clause's amount and caps."""
    return tiers([clause.amount.expr, *(cap.expr for cap in clause.amount.caps)])


def brackets(exprs: Iterable[P.Expr | None]) -> Iterator[P.Brackets]:
    """The progressive brackets in `exprs`, in the order `tiers` gives."""
    stack = [e for e in exprs if e is not None]
    while stack:
        expr = stack.pop()
        if isinstance(expr, P.Brackets):
            yield expr
        stack.extend(P.children(expr))


def sites(
    ctx: Context, find: Callable[[Iterable[P.Expr | None]], Iterator[Any]] = tiers
) -> Iterator[tuple[Any, Site]]:
    """Every tier table and band (or what `find` finds) in an amount, with the condition under
    which it is used: the clause applying for clause amounts and caps, the measure paying for its
    other amounts."""
    enc = ctx.enc
    for m in ctx.plan.measures:
        if ctx.is_dead(m):
            continue
        for c in m.clauses:
            if ctx.is_dead(c):
                continue
            site: Site = (m, c, partial(_clause_context, enc, m, c), (c.id,), ctx.clause_label(m, c))
            exprs = [c.amount.expr, *(cap.expr for cap in c.amount.caps)]
            yield from ((node, site) for node in find(exprs))
        items = [f.limit for f in m.funding_limits] + [g.amount for g in m.group_caps]
        for expr in [*items, *(b.amount for b in m.budgets)]:
            site = (m, None, partial(_measure_context, enc, m), (m.name,), f"`{m.name}`")
            yield from ((node, site) for node in find([expr]))


def _clause_context(enc: Encoder, m: P.Measure, c: P.Clause) -> list[Formula]:
    return [enc.gate(m), enc.fires(c)]


def _measure_context(enc: Encoder, m: P.Measure) -> list[Formula]:
    return [enc.pays(m)]


def check_gaps(ctx: Context) -> None:
    for node, site in sites(ctx):
        if isinstance(node, P.Table):
            _table(ctx, node, site)
        else:
            _band(ctx, node, site)
    for node, site in sites(ctx, brackets):
        _brackets(ctx, node, site)


def _facts(ctx: Context, site: Site, extra: P.Expr) -> set[str]:
    measure, clause = site[0], site[1]
    return ctx.facts_for([measure], [clause] if clause is not None else [], extra=[extra])


def _table(ctx: Context, node: P.Table, site: Site) -> None:
    """P401: a tier table without `otherwise` that has no row for a value an applicant can have."""
    if any(row.key is None for row in node.rows):
        return
    sym = ctx.plan.facts.get(node.fact)
    if sym is None or sym.enum is None:
        return
    members = dict(sym.members)
    given = {row.key for row in node.rows if row.key is not None}
    missing = [m for m in members if m not in given]
    measure, clause, context, targets, where = site
    reachable = []
    witness = None
    enc = ctx.enc
    for member in missing:
        answer = ctx.ask(
            partial(_with_key, enc, context, node, member),
            code=codes.P401,
            targets=targets,
            span=node.span,
            what=msg("gaps.whether_key", where=where, fact=sym.name, member=member),
            facts=_facts(ctx, site, node) | {sym.name},
        )
        if answer is not None and answer.sat:
            reachable.append(member)
            witness = witness or answer.witness
    if not reachable:
        return
    names = tuple(text(f"`{m}`（{members[m]}）" if members[m] != m else f"`{m}`") for m in reachable)
    chinese = ctx.chinese
    ctx.add(
        Finding(
            codes.P401,
            msg("gaps.no_tier", fact=sym.name, where=where, names=names),
            node.span,
            targets,
            (),
            msg(
                "gaps.no_tier_hint",
                key=reachable[0],
                otherwise=spelling("otherwise", chinese),
                unset=spelling("unset", chinese),
            ),
            witness,
            {
                "missing": reachable,
                "clauses": list(targets),
                "cites": ctx.cites(measure, *([clause] if clause else [])),
                **ctx.witness_data(witness),
            },
        )
    )


def _with_key(
    enc: Encoder, context: Callable[[], list[Formula]], node: P.Table, member: str
) -> list[Formula]:
    return [*context(), enc.table_key(node, member)]


def _both_bands(
    enc: Encoder, context: Callable[[], list[Formula]], node: P.Band, i: int, j: int
) -> list[Formula]:
    conds = enc.band_conditions(node)
    return [*context(), conds[i], conds[j]]


def _band(ctx: Context, node: P.Band, site: Site) -> None:
    """P402 a value no band covers; P403 two bands that both cover a value."""
    enc = ctx.enc
    measure, clause, context, targets, where = site
    facts = _facts(ctx, site, node)
    data_base = {"clauses": list(targets), "cites": ctx.cites(measure, *([clause] if clause else []))}
    shown = _Shown(node.subject_kind, node.subject_unit)

    def subject_values() -> dict[str, Any]:
        return {"subject": enc.num(node.subject)} if shown.kind in _NUMERIC else {}

    def covered() -> list[Formula]:
        conds = enc.band_conditions(node)
        return [*context(), enc.not_(enc.or_(*[c for c in conds if c is not None]))]

    if not any(row.bounds is None for row in node.rows):
        answer = ctx.ask(
            covered,
            code=codes.P402,
            targets=targets,
            span=node.span,
            what=msg("gaps.whether_covered", where=where),
            facts=facts,
            show=subject_values,
        )
        if answer is not None and answer.sat and node.counted_from is not None:
            _missing_year(ctx, node, site, answer)
        elif answer is not None and answer.sat:
            value = None if "subject" in answer.unset else answer.values.get("subject")
            at = _at_value(value, shown, ctx)
            hint = _hole_hint(node, value, ctx)
            ctx.add(
                Finding(
                    codes.P402,
                    msg("gaps.no_band", where=where, subject=_subject(node, ctx), at=at),
                    node.span,
                    targets,
                    (),
                    hint,
                    answer.witness,
                    {**data_base, **ctx.witness_data(answer.witness)},
                )
            )
    if node.counted_from is not None:
        return  # the rows of a schedule by year never overlap (E216)
    entries = [(i, row) for i, row in enumerate(node.rows) if row.bounds is not None]
    for x, (i, a) in enumerate(entries):
        for j, b in entries[x + 1 :]:
            if _intervals_disjoint(a, b, ctx):
                ctx.filtered += 1
                continue
            answer = ctx.ask(
                partial(_both_bands, enc, context, node, i, j),
                code=codes.P403,
                targets=targets,
                span=b.span,
                what=msg("gaps.whether_bands_overlap", where=where),
                facts=facts,
                show=subject_values,
            )
            if answer is None or not answer.sat:
                continue
            value = None if "subject" in answer.unset else answer.values.get("subject")
            at = _at_value(value, shown, ctx)
            ctx.add(
                Finding(
                    codes.P403,
                    msg("gaps.bands_overlap", where=where, subject=_subject(node, ctx), at=at),
                    b.span,
                    targets,
                    (Note(msg("gaps.other_band"), a.span),),
                    _overlap_hint(a, b, value, ctx),
                    answer.witness,
                    {**data_base, **ctx.witness_data(answer.witness)},
                )
            )


def _missing_year(ctx: Context, node: P.Band, site: Site, answer: Any) -> None:
    """P409: a year inside a schedule's span that no row gives (an applicant can be in it)."""
    measure, clause, _, targets, where = site
    value = None if "subject" in answer.unset else answer.values.get("subject")
    covered = {y for first, last in node.years for y in range(first, last + 1)}
    lo, hi = min(covered), max(covered)
    missing = [y for y in range(lo, hi + 1) if y not in covered]
    year = int(value) if value is not None else (missing[0] if missing else lo)
    said = f"第{lo}至{hi}年" if lo != hi else f"第{lo}年"
    ctx.add(
        Finding(
            codes.P409,
            msg("gaps.missing_year", where=where, year=year, start=str(node.counted_from), said=said),
            node.span,
            targets,
            (),
            msg("gaps.missing_year_hint", year=year, unset=spelling("unset", ctx.chinese)),
            answer.witness,
            {
                "year": year,
                "missing": missing,
                "clauses": list(targets),
                "cites": ctx.cites(measure, *([clause] if clause else [])),
                **ctx.witness_data(answer.witness),
            },
        )
    )


@attrs.frozen
class _Shown:
    """The type of a band's subject, as `literal` shows a value of it."""

    kind: str
    unit: str | None


_NUMERIC = ("money", "percent", "number", "count", "per_unit", "duration")


def _subject(node: P.Band | P.Brackets, ctx: Context) -> Message:
    subject = node.subject
    if isinstance(subject, P.FactRef):
        sym = ctx.plan.facts[subject.name]
        return text(f"{sym.label} `{sym.name}`" if sym.label != sym.name else f"`{sym.name}`")
    if isinstance(subject, P.ParamRef):
        return text(f"`{subject.name}`")
    return msg("gaps.band_subject") if isinstance(node, P.Band) else msg("gaps.brackets_subject")


def _at_value(value: Any, shown: _Shown, ctx: Context) -> Message:
    """` = 1000万`, the value a finding is at (nothing when it has none)."""
    return text("") if value is None else msg("gaps.at", value=literal(value, shown, ctx.chinese))


def _bounds(row: P.BandRow) -> list[tuple[str, P.Expr, str]]:
    """A band's bounds, each (op, value, the word written)."""
    return [(op, value, word) for (op, value), (word, _) in zip(row.bounds or (), row.words, strict=True)]


def _entry_interval(row: P.BandRow, ctx: Context) -> Interval | None:
    interval = Interval()
    for op, bound, _ in _bounds(row):
        value = plan_constant(bound, ctx.plan)
        got = None if value is None else Interval.of(op, value)
        if got is None:
            return None
        interval = interval.meet(got)
    return interval


def _intervals_disjoint(a: P.BandRow, b: P.BandRow, ctx: Context) -> bool:
    ia, ib = _entry_interval(a, ctx), _entry_interval(b, ctx)
    return ia is not None and ib is not None and ia.meet(ib).empty


def _hole_hint(node: P.Band, value: Any, ctx: Context) -> Message:
    missing = msg("gaps.add_band_hint", otherwise=spelling("otherwise", ctx.chinese))
    if value is None:
        return missing
    excluding = [
        word for row in node.rows for _, b, word in _bounds(row) if plan_constant(b, ctx.plan) == value
    ]
    if len(excluding) >= 2:
        words = msg("combine.amounts", a=f"`{excluding[0]}`", b=f"`{excluding[1]}`")
        return msg("gaps.both_exclude_hint", words=words)
    return missing


def _overlap_hint(a: P.BandRow, b: P.BandRow, value: Any, ctx: Context) -> Message:
    words = [word for row in (a, b) for _, bd, word in _bounds(row) if plan_constant(bd, ctx.plan) == value]
    if len(words) >= 2:
        both = msg("combine.amounts", a=f"`{words[0]}`", b=f"`{words[1]}`")
        return msg("gaps.both_include_hint", words=both)
    return msg("gaps.exclusive_hint")


# ---------------------------------------------------------------------------------- brackets


def _limits(enc: Encoder, node: P.Brackets, i: int) -> tuple[Any, Any]:
    """The lower and upper limit of bracket `i` as terms (zero below; None: no end)."""
    row = node.rows[i]
    lower = enc.real(0) if row.lower is None else enc.num(row.lower)
    return lower, None if row.upper is None else enc.num(row.upper)


def _in_gap(enc: Encoder, context: Callable[[], list[Formula]], node: P.Brackets, i: int) -> list[Formula]:
    """The subject lies above bracket `i`'s end and below where bracket `i + 1` starts."""
    subject = enc.num(node.subject)
    _, end = _limits(enc, node, i)
    start, _ = _limits(enc, node, i + 1)
    return [*context(), subject > end, subject < start]


def _in_both(
    enc: Encoder, context: Callable[[], list[Formula]], node: P.Brackets, i: int, j: int
) -> list[Formula]:
    """The subject lies inside bracket `i` and inside bracket `j`."""
    subject = enc.num(node.subject)
    out = [*context()]
    for k in (i, j):
        lower, upper = _limits(enc, node, k)
        out.append(subject > lower)
        if upper is not None:
            out.append(subject < upper)
    return out


def _constant_limits(node: P.Brackets, i: int, ctx: Context) -> tuple[Any, Any] | None:
    """Bracket `i`'s limits when both are figures (no end: None), else None."""
    row = node.rows[i]
    lower = 0 if row.lower is None else plan_constant(row.lower, ctx.plan)
    upper = None if row.upper is None else plan_constant(row.upper, ctx.plan)
    if lower is None or (row.upper is not None and upper is None):
        return None
    return lower, upper


def _brackets(ctx: Context, node: P.Brackets, site: Site) -> None:
    """P405 a part of the subject between two brackets that neither charges; P406 a part two
    brackets both charge (written out of order, or overlapping)."""
    enc = ctx.enc
    measure, clause, context, targets, where = site
    facts = _facts(ctx, site, node)
    data_base = {"clauses": list(targets), "cites": ctx.cites(measure, *([clause] if clause else []))}
    shown = _Shown(node.subject_kind, node.subject_unit)

    def subject_values() -> dict[str, Any]:
        return {"subject": enc.num(node.subject)}

    def at(answer: Any) -> Message:
        value = None if "subject" in answer.unset else answer.values.get("subject")
        return _at_value(value, shown, ctx)

    subject = _subject(node, ctx)
    rows = node.rows
    for i in range(len(rows) - 1):
        if rows[i].upper is None or rows[i + 1].lower is None:
            continue  # the checker refuses such brackets (E212)
        a, b = _constant_limits(node, i, ctx), _constant_limits(node, i + 1, ctx)
        if a is not None and b is not None and a[1] is not None and b[0] <= a[1]:
            ctx.filtered += 1
            continue
        answer = ctx.ask(
            partial(_in_gap, enc, context, node, i),
            code=codes.P405,
            targets=targets,
            span=rows[i + 1].span,
            what=msg("gaps.whether_bracket_gap", where=where),
            facts=facts,
            show=subject_values,
        )
        if answer is None or not answer.sat:
            continue
        ctx.add(
            Finding(
                codes.P405,
                msg("gaps.bracket_gap", where=where, subject=subject, at=at(answer)),
                rows[i + 1].span,
                targets,
                (Note(msg("gaps.bracket_before"), rows[i].span),),
                msg("gaps.bracket_gap_hint"),
                answer.witness,
                {**data_base, **ctx.witness_data(answer.witness)},
            )
        )
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            a, b = _constant_limits(node, i, ctx), _constant_limits(node, j, ctx)
            if a is not None and b is not None:
                low, high = max(a[0], b[0]), min((u for u in (a[1], b[1]) if u is not None), default=None)
                if high is not None and high <= low:
                    ctx.filtered += 1
                    continue
            answer = ctx.ask(
                partial(_in_both, enc, context, node, i, j),
                code=codes.P406,
                targets=targets,
                span=rows[j].span,
                what=msg("gaps.whether_brackets_overlap", where=where),
                facts=facts,
                show=subject_values,
            )
            if answer is None or not answer.sat:
                continue
            ctx.add(
                Finding(
                    codes.P406,
                    msg("gaps.brackets_overlap", where=where, subject=subject, at=at(answer)),
                    rows[j].span,
                    targets,
                    (Note(msg("gaps.other_bracket"), rows[i].span),),
                    msg("gaps.brackets_overlap_hint"),
                    answer.witness,
                    {**data_base, **ctx.witness_data(answer.witness)},
                )
            )
