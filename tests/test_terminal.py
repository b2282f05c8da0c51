"""Nothing a policy, an input file or a file name holds reaches a terminal as a control sequence:
`check`, `eval` and `test` run under a pseudo-terminal, and their output holds no raw control
character but the line break."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from policydsl.textsafety import json_safe, visible

HOSTILE = [
    "\r",  # back to the start of the line: overwrite a warning
    "\x1b[2K",  # erase the line
    "\x1b]0;pwned\x07",  # OSC 0: the window title
    "\x1b]52;c;cHduZWQ=\x07",  # OSC 52: the clipboard
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\x9b",  # C1 control sequence introducer
    "\x7f",
]
MIX = "".join(HOSTILE)
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _policy(label: str) -> str:
    q = json.dumps(label, ensure_ascii=False)  # a policy string with \\ and \" escaped like JSON
    return (
        f"policy {q} {{ issuer {q} }}\n"
        f"fact x {q}: money >= 0\n"
        f"measure m {q} cite {q} {{ award a {q}: 5万 if x 达到 1万 cite {q} }}\n"
        f"example {q} {{ given {{ x: 2万 }} expect m: 6万 }}\n"
    )


def _run_in_pty(args: list[str], cwd: Path) -> str:
    main, child = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "policydsl.commands.cli", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
            timeout=120,
            check=False,
        )
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
    assert proc.returncode in (0, 1, 2), proc.returncode
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")  # the pty's own CRLF


@pytest.mark.parametrize("accepted", [False, True], ids=["label", "input"])
def test_no_raw_control_character_reaches_the_terminal(tmp_path: Path, accepted: bool) -> None:
    # A hostile policy is refused by check (E006) and its text still shows escaped; an accepted one
    # still meets hostile input data and file names.
    name = f"p{MIX[:3]}x" if not accepted else "p\x1b[2Kx"
    (tmp_path / f"{name}.policy").write_text(_policy("ok" if accepted else f"a{MIX}b"), encoding="utf-8")
    facts = {"x": f"1{MIX}", f"y{MIX}": "1"} if accepted else {"x": "2万"}
    (tmp_path / f"f{MIX[:3]}.json").write_text(json.dumps(facts), encoding="utf-8")
    policy, facts_file = f"{name}.policy", f"f{MIX[:3]}.json"
    outputs = [
        _run_in_pty(["check", policy], tmp_path),
        _run_in_pty(["check", "--format", "json", policy], tmp_path),
        _run_in_pty(["eval", policy, "--facts", facts_file, "--date", "2024-01-01"], tmp_path),
        _run_in_pty(["eval", policy, "--facts", facts_file, "--format", "json"], tmp_path),
        _run_in_pty(["test", policy], tmp_path),
        _run_in_pty(["fmt", "--check", policy], tmp_path),
        _run_in_pty(["compile", policy, "-o", f"out{MIX[:3]}.py"], tmp_path),
        _run_in_pty(["eval", policy, "--facts", f"missing{MIX}.json"], tmp_path),
    ]
    for out in outputs:
        assert out.strip()
        assert RAW.findall(out) == [], out


def test_visible_escapes_every_unsafe_character() -> None:
    assert visible("a\x1b[2K\rb\u202e\tc") == "a\\x1b[2K\\x0db<U+202E>\tc"
    assert visible("a\nb\x07", newlines=True) == "a\nb\\x07"
    assert json.loads(json_safe(json.dumps("\u202e\x9b\x1b", ensure_ascii=False))) == "\u202e\x9b\x1b"
    assert RAW.findall(json_safe(json.dumps(MIX, ensure_ascii=False))) == []
