"""`policydsl simulate`: budget estimates checked against populations computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policydsl.commands.cli import main
from policydsl.evaluation.simulate import Estimate, Figures
from policydsl.render.simulate import page

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SHENZHEN = POLICIES / "shenzhen_consulting_diagnosis.policy"
DATES = {
    "shenzhen_industrial_internet_plan": "2022-06-01",
    "shandong_platforms": "2019-06-01",
    "jiangmen_special_fund": "2022-06-01",
    "shenzhen_consulting_diagnosis": "2023-03-01",
    "baoan_industrial_internet": "2022-06-01",
    "liuhe_key_industries": "2023-06-01",
    "lucheng_open_economy": "2020-06-01",
    "lucheng_modern_services": "2020-06-01",
}
HEADER = (
    "id,applicant,registered_in_shenzhen,serves_in_shenzhen,selected,committed_enterprises,"
    "completion_h1,completion_h2,fraud_found,prior_fraud,prior_fraud_date\n"
)
# 第五条: 5万元 for each enterprise the agreement commits to (at least 1家); 第四条(一): registered in
# Shenzhen.  A 1200家 → 6000万; B 800家 → 4000万; C 300家 → 1500万; D not registered: ineligible;
# E 0家: no award applies, ineligible; F leaves the count out: a row that cannot be decided.
POPULATION = HEADER + (
    "A,enterprise,true,true,true,1200,60%,100%,false,false,\n"
    "B,enterprise,true,true,true,800,60%,100%,false,false,\n"
    "C,branch,true,true,true,300,60%,100%,false,false,\n"
    "D,enterprise,false,true,true,500,60%,100%,false,false,\n"
    "E,enterprise,true,true,true,0,60%,100%,false,false,\n"
    "F,enterprise,true,true,true,,60%,100%,false,false,\n"
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["simulate", *args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


@pytest.fixture
def population(tmp_path: Path) -> Path:
    path = tmp_path / "population.csv"
    path.write_text(POPULATION, encoding="utf-8")
    return path


def estimate_of(population: Path, *extra: str) -> dict[str, object]:
    code, out = run(
        str(SHENZHEN), "--population", str(population), "--date", "2023-03-01", "--format", "json", *extra
    )
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_figures_match_the_hand_computed_population(population: Path) -> None:
    data = estimate_of(population)
    (e,) = data["estimates"]  # type: ignore[misc]
    assert (e["rows"], e["errors"]) == (6, 1)
    assert e["error_examples"][0]["id"] == "F"
    (m,) = e["measures"]
    assert m["measure"] == "consulting"
    assert (m["eligible"], m["determined"], m["ceilings"], m["undetermined"]) == (3, 3, 0, 0)
    assert m["determined_sum"] == "115000000.00"  # 6000万 + 4000万 + 1500万
    assert m["ceiling_sum"] == "0"
    assert m["budget"] == "100000000"  # budget 1亿 (编制说明 三)
    assert m["over_budget"] == "15000000.00"
    assert e["total"]["determined_sum"] == "115000000.00"


def test_the_table_says_the_budget_is_exceeded_in_chinese(population: Path) -> None:
    code, out = run(str(SHENZHEN), "--population", str(population), "--date", "2023-03-01")
    assert code == 0, out
    assert "制造业数字化转型咨询诊断资助：确定金额 1.15亿元 超出预算 1亿元 共 1500万元" in out
    assert "无法测算的行：1" in out
    code, out = run(str(SHENZHEN), "--population", str(population), "--date", "2023-03-01", "--lang", "en")
    assert "exceed the budget" in out and "Determined amounts" in out


def test_within_budget_says_so(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(HEADER + "A,enterprise,true,true,true,10,60%,100%,false,false,\n", encoding="utf-8")
    code, out = run(str(SHENZHEN), "--population", str(path), "--date", "2023-03-01")
    assert code == 0 and "各项预算均未超出" in out and "超出预算 1亿元" not in out


def test_compare_two_versions(population: Path, tmp_path: Path) -> None:
    # the same policy with 6万元 a家: A 7200万 (+1200万), B 4800万 (+800万), C 1800万 (+300万)
    text = SHENZHEN.read_text(encoding="utf-8")
    assert "5万/家 * committed_enterprises" in text
    raised = tmp_path / "raised.policy"
    raised.write_text(
        text.replace("5万/家 * committed_enterprises", "6万/家 * committed_enterprises"), "utf-8"
    )
    data = estimate_of(population, "--compare", str(raised))
    first, second = data["estimates"]  # type: ignore[misc]
    assert first["total"]["determined_sum"] == "115000000.00"
    assert second["total"]["determined_sum"] == "138000000.00"
    change = data["comparison"]  # type: ignore[index]
    assert change["gainers"]["count"] == 3
    assert change["gainers"]["change_sum"] == "23000000.00"
    assert [x["id"] for x in change["gainers"]["examples"]] == ["A", "B", "C"]
    assert change["gainers"]["examples"][0]["before"] == {"status": "determined", "amount": "60000000.00"}
    assert change["gainers"]["examples"][0]["after"] == {"status": "determined", "amount": "72000000.00"}
    for kind in ("losers", "newly_eligible", "no_longer_eligible"):
        assert change[kind]["count"] == 0
    # the other way round: the same three lose
    data = estimate_of(population, "--compare", str(raised))
    code, out = run(
        str(raised), "--population", str(population), "--date", "2023-03-01", "--compare", str(SHENZHEN)
    )
    assert code == 0 and "减少：3 户，变动合计 -2300万元" in out


def test_newly_eligible_and_no_longer(population: Path, tmp_path: Path) -> None:
    # registration no longer required: D (500家, 2500万) becomes eligible
    text = SHENZHEN.read_text(encoding="utf-8")
    looser = tmp_path / "looser.policy"
    looser.write_text(
        text.replace("  require registered_in_shenzhen\n", "  require true or registered_in_shenzhen\n"),
        "utf-8",
    )
    data = estimate_of(population, "--compare", str(looser))
    change = data["comparison"]  # type: ignore[index]
    assert change["newly_eligible"]["count"] == 1
    assert change["newly_eligible"]["change_sum"] == "25000000.00"
    assert change["newly_eligible"]["examples"][0]["id"] == "D"
    _, out = run(
        str(looser),
        "--population",
        str(population),
        "--date",
        "2023-03-01",
        "--compare",
        str(SHENZHEN),
        "--format",
        "json",
    )
    assert json.loads(out)["comparison"]["no_longer_eligible"]["count"] == 1


def test_json_shape(population: Path) -> None:
    data = estimate_of(population)
    assert set(data) == {"estimates"}
    (e,) = data["estimates"]  # type: ignore[misc]
    assert set(e) == {
        "policy",
        "title",
        "engine",
        "rows",
        "errors",
        "error_examples",
        "measures",
        "total",
        "pots",
    }
    assert set(e["total"]) == {
        "measure",
        "label",
        "eligible",
        "determined",
        "determined_sum",
        "ceilings",
        "ceiling_sum",
        "undetermined",
        "limited",
        "limited_by",
        "budget",
        "over_budget",
        "over_budget_with_ceilings",
    }


def test_html_is_offline_and_escapes_a_hostile_label(population: Path, tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>'
    e = Estimate("p.policy", hostile, "python", rows=1)
    e.measures["m"] = Figures("m", hostile, determined=1, eligible=1)
    e.total.awards.append(__import__("decimal").Decimal(5))
    text = page([e], None, "zh")
    assert hostile not in text and "&lt;script&gt;" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "<svg" in text
    target = tmp_path / "out.html"
    code, out = run(
        str(SHENZHEN),
        "--population",
        str(population),
        "--date",
        "2023-03-01",
        "--format",
        "html",
        "-o",
        str(target),
    )
    assert code == 0, out
    written = target.read_text(encoding="utf-8")
    assert "<svg" in written and "src=" not in written and "<link" not in written


def test_a_column_naming_no_fact_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,colour\n1,red\n", encoding="utf-8")
    code, out = run(str(SHENZHEN), "--population", str(path))
    assert code == 2 and "colour" in out and "Traceback" not in out
    code, out = run(str(SHENZHEN), "--population", str(tmp_path / "bad.csv"), "--format", "nope")
    assert code == 2


def test_duckdb_engine_gives_the_same_sums() -> None:
    population = POLICIES / "samples" / "shandong_platforms_population.csv"
    policy = str(POLICIES / "shandong_platforms.policy")
    figures = []
    for engine in ("python", "duckdb"):
        code, out = run(
            policy,
            "--population",
            str(population),
            "--date",
            "2019-06-01",
            "--format",
            "json",
            "--engine",
            engine,
        )
        assert code == 0, out
        figures.append(json.loads(out)["estimates"][0])
    python, duck = figures
    assert duck["engine"] == "duckdb"
    for key in ("eligible", "determined", "determined_sum", "ceilings", "ceiling_sum", "undetermined"):
        assert duck["total"][key] == python["total"][key], key
    assert duck["total"]["eligible"] > 0
    assert duck["total"]["limited"] is None  # the query applies limits without saying where


def test_duckdb_falls_back_with_a_note_where_the_sql_back_end_refuses(population: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            str(SHENZHEN),
            "--population",
            str(population),
            "--date",
            "2023-03-01",
            "--engine",
            "duckdb",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "S101" in result.stderr and "--engine python" in result.stderr
    assert json.loads(result.stdout)["estimates"][0]["engine"] == "python"


@pytest.mark.parametrize("name", sorted(DATES))
def test_simulate_runs_on_every_bundled_policy(name: str) -> None:
    population = POLICIES / "samples" / f"{name}_population.csv"
    code, out = run(
        str(POLICIES / f"{name}.policy"),
        "--population",
        str(population),
        "--date",
        DATES[name],
        "--format",
        "json",
    )
    assert code == 0, out
    (e,) = json.loads(out)["estimates"]
    assert 200 <= e["rows"] <= 500
    assert e["errors"] == 0
    assert e["total"]["eligible"] > 0


def test_every_bundled_policy_has_a_population() -> None:
    assert {p.stem for p in POLICIES.glob("*.policy")} == set(DATES)
