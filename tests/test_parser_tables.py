"""The parser's tables: shipped in the package, up to date with the grammar, and the only thing the
parser loads — no cache file in the shared temporary folder is ever read, followed or waited on, and
every command works with no temporary folder at all."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import lark
import pytest

from policydsl.syntax import parser as P
from tests.conftest import POLICIES

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted(POLICIES.glob("*.policy"))
POLICY = POLICIES / "jiangmen_special_fund.policy"


def test_shipped_tables_match_the_grammar() -> None:
    # regenerate (`make tables`) after changing grammar/policy.lark
    shipped = (ROOT / "policydsl" / "syntax" / P.TABLES).read_text(encoding="utf-8")
    assert shipped == P.tables_source(), "policydsl/syntax/parser_tables.json is stale: run `make tables`"
    assert P._shipped_tables() is not None


def test_tables_are_the_same_whatever_the_hash_seed() -> None:
    script = "from policydsl.syntax.parser import tables_source; print(tables_source(), end='')"
    texts = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(texts) == 1


@pytest.mark.parametrize("policy", SEEDS, ids=lambda p: p.name)
def test_shipped_tables_parse_like_the_grammar(policy: Path) -> None:
    from_grammar = lark.Lark(P.grammar_text(), **P._OPTIONS, propagate_positions=True)
    text = P.normalize(policy.read_text(encoding="utf-8"))
    assert P._parser().parse(text) == from_grammar.parse(text)


# ------------------------------------------------------------------------- the old Lark cache

# What `lark.Lark(..., cache=True)` would have used for this grammar: the file name is found by letting
# Lark write its cache into an empty folder, in a child process whose temporary folder is that one.
_CACHE_NAME = """
import sys, tempfile, lark
from policydsl.syntax import parser as P
tempfile.tempdir = sys.argv[1]
lark.Lark(P.grammar_text(), **P._OPTIONS, propagate_positions=True,
          lexer_callbacks={"COMMENT": P._on_comment}, cache=True)
"""

# Runs the command line with an audit hook that records every file opened in the temporary folder.
_RUN = """
import os, sys
folder = os.path.realpath(sys.argv[1])
def audit(event, args):
    if event == "open" and isinstance(args[0], str) and os.path.realpath(args[0]).startswith(folder):
        print("opened " + args[0], file=sys.stderr)
sys.addaudithook(audit)
from policydsl.commands.cli import main
sys.argv = ["policydsl", *sys.argv[2:]]
main()
"""


@pytest.fixture(scope="module")
def cache_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("lark-cache")
    subprocess.run([sys.executable, "-c", _CACHE_NAME, str(folder)], cwd=ROOT, check=True, timeout=120)
    (name,) = [p.name for p in folder.iterdir()]
    assert name.startswith(".lark_cache_")
    return name


class _Payload:
    """A pickle that, when loaded, creates the file `marker`."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
    return subprocess.run(
        [sys.executable, "-c", _RUN, str(tmp), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _plant(kind: str, path: Path, tmp: Path) -> Path:
    """Put a `kind` of file at the cache's `path`; return the file whose existence or content shows harm."""
    witness = tmp / "witness"
    if kind == "poisoned":
        # Lark reads a line with the hash, then unpickles the files list, then the tables
        path.write_bytes(b"0" * 64 + b"\n" + pickle.dumps(_Payload(str(witness))))
    elif kind == "poisoned-with-tables":
        # the payload in front of genuine tables: it would run on every call and never be rewritten
        path.write_bytes(b"0" * 64 + b"\n" + pickle.dumps(_Payload(str(witness))) + b"\x80\x05N.")
    elif kind == "symlink":
        witness.write_text("the victim's own file\n", encoding="utf-8")
        path.symlink_to(witness)
    elif kind == "fifo":
        os.mkfifo(path)
    else:  # corrupt
        path.write_bytes(b"\x80\x05garbage" * 10)
    return witness


@pytest.mark.parametrize("kind", ["poisoned", "poisoned-with-tables", "symlink", "fifo", "corrupt"])
def test_a_planted_cache_file_is_never_read(kind: str, cache_name: str, tmp_path: Path) -> None:
    tmp = tmp_path / "shared-tmp"
    tmp.mkdir()
    cache = tmp / cache_name
    witness = _plant(kind, cache, tmp)
    before = witness.read_bytes() if witness.exists() else None
    try:
        done = _run(tmp, "fmt", "--check", str(POLICY))
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure this test guards against
        pytest.fail("the command waited on the planted file")
    assert done.returncode == 0, done.stderr
    assert "opened" not in done.stderr
    if before is None:
        assert not witness.exists(), "the planted pickle ran"
    else:
        assert witness.read_bytes() == before, "the planted symlink was followed"
    assert sorted(p.name for p in tmp.iterdir()) == sorted({cache_name, *(["witness"] if before else [])})


# The command line with no temporary folder: TMPDIR names a folder that does not exist, and the
# standard library finds no other (every candidate refused, as in a read-only container).
_NO_TMP = """
import sys, tempfile
def refuse(*args, **kwargs):
    raise FileNotFoundError("No usable temporary directory found")
tempfile.tempdir = None
tempfile.gettempdir = tempfile.gettempdirb = tempfile._get_default_tempdir = refuse
from policydsl.commands.cli import main
sys.argv = ["policydsl", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "args",
    [
        ["fmt", "--check", "{policy}"],
        ["check", "{policy}"],
        ["compile", "{policy}"],
        ["test", "{policy}"],
    ],
    ids=lambda a: a[0],
)
def test_the_command_line_needs_no_temporary_folder(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path / "missing"), "TEMP": "/nonexistent", "TMP": "/nonexistent"}
    command = [a.format(policy=POLICY) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", _NO_TMP, *command],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
