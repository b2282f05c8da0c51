"""Run the SQL back end's query on DuckDB: over rows given in memory, or from a CSV, Parquet or JSON
Lines file into a CSV, Parquet or JSON Lines file, every cell read as text and checked by the query."""

from __future__ import annotations

import codecs
import datetime
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import duckdb
from sqlglot import exp

from policydsl.codegen import sql
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import FORMULA_STARTS, column_names, keeps_column
from policydsl.evaluation.progress import Progress, polled
from policydsl.files import atomic_output
from policydsl.plan import nodes as P
from policydsl.plan.specs import runtime_specs

INPUT_SUFFIXES = (".csv", ".parquet", ".jsonl")
OUTPUT_SUFFIXES = (".csv", ".parquet", ".jsonl")
_SOURCE = "applicants"
_ID_KEYS = ("id", "_id", "编号")
_FLOATS = ("FLOAT", "DOUBLE", "REAL")  # DuckDB's names; Spark's, lowered, are among them


def canonical(value: Any, kind: str | None = None) -> str | None:
    """A parsed fact value (runtime.parse_fact's) of a fact of `kind` written as the text the query
    reads back as the same value: figures plainly (a share above 1 as a percentage: a bare figure
    above 1 is no share), roles separated by `;`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if kind == "percent" and abs(value) > 1:
            return format((value * 100).normalize(), "f") + "%"
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return ";".join(sorted(value))
    return str(value)


# what DuckDB may hold in memory while deciding a file (its buffer pool, not the process's whole
# footprint): past it, it spills to a folder beside the output, removed after
MEMORY_LIMIT = "512MB"


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = true")
    return con


def decide_rows(query: sql.SqlQuery, rows: Sequence[Mapping[str, str | None]]) -> list[dict[str, Any]]:
    """The output of `query` (built with the passthrough column `row`) for `rows` (fact name ->
    text; a fact left out is not given), in order."""
    con = _connect()
    columns = [exp.ColumnDef(this=sql._id(n), kind=exp.DataType.build("VARCHAR")) for n in query.facts]
    columns.insert(0, exp.ColumnDef(this=sql._id("row"), kind=exp.DataType.build("INTEGER")))
    create = exp.Create(
        this=exp.Schema(this=exp.Table(this=sql._id(query.source)), expressions=columns), kind="TABLE"
    )
    con.execute(create.sql(dialect="duckdb"))
    if rows:
        holes = ", ".join("?" for _ in range(len(query.facts) + 1))
        insert = f"INSERT INTO {exp.Table(this=sql._id(query.source)).sql(dialect='duckdb')} VALUES ({holes})"
        con.executemany(insert, [[i + 1, *(r.get(n) for n in query.facts)] for i, r in enumerate(rows)])
    ordered = exp.select(exp.Star()).from_(query.tree.subquery(sql._id("q"))).order_by(sql._col("row"))
    cursor = con.execute(ordered.sql(dialect="duckdb"))
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, record, strict=True)) for record in cursor.fetchall()]


def reason_words(query: sql.SqlQuery, codes: str | None) -> list[str]:
    """The texts of a reasons cell's codes, in order."""
    labels = dict(query.reasons)
    return [labels[c] for c in (codes or "").split(";") if c]


@attrs.frozen
class SqlPolicy:
    """What the SQL engines need of a checked policy: `query` (with the passthrough columns `row`
    and `id`), the `facts` the input relation gives, `labels` (every header a column may have: a
    fact's name, label or alias -> the fact), `forms` (measure -> its payment form words) and
    `notes` (measure -> its words in the payment forms note, for a measure not paid as money), and
    the `plan` they come from."""

    query: sql.SqlQuery
    facts: tuple[str, ...]
    labels: Mapping[str, str]
    forms: Mapping[str, str]
    notes: Mapping[str, str]
    plan: P.Plan

    def query_for(self, passthrough: tuple[str, ...]) -> sql.SqlQuery:
        """The query with the passthrough columns the engines ask for (always `row` and `id`)."""
        assert passthrough == PASSTHROUGH, passthrough
        return self.query


PASSTHROUGH = ("row", "id")


