"""The registry of diagnostic codes: one constant per code, a page per code, no code spelt as text."""

from __future__ import annotations

import ast as pyast
import importlib.util
import re
from types import ModuleType
from typing import Any

import pytest

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


# ------------------------------------------------------------------ the Chinese pages (docs/errors/zh)


def _load_error_pages() -> ModuleType:
    """scripts/error_pages.py, the one place that runs a page's snippet through the CLI."""
    spec = importlib.util.spec_from_file_location("error_pages", ROOT / "scripts" / "error_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


error_pages = _load_error_pages()
ZH_PAGES = ERROR_PAGES / "zh"
_ZH_SEVERITY = {Severity.ERROR: "错误", Severity.WARNING: "警告", Severity.INFO: "提示"}


def test_every_code_has_a_chinese_page_and_every_chinese_page_a_code() -> None:
    pages = {p.stem for p in ZH_PAGES.glob("*.md")} - {"README"}
    assert sorted(set(CODES) - pages) == [], "codes without a page in docs/errors/zh/"
    assert sorted(pages - set(CODES)) == [], "pages in docs/errors/zh/ of no code"


def test_the_english_and_chinese_pages_link_to_each_other() -> None:
    for code in CODES:
        english = (ERROR_PAGES / f"{code}.md").read_text(encoding="utf-8").splitlines()
        chinese = (ZH_PAGES / f"{code}.md").read_text(encoding="utf-8").splitlines()
        assert f"[中文](zh/{code}.md)" in english[:4], code
        assert any(line.startswith(f"[English](../{code}.md)") for line in chinese[:4]), code


def test_the_chinese_index_lists_every_code_with_its_severity() -> None:
    index = (ZH_PAGES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[([A-Z][0-9]{3})\]\(\1\.md\) \| (\S+) \| (.+) \|$", index, re.M)
    assert [code for code, _, _ in rows] == list(CODES)
    for code, severity, title in rows:
        page = (ZH_PAGES / f"{code}.md").read_text(encoding="utf-8")
        assert severity == _ZH_SEVERITY[CODES[code].severity], code
        assert page.startswith(f"# {code}：{title}\n"), code


@pytest.mark.parametrize("code", sorted(CODES))
def test_chinese_page(code: str) -> None:
    """The 示例 produces the code and is written with Chinese keywords, the 提示信息 block is what the
    CLI prints for it (`python scripts/error_pages.py` rewrites it), and the 修改方法 is free of it."""
    page = (ZH_PAGES / f"{code}.md").read_text(encoding="utf-8")
    assert f"严重程度：**{_ZH_SEVERITY[CODES[code].severity]}**" in page
    for title in ("原因", "示例", "提示信息", "修改方法"):
        error_pages.section(page, title)
    if code in error_pages.UNREACHABLE:
        return  # no small policy reaches it (see the page)
    kind, example = error_pages.example(page)
    assert re.match(r"(政策|事实)\s", example), "the example is written with Chinese keywords"
    shown = error_pages.render(code, kind, example)
    assert shown.text, f"the example of {code} does not produce it"
    assert error_pages.refreshed(code, page) == page, (
        "the 提示信息 block is stale: run `python scripts/error_pages.py`"
    )
    fixes = error_pages.BLOCK.findall(error_pages.section(page, "修改方法"))
    assert fixes, "the 修改方法 section has a policy block"
    if code in error_pages.FIX_NOT_CHECKED:
        return
    for fixed_kind, fixed in fixes:
        assert re.match(r"(政策|事实)\s", fixed), "the fix is written with Chinese keywords"
        after = error_pages.render(code, fixed_kind, fixed)
        assert after.text == "", f"the fix still reports {code}"
        assert after.exit_code == 0, "the fix has no error left"


def test_a_stale_message_block_is_seen() -> None:
    page = (ZH_PAGES / "E101.md").read_text(encoding="utf-8")
    stale = page.replace("error[E101]:", "error[E101]: stale")
    assert stale != page and error_pages.refreshed("E101", stale) == page


def test_only_the_diagnostics_of_the_code_are_kept() -> None:
    output = (
        "a.policy:4:1: warning[P405]: gap\n   4 | x\n  = hint: h\n"
        "a.policy:6:9: warning[P201]: overlap\n  = note: n\n"
        "1 file checked: 0 errors, 2 warnings, 0 infos stand; exit code 0 (--fail-on error)\n"
    )
    assert (
        error_pages.diagnostics_of("P405", output)
        == "a.policy:4:1: warning[P405]: gap\n   4 | x\n  = hint: h"
    )
    assert error_pages.diagnostics_of("P201", output) == "a.policy:6:9: warning[P201]: overlap\n  = note: n"
    assert error_pages.diagnostics_of("E101", output) == ""


def test_the_lang_option_goes_to_the_cli_only_when_it_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real = error_pages.CliRunner.invoke

    def spy(self: Any, cli: Any, args: list[str], **kwargs: Any) -> Any:
        seen.append(list(args))
        return real(self, cli, args, **kwargs)

    monkeypatch.setattr(error_pages.CliRunner, "invoke", spy)
    error_pages.render("E101", "policy", '政策 "示例" {}\n', lang="zh")
    assert ("--lang" in seen[-1]) == error_pages.has_lang_option("check")
    monkeypatch.setattr(error_pages, "has_lang_option", lambda command="check": True)
    error_pages.render("E101", "policy", '政策 "示例" {}\n', lang="zh")
    assert seen[-1][-3:] == ["--lang", "zh", "example.policy"]
    error_pages.render("E101", "policy", '政策 "示例" {}\n', lang=None)
    assert "--lang" not in seen[-1]
