"""Conventions every command keeps: file permissions, exit codes, standard input and output, folders."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import policydsl
from policydsl.commands.cli import main
from tests.conftest import DATA, ROOT

SEMANTICS = DATA / "eval" / "semantics.policy"
PLATFORM = DATA / "diagrams" / "platform.policy"


def invoke(*args: str | Path, input: str | bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


# ------------------------------------------------------------------------------ permissions


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def writes(tmp_path: Path) -> dict[str, tuple[list[str | Path], Path]]:
    """Each command that writes files: its arguments and one file it writes."""
    batch = tmp_path / "in.csv"
    batch.write_text("id,applicant,investment,established\n1,enterprise,150万,2019-01-01\n", encoding="utf-8")
    policy = tmp_path / "ugly.policy"
    policy.write_text(PLATFORM.read_text(encoding="utf-8").replace("\n", "\n\n\n"), encoding="utf-8")
    return {
        "compile": (["compile", SEMANTICS, "-o", tmp_path / "out.py"], tmp_path / "out.py"),
        "eval-batch": (
            ["eval", SEMANTICS, "--batch", batch, "-o", tmp_path / "out.csv", "--date", "2021-06-01"],
            tmp_path / "out.csv",
        ),
        "diagram": (["diagram", PLATFORM, "-o", tmp_path / "out.dot"], tmp_path / "out.dot"),
        "report": (["report", PLATFORM, "-o", tmp_path / "site"], tmp_path / "site" / "index.html"),
        "report-page": (["report", PLATFORM, "-o", tmp_path / "site"], tmp_path / "site" / "platform.html"),
    }


@pytest.mark.parametrize("command", ["compile", "eval-batch", "diagram", "report", "report-page"])
def test_written_files_get_the_umasks_mode(tmp_path: Path, umask: int, command: str) -> None:
    args, written = writes(tmp_path)[command]
    code, out = invoke(*args)
    assert code in (0, 1), out
    assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in written.parent.iterdir() if p.name.endswith(".partial")]


def test_fmt_keeps_the_mode_of_the_file_it_rewrites(tmp_path: Path, umask: int) -> None:
    policy = tmp_path / "ugly.policy"
    policy.write_text(PLATFORM.read_text(encoding="utf-8") + "\n\n\n", encoding="utf-8")
    policy.chmod(0o640)
    code, out = invoke("fmt", policy)
    assert code == 0 and "reformatted" in out, out
    assert stat.S_IMODE(policy.stat().st_mode) == 0o640


def test_files_are_written_only_through_the_atomic_helper() -> None:
    """Every command's output goes through policydsl/files.py, so that no writer forgets the mode or
    leaves half a file."""
    writers = re.compile(
        r"\.write_(?:text|bytes)\(|mkstemp|NamedTemporaryFile|\bopen\([^)]*[\"'][wax]b?[\"']"
    )
    package = Path(policydsl.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "files.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if writers.search(line)
    ]
    assert offenders == []


# ------------------------------------------------------------------------------ exit codes

SHANDONG = Path(__file__).resolve().parent.parent / "policies" / "shandong_platforms.policy"
SHANDONG_POPULATION = SHANDONG.parent / "samples" / "shandong_platforms_population.csv"
BROKEN = 'policy "示例" {\n  issued 2021-01-01\n\nmeasure m {\n  award 5万\n'  # a syntax error


def cases(tmp: Path) -> dict[str, dict[int, list[str | Path]]]:
    """For every command: arguments that end in 0 (done, clean), 1 (problems in the input) and 2
    (a usage error: here a file that does not exist)."""
    broken = tmp / "broken.policy"
    broken.write_text(BROKEN, encoding="utf-8")
    good_facts = tmp / "good.json"
    good_facts.write_text('{"applicant": "enterprise", "investment": "150万"}', encoding="utf-8")
    bad_facts = tmp / "bad.json"
    bad_facts.write_text('{"applicant": "robot"}', encoding="utf-8")
    formatted = tmp / "formatted.policy"
    formatted.write_bytes(PLATFORM.read_bytes())
    invoke("fmt", formatted)
    missing = tmp / "missing.policy"
    on = ["--date", "2021-06-01"]
    return {
        "check": {0: ["check", PLATFORM], 1: ["check", broken], 2: ["check", missing]},
        "eval": {
            0: ["eval", SEMANTICS, "--facts", good_facts, "--partial", *on],
            1: ["eval", SEMANTICS, "--facts", bad_facts, *on],
            2: ["eval", SEMANTICS, "--facts", tmp / "missing.json", *on],
        },
        "compile": {
            0: ["compile", PLATFORM, "-o", tmp / "out.py"],
            1: ["compile", broken, "-o", tmp / "out.py"],
            2: ["compile", missing],
        },
        "test": {0: ["test", PLATFORM], 1: ["test", broken], 2: ["test", missing]},
        "diagram": {
            0: ["diagram", PLATFORM, "-o", tmp / "out.dot"],
            1: ["diagram", broken, "-o", tmp / "out.dot"],
            2: ["diagram", missing, "-o", tmp / "out.dot"],
        },
        "report": {
            0: ["report", PLATFORM, "-o", tmp / "site0"],
            1: ["report", broken, "-o", tmp / "site1"],
            2: ["report", missing, "-o", tmp / "site2"],
        },
        "fmt": {0: ["fmt", "--check", formatted], 1: ["fmt", "--check", broken], 2: ["fmt", missing]},
        # 0 is a server stopped after serving (tests/test_serve.py runs one); here, its help
        "serve": {0: ["serve", "--help"], 1: ["serve", broken], 2: ["serve", missing]},
        # the language server: 0 when the editor shuts it down, 1 when its input ends without a
        # shutdown request (the editor went away), 2 for a usage error (LSP_INPUT is what it reads)
        "lsp": {0: ["lsp"], 1: ["lsp"], 2: ["lsp", "--lang", "missing"]},
        "simulate": {
            0: ["simulate", SHANDONG, "--population", SHANDONG_POPULATION, "--date", "2019-06-01"],
            1: ["simulate", broken, "--population", SHANDONG_POPULATION],
            2: ["simulate", SHANDONG, "--population", tmp / "missing.csv"],
        },
    }


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


LSP_INPUT = {
    0: _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    + _frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    + _frame({"jsonrpc": "2.0", "method": "exit"}),
    1: _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
}


COMMANDS = sorted(main.commands)


def test_every_command_has_exit_code_cases(tmp_path: Path) -> None:
    assert sorted(cases(tmp_path)) == COMMANDS


@pytest.mark.parametrize("code", [0, 1, 2])
@pytest.mark.parametrize("command", COMMANDS)
def test_exit_codes_mean_the_same_for_every_command(tmp_path: Path, command: str, code: int) -> None:
    args = cases(tmp_path).get(command)
    assert args is not None, f"`{command}` has no exit code cases here and no row in docs/cli.md"
    got, out = invoke(*args[code], input=LSP_INPUT.get(code) if command == "lsp" else None)
    assert got == code, out
    assert "Traceback" not in out
    if code == 2:
        assert "missing" in out  # the file is named
        assert not (tmp_path / "site2").exists()  # nothing is written for a usage error


def test_the_exit_code_table_in_the_docs_lists_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    assert sorted(rows) == COMMANDS


# ------------------------------------------------------------------------------ standard input and folders


def test_check_reads_standard_input_and_names_it() -> None:
    code, out = invoke("check", "-", input=BROKEN.encode())
    assert code == 1
    assert re.search(r"^<stdin>:\d+:\d+: error\[E\d{3}\]", out, flags=re.M), out
    code, out = invoke("check", "-", input=PLATFORM.read_bytes())
    assert code == 0 and out.splitlines()[-1].startswith("1 file checked: 0 errors"), out


def test_compile_reads_standard_input_and_writes_standard_output() -> None:
    code, out = invoke("compile", "-", "-o", "-", input=SEMANTICS.read_bytes())
    assert code == 0
    expected = invoke("compile", SEMANTICS)[1]
    # the same module, but for the name of its source
    assert out.replace("<stdin>", SEMANTICS.name) == expected
    code, out = invoke("compile", "-", input=BROKEN.encode())
    assert code == 1 and "<stdin>:" in out


def test_eval_reads_facts_from_standard_input() -> None:
    facts = '{"applicant": "enterprise", "investment": "150万", "established": "2019-01-01"}'
    code, out = invoke("eval", SEMANTICS, "--facts", "-", "--date", "2021-06-01", "--partial", input=facts)
    assert code == 0, out
    assert out == invoke("eval", SEMANTICS, "--facts", _file(facts), "--date", "2021-06-01", "--partial")[1]
    code, out = invoke("eval", SEMANTICS, "--facts", "-", input="[1]")
    assert code == 2 and "<stdin>: facts must be a JSON object" in out


def _file(text: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    path = folder / "facts.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_batch_can_come_from_standard_input(tmp_path: Path, fmt: str) -> None:
    rows = {
        "csv": "id,applicant,investment,established\n1,enterprise,150万,2019-01-01\n",
        "jsonl": '{"id": 1, "applicant": "enterprise", "investment": "150万", "established": "2019-01-01"}\n',
    }[fmt]
    (tmp_path / f"in.{fmt}").write_text(rows, encoding="utf-8")
    on = ["--date", "2021-06-01"]
    code, out = invoke(
        "eval", SEMANTICS, "--batch", "-", "--input-format", fmt, "-o", tmp_path / "a.csv", *on, input=rows
    )
    # the row lacks facts: decided as far as they go (a blank is a fact not known), on the Python
    # engine, which standard input goes to
    assert code == 0 and "1 rows evaluated" in out, out
    python = ("--engine", "python")
    invoke("eval", SEMANTICS, "--batch", tmp_path / f"in.{fmt}", "-o", tmp_path / "b.csv", *on, *python)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    code, out = invoke("eval", SEMANTICS, "--batch", "-", "-o", tmp_path / "c.csv", input=rows)
    assert code == 2 and "--input-format" in out


def test_standard_input_is_given_once(tmp_path: Path) -> None:
    code, out = invoke("eval", "-", "--facts", "-", input="{}")
    assert code == 2 and "only one input can be standard input" in out


def test_a_folder_stands_for_the_policy_files_in_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "sub" / "a.policy").write_bytes(PLATFORM.read_bytes())
    (tmp_path / "b.policy").write_text(BROKEN, encoding="utf-8")
    (tmp_path / ".hidden" / "c.policy").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a policy", encoding="utf-8")
    code, out = invoke("check", tmp_path)
    assert code == 1
    assert "2 files checked: 2 errors" in out
    assert f"{tmp_path / 'b.policy'}:" in out and ".hidden" not in out
    code, out = invoke("test", tmp_path / "sub")
    assert code == 0 and "1 passed, 0 failed" in out
    (tmp_path / "empty").mkdir()
    code, out = invoke("check", tmp_path / "empty")
    assert code == 2 and "no .policy files" in out


# ------------------------------------------------------------------------------ packaging


def test_python_dash_m_runs_the_command_line() -> None:
    command = [sys.executable, "-m", "policydsl", "check", str(PLATFORM)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 file checked: 0 errors")
    usage = subprocess.run(
        [sys.executable, "-m", "policydsl", "--help"], capture_output=True, text=True, check=False
    )
    assert usage.stdout.startswith("Usage: policydsl ")


def test_the_license_file_is_the_apache_license() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]


def test_the_wheel_ships_the_grammar_the_license_and_py_typed(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = subprocess.run(
        [*pip, str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("policydsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"policydsl/py.typed", "policydsl/grammar/policy.lark", "policydsl/__main__.py"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    lines = zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
    assert "License-Expression: Apache-2.0" in lines and "License-File: LICENSE" in lines


def test_the_options_eval_and_simulate_share_are_declared_alike() -> None:
    # `--date`, `--lang` and `--engine` are declared once (cli.DATE_OPTION, LANG_OPTION, engine_option):
    # the two commands read them alike, and simulate's engines are engines of eval
    def options(name: str) -> dict[str, click.Option]:
        command = main.commands[name]
        return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}

    evaluate, simulate = options("eval"), options("simulate")
    for name in ("date_text", "lang"):
        assert evaluate[name].opts == simulate[name].opts
        assert evaluate[name].help == simulate[name].help
        assert evaluate[name].envvar == simulate[name].envvar
    engines = {"eval": evaluate["engine"].type, "simulate": simulate["engine"].type}
    assert isinstance(engines["eval"], click.Choice) and isinstance(engines["simulate"], click.Choice)
    assert set(engines["simulate"].choices) <= set(engines["eval"].choices)