def for_plan(plan: P.Plan, query: sql.SqlQuery) -> SqlPolicy:
    """The SqlPolicy of `plan`, whose query (built with PASSTHROUGH) is `query`."""
    labels = {
        header: plan.aliases.get(key, key)
        for header, key in (column_names(runtime_specs(plan)) or {}).items()
        if key in plan.facts or key in plan.aliases
    }
    forms = {m.name: rt.form_words(m.forms) for m in plan.measures}
    notes = {m.name: w for m in plan.measures if (w := rt.noncash_words(m.label, m.forms)) is not None}
    return SqlPolicy(query, tuple(plan.facts), labels, forms, notes, plan)


class BatchProblem(ValueError):
    """The input cannot be run by the DuckDB engine (its format, an unknown or float column)."""


def facts_of_columns(
    columns: Sequence[tuple[str, str]], labels: Mapping[str, str], where: str
) -> tuple[dict[str, str], str | None]:
    """The fact each of an input's `columns` (name, the engine's type) gives (fact -> column), and
    its id column (the first named as one of _ID_KEYS); every column naming no fact, a fact given
    twice and a column of binary floats refused together, as a BatchProblem."""
    by_fact: dict[str, str] = {}
    id_column: str | None = None
    problems = []
    for column, kind in columns:
        if column in _ID_KEYS and id_column is None:
            id_column = column
            continue
        fact = labels.get(column)
        if fact is None:
            problems.append(f"{where}: column `{column}` names no fact")
        elif fact in by_fact:
            problems.append(f"{where}: columns `{by_fact[fact]}` and `{column}` give `{fact}` twice")
        elif kind.upper() in _FLOATS:
            floats = f"{where}: column `{column}` holds binary floats; store figures as DECIMAL or text"
            problems.append(floats)
        else:
            by_fact[fact] = column
    if problems:
        raise BatchProblem("; ".join(problems))
    return by_fact, id_column


def _reader(source: Path) -> exp.Expr:
    path = exp.Literal.string(str(source))
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return exp.func(
            "read_csv",
            path,
            exp.EQ(this=exp.var("all_varchar"), expression=exp.true()),
            exp.EQ(this=exp.var("header"), expression=exp.true()),
        )
    if suffix == ".parquet":
        return exp.func("read_parquet", path)
    return exp.func(
        "read_json",
        path,
        exp.EQ(this=exp.var("format"), expression=exp.Literal.string("newline_delimited")),
        exp.EQ(this=exp.var("sample_size"), expression=exp.Literal.number(-1)),
    )


