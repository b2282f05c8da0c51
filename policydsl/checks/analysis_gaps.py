"""Gaps: tier tables that miss an enum value, bands of thresholds with holes or overlaps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from policydsl import ast
from policydsl import types as T
from policydsl.checks.analysis_base import Context, Finding, PlanEncoder, walk
from policydsl.checks.analysis_boxes import Interval, constant
from policydsl.checks.analysis_witness import literal
from policydsl.diagnostics import Note
from policydsl.smt import Formula

Site = tuple[ast.Measure, ast.Clause | None, Callable[[], list[Formula]], tuple[str, ...], str]


def sites(ctx: Context) -> Iterator[tuple[ast.Table | ast.Band, Site]]:
    """Every tier table and band in an amount, with the condition under which it is used: the
    clause applying for clause amounts and caps, the measure paying for its other amounts."""
    enc = ctx.enc
    for m in ctx.model.policy.of(ast.Measure):
        if id(m) in ctx.dead:
            continue
        for c in m.clauses:
            if id(c) in ctx.dead:
                continue
            cid = ctx.id_of(c)
            site: Site = (m, c, partial(_clause_context, enc, m, c), (cid,), ctx.clause_label(m, c))
            for node in walk(c.amount):
                if isinstance(node, ast.Table | ast.Band):
                    yield node, site
        for item in m.of(ast.FundingLimit) + m.of(ast.GroupCap) + m.of(ast.Budget):
            site = (m, None, partial(_measure_context, enc, m), (m.name.text,), f"`{m.name.text}`")
            for node in walk(item):
                if isinstance(node, ast.Table | ast.Band):
                    yield node, site


def _clause_context(enc: PlanEncoder, m: ast.Measure, c: ast.Clause) -> list[Formula]:
    return [enc.gate(m), enc.fires(c)]


def _measure_context(enc: PlanEncoder, m: ast.Measure) -> list[Formula]:
    return [enc.pays(m)]


def check_gaps(ctx: Context) -> None:
    for node, site in sites(ctx):
        if isinstance(node, ast.Table):
            _table(ctx, node, site)
        else:
            _band(ctx, node, site)


def _facts(ctx: Context, site: Site, extra: Any) -> set[str]:
    measure, clause = site[0], site[1]
    return ctx.facts_for([measure], [clause] if clause is not None else [], extra=[extra])


def _table(ctx: Context, node: ast.Table, site: Site) -> None:
    """P401: a tier table without `otherwise` that has no row for a value an applicant can have."""
    if any(e.key is None for e in node.entries):
        return
    sym = ctx.model.refs.get(id(node.subject))
    if not isinstance(sym, T.FactSym) or sym.type.enum is None:
        return
    members = ctx.model.enums.get(sym.type.enum, {})
    given = {e.key.text for e in node.entries if e.key is not None}
    missing = [m for m in members if m not in given]
    measure, clause, context, targets, where = site
    reachable = []
    witness = None
    enc = ctx.enc
    for member in missing:
        answer = ctx.ask(
            partial(_with_key, enc, context, node, member),
            code="P401",
            targets=targets,
            span=node.span,
            what=f"whether {where} can be used with {sym.name} = {member}",
            facts=_facts(ctx, site, node) | {sym.name},
        )
        if answer is not None and answer.sat:
            reachable.append(member)
            witness = witness or answer.witness
    if not reachable:
        return
    names = ", ".join(
        f"`{m}`（{members[m].label}）" if members[m].label != m else f"`{m}`" for m in reachable
    )
    ctx.add(
        Finding(
            "P401",
            f"the tier table by `{sym.name}` in {where} has no tier for {names}: the amount is "
            "undetermined for such an applicant",
            node.span,
            targets,
            (),
            f"add `{reachable[0]}: …` (or `otherwise: …`), or state `{reachable[0]}: unset` if the text "
            "gives no figure",
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
    enc: PlanEncoder, context: Callable[[], list[Formula]], node: ast.Table, member: str
) -> list[Formula]:
    return [*context(), enc.table_key(node, member)]


def _both_bands(
    enc: PlanEncoder, context: Callable[[], list[Formula]], node: ast.Band, i: int, j: int
) -> list[Formula]:
    conds = enc.band_conditions(node)
    return [*context(), conds[i], conds[j]]


def _band(ctx: Context, node: ast.Band, site: Site) -> None:
    """P402 a value no band covers; P403 two bands that both cover a value."""
    enc = ctx.enc
    measure, clause, context, targets, where = site
    facts = _facts(ctx, site, node)
    data_base = {"clauses": list(targets), "cites": ctx.cites(measure, *([clause] if clause else []))}
    shown = ctx.model.type_of(node.subject)

    def subject_values() -> dict[str, Any]:
        return {"subject": enc.num(node.subject)} if shown.numeric else {}

    if not any(e.bounds is None for e in node.entries):
        answer = ctx.ask(
            lambda: [*context(), enc.not_(enc.or_(*[c for c in enc.band_conditions(node) if c is not None]))],
            code="P402",
            targets=targets,
            span=node.span,
            what=f"whether every value is covered by a band in {where}",
            facts=facts,
            show=subject_values,
        )
        if answer is not None and answer.sat:
            value = None if "subject" in answer.unset else answer.values.get("subject")
            at = "" if value is None else f" = {literal(value, shown, ctx.model.policy.chinese)}"
            hint = _hole_hint(node, value, ctx)
            ctx.add(
                Finding(
                    "P402",
                    f"no band of {where} covers {_subject(node, ctx)}{at}: the amount is undetermined there",
                    node.span,
                    targets,
                    (),
                    hint,
                    answer.witness,
                    {**data_base, **ctx.witness_data(answer.witness)},
                )
            )
    entries = [(i, e) for i, e in enumerate(node.entries) if e.bounds is not None]
    for x, (i, a) in enumerate(entries):
        for j, b in entries[x + 1 :]:
            if _intervals_disjoint(a, b, ctx):
                ctx.filtered += 1
                continue
            answer = ctx.ask(
                partial(_both_bands, enc, context, node, i, j),
                code="P403",
                targets=targets,
                span=b.span,
                what=f"whether two bands of {where} overlap",
                facts=facts,
                show=subject_values,
            )
            if answer is None or not answer.sat:
                continue
            value = None if "subject" in answer.unset else answer.values.get("subject")
            at = "" if value is None else f" = {literal(value, shown, ctx.model.policy.chinese)}"
            ctx.add(
                Finding(
                    "P403",
                    f"two bands of {where} both cover {_subject(node, ctx)}{at}; the first one "
                    "listed is used",
                    b.span,
                    targets,
                    (Note("the other band", a.span),),
                    _overlap_hint(a, b, value, ctx),
                    answer.witness,
                    {**data_base, **ctx.witness_data(answer.witness)},
                )
            )


def _subject(node: ast.Band, ctx: Context) -> str:
    if isinstance(node.subject, ast.Name):
        sym = ctx.model.ref(node.subject)
        if isinstance(sym, T.FactSym) and sym.label != sym.name:
            return f"{sym.label} `{sym.name}`"
        return f"`{node.subject.text}`"
    return "the band's subject"


def _bound_interval(bound: ast.Bound, ctx: Context) -> Interval | None:
    value = constant(bound.value, ctx.model)
    return None if value is None else Interval.of(bound.op, value)


def _entry_interval(entry: ast.BandEntry, ctx: Context) -> Interval | None:
    interval = Interval()
    for bound in entry.bounds or ():
        got = _bound_interval(bound, ctx)
        if got is None:
            return None
        interval = interval.meet(got)
    return interval


def _intervals_disjoint(a: ast.BandEntry, b: ast.BandEntry, ctx: Context) -> bool:
    ia, ib = _entry_interval(a, ctx), _entry_interval(b, ctx)
    return ia is not None and ib is not None and ia.meet(ib).empty


def _hole_hint(node: ast.Band, value: Any, ctx: Context) -> str | None:
    if value is None:
        return "add the missing band, or an `otherwise` band"
    excluding = [
        b.word for e in node.entries for b in e.bounds or () if constant(b.value, ctx.model) == value
    ]
    if len(excluding) >= 2:
        words = " and ".join(f"`{w}`" for w in excluding[:2])
        return (
            f"{words} both exclude the number (不满、超过 exclude it, 以上、以下 include it: Civil Code "
            "Art. 1259); make one of them inclusive"
        )
    return "add the missing band, or an `otherwise` band"


def _overlap_hint(a: ast.BandEntry, b: ast.BandEntry, value: Any, ctx: Context) -> str:
    words = [bd.word for e in (a, b) for bd in e.bounds or () if constant(bd.value, ctx.model) == value]
    if len(words) >= 2:
        return (
            f"`{words[0]}` and `{words[1]}` both include the number (以上、以下 include it, "
            "不满、超过 exclude it: Civil Code Art. 1259); write `不满` for the lower band"
        )
    return "make the bands exclusive"
