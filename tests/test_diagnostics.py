"""Diagnostics: golden outputs of malformed files, their inline expectations, the error-code pages
and the JSON format."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from policydsl.checking.pipeline import check_file, check_text
from policydsl.codes import CODES
from policydsl.commands.cli import main
from policydsl.diagnostics import Diagnostic, Severity, Sink, format_text
from policydsl.messages import LANGS
from policydsl.source import SourceFile
from policydsl.syntax.keywords import KEYWORDS, UNITS, chinese_keywords
from tests.conftest import DATA, ROOT, golden

DIAGNOSTICS = DATA / "diagnostics"
ERROR_PAGES = ROOT / "docs" / "errors"
FILES = sorted(DIAGNOSTICS.glob("*.policy"))

# mypy-style inline expectations: `# E: CODE message fragment` (or `# W:` for a warning) on the line
# the diagnostic is reported at.  A file with no room for a comment lists its expectations here.
_EXPECTATION = re.compile(r"#\s*([EW]):\s*([EW]\d{3})\s*([^#]*)")
WITHOUT_COMMENTS = {"empty.policy": [(1, "W108", "no `policy` header")]}


def expectations(path: Path) -> list[tuple[int, str, str]]:
    if path.name in WITHOUT_COMMENTS:
        return WITHOUT_COMMENTS[path.name]
    found = []
    text = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), start=1):
        for kind, code, fragment in _EXPECTATION.findall(line):
            assert (kind == "W") == code.startswith("W"), f"{path.name}:{number}: `# {kind}:` with {code}"
            found.append((number, code, fragment.strip()))
    return found


def run_check(path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`policydsl check` as a user runs it, from the file's directory."""
    monkeypatch.chdir(path.parent)
    result = CliRunner().invoke(main, ["check", "--format", fmt, path.name])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def front_end(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Diagnostic], dict[str, SourceFile]]:
    """The diagnostics of reading, parsing and type checking, without the later analyses, so that
    these golden files change only when the front end's messages do."""
    monkeypatch.chdir(path.parent)
    sink = Sink()
    checked = check_file(path.name, sink)
    sources = {} if checked.source is None else {checked.source.name: checked.source}
    return sink.diagnostics, sources