def run_file(
    query_for: Any,
    facts: Sequence[str],
    labels: Mapping[str, str],
    forms: Mapping[str, str],
    source: Path,
    target: Path,
    *,
    notes: Mapping[str, str] | None = None,
    bom: bool = False,
    formula_guard: bool = False,
    extra: Sequence[str] = (),
    columns: str = "all",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Decide every row of `source` into `target` with the query `query_for(passthrough)` gives;
    returns the number of rows of each total status (invalid rows included).  `labels` maps every
    header a column may have (a fact's name, its label, an alias) to the fact; `forms` gives each
    measure's payment form words and `notes` the words of the payment forms note of each measure
    not paid as money (runtime.noncash_words).  CSV output starts with a byte-order mark when `bom`,
    and with `formula_guard` a text cell a spreadsheet would run as a formula is quoted, as the
    Python engine's.  The rows stream from the input through the query into the output in input
    order; nothing of the population is held in memory.
    `columns` chooses the output's columns (batch.COLUMN_CHOICES); `extra` names further columns of
    the query's output written last, as text (simulate reads a limited measure's `status_before` and
    `amount_before`); `progress` follows DuckDB's own progress of the query (the caller closes it)."""
    suffix, out_suffix = source.suffix.lower(), target.suffix.lower()
    if suffix not in INPUT_SUFFIXES or out_suffix not in OUTPUT_SUFFIXES:
        raise BatchProblem("--engine duckdb reads and writes .csv, .parquet or .jsonl files")
    con = _connect()
    raw = "raw_input"
    try:
        con.execute(
            exp.Create(
                this=exp.Table(this=sql._id(raw)),
                kind="VIEW",
                expression=exp.select(exp.Star()).from_(_reader(source)),
            ).sql(dialect="duckdb")
        )
        described = con.execute(
            exp.Describe(this=exp.Table(this=sql._id(raw))).sql(dialect="duckdb")
        ).fetchall()
    except duckdb.Error as exc:
        raise BatchProblem(f"{source}: cannot be read ({str(exc).splitlines()[0]})") from None
    by_fact, id_column = facts_of_columns([(str(c), str(k)) for c, k, *_ in described], labels, str(source))
    # a JSON list of roles: read as the roles written `a;b`
    lists = {str(column) for column, kind, *_ in described if str(kind).endswith("[]")}
    # the input relation the query reads: every fact by name, as text (NULL when the file lacks it);
    # rows numbered as read (a streaming window: the order of the file, kept by insertion order)
    number = exp.Window(this=exp.RowNumber())
    text = exp.DataType.build("VARCHAR")
    view = [exp.alias_(number, sql._id("row"))]
    view.append(
        exp.alias_(exp.cast(sql._col(id_column) if id_column else number.copy(), text), sql._id("id"))
    )
    for fact in facts:
        cell: exp.Expr = sql._col(by_fact[fact]) if fact in by_fact else exp.Null()
        if by_fact.get(fact) in lists:
            cell = exp.ArrayToString(this=cell, expression=sql._str(";"))
        view.append(exp.alias_(exp.cast(cell, text), sql._id(fact)))
    con.execute(
        exp.Create(
            this=exp.Table(this=sql._id(_SOURCE)),
            kind="VIEW",
            expression=exp.select(*view).from_(exp.Table(this=sql._id(raw))),
        ).sql(dialect="duckdb")
    )
    query: sql.SqlQuery = query_for(("row", "id"))
    as_text = out_suffix != ".parquet"
    out = [
        column
        for column in output_columns(query, forms, notes or {}, as_text)
        if keeps_column(column.alias_or_name, columns)
    ]
    out.extend(amount_cell(sql._col(column), as_text).as_(sql._id(column)) for column in extra)
    if out_suffix == ".csv" and formula_guard:
        out = [guarded(c) for c in out]
    select = exp.select(*out).from_(query.tree.subquery(sql._id("decided")), copy=False)  # one copy
    if query.tree.find(exp.Window) is not None:
        # a window over the population (a quota, a group cap, a pot) hands rows on in its own order:
        # sorted back into file order (spilling past MEMORY_LIMIT); without one the rows stream
        select = select.order_by(exp.column("row", table="decided"), copy=False)
    fmt = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json"}[out_suffix]
    with tempfile.TemporaryDirectory(dir=target.parent) as folder:
        written = Path(folder) / f"out{out_suffix}"
        # past MEMORY_LIMIT DuckDB writes what it holds (a window's partitions) into this folder
        spill = exp.Literal.string(str(Path(folder) / "spill")).sql(dialect="duckdb")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {spill}")
        copy = exp.Copy(
            this=select.subquery(copy=False),  # built here, read once: no copy of the tree
            files=[exp.Literal.string(str(written))],
            kind=False,
            params=[
                exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var(fmt.upper())),
                *([exp.CopyParameter(this=exp.var("HEADER"), expression=exp.true())] if fmt == "csv" else []),
            ],
        )

        def how_far() -> float | None:
            figure = con.query_progress()  # per cent of the running query; -1: not known
            return None if figure < 0 else figure / 100

        try:
            with polled(progress, how_far, 0.0, 1.0):
                con.execute(copy.sql(dialect="duckdb", copy=False))
        except duckdb.Error as exc:
            raise BatchProblem(f"{source}: cannot be read ({str(exc).splitlines()[0]})") from None
        # the statuses counted from the file written: one column read back, not the population kept
        counted = (
            exp.select(sql._col("total_status"), exp.Count(this=exp.Star()))
            .from_(_reader(written))
            .group_by(sql._col("total_status"))
        )
        counts = {str(s): int(n) for s, n in con.execute(counted.sql(dialect="duckdb")).fetchall()}
        with atomic_output(target) as handle, written.open("rb") as done:
            if fmt == "csv" and bom:
                handle.write(codecs.BOM_UTF8)
            shutil.copyfileobj(done, handle)
    return counts


# the columns every engine writes, in this order (evaluation/batch.py's run_batch too)
def output_columns(
    query: sql.SqlQuery, forms: Mapping[str, str], notes: Mapping[str, str], text: bool
) -> list[exp.Expr]:
    """The decided relation's columns as `eval --batch` writes them, on DuckDB and on Spark: amounts
    as text (`text`) or DECIMAL, reasons as their words, the payment forms note as runtime.forms_note
    words it."""
    words = words_of(query)
    out: list[exp.Expr] = [sql._col("row"), sql._col("id"), sql._col("error"), sql._col("total_status")]
    out.append(amount_cell(sql._col("total_amount"), text).as_(sql._id("total_amount")))
    out.append(words(sql._col("total_reasons")).as_(sql._id("total_reasons")))
    out.append(_forms_note(query, notes).as_(sql._id("payment_forms_note")))
    for name in query.measures:
        out.append(sql._col(f"{name}.status"))
        out.append(amount_cell(sql._col(f"{name}.amount"), text).as_(sql._id(f"{name}.amount")))
        out.append(sql._str(forms[name]).as_(sql._id(f"{name}.form")))
        out.append(words(sql._col(f"{name}.reasons")).as_(sql._id(f"{name}.reasons")))
    return out


