"""The language-level analyses: what the file *writes*, read from the AST (the semantic analyses
read the plan): exception cycles (P302), clauses copied word for word (P205) and the
acknowledgements that settle findings or match none (P902)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from policydsl import codes
from policydsl.analysis.base import Context, Finding, Settled
from policydsl.codes import ANALYSIS_CODES, CODES
from policydsl.diagnostics import Diagnostic, Note
from policydsl.messages import msg, text
from policydsl.plan import nodes as P
from policydsl.syntax import ast
from policydsl.syntax.keywords import spelling


def walk(node: Any) -> Iterator[ast.Node]:
    """Every AST node under `node` (itself included)."""
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            yield item
            for field in item.__attrs_attrs__:
                child = getattr(item, field.name)
                if isinstance(child, ast.Node):
                    stack.append(child)
                elif isinstance(child, tuple):
                    stack.extend(c for c in child if isinstance(c, ast.Node))


def _written(ctx: Context, measure: P.Measure) -> list[tuple[ast.Clause, P.Clause]]:
    """The measure's clauses as written, each with its plan clause."""
    return list(zip(ctx.model.measures[measure.name].clauses, measure.clauses, strict=True))


def exception_cycles(ctx: Context, measure: P.Measure) -> bool:
    """P302: a clause that is, through its defaults, an exception to itself (True when one is)."""
    clauses = _written(ctx, measure)
    by_name = {c.name.text: c for c, _ in clauses if c.name is not None}
    id_of = {id(c): pc.id for c, pc in clauses}
    found = False
    reported: set[str] = set()
    for clause, _ in clauses:
        path: list[ast.Clause] = []
        current: ast.Clause | None = clause
        while current is not None and current.exception_of is not None and not _among(current, path):
            path.append(current)
            current = by_name.get(current.exception_of.text)
        if current is None or not _among(current, path):
            continue
        loop = path[ast.position(path, current) :]
        names = sorted(id_of[id(c)] for c in loop)
        if names[0] in reported:
            continue
        reported.add(names[0])
        found = True
        chain = " → ".join(id_of[id(c)] for c in [*loop, loop[0]])
        notes = tuple(
            Note(
                msg("finding.exception_of", clause=id_of[id(c)], of=c.exception_of.text), c.exception_of.span
            )
            for c in loop
            if c.exception_of is not None
        )
        ctx.add(
            Finding(
                codes.P302,
                msg("finding.exception_cycle", chain=chain),
                loop[0].span,
                tuple(names),
                notes,
                hint=msg("finding.exception_cycle_hint"),
                data={"cycle": names},
            )
        )
    return found


def duplicates(ctx: Context, measure: P.Measure) -> set[tuple[str, str]]:
    """P205: a clause that repeats an earlier one of its measure word for word (a copy-paste slip:
    both apply to the same applicants and both are paid).  The pairs (ids) it returns are not
    compared again as an overlap, an ambiguity or a merge."""
    copies: set[tuple[str, str]] = set()
    first: dict[ast.Clause, tuple[ast.Clause, P.Clause]] = {}  # by value on purpose: equal clauses meet
    for clause, planned in _written(ctx, measure):
        original, was = first.setdefault(clause, (clause, planned))
        if original is clause:
            continue
        ia, ib = was.id, planned.id
        copies.add((ia, ib))
        effect = msg("finding.paid_twice") if clause.exception_of is None else msg("finding.exceptions_tie")
        ctx.add(
            Finding(
                codes.P205,
                msg("finding.duplicate", copy=ib, first=ia, effect=effect),
                clause.span,
                (ia, ib),
                (Note(msg("finding.first_copy", clause=ctx.clause_label(measure, was)), original.span),),
                msg("finding.duplicate_hint"),
                data={"clauses": [ia, ib], "cites": ctx.cites(measure, was, planned)},
            )
        )
    return copies


def _among(node: ast.Node, items: Sequence[ast.Node]) -> bool:
    """`node` itself is in `items` (`in` compares by value, and equal clauses are not the same)."""
    return any(item is node for item in items)


# ---------------------------------------------------------------------------------- acknowledgements


def _matches(target: str, named: str) -> bool:
    """An acknowledgement's target names a finding's target: the same, or the measure of a clause."""
    return named == target or named.startswith(target + ".")


def _settles(ack: ast.Acknowledge, finding: Finding) -> bool:
    if not finding.targets:
        return False
    targets = [t.text for t in ack.targets]
    return all(any(_matches(t, f) for t in targets) for f in finding.targets) and all(
        any(_matches(t, f) for f in finding.targets) for t in targets
    )


def _covers(ack: ast.Acknowledge, finding: Finding) -> bool:
    """A group acknowledgement `acknowledge P206 { m1, m2, … }` covers the overlap (P201/P202) of
    every two of the measures it names."""
    if ack.code.text != codes.P206.id or finding.code not in (codes.P201.id, codes.P202.id):
        return False
    named = {t.text for t in ack.targets}
    return "measures" in finding.data and set(finding.data["measures"]) <= named


def acknowledge(ctx: Context, complete: bool = True) -> tuple[list[Diagnostic], list[Settled]]:
    """Settle the findings the acknowledgements name; report the acknowledgements that name none
    (unless the analysis stopped early: then the finding may be among the checks not run)."""
    acks = ctx.model.policy.of(ast.Acknowledge)
    open_: list[Diagnostic] = []
    settled: list[Settled] = []
    used: set[int] = set()
    for f in ctx.findings:
        if f.settled_by is not None:
            settled.append(Settled(ctx.diagnostic(f), *f.settled_by))
            continue
        ack = next((a for a in acks if (a.code.text == f.code and _settles(a, f)) or _covers(a, f)), None)
        if ack is None and f.code == codes.P900.id:
            # an undecided query keeps the acknowledgement of the finding it was deciding alive
            check = str(f.data.get("check", ""))
            used.update(id(a) for a in acks if a.code.text == check and _settles(a, f))
        if ack is None:
            open_.append(ctx.diagnostic(f))
        else:
            used.add(id(ack))
            settled.append(Settled(ctx.diagnostic(f), text(ack.reason), ack.span))
    for ack in acks:
        if id(ack) in used:
            continue
        targets = ", ".join(t.text for t in ack.targets)
        written = f"{spelling('acknowledge', ctx.chinese)} {ack.code.text} {{ {targets} }}"
        if ack.code.text not in ANALYSIS_CODES:
            known = ack.code.text in CODES
            message = (
                msg("finding.ack_not_analysis", ack=written, code=ack.code.text)
                if known
                else msg("finding.ack_unknown_code", ack=written, code=ack.code.text)
            )
            open_.append(ctx.diagnostic(Finding(codes.P902, message, ack.code.span, ())))
            continue
        if not complete:
            continue
        open_.append(
            ctx.diagnostic(
                Finding(
                    codes.P902,
                    msg("finding.ack_unused", ack=written),
                    ack.span,
                    (),
                    hint=msg("finding.ack_unused_hint"),
                )
            )
        )
    return open_, settled
