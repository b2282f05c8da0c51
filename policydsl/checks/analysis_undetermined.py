"""Undetermined amounts: every place the evaluator cannot give a figure, as info findings."""

from __future__ import annotations

from functools import partial

from policydsl import ast
from policydsl import types as T
from policydsl.checks.analysis_base import (
    Context,
    Finding,
    PlanEncoder,
    measure_label,
    walk,
)
from policydsl.checks.analysis_boxes import constant
from policydsl.diagnostics import Note
from policydsl.smt import Formula


def _quote(text: str, node: ast.Node) -> str:
    if text and node.span.end <= len(text):
        return " ".join(text[node.span.start : node.span.end].split())
    return type(node).__name__


def _applies(enc: PlanEncoder, m: ast.Measure, c: ast.Clause) -> list[Formula]:
    return [enc.gate(m), enc.applies(m, c)]


def check_undetermined(ctx: Context, text: str) -> None:
    enc = ctx.enc
    policy = ctx.model.policy
    for m in policy.of(ast.Measure):
        if id(m) in ctx.dead:
            continue
        for c in m.clauses:
            if id(c) in ctx.dead:
                continue
            cid = ctx.id_of(c)
            data = {"clauses": [cid], "cites": ctx.cites(m, c)}
            amount = c.amount
            # a ceiling with a formula still gives a figure (the most it can be); one with no
            # formula, or no amount at all, leaves the evaluator without one
            no_formula = amount.mode == "ceiling" and (
                amount.expr is None or constant(amount.expr, ctx.model) is not None
            )
            if amount.mode == "unset" or no_formula:
                answer = ctx.ask(
                    partial(_applies, enc, m, c),
                    code="P701",
                    targets=(cid,),
                    span=amount.span,
                    what=f"whether {ctx.clause_label(m, c)} applies",
                    facts=ctx.clause_facts(m, c),
                )
                witness = answer.witness if answer is not None and answer.sat else None
                caps = " and ".join(f"`{_quote(text, k)}`" for k in amount.caps)
                if amount.mode == "unset":
                    limit = f", at most {caps}" if caps else ""
                    code = "P703"
                    message = f"{ctx.clause_label(m, c)} gives no amount: the text leaves it open{limit}"
                    hint: str | None = "give the figure, or a parameter a yearly guide can set"
                else:
                    upto = f"`{_quote(text, amount.expr)}`" if amount.expr is not None else ""
                    if caps:
                        upto += f" (capped at {caps})"
                    code = "P701"
                    message = (
                        f"{ctx.clause_label(m, c)} is a ceiling with no formula: the amount is decided "
                        f"case by case, up to {upto}, never an entitlement"
                    )
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
            for node in walk(amount):
                if isinstance(node, ast.Table | ast.Band):
                    entries: tuple[ast.TableEntry | ast.BandEntry, ...] = node.entries
                    for index, entry in enumerate(entries):
                        if isinstance(entry.value, ast.Unset):
                            _unset_tier(ctx, m, c, node, entry, index)
        for q in m.of(ast.Quota):
            if q.rank is None:
                ctx.add(
                    Finding(
                        "P704",
                        f"{measure_label(m)} selects at most {q.count} applicants but names no "
                        "ranking: who is selected among more eligible applicants is undetermined",
                        q.span,
                        (m.name.text,),
                        (),
                        "add `rank <fact>` if the text says how winners are chosen",
                        data={"measures": [m.name.text], "cites": ctx.cites(m)},
                    )
                )
    _params(ctx)
    header = policy.header
    if header is not None and header.validity is not None:
        v = header.validity
        if v.start is None or (v.start == "issued" and header.issued is None):
            ctx.add(
                Finding(
                    "P705",
                    "the policy's validity start is left open: whether it is in force on a "
                    "given date before its end cannot be told",
                    v.span,
                    ("validity",),
                    (),
                    "give the start date once it is known",
                )
            )


def _unset_tier(
    ctx: Context,
    m: ast.Measure,
    c: ast.Clause,
    node: ast.Table | ast.Band,
    entry: ast.TableEntry | ast.BandEntry,
    index: int,
) -> None:
    enc = ctx.enc
    cid = ctx.id_of(c)
    witness = None
    if isinstance(node, ast.Table) and isinstance(entry, ast.TableEntry) and entry.key is not None:
        key = entry.key.text
        answer = ctx.ask(
            lambda: [enc.gate(m), enc.fires(c), enc.table_key(node, key)],
            code="P703",
            targets=(cid,),
            span=entry.span,
            what=f"whether the tier `{key}` is used",
            facts=ctx.clause_facts(m, c) | ctx.names(node)[0],
        )
        witness = answer.witness if answer is not None and answer.sat else None
        what = f"the tier `{key}`"
    elif isinstance(node, ast.Band) and isinstance(entry, ast.BandEntry):
        answer = ctx.ask(
            lambda: [enc.gate(m), enc.fires(c), *_band_chosen(enc, node, index)],
            code="P703",
            targets=(cid,),
            span=entry.span,
            what="whether the band is used",
            facts=ctx.clause_facts(m, c) | ctx.names(node)[0],
        )
        witness = answer.witness if answer is not None and answer.sat else None
        what = "a band"
    else:
        what = "the `otherwise` tier"
    ctx.add(
        Finding(
            "P703",
            f"{what} of {ctx.clause_label(m, c)} has no figure: the text names it but leaves the amount open",
            entry.span,
            (cid,),
            (),
            "give the figure when the text (or a yearly guide) does",
            witness,
            {"clauses": [cid], "cites": ctx.cites(m, c), **ctx.witness_data(witness)},
        )
    )


def _band_chosen(enc: PlanEncoder, node: ast.Band, index: int) -> list[Formula]:
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
        when = (
            ""
            if len(p.versions) == 1
            else " for "
            + ", ".join(f"the version from {v.start}" if v.start else "the first version" for v in unset)
        )
        label = f" “{p.label}”" if p.label else ""
        notes = tuple(
            Note("used here", n.span) for n in sorted(uses.get(p.name.text, []), key=lambda n: n.span.start)
        )
        ctx.add(
            Finding(
                "P702",
                f"the parameter `{p.name.text}`{label} is left unset{when}: every amount that "
                "uses it is undetermined until it is given",
                p.name.span,
                (p.name.text,),
                notes,
                "a yearly application guide can supply it (parameter overrides)",
                data={"param": p.name.text, "uses": len(uses.get(p.name.text, []))},
            )
        )
