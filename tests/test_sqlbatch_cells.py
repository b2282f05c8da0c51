"""The SQL engines' reading of cells against the Python engine's (evaluation/cells.py, runtime.parse_fact):
awkward cell texts decided by both, row for row.  Where the query reads a cell it reads the value the
Python engine reads; where it cannot (a form `refused` names) it makes the row invalid, never
another value."""

from __future__ import annotations

import csv
import datetime
import re
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from policydsl.checking.pipeline import check_text
from policydsl.codegen import sql
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation import sqlbatch
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower

POLICY = """policy "t" { issued 2021-01-01 valid from issued lasting 10年 }
fact revenue "营业收入": money >= 0
fact staff "职工人数": count 人 >= 0人
fact rate "比例": percent
fact score "分数": number
fact ok "合格": bool
fact founded "成立日期": date
measure m "m" {
  require ok "合格"
  award a: revenue * rate + staff * 100元/人 + score * 1元
  award b: 1元 if founded >= 2020-01-01
}
"""
BASE = {"revenue": "100", "staff": "3", "rate": "0.5", "score": "2", "ok": "true", "founded": "2021-03-04"}
FIGURES = ["revenue", "staff", "rate", "score"]
DAY = datetime.date(2022, 6, 1)

# figure texts awkward for a reader: plain, signs, spaces, separators, units, multipliers, exponents,
# many decimals, blanks, garbage
FIGURE_TEXTS = [
    "12", "12.5", "0", "00012", "1.", ".5", "0.1234567890", "0.12345678901", " 12", "12 ", "\t12",
    "+12", "-12", "-0", "1e5", "1E5", "1.5e-3", "Infinity", "NaN", "inf", "1_000", "0x10", "1,000",
    "1,000.5", "1,00", "12,345,678.25", "5万", "5万元", "2亿", "3千", "1千万", "3万亿", "12元", "12 元",
    "12人", "１２", "12。5", "", " ", "abc", "1.2.3", ".", "-", "+", "99999999999999999999999999999",
    "1.0000000000", "12.00", "60%", "6%", "0.6", "1.5", "100%", "5.5万", "1,000万", "12\u00a0",
    "\u300012", "1.5%", "+5%", "%", "元", "12元元", "0.004999999999", "2.00499999999999", "0.0049999999999%",
]  # fmt: skip
BOOL_TEXTS = [
    "true",
    "false",
    "TRUE",
    " true",
    "True",
    "是",
    "否",
    "yes",
    "no",
    "1",
    "0",
    "maybe",
    "",
    "ｔｒｕｅ",
]
DATE_TEXTS = [
    "2021-03-04",
    "2019-12-31",
    " 2021-03-04",
    "2021-3-4",
    "2021-02-30",
    "0000-01-01",
    "20210304",
    "x",
]

# Forms the Python engine reads that the SQL engines refuse (the row is invalid, its column named),
# each with the cell texts above it explains.  Figures: full-width characters and white space other
# than a space (no NFKC folding in the query), exponents and underscores (no plain figure), more than
# 28 whole digits or 10 decimal places (beyond DECIMAL(38, 10)), a space between a figure and its unit.
# Dates: ISO's basic form without dashes.
REFUSED_FIGURES = re.compile(r"[^\x00-\x7f元万亿千人%]|\t|[eE_]|[0-9]{29}|\.[0-9]{11}|[0-9] 元")
REFUSED_DATES = re.compile(r"^[0-9]{8}$")


def refused(column: str, cell: str) -> bool:
    """Whether `cell` of `column` is in a form the Python engine reads and the SQL engines refuse."""
    pattern = REFUSED_DATES if column == "founded" else REFUSED_FIGURES if column in FIGURES else None
    return pattern is not None and pattern.search(cell) is not None


def _plan() -> P.Plan:
    sink = Sink()
    checked = check_text("cells.policy", POLICY, sink)
    assert checked.model is not None and not sink.has_errors
    return lower(checked.model, POLICY)


def _cases() -> list[dict[str, str]]:
    rows = []
    for column in FIGURES:
        rows += [{**BASE, column: t, "id": f"{column}:{t!r}"} for t in FIGURE_TEXTS]
    rows += [{**BASE, "ok": t, "id": f"ok:{t!r}"} for t in BOOL_TEXTS]
    rows += [{**BASE, "founded": t, "id": f"founded:{t!r}"} for t in DATE_TEXTS]
    return rows


def _agree_or_refused(column: str, cell: str, python: tuple[str, ...], duckdb: tuple[str, ...]) -> None:
    if python == duckdb:
        return
    # the one difference allowed: DuckDB refuses a form the Python engine reads, named above
    assert duckdb[0] == "invalid" and refused(column, cell), (column, cell, python, duckdb)


