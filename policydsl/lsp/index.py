"""Every name a checked policy declares and every place it is written: what hover, definition,
references, completion and the document's outline read."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import attrs

from policydsl.checking import types as T
from policydsl.checking.model import Model
from policydsl.source import Span
from policydsl.syntax import ast


@attrs.frozen
class Entity:
    """A declared name: its `key` (`fact:investment`, `value:level.national`, `clause:m.c`…), `kind`
    (fact, param, value, kind, measure, clause, pot, unit), the `name` as written, its `label`, the
    span of its declaration (`decl`, None for the built-in `applicant`) and of its name there
    (`at`), its `type`, and the `cite` it gives."""

    key: str
    kind: str
    name: str
    label: str | None
    decl: Span | None
    at: Span | None
    type: T.Type | None = None
    cite: str | None = None


@attrs.frozen
class Occurrence:
    """A name written at `span` that means the entity `key` (its declaration included)."""

    span: Span
    key: str


@attrs.define
class Index:
    """The entities of a policy by key, and every occurrence in source order."""

    entities: dict[str, Entity] = attrs.field(factory=dict)
    occurrences: list[Occurrence] = attrs.field(factory=list)

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence whose span holds the character `offset` (or ends just before it)."""
        starts = [o.span.start for o in self.occurrences]
        i = bisect.bisect_right(starts, offset) - 1
        while i >= 0:
            o = self.occurrences[i]
            if o.span.start <= offset <= o.span.end:
                return o
            if o.span.end < offset - 200:  # spans are short: nothing further back can hold it
                break
            i -= 1
        return None

    def uses(self, key: str) -> list[Occurrence]:
        """The occurrences of `key` other than its declaration."""
        entity = self.entities.get(key)
        decl = None if entity is None else entity.at
        return [o for o in self.occurrences if o.key == key and o.span != decl]

    def all(self, key: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.key == key]


def _symbol_key(sym: T.Symbol) -> str:
    match sym:
        case T.FactSym():
            return f"fact:{sym.name}"
        case T.ParamSym():
            return f"param:{sym.name}"
        case T.EnumValueSym():
            return f"value:{sym.enum}.{sym.member}"
    raise AssertionError(sym)


def build_index(model: Model) -> Index:
    """The index of a checked policy (its Model: what each name in an expression means)."""
    index = Index()
    policy = model.policy
    add = index.entities.__setitem__
    for name, fact in model.facts.items():
        decl = fact.decl
        if decl is None and name != fact.name:
            continue  # the built-in `applicant` under its other spelling
        at = None if decl is None else decl.name.span
        span = None if decl is None else decl.span
        add(f"fact:{name}", Entity(f"fact:{name}", "fact", name, fact.label, span, at, fact.type))
    for name, param in model.params.items():
        d = param.decl
        add(f"param:{name}", Entity(f"param:{name}", "param", name, d.label, d.span, d.name.span, param.type))
    for item in policy.items:
        match item:
            case ast.EnumDecl():
                for m in item.members:
                    key = f"value:{item.name.text}.{m.name.text}"
                    add(
                        key,
                        Entity(
                            key, "value", m.name.text, m.label, m.span, m.name.span, T.enum(item.name.text)
                        ),
                    )
            case ast.KindDecl():
                key = f"value:{T.APPLICANT_ENUM}.{item.name.text}"
                add(key, Entity(key, "kind", item.name.text, item.label, item.span, item.name.span))
            case ast.UnitDecl():
                key = f"unit:{item.name.text}"
                add(key, Entity(key, "unit", item.name.text, item.label, item.span, item.name.span))
            case ast.Pot():
                key = f"pot:{item.name.text}"
                add(key, Entity(key, "pot", item.name.text, item.label, item.span, item.name.span))
            case ast.Measure():
                key = f"measure:{item.name.text}"
                add(
                    key,
                    Entity(
                        key, "measure", item.name.text, item.label, item.span, item.name.span, cite=item.cite
                    ),
                )
                for clause in item.clauses:
                    cid = item.clause_id(clause)
                    at = None if clause.name is None else clause.name.span
                    add(
                        f"clause:{cid}",
                        Entity(
                            f"clause:{cid}", "clause", cid, clause.label, clause.span, at, cite=clause.cite
                        ),
                    )
    by_text = _by_text(index)
    seen: set[tuple[int, int]] = set()
    for node, measure in _walk(policy, None):
        found: str | None = None
        if isinstance(node, ast.Name):
            sym = model.ref(node)
            written = ".".join(node.parts)
            if sym is not None:
                found = _symbol_key(sym)
            elif measure is not None and f"clause:{measure}.{written}" in index.entities:
                found = f"clause:{measure}.{written}"  # an exception names a clause of its measure
            else:
                found = by_text.get(written)
        elif isinstance(node, ast.Ident):
            # within a measure, a name equal to one of its clauses' names is that clause
            if measure is not None and f"clause:{measure}.{node.text}" in index.entities:
                found = f"clause:{measure}.{node.text}"
            else:
                found = by_text.get(node.text)
        if found is not None and found in index.entities and (node.span.start, node.span.end) not in seen:
            seen.add((node.span.start, node.span.end))
            index.occurrences.append(Occurrence(node.span, found))
    index.occurrences.sort(key=lambda o: o.span.start)
    return index


def _by_text(index: Index) -> dict[str, str]:
    """The entity a name written as `text` means when no checker resolved it: measures, clauses by
    `measure.clause`, facts, parameters, kinds, pots, units; enum values `enum.member`, and by the
    member alone when one enum has it."""
    found: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for key, e in index.entities.items():
        if e.kind == "value":
            members.setdefault(e.name, []).append(key)
            found[key.split(":", 1)[1]] = key
    for member, keys in members.items():
        if len(keys) == 1:
            found[member] = keys[0]
    order = ("unit", "pot", "kind", "param", "fact", "clause", "measure")  # later ones win
    for kind in order:
        for key, e in index.entities.items():
            if e.kind == kind:
                found[e.name] = key
    return found


def _walk(node: object, measure: str | None) -> Iterator[tuple[ast.Ident | ast.Name, str | None]]:
    """Every Ident and Name under `node`, with the measure it stands in."""
    if isinstance(node, (ast.Ident, ast.Name)):
        yield node, measure
        return
    if isinstance(node, tuple):
        for child in node:
            yield from _walk(child, measure)
        return
    if not isinstance(node, ast.Node):
        return
    if isinstance(node, ast.Measure):
        measure = node.name.text
    for field in attrs.fields(type(node)):
        if field.name != "span":
            yield from _walk(getattr(node, field.name), measure)
