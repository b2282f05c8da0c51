"""Run the SQL back end's query on Spark (PySpark, the optional extra `spark`): in local mode on one
machine, or on a cluster through a SparkSession the caller builds.  The same sqlglot tree as on
DuckDB, printed in the spark dialect; every cell read as text and checked by the query, so a bad
cell gives its row `invalid` with a reason, never a dropped row or an aborted job.

Three session settings keep the figures exact and are set on every session this module uses (the
caller's too): `spark.sql.decimalOperations.allowPrecisionLoss=false` (else a DECIMAL(38, s)
product or quotient may silently lose scale), `spark.sql.ansi.enabled=true` (else an overflow
gives NULL, which the query would read as an unknown figure rather than fail) and
`spark.sql.legacy.decimal.retainFractionDigitsOnTruncate=true` (else Spark 4 compares, or takes the
CASE, IN or GREATEST of, a DECIMAL(38, 10) and a DECIMAL(38, 0) at scale 0: `1.04 <= 1` true,
499999.99 at least a 50万 threshold; with it, a figure too large for the finer scale fails the
query in ANSI mode instead of being rounded; Spark 3.5 keeps the fraction without the setting)."""

from __future__ import annotations

import codecs
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from policydsl.codegen import sql
from policydsl.evaluation.batch import keeps_column
from policydsl.evaluation.progress import Progress, polled
from policydsl.evaluation.sqlbatch import (
    INPUT_SUFFIXES,
    OUTPUT_SUFFIXES,
    BatchProblem,
    amount_cell,
    facts_of_columns,
    guarded,
    output_columns,
)
from policydsl.files import atomic_output

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DIALECT = "spark"
EXACT_SETTINGS = sql.SPARK_SETTINGS
_FLOATS = ("float", "double")
_DECIDED = "policydsl_decided"


def available() -> bool:
    """Whether PySpark is installed (the optional extra `spark`)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def session(master: str | None = None) -> SparkSession:
    """A SparkSession on `master` (default `local[*]`: every core of this machine) with the exact
    settings; an existing session of this process is reused with them set."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BatchProblem(
            "--engine spark needs PySpark: pip install 'policydsl[spark]', and Java 17+"
        ) from None
    builder = SparkSession.builder.master(master or "local[*]").appName("policydsl")
    builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    # Spark's SQL parser recurses once per nested operator: a policy's query needs a deeper stack
    builder = builder.config("spark.driver.extraJavaOptions", "-Xss64m")
    for key, value in EXACT_SETTINGS.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, a master that cannot be reached
        raise BatchProblem(f"cannot start Spark ({str(exc).strip().splitlines()[0]})") from None
    return exact(spark)


def exact(spark: SparkSession) -> SparkSession:
    """`spark` with the settings that keep DECIMAL figures exact."""
    for key, value in EXACT_SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def decide_rows(
    query: sql.SqlQuery, rows: Sequence[Mapping[str, str | None]], spark: SparkSession
) -> list[dict[str, Any]]:
    """The output of `query` (built with the passthrough column `row`) for `rows` (fact name ->
    text; a fact left out is not given), in order: as `sqlbatch.decide_rows`, on Spark."""
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    exact(spark)
    schema = StructType(
        [StructField("row", IntegerType()), *(StructField(n, StringType()) for n in query.facts)]
    )
    data = [(i + 1, *(r.get(n) for n in query.facts)) for i, r in enumerate(rows)]
    spark.createDataFrame(data, schema).createOrReplaceTempView(query.source)
    ordered = exp.select(exp.Star()).from_(query.tree.subquery(sql._id("q"))).order_by(sql._col("row"))
    return [r.asDict() for r in spark.sql(ordered.sql(dialect=DIALECT)).collect()]


def read_input(spark: SparkSession, source: Path | None = None, table: str | None = None) -> DataFrame:
    """The rows of a CSV, Parquet or JSON Lines file, or of a table the session knows, every CSV and
    JSON cell as text."""
    if table is not None:
        try:
            return spark.table(table)
        except Exception as exc:
            raise BatchProblem(
                f"table {table}: cannot be read ({str(exc).strip().splitlines()[0]})"
            ) from None
    assert source is not None
    suffix = source.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise BatchProblem("--engine spark reads .csv, .parquet or .jsonl files, or a table")
    reader = spark.read
    try:
        if suffix == ".csv":
            return reader.option("header", "true").option("escape", '"').csv(str(source))
        if suffix == ".parquet":
            return reader.parquet(str(source))
        return reader.option("primitivesAsString", "true").json(str(source))
    except Exception as exc:
        raise BatchProblem(f"{source}: cannot be read ({str(exc).strip().splitlines()[0]})") from None


