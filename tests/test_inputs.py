"""Applicants' facts from the API, `eval --facts` and batch files: every unusable value is named in
one clear error, and a batch writes one output row per input row, all or nothing."""

from __future__ import annotations

import csv
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.commands.cli import main
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import read_rows, run_batch

POLICY = """policy "输入测试" { issued 2021-01-01 valid from issued lasting 5年 }
kind enterprise "企业"
kind institute "科研院所"
enum level "级别" { national "国家级", provincial "省级" }
fact investment "项目投资": money >= 0
fact rate "完成率": percent >= 0% <= 100%
fact score "评分": number
fact staff "职工人数": count 人 >= 0人
fact certified "通过认定": bool
fact established "成立日期": date
fact region "所在区域": text
fact tier "认定级别": level
measure grant "项目资助" {
  applicants enterprise
  require certified "通过认定"
  require since(established) 届满 1年 "成立满1年"
  award 30% * investment cap by tier { national: 500万, provincial: 200万 }
    if rate 达到 60% and staff 达到 10人
  bonus 5万 if score > 90 and region == region
}
"""
GOOD = {
    "applicant": "enterprise",
    "investment": "1000万",
    "rate": "80%",
    "score": 95,
    "staff": "20人",
    "certified": "是",
    "established": "2020-01-01",
    "region": "江门",
    "tier": "national",
}
DAY = datetime.date(2022, 6, 1)


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "inputs.policy"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def evaluator(policy_file: Path) -> PolicyEvaluator:
    found, sink = compile_policy(policy_file)
    assert found is not None, [d.message for d in sink.diagnostics]
    return found


def problems(
    evaluator: PolicyEvaluator, facts: dict[str, Any], partial: bool = False, strict: bool = True
) -> list[str]:
    with pytest.raises(rt.InputError) as caught:
        evaluator.evaluate(facts, DAY, partial=partial, strict=strict)
    return caught.value.problems


def test_good_facts_decide(evaluator: PolicyEvaluator) -> None:
    decision = evaluator.evaluate(GOOD, DAY)
    assert decision.measures["grant"].status == rt.DETERMINED
    assert decision.measures["grant"].amount == Decimal("3050000.00")


# ------------------------------------------------------------------------------ the API


def test_every_problem_is_listed_at_once(evaluator: PolicyEvaluator) -> None:
    facts = {
        **GOOD,
        "investment": "-5",
        "rate": "NaN",
        "score": "Infinity",
        "staff": "2.5",
        "certified": "maybe",
        "established": "2021-02-30",
        "tier": "county",
        "colour": "blue",
    }
    found = problems(evaluator, facts)
    assert len(found) == 8, found
    joined = "\n".join(found)
    for expected in (
        "`investment` (项目投资): an amount of money cannot be negative (got -5)",
        "`rate` (完成率): `NaN` is not a finite number",
        "`score` (评分): `Infinity` is not a finite number",
        "`staff` (职工人数): a count is a whole number ≥ 0 (got 2.5)",
        "`certified` (通过认定): true or false, not `maybe`",
        "`established` (成立日期): a date such as 2021-06-01, not `2021-02-30`",
        "`tier` (认定级别): `county` is not one of national（国家级）, provincial（省级）",
        "`colour`: no such fact",
    ):
        assert expected in joined, joined


def test_missing_facts_are_named_together(evaluator: PolicyEvaluator) -> None:
    facts = {k: v for k, v in GOOD.items() if k not in ("investment", "rate", "established")}
    # the facts the decision is waiting for: the amount's investment is needed only once the
    # clause's condition (which needs rate) is known to hold
    assert problems(evaluator, facts) == [
        "missing fact 完成率（rate）",
        "missing fact 成立日期（established）",
    ]
    partial = evaluator.evaluate(facts, DAY, partial=True).measures["grant"]
    assert partial.status == rt.UNDETERMINED
    assert set(partial.needed) == {"完成率（rate）", "成立日期（established）"}


