"""Quotas whose selection the applicants' facts record (`quota N selected_by FACT`): in a batch, at
most N rows marked selected are paid as evaluated; more are inconsistent input, each an error row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.commands.cli import main
from policydsl.evaluation.batch import Inconsistent, run_batch
from policydsl.messages import Lang
from tests.conftest import DATA, ROOT

POLICY = DATA / "eval" / "selected_quota.policy"
BAOAN = ROOT / "policies" / "baoan_industrial_internet.policy"


@pytest.fixture(scope="module", params=["interpreter", "compiled"])
def policy(request: pytest.FixtureRequest) -> PolicyEvaluator:
    evaluator, sink = compile_policy(POLICY, compiled=request.param == "compiled")
    assert evaluator is not None, sink.diagnostics
    return evaluator


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(
    policy: PolicyEvaluator, rows: list[dict[str, str]], tmp_path: Path, lang: Lang = "zh"
) -> tuple[list[dict[str, str]], list[Inconsistent], int]:
    source, target = write_csv(tmp_path / "in.csv", rows), tmp_path / "out.csv"
    found: list[Inconsistent] = []
    _, errors = run_batch(
        policy, policy.measures, source, target, None, policy.constraints(), lang=lang, inconsistent=found
    )
    with target.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle)), found, errors


def rows_marked(selected: int, others: int = 1) -> list[dict[str, str]]:
    rows = [
        {"id": f"s{i}", "recognized": "是", "revenue": "100万", "cluster": f"c{i}"} for i in range(selected)
    ]
    rows += [{"id": f"n{i}", "recognized": "否", "revenue": "100万", "cluster": "x"} for i in range(others)]
    return rows


def test_at_the_quota_the_rows_marked_selected_are_paid_as_evaluated(
    policy: PolicyEvaluator, tmp_path: Path
) -> None:
    out, found, errors = run(policy, rows_marked(2), tmp_path)
    assert found == [] and errors == 0
    assert [r["training.status"] for r in out] == ["ceiling", "ceiling", "ineligible"]
    assert [r["training.amount"] for r in out] == ["500000.00", "500000.00", ""]
    assert all("名额" not in r["training.reasons"] for r in out)  # no word of the quota: it holds


def test_one_row_over_the_quota_makes_every_row_marked_selected_inconsistent(
    policy: PolicyEvaluator, tmp_path: Path
) -> None:
    out, found, errors = run(policy, rows_marked(3), tmp_path)
    assert errors == 3
    assert found == [Inconsistent("training", "实训基地资助", 2, "认定为实训基地", (1, 2, 3))]
    reason = "输入不一致：“实训基地资助”名额2个，本批次有3个申请人标记为“认定为实训基地”"
    assert [r["error"] for r in out] == [reason, reason, reason, ""]
    # never a chosen subset, never undetermined: no figure on the rows marked selected
    assert [r["training.status"] for r in out] == ["", "", "", "ineligible"]
    assert [r["total_amount"] for r in out[:3]] == ["", "", ""]
    # the row not marked selected is decided as before
    assert out[3]["pool.status"] == "determined" and out[3]["pool.amount"] == "200000.00"


def test_the_reason_and_summary_in_english(policy: PolicyEvaluator, tmp_path: Path) -> None:
    out, found, _ = run(policy, rows_marked(3), tmp_path, lang="en")
    assert out[0]["error"] == (
        "inconsistent input: “实训基地资助” has a quota of 2, "
        "and 3 applicants of this batch are marked “认定为实训基地”"
    )
    assert found[0].summary().render("zh") == (
        "输入不一致：“实训基地资助”名额2个，本批次有3行标记为“认定为实训基地”（第 1, 2, 3 行），"
        "均作为错误行输出"
    )


def test_rows_inconsistent_under_a_quota_take_no_part_in_a_group_cap(
    policy: PolicyEvaluator, tmp_path: Path
) -> None:
    # s0 and n share cluster c0: 20万 each against a group cap of 30万 would cut n to 15万; s0, marked
    # selected with two others for a quota of 2, is an error row, so n alone is in the group
    rows = [*rows_marked(3, 0), {"id": "n", "recognized": "否", "revenue": "100万", "cluster": "c0"}]
    out, _, _ = run(policy, rows, tmp_path)
    assert out[3]["pool.amount"] == "200000.00" and out[3]["pool.reasons"] == ""


def test_rows_not_marked_are_not_counted(policy: PolicyEvaluator, tmp_path: Path) -> None:
    rows = rows_marked(2, 5)
    out, found, errors = run(policy, rows, tmp_path)
    assert found == [] and errors == 0
    assert [r["training.status"] for r in out].count("ceiling") == 2


def test_the_interpreter_and_the_generated_module_agree_at_and_over_the_quota(tmp_path: Path) -> None:
    outputs = []
    for compiled in (False, True):
        evaluator, _ = compile_policy(POLICY, compiled=compiled)
        assert evaluator is not None
        for selected in (2, 3):
            outputs.append((selected, run(evaluator, rows_marked(selected), tmp_path)))
    assert outputs[:2] == outputs[2:]


def test_the_cli_prints_the_inconsistency_and_exits_1(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", rows_marked(3))
    for extra in ([], ["--interpret"]):
        result = CliRunner().invoke(
            main,
            [
                "eval",
                str(POLICY),
                "--batch",
                str(source),
                "-o",
                str(tmp_path / "o.csv"),
                "--lang",
                "zh",
                *extra,
            ],
        )
        assert result.exit_code == 1, result.output
        assert "4 rows evaluated" in result.output and "1 decided, 3 with errors" in result.output
        assert (
            "输入不一致：“实训基地资助”名额2个，本批次有3行标记为“认定为实训基地”（第 1, 2, 3 行）"
            in result.output
        )


# ---------------------------------------------------------------- Bao'an 三(二)6 "每年认定不超过2个实训基地"
_TRAINING_ORG = {
    "center_level": "none",
    "node_operator": "false",
    "node_builder": "false",
    "promo_production_line": "false",
    "applicant": "training_org",
    "intl_standards": "0项",
    "national_standards": "0项",
    "industry_standards": "0项",
}


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreter", "compiled"])
@pytest.mark.parametrize("recognized", [2, 3])
def test_baoan_training_bases_at_and_over_the_quota_of_two(
    compiled: bool, recognized: int, tmp_path: Path
) -> None:
    evaluator, sink = compile_policy(BAOAN, compiled=compiled)
    assert evaluator is not None, sink.diagnostics
    rows = [{"id": f"t{i}", **_TRAINING_ORG, "training_base": "true"} for i in range(recognized)]
    rows.append({"id": "other", **_TRAINING_ORG, "training_base": "false"})
    out, found, errors = run(evaluator, rows, tmp_path)
    statuses = [r["training_base_grant.status"] for r in out]
    if recognized == 2:
        assert (found, errors) == ([], 0)
        assert statuses == ["ceiling", "ceiling", "ineligible"]
        assert [r["training_base_grant.amount"] for r in out[:2]] == ["500000.00", "500000.00"]
    else:
        assert errors == 3 and [f.measure for f in found] == ["training_base_grant"]
        assert all(
            r["error"].startswith("输入不一致：“工业互联网实训基地资助”名额2个，本批次有3个") for r in out[:3]
        )
        assert statuses == ["", "", "", "ineligible"]
