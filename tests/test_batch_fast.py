"""The fast Python batch: columns converted once, text rows on the fast path (and the rows that are not,
counted with why), `--columns`, and progress on standard error."""

from __future__ import annotations

import csv
import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.commands.cli import main
from policydsl.evaluation import progress as progress_module
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import COLUMN_CHOICES, decide_batch, output_columns, read_rows
from policydsl.evaluation.cells import Cells
from policydsl.evaluation.interpreter import Interpreter
from tests.conftest import ROOT

POLICIES = sorted((ROOT / "policies").glob("*.policy"))
SAMPLES = ROOT / "policies" / "samples"
SHANDONG = ROOT / "policies" / "shandong_platforms.policy"
DAY = datetime.date(2020, 6, 1)


def compiled(policy: Path) -> PolicyEvaluator:
    evaluator, sink = compile_policy(policy, compiled=True)
    assert evaluator is not None, sink.diagnostics
    return evaluator


def as_read(evaluator: PolicyEvaluator, source: Path) -> list[tuple[int, Any, Any]]:
    """Each row as the reference interpreter decides its text facts one by one (as `eval --partial`:
    a blank cell is a fact not known), limits aside:
    (row, error or None, decision as a dict or None)."""
    reference = Interpreter(evaluator.plan)
    out: list[tuple[int, Any, Any]] = []
    for number, facts, error in read_rows(source, None, evaluator.interpreter.specs):
        decided = None
        if facts is not None and error is None:
            try:
                decided = reference.evaluate(dict(facts), DAY, partial=True, explain=False).to_dict()
            except rt.InputError as exc:
                error = "; ".join(exc.problems)
        out.append((number, error, decided))
    return out


def as_batch(evaluator: PolicyEvaluator, source: Path, slow: dict[str, int] | None = None) -> list[Any]:
    """Each row as the batch decides it, without the reason naming the facts a measure still needs
    (`still needed: …`, which the batch adds: tests/test_batch_partial.py checks it)."""
    out: list[Any] = []
    for d in decide_batch(evaluator, source, DAY, [], slow=slow):
        decided = None if d.decision is None else d.decision.to_dict()
        for m in (decided or {}).get("measures", []):
            m["reasons"] = [r for r in m["reasons"] if not r.startswith("still needed: ")]
        out.append((d.number, d.error, decided))
    return out


def test_text_rows_take_the_fast_path() -> None:
    # every fact of the seed-like policy is given in each row of its population, as text
    evaluator = compiled(SHANDONG)
    slow: dict[str, int] = {}
    paths = [
        d.decision.path
        for d in decide_batch(evaluator, SAMPLES / "shandong_platforms_population.csv", DAY, [], slow=slow)
        if d.decision is not None
    ]
    assert len(paths) == 300
    assert set(paths) == {"fast"}
    assert slow == {}


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_the_batch_decides_every_bundled_population_as_its_text_rows_one_by_one(policy: Path) -> None:
    evaluator = compiled(policy)
    source = SAMPLES / f"{policy.stem}_population.csv"
    assert as_batch(evaluator, source) == as_read(evaluator, source)


def test_rows_off_the_fast_path_are_counted_with_why() -> None:
    source = SAMPLES / "baoan_industrial_internet_population.csv"  # irrelevant facts left blank
    slow: dict[str, int] = {}
    as_batch(compiled(ROOT / "policies" / "baoan_industrial_internet.policy"), source, slow)
    assert slow == {"blank": 300}
    interpreted, _ = compile_policy(ROOT / "policies" / "baoan_industrial_internet.policy")
    assert interpreted is not None
    slow = {}
    as_batch(interpreted, source, slow)
    assert slow == {"interpreted": 300}


def test_the_summary_names_why_rows_left_the_fast_path(tmp_path: Path) -> None:
    policy = ROOT / "policies" / "baoan_industrial_internet.policy"
    source = SAMPLES / "baoan_industrial_internet_population.csv"
    out = str(tmp_path / "out.csv")
    expected = {"en": "300 of 300 rows decided on the full path", "zh": "300 行中有 300 行走完整路径"}
    for lang, words in expected.items():
        args = [
            "eval",
            str(policy),
            "--batch",
            str(source),
            "-o",
            out,
            "--date",
            "2020-06-01",
            "--lang",
            lang,
            "--engine",
            "python",
        ]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert words in result.output
    population = str(SAMPLES / "shandong_platforms_population.csv")
    args = ["eval", str(SHANDONG), "--batch", population, "-o", out, "--date", "2020-06-01", "--lang", "en"]
    shandong = CliRunner().invoke(main, [*args, "--engine", "python"])
    assert shandong.exit_code == 0 and "rows evaluated" in shandong.output, shandong.output
    assert "full path" not in shandong.output  # every row on the fast path: nothing to say


