"""Evaluate many applicants from CSV or JSON Lines, streaming, losing no row, with cross-applicant limits."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import attrs

from policydsl.evaluation import runtime as rt
from policydsl.evaluation.cells import Cells, slow_why
from policydsl.evaluation.progress import Progress
from policydsl.files import atomic_output
from policydsl.messages import Lang, Message, default_lang, msg, problem_message


class Evaluator(Protocol):
    """What batch evaluation needs of an evaluator (the interpreter or a compiled module)."""

    def evaluate(
        self,
        facts: dict[str, Any],
        date: datetime.date | None = None,
        *,
        partial: bool = False,
        explain: bool = True,
        strict: bool = False,
    ) -> rt.Decision: ...

    def retotal(self, decision: rt.Decision, facts: dict[str, Any] | None = None) -> None: ...


@attrs.frozen
class Constraint:
    """A limit across applicants on one `measure`: a `quota` (with a `rank` function, or None when the
    text declares no ranking), or a `group_cap` over the groups that `group` tells apart, with its
    allocation rule `allocate` (proportional, or None).  A quota whose selection the facts record has
    `selected` (whether a row's facts mark it selected: the yes/no fact `selected_by` true) and that
    fact's `selected_label`."""

    measure: str
    quota: int | None = None
    rank: Callable[[dict[str, Any]], Decimal | None] | None = None
    group_cap: Decimal | None = None
    group: str | None = None
    allocate: str | None = None
    selected: Callable[[dict[str, Any]], bool] | None = None
    selected_label: str = ""


@attrs.frozen
class PotShare:
    """A pot shared across a batch: `total` for `label` (`text` as written) over `measures`, shared by
    `allocate` (proportional, ranked by `rank`, first_come, unset; None: not said) to the `quantum`
    of the policy's rounding (runtime.share_pot)."""

    name: str
    label: str
    total: Decimal
    measures: tuple[str, ...]
    allocate: str | None = None
    rank: Callable[[dict[str, Any]], Decimal | None] | None = None
    quantum: Decimal = Decimal("0.01")
    text: str = ""


Limit = Constraint | PotShare


def _int(text: str) -> int | Decimal:
    # Python refuses to convert integers of more than 4300 digits; as a Decimal such a figure
    # reaches the fact check, which says it is too large
    return int(text) if len(text) <= 4000 else Decimal(text)


def parse_json(text: str) -> Any:
    """JSON with exact numbers (floats as Decimal, NaN and Infinity as the Decimal values the fact
    check refuses by name); ValueError saying why the text is not usable JSON."""
    try:
        value = json.loads(
            text, parse_float=Decimal, parse_int=_int, parse_constant=Decimal, object_pairs_hook=_unique
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not usable JSON: it nests too deeply") from None
    except _DuplicateKey as exc:
        raise ValueError(str(exc)) from None
    if not _encodable(json.dumps(value, ensure_ascii=False, default=str)):
        raise ValueError("not usable JSON: it holds a lone surrogate (such as \\ud800), which is not text")
    return value


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a repeated key is refused, not read as its last value."""
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKey(f"not usable JSON: the key `{key}` is given twice")
        value[key] = item
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Batch input is read one physical line at a time, in chunks of at most this many bytes, so that no
# line, however long, is held whole in memory; a longer line is an error row and reading goes on.
MAX_LINE_BYTES = 1024 * 1024
# A cell longer than this is an error row (a fact's value is a few dozen characters).
MAX_CELL_CHARS = 64 * 1024
# Column headers that are not facts but name the applicant in the output (header → key).
ID_COLUMNS = {"id": "id", "_id": "_id", "编号": "id"}


def physical_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, the line without its line break) for each line of `handle`; None for a line of
    more than `limit` bytes, whose rest is skipped in chunks of at most `limit` bytes."""
    number = 0
    while True:
        chunk = handle.readline(limit + 1)
        if not chunk:
            return
        number += 1
        if len(chunk.rstrip(b"\r\n")) > limit:
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(limit)
            yield number, None
            continue
        if chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        yield number, chunk[:-1] if chunk.endswith(b"\r") else chunk


def detect_encoding(path: Path) -> str:
    """The encoding of a whole batch file: UTF-8 with a BOM (`utf-8-sig`), UTF-8, or GB18030 (what Excel
    on Chinese Windows writes) when no line with non-ASCII text is UTF-8 and some line is not."""
    with path.open("rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            return "utf-8-sig"
        handle.seek(0)
        while block := handle.read(1 << 20):  # an ASCII file (most CSV of figures) is UTF-8: said at once
            if not block.isascii():
                break
        else:
            return "utf-8"
        handle.seek(0)
        foreign = False
        for _, line in physical_lines(handle, MAX_LINE_BYTES):
            if line is None or line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                foreign = True
                continue
            return "utf-8"  # real UTF-8 text: lines that are not UTF-8 are error rows
    return "gb18030" if foreign else "utf-8"


def column_names(specs: Mapping[str, rt.FactSpec] | None) -> dict[str, str] | None:
    """What a column header may say (a fact's name or its label, or an id column) → the key read."""
    if specs is None:
        return None
    names = dict(ID_COLUMNS)
    for key, spec in specs.items():
        names.setdefault(spec.label, key)
    names.update({key: key for key in specs})
    return names


def _header(cells: list[str], names: dict[str, str] | None, where: str) -> list[str]:
    """The keys the columns are read into; InputError naming every unknown or repeated column."""
    problems: list[str] = []
    keys: list[str] = []
    seen: dict[str, str] = {}
    for cell in cells:
        text = unicodedata.normalize("NFKC", cell).strip()  # spreadsheets pad names with spaces
        key = text if names is None else names.get(text)
        if key is None:
            problems.append(
                f"{where}: column `{text}`: no such fact (a column is a fact's name or label, or id)"
            )
            key = text
        if key in seen:
            problems.append(f"{where}: columns `{seen[key]}` and `{text}` give `{key}` twice")
        seen.setdefault(key, text)
        keys.append(key)
    if problems:
        raise rt.InputError(problems)
    return keys


class _Lines:
    """One CSV reader for the lines of a file, fed a line at a time (`cells`): its state starts afresh
    at each line, so a line it cannot read leaves the next as readable as with a reader of its own."""

    def __init__(self) -> None:
        self.line: str | None = None
        # strict: a malformed quote is an error, not a field that runs on;
        # skipinitialspace: `a, "1,000万"` (written by hand) quotes its second cell
        self.reader = csv.reader(self, strict=True, skipinitialspace=True)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line, self.line = self.line, None
        if line is None:
            raise StopIteration  # a quote still open at the end of the line: csv.Error
        return line

    def cells(self, text: str) -> list[str]:
        self.line = text
        return next(self.reader, [])


def _csv_cells(text: str, line: int, lines: _Lines | None = None) -> tuple[list[str] | None, str | None]:
    """The cells of one CSV line; a quote opened on a line must close on it."""
    try:
        cells = (lines or _Lines()).cells(text)
    except csv.Error as exc:
        if "field limit" in str(exc):
            return None, f"a cell is longer than {MAX_CELL_CHARS} characters (line {line})"
        if "unexpected end of data" in str(exc):
            return None, f"a quote opened on line {line} is not closed on it (a cell cannot span lines)"
        return None, f"unreadable row on line {line}: {exc}"
    if len(text) > MAX_CELL_CHARS and any(len(cell) > MAX_CELL_CHARS for cell in cells):
        return None, f"a cell is longer than {MAX_CELL_CHARS} characters (line {line})"
    return cells, None


def read_rows(
    path: Path, encoding: str | None = None, specs: Mapping[str, rt.FactSpec] | None = None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Rows of a .csv or .jsonl file as (row number, facts, error): every line that is not blank is
    one row (a CSV row is numbered among the data rows, a JSON Lines row by its line), and a malformed
    line is an error row.  `encoding` defaults to detect_encoding's answer.
    With the policy's fact `specs`, CSV columns may be headed by a fact's label, and a column that
    names no fact stops the batch (InputError) before any row is read."""
    encoding = encoding or detect_encoding(path)
    is_csv = path.suffix.lower() == ".csv"
    names = column_names(specs)
    lines = _Lines()
    with path.open("rb") as handle:
        keys: list[str] | None = None
        number = 0
        for line_number, raw in physical_lines(handle, MAX_LINE_BYTES):
            if raw is not None and not raw.strip():
                continue
            if raw is not None and line_number == 1 and encoding == "utf-8-sig":
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            text: str | None = None
            error: str | None = None
            if raw is None:
                error = f"line {line_number} is longer than {MAX_LINE_BYTES} bytes"
            else:
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError:
                    error = f"line {line_number} is not {_ENCODING_NAMES.get(encoding, encoding)} text"
            if is_csv and keys is None:
                cells = None if text is None else _csv_cells(text, line_number, lines)[0]
                if cells is None:
                    raise rt.InputError([f"{path}: the header line cannot be read ({error or 'malformed'})"])
                keys = _header(cells, names, str(path))
                continue
            # a CSV row is numbered by its place among the data rows, a JSON Lines row by its line
            number = number + 1 if is_csv else line_number
            if error is not None or text is None:
                yield number, None, error
            elif is_csv:
                yield number, *_csv_row(text, line_number, keys or [], lines)
            else:
                yield number, *_json_row(text)


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GB18030"}


def encoding_name(encoding: str) -> str:
    """How the batch command names an encoding."""
    return _ENCODING_NAMES.get(encoding.lower(), encoding)


def _csv_row(
    text: str, line: int, keys: list[str], lines: _Lines | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    cells, error = _csv_cells(text, line, lines)
    if cells is None:
        return None, error
    if len(cells) > len(keys):
        return None, f"row has {len(cells)} cells; the header has {len(keys)}"
    return dict(zip(keys, cells, strict=False)), None


def _json_row(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = parse_json(text)
    except ValueError as exc:
        return None, str(exc)
    if not isinstance(value, dict):
        return None, "each line must be a JSON object of facts"
    return value, None


def group_key(spec: rt.FactSpec | None, raw: Any) -> str | None:
    """The group an applicant belongs to under a group cap: the group fact's value with spaces trimmed
    and full-width forms folded (`甲　` and `甲`, `Ａ` and `A` are one group); None, no group, when blank."""
    if raw is None:
        return None
    value = raw
    if spec is not None:
        try:
            value = rt.parse_fact(spec, raw)  # an enum's label and name are one member
        except ValueError:
            value = raw
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


@attrs.define
class _Seen:
    row: int
    status: str
    amount: Decimal | None
    rank: Decimal | None
    group: str | None
    selected: bool = False


@attrs.frozen
class Inconsistent:
    """More rows of a batch marked selected for `measure` (`label`) than its `quota` allows, by the
    fact labelled `fact`: every such row (`rows`, in input order) is inconsistent input."""

    measure: str
    label: str
    quota: int
    fact: str
    rows: tuple[int, ...]

    def reason(self) -> Message:
        """The row's error: the quota and how many rows the batch marks selected."""
        return msg(
            "batch.over_quota",
            measure=self.label,
            quota=self.quota,
            count=len(self.rows),
            fact=self.fact,
        )

    def summary(self) -> Message:
        """The batch summary's line: the same, with the rows."""
        shown = ", ".join(str(r) for r in self.rows[:10]) + (", …" if len(self.rows) > 10 else "")
        return msg(
            "batch.over_quota_summary",
            measure=self.label,
            quota=self.quota,
            count=len(self.rows),
            fact=self.fact,
            rows=shown,
        )


@attrs.define
class _Planned:
    """What the first pass decided: per measure, each changed row's (status, amount, reason); the
    quotas the batch's own records contradict."""

    changes: dict[str, dict[int, tuple[str, Decimal | None, str]]]
    inconsistent: list[Inconsistent]

    def inconsistent_rows(self) -> dict[int, list[Inconsistent]]:
        rows: dict[int, list[Inconsistent]] = {}
        for item in self.inconsistent:
            for row in item.rows:
                rows.setdefault(row, []).append(item)
        return rows


def _plan(
    records: Iterator[tuple[int, dict[str, Any] | None, str | None]],
    evaluator: Evaluator,
    date: datetime.date | None,
    limits: list[Limit],
    specs: Mapping[str, rt.FactSpec] | None,
    strict: bool = False,
) -> _Planned:
    """First pass: decide, per constrained measure, what each row's result becomes under the quota,
    group cap or pot, and which quotas the rows' own records of selection contradict (more rows
    marked selected than the quota: every such row is inconsistent input, and takes no part in the
    group caps and pots).  Keeps only a small record per eligible row."""
    constraints = [c for c in limits if isinstance(c, Constraint)]
    pots = [c for c in limits if isinstance(c, PotShare)]
    seen: dict[str, list[_Seen]] = {c.measure: [] for c in constraints}
    claims: dict[str, list[rt.Claim]] = {pot.name: [] for pot in pots}
    labels: dict[str, str] = {}
    cells = Cells(specs)
    for number, facts, error in records:
        if facts is None or error:
            continue
        try:
            decision = evaluator.evaluate(
                cells.typed(facts) or dict(facts), date, partial=True, explain=False, strict=strict
            )
        except rt.InputError:
            continue
        for pot in pots:
            rank = pot.rank(facts) if pot.rank is not None else None
            for measure in pot.measures:
                result = decision.measures[measure]
                claim = result.claim or (result.status, result.amount)
                if claim[0] != rt.INELIGIBLE:
                    claims[pot.name].append((number, measure, claim[0], claim[1], rank))
        for c in constraints:
            result = decision.measures[c.measure]
            if result.status == rt.INELIGIBLE:
                continue
            rank = c.rank(facts) if c.rank is not None else None
            group = None
            if c.group is not None:
                group = group_key((specs or {}).get(c.group), facts.get(c.group))
            selected = c.selected is not None and c.selected(facts)
            labels.setdefault(c.measure, result.label)
            seen[c.measure].append(_Seen(number, result.status, result.amount, rank, group, selected))
    inconsistent: list[Inconsistent] = []
    for c in constraints:
        if c.quota is None or c.selected is None:
            continue
        marked = tuple(r.row for r in seen[c.measure] if r.selected)
        if len(marked) > c.quota:
            label = labels.get(c.measure, c.measure)
            inconsistent.append(Inconsistent(c.measure, label, c.quota, c.selected_label, marked))
    bad = {row for item in inconsistent for row in item.rows}
    changes: dict[str, dict[int, tuple[str, Decimal | None, str]]] = {}
    for c in constraints:
        rows = [r for r in seen[c.measure] if r.row not in bad]
        change: dict[int, tuple[str, Decimal | None, str]] = {}
        if c.selected is not None:
            pass  # the rows record the selection: at or under the quota they are paid as evaluated
        elif c.quota is not None and len(rows) > c.quota:
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
                if r.row not in change and r.group is not None:  # no group: the cap does not bind
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
    for pot in pots:
        kept: list[rt.Claim] = []
        for row, measure, status, amount, rank in claims[pot.name]:
            earlier = changes.get(measure, {}).get(row)
            if row in bad:
                continue
            if earlier is None:
                kept.append((row, measure, status, amount, rank))
            elif earlier[0] != rt.INELIGIBLE:  # a quota's or group cap's figure is the claim
                kept.append((row, measure, earlier[0], earlier[1], rank))
        head = rt.pot_head(pot.label, pot.total, pot.text, pot.allocate)
        for (row, measure), outcome in rt.share_pot(pot.total, kept, pot.allocate, pot.quantum, head).items():
            changes.setdefault(measure, {})[row] = outcome
    return _Planned(changes, inconsistent)


def _apply(
    evaluator: Evaluator,
    decision: rt.Decision,
    row: int,
    changes: dict[str, dict[int, tuple[str, Decimal | None, str]]],
    facts: dict[str, Any] | None = None,
) -> dict[str, tuple[str, Decimal | None]]:
    """Apply the batch's limits to one row's decision; returns, for each measure they changed, its
    (status, amount) before."""
    before: dict[str, tuple[str, Decimal | None]] = {}
    for measure, change in changes.items():
        if row in change:
            status, amount, reason = change[row]
            result = decision.measures[measure]
            before[measure] = (result.status, result.amount)
            result.status, result.amount = status, amount
            if result.floor is not None:  # a quota or group cap lowers the floor with the amount
                result.floor = None if amount is None or status != rt.CEILING else min(result.floor, amount)
            result.reasons.append(reason)
    if before:
        evaluator.retotal(decision, facts)
    return before


def figure_text(amount: Decimal | None) -> str | None:
    """An amount as the batch writes it: plain digits, never an exponent (a pot of `100万` is held as
    Decimal('1.00E+6'), which `str` would write as 1.00E+6)."""
    return None if amount is None else format(amount, "f")


def _row_out(
    number: int, facts: dict[str, Any] | None, decision: rt.Decision | None, error: str | None
) -> dict[str, Any]:
    row_id = (facts or {}).get("id", (facts or {}).get("_id", number))
    out: dict[str, Any] = {"row": number, "id": row_id, "error": error}
    if decision is not None:
        out["total_status"] = decision.total.status
        out["total_amount"] = figure_text(decision.total.amount)
        out["total_reasons"] = "；".join(decision.total.reasons)
        out["payment_forms_note"] = rt.forms_note(decision.measures.values())
        for name, m in decision.measures.items():
            out[f"{name}.status"] = m.status
            out[f"{name}.amount"] = figure_text(m.amount)
            out[f"{name}.form"] = rt.form_words(m.forms)
            out[f"{name}.reasons"] = "；".join(m.reasons)
    return out


# A text cell that starts with one of these is run as a formula by Excel and WPS (OWASP's rule).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Output columns that hold figures, which are numbers and never neutralised.
_FIGURES = ("row", "total_amount")
# Output columns that never hold text from the input: amounts, and statuses (one of four words).
_NO_TEXT = (".amount", ".status", "total_status")


def guard_formulas(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with every text cell a spreadsheet would run as a formula prefixed by a single quote;
    amounts (negative ones too) and row numbers are numbers and stay as they are."""
    return {
        key: "'" + value
        if isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and key not in _FIGURES
        and not key.endswith(".amount")
        else value
        for key, value in record.items()
    }


def fact_specs_of(evaluator: Evaluator) -> Mapping[str, rt.FactSpec] | None:
    """The facts an evaluator takes (the interpreter's and the compiled evaluator's), if it says."""
    specs = getattr(getattr(evaluator, "interpreter", None), "specs", None)
    return specs if isinstance(specs, Mapping) else None


@attrs.frozen
class Decided:
    """One row of a batch decided: its `number`, the `facts` read (None: unreadable), the `decision`
    with the batch's limits applied (None when the row has an `error`), and `limited`, each measure's
    (status, amount) before a quota, group cap or pot changed it."""

    number: int
    facts: dict[str, Any] | None
    decision: rt.Decision | None
    error: str | None
    limited: dict[str, tuple[str, Decimal | None]] = attrs.field(factory=dict)


def name_needed(decision: rt.Decision, lang: Lang) -> None:
    """A row decided with facts not known (blank cells: the batch decides as `eval --partial` does)
    names, in each measure's reasons, the facts that measure still needs and no reason names yet
    (a requirement not yet decided says `缺少：label`; an amount that reads the fact says nothing)."""
    for result in decision.measures.values():
        if not result.needed:
            continue
        told = "；".join(result.reasons)
        # a needed fact is written `label（name）`
        untold = tuple(fact for fact in result.needed if fact.rsplit("（", 1)[0] not in told)
        if untold:
            result.reasons.append(msg("batch.needed", facts=untold).render(lang))


def decide_batch(
    evaluator: Evaluator,
    source: Path,
    date: datetime.date | None,
    constraints: list[Limit],
    *,
    encoding: str | None = None,
    strict: bool = False,
    ignored: dict[str, int] | None = None,
    lang: Lang | None = None,
    inconsistent: list[Inconsistent] | None = None,
    slow: dict[str, int] | None = None,
) -> Iterator[Decided]:
    """Every row of `source` decided, in order, with the limits across applicants applied (a first
    pass over the file plans them).  InputError when the header names no fact, at the first row.
    A blank cell is a fact not known: every row is decided as `eval --partial` decides it, and each
    measure's reasons name the facts it still needs, in `lang` (None: default_lang()).  An error
    row's problems are in `lang` (None: the English texts of runtime.InputError.problems).
    Each column's texts are converted once (Cells), so that rows take a compiled evaluator's fast
    path; a row decided on the full path instead is counted in `slow` under why (SLOW_WHY)."""
    encoding = encoding or detect_encoding(source)
    specs = fact_specs_of(evaluator)
    cells = Cells(specs)
    with decimal.localcontext(rt.CONTEXT):  # group sums and shares are money: the exact context
        rows_in = read_rows(source, encoding, specs)
        planned = (
            _plan(rows_in, evaluator, date, constraints, specs, strict) if constraints else _Planned({}, [])
        )
    changes = planned.changes
    contradicted = planned.inconsistent_rows()
    if inconsistent is not None:
        inconsistent.extend(planned.inconsistent)
    for number, facts, error in read_rows(source, encoding, specs):
        decision = None
        limited: dict[str, tuple[str, Decimal | None]] = {}
        if number in contradicted and facts is not None and error is None:
            reason_lang = lang or default_lang()
            error = "；".join(item.reason().render(reason_lang) for item in contradicted[number])
        if facts is not None and error is None:
            typed = cells.typed(facts)
            try:
                decision = evaluator.evaluate(
                    typed or dict(facts), date, partial=True, explain=False, strict=strict
                )
                if decision.path != "fast":  # the fast path decides only rows with every fact given
                    name_needed(decision, lang or default_lang())
                    if slow is not None and typed is not None:
                        why = slow_why(evaluator, date, typed, specs or {})
                        slow[why] = slow.get(why, 0) + 1
                if changes:
                    limited = _apply(evaluator, decision, number, changes, dict(facts))
                if ignored is not None:
                    for key in decision.ignored_keys:
                        ignored[key] = ignored.get(key, 0) + 1
            except rt.InputError as exc:
                error = "; ".join(
                    exc.problems if lang is None else [problem_message(p).render(lang) for p in exc.details]
                )
                decision = None
        yield Decided(number, facts, decision, error, limited)


# What `--columns` keeps of a batch's output (every engine): `amounts`, the statuses and amounts;
# `reasons`, with each measure's reasons (and the total's where the engine gives them); `all`, with
# the payment forms too (the default).
COLUMN_CHOICES = ("amounts", "reasons", "all")
_KEPT_ALWAYS = ("row", "id", "error", "total_status", "total_amount")


def keeps_column(name: str, choice: str) -> bool:
    """Whether the output column `name` (`row`, `total_amount`, `measure.status`, …) is written
    under `--columns choice`."""
    if choice == "all" or name in _KEPT_ALWAYS or name.endswith((".status", ".amount")):
        return True
    return choice == "reasons" and (name == "total_reasons" or name.endswith(".reasons"))


def output_columns(measures: list[str], choice: str = "all") -> list[str]:
    """The output columns of every engine, in order (sqlbatch.output_columns), under `--columns choice`."""
    columns = ["row", "id", "error", "total_status", "total_amount", "total_reasons", "payment_forms_note"]
    for name in measures:
        columns += [f"{name}.status", f"{name}.amount", f"{name}.form", f"{name}.reasons"]
    return [c for c in columns if keeps_column(c, choice)]


# What a compiled evaluator's module may offer: the total's status and amount of a fast-path decision
# from its amounts alone, without the reasons (codegen/python.py writes it where the total is a sum).
Figures = Callable[[rt.Amounts], tuple[str, Decimal | None]]


def total_figures(evaluator: Evaluator) -> Figures | None:
    """The evaluator's lean total (Figures), if its module has one."""
    figures = getattr(getattr(evaluator, "module", None), "total_figures", None)
    return figures if callable(figures) else None


def _amounts_cells(row: Decided, figures: Figures | None = None) -> list[Any]:
    """A row's cells under `--columns amounts` (output_columns' order): statuses and amounts only,
    so that a decision of the fast path builds no reasons for them (and its total, with `figures`,
    none either)."""
    number, facts, decision = row.number, row.facts, row.decision
    row_id = (facts or {}).get("id", (facts or {}).get("_id", number))
    if decision is None:
        return [number, row_id, row.error]
    amounts = decision.amounts
    if figures is not None and decision.path == "fast" and not row.limited:
        status, amount = figures(amounts)
    else:  # a limit changed the row (and its total), or the full path decided it
        status, amount = decision.total.status, decision.total.amount
    # figure_text, written out: six calls a row cost more than the rest of the row's writing
    cells = [number, row_id, row.error, status, None if amount is None else format(amount, "f")]
    for status, amount in amounts.values():
        cells += (status, None if amount is None else format(amount, "f"))
    return cells


def run_batch(
    evaluator: Evaluator,
    measures: list[str],
    source: Path,
    target: Path,
    date: datetime.date | None,
    constraints: list[Limit],
    progress: Progress | None = None,
    *,
    encoding: str | None = None,
    bom: bool = False,
    formula_guard: bool = True,
    strict: bool = False,
    ignored: dict[str, int] | None = None,
    lang: Lang | None = None,
    inconsistent: list[Inconsistent] | None = None,
    columns: str = "all",
    slow: dict[str, int] | None = None,
) -> tuple[int, int]:
    """Evaluate every row of `source` into `target` (.csv or .jsonl); returns (rows, rows with errors).
    The input's `encoding` is detected when not given (detect_encoding).  CSV output starts with a
    byte-order mark when `bom` (Excel needs one to read UTF-8) and, with `formula_guard`, neutralises
    text cells a spreadsheet would run as formulas.  A key of a JSON Lines row that names no fact is
    ignored and counted in `ignored` (key -> rows), or, when `strict`, makes the row an error row.
    A quota whose selection the rows record, with more rows marked selected than it allows, makes
    each such row an error row (inconsistent input, its reason in `lang`) and is listed in
    `inconsistent`.  The output is written to a temporary file and renamed into place only when
    complete.  An error row's problems are in `lang` (None: the English texts of
    runtime.InputError.problems).  `columns` chooses the output columns (COLUMN_CHOICES); rows the
    evaluator decided on its full path are counted in `slow` (decide_batch); `progress` is advanced
    a row at a time and closed at the end."""
    names = output_columns(measures, columns)
    decided = decide_batch(
        evaluator,
        source,
        date,
        constraints,
        encoding=encoding,
        strict=strict,
        ignored=ignored,
        lang=lang,
        inconsistent=inconsistent,
        slow=slow,
    )
    first = next(decided, None)  # an unknown column stops the batch before any output
    figures = total_figures(evaluator)
    rows = errors = 0
    is_csv = target.suffix.lower() == ".csv"
    # the cells a spreadsheet could run as a formula: text, never figures
    guarded = [
        i
        for i, c in enumerate(names)
        if is_csv and formula_guard and c not in _FIGURES and not c.endswith(_NO_TEXT)
    ]
    try:
        with atomic_output(target) as raw:  # noqa: SIM117 (the text layer must close before the rename)
            # backslashreplace: nothing read from the input can make a row unwritable
            with io.TextIOWrapper(
                raw,
                encoding="utf-8-sig" if is_csv and bom else "utf-8",
                errors="backslashreplace",
                newline="",
            ) as out:
                writer = csv.writer(out) if is_csv else None
                if writer is not None:
                    writer.writerow(names)
                for row in _chain(first, decided):
                    rows += 1
                    errors += row.error is not None
                    if columns == "amounts":
                        cells = _amounts_cells(row, figures)
                        record = None
                    else:
                        record = _row_out(row.number, row.facts, row.decision, row.error)
                        cells = [record.get(c) for c in names]
                    if writer is not None:
                        if len(cells) < len(names):  # an error row's other cells are empty
                            cells += [None] * (len(names) - len(cells))
                        for i in guarded:
                            cell = cells[i]
                            if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
                                cells[i] = "'" + cell
                        writer.writerow(cells)
                    else:
                        # an error row has no decision's keys, as in every JSON Lines output
                        kept = (
                            record
                            if record is not None and columns == "all"
                            else {
                                c: v
                                for c, v in zip(names, cells, strict=False)
                                if record is None or c in record
                            }
                        )
                        out.write(json.dumps(kept, ensure_ascii=False, default=str) + "\n")
                    if progress is not None:
                        progress.advance()
    finally:
        if progress is not None:
            progress.close()
    return rows, errors


def _chain(first: Decided | None, rest: Iterator[Decided]) -> Iterator[Decided]:
    if first is not None:
        yield first
        yield from rest