@pytest.mark.parametrize(
    ("fact", "value", "message"),
    [
        ("investment", float("nan"), "not a binary float"),
        ("investment", 1.5, "not a binary float"),
        ("investment", Decimal("NaN"), "not a finite number"),
        ("investment", Decimal("-Infinity"), "not a finite number"),
        ("investment", "1e40", "is too large"),
        ("investment", "1e999999999999", "is too large"),
        ("investment", 10**60, "is too large"),
        ("investment", "12abc", "is not a number"),
        ("investment", "万", "is not a number"),
        ("investment", True, "not true/false"),
        ("investment", [1], "not list"),
        ("rate", "150%", "must be <= 1"),
        ("staff", "-1", "whole number ≥ 0"),
        ("staff", "3家", "is not a number"),
        ("established", "10000-01-01", "a date such as"),
        ("established", "2021-13-01", "a date such as"),
        ("established", "2021/01/01", "a date such as"),
        ("established", "2021年1月1日", "a date such as"),
        ("certified", 2, "true or false"),
        ("region", ["江门"], "a text, not list"),
        ("tier", "国家", "is not one of national（国家级）, provincial（省级）"),
        ("applicant", "person", "is not one of enterprise（企业）, institute（科研院所）"),
    ],
)
def test_each_unusable_value_says_why(
    evaluator: PolicyEvaluator, fact: str, value: Any, message: str
) -> None:
    found = problems(evaluator, {**GOOD, fact: value})
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    ("fact", "value", "expected"),
    [
        ("investment", " 1000万 ", Decimal("10000000")),
        ("investment", "1,000万元", Decimal("10000000")),
        ("investment", "１０００万", Decimal("10000000")),  # full-width digits read as digits
        ("investment", Decimal("1E+7"), Decimal("10000000")),
        ("investment", 10_000_000, Decimal("10000000")),
        ("investment", "0.001", Decimal("0.001")),
        ("rate", "0.8", Decimal("0.8")),
        ("rate", "80 %", Decimal("0.8")),
        ("staff", 20, Decimal("20")),
        ("staff", " 20人", Decimal("20")),
        ("certified", "yes", True),
        ("certified", 1, True),
        ("established", "0001-01-01", datetime.date(1, 1, 1)),
        ("established", " 9999-12-31 ", datetime.date(9999, 12, 31)),
        ("established", datetime.date(2020, 1, 1), datetime.date(2020, 1, 1)),
        ("tier", "国家级", "national"),
        ("tier", " national ", "national"),
    ],
)
def test_values_in_the_forms_people_write_them(
    evaluator: PolicyEvaluator, fact: str, value: Any, expected: Any
) -> None:
    parsed = rt.parse_facts(evaluator.interpreter.specs, {**GOOD, fact: value})
    assert parsed[fact if fact != "applicant" else "applicant"] == expected
    evaluator.evaluate({**GOOD, fact: value}, DAY)  # and evaluation takes it


def test_dates_at_the_ends_of_the_calendar_evaluate(evaluator: PolicyEvaluator) -> None:
    for day in ("0001-01-01", "9999-12-31"):
        decision = evaluator.evaluate({**GOOD, "established": day}, DAY)
        assert decision.measures["grant"].status in (rt.DETERMINED, rt.INELIGIBLE)
    for when in (datetime.date(1, 1, 1), datetime.date(9999, 12, 31)):
        decision = evaluator.evaluate(GOOD, when)
        assert decision.measures["grant"].status == rt.INELIGIBLE  # the policy is not in force


def test_empty_values_count_as_not_given(evaluator: PolicyEvaluator) -> None:
    for empty in (None, "", "   "):
        facts = {**GOOD, "investment": empty}
        assert problems(evaluator, facts) == ["missing fact 项目投资（investment）"]


# ------------------------------------------------------------------------------ eval --facts


def run_eval(policy_file: Path, facts: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        main, ["eval", str(policy_file), "--facts", str(facts), "--date", "2022-06-01", *extra]
    )


