"""One meaning for a blank cell in every batch engine: a fact not known, the row decided as far as the
known facts go (as `eval --partial` decides one applicant); only input that is wrong is an error row."""

from __future__ import annotations

import csv
import datetime
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.api import compile_policy
from policydsl.checking.pipeline import check_file
from policydsl.codegen.evaluator import sql_query
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import decide_batch, read_rows
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan.lower import lower
from tests.conftest import POPULATION_DATES, ROOT

POLICIES = sorted((ROOT / "policies").glob("*.policy"))
SAMPLES = ROOT / "policies" / "samples"
SHANDONG = ROOT / "policies" / "shandong_platforms.policy"
SHANDONG_DAY = "2019-06-01"
DATES = POPULATION_DATES
HEADER = (
    "id,established_in_shandong,independent_liability,good_credit,capable,builder_and_owner,"
    "well_operated,recognized,key_platform,national_platform,national_program"
)
CAPABLE = "具有承担项目建设的相应能力"


def eval_batch(policy: Path, source: Path, target: Path, engine: str, *extra: str) -> list[dict[str, str]]:
    args = ["eval", str(policy), "--batch", str(source), "-o", str(target), "--engine", engine,
            "--date", DATES[policy.stem], "--no-progress", *extra]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    with target.open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def outcomes(rows: list[dict[str, str]], measures: list[str]) -> list[tuple[Any, ...]]:
    """Each output row's statuses and amounts (an error row, with no decision, is `invalid`)."""
    out: list[tuple[Any, ...]] = []
    for r in rows:
        if r["error"]:
            out.append((r["row"], r["id"], "invalid"))
            continue
        figures = [(r[f"{m}.status"], r[f"{m}.amount"] or None) for m in measures]
        out.append((r["row"], r["id"], r["total_status"], r["total_amount"] or None, *figures))
    return out


def measures_of(policy: Path) -> list[str]:
    evaluator, _ = compile_policy(policy)
    assert evaluator is not None
    return evaluator.measures


def sql_refuses(policy: Path) -> bool:
    sink = Sink()
    checked = check_file(policy, sink)
    assert checked.model is not None and checked.source is not None
    plan = lower(checked.model, checked.source.text)
    return sql_query(plan, checked.source, Sink()) is None


# ------------------------------------------------------------------------------- one blank cell


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_a_blank_needed_fact_is_undetermined_naming_it(tmp_path: Path, engine: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "\nP1,true,true,true,,true,true,true,true,false,false\n", encoding="utf-8")
    [row] = eval_batch(SHANDONG, source, tmp_path / "out.csv", engine)
    assert row["error"] == ""
    assert (row["platform_award.status"], row["platform_award.amount"]) == ("undetermined", "10000000.00")
    assert row["total_status"] == "undetermined"
    assert row["platform_award.reasons"].startswith("尚无法判断：" + CAPABLE)


def test_a_blank_fact_decides_as_eval_partial_on_both_engines(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "\nP1,true,true,true,,true,true,true,true,false,false\n", encoding="utf-8")
    python, duck = (eval_batch(SHANDONG, source, tmp_path / f"{e}.csv", e) for e in ("python", "duckdb"))
    measures = measures_of(SHANDONG)
    assert outcomes(python, measures) == outcomes(duck, measures)
    facts = tmp_path / "facts.json"
    given = dict(zip(HEADER.split(",")[1:], ["true"] * 8 + ["false"] * 2, strict=True))
    given["capable"] = ""
    facts.write_text(json.dumps(given), encoding="utf-8")
    args = [
        "eval",
        str(SHANDONG),
        "--facts",
        str(facts),
        "--partial",
        "--date",
        SHANDONG_DAY,
        "--format",
        "json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    [measure] = decision["measures"]
    assert (measure["status"], measure["amount"]) == (
        python[0]["platform_award.status"],
        python[0]["platform_award.amount"],
    )
    assert measure["reasons"] == python[0]["platform_award.reasons"].split("；")


@pytest.mark.parametrize(
    "line", ['{"id": "P1"}', '{"id": "P1", "capable": null}', '{"id": "P1", "capable": ""}']
)
def test_a_json_lines_key_absent_or_null_is_a_fact_not_known(tmp_path: Path, line: str) -> None:
    facts = json.loads(line)
    facts.update({k: True for k in HEADER.split(",")[1:] if k not in ("capable", *facts)})
    facts.update({"national_platform": False, "national_program": False})
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(facts) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--date", SHANDONG_DAY]
    )
    assert result.exit_code == 0, result.output
    [row] = [json.loads(t) for t in target.read_text(encoding="utf-8").splitlines()]
    assert row["error"] is None
    assert row["platform_award.status"] == "undetermined"
    assert CAPABLE in row["platform_award.reasons"]


# ------------------------------------------------------------------------------- input that is wrong


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        # a cell that is not a value of its fact
        ("P1,perhaps,true,true,,true,true,true,true,false,false", "在山东省依法设立"),
        # a contradiction of the policy's assumption (key_platform implies recognized), a blank beside it
        (
            "P1,true,true,true,,true,true,false,true,false,false",
            "省级重点支持的平台都是经评审认定的培育工程项目",
        ),
    ],
)
def test_input_that_is_wrong_is_still_an_error_row(tmp_path: Path, cells: str, words: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "\n" + cells + "\n", encoding="utf-8")
    [row] = eval_batch(SHANDONG, source, tmp_path / "out.csv", "python")
    assert words in row["error"] and row["total_status"] == ""