def decide_frame(
    query_for: Callable[[tuple[str, ...]], sql.SqlQuery],
    facts: Sequence[str],
    labels: Mapping[str, str],
    forms: Mapping[str, str],
    frame: DataFrame,
    where: str = "the input",
    text: bool = True,
    extra: Sequence[str] = (),
    columns: str = "all",
    notes: Mapping[str, str] | None = None,
    formula_guard: bool = False,
) -> DataFrame:
    """The decided rows of `frame` (columns named by `labels`: a fact's name, label or alias; an
    optional id column) as a DataFrame with the columns `eval --batch` writes, in input order by
    `row`, amounts as text (`text`) or DECIMAL, the `columns` chosen (batch.COLUMN_CHOICES), then the
    query's columns `extra` names; with `formula_guard`, a text cell a spreadsheet would run as a
    formula quoted (sqlbatch.guarded).  Nothing runs until the caller writes or collects it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = exact(frame.sparkSession)
    by_fact, id_column = facts_of_columns(frame.dtypes, labels, where)
    # the input order: increasing (not consecutive) across partitions, as read
    numbered = frame.withColumn("__row", F.monotonically_increasing_id())
    # without an id column, the row's number is its id (a window over one partition: give ids at scale)
    if id_column is None:
        numbered = numbered.withColumn("__id", F.row_number().over(Window.orderBy("__row")).cast("string"))
    view = [
        F.col("__row").alias("row"),
        (F.col("__id") if id_column is None else F.col(f"`{id_column}`").cast("string")).alias("id"),
    ]
    for fact in facts:
        cell = F.col(f"`{by_fact[fact]}`") if fact in by_fact else F.lit(None)
        view.append(cell.cast("string").alias(fact))
    query = query_for(("row", "id"))
    numbered.select(*view).createOrReplaceTempView(query.source)
    spark.sql(query.tree.sql(dialect=DIALECT)).createOrReplaceTempView(_DECIDED)
    out = [
        column
        for column in output_columns(query, forms, notes or {}, text)
        if keeps_column(column.alias_or_name, columns)
    ]
    out.extend(amount_cell(sql._col(column), text).as_(sql._id(column)) for column in extra)
    if formula_guard:
        out = [guarded(c) for c in out]
    select = exp.select(*out).from_(exp.Table(this=sql._id(_DECIDED)))
    return spark.sql(select.sql(dialect=DIALECT))


def _tasks_done(spark: SparkSession) -> float | None:
    """The share of the running stages' tasks that are done (None: no stage running)."""
    tracker = spark.sparkContext.statusTracker()
    done = total = 0
    for stage in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage)
        if info is not None:
            done, total = done + info.numCompletedTasks, total + info.numTasks
    return done / total if total else None


def run_file(
    query_for: Callable[[tuple[str, ...]], sql.SqlQuery],
    facts: Sequence[str],
    labels: Mapping[str, str],
    forms: Mapping[str, str],
    source: Path | None,
    target: Path,
    spark: SparkSession,
    *,
    table: str | None = None,
    extra: Sequence[str] = (),
    columns: str = "all",
    progress: Progress | None = None,
    notes: Mapping[str, str] | None = None,
    bom: bool = False,
    formula_guard: bool = False,
) -> dict[str, int]:
    """Decide every row of `source` (or of `table`) into the file `target` (.csv, .parquet or
    .jsonl, written whole by this process); returns the number of rows of each total status.
    `extra`: further columns of the query's output to write (decide_frame); `bom` and
    `formula_guard` as sqlbatch.run_file's for CSV output.
    `columns` chooses the output's columns (batch.COLUMN_CHOICES); `progress` follows the share of
    Spark's tasks done while the file is written (the caller closes it)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    out_suffix = target.suffix.lower()
    if out_suffix not in OUTPUT_SUFFIXES:
        raise BatchProblem("--engine spark writes .csv, .parquet or .jsonl files")
    frame = read_input(spark, source, table)
    decided = decide_frame(
        query_for,
        facts,
        labels,
        forms,
        frame,
        str(source or table),
        out_suffix != ".parquet",
        extra,
        columns,
        notes,
        formula_guard and out_suffix == ".csv",
    ).cache()
    try:
        # one file, written by one task: the rows numbered 1, 2, … in input order, as DuckDB's
        number = F.row_number().over(Window.orderBy("row"))
        ordered = decided.withColumn("row", number).orderBy("row").coalesce(1)
        with tempfile.TemporaryDirectory(dir=target.parent) as folder:
            written = Path(folder) / "out"
            writer = ordered.write.mode("overwrite")
            with polled(progress, lambda: _tasks_done(spark), 0.0, 1.0):
                if out_suffix == ".csv":
                    writer.option("header", "true").option("escape", '"').csv(str(written))
                elif out_suffix == ".parquet":
                    writer.parquet(str(written))
                else:
                    writer.option("ignoreNullFields", "false").json(str(written))
            with atomic_output(target) as handle:
                if bom and out_suffix == ".csv":
                    handle.write(codecs.BOM_UTF8)
                for part in _parts(written):
                    with part.open("rb") as done:
                        shutil.copyfileobj(done, handle)
        counted = decided.groupBy("total_status").count().collect()
    finally:
        decided.unpersist()
    return {str(r["total_status"]): int(r["count"]) for r in counted}


def _parts(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in folder.iterdir() if p.name.startswith("part-"))
