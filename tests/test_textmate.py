"""The TextMate grammar and the VS Code extension: generated, tested with vscode-tmgrammar-test, packaged.

The tests that need node skip without it, but fail under `make test` (POLICYDSL_NODE=required, CI),
which installs the npm tools from editors/vscode/package-lock.json first.
"""

from __future__ import annotations

import bisect
import importlib.util
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from pygments.token import Comment, Keyword, Literal, Name, Number, Operator, Punctuation, String, _TokenType

from policydsl.syntax.highlight import PolicyLexer
from tests.conftest import ROOT
from tests.test_highlight import BUNDLED, CHINESE

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "policy.tmLanguage.json"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("textmate", ROOT / "scripts" / "textmate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_grammar_is_generated_from_the_keyword_table() -> None:
    assert GRAMMAR.read_text(encoding="utf-8") == _script().text(), "run: python scripts/textmate.py"


def test_the_grammar_compiles_as_python_regular_expressions_too() -> None:
    """Every pattern, its `\\x{…}` read back as Python's, compiles: a typo in the generator shows here."""
    grammar = _script().grammar()

    def patterns(rule: object) -> list[str]:
        if isinstance(rule, dict):
            found = [rule["match"]] if "match" in rule else []
            return found + [p for value in rule.values() for p in patterns(value)]
        if isinstance(rule, list):
            return [p for value in rule for p in patterns(value)]
        return []

    found = patterns(grammar["repository"])
    assert len(found) > 10
    for pattern in found:
        re.compile(re.sub(r"\\x\{([0-9a-f]{4})\}", r"\\u\1", pattern))


def _tools() -> Path:
    """The npm tools of editors/vscode (`npm ci` there, or `make vsix`)."""
    why = ""
    if shutil.which("node") is None or shutil.which("npx") is None:
        why = "node and npm are not installed (apt-get install nodejs npm)"
    elif not (VSCODE / "node_modules" / ".bin" / "vscode-tmgrammar-test").exists():
        why = "the npm tools are not installed: run `npm ci` in editors/vscode (make test does)"
    if why:
        if os.environ.get("POLICYDSL_NODE") == "required":  # `make test`, hence CI
            pytest.fail(why)
        pytest.skip(why)
    return VSCODE / "node_modules" / ".bin"


def _run(*args: str | Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=VSCODE, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_grammar_passes_its_spot_checks_in_both_spellings() -> None:
    tools = _tools()
    out = _run(tools / "vscode-tmgrammar-test", "-g", GRAMMAR, "test/*.policy")
    assert "chinese.policy run successfuly" in out and "english.policy run successfuly" in out


# The TextMate scopes the lexer's tokens must carry: the editor and the review site colour alike.
SCOPES: list[tuple[_TokenType, tuple[str, ...]]] = [
    (Comment, ("comment.line",)),
    (String.Other, ("string.other.citation",)),
    (String, ("string.quoted",)),
    (Literal.Date, ("constant.numeric.date",)),
    (Number, ("constant.numeric",)),
    (Keyword.Declaration, ("storage.type",)),
    (Keyword.Constant, ("constant.language",)),
    (Keyword.Type, ("support.type",)),
    (Keyword, ("keyword.control", "keyword.other.cite")),
    (Operator, ("keyword.operator",)),
    (Name.Builtin, ("support.constant",)),
    (Name.Label, ("entity.name.label",)),
    (Name.Variable, ("variable.other.fact",)),
    (Name.Constant, ("variable.other.constant",)),
    (Name.Function, ("entity.name.function",)),
    (Name.Class, ("entity.name.type",)),
    (Name, ("variable.other",)),
    (Punctuation, ("punctuation",)),
]


def _expected(token: _TokenType) -> tuple[str, ...]:
    return next(scopes for kind, scopes in SCOPES if token in kind)


def _snapshot(snap: str) -> dict[tuple[int, int], list[str]]:
    """(line, column) -> scopes, from a vscode-tmgrammar-snap snapshot (`>` the line, `#  ^^ scopes`)."""
    scopes: dict[tuple[int, int], list[str]] = {}
    line = -1
    for row in snap.splitlines():
        if row.startswith(">"):
            line += 1
            continue
        m = re.match(r"#( *)(\^+) (.*)$", row)
        assert m is not None, row
        start = len(m.group(1))
        for col in range(start, start + len(m.group(2))):
            scopes[(line, col)] = m.group(3).split()
    return scopes


def test_every_policy_is_coloured_as_the_lexer_colours_it(tmp_path: Path) -> None:
    """vscode-tmgrammar-snap over the bundled policies and the Chinese-keyword test files: no
    character is invalid, and each carries the scope that matches the lexer's token."""
    tools = _tools()
    files = {p.name: p for p in BUNDLED + CHINESE}
    for name, path in files.items():
        shutil.copy(path, tmp_path / name)
    _run(tools / "vscode-tmgrammar-snap", "-u", "-g", GRAMMAR, f"{tmp_path}/*.policy")
    for name, path in files.items():
        text = path.read_text(encoding="utf-8")
        assert all(ord(c) < 0x10000 for c in text)  # the snapshot counts UTF-16 units
        scopes = _snapshot((tmp_path / f"{name}.snap").read_text(encoding="utf-8"))
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        invalid = [at for at, found in scopes.items() if any(s.startswith("invalid") for s in found)]
        assert invalid == [], (name, invalid[:5])
        for at, token, value in PolicyLexer().get_tokens_unprocessed(text):
            if not value.strip():
                continue
            line = bisect.bisect_right(starts, at) - 1
            col = at - starts[line]
            found = scopes.get((line, col), [])
            assert any(s.startswith(_expected(token)) for s in found), (name, line + 1, value, token, found)


def test_the_extension_builds_to_a_vsix(tmp_path: Path) -> None:
    tools = _tools()
    out = tmp_path / "policydsl.vsix"
    _run(tools / "vsce", "package", "--allow-missing-repository", "--out", out)
    with zipfile.ZipFile(out) as vsix:
        names = set(vsix.namelist())
    for needed in (
        "extension/package.json",
        "extension/extension.js",
        "extension/language-configuration.json",
        "extension/syntaxes/policy.tmLanguage.json",
        "extension/node_modules/vscode-languageclient/package.json",
        "extension/README.md",
    ):
        assert needed in names, needed
    assert not any(n.startswith("extension/test/") for n in names)
