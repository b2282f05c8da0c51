"""Batch files as offices write them: malformed CSV loses no line, encodings, headers by label,
group keys, spreadsheet-safe output, bounded lines and the batch command's exit code."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.commands.cli import main
from policydsl.evaluation import batch as batch_module
from policydsl.evaluation.batch import run_batch
from tests.conftest import DATA

POLICY = """policy "批量测试" { issued 2021-01-01 valid from issued lasting 5年 }
enum level "级别" { national "国家级", provincial "省级" }
fact investment "项目投资": money >= 0
fact tier "认定级别": level
fact region "所在区域": text
measure grant "项目资助" {
  award 10% * investment cap 100万 if tier == national
}
"""
DAY = datetime.date(2022, 6, 1)


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batchfiles") / "batch.policy"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=[False, True], ids=["interpreter", "compiled"])
def evaluator(policy_file: Path, request: pytest.FixtureRequest) -> PolicyEvaluator:
    found, sink = compile_policy(policy_file, compiled=request.param)
    assert found is not None, sink.diagnostics
    return found


def run(evaluator: PolicyEvaluator, source: Path, target: Path, **options: Any) -> tuple[int, int]:
    return run_batch(evaluator, evaluator.measures, source, target, DAY, evaluator.constraints(), **options)


def rows_of(target: Path) -> list[dict[str, Any]]:
    if target.suffix == ".csv":
        with target.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------ malformed CSV


def test_an_unclosed_quote_is_an_error_row_and_reading_resumes_on_the_next_line(
    evaluator: PolicyEvaluator, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'id,investment,tier,region\nA1,100万,national,江门\nA2,100万,国家级,"甲\nA3,100万,national,江门\n'
        "A4,100万,national,江门\n",
        encoding="utf-8",
    )
    assert run(evaluator, source, tmp_path / "out.jsonl") == (4, 1)
    out = rows_of(tmp_path / "out.jsonl")
    assert [r["row"] for r in out] == [1, 2, 3, 4]
    assert out[1]["error"] is not None and "line 3" in out[1]["error"] and "quote" in out[1]["error"]
    assert [r["id"] for r in out if r["error"] is None] == ["A1", "A3", "A4"]


_CELL = st.text(alphabet='a甲,"\t 1万', max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(_CELL, min_size=1, max_size=5).map(",".join), max_size=8))
def test_every_physical_data_line_is_one_output_row(
    evaluator: PolicyEvaluator, tmp_path: Path, lines: list[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("\n".join(["id,investment,tier,region", *lines]) + "\n", encoding="utf-8")
    # counted without a CSV parser: every line that is not blank after the header is one applicant
    expected = sum(1 for line in lines if line.strip())
    rows, _ = run(evaluator, source, tmp_path / "out.jsonl")
    out = rows_of(tmp_path / "out.jsonl")
    assert rows == len(out) == expected
    assert [r["row"] for r in out] == list(range(1, expected + 1))


# ------------------------------------------------------------------------------ bounded lines


def test_a_huge_line_is_an_error_row_and_the_batch_goes_on(
    evaluator: PolicyEvaluator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_module, "MAX_LINE_BYTES", 1000)
    for suffix, head, huge, good in (
        (".jsonl", "", '{"id": "' + "x" * 5000 + '"}', '{"id": "B", "investment": 1, "tier": "national"}'),
        (".csv", "id,investment,tier\n", "H," + "9" * 5000 + ",national", "B,1,national"),
    ):
        source = tmp_path / f"in{suffix}"
        source.write_text(head + huge + "\n" + good + "\n", encoding="utf-8")
        assert run(evaluator, source, tmp_path / "out.jsonl") == (2, 1)
        out = rows_of(tmp_path / "out.jsonl")
        assert "1000 bytes" in out[0]["error"]
        assert out[1]["error"] is None and out[1]["grant.amount"] == "0.10"


class _CountingReader(io.BytesIO):
    """A file that records how much each read may return."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def readline(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().readline(size)


def test_lines_are_read_in_bounded_chunks() -> None:
    handle = _CountingReader(b"a\n" + b"x" * 10_000_000 + b"\nb\n")
    lines = list(batch_module.physical_lines(handle, 1000))
    assert lines == [(1, b"a"), (2, None), (3, b"b")]
    assert handle.sizes and all(0 < size <= 1001 for size in handle.sizes)


# ------------------------------------------------------------------------------ encodings and headers