def test_strict_facts_keeps_its_meaning_beside_a_blank(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": "P1", "capabel": True}) + "\n" + json.dumps({"id": "P2"}) + "\n", encoding="utf-8"
    )
    target = tmp_path / "out.jsonl"
    args = ["eval", str(SHANDONG), "--batch", str(source), "-o", str(target), "--date", SHANDONG_DAY]
    result = CliRunner().invoke(main, [*args, "--strict-facts"])
    assert result.exit_code == 1, result.output
    first, second = (json.loads(t) for t in target.read_text(encoding="utf-8").splitlines())
    assert "capabel" in first["error"]  # a key naming no fact: refused
    assert second["error"] is None and second["total_status"] == "undetermined"  # nothing known: undecided


# ------------------------------------------------------------------------------- --partial with --batch


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_partial_with_batch_is_accepted_and_changes_nothing(tmp_path: Path, engine: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        HEADER
        + "\nP1,true,true,true,,true,true,true,true,false,false\nP2,true,,true,true,true,true,true,false,,\n",
        encoding="utf-8",
    )
    plain = eval_batch(SHANDONG, source, tmp_path / "plain.csv", engine)
    partial = eval_batch(SHANDONG, source, tmp_path / "partial.csv", engine, "--partial")
    assert plain == partial
    assert [r["error"] for r in plain] == ["", ""]


# ------------------------------------------------------------------------------- populations with blanks


def blanked(source: Path, target: Path, blanks: list[tuple[int, int]]) -> Path:
    """`source` (a CSV population) with the cells at (row, column) blanked, the id column kept."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    for r, c in blanks:
        row = rows[1 + r % (len(rows) - 1)]
        row[1 + c % (len(row) - 1)] = ""
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return target


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 299), st.integers(0, 9)), min_size=1, max_size=120))
def test_shandong_population_with_random_blanks_is_decided_alike_by_python_and_duckdb(
    blanks: list[tuple[int, int]],
) -> None:
    measures = measures_of(SHANDONG)
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        source = blanked(SAMPLES / "shandong_platforms_population.csv", here / "people.csv", blanks)
        python, duck = (eval_batch(SHANDONG, source, here / f"{e}.csv", e) for e in ("python", "duckdb"))
    assert outcomes(python, measures) == outcomes(duck, measures)
    assert [r["platform_award.reasons"] for r in python if r["platform_award.status"] == "undetermined"]


def _reference(policy: Path, source: Path, day: datetime.date) -> list[tuple[int, Any]]:
    """Each row as the reference interpreter decides it alone with `eval --partial` (statuses and amounts
    of the measures no limit across applicants touches), or `invalid`."""
    evaluator, _ = compile_policy(policy, compiled=False)
    assert evaluator is not None
    limited = {getattr(c, "measure", None) for c in evaluator.constraints()}
    limited |= {m for c in evaluator.constraints() for m in getattr(c, "measures", ())}
    interpreter = Interpreter(evaluator.plan)
    out: list[tuple[int, Any]] = []
    for number, facts, error in read_rows(source, None, interpreter.specs):
        assert facts is not None and error is None
        try:
            decision = interpreter.evaluate(facts, day, partial=True, explain=False)
        except rt.InputError:
            out.append((number, "invalid"))
            continue
        out.append(
            (number, {n: (m.status, m.amount) for n, m in decision.measures.items() if n not in limited})
        )
    return out


@pytest.mark.parametrize("policy", POLICIES, ids=[p.stem for p in POLICIES])
def test_every_engine_decides_a_blanked_population_as_eval_partial(policy: Path, tmp_path: Path) -> None:
    # the class: a batch engine whose reading of a blank cell is not `eval --partial`'s; every bundled
    # policy's population with a fifth of its cells blanked, on the Python batch (compiled and
    # interpreted) and on DuckDB wherever the SQL back end translates the policy
    chance = random.Random(policy.stem)
    population = SAMPLES / f"{policy.stem}_population.csv"
    with population.open(encoding="utf-8-sig", newline="") as handle:
        header, *rest = list(csv.reader(handle))
    rows, columns = len(rest), len(header)
    blanks = [(r, c) for r in range(rows) for c in range(columns - 1) if chance.random() < 0.2]
    source = blanked(population, tmp_path / "people.csv", blanks)
    day = datetime.date.fromisoformat(DATES[policy.stem])
    reference = _reference(policy, source, day)
    for interpret in (False, True):
        evaluator, _ = compile_policy(policy, compiled=not interpret)
        assert evaluator is not None
        decided = []
        for d in decide_batch(evaluator, source, day, evaluator.constraints()):
            if d.decision is None:
                assert d.error is not None and "missing fact" not in d.error
                decided.append((d.number, "invalid"))
                continue
            kept = {n: (m.status, m.amount) for n, m in d.decision.measures.items()}
            for m in d.decision.measures.values():  # every fact still needed is named in the reasons
                told = "；".join(m.reasons)
                assert all(f.rsplit("（", 1)[0] in told for f in m.needed), (d.number, m.needed, told)
            decided.append((d.number, kept))
        assert len(decided) == len(reference)
        for (number, got), (_, expected) in zip(decided, reference, strict=True):
            if expected == "invalid" or got == "invalid":
                assert got == expected, number
            else:
                assert {n: got[n] for n in expected} == expected, number
    assert any(e != "invalid" for _, e in reference)
    if sql_refuses(policy):
        return
    measures = measures_of(policy)
    python, duck = (eval_batch(policy, source, tmp_path / f"{e}.csv", e) for e in ("python", "duckdb"))
    assert outcomes(python, measures) == outcomes(duck, measures)