def amount_cell(column: exp.Expr, text: bool) -> exp.Expr:
    """An amount as its plain text (`text`: CSV and JSON Lines) or as the DECIMAL it is."""
    return exp.cast(column, exp.DataType.build("VARCHAR")) if text else column


def words_of(query: sql.SqlQuery) -> Callable[[exp.Expr], exp.Expr]:
    """A reasons cell's codes as their texts joined with `；`: one lookup in a map of code -> text
    per code (a CASE over every code was most of the time spent writing a large batch).  Typed
    nodes, so that DuckDB and Spark each print their own list and map functions."""
    if not query.reasons:
        return lambda column: exp.cast(exp.Null(), exp.DataType.build("VARCHAR"))
    x = exp.to_identifier("x")
    labels = exp.VarMap(
        keys=exp.Array(expressions=[sql._str(c) for c, _ in query.reasons]),
        values=exp.Array(expressions=[sql._str(t) for _, t in query.reasons]),
    )
    # safe: a code not in the map (none is) gives NULL, which the join leaves out, never an error
    label = exp.Bracket(this=labels, expressions=[exp.column(x.copy())], safe=True)

    def words(column: exp.Expr) -> exp.Expr:
        parts = exp.Transform(
            this=exp.Split(this=column, expression=sql._str(";")),
            expression=exp.Lambda(this=label.copy(), expressions=[x.copy()]),
        )
        return exp.func("nullif", exp.ArrayToString(this=parts, expression=sql._str("；")), sql._str(""))

    return words


def _forms_note(query: sql.SqlQuery, notes: Mapping[str, str]) -> exp.Expr:
    """runtime.forms_note in SQL: the words of each measure not paid as money that pays something."""
    pieces = []
    for name in query.measures:
        if name not in notes:
            continue
        status, amount = sql._col(f"{name}.status"), sql._col(f"{name}.amount")
        pays = exp.and_(
            exp.NEQ(this=status, expression=sql._str(rt.INELIGIBLE)),
            exp.or_(
                exp.Is(this=amount, expression=exp.Null()),
                exp.GT(this=amount.copy(), expression=exp.Literal.number(0)),
            ),
        )
        pieces.append(sql._case((pays, sql._str(notes[name]))))
    if not pieces:
        return exp.cast(exp.Null(), exp.DataType.build("VARCHAR"))
    joined = exp.func("nullif", exp.func("concat_ws", sql._str("；"), *pieces), sql._str(""))
    return sql._case(
        (
            exp.not_(exp.Is(this=joined, expression=exp.Null())),
            exp.func("concat", sql._str(rt.FORMS_NOTE[0]), joined.copy(), sql._str(rt.FORMS_NOTE[1])),
        )
    )


def guarded(column: exp.Expr) -> exp.Expr:
    """A text column with batch.guard_formulas's rule in SQL: a cell that starts as a formula gets a
    single quote before it.  Row numbers, amounts (figures) and statuses (the engine's own words)
    stay as they are, as in the Python engine; a column of one text (a measure's payment form) is
    guarded as the query is built.  The test is a chain of `=` on the first character: an IN list
    was planned as a join per column, most of the time spent writing a large batch's text."""
    alias = column.alias_or_name
    if alias in ("row", "total_amount", "total_status") or alias.endswith((".amount", ".status")):
        return column
    inner = column.this if isinstance(column, exp.Alias) else column
    if isinstance(inner, exp.Literal) and inner.is_string:
        text = inner.this
        return sql._str("'" + text if text.startswith(FORMULA_STARTS) else text).as_(sql._id(alias))
    first = exp.func("left", inner.copy(), exp.Literal.number(1))
    starts = sql._or_all(exp.EQ(this=first.copy(), expression=sql._str(c)) for c in FORMULA_STARTS)
    quoted = sql._case((starts, exp.func("concat", sql._str("'"), inner.copy())), default=inner.copy())
    return quoted.as_(sql._id(alias))
