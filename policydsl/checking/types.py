"""The types of the language and the symbols names resolve to."""

from __future__ import annotations

import attrs

from policydsl.syntax import ast


@attrs.frozen
class Type:
    """A type: `kind` is money, percent, number, count, per_unit, bool, date, duration, text, enum or
    error; counts and per-unit amounts carry a `unit` (家, 项…), enums their `enum` name."""

    kind: str
    unit: str | None = None
    enum: str | None = None

    def __str__(self) -> str:
        if self.kind == "count":
            return f"count of {self.unit}"
        if self.kind == "per_unit":
            return f"money per {self.unit}"
        if self.kind == "enum":
            return f"enum {self.enum}"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("money", "percent", "number", "count", "per_unit", "duration")


MONEY = Type("money")
PERCENT = Type("percent")
NUMBER = Type("number")
BOOL = Type("bool")
DATE = Type("date")
DURATION = Type("duration")
TEXT = Type("text")
ERROR = Type("error")  # already reported; silences follow-on errors

APPLICANT_ENUM = "applicant"


def count(unit: str | None) -> Type:
    return Type("count", unit=unit)


def per_unit(unit: str) -> Type:
    return Type("per_unit", unit=unit)


def enum(name: str) -> Type:
    return Type("enum", enum=name)


@attrs.frozen
class FactSym:
    """A fact about the applicant; `decl` is None for the built-in `applicant` kind."""

    name: str
    type: Type
    decl: ast.FactDecl | None

    @property
    def label(self) -> str:
        if self.decl is None:
            return "申报主体"
        return self.decl.label or self.name


@attrs.frozen
class ParamSym:
    """A parameter."""

    name: str
    type: Type
    decl: ast.ParamDecl

    @property
    def label(self) -> str:
        return self.decl.label or self.name


@attrs.frozen
class EnumValueSym:
    """A value `member` of enum `enum` (the applicant kinds form the enum `applicant`)."""

    enum: str
    member: str
    label: str

    @property
    def type(self) -> Type:
        return enum(self.enum)


Symbol = FactSym | ParamSym | EnumValueSym