def test_a_gb18030_csv_from_excel_is_read_and_the_encoding_named(policy_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("编号,项目投资,认定级别,所在区域\r\nA1,100万,国家级,江门\r\n".encode("gb18030"))
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["eval", str(policy_file), "--date", "2022-06-01", "--batch", str(source), "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "GB18030" in result.output
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with a BOM
    out = rows_of(target)
    assert out[0]["error"] == "" and out[0]["grant.amount"] == "100000.00"
    # --no-bom, and --encoding overriding the detection
    args = ["eval", str(policy_file), "--date", "2022-06-01", "--batch", str(source), "-o", str(target)]
    result = CliRunner().invoke(main, [*args, "--no-bom", "--encoding", "gb18030"])
    assert result.exit_code == 0 and "GB18030 (as given)" in result.output
    assert not target.read_bytes().startswith(b"\xef\xbb\xbf")
    result = CliRunner().invoke(main, [*args, "--encoding", "utf-8"])
    assert result.exit_code == 2 and "header line cannot be read" in result.output


def test_an_unknown_column_is_one_error_before_any_row(policy_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,investmnet,tier\nA1,1,national\nA2,1,national\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["eval", str(policy_file), "--date", "2022-06-01", "--batch", str(source), "-o", str(target)]
    )
    assert result.exit_code == 2
    assert "investmnet" in result.output and "no such fact" in result.output
    assert not target.exists()


def test_duplicate_columns_are_refused(policy_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    # the same fact twice: once by name, once by its label
    source.write_text("id,investment,项目投资,tier\nA1,1,2,national\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["eval", str(policy_file), "--batch", str(source), "-o", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2 and "twice" in result.output


def test_a_duplicate_json_key_is_refused(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "A", "investment": 1, "investment": 900, "tier": "national"}\n', encoding="utf-8"
    )
    assert run(evaluator, source, tmp_path / "out.jsonl") == (1, 1)
    assert "investment" in rows_of(tmp_path / "out.jsonl")[0]["error"]


# ------------------------------------------------------------------------------ group keys


@pytest.mark.parametrize("spelling", ["甲", "甲 ", " 甲", "甲\u3000", "Ａ"])
def test_group_caps_are_not_evaded_by_spelling(spelling: str, tmp_path: Path) -> None:
    policy, sink = compile_policy(DATA / "eval" / "quota.policy")
    assert policy is not None, sink.diagnostics
    base = "Ａ" if spelling == "Ａ" else "甲"
    other = "A" if spelling == "Ａ" else spelling
    source = tmp_path / "in.jsonl"
    rows = [
        {"id": str(i), "revenue": "0", "cluster": name, "investment": "100万"}
        for i, name in enumerate([base, base, other])
    ]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run_batch(policy, policy.measures, source, tmp_path / "out.jsonl", None, policy.constraints())
    out = rows_of(tmp_path / "out.jsonl")
    assert all("集体封顶" in r["cluster_pilot.reasons"] for r in out), out


def test_a_blank_group_is_no_group(tmp_path: Path) -> None:
    policy, sink = compile_policy(DATA / "eval" / "quota.policy")
    assert policy is not None, sink.diagnostics
    source = tmp_path / "in.jsonl"
    rows = [{"id": str(i), "revenue": "0", "cluster": " ", "investment": "100万"} for i in range(3)]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run_batch(policy, policy.measures, source, tmp_path / "out.jsonl", None, policy.constraints())
    assert all(r["cluster_pilot.reasons"] == "" for r in rows_of(tmp_path / "out.jsonl"))


# ------------------------------------------------------------------------------ output


def test_formula_cells_are_neutralised_and_numbers_kept(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    ids = ['=HYPERLINK("http://x")', "@SUM(A1)", "+1", "-2", "\tx", "\rx", "plain"]
    source.write_text(
        "".join(json.dumps({"id": i, "investment": 1, "tier": "national"}) + "\n" for i in ids),
        encoding="utf-8",
    )
    target = tmp_path / "out.csv"
    run(evaluator, source, target)
    out = rows_of(target)
    assert [r["id"] for r in out] == ["'" + i for i in ids[:-1]] + ["plain"]
    assert out[0]["grant.amount"] == "0.10"
    run(evaluator, source, target, formula_guard=False)
    assert [r["id"] for r in rows_of(target)] == ids


def test_negative_amounts_are_numbers_not_formulas(tmp_path: Path) -> None:
    out = batch_module._row_out(1, {"id": "a"}, None, None)
    out["x.amount"] = "-5.00"
    assert batch_module.guard_formulas(out)["x.amount"] == "-5.00"


# ------------------------------------------------------------------------------ exit code


def test_a_batch_with_an_error_row_exits_1(policy_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,investment,tier\nA1,1,national\nA2,lots,national\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    args = ["eval", str(policy_file), "--date", "2022-06-01", "--batch", str(source), "-o", str(target)]
    args += ["--engine", "python"]  # its summary line
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "1 with errors" in result.output
    source.write_text("id,investment,tier\nA1,1,national\n", encoding="utf-8")
    assert CliRunner().invoke(main, args).exit_code == 0