def test_there_are_enough_golden_files() -> None:
    assert len(FILES) >= 30
    assert all(expectations(f) for f in FILES), "every golden file states what it expects"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_golden_output(path: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    found, sources = front_end(path, monkeypatch)
    golden(path.with_suffix(".out"), format_text(found, sources) + "\n", update_golden)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_inline_expectations(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found, _ = front_end(path, monkeypatch)
    located = [(d.span.line if d.span else 0, d.code, d.message) for d in found]
    assert sorted((line, code) for line, code, _ in located) == sorted(
        (line, code) for line, code, _ in expectations(path)
    )
    for line, code, fragment in expectations(path):
        messages = [m for at, c, m in located if (at, c) == (line, code)]
        assert any(fragment in m for m in messages), f"line {line} {code}: {fragment!r} not in {messages}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_check_exit_code(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = run_check(path, "text", monkeypatch)
    errors_expected = any(c.startswith("E") for _, c, _ in expectations(path))
    assert code == (1 if errors_expected else 0)
    assert "Traceback" not in output
    assert (
        output.rstrip()
        .splitlines()[-1]
        .startswith(("1 file checked", "ok: 1 file checked", "已检查 1 个文件", "通过：已检查 1 个文件"))
    )


def test_several_errors_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    found, _ = front_end(DIAGNOSTICS / "syntax_several_errors.policy", monkeypatch)
    assert len({d.span.line for d in found if d.span}) >= 4


# ------------------------------------------------------------------------- JSON format


def test_json_format_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = run_check(DIAGNOSTICS / "names_duplicate.policy", "json", monkeypatch)
    assert code == 1
    items = json.loads(output)
    assert items, "the file has errors"
    for item in items:
        assert set(item) == {
            "code",
            "severity",
            "message",
            "message_id",
            "args",
            "location",
            "notes",
            "hint",
            "details",
        }
        assert item["severity"] in ("error", "warning", "info")
        assert set(item["location"]) == {"file", "line", "col", "end_line", "end_col"}
        assert item["location"]["file"] == "names_duplicate.policy"
        assert isinstance(item["details"], dict)
    first = next(i for i in items if i["message"] == "`investment` is already defined")
    where = {"file": "names_duplicate.policy", "line": 3, "col": 6, "end_line": 3, "end_col": 16}
    assert first["location"] == where
    first_defined = {**where, "line": 2, "end_line": 2}
    note = {"message": "first defined here", "message_id": "note.first_defined", "location": first_defined}
    assert first["notes"] == [note]
    assert first["message_id"] == "check.already_defined"
    assert first["args"] == {"name": "investment"}
    assert first["hint"] is None


def test_json_format_of_a_clean_file(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = run_check(ROOT / "policies" / "jiangmen_special_fund.policy", "json", monkeypatch)
    assert code == 0
    items = json.loads(output)
    assert isinstance(items, list)
    # the analyses may report findings (P…); the front end reports nothing
    assert [i for i in items if i["code"][0] in "EW"] == []


def test_json_hint_and_unreadable_file(monkeypatch: pytest.MonkeyPatch) -> None:
    _, output = run_check(DIAGNOSTICS / "names_unknown.policy", "json", monkeypatch)
    hints = [d["hint"] for d in json.loads(output)]
    assert "did you mean `investment`?" in hints
    monkeypatch.chdir(DIAGNOSTICS)
    result = CliRunner().invoke(main, ["check", "--format", "json", "no_such_file.policy"])
    (item,) = json.loads(result.output)
    assert item["code"] == "E004" and item["location"] is None
    assert result.exit_code == 2  # a file that cannot be read is a usage error


# ------------------------------------------------------------------------- error-code pages


# the pages of the front end's codes; the analyses' P… pages are tested with the analyses, and
# tests/test_codes.py checks that every code of the registry has a page and every page a code
PAGES = sorted(p for p in ERROR_PAGES.glob("*.md") if p.stem[0] in "EW")


_BLOCK = re.compile(r"^```(policy|policy-bytes|text)\n(.*?)^```$", re.M | re.S)


def _section(page: str, title: str) -> str:
    m = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", page, re.M | re.S)
    assert m, f"no `## {title}` section"
    return m.group(1)


def _run(kind: str, body: str) -> tuple[list[Diagnostic], dict[str, SourceFile]]:
    sink = Sink()
    if kind == "policy-bytes":
        # the example is written with \xNN escapes for bytes a page cannot hold
        from policydsl.checking.frontend import load_bytes

        data, _ = codecs.escape_decode(body.encode("utf-8"))
        loaded = load_bytes("example.policy", data, sink)
        sources = {} if loaded.source is None else {"example.policy": loaded.source}
    else:
        checked = check_text("example.policy", body, sink)
        sources = {} if checked.source is None else {"example.policy": checked.source}
    return sink.diagnostics, sources


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page(page: Path, update_golden: bool) -> None:
    code = page.stem
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {code}: {CODES[code].title}\n"), "the page starts with `# CODE: title`"
    for title in ("Cause", "Example", "Message", "Fix"):
        _section(text, title)
    (kind, example), *_ = _BLOCK.findall(_section(text, "Example"))
    diagnostics, sources = _run(kind, example)
    produced = [d for d in diagnostics if d.code == code]
    assert produced, f"the example of {code} does not produce it: {[d.code for d in diagnostics]}"
    shown = format_text(produced, sources)
    message_section = _section(text, "Message")
    block = re.search(r"^```text\n(.*?)^```$", message_section, re.M | re.S)
    assert block, "the Message section has a ```text block"
    if update_golden:
        new = message_section[: block.start(1)] + shown + "\n" + message_section[block.end(1) :]
        page.write_text(text.replace(message_section, new, 1), encoding="utf-8")
        return
    assert block.group(1) == shown + "\n", "the Message section shows the current output (--update-golden)"
    fixes = _BLOCK.findall(_section(text, "Fix"))
    for kind, fixed in fixes:
        if kind == "text":
            continue
        after, _ = _run(kind, fixed)
        assert not [d for d in after if d.code == code or d.severity is Severity.ERROR], (
            f"the fix still reports {[(d.code, d.message) for d in after]}"
        )


# ------------------------------------------------------------------ proposed edits (Diagnostic.fix)

_HEAD = 'policy "修正" { issuer "测试" issued 2022-01-01 }\nfact served "服务家数": count 家 >= 0\n'
_HEAD_ZH = '政策 "修正" { 发文机关 "测试" 印发 2022-01-01 }\n事实 服务家数 "服务家数": 数量 家 >= 0\n'
# one case per place that proposes an edit; each must give at least one fix
FIX_CASES = {
    "count times money (E203)": _HEAD + 'measure m "措施" { award served * 5万 }\n',
    "count times money, the money first (E203)": _HEAD + 'measure m "措施" { award 200000元 * served }\n',
    "number and unit apart": _HEAD + 'measure m "措施" {\n  award 50 万\n}\n',
    "keyword glued to a name": '事实 国家级 "国家级认定": 布尔\n措施 奖励 {\n  给予 50万 如国家级\n}\n',
    "thousands separator": _HEAD + 'measure m "措施" {\n  award 1,000,000元\n}\n',
    "citation not quoted": _HEAD + 'measure m "措施" {\n  award 50万 cite 第十条\n}\n',
    "`=<` for `<=`": _HEAD + 'measure m "措施" {\n  award 50万 if served =< 3家\n}\n',
    # the same mistakes in files written with Chinese keywords: the edit uses the file's keywords
    "count times money, Chinese keywords (E203)": _HEAD_ZH + '措施 m "措施" { 给予 服务家数 * 5万 }\n',
    "number and unit apart, Chinese keywords": _HEAD_ZH + '措施 m "措施" {\n  给予 50 万\n}\n',
    "thousands separator, Chinese keywords": _HEAD_ZH + '措施 m "措施" {\n  给予 1,000,000元\n}\n',
    "citation not quoted, Chinese keywords": _HEAD_ZH + '措施 m "措施" {\n  给予 50万 依据 第十条\n}\n',
    "`=<` for `<=`, Chinese keywords": _HEAD_ZH + '措施 m "措施" {\n  给予 50万 如 服务家数 =< 3家\n}\n',
    "an example's amount without `=`": _HEAD
    + 'measure m "措施" { award 5万 }\nexample "e" { given { served: 1家 } expect m 5万 }\n',
    "an example's amount without `=`, Chinese keywords": _HEAD_ZH
    + '措施 m "措施" { 给予 5万 }\n示例 "e" { 已知 { 服务家数: 1家 } 预期 m 5万 }\n',
    # a percentage where an amount is due: their percentage, of the policy's first money fact
    "percentage as an amount (E206)": _HEAD
    + 'fact investment "投资额": money >= 0\n'
    + 'measure m "措施" { award 30% }\n',
    "percentage as an amount, Chinese keywords (E206)": _HEAD_ZH
    + '事实 投资 "投资额": 金额 >= 0\n'
    + '措施 m "措施" { 给予 30% }\n',
}


def test_a_percentage_as_an_amount_proposes_the_users_own_percentage_of_a_money_fact() -> None:
    head = _HEAD + 'fact spent "已投入": money >= 0\nfact investment "投资额": money >= 0\n'
    (error,) = _errors("case.policy", head + 'measure m "措施" { award 30% }\n')
    assert error.code == "E206" and error.fix is not None and error.fix.text == "30% * spent"
    assert error.hint is not None and "`30% * spent`" in error.hint
    # without a money fact: a sample name, and nothing to apply
    (error,) = _errors("case.policy", _HEAD + 'measure m "措施" { award 30% }\n')
    assert error.fix is None and error.hint is not None and "`30% * investment`" in error.hint


_ENGLISH_KEYWORDS = frozenset(english for english, _ in KEYWORDS.values())


def _errors(name: str, text: str) -> list[Diagnostic]:
    sink = Sink()
    check_text(name, text, sink)
    return [d for d in sink.diagnostics if d.severity is Severity.ERROR]


def _fixed(text: str, diagnostic: Diagnostic) -> str:
    assert diagnostic.fix is not None and diagnostic.span is not None
    span = diagnostic.fix.span
    assert span == diagnostic.span, "a fix replaces the text the diagnostic points at"
    return text[: span.start] + diagnostic.fix.text + text[span.end :]


def _assert_fixes_work(name: str, text: str) -> int:
    before = _errors(name, text)
    chinese = chinese_keywords(text)
    for diagnostic in (d for d in before if d.fix is not None):
        assert diagnostic.fix is not None and diagnostic.hint_msg is not None
        for lang in LANGS:  # the hint shows the edit in either language of the messages
            assert f"`{diagnostic.fix.text}`" in diagnostic.hint_msg.render(lang)
        if chinese:  # and in a file written with Chinese keywords, with Chinese keywords
            assert not set(re.findall(r"[a-z_]+", diagnostic.fix.text)) & _ENGLISH_KEYWORDS, diagnostic.fix
        after = _errors(name, _fixed(text, diagnostic))
        at = diagnostic.span.start  # type: ignore[union-attr]
        assert not any(d.code == diagnostic.code and d.span and d.span.start == at for d in after), after
        # no new error: what is left is among what was there (a syntax error hides the type checks)
        syntax = any(d.code in ("E001", "E002", "E003") for d in before)
        left = [d.code for d in after if not (syntax and d.code not in ("E001", "E002", "E003"))]
        for code in set(left):
            assert left.count(code) <= [d.code for d in before].count(code), (diagnostic, after)
    return sum(d.fix is not None for d in before)


@pytest.mark.parametrize("case", sorted(FIX_CASES))
def test_each_proposed_edit_parses_and_removes_its_error(case: str) -> None:
    assert _assert_fixes_work("case.policy", FIX_CASES[case]) >= 1


@pytest.mark.parametrize("path", sorted(DIAGNOSTICS.glob("*.policy")), ids=lambda p: p.stem)
def test_proposed_edits_in_the_golden_corpus_parse_and_remove_their_error(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    _assert_fixes_work(path.name, text)


@pytest.mark.parametrize("unit", [*UNITS, "标准箱"])
def test_the_per_unit_amount_a_hint_proposes_checks_for_every_unit(unit: str) -> None:
    # a count of any unit, built in or declared, has an amount per unit (`100元/亩`): the fix of
    # E203 proposes it, and in place it checks
    text = (
        'policy "亩" { issuer "测试" issued 2022-01-01 }\ndeclare_unit 标准箱\n'
        f'fact base_area "基地面积": count {unit} >= 0\n'
    )
    body = 'measure m "措施" { award base_area * 100元 }\n'
    errors = _errors("mu.policy", text + body)
    assert [d.code for d in errors] == ["E203"]
    fix = errors[0].fix
    assert fix is not None and fix.text == f"base_area * 100元/{unit}"
    fixed = text + body.replace("base_area * 100元", fix.text)
    assert _errors("mu.policy", fixed) == []


def test_the_per_unit_amount_a_hint_proposes_for_a_count_checks() -> None:
    # E206 proposes `5万/家 * served` with an example figure (so no fix): in place, it checks
    errors = _errors("case.policy", _HEAD + 'measure m "措施" { award served }\n')
    assert [d.code for d in errors] == ["E206"] and errors[0].span is not None
    proposed = re.findall(r"`([^`]*)`", errors[0].hint or "")[-1]
    assert proposed == "5万/家 * served"
    text = _HEAD + 'measure m "措施" { award served }\n'
    span = errors[0].span
    assert _errors("case.policy", text[: span.start] + proposed + text[span.end :]) == []
