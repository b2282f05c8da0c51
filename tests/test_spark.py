"""The SQL back end run on Spark in local mode (`--engine spark`) decides every applicant as the
interpreter does, row for row and fen for fen.  One SparkSession for the whole module (it takes tens
of seconds to start); without PySpark or Java the tests are skipped, except under `make test`
(POLICYDSL_SPARK=required), where that is a failure."""

from __future__ import annotations

import csv
import datetime
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.codegen import sql
from policydsl.commands.cli import main
from policydsl.evaluation import runtime as rt
from policydsl.evaluation import sparkbatch, sqlbatch
from policydsl.evaluation.examples import given_facts, read_examples
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan import nodes as P
from tests.test_codegen_sql import (
    POLICIES,
    REFUSED,
    SCALE_SEED,
    SHANDONG,
    SHARED_BASE,
    SHARED_LIMIT,
    SHARED_ROWS,
    _checked,
    _outcome,
    _plan,
    _population,
    _sql_outcome,
    _write_population,
    batch_outcomes,
    cells_of,
)
from tests.test_simulate import refused

COVERED = [p for p in POLICIES if p.stem not in REFUSED]
GENERATED = 300


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    why = None
    if not sparkbatch.available():
        why = "PySpark is not installed (pip install -e '.[spark]')"
    elif shutil.which("java") is None:
        why = "Java is not installed (apt-get install default-jre-headless)"
    if why is not None:
        if os.environ.get("POLICYDSL_SPARK") == "required":  # `make test`, hence CI
            pytest.fail(why)
        pytest.skip(why)
    session = sparkbatch.session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def both_on_spark(
    spark: Any, plan: P.Plan, people: Sequence[tuple[Mapping[str, Any], datetime.date | None]]
) -> list[tuple[object, object]]:
    """(the interpreter's outcome, Spark's) for each (facts, date) of `people`: one query per date."""
    interpreter = Interpreter(plan)
    out: list[tuple[object, object]] = []
    for date in sorted({d for _, d in people}, key=lambda d: d or datetime.date.min):
        query = sql.build(plan, date=date, passthrough=("row",))
        rows: list[dict[str, str | None]] = []
        expected: list[object] = []
        for facts, day in people:
            if day != date:
                continue
            try:
                values = rt.parse_facts(interpreter.specs, facts)
            except rt.InputError:
                continue
            rows.append(cells_of(plan, values))
            try:
                decision = interpreter.evaluate(values, date, partial=True, explain=False, parsed=True)
                expected.append(_outcome(decision))
            except rt.InputError:
                expected.append("invalid")
        got = [_sql_outcome(query, r) for r in sparkbatch.decide_rows(query, rows, spark)]
        if plan.pots or any(m.quota or m.group_cap for m in plan.measures):
            # limits across applicants: the reference is the Python batch, which applies them
            expected = batch_outcomes(plan, rows, date, Path(tempfile.mkdtemp()))
        out.extend(zip(expected, got, strict=True))
    return out


def _value(spec: P.FactSpec, rng: random.Random) -> Any:
    """A value `spec` accepts (or none: the fact left out), drawn near the policy's thresholds."""
    if rng.random() < 0.1:
        return None
    if spec.kind == "bool":
        return rng.random() < 0.8
    if spec.kind == "percent":  # a share: a bare figure above 1 is no percentage
        return f"{rng.randrange(0, 151)}%"
    if spec.kind in ("money", "number"):
        return str(Decimal(rng.randrange(0, 10**9)).scaleb(-rng.randrange(0, 5)))
    if spec.kind == "count":
        return rng.randrange(0, 500)
    if spec.kind == "date":
        return (datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randrange(0, 4000))).isoformat()
    if spec.members:
        names = [m[0] for m in spec.members]
        return [rng.choice(names)] if spec.kind == "roles" else rng.choice(names)
    return None


def _generated(plan: P.Plan, seed: int, dates: Sequence[datetime.date]) -> list[tuple[dict[str, Any], Any]]:
    rng = random.Random(seed)
    people = []
    for _ in range(GENERATED):
        facts = {n: _value(s, rng) for n, s in plan.facts.items()}
        people.append(({k: v for k, v in facts.items() if v is not None}, rng.choice(dates)))
    return people


