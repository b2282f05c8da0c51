"""The eval and test commands as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from policydsl.commands.cli import main
from tests.conftest import DATA

SEMANTICS = str(DATA / "eval" / "semantics.policy")
EXAMPLES = str(DATA / "eval" / "examples.policy")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def facts(tmp_path: Path, **values: object) -> str:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_eval_explains_in_the_drafters_labels(tmp_path: Path) -> None:
    path = facts(tmp_path, applicant="enterprise", investment="150万", established="2019-01-01")
    code, out = invoke("eval", SEMANTICS, "--facts", path, "--date", "2021-06-01", "--partial", "--explain")
    assert code == 0
    assert "标杆示范项目（benchmark） [第八条(一)]: 最高 75万元" in out
    assert "尚需：" in out


def test_eval_json(tmp_path: Path) -> None:
    path = facts(tmp_path, applicant="platform", established="2019-01-01")
    code, out = invoke(
        "eval", SEMANTICS, "--facts", path, "--date", "2021-06-01", "--partial", "--format", "json"
    )
    decision = json.loads(out)
    assert code == 0
    assert decision["measures"][0] == {
        **decision["measures"][0],
        "measure": "benchmark",
        "status": "ineligible",
    }


def test_eval_reports_every_bad_fact_and_exits_1(tmp_path: Path) -> None:
    path = facts(tmp_path, applicant="robot", investment="-1")
    code, out = invoke("eval", SEMANTICS, "--facts", path, "--date", "2021-06-01")
    assert code == 1
    assert "`applicant`" in out and "`investment`" in out


def test_eval_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("eval", SEMANTICS)[0] == 2
    assert invoke("eval", SEMANTICS, "--facts", str(tmp_path / "nope.json"))[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[1]", encoding="utf-8")
    assert invoke("eval", SEMANTICS, "--facts", str(bad))[0] == 2
    assert invoke("eval", SEMANTICS, "--facts", str(bad), "--date", "2021-13-01")[0] == 2


def test_eval_batch(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,revenue,cluster,investment\n1,100,x,5\n2,-3,x,5\n", encoding="utf-8")
    code, out = invoke(
        "eval",
        str(DATA / "eval" / "quota.policy"),
        "--batch",
        str(source),
        "-o",
        str(tmp_path / "out.csv"),
        "--date",
        "2021-06-01",
    )
    assert code == 1  # some row has an error
    assert "2 rows evaluated" in out and "1 with errors" in out


def test_test_command_summary_and_failure_detail() -> None:
    code, out = invoke("test", EXAMPLES)
    assert code == 1
    assert out.strip().splitlines()[-1] == "2 passed, 1 failed"
    assert 'FAILED example "算错了"' in out
    assert "expected = 60万元, got 确定金额 50万元" in out


def test_test_command_filter_and_coverage() -> None:
    code, out = invoke("test", EXAMPLES, "-k", "门槛", "--coverage", "--min-coverage", "100")
    assert code == 0
    assert "coverage 100.0%" in out and out.strip().endswith("2 passed, 0 failed")
    code, out = invoke("test", EXAMPLES, "-k", "门槛上", "--coverage", "--min-coverage", "90")
    assert code == 1
    assert "never false" in out and "below --min-coverage" in out


def test_eval_warns_of_a_key_that_names_no_fact_and_strict_refuses_it(tmp_path: Path) -> None:
    """A misspelt fact is ignored, never silently: the warning names it and the closest fact."""
    path = facts(tmp_path, applicant="enterprise", investmnet="150万", established="2019-01-01", id="A1")
    args = ("eval", SEMANTICS, "--facts", path, "--date", "2021-06-01", "--partial")
    code, out = invoke(*args, "--format", "json")
    assert code == 0
    assert "warning: `investmnet`: no such fact (did you mean `investment`?); ignored" in out
    assert "`id`" not in out  # an id is never a fact, and not worth a warning
    decision = json.loads(out[out.index("{") :])
    assert decision["ignored_keys"] == ["investmnet"]
    code, out = invoke(*args, "--explain")
    assert code == 0 and "已忽略（不是本政策的事实）：investmnet" in out
    code, out = invoke(*args, "--strict-facts")
    assert code == 1
    assert (
        "the facts cannot be used" in out and "`investmnet`: no such fact (did you mean `investment`?)" in out
    )
    assert "warning" not in out


def test_eval_batch_warns_of_keys_that_name_no_fact_once_each(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [
        {"id": i, "revenue": "1", "cluster": "x", "investment": "5", "investmnet": "5", "编号": i}
        for i in range(3)
    ]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    args = ["eval", str(DATA / "eval" / "quota.policy"), "--batch", str(source), "--date", "2021-06-01"]
    code, out = invoke(*args, "-o", str(tmp_path / "out.jsonl"))
    assert code == 0, out
    assert out.count("warning:") == 1
    assert "`investmnet`: no such fact (did you mean `investment`?) in 3 rows; ignored" in out
    code, out = invoke(*args, "-o", str(tmp_path / "strict.jsonl"), "--strict-facts")
    assert code == 1 and "3 with errors" in out
    errors = [json.loads(line)["error"] for line in (tmp_path / "strict.jsonl").read_text().splitlines()]
    assert all("`investmnet`: no such fact" in e for e in errors)
