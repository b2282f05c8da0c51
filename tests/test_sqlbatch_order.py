"""The DuckDB file batch: rows written in the input's order, numbered 1..N in file order, also past
DuckDB's chunks and row groups; DuckDB's memory bounded (sqlbatch.MEMORY_LIMIT), spilling beside the
output and leaving nothing there."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.commands.cli import main
from policydsl.evaluation import sqlbatch
from tests.conftest import ROOT

SAMPLES = ROOT / "policies" / "samples"
SHANDONG = ROOT / "policies" / "shandong_platforms.policy"
JIANGMEN = ROOT / "policies" / "jiangmen_special_fund.policy"


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _replicated(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8", newline="") as handle:
        header, *body = list(csv.reader(handle))
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([f"A{i + 1}", *body[i % len(body)][1:]] for i in range(rows))


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_a_large_batch_is_written_in_file_order(tmp_path: Path) -> None:
    """Three of DuckDB's row groups (122,880 rows each) with the formula guard on: a plan that runs the
    query on several threads and lets an operator (the guard's IN list run as a join) pass chunks on
    out of order wrote row 122,881 first."""
    source, target = tmp_path / "many.csv", tmp_path / "out.csv"
    rows = 300_000
    _replicated(SAMPLES / "shandong_platforms_population.csv", source, rows)
    result = run("eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--date", "2020-06-01",
                 "--columns", "amounts", "--engine", "duckdb", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    table = _table(target)
    assert len(table) == rows + 1
    assert [r[0] for r in table[1:]] == [str(i + 1) for i in range(rows)]
    assert [r[1] for r in table[1:]] == [f"A{i + 1}" for i in range(rows)]


@pytest.mark.parametrize("limit", [sqlbatch.MEMORY_LIMIT, "64MB"])
def test_quotas_and_pots_decide_as_the_python_batch_within_the_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    """Jiangmen's group cap and pot (windows over the whole population) in a file batch: the same
    file as the Python engine's, in the same order, also when DuckDB may hold only 64 MB;
    the spill folder beside the output is gone after."""
    monkeypatch.setattr(sqlbatch, "MEMORY_LIMIT", limit)
    source = tmp_path / "in" / "many.csv"
    source.parent.mkdir()
    _replicated(SAMPLES / "jiangmen_special_fund_population.csv", source, 3_000)
    tables = {}
    for engine in ("python", "duckdb"):
        target = tmp_path / engine / "out.csv"
        target.parent.mkdir()
        result = run("eval", str(JIANGMEN), "--batch", str(source), "-o", str(target), "--date", "2022-06-01",
                     "--engine", engine, "--columns", "amounts", "--no-progress")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]
        tables[engine] = _table(target)
    assert tables["duckdb"] == tables["python"]
    assert any(r[3] == "ceiling" for r in tables["duckdb"][1:])  # the group cap binds
