"""Evaluate many applicants from CSV or JSON Lines, streaming, losing no row, with cross-applicant limits."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs

from policydsl import runtime as rt
from policydsl.files import atomic_output


class Evaluator(Protocol):
    """What batch evaluation needs of an evaluator (the interpreter or a compiled module)."""

    def evaluate(
        self,
        facts: dict[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
    ) -> rt.Decision: ...

    def retotal(self, decision: rt.Decision) -> None: ...


@attrs.frozen
class Constraint:
    """A limit across applicants on one `measure`: a `quota` (with a `rank` function, or None when the
    text declares no ranking), or a `group_cap` over the groups that `group` tells apart, with its
    allocation rule `allocate` (proportional, or None)."""

    measure: str
    quota: int | None = None
    rank: Callable[[dict[str, Any]], Decimal | None] | None = None
    group_cap: Decimal | None = None
    group: str | None = None
    allocate: str | None = None


def _int(text: str) -> int | Decimal:
    # Python refuses to convert integers of more than 4300 digits; as a Decimal such a figure
    # reaches the fact check, which says it is too large
    return int(text) if len(text) <= 4000 else Decimal(text)


def parse_json(text: str) -> Any:
    """JSON with exact numbers (floats as Decimal, NaN and Infinity as the Decimal values the fact
    check refuses by name); ValueError saying why the text is not usable JSON."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=_int, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not usable JSON: it nests too deeply") from None
    if not _encodable(json.dumps(value, ensure_ascii=False, default=str)):
        raise ValueError("not usable JSON: it holds a lone surrogate (such as \\ud800), which is not text")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Rows of a .csv or .jsonl file as (row number, facts, error); a malformed row is an error row.
    Bytes that are not UTF-8 are read as surrogates and make their row an error row, so that one bad
    row does not stop the batch."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        if path.suffix.lower() == ".csv":
            # strict: a stray or unclosed quote is an error row, not a field that swallows the lines after
            # it; skipinitialspace: `a, "1,000万"` (written by hand) quotes its second cell
            reader = csv.DictReader(handle, strict=True, skipinitialspace=True)
            try:
                header = reader.fieldnames or []
            except csv.Error as exc:
                raise rt.InputError([f"{path}: the header line cannot be read ({exc})"]) from None
            # spreadsheets pad names with spaces; a padded name would match no fact
            reader.fieldnames = [name.strip() for name in header]
            number = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    yield number, None, f"unreadable row (ending on line {reader.line_num}): {exc}"
                    continue
                number += 1
                width = len(reader.fieldnames)
                if None in row:
                    extra = row[None]
                    yield number, None, f"row has {width + len(extra)} cells; the header has {width}"
                    continue
                if not all(_encodable(v) for v in row.values() if isinstance(v, str)):
                    yield number, None, "the row is not UTF-8 text"
                    continue
                yield number, {k: v for k, v in row.items() if k is not None}, None
        else:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                if not _encodable(line):
                    yield number, None, "the line is not UTF-8 text"
                    continue
                try:
                    value = parse_json(line)
                except ValueError as exc:
                    yield number, None, str(exc)
                    continue
                if not isinstance(value, dict):
                    yield number, None, "each line must be a JSON object of facts"
                    continue
                yield number, value, None


@attrs.define
class _Seen:
    row: int
    status: str
    amount: Decimal | None
    rank: Decimal | None
    group: str | None