@pytest.mark.parametrize("path", COVERED, ids=[p.stem for p in COVERED])
def test_spark_decides_bundled_policies_as_the_interpreter(spark: Any, path: Path) -> None:
    plan, model, source = _checked(path)
    interpreter = Interpreter(plan)
    examples = read_examples(model, plan, source.text)
    people = [(given_facts(interpreter, e), e.day) for e in examples.cases]
    dates = sorted({d for _, d in people if d is not None}) or [datetime.date(2020, 1, 1)]
    people += _generated(plan, 17, dates[:2])
    pairs = both_on_spark(spark, plan, people)
    assert len(pairs) >= len(examples.cases) + GENERATED // 2
    statuses = {str(e["total"][0]) for e, _ in pairs if isinstance(e, dict)}
    # the generated applicants reach several outcomes (a policy without ranges has no ceiling)
    assert rt.INELIGIBLE in statuses and len(statuses) >= 2
    for expected, got in pairs:
        assert got == expected


def test_spark_decides_jiangmen_population_as_the_python_batch(spark: Any) -> None:
    """A group cap per 产业集群 and a yearly pot as window functions (TRANSLATE of the group's name,
    REGEXP_REPLACE trimming it, running sums over ROWS frames): on Spark equal to the Python batch
    row for row, fen for fen, statuses included, the limits binding."""
    plan, _, _ = _checked(Path(__file__).parent.parent / "policies" / "jiangmen_special_fund.policy")
    rows = _population("jiangmen_special_fund")
    day = datetime.date(2022, 6, 1)
    query = sql.build(plan, date=day, passthrough=("row",))
    got = [_sql_outcome(query, r) for r in sparkbatch.decide_rows(query, rows, spark)]
    expected = batch_outcomes(plan, rows, day, Path(tempfile.mkdtemp()))
    assert got == expected
    assert any(isinstance(o, dict) and o["cluster_pilot"][0] == rt.CEILING for o in expected)


def test_spark_shares_funding_limits_as_the_interpreter(spark: Any) -> None:
    """The shared funding limits' hand-written cases (binding and not, ceilings, unknown amounts, an
    undetermined or ineligible stating measure, limits without a value) on Spark."""
    people = [({**SHARED_BASE, "z": "350000", **change}, None) for change, _ in SHARED_ROWS]
    people = [({k: v for k, v in facts.items() if v is not None}, day) for facts, day in people]
    pairs = both_on_spark(spark, _plan(SHARED_LIMIT), people)
    assert len(pairs) == len(SHARED_ROWS)
    for expected, got in pairs:
        assert got == expected


def test_spark_decides_liuhe_population_as_the_python_batch(spark: Any) -> None:
    """亩均投资强度 and 亩均税收 (a fact divided by a fact, compared with a constant, decided by a product
    without dividing): on Spark equal to the Python batch row for row, fen for fen, statuses included."""
    plan, _, _ = _checked(Path(__file__).parent.parent / "policies" / "liuhe_key_industries.policy")
    rows = _population("liuhe_key_industries")
    day = datetime.date(2023, 6, 1)
    query = sql.build(plan, date=day, passthrough=("row",))
    got = [_sql_outcome(query, r) for r in sparkbatch.decide_rows(query, rows, spark)]
    assert got == batch_outcomes(plan, rows, day, Path(tempfile.mkdtemp()))


def test_spark_keeps_the_fen_of_mixed_scales(spark: Any) -> None:
    """The figures hypothesis found losing a fen on DuckDB (tests/test_codegen_sql.py): on Spark too
    a LEAST over DECIMAL(38, 0) and DECIMAL(38, 2) keeps the fen."""
    plan = _plan(SCALE_SEED)
    [(expected, got)] = both_on_spark(spark, plan, [({"level": "0.5"}, datetime.date(2004, 5, 8))])
    assert expected == {"m": ("undetermined", Decimal("2560549.58")), "total": ("undetermined", None)}
    assert got == expected


def test_spark_session_is_set_for_exact_decimals(spark: Any) -> None:
    spark.conf.set("spark.sql.decimalOperations.allowPrecisionLoss", "true")
    sparkbatch.exact(spark)
    # DECIMAL(38, 10) × DECIMAL(38, 10) keeps every digit of an exact product (or fails), never rounds it away
    [row] = spark.sql(
        "SELECT CAST('1.0000000001' AS DECIMAL(38, 10)) * CAST('1.0000000001' AS DECIMAL(38, 10)) AS p"
    ).collect()
    assert row["p"] == Decimal("1.00000000020000000001")


