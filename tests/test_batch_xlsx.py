"""`eval --batch FILE.xlsx`: a workbook's first sheet read as the CSV path reads text cells, on the
Python and DuckDB engines alike (evaluation/xlsx.py)."""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from policydsl.commands.cli import main
from policydsl.evaluation.xlsx import cell_text

POLICY = """policy "xlsx" { issued 2021-01-01 valid from issued lasting 5年 }
fact investment "项目投资": money >= 0
fact certified "通过认定": bool
fact established "成立日期": date
measure grant "项目资助" {
  require certified "通过认定"
  require since(established) 届满 1年 "成立满1年"
  award a: 10% * investment cap 500万
}
"""
HEADER = ["id", "investment", "certified", "established"]


def _workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _run(tmp_path: Path, source: Path, engine: str) -> tuple[int, list[dict[str, str]], str]:
    policy = tmp_path / "p.policy"
    policy.write_text(POLICY, encoding="utf-8")
    target = tmp_path / f"{engine}.csv"
    args = ["eval", str(policy), "--batch", str(source), "-o", str(target), "--date", "2022-06-01",
            "--engine", engine, "--lang", "en"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    rows: list[dict[str, str]] = []
    if target.exists():
        with target.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return result.exit_code, rows, result.output


ENGINES = ["python", "duckdb", "auto"]


@pytest.mark.parametrize("engine", ENGINES)
def test_number_text_date_and_yes_no_cells_read_as_the_csv_path(tmp_path: Path, engine: str) -> None:
    source = _workbook(
        tmp_path / "people.xlsx",
        [
            ["a", 1000000, True, datetime.date(2019, 3, 1)],  # a number cell and an Excel date
            ["b", "100万", "是", "2019-03-01"],  # text cells, as in a CSV file
            ["c", 2500000.5, False, datetime.datetime(2019, 3, 1)],  # a float cell; a date as datetime
            [None, None, None, None],  # an empty row is left out, as a blank CSV line
            ["d", 0.1, True, datetime.date(2021, 12, 1)],  # 0.1 as Excel shows it; founded too late
        ],
    )
    code, rows, out = _run(tmp_path, source, engine)
    assert code == 0, out
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["grant.status"] for r in rows] == ["determined", "determined", "ineligible", "ineligible"]
    assert [r["grant.amount"] for r in rows[:2]] == ["100000.00", "100000.00"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bad_cell_makes_one_error_row(tmp_path: Path, engine: str) -> None:
    book = _workbook(
        tmp_path / "people.xlsx",
        [
            ["a", 1000000, True, datetime.date(2019, 3, 1)],
            ["b", "lots", True, datetime.date(2019, 3, 1)],
            ["c", 1000000, True, datetime.datetime(2019, 3, 1, 12, 30)],  # a time of day: no date
            ["d", 0, True, datetime.date(2019, 3, 1)],
        ],
    )
    loaded = openpyxl.load_workbook(book)
    sheet = loaded.active
    assert sheet is not None
    sheet["B5"] = "#DIV/0!"  # an error cell, as Excel stores one
    sheet["B5"].data_type = "e"
    loaded.save(book)
    code, rows, out = _run(tmp_path, book, engine)
    assert code == 1, out
    assert len(rows) == 4
    errors = [r["error"] for r in rows]
    assert errors[0] == ""
    assert "lots" in errors[1] and "investment" in errors[1]
    assert "established" in errors[2]
    assert "#DIV/0!" in errors[3] and "investment" in errors[3]


def test_a_file_that_is_no_workbook_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "people.xlsx"
    source.write_text("id,investment\na,1\n", encoding="utf-8")
    code, rows, out = _run(tmp_path, source, "auto")
    assert code == 2 and "not an .xlsx workbook" in out and "Traceback" not in out
    assert rows == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000000.0, "1000000"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.3"),  # Excel shows 15 significant digits
        (1e-05, "0.00001"),
        (3e15, "3000000000000000"),
        (-0.0, "0"),
        (True, "true"),
        (datetime.datetime(2021, 6, 1), "2021-06-01"),
        (datetime.datetime(2021, 6, 1, 8, 0), "2021-06-01T08:00:00"),
        (None, ""),
        ("100万", "100万"),
    ],
)
def test_cell_text(value: Any, text: str) -> None:
    assert cell_text(value) == text


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False))
def test_a_figure_typed_into_a_number_cell_reads_back_as_typed(figure: Decimal) -> None:
    """Excel keeps the cell as a binary float; the text read is the figure typed (at most 15
    significant digits), never the float's binary expansion."""
    assert Decimal(cell_text(float(figure))) == figure
