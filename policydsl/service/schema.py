"""The JSON Schema of a policy's facts, from the plan's fact specs (what `parse_facts` accepts), and
the questionnaire's description of each fact (`questions`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from policydsl.plan import nodes as P

# A figure is exact: an integer or a decimal written as text (a binary float is refused, as by
# `eval`); text may carry 万/亿/千 and the unit (`58万`, `58万元`, `12场`).
_FIGURE: dict[str, Any] = {
    "anyOf": [
        {"type": "integer"},
        {"type": "string", "pattern": r"^\s*[-+]?[0-9０-９,.]+\s*[万亿千]?\S*\s*$"},
    ]
}
_JSON_BOUND = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}


def _number(value: Decimal) -> int | float | str:
    # JSON Schema bounds are numbers; a bound with a fraction is given as text in x-bounds as well
    return int(value) if value == value.to_integral_value() else str(value)


def fact_schema(spec: P.FactSpec) -> dict[str, Any]:
    """One fact's schema: its JSON type, the label as `title`, the unit, bounds and enum members."""
    out: dict[str, Any] = {"title": spec.label, "x-kind": spec.kind}
    kind = spec.kind
    if kind in ("money", "number", "count", "percent"):
        out.update(_FIGURE)
        if kind == "money":
            out["x-unit"] = "元"
        elif kind == "count" and spec.unit:
            out["x-unit"] = spec.unit
        elif kind == "percent":
            out["description"] = "a fraction (0.6) or text with % (60%)"
    elif kind == "bool":
        out["type"] = "boolean"
    elif kind == "date":
        out.update({"type": "string", "format": "date"})
    elif kind == "enum":
        out["enum"] = [name for name, _ in spec.members] + [label for _, label in spec.members]
    elif kind == "roles":
        names = [name for name, _ in spec.members] + [label for _, label in spec.members]
        out["anyOf"] = [{"enum": names}, {"type": "array", "items": {"enum": names}, "uniqueItems": True}]
    else:
        out["type"] = "string"
    if spec.members:
        out["x-members"] = [{"value": name, "label": label} for name, label in spec.members]
    bounds = [(op, b) for op, b in spec.bounds if op in _JSON_BOUND]
    if bounds:
        out["x-bounds"] = [{"op": op, "value": str(b)} for op, b in bounds]
        out.update({_JSON_BOUND[op]: _number(b) for op, b in bounds})
    return out


def facts_schema(plan: P.Plan, name: str) -> dict[str, Any]:
    """The schema of the `facts` object of a request on `plan` (served as `name`)."""
    properties = {fact: fact_schema(spec) for fact, spec in plan.facts.items()}
    properties.update({alias: {"$ref": f"#/properties/{target}"} for alias, target in plan.aliases.items()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"/api/policies/{name}/schema",
        "title": plan.title,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def questions(plan: P.Plan) -> list[dict[str, Any]]:
    """Each fact as the questionnaire asks it, in declaration order: name, label, kind, unit,
    members (value, label) and bounds (op, value as text)."""
    return [
        {
            "name": fact,
            "label": spec.label,
            "kind": spec.kind,
            "unit": "元" if spec.kind == "money" else spec.unit,
            "members": [{"value": n, "label": label} for n, label in spec.members],
            "bounds": [{"op": op, "value": str(b)} for op, b in spec.bounds],
        }
        for fact, spec in plan.facts.items()
    ]
