"""One finding for a policy that never says how its measures combine (P206): the pairwise overlaps of
measures (P201/P202) left open, ranked for a reviewer, with the one `combine` line that settles them.

A policy that is silent on combination gives one overlap per pair of measures that can pay the same
applicant: ninety-one for Bao'an's twenty-one measures, all from one missing sentence.  They become
one finding, its members ranked:

1. **same subject**: the two measures cite the same article and serve exactly the same kinds of
   applicant (both restrict them, to the same set; or neither does).  Such awards are for one thing
   done by one kind of applicant (Bao'an's four platform awards of 三(二)3, its two node awards of
   三(二)2), where 就高 or 叠加 is a real question of the text;
2. **shared cap**: both measures are under one `total_cap`, which already limits what they pay
   together, so only the split is open;
3. **the rest**, as a count: measures of different articles or different applicants, which meet only
   because one applicant can fit both.

A single pair is reported as itself (P201/P202), as is every pair once the group is settled in part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policydsl import codes
from policydsl.analysis.base import Context, measure_label
from policydsl.diagnostics import Diagnostic, Fix, Note, Severity
from policydsl.messages import msg, text
from policydsl.plan import nodes as P
from policydsl.source import Span
from policydsl.syntax.keywords import COMBINE_MODES, spelling

PAIR_CODES = frozenset({codes.P201.id, codes.P202.id})
RANKS = ("same_subject", "shared_cap", "other")


def rank(plan: P.Plan, a: P.Measure, b: P.Measure) -> tuple[str, P.TotalCap | None]:
    """Which of RANKS the pair of measures is, and the shared total cap when that is why."""
    kinds_a = a.applicants.kinds if a.applicants is not None else None
    kinds_b = b.applicants.kinds if b.applicants is not None else None
    if a.cite and a.cite == b.cite and kinds_a == kinds_b:
        return "same_subject", None
    for cap in plan.total_caps:
        if a.name in cap.measures and b.name in cap.measures:
            return "shared_cap", cap
    return "other", None


def group(ctx: Context, findings: Sequence[Diagnostic]) -> list[Diagnostic]:
    """The open findings with the pairwise overlaps of measures made one P206 finding, when there
    are two or more of them."""
    pairs = [d for d in findings if d.code in PAIR_CODES and "measures" in d.data]
    if len(pairs) < 2:
        return list(findings)
    plan = ctx.plan
    order = {m.name: i for i, m in enumerate(plan.measures)}
    by_name = {m.name: m for m in plan.measures}
    ranked: list[tuple[int, tuple[int, int], Diagnostic, P.TotalCap | None]] = []
    for d in pairs:
        na, nb = sorted(d.data["measures"], key=order.__getitem__)
        kind, cap = rank(plan, by_name[na], by_name[nb])
        ranked.append((RANKS.index(kind), (order[na], order[nb]), d, cap))
    ranked.sort(key=lambda r: (r[0], r[1]))
    names = sorted({n for d in pairs for n in d.data["measures"]}, key=order.__getitem__)
    chinese = ctx.chinese  # the proposed code is written in the file's keywords
    count = {k: sum(1 for r in ranked if RANKS[r[0]] == k) for k in RANKS}
    members: list[dict[str, Any]] = []
    notes: list[Note] = []
    for index, _, d, cap in ranked:
        kind = RANKS[index]
        na, nb = sorted(d.data["measures"], key=order.__getitem__)
        amounts = d.data.get("amounts", {})
        member: dict[str, Any] = {"code": d.code, "rank": kind, "message": d.message}
        member["location"] = _where(d.span)
        member.update({k: v for k, v in d.data.items() if k != "targets"})
        member["targets"] = [na, nb]
        if cap is not None:
            member["cap"] = cap.text
        members.append(member)
        if kind == "other":
            continue
        shown = msg("combine.amounts", a=str(amounts.get(na, "?")), b=str(amounts.get(nb, "?")))
        a, b = measure_label(by_name[na]), measure_label(by_name[nb])
        note = (
            msg("combine.shared_cap", a=a, b=b, amounts=shown, cap=f"`{cap.text}`")
            if cap is not None
            else msg("combine.same_subject", a=a, b=b, amounts=shown)
        )
        notes.append(Note(note, d.span))
    if count["other"]:
        others = sorted(
            {n for r in ranked if RANKS[r[0]] == "other" for n in r[2].data["measures"]},
            key=order.__getitem__,
        )
        notes.append(Note(msg("combine.rest", rest=count["other"], names=text(", ".join(others)))))
    fix_text = _declaration(names, chinese)
    span = _before(ctx, names)
    hint = msg(
        "combine.hint",
        pairs=len(pairs),
        fix=fix_text.strip(),
        added=spelling("combine", chinese) + " " + _mode("added", chinese),
        exclusive=spelling("combine", chinese) + " " + _mode("exclusive", chinese),
        ack=spelling("acknowledge", chinese),
    )
    message = msg(
        "combine.message",
        measures=len(names),
        pairs=len(pairs),
        same=count["same_subject"],
        capped=count["shared_cap"],
        rest=count["other"],
    )
    data = {
        "measures": names,
        "pairs": len(pairs),
        "counts": count,
        "members": members,
        "targets": names,
        "declaration": fix_text.strip(),
    }
    grouped = Diagnostic(
        codes.P206.id,
        Severity.WARNING,
        message,
        span,
        tuple(notes),
        hint,
        data,
        None if span is None else Fix(span, fix_text),
    )
    folded = {id(d) for d in pairs}
    return [d for d in findings if id(d) not in folded] + [grouped]


def _mode(mode: str, chinese: bool) -> str:
    """A combination mode in the file's language (COMBINE_MODES maps both spellings to English)."""
    if not chinese:
        return mode
    return next(word for word, english in COMBINE_MODES.items() if english == mode and word != mode)


def _declaration(names: Sequence[str], chinese: bool) -> str:
    """The `combine` line a drafter adds, on a line of its own before the first of the measures."""
    return f"{spelling('combine', chinese)} {_mode('highest', chinese)} {{ {', '.join(names)} }}\n"


def _before(ctx: Context, names: Sequence[str]) -> Span | None:
    """The place where the first of the measures is declared: the finding leads the measures it
    is about, and the declaration goes there."""
    written = [ctx.model.measures[n] for n in names if n in ctx.model.measures]
    if not written:
        return None
    first = min(written, key=lambda m: m.span.start).span
    return Span(first.file, first.line, first.col, first.line, first.col, first.start, first.start)


def _where(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "col": span.col}
