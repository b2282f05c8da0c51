"""Run the SQL back end's query on DuckDB: over rows given in memory, or from a CSV, Parquet or JSON
Lines file into a CSV, Parquet or JSON Lines file, every cell read as text and checked by the query."""

from __future__ import annotations

import datetime
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from policydsl.codegen import sql
from policydsl.evaluation.batch import keeps_column
from policydsl.evaluation.progress import Progress, polled
from policydsl.files import atomic_output

INPUT_SUFFIXES = (".csv", ".parquet", ".jsonl")
OUTPUT_SUFFIXES = (".csv", ".parquet", ".jsonl")
_SOURCE = "applicants"
_ID_KEYS = ("id", "_id", "编号")
_FLOATS = ("FLOAT", "DOUBLE", "REAL")


def canonical(value: Any) -> str | None:
    """A parsed fact value (runtime.parse_fact's) written as the text the query reads back as the
    same value: figures plainly, roles separated by `;`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return ";".join(sorted(value))
    return str(value)


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


class BatchProblem(ValueError):
    """The input cannot be run by the DuckDB engine (its format, an unknown or float column)."""


def run_file(
    query_for: Any,
    facts: Sequence[str],
    labels: Mapping[str, str],
    forms: Mapping[str, str],
    source: Path,
    target: Path,
    extra: Sequence[str] = (),
    columns: str = "all",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Decide every row of `source` into `target` with the query `query_for(passthrough)` gives;
    returns the number of rows of each total status (invalid rows included).  `labels` maps every
    header a column may have (a fact's name, its label, an alias) to the fact; `forms` gives each
    measure's payment form words; `extra` names further columns of the query's output written last,
    as text (simulate reads a limited measure's `status_before` and `amount_before`); `columns`
    chooses the output's columns (batch.COLUMN_CHOICES); `progress` follows DuckDB's own progress of
    each step (read, decide, write) and is closed."""
    try:
        return _run_file(query_for, facts, labels, forms, source, target, extra, columns, progress)
    finally:
        if progress is not None:
            progress.close()