def test_eval_lists_every_problem_and_exits_1(policy_file: Path, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({**GOOD, "investment": "-1", "tier": "county", "extra": 1}), encoding="utf-8")
    result = run_eval(policy_file, facts)
    assert result.exit_code == 1
    assert "the facts cannot be used" in result.output
    assert result.output.count("  - ") == 2
    assert "warning: `extra`: no such fact; ignored" in result.output  # said, though not a problem
    strict = run_eval(policy_file, facts, "--strict-facts")
    assert strict.exit_code == 1
    assert strict.output.count("  - ") == 3 and "warning" not in strict.output


def test_eval_reads_json_floats_exactly(policy_file: Path, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({**GOOD, "investment": 0.1, "rate": 0.8}), encoding="utf-8")
    result = run_eval(policy_file, facts, "--format", "json")
    assert result.exit_code == 0, result.output
    amount = json.loads(result.output)["measures"][0]["amount"]
    assert amount == "50000.03"  # 30% of 0.1元 rounds to 0.03, plus the 5万 bonus: no binary-float noise


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"investment": NaN}', "not a finite number"),
        ('{"investment": Infinity}', "not a finite number"),
        ('{"investment": 1' + "0" * 5000 + "}", "is too large"),
    ],
)
def test_eval_refuses_json_numbers_that_are_not_figures(
    policy_file: Path, tmp_path: Path, content: str, message: str
) -> None:
    facts = tmp_path / "facts.json"
    data = json.loads(json.dumps(GOOD))
    data.pop("investment")
    facts.write_text(content[:-1] + ", " + json.dumps(data)[1:], encoding="utf-8")
    result = run_eval(policy_file, facts)
    assert result.exit_code == 1, result.output
    assert message in result.output


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"region": "\\ud800"}',
        b"\xff\xfe{}",
        b"",
    ],
    ids=["broken", "array", "deep", "surrogate", "not-utf8", "empty"],
)
def test_eval_refuses_unusable_json_as_a_usage_error(
    policy_file: Path, tmp_path: Path, content: bytes
) -> None:
    facts = tmp_path / "facts.json"
    facts.write_bytes(content)
    result = run_eval(policy_file, facts)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert str(facts) in result.output


def test_eval_accepts_a_bom_and_crlf(policy_file: Path, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(GOOD, ensure_ascii=False, indent=1).replace("\n", "\r\n").encode()
    )
    assert run_eval(policy_file, facts).exit_code == 0


