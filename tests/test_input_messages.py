"""Problems with an applicant's facts in the reader's language: every problem the runtime reports has
a catalogue id and arguments next to the English text a standalone evaluator keeps; the interpreter,
the compiled evaluator and the standalone module report the same problems; `eval` and batch output
show them in the policy's keyword language (`--lang` overrides)."""

from __future__ import annotations

import csv
import datetime
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.checking.pipeline import check_file
from policydsl.codegen.python import generate
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.messages import catalog, choose, problem_message

POLICY = """政策 "输入测试" { 印发 2021-01-01 有效期 自 印发 为期 5年 }
主体类型 enterprise "企业"
主体类型 institute "科研院所"
互斥主体类型 { enterprise, institute }
枚举 level "级别" { national "国家级", provincial "省级" }
事实 investment "项目投资": 金额 >= 0
事实 own "自筹资金": 金额 >= 0
事实 rate "完成率": 比例 >= 0% <= 100%
事实 score "评分": 数值 <= 100
事实 staff "职工人数": 数量 人 >= 0人
事实 area "面积": 数量 平方米 >= 0平方米
事实 certified "通过认定": 布尔
事实 established "成立日期": 日期
事实 region "所在区域": 文本
事实 tier "认定级别": level
假设 own <= investment "自筹资金不超过项目投资"
措施 grant "项目资助" {
  适用主体 enterprise
  要求 certified "通过认定"
  要求 since(established) 届满 1年 "成立满1年"
  给予 30% * investment 封顶 500万 如 rate 达到 60% 且 staff 达到 10人 且 tier == national
  追加 5万 如 score > 90 且 area > 0平方米
}
"""
GOOD: dict[str, Any] = {
    "applicant": "enterprise",
    "investment": "1000万",
    "own": "100万",
    "rate": "80%",
    "score": 95,
    "staff": "20人",
    "area": 100,
    "certified": "是",
    "established": "2020-01-01",
    "region": "江门",
    "tier": "national",
}
DAY = datetime.date(2022, 6, 1)

# One applicant per problem the runtime can report about facts: (changes to GOOD, the problem's id).
CASES: list[tuple[dict[str, Any], str]] = [
    ({"investment": True}, "input.number_not_bool"),
    ({"investment": 1.5}, "input.binary_float"),
    ({"investment": "1\u200b000"}, "input.invisible_character"),
    ({"investment": "১০০"}, "input.foreign_digit"),
    ({"investment": "1,00"}, "input.comma_groups"),
    ({"investment": "abc"}, "input.not_a_number"),
    ({"investment": [1]}, "input.number_not_type"),
    ({"investment": "NaN"}, "input.not_finite"),
    ({"investment": "1e40"}, "input.too_large"),
    ({"investment": "1e-60"}, "input.too_precise"),
    ({"investment": "-5"}, "input.negative_money"),
    ({"rate": 60}, "input.percent_bare"),
    ({"staff": "2.5"}, "input.count_whole"),
    ({"area": "-1"}, "input.count_negative"),
    ({"certified": "maybe"}, "input.not_bool"),
    ({"established": "2021-13-01"}, "input.not_a_date"),
    ({"tier": "county"}, "input.not_a_member"),
    ({"region": ["江门"]}, "input.text_not_type"),
    ({"score": 101}, "input.out_of_bounds"),
    ({"applicant": 3}, "input.roles_not_type"),
    ({"applicant": ["enterprise", "企业"]}, "input.role_twice"),
    ({"applicant": []}, "input.no_role"),
    ({"applicant": ["enterprise", "institute"]}, "input.roles_exclusive"),
    ({"colour": "blue"}, "input.no_such_fact"),
    ({"investmnt": "1"}, "input.no_such_fact_close"),
    ({"申报主体": "企业"}, "input.given_twice"),
    ({"investment": None}, "input.missing_fact"),
    ({"own": "2000万"}, "input.contradiction"),
]
# Ids that are not problems with a fact's value, and `cannot_be_given`, which no checked policy
# reaches (every fact type it accepts can be given)
NOT_PROBLEMS = {"input.facts_unusable", "input.fact", "input.cannot_be_given"}
# The catalogue's English drops the Chinese gloss the standalone text carries
GLOSSED = {"input.contradiction"}


@pytest.fixture(autouse=True)
def no_chosen_language() -> Iterator[None]:
    """A command run in this process (`--lang en`) leaves its choice behind: forget it."""
    yield
    choose(None)


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zh_inputs") / "inputs.policy"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def evaluators(policy_file: Path) -> list[PolicyEvaluator]:
    out = []
    for compiled in (False, True):
        found, sink = compile_policy(policy_file, compiled=compiled)
        assert found is not None, [d.message for d in sink.diagnostics]
        out.append(found)
    return out


def details(evaluator: PolicyEvaluator, changes: dict[str, Any]) -> list[rt.Problem]:
    facts = {k: v for k, v in {**GOOD, **changes}.items()}
    with pytest.raises(rt.InputError) as caught:
        evaluator.evaluate(facts, DAY, strict=True)
    return caught.value.details


def ids(found: list[rt.Problem]) -> set[str]:
    out = set()
    for p in found:
        out.add(p.id)
        out |= {v.id for _, v in p.args if isinstance(v, rt.Problem)}
    return out


def test_every_input_problem_of_the_catalogue_has_a_case() -> None:
    known = {id for id in catalog() if id.startswith("input.")} - NOT_PROBLEMS
    assert known == {id for _, id in CASES}


