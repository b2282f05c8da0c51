"""Print a witness applicant the way drafters write values: labels, `2000万`, `3000家`, `60%`."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from policydsl.analysis.smt import Witness, exact_decimal
from policydsl.evaluation.runtime import shift
from policydsl.messages import Message, msg, text
from policydsl.plan import nodes as P

_YI = Decimal(100000000)
_WAN = Decimal(10000)


# Exact whatever the decimal context: `%`, `/` and normalize() round (or fail on) a witness of more
# than 28 digits, and the witness printed would not be the one found.
def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _multiple(value: Decimal, places: int) -> bool:
    """Whether `value` is a whole multiple of 10^places."""
    scaled = shift(value, -places)
    return scaled == scaled.to_integral_value()


def _decimal(value: Decimal | Fraction | int) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    exact = exact_decimal(Fraction(value))
    return exact if isinstance(exact, Decimal) else None


def money_literal(value: Decimal | Fraction | int) -> str:
    """An amount as a literal of the language: 2000万, 1.5亿, 12345.67元."""
    exact = _decimal(value)
    if exact is None:
        return f"{Fraction(value)}元"
    sign = "-" if exact < 0 else ""
    v = exact.copy_abs()
    if v >= _YI and _multiple(v, 4):
        return f"{sign}{_plain(shift(v, -8))}亿"
    if v >= _WAN and _multiple(v, 2):
        return f"{sign}{_plain(shift(v, -4))}万"
    return f"{sign}{_plain(v)}元"


def number_literal(value: Decimal | Fraction | int) -> str:
    exact = _decimal(value)
    return str(Fraction(value)) if exact is None else _plain(exact)


def percent_literal(value: Decimal | Fraction | int) -> str:
    exact = _decimal(Fraction(value) * 100)
    if exact is None:
        return f"{Fraction(value) * 100}%"
    return f"{_plain(exact)}%"


def count_literal(value: Decimal | Fraction | int, unit: str | None) -> str:
    exact = _decimal(value)
    if exact is None:
        return f"{Fraction(value)}{unit or ''}"
    if exact.copy_abs() >= 1000000 and _multiple(exact, 4):
        return f"{_plain(shift(exact, -4))}万{unit or ''}"
    return f"{_plain(exact)}{unit or ''}"


class Shown(Protocol):
    """What `literal` needs of a value's type: a checker's type, or a plan's fact or parameter spec."""

    @property
    def kind(self) -> str: ...

    @property
    def unit(self) -> str | None: ...


def literal(value: Any, ty: Shown, chinese: bool = False) -> str:
    """A fact's value as the language writes it (what an example's `given` block accepts)."""
    if value is None:
        return "?"
    if isinstance(value, bool):
        return ("是" if value else "否") if chinese else ("true" if value else "false")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        count, unit = value
        if unit == "month":
            return f"{count // 12}年" if count % 12 == 0 and count else f"{count}个月"
        return f"{count}天"
    if isinstance(value, str):
        return value
    if isinstance(value, frozenset):  # the applicant's roles: one as its name, several as a set
        roles = sorted(value)
        return roles[0] if len(roles) == 1 else "{" + ", ".join(roles) + "}"
    if ty.kind == "money":
        return money_literal(value)
    if ty.kind == "percent":
        return percent_literal(value)
    if ty.kind == "count":
        return count_literal(value, ty.unit)
    if ty.kind == "per_unit":
        return f"{money_literal(value)}/{ty.unit}"
    return number_literal(value)


def literals(witness: Witness, plan: P.Plan, chinese: bool = False) -> dict[str, str]:
    """Fact name -> literal, in declaration order."""
    return {
        name: literal(witness.facts[name], spec, chinese)
        for name, spec in plan.facts.items()
        if name in witness.facts
    }


def param_literals(witness: Witness, plan: P.Plan, chinese: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in witness.params.items():
        spec = plan.params.get(key.split("@")[0])
        if spec is not None:
            out[key] = literal(value, spec, chinese)
    return out


def describe(witness: Witness, plan: P.Plan, chinese: bool = False) -> Message:
    """`申报主体 applicant = platform（平台）, 营业收入 revenue = 2000万, on 2023-01-01`, as a message
    (its words in the language it is printed in)."""
    parts: list[Message] = []
    for name, written in literals(witness, plan, chinese).items():
        spec = plan.facts[name]
        label = spec.label if spec.label != name else ""
        shown = written
        if spec.kind == "enum" and spec.enum is not None:
            member = plan.enums.get(spec.enum, {}).get(written)
            if member is not None and member != written:
                shown = f"{written}（{member}）"
        elif spec.kind == "roles" and isinstance(witness.facts[name], frozenset):
            kinds = sorted(witness.facts[name])
            if any(plan.kinds.get(k, k) != k for k in kinds):
                shown = f"{written}（{'、'.join(plan.kinds.get(k, k) for k in kinds)}）"
        parts.append(text(f"{label} {name} = {shown}".strip()))
    for key, value in param_literals(witness, plan, chinese).items():
        param = plan.params.get(key.split("@")[0])
        label = param.label if param is not None and param.label != key else ""
        parts.append(msg("witness.assumed", param=f"{label} {key}".strip(), value=value))
    if witness.on is not None:
        parts.append(msg("witness.on", date=witness.on.isoformat()))
    return msg("witness.any") if not parts else parts[0] if len(parts) == 1 else _joined(tuple(parts))


def _joined(parts: tuple[Message, ...]) -> Message:
    """Parts shown as a list (`, ` in English, `、` in Chinese)."""
    return msg("witness.parts", parts=parts)


def amount_text(value: Fraction | None, unset: bool = False) -> str:
    """An amount a finding shows: `unset` when it hangs on a figure the text leaves open (the
    solver's pick is no amount), `undetermined` when it has no exact value."""
    if unset:
        return "unset"
    return "undetermined" if value is None else money_literal(value)
