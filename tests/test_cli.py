"""Conventions every command keeps: file permissions, exit codes, standard input and output, folders."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import policydsl
from policydsl.cli import main
from tests.conftest import DATA

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
