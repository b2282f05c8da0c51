"""`eval --batch` with `--engine auto` (the default): DuckDB when the policy translates and the run
needs nothing only the Python engine gives, else the Python engine after one line saying why; and
every engine writing the same file shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policydsl.commands.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SHANDONG = POLICIES / "shandong_platforms.policy"
BAOAN = POLICIES / "baoan_industrial_internet.policy"
NOTE = "running on the Python engine"


def _eval(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["eval", *args])
    return result.exit_code, result.stdout, result.stderr


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def _population(tmp_path: Path, rows: int = 40) -> Path:
    source = POLICIES / "samples" / "shandong_platforms_population.csv"
    lines = source.read_text(encoding="utf-8").splitlines()[: rows + 1]
    out = tmp_path / "people.csv"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_auto_is_the_default_and_runs_duckdb_when_the_policy_translates(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, out, err = _eval(
        str(SHANDONG), "--batch", str(_population(tmp_path)), "-o", str(target), "--date", "2019-06-01"
    )
    assert code == 0, out + err
    assert "(duckdb)" in out and NOTE not in err
    assert len(_rows(target)) == 40


def test_auto_runs_duckdb_on_baoan_whose_funding_limits_are_shared(tmp_path: Path) -> None:
    source = POLICIES / "samples" / "baoan_industrial_internet_population.csv"
    target = tmp_path / "out.csv"
    code, out, err = _eval(str(BAOAN), "--batch", str(source), "-o", str(target), "--date", "2022-06-01")
    assert code in (0, 1), out + err
    assert "(duckdb)" in out and NOTE not in err
    assert len(_rows(target)) == 300


# a policy-wide 就高 (`combine highest { all }`), which the SQL back end refuses
CHOOSING = """policy "t" {}
fact x "x": money >= 0
measure a "a" { award x }
measure b "b" { award 10万 }
combine highest { all }
"""


def test_auto_runs_python_with_one_line_naming_the_refused_construct(tmp_path: Path) -> None:
    policy = tmp_path / "choosing.policy"
    policy.write_text(CHOOSING, encoding="utf-8")
    source = tmp_path / "people.csv"
    source.write_text("id,x\na,50000\nb,200000\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    code, out, err = _eval(str(policy), "--batch", str(source), "-o", str(target), "--lang", "en")
    assert code in (0, 1), out + err
    [line] = [line for line in err.splitlines() if line.strip()]
    assert NOTE in line and "a policy-wide `combine highest` rule" in line
    assert "choosing.policy:5:1" in line  # where the construct stands: file:line:col
    assert "rows evaluated into" in out  # the Python engine's summary
    code, out, err = _eval(str(policy), "--batch", str(source), "-o", str(target), "--lang", "zh")
    assert "改用 Python 引擎求值" in err and "SQL 后端无法翻译" in err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--explain"], "--explain"),
        (["--interpret"], "--interpret"),
        (["--encoding", "gb18030"], "--encoding gb18030"),
    ],
)
def test_auto_runs_python_for_an_option_only_it_has(tmp_path: Path, extra: list[str], named: str) -> None:
    target = tmp_path / "out.csv"
    code, out, err = _eval(
        str(SHANDONG),
        "--batch",
        str(_population(tmp_path)),
        "-o",
        str(target),
        "--date",
        "2019-06-01",
        "--lang",
        "en",
        *extra,
    )
    assert code == 0, out + err
    assert NOTE in err and named in err and "rows evaluated into" in out


def test_auto_takes_parameters_to_duckdb_and_standard_input_to_python(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text("{}", encoding="utf-8")
    target = tmp_path / "out.csv"
    people = _population(tmp_path)
    code, out, err = _eval(
        str(SHANDONG),
        "--batch",
        str(people),
        "-o",
        str(target),
        "--params",
        str(params),
        "--date",
        "2019-06-01",
        "--lang",
        "en",
    )
    # the values reach the query inlined (checked as the Python engine checks them)
    assert code == 0 and NOTE not in err and "(duckdb)" in out, out + err
    result = CliRunner().invoke(
        main,
        [
            "eval",
            str(SHANDONG),
            "--batch",
            "-",
            "--input-format",
            "csv",
            "-o",
            str(target),
            "--date",
            "2019-06-01",
            "--lang",
            "en",
        ],
        input=people.read_text(encoding="utf-8"),
    )
    assert result.exit_code == 0 and "--batch -" in result.stderr


def test_auto_runs_duckdb_on_an_empty_cell_with_the_python_engines_outcome(tmp_path: Path) -> None:
    """An empty cell is a fact not known on every engine (the row decided as --partial does), so
    the default engine runs DuckDB and the row's outcome is the Python engine's."""
    people = tmp_path / "people.csv"
    header = _population(tmp_path, 1).read_text(encoding="utf-8").splitlines()[0]
    # every requirement met but established_in_shandong, left empty: the decision needs it
    people.write_text(header + "\nA1,,true,true,true,true,true,true,true,false,false\n", encoding="utf-8")
    outcomes = []
    for engine in ("auto", "python"):
        target = tmp_path / f"{engine}.csv"
        args = ["--batch", str(people), "-o", str(target), "--date", "2019-06-01", "--engine", engine]
        code, out, err = _eval(str(SHANDONG), *args, "--lang", "en")
        assert code == 0, out + err
        assert NOTE not in err
        [row] = _rows(target)
        assert row["error"] == "" and row["total_status"] == "undetermined"
        outcomes.append((row["total_status"], row["platform_award.status"], row["platform_award.amount"]))
        if engine == "auto":
            assert "(duckdb)" in out
    assert outcomes[0] == outcomes[1]


def test_a_policy_with_errors_stops_with_its_diagnostics_not_a_fallback(tmp_path: Path) -> None:
    policy = tmp_path / "bad.policy"
    text = 'policy "t" {}\nfact x "x": money\nmeasure m "m" {\n  award a: y\n}\n'
    policy.write_text(text, encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text("x\n1\n", encoding="utf-8")
    code, _, err = _eval(str(policy), "--batch", str(people), "-o", str(tmp_path / "o.csv"))
    assert code == 1 and NOTE not in err and "error" in err


def _both(tmp_path: Path, policy: Path, source: Path, date: str, *extra: str) -> dict[str, Path]:
    out = {}
    for engine in ("python", "duckdb"):
        target = tmp_path / f"{engine}{source.suffix if source.suffix != '.xlsx' else '.csv'}"
        code, stdout, stderr = _eval(
            str(policy), "--batch", str(source), "-o", str(target), "--date", date, "--engine", engine, *extra
        )
        assert code in (0, 1), stdout + stderr
        out[engine] = target
    return out


@pytest.mark.parametrize("policy", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_every_engine_writes_the_same_columns_in_the_same_order(tmp_path: Path, policy: Path) -> None:
    """A user switching engines gets the same file: the same header, and for every policy the SQL
    engines translate the same statuses, amounts, forms and payment forms note row for row."""
    from policydsl.checking.pipeline import check_file
    from policydsl.codegen.evaluator import sql_query
    from policydsl.diagnostics import Sink
    from policydsl.evaluation import sqlbatch
    from policydsl.plan.lower import lower

    sink = Sink()
    checked = check_file(policy, sink)
    assert checked.model is not None and checked.source is not None
    plan = lower(checked.model, checked.source.text)
    python_header = tmp_path / "python_header.csv"
    source = POLICIES / "samples" / f"{policy.stem}_population.csv"
    code, out, err = _eval(
        str(policy),
        "--batch",
        str(source),
        "-o",
        str(python_header),
        "--date",
        "2022-06-01",
        "--engine",
        "python",
    )
    assert code in (0, 1), out + err
    columns = ["row", "id", "error", "total_status", "total_amount", "total_reasons", "payment_forms_note"]
    for m in plan.measures:
        columns += [f"{m.name}.status", f"{m.name}.amount", f"{m.name}.form", f"{m.name}.reasons"]
    assert _header(python_header) == columns
    query = sql_query(plan, checked.source, Sink(), None, sqlbatch.PASSTHROUGH)
    if query is None:
        return  # refused (S101): the Python engine's file only
    files = _both(tmp_path, policy, source, "2019-06-01")
    assert _header(files["duckdb"]) == columns
    same = [c for c in columns if not c.endswith("reasons") and c != "error"]
    python_rows, duck_rows = _rows(files["python"]), _rows(files["duckdb"])
    assert len(python_rows) == len(duck_rows) > 0
    for p, d in zip(python_rows, duck_rows, strict=True):
        if p["error"]:
            assert d["total_status"] == "invalid"
            continue
        assert {c: p[c] for c in same} == {c: d[c] for c in same}


def test_duckdb_writes_the_payment_forms_note_as_the_python_engine(tmp_path: Path) -> None:
    files = _both(tmp_path, SHANDONG, _population(tmp_path), "2019-06-01")
    notes = {e: [r["payment_forms_note"] for r in _rows(f)] for e, f in files.items()}
    assert notes["python"] == notes["duckdb"]
    assert any(n.startswith("合计按面值计入非现金支付形式的金额") for n in notes["duckdb"])


def test_duckdb_csv_output_has_a_bom_and_guards_formulas_as_the_python_engine(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    lines = _population(tmp_path, 2).read_text(encoding="utf-8").splitlines()
    lines[1] = "=HYPERLINK(1)," + lines[1].split(",", 1)[1]
    people.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = _both(tmp_path, SHANDONG, people, "2019-06-01")
    for engine, path in files.items():
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), engine
        assert _rows(path)[0]["id"] == "'=HYPERLINK(1)", engine
    target = tmp_path / "plain.csv"
    _eval(
        str(SHANDONG),
        "--batch",
        str(people),
        "-o",
        str(target),
        "--engine",
        "duckdb",
        "--no-bom",
        "--no-formula-guard",
    )
    assert not target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _rows(target)[0]["id"] == "=HYPERLINK(1)"


def test_duckdb_reads_a_json_list_of_roles_as_the_python_engine(tmp_path: Path) -> None:
    policy = tmp_path / "roles.policy"
    policy.write_text(
        'policy "t" {}\nkind firm "企业"\nkind assoc "协会"\nfact revenue "r": money\n'
        'measure m "m" {\n  applicants firm\n  award a: 1万\n}\n',
        encoding="utf-8",
    )
    people = tmp_path / "people.jsonl"
    people.write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in (
                {"applicant": ["firm", "assoc"], "revenue": 1},
                {"applicant": ["assoc"], "revenue": 1},
            )
        )
        + "\n",
        encoding="utf-8",
    )
    files = _both(tmp_path, policy, people, "2022-06-01")
    got = {
        e: [json.loads(line)["m.status"] for line in f.read_text(encoding="utf-8").splitlines()]
        for e, f in files.items()
    }
    assert got["duckdb"] == got["python"] == ["determined", "ineligible"]


@pytest.mark.parametrize("good", [True, False])
def test_sql_engine_dispatch_closes_its_progress_however_the_run_ends(tmp_path: Path, good: bool) -> None:
    # `eval --batch` and `simulate` run the SQL engines through one helper, which owns the progress
    import io

    from policydsl.commands.evaluate import prepare_sql, run_sql_engine
    from policydsl.evaluation.progress import Progress
    from policydsl.evaluation.sqlbatch import BatchProblem

    closed: list[int] = []

    class Shown(Progress):
        def close(self) -> None:
            closed.append(self.done)

    prepared, _, _ = prepare_sql(SHANDONG, None)
    source = _population(tmp_path, 5)
    if not good:
        source.write_text("no_such_fact\ntrue\n", encoding="utf-8")
    target = tmp_path / "o.csv"
    shown = Shown(5, io.StringIO(), every=0)
    if good:
        counted = run_sql_engine(prepared, "duckdb", source, target, progress=shown)
        assert sum(counted.values()) == 5 and closed == [5]
    else:
        with pytest.raises(BatchProblem, match="no_such_fact"):
            run_sql_engine(prepared, "duckdb", source, target, progress=shown)
        assert closed == [0] and not target.exists()
