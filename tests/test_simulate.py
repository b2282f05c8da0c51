"""`policydsl simulate`: budget estimates checked against populations computed by hand."""

from __future__ import annotations

import csv
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from policydsl.commands.cli import main
from policydsl.evaluation import simulate as sim
from policydsl.evaluation.simulate import Estimate, Figures
from policydsl.render.simulate import page
from tests.conftest import POPULATION_DATES

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SHENZHEN = POLICIES / "shenzhen_consulting_diagnosis.policy"
# a policy the SQL back end refuses (a division without an exact inverse: `/ 3`), with a population;
# the bundled ones it refused (Liuhe, Bao'an) are translated in turn
REFUSED = (
    'policy "三分之一" {}\nfact investment "投资额": money >= 0\n'
    'measure third "三分之一奖励" { award investment / 3 }\n'
)
REFUSED_POPULATION = "id,investment\nA,300万\nB,\nC,10元\n"


def refused(folder: Path) -> tuple[Path, Path]:
    """The refused policy and its population, written into `folder`."""
    policy, people = folder / "third.policy", folder / "third.csv"
    policy.write_text(REFUSED, encoding="utf-8")
    people.write_text(REFUSED_POPULATION, encoding="utf-8")
    return policy, people


DATES = POPULATION_DATES
HEADER = (
    "id,applicant,registered_in_shenzhen,serves_in_shenzhen,selected,committed_enterprises,"
    "completion_h1,completion_h2,fraud_found,prior_fraud,prior_fraud_date\n"
)
# 第五条: 5万元 for each enterprise the agreement commits to (at least 1家); 第四条(一): registered in
# Shenzhen.  A 1200家 → 6000万; B 800家 → 4000万; C 300家 → 1500万; D not registered: ineligible;
# E 0家: no award applies, ineligible; F's count is no count: a row that cannot be decided.
POPULATION = HEADER + (
    "A,enterprise,true,true,true,1200,60%,100%,false,false,\n"
    "B,enterprise,true,true,true,800,60%,100%,false,false,\n"
    "C,branch,true,true,true,300,60%,100%,false,false,\n"
    "D,enterprise,false,true,true,500,60%,100%,false,false,\n"
    "E,enterprise,true,true,true,0,60%,100%,false,false,\n"
    "F,enterprise,true,true,true,许多,60%,100%,false,false,\n"
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


def test_a_blank_cell_is_a_fact_not_known_not_a_row_that_cannot_be_decided(tmp_path: Path) -> None:
    # G leaves its count blank: eligible, its amount undetermined (as `eval --partial`), no error
    path = tmp_path / "blank.csv"
    path.write_text(
        HEADER
        + "A,enterprise,true,true,true,10,60%,100%,false,false,\n"
        + "G,enterprise,true,true,true,,60%,100%,false,false,\n",
        encoding="utf-8",
    )
    for engine in ("python", "auto"):
        code, out = run(str(SHENZHEN), "--population", str(path), "--date", "2023-03-01", "--format", "json",
                        "--engine", engine)  # fmt: skip
        assert code == 0, out
        (e,) = json.loads(out)["estimates"]
        assert (e["rows"], e["errors"]) == (2, 0)
        (m,) = e["measures"]
        assert (m["eligible"], m["determined"], m["undetermined"]) == (2, 1, 1)
        assert m["determined_sum"] == "500000.00"


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


SHANDONG = POLICIES / "shandong_platforms.policy"
SHANDONG_FACTS = (
    "established_in_shandong",
    "independent_liability",
    "good_credit",
    "capable",
    "builder_and_owner",
    "well_operated",
    "recognized",
    "key_platform",
    "national_platform",
    "national_program",
)


def estimates_on(engine: str, population: Path, policy: Path = SHANDONG, date: str = "2019-06-01") -> dict:
    code, out = run(
        str(policy), "--population", str(population), "--date", date, "--format", "json", "--engine", engine
    )
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def same_figures(data: dict) -> dict:
    """An estimate's figures without what names the engine (its error texts are the engine's own)."""
    out = json.loads(json.dumps(data))
    for e in out["estimates"]:
        assert e.pop("engine") in ("python", "duckdb", "spark")
        e["error_examples"] = [x["id"] for x in e["error_examples"]]
    return out


def test_engines_give_identical_figures_on_the_shipped_population() -> None:
    population = POLICIES / "samples" / "shandong_platforms_population.csv"
    python, duck, auto = (estimates_on(e, population) for e in ("python", "duckdb", "auto"))
    assert duck["estimates"][0]["engine"] == auto["estimates"][0]["engine"] == "duckdb"
    assert same_figures(duck) == same_figures(python) == same_figures(auto)
    assert python["estimates"][0]["total"]["eligible"] > 0
    # no quota, group cap or pot: nothing is limited, and every engine knows it
    assert duck["estimates"][0]["total"]["limited"] == 0


# Cells of every kind, blanks among them: a blank cell is a fact not known on every engine (the row
# decided as `eval --partial` decides it).
CELLS = st.sampled_from(["true", "false", "true", "是", "否", "maybe", "", ""])


@settings(max_examples=6, deadline=None)
@given(st.lists(st.tuples(*(CELLS for _ in SHANDONG_FACTS)), min_size=1, max_size=25))
def test_engines_give_identical_figures_on_generated_populations(rows: list[tuple[str, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        population = Path(folder) / "people.csv"
        with population.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", *SHANDONG_FACTS])
            writer.writerows([f"P{i}", *row] for i, row in enumerate(rows))
        python, duck = (estimates_on(e, population) for e in ("python", "duckdb"))
        assert same_figures(duck) == same_figures(python)


def test_duckdb_falls_back_with_a_note_where_the_sql_back_end_refuses(tmp_path: Path) -> None:
    policy, people = refused(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            str(policy),
            "--population",
            str(people),
            "--date",
            "2023-06-01",
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


def test_an_sql_engines_results_before_the_limits_are_read_when_present(tmp_path: Path) -> None:
    # the columns the SQL back end gives a limited measure: its result before the quota, cap or pot
    decided = tmp_path / "decided.jsonl"
    rows = [
        {"row": 1, "id": "a", "error": None, "total_status": "determined", "total_amount": "300",
         "m.status": "determined", "m.amount": "300",
         "m.status_before": "determined", "m.amount_before": "500"},
        {"row": 2, "id": "b", "error": None, "total_status": "ineligible", "total_amount": None,
         "m.status": "ineligible", "m.amount": None,
         "m.status_before": "determined", "m.amount_before": "200"},
        {"row": 3, "id": "c", "error": None, "total_status": "determined", "total_amount": "100",
         "m.status": "determined", "m.amount": "100",
         "m.status_before": "determined", "m.amount_before": "100"},
    ]  # fmt: skip
    decided.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    outcomes = list(sim.decided_file_outcomes(decided, ["m"]))
    assert outcomes[0].limited == {"m": ("determined", Decimal(500))}
    figures = Figures("m", "m")
    for o in outcomes:
        figures.add(o.measures["m"], o.limited.get("m"))
    # c's limit left its result as it was: not counted as changed
    assert (figures.limited, figures.limited_by) == (2, Decimal(400))
    assert sim.before_columns(["m.status", "m.status_before", "m.amount_before"], ["m", "n"]) == [
        "m.status_before",
        "m.amount_before",
    ]


def test_simulates_words_follow_the_language(population: Path) -> None:
    # the error rows, the headings and the fallback note in Chinese and in English
    for lang, words in (("zh", ("无法测算的行：1", "评估日期 2023-03-01")), ("en", (
        "Rows that could not be decided: 1", "Evaluated on 2023-03-01"
    ))):  # fmt: skip
        result = CliRunner().invoke(
            main,
            ["simulate", str(SHENZHEN), "--population", str(population), "--date", "2023-03-01",
             "--engine", "python", "--lang", lang],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        for w in words:
            assert w in result.stdout + result.stderr, (lang, w)
    policy, people = refused(population.parent)
    for lang, note in (("zh", "注意：SQL 后端"), ("en", "note: the SQL back end")):
        result = CliRunner().invoke(
            main,
            ["simulate", str(policy), "--population", str(people), "--date", "2023-06-01",
             "--engine", "duckdb", "--lang", lang],
        )  # fmt: skip
        assert result.exit_code == 0 and note in result.stderr, (lang, result.output)
    text = population.with_suffix(".txt")
    text.write_text(POPULATION, encoding="utf-8")
    code, out = run(str(SHENZHEN), "--population", str(text), "--lang", "zh")
    assert code == 2 and "--population 接受 .csv 或 .jsonl 文件" in out


def test_a_parquet_population_needs_the_sql_back_end(tmp_path: Path) -> None:
    import duckdb

    parquet = tmp_path / "people.parquet"
    policy, people = refused(tmp_path)
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{people}', all_varchar=true)) TO '{parquet}'")
    result = CliRunner().invoke(
        main, ["simulate", str(policy), "--population", str(parquet), "--lang", "zh", "--date", "2023-06-01"]
    )
    assert result.exit_code == 2 and "Python 引擎不读取 .parquet" in result.output
    assert "Traceback" not in result.output