# Cells of the seed-like policy's yes/no facts: values in several spellings, blanks, and mistakes
CELLS = st.sampled_from(["true", "false", "是", "否", " true ", "", "  ", "maybe", "1", "0", "TRUE", "yes!"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELLS, min_size=10, max_size=10), min_size=1, max_size=12))
def test_converting_each_column_once_changes_no_value_and_no_error_row(
    tmp_path: Path, rows: list[list[str]]
) -> None:
    evaluator = compiled(SHANDONG)
    header = list(evaluator.plan.facts)
    source = tmp_path / "rows.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *header])
        writer.writerows([[f"A{i}", *cells] for i, cells in enumerate(rows)])
    assert as_batch(evaluator, source) == as_read(evaluator, source)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("choice", COLUMN_CHOICES)
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_columns_choose_the_python_engines_output(tmp_path: Path, choice: str, suffix: str) -> None:
    target = tmp_path / f"out{suffix}"
    source = SAMPLES / "shandong_platforms_population.csv"
    result = run(
        "eval",
        str(SHANDONG),
        "--batch",
        str(source),
        "-o",
        str(target),
        "--date",
        "2020-06-01",
        "--columns",
        choice,
        "--engine",
        "python",
    )
    assert result.exit_code == 0, result.output
    base = ["row", "id", "error", "total_status", "total_amount"]
    measure = ["platform_award.status", "platform_award.amount"]
    expected = {
        "amounts": [*base, *measure],
        "reasons": [*base, "total_reasons", *measure, "platform_award.reasons"],
        "all": [
            *base,
            "total_reasons",
            "payment_forms_note",
            *measure,
            "platform_award.form",
            "platform_award.reasons",
        ],
    }[choice]
    assert output_columns(["platform_award"], choice) == expected
    if suffix == ".csv":
        with target.open(encoding="utf-8-sig", newline="") as handle:
            table = list(csv.reader(handle))
        assert table[0] == expected
        assert {len(r) for r in table} == {len(expected)}
        body = [dict(zip(expected, r, strict=True)) for r in table[1:]]
    else:
        body = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
        assert [k for k in body[0] if k in expected] == list(body[0])
    # the amounts are the same whatever columns are chosen
    full = compiled(SHANDONG)
    for row, decided in zip(body, decide_batch(full, source, DAY, []), strict=True):
        assert decided.decision is not None
        assert row["total_status"] == decided.decision.total.status
        assert (row["platform_award.amount"] or None) == (
            None if (a := decided.decision.measures["platform_award"].amount) is None else str(a)
        )


def test_columns_amounts_keeps_error_rows_whole(tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("id,good_credit\nA,maybe\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    result = run("eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--columns", "amounts")
    assert result.exit_code == 1
    with target.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert len(table[1]) == len(table[0]) and "good_credit" in table[1][2]


def test_progress_lines_when_standard_error_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_module, "EVERY_SECONDS", 0.0)  # a line at every row
    source = SAMPLES / "shandong_platforms_population.csv"
    args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(tmp_path / "o.csv"), "--lang", "en",
            "--engine", "python"]  # fmt: skip
    shown = CliRunner().invoke(main, [*args, "--progress"])
    assert shown.exit_code == 0
    lines = [line for line in shown.stderr.splitlines() if "rows" in line]
    assert "1/300 rows (0%)" in lines[0] and "left" in lines[0]
    assert lines[-1].startswith("300 rows done in")
    assert "\r" not in shown.stderr  # plain lines for a log, no bar
    hidden = CliRunner().invoke(main, [*args, "--no-progress"])
    assert hidden.exit_code == 0 and hidden.stderr == ""


