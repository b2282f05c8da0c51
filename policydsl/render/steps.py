"""The arithmetic an explanation shows beyond a clause's figure: which band applied, the part of
each progressive bracket and what it earns, the count of whole blocks and a rounding down.

Both back ends explain from here: the interpreter and the generator take the same parts of an
amount (`explained`), in the same order, with the same static texts (`Texts`, labels in the
reader's words, never internal names); the figures are filled in at run time by the runtime's
`band_step`, `bracket_step` and `whole_step`, so both explanations are equal by construction.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from policydsl.evaluation.runtime import Shown
from policydsl.plan import nodes as P
from policydsl.render.text import ExprPrinter

Explained = P.Whole | P.Band | P.Brackets


def explained(expr: P.Expr) -> Iterator[Explained]:
    """The parts of `expr` an explanation shows, inner ones first (evaluation order).  Only parts
    every evaluation of `expr` computes: not inside a tier table's or band's rows (only the chosen
    row is computed), and a band only when its thresholds are figures written in the policy."""
    match expr:
        case P.Table() | P.Unset():
            return
        case P.Band():
            yield from explained(expr.subject)
            if all(isinstance(v, P.Const) for row in expr.rows for _, v in row.bounds or ()):
                yield expr
            return
        case P.Brackets():
            yield from explained(expr.subject)
            yield expr
            return
    for child in P.children(expr):
        yield from explained(child)
    if isinstance(expr, P.Whole):
        yield expr


def shown(plan: P.Plan, expr: P.Expr) -> Shown:
    """How a value of `expr` is shown (runtime.figure): its kind and unit."""
    match expr:
        case P.Const():
            return expr.kind, expr.unit
        case P.FactRef():
            fact = plan.facts[expr.name]
            return fact.kind, fact.unit
        case P.ParamRef():
            param = plan.params[expr.name]
            return param.kind, param.unit
        case P.Arith():
            for side in (expr.left, expr.right):
                kind, unit = shown(plan, side)
                if kind == expr.kind:
                    return kind, unit
            return expr.kind, None
        case P.Neg():
            return shown(plan, expr.operand)
        case P.MinMax():
            return shown(plan, expr.args[0])
        case P.Whole():
            return ("number", None) if expr.func == "blocks" else shown(plan, expr.value)
        case P.Brackets():
            return expr.kind, expr.unit
        case P.Table() | P.Band():
            values = [r.value for r in expr.rows if not isinstance(r.value, P.Unset)]
            return shown(plan, values[0]) if values else ("number", None)
    return "number", None


@attrs.frozen
class Texts:
    """The static part of one step: `text` the part's subject (or value) in the reader's words,
    `shown` how its figures are shown, `rows` a band's conditions in words."""

    text: str
    shown: tuple[Shown, ...]
    rows: tuple[str, ...] = ()


def texts(plan: P.Plan, node: Explained) -> Texts:
    printer = ExprPrinter(plan, labels=True)
    match node:
        case P.Whole():
            return Texts(printer.expr(node.value), (shown(plan, node.value), shown(plan, node.size)))
        case P.Band() if node.counted_from is not None:
            said = tuple(printer.years(y) for y in node.years)
            rows = tuple(f"{y}：{printer.expr(r.value)}" for y, r in zip(said, node.rows, strict=True))
            return Texts(node.counted_from, (), rows)
        case P.Band():
            rows = tuple(printer.band_condition(r) for r in node.rows)
            return Texts(printer.expr(node.subject), (shown(plan, node.subject),), rows)
        case P.Brackets():
            rates = tuple(shown(plan, r.rate) for r in node.rows)
            return Texts(
                printer.expr(node.subject), (shown(plan, node.subject), (node.kind, node.unit), *rates)
            )