def test_spark_compares_figures_of_different_scales_exactly(spark: Any) -> None:
    """Spark 4 compares DECIMAL(38, 10) with DECIMAL(38, 0) at scale 0 unless told to keep the
    decimal places: a fact of 99.99 met `100 and above` (Liuhe's planting paid 9999.00 to an
    applicant of 99.99 亩), and a fact against a computed amount of 2 places compared at 2."""
    spark.conf.set("spark.sql.legacy.decimal.retainFractionDigitsOnTruncate", "false")
    sparkbatch.exact(spark)
    plan = _plan(THRESHOLDS)
    people = [({"area": a, "paid": p}, datetime.date(2021, 6, 1)) for a, p in THRESHOLD_ROWS]
    pairs = both_on_spark(spark, plan, people)
    assert [e["m"][0] for e, _ in pairs] == ["ineligible", "determined", "ineligible"]  # type: ignore[index]
    assert [e["n"][0] for e, _ in pairs] == ["ineligible", "ineligible", "determined"]  # type: ignore[index]
    for expected, got in pairs:
        assert got == expected


THRESHOLDS = """policy "阈值" { issued 2020-01-01 }
fact area "种植面积": number >= 0
fact paid "已付金额": money >= 0
measure m "种植奖励" { award 9999元 if area >= 100 }
measure n "配套奖励" { award 1万 if paid > 50% * 200.01元 }
"""
THRESHOLD_ROWS = [("99.99", "100.005"), ("100", "100.00"), ("99.9999999999", "100.0050000001")]


# the cells of the generated applicants Spark decided otherwise (lucheng_open_economy,
# lucheng_modern_services, shenzhen_consulting_diagnosis): a share written as a bare figure above 1 is
# no percentage, but Spark 4 compared `ABS(DECIMAL(38, 10)) <= CAST(1 AS DECIMAL(38, 0))` at scale 0
_PERCENT_CELLS = {"1.04": False, "1.10": False, "1.0000000001": False, "1": True, "0.6": True, "104%": True}


def test_spark_reads_the_percentage_cells_it_read_otherwise_as_duckdb(spark: Any) -> None:
    plan, _, _ = _checked(Path(__file__).parent.parent / "policies" / "lucheng_open_economy.policy")
    query = sql.build(plan, date=datetime.date(2019, 1, 1), passthrough=("row",))
    rows: list[Mapping[str, str | None]] = [{"export_growth": cell} for cell in _PERCENT_CELLS]
    got = [(r["error"], r["total_status"]) for r in sparkbatch.decide_rows(query, rows, spark)]
    assert got == [(r["error"], r["total_status"]) for r in sqlbatch.decide_rows(query, rows)]
    assert [error is None for error, _ in got] == list(_PERCENT_CELLS.values())


@pytest.mark.parametrize(
    ("compared", "expected"),
    [
        # a threshold of 50万 and a figure a fen below it: a comparison, IN, CASE and GREATEST over
        # DECIMALs of two scales keep the fraction (Spark 4's least common type of DECIMAL(38, 10)
        # and DECIMAL(38, 0) is DECIMAL(38, 0) unless the session retains fraction digits)
        ("CAST('499999.99' AS DECIMAL(38, 10)) >= CAST(500000 AS DECIMAL(38, 0))", False),
        ("CAST('0.4' AS DECIMAL(38, 10)) > CAST(0 AS DECIMAL(38, 0))", True),
        ("CAST('1.04' AS DECIMAL(38, 10)) IN (CAST(1 AS DECIMAL(38, 0)))", False),
        (
            "CASE WHEN TRUE THEN CAST('1.04' AS DECIMAL(38, 10)) ELSE CAST(2 AS DECIMAL(38, 0)) END",
            Decimal("1.04"),
        ),
        ("GREATEST(CAST('1.04' AS DECIMAL(38, 10)), CAST(1 AS DECIMAL(38, 0)))", Decimal("1.04")),
    ],
)
def test_spark_compares_decimals_of_two_scales_exactly(spark: Any, compared: str, expected: object) -> None:
    sparkbatch.exact(spark)
    [row] = spark.sql(f"SELECT {compared} AS v").collect()
    assert row["v"] == expected


def _read(target: Path) -> list[dict[str, Any]]:
    if target.suffix == ".csv":
        with target.open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    if target.suffix == ".jsonl":
        return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    import duckdb

    cursor = duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(target)])
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_eval_engine_spark_writes_what_duckdb_writes(spark: Any, tmp_path: Path, suffix: str) -> None:
    source = _write_population(tmp_path)  # its last row has a bad cell
    outputs = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}{suffix}"
        args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--engine", engine,
                "--date", "2019-06-01"]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output  # one row is invalid
        assert "4 rows" in result.output and "1 invalid" in result.output
        outputs[engine] = _read(target)
    assert outputs["spark"] == outputs["duckdb"]
    statuses = [r["total_status"] for r in outputs["spark"]]
    assert statuses == ["ceiling", "undetermined", "ineligible", "invalid"]
    assert "在山东省依法设立" in str(outputs["spark"][3]["error"])


