"""A batch's cells converted to their facts' values once per distinct text of a column, and why a row
still leaves a compiled evaluator's fast path."""

from __future__ import annotations

import datetime
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from policydsl.evaluation import runtime as rt
from policydsl.messages import Message, msg

# A column keeps at most this many distinct texts converted (booleans, enums, dates and round figures
# repeat; a column of all-different figures is converted cell by cell past it).
_DISTINCT = 4096
_BLANK = object()  # a blank cell: the fact is not given
_BAD = object()  # a cell that is not a value of its fact: the row is evaluated as read, to say why
_UNSEEN: dict[str, Any] = {}  # a key not met yet
# A plain figure: ASCII digits with at most one point, no sign, no unit, no space, at most this many
# characters (so within MAX_DIGITS digits and MAX_PLACES places).  Its Decimal is the value
# parse_fact reads from the text, and the checks only a text needs (full-width forms, invisible
# characters, 万/亿, commas) have nothing to find.  Money and numbers (whole counts too: never
# negative, never a fraction) are then checked only against their bounds; a percentage or a count
# with a point is parse_fact's, from the Decimal.
PLAIN_CHARS = 40
_BOUND = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
Bounds = tuple[tuple[Callable[[Any, Any], bool], Decimal], ...]


def plain(raw: str) -> bool:
    """Whether `raw` is a plain figure."""
    return len(raw) <= PLAIN_CHARS and raw.isascii() and raw.replace(".", "", 1).isdigit()


class _Same(dict[str, Any]):
    """An id column's "conversions": every text is itself (the id is dropped afterwards)."""

    def __missing__(self, key: str) -> str:
        return key


class Cells:
    """Each column's texts converted to its fact's values once per distinct text (`runtime.parse_fact`,
    the conversion the evaluator makes of a text), so that a batch's rows reach the evaluator as typed
    values and take its fast path.  A row with a cell that does not convert is left as read: the
    evaluator then reports every problem of the row, with the same words as for any text input.
    `columns` holds, per key, the texts seen and what each is (a value, blank, not a value; None: the
    key is no fact's); `values`, per key, only the texts that are values (and the id columns, read as
    they are), for a row all of whose cells are known values."""

    def __init__(self, specs: Mapping[str, rt.FactSpec] | None) -> None:
        self.specs = specs or {}
        self.columns: dict[str, dict[str, Any] | None] = {}
        self.bounds: dict[str, Bounds] = {}  # a money, number or count column's bounds, to check
        self.values: dict[str, dict[str, Any]] = {key: _Same() for key in rt.ID_KEYS}

    def typed(self, facts: dict[str, Any]) -> dict[str, Any] | None:
        """`facts` with every text of a fact as its value, blank cells left out (as the evaluator
        counts them: not given) and the id left out (the evaluator ignores it); None when a cell is
        not a value of its fact."""
        values = self.values
        out: dict[str, Any] = {}
        for key, raw in facts.items():
            try:  # the common cell: a text already met, of a fact or an id
                out[key] = values[key][raw]
                continue
            except (KeyError, TypeError):  # a new text, a blank, a key of no fact, a JSON list
                value = self._cell(key, raw)
            if value is _BAD:
                return None
            if value is not _BLANK:
                out[key] = value
        for key in rt.ID_KEYS:
            out.pop(key, None)
        return out

    def _cell(self, key: str, raw: Any) -> Any:
        """One cell's value (_BLANK, _BAD), converted and kept when its column still has room."""
        seen = self.columns.get(key, _UNSEEN)
        if seen is _UNSEEN:
            seen = self.columns[key] = self._column(key)
        if seen is None or type(raw) is not str:
            # JSON's numbers and booleans, keys of no fact: as given (an id is left out)
            return _BLANK if key in rt.ID_KEYS else raw
        value = seen.get(raw, _BAD)
        if value is _BAD:
            value = self._convert(key, raw)
            if len(seen) < _DISTINCT:
                seen[raw] = value
                if value is not _BLANK and value is not _BAD:
                    self.values.setdefault(key, {})[raw] = value
        return value

    def _column(self, key: str) -> dict[str, Any] | None:
        spec = self.specs.get(key)
        if spec is None:
            return None
        if spec.kind in ("money", "number", "count"):
            self.bounds[key] = tuple((_BOUND[op], bound) for op, bound in spec.bounds)
        return {}

    def _convert(self, key: str, raw: str) -> Any:
        if not raw.strip():
            return _BLANK
        spec = self.specs[key]
        bounds = self.bounds.get(key)
        if (bounds is not None or spec.kind == "percent") and plain(raw):
            value = Decimal(raw)
            if bounds is not None and (spec.kind != "count" or "." not in raw):
                if all(holds(value, bound) for holds, bound in bounds):
                    return value
            else:
                try:
                    return rt.parse_fact(spec, value)
                except ValueError:
                    pass
            # not a value: converted again from the text, whose words the row's error then uses
        try:
            value = rt.parse_fact(spec, raw)
        except ValueError:
            return _BAD
        if spec.kind == "percent" and abs(value) > 1:
            # `102%`: the evaluator reads a figure given it as a fraction, at most 1 (a bare 1.02 is
            # refused as 102% written without %), so it is given the text, which says it
            return raw
        return value


# Why a row was decided on the evaluator's full path rather than its fast path, as the batch's
# summary says it.
SLOW_WHY: dict[str, Callable[[int], Message]] = {
    "interpreted": lambda n: msg("batch.path.interpreted", count=n),
    "params": lambda n: msg("batch.path.params", count=n),
    "no_date": lambda n: msg("batch.path.no_date", count=n),
    "blank": lambda n: msg("batch.path.blank", count=n),
    "declined": lambda n: msg("batch.path.declined", count=n),
}


def slow_summary(slow: Mapping[str, int], rows: int) -> Message:
    """The summary's line on the rows decided on the full path (`slow`: why -> rows) of `rows`."""
    why = tuple(words(slow[key]) for key, words in SLOW_WHY.items() if slow.get(key))
    return msg("batch.path.slow", count=sum(slow.values()), rows=rows, why=why)


def slow_why(
    evaluator: object,
    date: datetime.date | None,
    typed: Mapping[str, Any],
    specs: Mapping[str, rt.FactSpec],
) -> str:
    """Why the evaluator decided a row of `typed` facts on its full path (its decision's `path` is
    not `fast`)."""
    if getattr(evaluator, "module", None) is None:
        return "interpreted"  # the reference interpreter has one path
    if getattr(evaluator, "params", None):
        return "params"
    if date is None:
        return "no_date"
    given = {specs[key].name for key in typed if key in specs}
    if len(given) < len({spec.name for spec in specs.values()}):
        return "blank"
    return "declined"
