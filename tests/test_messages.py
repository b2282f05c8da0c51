"""The message catalogue (policydsl/messages/catalog.toml): every entry in both languages with the
same placeholders, every id the code names in the catalogue, no entry unused, and the modules that
have moved onto it report no English-only text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink, format_text
from policydsl.messages import Message, catalog, default_lang, msg, placeholders
from tests.conftest import ROOT

PACKAGE = ROOT / "policydsl"
# Ids named in the code: `msg("check.unknown_unit", …)`, and `counted("summary.error", n)` for the
# `_one`/`_many` pair, and the input problems of evaluation/runtime.py: `problem("input.not_a_date", …)`.
_MSG = re.compile(r'\bmsg\(\s*"([a-z0-9_.]+)"')
_COUNTED = re.compile(r'\bcounted\(\s*"([a-z0-9_.]+)"')
_PROBLEM = re.compile(r'\b(?:problem|_bad)\(\s*"([a-z0-9_.]+)"')
_CUT = re.compile(r'"(summary\.cut_(?:one|many))"')
# Modules whose every message, note and hint comes from the catalogue.
CONVERTED = (
    "checking/typecheck.py",
    "syntax/parser.py",
    "syntax/builder.py",
    "checking/frontend.py",
    "analysis/caps.py",
    "analysis/combinations.py",
    "analysis/clauses.py",
    "analysis/gaps.py",
    "analysis/language.py",
    "analysis/run.py",
    "analysis/undetermined.py",
    "analysis/report.py",
    "render/report.py",
    "evaluation/simulate.py",
    "render/simulate.py",
    "commands/simulate.py",
)


def used_ids() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        found |= set(_MSG.findall(source)) | set(_CUT.findall(source)) | set(_PROBLEM.findall(source))
        for stem in _COUNTED.findall(source):
            found |= {f"{stem}_one", f"{stem}_many"}
    return found


def test_every_entry_has_both_languages_with_the_same_placeholders() -> None:
    for id, entry in catalog().items():
        assert set(entry) == {"en", "zh"}, id
        assert entry["en"].strip() and entry["zh"].strip(), id
        assert placeholders(entry["en"]) == placeholders(entry["zh"]), id


def test_every_id_the_code_names_is_in_the_catalogue_and_every_entry_is_used() -> None:
    used = used_ids()
    assert used - set(catalog()) == set()
    assert set(catalog()) - used == set()


@pytest.mark.parametrize("module", CONVERTED)
def test_converted_modules_report_no_literal_text(module: str) -> None:
    source = (PACKAGE / module).read_text(encoding="utf-8")
    literal = re.compile(r'(?:report\(\s*codes\.\w+,|Note\(|hint=)\s*f?"')
    assert literal.findall(source) == []


def test_an_unknown_id_fails_at_once() -> None:
    with pytest.raises(KeyError):
        msg("check.no_such_message")


def test_words_are_rendered_in_the_message_language() -> None:
    m = msg("check.keyword_name", name="if", what=msg("word.fact"))
    assert m.render("en") == "`if` is a keyword and cannot name a fact"
    assert m.render("zh") == "`if` 是关键字，不能用作事实的名称"


CHINESE_MISTAKE = """政策 "t" { 发文机关 "x" 印发 2021-05-16 }
事实 investment "投资额": 金额 >= 0
措施 m "m" {
  给予 50% + investment
}
"""


def test_a_chinese_file_gets_chinese_messages_and_hints_in_its_keywords() -> None:
    sink = Sink()
    checked = check_text("t.policy", CHINESE_MISTAKE, sink)
    assert checked.source is not None
    text = format_text(sink.diagnostics, {"t.policy": checked.source}, "zh")
    assert "error[E201]: 不能把百分比和金额相加" in text
    assert "= hint: 金额的百分比是乘积：`50% * investment`" in text  # its own money fact
    english = format_text(sink.diagnostics, {"t.policy": checked.source}, "en")
    assert "cannot add an amount of money to a percentage" in english


def test_the_default_language() -> None:
    assert default_lang(True, {}) == "zh"
    assert default_lang(False, {"LANG": "zh_CN.UTF-8"}) == "en"
    assert default_lang(None, {"LANG": "zh_CN.UTF-8"}) == "zh"
    assert default_lang(None, {"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}) == "en"
    assert default_lang(None, {}) == "en"
    assert default_lang(True, {"POLICYDSL_LANG": "en"}) == "en"


def test_check_speaks_the_files_keyword_language_and_lang_overrides(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from policydsl.commands.cli import main

    path = tmp_path / "t.policy"
    path.write_text(CHINESE_MISTAKE, encoding="utf-8")
    runner = CliRunner()
    zh = runner.invoke(main, ["check", str(path)])
    assert zh.exit_code == 1
    assert "不能把百分比和金额相加" in zh.output
    assert zh.output.rstrip().splitlines()[-1].startswith("已检查 1 个文件：1 个错误")
    en = runner.invoke(main, ["check", "--lang", "en", str(path)])
    assert "cannot add an amount of money to a percentage" in en.output
    assert en.output.rstrip().splitlines()[-1].startswith("1 file checked: 1 error")
    env = runner.invoke(main, ["check", str(path)], env={"POLICYDSL_LANG": "en"})
    assert "cannot add" in env.output
    data = runner.invoke(main, ["check", "--format", "json", str(path)])
    [item] = json.loads(data.output)
    assert item["message"] == "不能把百分比和金额相加"
    assert item["message_id"] == "check.cannot_add"
    assert item["args"]["left"] == {"message_id": "type.percent", "args": {}}


def test_a_commands_lang_choice_ends_with_the_command(tmp_path: Path) -> None:
    """`--lang` (or POLICYDSL_LANG) chooses the language of one command: once it has run, messages
    about a file are again in its keyword language (a choice that outlived its command made later
    Chinese diagnostics English in the same process, e.g. a test run)."""
    from click.testing import CliRunner

    from policydsl.commands.cli import main
    from policydsl.messages import chosen

    path = tmp_path / "t.policy"
    path.write_text(CHINESE_MISTAKE, encoding="utf-8")
    runner = CliRunner()
    for args, env in (
        (["check", "--lang", "en", str(path)], {}),
        (["check", str(path)], {"POLICYDSL_LANG": "en"}),
    ):
        result = runner.invoke(main, args, env=env)
        assert "cannot add" in result.output
        assert default_lang(True) == "zh"
        assert chosen() is None


def test_render_example_message_gives_the_check_output_in_either_language() -> None:
    from policydsl.analysis.report import render_example_message

    zh = render_example_message(CHINESE_MISTAKE, "zh")
    assert zh.startswith("example.policy:4:")
    assert "error[E201]: 不能把百分比和金额相加" in zh
    assert "error[E201]: cannot add" in render_example_message(CHINESE_MISTAKE, "en")


def _catalogued(message: Message) -> bool:
    """The message is a catalogue entry, and so is every word in it; only code (text in
    backquotes: a keyword, a figure, a proposed edit) may be plain text, the same in both languages."""
    if message.id is None:
        return re.fullmatch(r"`[^`]*`", message.literal) is not None
    words = [v for _, v in message.args if isinstance(v, Message)]
    words += [w for _, v in message.args if isinstance(v, tuple) for w in v if isinstance(w, Message)]
    return all(_catalogued(w) for w in words)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "tests" / "data" / "diagnostics").glob("*.policy")), ids=lambda p: p.stem
)
def test_every_front_end_diagnostic_of_the_corpus_comes_from_the_catalogue(path: Path) -> None:
    # the class of "a message left in English": whatever the parser, the builder and the checker
    # report on the corpus of mistakes has a catalogue id for its message, notes and hint
    sink = Sink()
    check_text(path.name, path.read_bytes().decode("utf-8", errors="replace"), sink)
    for d in sink.diagnostics:
        parts = [d.msg, *(n.msg for n in d.notes), *([d.hint_msg] if d.hint_msg else [])]
        assert all(_catalogued(m) for m in parts), d


def test_a_chinese_syntax_error_reads_in_chinese_with_chinese_keywords() -> None:
    text = (
        '政策 "t" { 发文机关 "x" 印发 2021-05-16 }\n事实 收入 "收入": 金额 >= 0\n'
        '措施 m "m" {\n  给予 30万 收入 超过 2000万\n}\n'
    )
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    [d] = sink.diagnostics
    assert d.msg.render("zh") == "条件须以 `如` 开头"
    assert d.hint_msg is not None and "`给予 50万 如 营业收入 超过 2000万`" in d.hint_msg.render("en")
    assert checked.source is None or "error[E001]: 条件须以" in format_text(
        sink.diagnostics, {"t.policy": checked.source}
    )


_ZH_HEAD = (
    '政策 "t" { 发文机关 "x" 印发 2021-05-16 }\n事实 投资额 "投资额": 金额 >= 0\n事实 认定 "认定日期": 日期\n'
)
# hints whose example code once had English names or keywords in a Chinese-keyword file
ZH_HINTS = {
    "schedule outside an amount": (
        '参数 p "p": 比例 = 逐年 认定 { 第1至2年: 80% }\n',
        "逐年 认定日期 { 第1至2年",
    ),
    "schedule from a non-date": (
        '措施 m "m" { 给予 逐年 投资额 { 第1至2年: 5万 } }\n',
        "逐年 认定日期 { 第1至2年",
    ),
    "years backwards": ('措施 m "m" { 给予 逐年 认定 { 第3至1年: 5万 } }\n', "第1至3年"),
    "brackets of a date": ('措施 m "m" { 给予 超额累进 认定 { 不超过 1000万: 10% } }\n', "投资额 {"),
    "blocks with one argument": ('措施 m "m" { 给予 每满(投资额) * 1万 }\n', "(投资额 - 1000万, 100万)"),
}


@pytest.mark.parametrize("case", sorted(ZH_HINTS))
def test_hints_in_a_chinese_keyword_file_propose_chinese_code(case: str) -> None:
    body, expected = ZH_HINTS[case]
    sink = Sink()
    check_text("t.policy", _ZH_HEAD + body, sink)
    hints = [d.hint_msg.render("zh") for d in sink.diagnostics if d.hint_msg is not None]
    assert any(expected in h for h in hints), hints
    for hint in hints:  # code in a hint: no English keyword, no English sample name
        for code in re.findall(r"`([^`]*)`", hint):
            assert not re.search(r"[a-z]{3,}", code.replace("--", "")), hint


CHINESE_EXAMPLES = """政策 "示例测试" { 发文机关 "测试机关" 印发 2021-01-01 }
事实 营业收入 "营业收入": 金额 >= 0
措施 big "大平台" {
  给予 50万 如 营业收入 2000万 以上
}
示例 "门槛上" {
  已知 { 营业收入: 2000万 }
  预期 big = 50万
}
示例 "算错了" {
  已知 { 营业收入: 3000万 }
  预期 big = 60万
}
"""


def test_policydsl_test_speaks_the_files_language_and_keeps_the_tally(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from policydsl.commands.cli import main

    path = tmp_path / "t.policy"
    path.write_text(CHINESE_EXAMPLES, encoding="utf-8")
    zh = CliRunner().invoke(main, ["test", "--coverage", str(path)])
    assert zh.exit_code == 1
    assert 'FAILED 示例 "算错了" 未通过' in zh.output
    assert "big：预期 = 60万元，实得 确定金额 50万元" in zh.output
    assert "覆盖率" in zh.output
    assert zh.output.rstrip().splitlines()[-1] == "1 passed, 1 failed"  # tools read the tally
    en = CliRunner().invoke(main, ["test", "--lang", "en", str(path)])
    assert 'FAILED example "算错了"' in en.output and "big: expected = 60万元, got" in en.output


MERGEABLE_ZH = """政策 "合并" { 发文机关 "测试" 印发 2021-01-01 }
枚举 level "级别" { national "国家级", provincial "省级", city "市级" }
事实 revenue "营业收入": 金额 >= 0
事实 tier "认定级别": level
措施 m "奖励" {
  给予 a: 10万 如 revenue >= 100万 且 revenue < 500万
  给予 b: 10万 如 revenue >= 500万 且 revenue < 1000万
}
措施 n "认定奖励" {
  给予 a: 20万 如 tier == national
  给予 b: 20万 如 tier == provincial
}
combine_line
"""


def test_the_merged_condition_a_hint_proposes_is_in_the_files_keywords_and_parses() -> None:
    from policydsl.analysis.run import Options, analyse

    text = MERGEABLE_ZH.replace("combine_line\n", '合并 就高 { m, n } "测试"\n')
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.msg.render("zh") for d in sink.diagnostics]
    found = analyse(checked.model, text, Options()).findings
    merged = [
        re.search(r"条件为 (.+)$", d.hint_msg.render("zh")) for d in found if d.code == "P501" and d.hint_msg
    ]
    conditions = sorted(m.group(1) for m in merged if m is not None)
    assert conditions == ["revenue >= 100万 且 revenue < 1000万", "tier 属于 [national, provincial]"]
    for condition in conditions:  # the proposed condition is code this file can hold
        again = Sink()
        check_text("t.policy", text.replace("如 tier == national", f"如 {condition}"), again)
        assert not again.has_errors, [d.msg.render("zh") for d in again.diagnostics]


def test_a_finding_that_could_not_be_checked_says_why_in_the_files_language() -> None:
    from policydsl.analysis.run import Options, analyse

    text = (
        '政策 "t" { 发文机关 "x" 印发 2021-05-16 }\n事实 region "所在区域": 文本\n'
        '措施 m "m" { 给予 5万 如 region == region }\n'
    )
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    assert checked.model is not None and not sink.has_errors
    (finding,) = [d for d in analyse(checked.model, text, Options()).findings if d.code == "P901"]
    assert finding.msg.render("zh").endswith("无法对 text 类型的事实进行推理")
    assert finding.msg.render("en").endswith("a text fact cannot be reasoned about")