def test_eval_engine_spark_refuses_an_unknown_column(spark: Any, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text("recognised_typo\ntrue\n", encoding="utf-8")
    target = tmp_path / "o.csv"
    args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--engine", "spark"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "recognised_typo" in result.output
    assert not target.exists()


def test_eval_engine_spark_refuses_what_sql_does_not_translate(tmp_path: Path) -> None:
    """S101 comes before Spark starts: the query is built first."""
    source = tmp_path / "people.csv"
    source.write_text("id\n1\n", encoding="utf-8")
    policy, _ = refused(tmp_path)
    args = ["eval", str(policy), "--batch", str(source), "-o", str(tmp_path / "o.csv"), "--engine", "spark"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "error[S101]" in result.output and "a division" in result.output


def test_spark_master_goes_with_engine_spark(tmp_path: Path) -> None:
    source = _write_population(tmp_path)
    args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(tmp_path / "o.csv"),
            "--spark-master", "local[1]"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--spark-master goes with --engine spark" in result.output


# DuckDB's own function names (and `&&`), which the spark dialect would print unchanged and Spark rejects
_DUCKDB_ONLY = ("SUFFIX(", "PREFIX(", "LIST_", "STRING_SPLIT", "STR_SPLIT", "LEN(", " && ", "REGEXP_MATCHES(")


@pytest.mark.parametrize(
    "text",
    [SCALE_SEED, *(p.read_text(encoding="utf-8") for p in COVERED)],
    ids=["seed", *(p.stem for p in COVERED)],
)
def test_spark_dialect_names_only_spark_functions(text: str) -> None:
    """Every operation is a typed sqlglot node each dialect spells its own way; a figure's text is
    cast with TRY_CAST (a plain CAST fails the whole job on one bad cell in ANSI mode)."""
    printed = sql.build(_plan(text), date=datetime.date(2019, 6, 1)).sql("spark", pretty=False)
    assert not [name for name in _DUCKDB_ONLY if name in printed.upper()]
    if "fact level" in text:  # a figure fact
        assert "TRY_CAST(" in printed


def test_a_figure_fact_reads_in_a_query_of_linear_size() -> None:
    """Stripping 元/%/万/亿/千 nested a CASE naming its text three times per suffix: the seed policy's
    query was 110 kB, which Spark's parser took minutes over (or overflowed its stack on)."""
    printed = sql.build(_plan(SCALE_SEED), date=datetime.date(2004, 5, 8)).sql("spark", pretty=False)
    assert len(printed) < 30_000


def test_api_decides_a_table_of_the_callers_session(spark: Any, tmp_path: Path) -> None:
    from policydsl.api import PolicyError, decide_on_spark

    source = _write_population(tmp_path)
    spark.read.option("header", "true").csv(str(source)).createOrReplaceTempView("enterprises")
    decided = decide_on_spark(SHANDONG, spark, table="enterprises", date=datetime.date(2019, 6, 1))
    rows = decided.orderBy("row").collect()
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "a4"]
    assert [r["total_status"] for r in rows] == ["ceiling", "undetermined", "ineligible", "invalid"]
    assert rows[0]["platform_award.amount"] == "30000000.00"
    policy, _ = refused(tmp_path)
    with pytest.raises(PolicyError, match="S101"):
        decide_on_spark(policy, spark, table="enterprises")


def test_simulate_on_spark_gives_the_figures_of_every_other_engine(spark: Any) -> None:
    from tests.test_simulate import estimates_on, same_figures

    population = (
        Path(__file__).resolve().parent.parent / "policies" / "samples" / "shandong_platforms_population.csv"
    )
    on_spark = estimates_on("spark", population)
    assert on_spark["estimates"][0]["engine"] == "spark"
    assert same_figures(on_spark) == same_figures(estimates_on("python", population))


def test_eval_engine_spark_writes_the_columns_chosen(spark: Any, tmp_path: Path) -> None:
    source = _write_population(tmp_path)
    outputs = {}
    for engine in ("duckdb", "spark"):
        target = tmp_path / f"{engine}.csv"
        args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--engine", engine,
                "--date", "2019-06-01", "--columns", "amounts"]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output  # one row is invalid
        outputs[engine] = _read(target)
    assert outputs["spark"] == outputs["duckdb"]
    assert list(outputs["spark"][0]) == [
        "row", "id", "error", "total_status", "total_amount", "platform_award.status", "platform_award.amount"
    ]  # fmt: skip
