"""Undetermined amounts: every place the evaluator cannot give a figure, as info findings.

The amounts, tiers and quotas are read from the plan; `check_left_unset` is language level (what
the text writes `unset`, and where a parameter's name is written) and reads the AST."""

from __future__ import annotations

from functools import partial

from policydsl import codes
from policydsl.analysis.base import (
    Context,
    Finding,
    measure_label,
)
from policydsl.analysis.boxes import plan_constant
from policydsl.analysis.gaps import amount_tiers
from policydsl.analysis.language import walk
from policydsl.analysis.smt import Encoder, Formula
from policydsl.checking import types as T
from policydsl.dates import PartialDate
from policydsl.diagnostics import Note
from policydsl.messages import Message, msg, text
from policydsl.plan import nodes as P
from policydsl.syntax import ast
from policydsl.syntax.keywords import spelling


def _applies(enc: Encoder, m: P.Measure, c: P.Clause) -> list[Formula]:
    return [enc.gate(m), enc.applies(m, c)]


def check_undetermined(ctx: Context) -> None:
    """P701, P703, P704 from the plan, then what the text leaves unset as written (P702, P705)."""
    enc = ctx.enc
    for m in ctx.plan.measures:
        if ctx.is_dead(m):
            continue
        for c in m.clauses:
            if ctx.is_dead(c):
                continue
            cid = c.id
            data = {"clauses": [cid], "cites": ctx.cites(m, c)}
            amount = c.amount
            # a ceiling with a formula still gives a figure (the most it can be); one with no
            # formula, or no amount at all, leaves the evaluator without one
            no_formula = amount.mode == "ceiling" and (
                amount.expr is None or plan_constant(amount.expr, ctx.plan) is not None
            )
            if amount.mode == "unset" or no_formula:
                answer = ctx.ask(
                    partial(_applies, enc, m, c),
                    code=codes.P701,
                    targets=(cid,),
                    span=amount.span,
                    what=msg("undetermined.whether_applies", clause=ctx.clause_label(m, c)),
                    facts=ctx.clause_facts(m, c),
                )
                witness = answer.witness if answer is not None and answer.sat else None
                caps = _both([text(f"`{k.text}`") for k in amount.caps])
                label = ctx.clause_label(m, c)
                hint: Message | None
                if amount.mode == "unset":
                    code = codes.P703
                    message = (
                        msg("undetermined.no_amount_capped", clause=label, caps=caps)
                        if caps is not None
                        else msg("undetermined.no_amount", clause=label)
                    )
                    hint = msg("undetermined.no_amount_hint")
                else:
                    upto: Message = text(f"`{amount.text}`" if amount.text is not None else "")
                    if caps is not None:
                        upto = msg("undetermined.capped", amount=upto, caps=caps)
                    code = codes.P701
                    message = msg("undetermined.ceiling_no_formula", clause=label, upto=upto)
                    hint = None
                ctx.add(
                    Finding(
                        code,
                        message,
                        amount.span,
                        (cid,),
                        (),
                        hint,
                        witness,
                        {**data, **ctx.witness_data(witness)},
                    )
                )
            for node in amount_tiers(c):
                rows: tuple[P.TableRow | P.BandRow, ...] = node.rows
                for index, row in enumerate(rows):
                    if isinstance(row.value, P.Unset):
                        _unset_tier(ctx, m, c, node, row, index)
        for q in m.quotas:
            if q.rank is None and q.selected_by is None:  # a recorded selection needs no ranking
                ctx.add(
                    Finding(
                        codes.P704,
                        msg("undetermined.no_ranking", measure=measure_label(m), count=q.count),
                        q.span,
                        (m.name,),
                        (),
                        msg("undetermined.no_ranking_hint", rank=spelling("rank", ctx.chinese)),
                        data={"measures": [m.name], "cites": ctx.cites(m)},
                    )
                )
    _shared_limits(ctx)
    check_left_unset(ctx)


def _shared_limits(ctx: Context) -> None:
    """P710: a funding limit shared by several measures is a reading when their awards together pass
    it: the text does not say which is cut; the evaluation pays the measures counted first, in the
    order written, and cuts the measure stating the limit first (docs/semantics.md)."""
    for holder, limit in ctx.plan.shared_limits:
        order = tuple(text(f"`{n}`") for n in limit.measures)
        ctx.add(
            Finding(
                codes.P710,
                msg(
                    "undetermined.shared_limit",
                    measure=measure_label(holder),
                    limit=limit.text,
                    order=order,
                    holder=holder.name,
                ),
                limit.span,
                (holder.name, *limit.measures),
                (),
                msg("undetermined.shared_limit_hint", counting=spelling("counting", ctx.chinese)),
                data={"measures": [holder.name, *limit.measures], "cites": ctx.cites(holder)},
            )
        )