def test_eval_reads_facts_only_up_to_a_limit(policy_file: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    result = run_eval(policy_file, zero)
    assert result.exit_code == 2
    assert "larger than" in result.output


# ------------------------------------------------------------------------------ batch files

COLUMNS = ["id", "applicant", *[k for k in GOOD if k != "applicant"]]


def good_row(i: int) -> dict[str, str]:
    return {"id": f"A{i}", **{k: str(v) for k, v in GOOD.items()}, "investment": f"{i % 900 + 100}万"}


def batch(evaluator: PolicyEvaluator, source: Path, target: Path) -> tuple[int, int]:
    return run_batch(evaluator, evaluator.measures, source, target, DAY, evaluator.constraints())


def output_rows(target: Path) -> list[dict[str, Any]]:
    if target.suffix == ".csv":
        with target.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def test_csv_cells_as_spreadsheets_write_them(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    header = ", ".join(COLUMNS)  # names padded with spaces
    rows = [
        # spaces around values, 万 and 元 suffixes, a thousands separator inside quotes
        'A1, enterprise, " 1,000万元 ", 80%, 95, 20人, 是, 2020-01-01, 江门, national',
        # an empty cell: a fact not known (the row decided as far as it can be, as `eval --partial`)
        "A2,enterprise,,80%,95,20,true,2020-01-01,江门,national",
        # a label for the enum, yes/no for the bool
        "A3,enterprise,500万,0.8,95,20,yes,2020-01-01,江门,国家级",
    ]
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join([header, *rows, ""]).encode("utf-8"))
    assert batch(evaluator, source, tmp_path / "out.csv") == (3, 0)
    out = output_rows(tmp_path / "out.csv")
    assert [r["id"] for r in out] == ["A1", "A2", "A3"]
    assert out[0]["grant.amount"] == "3050000.00" and out[0]["error"] == ""
    assert out[1]["error"] == "" and out[1]["grant.status"] == rt.UNDETERMINED
    assert "项目投资" in out[1]["grant.reasons"]
    assert out[2]["grant.amount"] == "1550000.00"


def test_malformed_csv_rows_become_error_rows(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    good = ",".join(good_row(0)[c] for c in COLUMNS)
    lines = [
        ",".join(COLUMNS).encode(),
        good.encode(),
        (good + ",extra,cells").encode(),  # too many cells
        b"A2,enterprise",  # too few: facts not known, decided as far as they go
        good.encode().replace("江门".encode(), b"\xe6\xb1\x9f\xff"),  # not UTF-8
        good.replace("江门", "x" * 200_000).encode(),  # longer than csv's field limit
        good.replace("江门", 'a"b').encode(),  # a quote inside a cell is part of its text
        good.replace(",江门,", ',"unclosed,').encode(),  # an unclosed quote swallows the rest
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    rows, errors = batch(evaluator, source, tmp_path / "out.jsonl")
    out = output_rows(tmp_path / "out.jsonl")
    assert rows == len(out) == 7
    assert [r["row"] for r in out] == list(range(1, 8))
    assert out[0]["error"] is None and out[0]["grant.status"] == rt.DETERMINED
    assert "cells" in out[1]["error"]
    assert out[2]["error"] is None and out[2]["grant.status"] == rt.UNDETERMINED
    assert out[3]["error"] == "line 5 is not UTF-8 text"
    assert "a cell is longer than 65536 characters" in out[4]["error"]
    assert out[5]["error"] is None and out[5]["grant.status"] == rt.DETERMINED
    assert "quote opened on line 8 is not closed" in out[6]["error"]
    assert errors == 4


def test_malformed_json_lines_become_error_rows(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    good = json.dumps({"id": "A0", **GOOD}, ensure_ascii=False)
    lines = [
        good.encode(),
        b"",  # blank lines are not rows
        b"{broken",
        b"[1, 2, 3]",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"id": "big", "investment": 1' + b"0" * 5000 + b"}",
        b'{"id": "s", "region": "\\udc80"}',
        good.encode().replace("江门".encode(), b"\xe6\xb1\x9f\xff"),
        b'{"id": "nan", "investment": NaN}',
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    rows, errors = batch(evaluator, source, tmp_path / "out.csv")
    out = output_rows(tmp_path / "out.csv")
    assert rows == len(out) == 8 and errors == 7
    assert [int(r["row"]) for r in out] == [1, 3, 4, 5, 6, 7, 8, 9]  # line numbers
    assert out[0]["error"] == ""
    assert out[1]["error"].startswith("not JSON")
    assert out[2]["error"] == "each line must be a JSON object of facts"
    assert "nests too deeply" in out[3]["error"]
    assert "too large" in out[4]["error"]
    assert "lone surrogate" in out[5]["error"]
    assert out[6]["error"] == "line 8 is not UTF-8 text"
    assert "not a finite number" in out[7]["error"]


def test_an_unreadable_csv_header_stops_the_batch_before_any_output(
    policy_file: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text('"id,unclosed\nA1,1\n', encoding="utf-8")
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["eval", str(policy_file), "--batch", str(source), "-o", str(target)])
    assert result.exit_code == 2, result.output
    assert "header line cannot be read" in result.output
    assert not target.exists()


def _generated_batch(path: Path, rows: int) -> set[int]:
    """A CSV of `rows` applicants, 1% of them malformed in varied ways; the malformed row numbers."""
    bad: set[int] = set()
    lines = [",".join(COLUMNS)]
    for i in range(1, rows + 1):
        cells = [good_row(i)[c] for c in COLUMNS]
        if i % 100 == 37:
            bad.add(i)
            kind = (i // 100) % 5
            if kind == 0:
                cells.append("extra")
            elif kind == 1:  # (a short row is not malformed: its missing cells are facts not known)
                cells[COLUMNS.index("rate")] = "120%"
            elif kind == 2:
                cells[COLUMNS.index("investment")] = "lots"
            elif kind == 3:
                cells[COLUMNS.index("established")] = "2021-02-30"
            else:
                cells[COLUMNS.index("tier")] = "county"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def _batch_loses_nothing(evaluator: PolicyEvaluator, tmp_path: Path, size: int) -> float:
    source = tmp_path / "big.csv"
    bad = _generated_batch(source, size)
    target = tmp_path / "out.csv"
    started = time.perf_counter()
    rows, errors = batch(evaluator, source, target)
    elapsed = time.perf_counter() - started
    assert (rows, errors) == (size, len(bad)) and len(bad) == size // 100
    seen = 0
    for seen, row in enumerate(output_rows(target), 1):
        assert int(row["row"]) == seen
        if seen in bad:
            assert row["error"] and row["grant.status"] == "", row
        else:
            assert row["error"] == "" and row["grant.status"] == rt.DETERMINED, row
    assert seen == size
    return elapsed


def test_a_batch_of_a_hundred_thousand_rows_with_one_percent_malformed_loses_nothing(
    evaluator: PolicyEvaluator, tmp_path: Path
) -> None:
    # about 25 s with the interpreter (docs/reliability.md); under the one-minute mark, so not `slow`
    elapsed = _batch_loses_nothing(evaluator, tmp_path, 100_000)
    print(f"100,000 rows in {elapsed:.1f} s")


def test_the_compiled_evaluator_loses_no_row_either(policy_file: Path, tmp_path: Path) -> None:
    compiled, sink = compile_policy(policy_file, compiled=True)
    assert compiled is not None and type(compiled) is not PolicyEvaluator, sink.diagnostics
    _batch_loses_nothing(compiled, tmp_path, 10_000)


# ------------------------------------------------------------------------------ interrupted batches


class _Interrupting:
    """An evaluator that is interrupted (Ctrl-C) after `after` rows."""

    def __init__(self, inner: PolicyEvaluator, after: int) -> None:
        self.inner = inner
        self.after = after
        self.calls = 0

    def evaluate(self, facts: dict[str, Any], date: datetime.date | None = None, **kw: Any) -> rt.Decision:
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.inner.evaluate(facts, date, **kw)


def test_an_interrupted_batch_leaves_no_output_file(evaluator: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    _generated_batch(source, 500)
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        run_batch(_Interrupting(evaluator, 250), evaluator.measures, source, target, DAY, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output, no temporary file


def test_an_interrupted_batch_keeps_the_previous_complete_output(
    evaluator: PolicyEvaluator, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    _generated_batch(source, 300)
    target = tmp_path / "out.csv"
    batch(evaluator, source, target)
    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        run_batch(_Interrupting(evaluator, 100), evaluator.measures, source, target, DAY, [])
    assert target.read_bytes() == before


def test_a_killed_batch_leaves_no_output_presented_as_complete(policy_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    _generated_batch(source, 20_000)
    target = tmp_path / "out.csv"
    command = [
        sys.executable,
        "-m",
        "policydsl.commands.cli",
        "eval",
        str(policy_file),
        "--batch",
        str(source),
    ]
    process = subprocess.Popen([*command, "-o", str(target), "--date", "2022-06-01"], cwd=tmp_path)
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and process.poll() is None:
        partial = [p for p in tmp_path.iterdir() if p.name.endswith(".partial") and p.stat().st_size > 10_000]
        if partial:
            break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail("the batch ended before it could be killed; make it longer")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not target.exists()
    # what was written so far stays in a hidden temporary file, never under the output's name
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("in.csv",)]
    assert leftovers and all(n.startswith(".out.csv.") and n.endswith(".partial") for n in leftovers), (
        leftovers
    )


def test_read_rows_numbers_every_record(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n\n3,4\n", encoding="utf-8")
    assert [number for number, _, _ in read_rows(source)] == [1, 2]
