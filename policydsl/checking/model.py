"""The Model: what the type checker learnt of a policy, the input of the lowering and the analyses."""

from __future__ import annotations

import attrs

from policydsl.checking import types as T
from policydsl.checking.types import Symbol, Type
from policydsl.syntax import ast


@attrs.define
class Model:
    """What the checker learnt of a policy: its symbols, the type of every expression (keyed by
    `id(node)`), and what every name refers to.  The lowering and the analyses start from a Model."""

    policy: ast.Policy
    facts: dict[str, T.FactSym] = attrs.field(factory=dict)
    params: dict[str, T.ParamSym] = attrs.field(factory=dict)
    enums: dict[str, dict[str, T.EnumValueSym]] = attrs.field(factory=dict)
    measures: dict[str, ast.Measure] = attrs.field(factory=dict)
    types: dict[int, Type] = attrs.field(factory=dict)
    refs: dict[int, Symbol] = attrs.field(factory=dict)
    # the groups of applicant kinds that exclude each other (`exclusive_kinds`), as declared
    exclusive_kinds: list[tuple[str, ...]] = attrs.field(factory=list)

    def type_of(self, expr: ast.Node) -> Type:
        return self.types.get(id(expr), T.ERROR)

    def ref(self, name: ast.Name | ast.Ident) -> Symbol | None:
        return self.refs.get(id(name))

    @property
    def kinds(self) -> dict[str, T.EnumValueSym]:
        return self.enums.get(T.APPLICANT_ENUM, {})

    def clause(self, measure: str, clause: str) -> ast.Clause | None:
        m = self.measures.get(measure)
        if m is None:
            return None
        for c in m.clauses:
            if m.clause_id(c) == f"{measure}.{clause}":
                return c
        return None
