"""The registry of diagnostic codes: one constant per code, a page per code, no code spelt as text."""

from __future__ import annotations

import ast as pyast
import re

from policydsl import codes
from policydsl.codes import ANALYSIS_CODES, CODES
from policydsl.diagnostics import Code, Severity, Sink
from policydsl.source import SourceFile
from tests.conftest import ROOT

ERROR_PAGES = ROOT / "docs" / "errors"
PACKAGE = ROOT / "policydsl"

# Modules that still give their codes as text.  The analyses (checks/analysis*.py) are being
# rewritten onto the plan; their findings name codes as strings until that lands, then they take
# the constants too and this list is emptied.
STILL_TEXT: tuple[str, ...] = ()

_CODE_ID = re.compile(r"[A-Z][0-9]{3}")


def test_each_constant_is_named_by_its_id_and_is_in_the_table() -> None:
    constants = {name: value for name, value in vars(codes).items() if isinstance(value, Code)}
    assert constants, "the registry defines its codes as module constants"
    assert [name for name, code in constants.items() if name != code.id] == []
    assert {code.id: code for code in constants.values()} == CODES
    assert all(_CODE_ID.fullmatch(code) for code in CODES)
    assert {code for code in CODES if code.startswith("P")} == ANALYSIS_CODES


def test_every_code_has_a_page() -> None:
    missing = [code for code in CODES if not (ERROR_PAGES / f"{code}.md").is_file()]
    assert not missing, f"codes without a page in docs/errors/: {missing}"


def test_every_page_is_a_code_of_the_registry() -> None:
    assert [p.stem for p in sorted(ERROR_PAGES.glob("*.md")) if p.stem not in CODES] == []


def code_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source` that is a code id, such as `"E101"`."""
    return [
        (node.lineno, node.value)
        for node in pyast.walk(pyast.parse(source))
        if isinstance(node, pyast.Constant) and isinstance(node.value, str) and _CODE_ID.fullmatch(node.value)
    ]


def test_no_module_gives_a_code_as_text() -> None:
    """Codes are the registry's constants (`codes.E101`), so that mypy catches a misspelt one; a
    literal `"E101"` anywhere but in the registry is a code that bypasses it."""
    allowed = {p for pattern in STILL_TEXT for p in ROOT.glob(pattern)} | {PACKAGE / "codes.py"}
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in allowed
        for line, text in code_texts(path.read_text(encoding="utf-8"))
    ]
    assert not found, f"codes given as text; use policydsl.codes: {found}"


def test_the_scan_sees_a_code_given_as_text() -> None:
    source = 'sink.report("E101", "unknown name", span)\nd.code == "R101"\nx = "E1011"\n'
    assert code_texts(source) == [(1, "E101"), (2, "R101")]


def test_a_report_prints_the_codes_id_and_takes_its_severity() -> None:
    sink = Sink()
    span = SourceFile("p.policy", "x\n").span(0, 1)
    sink.report(codes.W108, "no header", span)
    sink.report(codes.E101, "unknown name `x`", span, severity=Severity.WARNING)
    [first, second] = sink.diagnostics
    assert (first.code, first.severity) == ("E101", Severity.WARNING)
    assert (second.code, second.severity) == ("W108", Severity.WARNING)
    assert not sink.has_errors