def _run_file(
    query_for: Any,
    facts: Sequence[str],
    labels: Mapping[str, str],
    forms: Mapping[str, str],
    source: Path,
    target: Path,
    extra: Sequence[str],
    columns: str,
    progress: Progress | None,
) -> dict[str, int]:
    suffix, out_suffix = source.suffix.lower(), target.suffix.lower()
    if suffix not in INPUT_SUFFIXES or out_suffix not in OUTPUT_SUFFIXES:
        raise BatchProblem("--engine duckdb reads and writes .csv, .parquet or .jsonl files")
    con = _connect()
    path = exp.Literal.string(str(source))
    if suffix == ".csv":
        reader = exp.func(
            "read_csv",
            path,
            exp.EQ(this=exp.var("all_varchar"), expression=exp.true()),
            exp.EQ(this=exp.var("header"), expression=exp.true()),
        )
    elif suffix == ".parquet":
        reader = exp.func("read_parquet", path)
    else:
        reader = exp.func(
            "read_json",
            path,
            exp.EQ(this=exp.var("format"), expression=exp.Literal.string("newline_delimited")),
            exp.EQ(this=exp.var("sample_size"), expression=exp.Literal.number(-1)),
        )
    raw = "raw_input"

    def how_far() -> float | None:
        figure = con.query_progress()  # per cent of the running query; -1: not known
        return None if figure < 0 else figure / 100

    try:
        with polled(progress, how_far, 0.0, 0.4):
            con.execute(
                exp.Create(
                    this=exp.Table(this=sql._id(raw)),
                    kind="TABLE",
                    expression=exp.select(exp.Star()).from_(reader),
                ).sql(dialect="duckdb")
            )
    except duckdb.Error as exc:
        raise BatchProblem(f"{source}: cannot be read ({str(exc).splitlines()[0]})") from None
    described = con.execute(exp.Describe(this=exp.Table(this=sql._id(raw))).sql(dialect="duckdb")).fetchall()
    by_fact: dict[str, str] = {}
    id_column: str | None = None
    problems = []
    for column, kind, *_ in described:
        if column in _ID_KEYS and id_column is None:
            id_column = column
            continue
        fact = labels.get(column)
        if fact is None:
            problems.append(f"{source}: column `{column}` names no fact")
        elif fact in by_fact:
            problems.append(f"{source}: columns `{by_fact[fact]}` and `{column}` give `{fact}` twice")
        elif str(kind).upper() in _FLOATS:
            problems.append(
                f"{source}: column `{column}` holds binary floats; store figures as DECIMAL or text"
            )
        else:
            by_fact[fact] = column
    if problems:
        raise BatchProblem("; ".join(problems))
    # the input relation the query reads: every fact by name, as text (NULL when the file lacks it)
    view = [exp.alias_(exp.Add(this=exp.column("rowid"), expression=exp.Literal.number(1)), sql._id("row"))]
    view.append(
        exp.alias_(
            exp.cast(sql._col(id_column), exp.DataType.build("VARCHAR"))
            if id_column
            else exp.cast(
                exp.Add(this=exp.column("rowid"), expression=exp.Literal.number(1)),
                exp.DataType.build("VARCHAR"),
            ),
            sql._id("id"),
        )
    )
    for fact in facts:
        cell = sql._col(by_fact[fact]) if fact in by_fact else exp.Null()
        view.append(exp.alias_(exp.cast(cell, exp.DataType.build("VARCHAR")), sql._id(fact)))
    con.execute(
        exp.Create(
            this=exp.Table(this=sql._id(_SOURCE)),
            kind="VIEW",
            expression=exp.select(*view).from_(exp.Table(this=sql._id(raw))),
        ).sql(dialect="duckdb")
    )
    query: sql.SqlQuery = query_for(("row", "id"))
    decided = "decided"
    with polled(progress, how_far, 0.4, 0.8):
        con.execute(
            exp.Create(this=exp.Table(this=sql._id(decided)), kind="TABLE", expression=query.tree).sql(
                dialect="duckdb"
            )
        )
    words = _words(query)
    text = out_suffix != ".parquet"
    out: list[exp.Expr] = [sql._col("row"), sql._col("id"), sql._col("error"), sql._col("total_status")]
    out.append(_amount(sql._col("total_amount"), text).as_(sql._id("total_amount")))
    out.append(words(sql._col("total_reasons")).as_(sql._id("total_reasons")))
    for name in query.measures:
        out.append(sql._col(f"{name}.status"))
        out.append(_amount(sql._col(f"{name}.amount"), text).as_(sql._id(f"{name}.amount")))
        out.append(sql._str(forms[name]).as_(sql._id(f"{name}.form")))
        out.append(words(sql._col(f"{name}.reasons")).as_(sql._id(f"{name}.reasons")))
    out = [column for column in out if keeps_column(column.alias_or_name, columns)]
    out.extend(_amount(sql._col(column), text).as_(sql._id(column)) for column in extra)
    select = exp.select(*out).from_(exp.Table(this=sql._id(decided))).order_by(sql._col("row"))
    fmt = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json"}[out_suffix]
    with tempfile.TemporaryDirectory(dir=target.parent) as folder:
        written = Path(folder) / f"out{out_suffix}"
        copy = exp.Copy(
            this=select.subquery(),
            files=[exp.Literal.string(str(written))],
            kind=False,
            params=[
                exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var(fmt.upper())),
                *([exp.CopyParameter(this=exp.var("HEADER"), expression=exp.true())] if fmt == "csv" else []),
            ],
        )
        with polled(progress, how_far, 0.8, 1.0):
            con.execute(copy.sql(dialect="duckdb"))
        with atomic_output(target) as handle, written.open("rb") as done:
            shutil.copyfileobj(done, handle)
    counted = (
        exp.select(sql._col("total_status"), exp.Count(this=exp.Star()))
        .from_(exp.Table(this=sql._id(decided)))
        .group_by(sql._col("total_status"))
    )
    return {str(status): int(n) for status, n in con.execute(counted.sql(dialect="duckdb")).fetchall()}


def _amount(column: exp.Expr, text: bool) -> exp.Expr:
    return exp.cast(column, exp.DataType.build("VARCHAR")) if text else column


def _words(query: sql.SqlQuery) -> Any:
    """A reasons cell's codes as their texts joined with `；` (DuckDB's list functions)."""
    x = exp.to_identifier("x")
    label = sql._case(
        *((exp.EQ(this=exp.column(x.copy()), expression=sql._str(c)), sql._str(t)) for c, t in query.reasons)
    )

    def words(column: exp.Expr) -> exp.Expr:
        if not query.reasons:
            return exp.Null()
        parts = exp.func(
            "list_transform",
            exp.func("string_split", column, sql._str(";")),
            exp.Lambda(this=label.copy(), expressions=[x.copy()]),
        )
        return exp.func("nullif", exp.func("array_to_string", parts, sql._str("；")), sql._str(""))

    return words
