"""Batch evaluation: every row comes out, with its result or its own error; limits across applicants."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.evaluation.batch import run_batch
from tests.conftest import DATA


@pytest.fixture(scope="module")
def policy() -> PolicyEvaluator:
    evaluator, sink = compile_policy(DATA / "eval" / "quota.policy")
    assert evaluator is not None, sink.diagnostics
    return evaluator


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "revenue", "cluster", "investment"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run(policy: PolicyEvaluator, source: Path, target: Path) -> list[dict[str, str]]:
    run_batch(policy, policy.measures, source, target, None, policy.constraints())
    return (
        read_csv(target)
        if target.suffix == ".csv"
        else [json.loads(x) for x in target.read_text().splitlines()]
    )


def test_quota_with_ranking_selects_the_highest(policy: PolicyEvaluator, tmp_path: Path) -> None:
    rows = [
        {"id": "a", "revenue": "100", "cluster": "x", "investment": "0"},
        {"id": "b", "revenue": "300", "cluster": "y", "investment": "0"},
        {"id": "c", "revenue": "200", "cluster": "z", "investment": "0"},
    ]
    out = run(policy, write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv")
    status = {r["id"]: r["pool.status"] for r in out}
    assert status == {"a": "ineligible", "b": "determined", "c": "determined"}
    assert "排名第 3" in out[0]["pool.reasons"]


def test_quota_without_ranking_is_undetermined_beyond_the_quota(
    policy: PolicyEvaluator, tmp_path: Path
) -> None:
    rows = [{"id": str(i), "revenue": "2亿", "cluster": str(i), "investment": "0"} for i in range(2)]
    out = run(policy, write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv")
    assert [r["unranked.status"] for r in out] == ["undetermined", "undetermined"]
    # the total follows: it can no longer be a determined figure
    assert [r["total_status"] for r in out] == ["undetermined", "undetermined"]
    assert "未规定遴选排序" in out[0]["unranked.reasons"]


def test_group_cap_without_allocation_turns_awards_into_ceilings(
    policy: PolicyEvaluator, tmp_path: Path
) -> None:
    # three members at 50万 each: 150万 > 100万 per cluster, the text gives no way to cut
    rows = [{"id": str(i), "revenue": "0", "cluster": "江门A", "investment": "100万"} for i in range(3)]
    rows.append({"id": "solo", "revenue": "0", "cluster": "江门B", "investment": "100万"})
    out = run(policy, write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv")
    assert [r["cluster_pilot.status"] for r in out] == ["ceiling"] * 4  # a ceiling in any case (不超过)
    assert "原文未规定分配办法" in out[0]["cluster_pilot.reasons"]
    assert out[3]["cluster_pilot.reasons"] == ""


def test_group_cap_proportional_allocation(policy: PolicyEvaluator, tmp_path: Path) -> None:
    # two members at 60万: 120万 > 100万 → 50万 each
    rows = [{"id": str(i), "revenue": "0", "cluster": "A", "investment": "1"} for i in range(2)]
    out = run(policy, write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv")
    assert [Decimal(r["shared.amount"]) for r in out] == [Decimal("500000.00")] * 2
    # cluster_pilot: 80% × 1元 = 0.80元 (a ceiling), plus the allocated 50万
    assert [(r["total_status"], r["total_amount"]) for r in out] == [("ceiling", "500000.80")] * 2


def test_no_row_is_lost(policy: PolicyEvaluator, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "ok", "revenue": "100", "cluster": "x", "investment": "5"}),
        "{not json",
        json.dumps({"id": "bad", "revenue": "-1", "cluster": "x", "investment": "abc"}),
        json.dumps([1, 2]),
        json.dumps({"id": "missing"}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = run(policy, source, tmp_path / "out.jsonl")
    assert len(out) == 5
    assert out[0]["error"] is None and out[0]["total_status"] in ("determined", "ceiling")
    assert "not JSON" in out[1]["error"]
    assert "revenue" in out[2]["error"] and "investment" in out[2]["error"]
    assert "JSON object" in out[3]["error"]
    # no fact given: not an error but an applicant about whom nothing is known yet (as `eval --partial`)
    assert out[4]["error"] is None and out[4]["total_status"] == "undetermined"


def test_interrupted_run_leaves_no_output(policy: PolicyEvaluator, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [{"id": "1", "revenue": "1", "cluster": "x", "investment": "1"}])

    class Boom:
        measures = policy.measures

        def evaluate(self, *args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(Boom(), policy.measures, source, tmp_path / "out.csv", None, [])  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == [source]


def test_amounts_are_written_as_plain_digits_never_with_an_exponent() -> None:
    # a pot of 100万 is held as Decimal('1.00E+6'): a blank claim on it left the batch writing the
    # ceiling as 1.00E+6 where DuckDB writes 1000000.00
    from policydsl.evaluation.batch import figure_text

    assert figure_text(Decimal("1.00E+6")) == "1000000"
    assert figure_text(Decimal("1E+6") + Decimal("0.00")) == "1000000.00"
    assert figure_text(Decimal("-5E+2")) == "-500"
    assert figure_text(None) is None