@pytest.mark.parametrize(("changes", "id"), CASES, ids=[id for _, id in CASES])
def test_each_problem_has_its_id_and_renders_in_both_languages(
    evaluators: list[PolicyEvaluator], changes: dict[str, Any], id: str
) -> None:
    interpreted, compiled = (details(e, changes) for e in evaluators)
    assert interpreted == compiled  # the same texts, ids and arguments from both back ends
    assert id in ids(interpreted), interpreted
    for p in interpreted:
        assert p.id, p  # no problem without a catalogue id: it could not be shown in Chinese
        english = problem_message(p).render("en")
        if p.id not in GLOSSED:
            assert english == p.text  # the catalogue says what a standalone evaluator says
        chinese = problem_message(p).render("zh")
        assert chinese != english and re.search(r"[\u4e00-\u9fff]", chinese), chinese
        # no English sentence left in the Chinese: at most names and code between backticks
        prose = re.sub(r"`[^`]*`|“[^”]*”|\([^)]*\)|[A-Za-z_]+[.0-9]*[A-Za-z_]*（", "", chinese)
        assert not re.search(r"\b(?:is|not|the|a|of|and|must)\b", prose), chinese


def test_the_standalone_module_reports_the_same_problems(policy_file: Path, tmp_path: Path) -> None:
    sink = Sink()
    checked = check_file(policy_file, sink)
    assert checked.model is not None and checked.source is not None
    target = tmp_path / "standalone_inputs.py"
    target.write_text(
        generate(checked.model, checked.source.text, str(policy_file)).source(), encoding="utf-8"
    )
    spec = importlib.util.spec_from_file_location("standalone_inputs", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    interpreter, _ = compile_policy(policy_file)
    assert interpreter is not None

    def plain(p: Any) -> Any:
        return (p.id, p.text, tuple((k, plain(v) if hasattr(v, "args") else v) for k, v in p.args))

    for changes, _ in CASES:
        facts = {**GOOD, **changes}
        with pytest.raises(module.InputError) as own:
            module.evaluate(facts, DAY, strict=True)
        assert own.value.problems == details_texts(interpreter, facts)
        assert [plain(p) for p in own.value.details] == [plain(p) for p in details(interpreter, changes)]


def details_texts(evaluator: PolicyEvaluator, facts: dict[str, Any]) -> list[str]:
    with pytest.raises(rt.InputError) as caught:
        evaluator.evaluate(facts, DAY, strict=True)
    return caught.value.problems


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_eval_on_a_chinese_policy_says_the_problems_in_chinese(policy_file: Path, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({**GOOD, "investment": "abc", "tier": "县级"}), encoding="utf-8")
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "investment"}), encoding="utf-8")
    for engine in ([], ["--interpret"]):
        result = run("eval", str(policy_file), "--facts", str(facts), "--date", "2022-06-01", *engine)
        assert result.exit_code == 1
        assert "给出的事实无法使用" in result.output
        assert "`investment`（项目投资）：“abc”不是数字" in result.output
        assert "“县级”不是可选项之一：national（国家级）、provincial（省级）" in result.output
        assert "cannot be used" not in result.output and "is not" not in result.output
        result = run("eval", str(policy_file), "--facts", str(missing), "--date", "2022-06-01", *engine)
        assert result.exit_code == 1 and "缺少事实：项目投资（investment）" in result.output
    english = run("eval", str(policy_file), "--facts", str(facts), "--date", "2022-06-01", "--lang", "en")
    assert english.exit_code == 1
    assert "the facts cannot be used" in english.output
    assert "`investment` (项目投资): `abc` is not a number" in english.output


def test_batch_error_rows_say_the_problems_in_the_policys_language(policy_file: Path, tmp_path: Path) -> None:
    rows = tmp_path / "in.csv"
    with rows.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(GOOD))
        writer.writeheader()
        writer.writerow(GOOD)
        writer.writerow({**GOOD, "certified": "maybe"})
        writer.writerow({**GOOD, "investment": ""})
    out = tmp_path / "out.csv"
    result = run("eval", str(policy_file), "--batch", str(rows), "-o", str(out), "--date", "2022-06-01")
    assert result.exit_code == 1, result.output
    errors = error_column(out)
    assert errors[0] == ""
    assert errors[1] == "`certified`（通过认定）：应为“是”或“否”（true/false），而不是“maybe”"
    # a blank cell is a fact not known, not an error: the row is decided as `eval --partial` decides it
    assert errors[2] == ""
    result = run(
        "eval", str(policy_file), "--batch", str(rows), "-o", str(out), "--date", "2022-06-01", "--lang", "en"
    )
    errors = error_column(out)
    assert errors[1] == "`certified` (通过认定): true or false, not `maybe`"


def error_column(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig") as handle:
        return [r["error"] for r in csv.DictReader(handle)]


def test_api_users_render_the_problems_in_either_language(evaluators: list[PolicyEvaluator]) -> None:
    for evaluator in evaluators:
        with pytest.raises(rt.InputError) as caught:
            evaluator.evaluate({**GOOD, "certified": "maybe"}, DAY)
        assert evaluator.input_problems(caught.value) == [
            "`certified`（通过认定）：应为“是”或“否”（true/false），而不是“maybe”"
        ]
        assert evaluator.input_problems(caught.value, "en") == caught.value.problems