def test_awkward_cells_are_read_as_the_python_engine_reads_them(tmp_path: Path) -> None:
    (tmp_path / "p.policy").write_text(POLICY, encoding="utf-8")
    rows = _cases()
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, ["id", *BASE])
        out.writeheader()
        out.writerows(rows)
    decided = {}
    for engine in ("python", "duckdb"):
        target = tmp_path / f"{engine}.csv"
        args = ["eval", str(tmp_path / "p.policy"), "--batch", str(source), "-o", str(target),
                "--engine", engine, "--date", "2022-06-01", "--no-progress"]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code in (0, 1), result.output
        with target.open(encoding="utf-8-sig", newline="") as handle:
            decided[engine] = [
                (
                    "invalid" if r["error"] else r["total_status"],
                    r["m.status"],
                    r["m.amount"],
                    r["total_amount"],
                )
                for r in csv.DictReader(handle)
            ]
    assert len(decided["python"]) == len(decided["duckdb"]) == len(rows)
    apart = 0
    for row, python, duckdb in zip(rows, decided["python"], decided["duckdb"], strict=True):
        column = row["id"].split(":", 1)[0]
        _agree_or_refused(column, row[column], python, duckdb)
        apart += python != duckdb
    # most texts are read alike: the allowance above is for the few forms it names
    assert apart < len(rows) // 5


def _python(plan: P.Plan, facts: dict[str, str]) -> tuple[str, Decimal | None] | str:
    interpreter = Interpreter(plan)
    try:
        values = rt.parse_facts(interpreter.specs, facts)
    except rt.InputError:
        return "invalid"
    d = interpreter.evaluate(values, DAY, partial=True, explain=False, parsed=True)
    return (d.total.status, d.total.amount)


_PIECES = st.sampled_from(
    [
        "0",
        "1",
        "4",
        "99999",
        "5",
        "9",
        "00",
        "123",
        ".",
        ",",
        "+",
        "-",
        " ",
        "e",
        "万",
        "亿",
        "千",
        "元",
        "人",
        "%",
        "_",
        "１",
        "\t",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cells=st.lists(
        st.tuples(st.sampled_from(FIGURES), st.lists(_PIECES, max_size=6).map("".join)),
        min_size=1,
        max_size=12,
    )
)
def test_generated_figure_cells_are_read_alike_or_refused(cells: list[tuple[str, str]]) -> None:
    plan = _plan()
    query = sql.build(plan, date=DAY, passthrough=("row",))
    rows: list[dict[str, str | None]] = [{**BASE, column: text} for column, text in cells]
    got = sqlbatch.decide_rows(query, rows)
    for (column, text), row, out in zip(cells, rows, got, strict=True):
        expected = _python(plan, {k: v for k, v in row.items() if v is not None})
        duckdb = "invalid" if out["error"] is not None else (out["total_status"], out["total_amount"])
        if expected != duckdb:
            assert duckdb == "invalid" and refused(column, text), (column, text, expected, duckdb)


def test_a_plain_cell_is_read_by_one_cast_and_each_reading_is_named_once() -> None:
    """A plain figure takes one cast behind one plain-digits test; the general reading (units,
    multipliers, separators) is written once per fact, not again in the tests of the value and of
    the error column: its text without a multiplier is named three times per figure read (two form
    tests, one value), a percent's twice over (with % and without)."""
    texts = [node.this for node in sql.build(_plan(), passthrough=("row",)).tree.find_all(exp.Literal)]
    assert texts.count("^(" + sql._PLAIN_CELL + ")$") == len(FIGURES)
    assert texts.count("(亿|万|千)\\z") == 3 * (len(FIGURES) + 1)


def test_the_formula_guard_reads_input_text_columns_only_with_no_in_list(tmp_path: Path) -> None:
    """Statuses hold the engine's own words and amounts are figures: left as they are, as the Python
    engine leaves them; a column of one text is guarded as the query is built; the others are tested
    by a chain of comparisons (an IN list was planned as a join per column)."""
    plan = _plan()
    query = sql.build(plan, date=DAY, passthrough=sqlbatch.PASSTHROUGH)
    forms = {"m": "=现金"}
    columns = [sqlbatch.guarded(c) for c in sqlbatch.output_columns(query, forms, {}, True)]
    by_name = {c.alias_or_name: c for c in columns}
    for name in ("total_status", "m.status", "total_amount", "m.amount", "row"):
        assert by_name[name].find(exp.Case) is None, name
    assert by_name["m.form"].this == exp.Literal.string("'=现金")
    for name in ("id", "error", "total_reasons", "m.reasons"):
        assert by_name[name].find(exp.Case) is not None, name
    assert not any(c.find(exp.In) for c in columns)
    # and the ids written as the Python engine writes them, on good rows and error rows
    (tmp_path / "p.policy").write_text(POLICY, encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text(
        "id,revenue,staff,rate,score,ok,founded\n=1+1,100,3,0.5,2,true,2021-03-04\n"
        "-2,100,3,0.5,2,@x,2021-03-04\n+3,-5,3,0.5,2,true,2021-03-04\n",
        encoding="utf-8",
    )
    written = {}
    for engine in ("python", "duckdb"):
        target = tmp_path / f"{engine}.csv"
        args = ["eval", str(tmp_path / "p.policy"), "--batch", str(source), "-o", str(target),
                "--engine", engine, "--date", "2022-06-01", "--no-progress"]  # fmt: skip
        CliRunner().invoke(main, args)
        with target.open(encoding="utf-8-sig", newline="") as handle:
            written[engine] = [(r["id"], bool(r["error"])) for r in csv.DictReader(handle)]
    assert written["duckdb"] == written["python"]
    assert [r[0] for r in written["duckdb"]] == ["'=1+1", "'-2", "'+3"]
    assert [r[1] for r in written["duckdb"]] == [False, True, True]