def _plan(
    path: Path, evaluator: Evaluator, date: datetime.date | None, constraints: list[Constraint]
) -> dict[str, dict[int, tuple[str, Decimal | None, str]]]:
    """First pass: decide, per constrained measure, what each row's result becomes under the quota or
    group cap.  Keeps only a small record per eligible row."""
    seen: dict[str, list[_Seen]] = {c.measure: [] for c in constraints}
    for number, facts, error in read_rows(path):
        if facts is None or error:
            continue
        try:
            decision = evaluator.evaluate(dict(facts), date, explain=False)
        except rt.InputError:
            continue
        for c in constraints:
            result = decision.measures[c.measure]
            if result.status == rt.INELIGIBLE:
                continue
            rank = c.rank(facts) if c.rank is not None else None
            group = None if c.group is None else str(facts.get(c.group, ""))
            seen[c.measure].append(_Seen(number, result.status, result.amount, rank, group))
    changes: dict[str, dict[int, tuple[str, Decimal | None, str]]] = {}
    for c in constraints:
        rows = seen[c.measure]
        change: dict[int, tuple[str, Decimal | None, str]] = {}
        if c.quota is not None and len(rows) > c.quota:
            if c.rank is None:
                for r in rows:
                    change[r.row] = (
                        rt.UNDETERMINED,
                        r.amount,
                        f"{len(rows)} 个符合条件，名额 {c.quota} 个，原文未规定遴选排序",
                    )
            else:
                order = sorted(
                    rows, key=lambda r: (-(r.rank if r.rank is not None else Decimal("-Infinity")), r.row)
                )
                for place, r in enumerate(order, 1):
                    if place > c.quota:
                        change[r.row] = (rt.INELIGIBLE, None, f"未入选：名额 {c.quota} 个，排名第 {place}")
        if c.group_cap is not None:
            groups: dict[str | None, list[_Seen]] = {}
            for r in rows:
                if r.row not in change:
                    groups.setdefault(r.group, []).append(r)
            for name, members in groups.items():
                total = sum((m.amount or Decimal(0) for m in members), Decimal(0))
                if total <= c.group_cap:
                    continue
                for m in members:
                    if c.allocate == "proportional" and m.amount is not None:
                        share = (m.amount * c.group_cap / total).quantize(
                            Decimal("0.01"), rounding="ROUND_DOWN"
                        )
                        change[m.row] = (
                            m.status,
                            share,
                            f"集体封顶 {rt.yuan(c.group_cap)}（{name}）按比例分配",
                        )
                    else:
                        change[m.row] = (
                            rt.CEILING,
                            m.amount,
                            f"{name} 成员合计 {rt.yuan(total)} 超过集体封顶 {rt.yuan(c.group_cap)}，"
                            "原文未规定分配办法",
                        )
        changes[c.measure] = change
    return changes


def _apply(
    evaluator: Evaluator,
    decision: rt.Decision,
    row: int,
    changes: dict[str, dict[int, tuple[str, Decimal | None, str]]],
) -> None:
    changed = False
    for measure, change in changes.items():
        if row in change:
            status, amount, reason = change[row]
            result = decision.measures[measure]
            result.status, result.amount = status, amount
            result.reasons.append(reason)
            changed = True
    if changed:
        evaluator.retotal(decision)


def _row_out(
    number: int, facts: dict[str, Any] | None, decision: rt.Decision | None, error: str | None
) -> dict[str, Any]:
    row_id = (facts or {}).get("id", (facts or {}).get("_id", number))
    out: dict[str, Any] = {"row": number, "id": row_id, "error": error}
    if decision is not None:
        out["total_status"] = decision.total.status
        out["total_amount"] = None if decision.total.amount is None else str(decision.total.amount)
        for name, m in decision.measures.items():
            out[f"{name}.status"] = m.status
            out[f"{name}.amount"] = None if m.amount is None else str(m.amount)
            out[f"{name}.reasons"] = "；".join(m.reasons)
    return out


def run_batch(
    evaluator: Evaluator,
    measures: list[str],
    source: Path,
    target: Path,
    date: datetime.date | None,
    constraints: list[Constraint],
    progress: TextIO | None = None,
) -> tuple[int, int]:
    """Evaluate every row of `source` into `target` (.csv or .jsonl); returns (rows, rows with errors).
    The output is written to a temporary file and renamed into place only when complete."""
    with decimal.localcontext(rt.CONTEXT):  # group sums and shares are money: the exact context
        changes = _plan(source, evaluator, date, constraints) if constraints else {}
    columns = ["row", "id", "error", "total_status", "total_amount"]
    for name in measures:
        columns += [f"{name}.status", f"{name}.amount", f"{name}.reasons"]
    rows = errors = 0
    with atomic_output(target) as raw:  # noqa: SIM117 (the text layer must close before the rename)
        # backslashreplace: nothing read from the input can make a row unwritable
        with io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", newline="") as out:
            writer = csv.DictWriter(out, columns) if target.suffix.lower() == ".csv" else None
            if writer is not None:
                writer.writeheader()
            for number, facts, error in read_rows(source):
                decision = None
                if facts is not None and error is None:
                    try:
                        decision = evaluator.evaluate(dict(facts), date, explain=False)
                        _apply(evaluator, decision, number, changes)
                    except rt.InputError as exc:
                        error = "; ".join(exc.problems)
                rows += 1
                errors += error is not None
                record = _row_out(number, facts, decision, error)
                if writer is not None:
                    writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
                else:
                    out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                if progress is not None and rows % 1000 == 0:
                    progress.write(f"\r{rows} rows…")
                    progress.flush()
    if progress is not None:
        progress.write(f"\r{rows} rows done\n")
    return rows, errors


def stderr_progress() -> TextIO | None:
    """Progress on standard error, only when it is a terminal."""
    return sys.stderr if sys.stderr.isatty() else None