def test_no_progress_by_default_in_a_short_batch_off_a_terminal(tmp_path: Path) -> None:
    source = SAMPLES / "shandong_platforms_population.csv"
    result = CliRunner().invoke(
        main, ["eval", str(SHANDONG), "--batch", str(source), "-o", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0 and result.stderr == ""


def test_a_terminal_gets_a_bar_with_the_total() -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    shown = progress_module.Progress(200, stream, lang="en")
    shown.advance(100)
    shown.close()
    assert "100/200" in stream.getvalue() and "\r" in stream.getvalue()


@pytest.mark.parametrize("choice", COLUMN_CHOICES)
def test_columns_choose_the_duckdb_engines_output(tmp_path: Path, choice: str) -> None:
    target = tmp_path / "out.csv"
    source = SAMPLES / "shandong_platforms_population.csv"
    result = run("eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--date", "2020-06-01",
                 "--columns", choice, "--engine", "duckdb")  # fmt: skip
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == output_columns(["platform_award"], choice)  # the same columns as the Python engine
    assert len(table) == 301


def test_duckdb_progress_lines_when_standard_error_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_module, "EVERY_SECONDS", 0.0)
    source = SAMPLES / "shandong_platforms_population.csv"
    target = str(tmp_path / "o.csv")
    args = ["eval", str(SHANDONG), "--batch", str(source), "-o", target, "--engine", "duckdb", "--lang", "en"]
    shown = CliRunner().invoke(main, [*args, "--progress"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stderr.splitlines()
    assert any(line.startswith("300/300 rows (100%)") for line in lines), lines
    assert lines[-1].startswith("300 rows done in")
    hidden = CliRunner().invoke(main, [*args, "--no-progress"])
    assert hidden.exit_code == 0 and hidden.stderr == ""


# Replacements for a cell of any kind: other spellings of values, blanks, and texts that are no value
ODD_CELLS = st.sampled_from(
    [
        *("", " ", "abc", "150万", "１５０万", "1,000", "1,00", "-5", "0.5", "60%", "2020-01-31"),
        *("2020-13-01", "true", "否", "national", "国家级", "none", "1e3", "NaN", "9" * 80),
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_converting_cells_of_every_kind_once_changes_no_value_and_no_error_row(
    tmp_path: Path, data: st.DataObject
) -> None:
    # Bao'an's facts are of every kind a cell holds: yes/no, enums, money, counts, with bounds
    policy = ROOT / "policies" / "baoan_industrial_internet.policy"
    with (SAMPLES / "baoan_industrial_internet_population.csv").open(encoding="utf-8", newline="") as handle:
        header, *population = list(csv.reader(handle))
    rows = []
    for _ in range(data.draw(st.integers(1, 6))):
        row = list(data.draw(st.sampled_from(population)))
        for _ in range(data.draw(st.integers(0, 4))):
            row[data.draw(st.integers(1, len(row) - 1))] = data.draw(ODD_CELLS)
        rows.append(row)
    rows += rows[:2]  # texts met again: read from what was converted
    source = tmp_path / "rows.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    evaluator = compiled(policy)
    assert as_batch(evaluator, source) == as_read(evaluator, source)


# Figure cells as a spreadsheet writes them (plain digits, with a point) and the forms around them
FIGURE_TEXTS = st.one_of(
    st.from_regex(r"[0-9]{1,32}(\.[0-9]{0,32})?", fullmatch=True),
    st.sampled_from(["0", "00", "0.0", "007", "1.", ".5", "1e3", "-1", "+1", " 1", "１", "1万", "1,000"]),
)
FIGURE_SPECS = st.builds(
    rt.FactSpec,
    name=st.just("x"),
    label=st.just("某数"),
    kind=st.sampled_from(["money", "number", "count", "percent"]),
    unit=st.sampled_from([None, "人", "平方米"]),
    bounds=st.lists(
        st.tuples(
            st.sampled_from([">=", ">", "<=", "<", "==", "!="]),
            st.sampled_from([Decimal(0), Decimal(1), Decimal("0.5"), Decimal(100), Decimal(-3)]),
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(FIGURE_SPECS, FIGURE_TEXTS)
def test_a_figure_cell_converts_to_what_parse_fact_reads_from_its_text(spec: rt.FactSpec, text: str) -> None:
    # the batch converts a plain figure from its Decimal, past the checks only a text needs: the value
    # (its digits and places too) or the refusal must be parse_fact's on the text
    cells = Cells({"x": spec})
    converted = cells.typed({"x": text})
    try:
        expected = rt.parse_fact(spec, text)
    except ValueError:
        assert converted is None
        return
    assert converted is not None
    assert str(converted["x"]) == str(expected) and converted["x"] == expected


def test_a_percentage_above_100_written_with_its_sign_is_read_by_every_engine(tmp_path: Path) -> None:
    """`102%` is a growth of 102%: the Python batch converted it to 1.02 and handed that to the
    evaluator, which refused it as a bare figure above 1 (the row an error row), where DuckDB and
    `eval --facts` read it.  A bare `1.02` stays refused on both engines."""
    policy = tmp_path / "growth.policy"
    policy.write_text(
        'policy "增速" { issued 2020-01-01 }\nfact growth "增速": percent\n'
        'measure m "奖励" { award 1万 if growth >= 10% }\n',
        encoding="utf-8",
    )
    source = tmp_path / "rows.csv"
    source.write_text("id,growth\nA,102%\nB,1.02\nC,-150%\nD,0.5\n", encoding="utf-8")
    statuses = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"{engine}.csv"
        args = ["eval", str(policy), "--batch", str(source), "-o", str(out), "--date", "2021-01-01"]
        CliRunner().invoke(main, [*args, "--engine", engine])
        with out.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        statuses[engine] = [(r["id"], r["m.status"], bool(r["error"])) for r in rows]
    expected = [
        ("A", "determined", False),
        ("B", "", True),
        ("C", "ineligible", False),
        ("D", "determined", False),
    ]
    assert statuses["python"] == expected
    assert statuses["duckdb"] == expected