def check_left_unset(ctx: Context) -> None:
    """Language level, about what the text *writes*: a parameter declared `unset` with the places
    its name is written (P702), a validity whose start is written open (P705)."""
    _params(ctx)
    header = ctx.model.policy.header
    if header is not None and header.validity is not None:
        v = header.validity
        begins = header.issued if v.start == "issued" else v.start
        if isinstance(begins, PartialDate):
            known = (
                msg("undetermined.validity_partial_year")
                if begins.month is None
                else msg("undetermined.validity_partial_month")
            )
            ctx.add(
                Finding(
                    codes.P705,
                    known,
                    v.span,
                    ("validity",),
                    (),
                    msg("undetermined.validity_open_hint"),
                )
            )
        elif v.start is None or (v.start == "issued" and header.issued is None):
            ctx.add(
                Finding(
                    codes.P705,
                    msg("undetermined.validity_open"),
                    v.span,
                    ("validity",),
                    (),
                    msg("undetermined.validity_open_hint"),
                )
            )


def _unset_tier(
    ctx: Context,
    m: P.Measure,
    c: P.Clause,
    node: P.Table | P.Band,
    row: P.TableRow | P.BandRow,
    index: int,
) -> None:
    enc = ctx.enc
    cid = c.id
    witness = None
    if isinstance(node, P.Table) and isinstance(row, P.TableRow) and row.key is not None:
        key = row.key
        answer = ctx.ask(
            lambda: [enc.gate(m), enc.fires(c), enc.table_key(node, key)],
            code=codes.P703,
            targets=(cid,),
            span=row.span,
            what=msg("undetermined.whether_tier", key=key),
            facts=ctx.clause_facts(m, c) | ctx.names(node)[0],
        )
        witness = answer.witness if answer is not None and answer.sat else None
        what = msg("undetermined.tier", key=key)
    elif isinstance(node, P.Band) and isinstance(row, P.BandRow):
        answer = ctx.ask(
            lambda: [enc.gate(m), enc.fires(c), *_band_chosen(enc, node, index)],
            code=codes.P703,
            targets=(cid,),
            span=row.span,
            what=msg("undetermined.whether_band"),
            facts=ctx.clause_facts(m, c) | ctx.names(node)[0],
        )
        witness = answer.witness if answer is not None and answer.sat else None
        what = msg("undetermined.band")
    else:
        what = msg("undetermined.otherwise", word=spelling("otherwise", ctx.chinese))
    ctx.add(
        Finding(
            codes.P703,
            msg("undetermined.tier_open", what=what, clause=ctx.clause_label(m, c)),
            row.span,
            (cid,),
            (),
            msg("undetermined.tier_open_hint"),
            witness,
            {"clauses": [cid], "cites": ctx.cites(m, c), **ctx.witness_data(witness)},
        )
    )


def _both(items: list[Message]) -> Message | None:
    """`a`, `a and b`, `a, b and c` (`a、b和c`); None for no item."""
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return msg("undetermined.both", items=tuple(items[:-1]), last=items[-1])


def _band_chosen(enc: Encoder, node: P.Band, index: int) -> list[Formula]:
    """The band at `index` is the one chosen: its bounds hold and no earlier band's do (bands are
    tried in order)."""
    conds = enc.band_conditions(node)
    own = conds[index]
    return [*([own] if own is not None else []), *(enc.not_(f) for f in conds[:index] if f is not None)]


def _params(ctx: Context) -> None:
    """P702: a parameter some version of which the text leaves unset, with the places it is used."""
    uses: dict[str, list[ast.Name]] = {}
    for node in walk(ctx.model.policy):
        if isinstance(node, ast.Name):
            sym = ctx.model.ref(node)
            if isinstance(sym, T.ParamSym):
                uses.setdefault(sym.name, []).append(node)
    for p in ctx.model.policy.of(ast.ParamDecl):
        unset = [v for v in p.versions if isinstance(v.value, ast.Unset)]
        if not unset:
            continue
        versions = tuple(
            msg("undetermined.version_from", start=str(v.start))
            if v.start
            else msg("undetermined.first_version")
            for v in unset
        )
        when: Message = (
            text("") if len(p.versions) == 1 else msg("undetermined.for_versions", versions=versions)
        )
        label = f" “{p.label}”" if p.label else ""
        notes = tuple(
            Note(msg("undetermined.used_here"), n.span)
            for n in sorted(uses.get(p.name.text, []), key=lambda n: n.span.start)
        )
        ctx.add(
            Finding(
                codes.P702,
                msg("undetermined.param_unset", name=p.name.text, label=label, when=when),
                p.name.span,
                (p.name.text,),
                notes,
                msg("undetermined.param_unset_hint"),
                data={"param": p.name.text, "uses": len(uses.get(p.name.text, []))},
            )
        )
