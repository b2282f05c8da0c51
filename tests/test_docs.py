"""docs/language.md: every example is parsed and type-checked, and the generated tables (keywords,
statutory words, vocabularies) match policydsl/syntax/keywords.py.

Conventions for the example blocks of language.md:

- ```policy prelude    declarations every ```policy block may use; given once, near the top;
- ```policy            a fragment: checked after the prelude, with no error or warning;
- ```policy standalone a whole file, checked alone, with no error or warning;
- ```policy-error      checked after the prelude (or alone, with `standalone`); each line that
                       must report a code says so in a comment, `# E: E203` or `# W: W210`, and
                       nothing else may be reported.
"""

from __future__ import annotations

import re

import pytest

from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.syntax.keywords import (
    ALLOCATIONS,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    POSTFIX_WORDS,
    PREFIX_WORDS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    TYPE_NAMES,
)
from tests.conftest import ROOT

LANGUAGE = ROOT / "docs" / "language.md"
_FENCE = re.compile(r"^```(policy(?:-error)?)([^\n]*)\n(.*?)^```$", re.M | re.S)
_EXPECT = re.compile(r"#\s*[EW]:\s*([EW]\d{3})")


def _blocks() -> list[tuple[int, str, set[str], str]]:
    """(line in language.md, kind, options, text) of every policy block."""
    text = LANGUAGE.read_text(encoding="utf-8")
    found = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append((line, m.group(1), set(m.group(2).split()), m.group(3)))
    return found


def _prelude() -> str:
    preludes = [body for _, kind, options, body in _blocks() if kind == "policy" and "prelude" in options]
    assert len(preludes) == 1, "language.md has one ```policy prelude block"
    return preludes[0]


BLOCKS = [b for b in _blocks() if "prelude" not in b[2]]


def _check(kind: str, options: set[str], body: str) -> list[tuple[int, str, str]]:
    """(line within the block, code, message) of what the block reports."""
    prefix = "" if "standalone" in options else _prelude()
    offset = prefix.count("\n")
    sink = Sink()
    check_text("example.policy", prefix + body, sink)
    return [(d.span.line - offset if d.span else 0, d.code, d.message) for d in sink.diagnostics]


def test_there_are_many_examples() -> None:
    assert len(BLOCKS) >= 50
    assert sum(1 for _, kind, _, _ in BLOCKS if kind == "policy-error") >= 5
    assert sum(1 for _, _, options, _ in BLOCKS if "standalone" in options) >= 2


def test_the_prelude_checks_clean() -> None:
    sink = Sink()
    check_text("prelude.policy", _prelude(), sink)
    assert sink.diagnostics == []


@pytest.mark.parametrize(
    ("line", "kind", "options", "body"), BLOCKS, ids=[f"language.md:{b[0]}" for b in BLOCKS]
)
def test_example(line: int, kind: str, options: set[str], body: str) -> None:
    reported = _check(kind, options, body)
    if kind == "policy":
        assert reported == [], f"language.md:{line}: {reported}"
        return
    expected = sorted(
        (number, code)
        for number, text in enumerate(body.split("\n"), start=1)
        for code in _EXPECT.findall(text)
    )
    assert expected, f"language.md:{line}: a policy-error block names the codes it expects"
    assert sorted((at, code) for at, code, _ in reported) == expected, f"language.md:{line}: {reported}"


EXAMPLES = [b for b in BLOCKS if b[1] == "policy" and re.search(r"^(example|示例) ", b[3], re.M)]


def test_some_blocks_hold_worked_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(
    ("line", "kind", "options", "body"), EXAMPLES, ids=[f"language.md:{b[0]}" for b in EXAMPLES]
)
def test_worked_examples_hold(line: int, kind: str, options: set[str], body: str) -> None:
    """The `example` blocks of the document say what the reference interpreter computes."""
    from policydsl.evaluation.examples import run_examples

    text = body if "standalone" in options else _prelude() + body
    sink = Sink()
    checked = check_text("example.policy", text, sink)
    assert checked.model is not None
    results = run_examples(checked.model, text)
    assert results
    assert [r.failures for r in results if not r.passed] == [], f"language.md:{line}"


def test_a_whole_example_in_chinese_keywords() -> None:
    chinese = [b for _, _, options, b in BLOCKS if "standalone" in options and b.startswith("政策")]
    assert chinese, "language.md shows a whole policy written with Chinese keywords"
    english_keywords = {en for en, _ in KEYWORDS.values()}
    words = set(re.findall(r"[A-Za-z_]+", re.sub(r'"[^"]*"|#[^\n]*', "", chinese[0])))
    assert not words & english_keywords


# ------------------------------------------------------------------------- generated tables


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _vocabulary(table: dict[str, str]) -> list[tuple[str, str]]:
    chinese = {en: zh for zh, en in table.items() if zh != en}
    return [(f"`{en}`", f"`{chinese[en]}`") for en in dict.fromkeys(table.values())]


GENERATED = {
    "keywords": lambda: _table([(f"`{en}`", f"`{zh}`") for en, zh in KEYWORDS.values()], ("English", "中文")),
    "statutory-words": lambda: _table(
        [(f"`{w}`", "before the number", f"`{op}`") for w, op in PREFIX_WORDS.items()]
        + [(f"`{w}`", "after the number", f"`{op}`") for w, op in POSTFIX_WORDS.items()],
        ("word", "stands", "means"),
    ),
    "types": lambda: _table(_vocabulary(TYPE_NAMES), ("type", "中文")),
    "payment-forms": lambda: _table(_vocabulary(PAYMENT_FORMS), ("payment form", "中文")),
    "rounding": lambda: _table(
        _vocabulary(ROUNDING_UNITS) + _vocabulary(ROUNDING_MODES), ("rounding word", "中文")
    ),
    "combine-modes": lambda: _table(_vocabulary(COMBINE_MODES), ("combination", "中文")),
    "allocations": lambda: _table(_vocabulary(ALLOCATIONS), ("allocation", "中文")),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_table(name: str, update_golden: bool) -> None:
    text = LANGUAGE.read_text(encoding="utf-8")
    begin, end = f"<!-- generated:{name} -->\n", f"<!-- end:{name} -->"
    assert begin in text and end in text, f"language.md has the {name} table between its markers"
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    expected = GENERATED[name]()
    if update_golden:
        LANGUAGE.write_text(text[:start] + expected + text[stop:], encoding="utf-8")
        return
    assert text[start:stop] == expected, f"the {name} table is out of date (pytest --update-golden)"


def test_every_keyword_is_mentioned_outside_the_table() -> None:
    # each keyword is explained somewhere, not only listed
    text = LANGUAGE.read_text(encoding="utf-8")
    body = re.sub(r"<!-- generated:keywords -->.*?<!-- end:keywords -->", "", text, flags=re.S)
    missing = [en for en, _ in KEYWORDS.values() if f"`{en}" not in body and f" {en} " not in body]
    assert missing == []


# ------------------------------------------------------------- docs/review.md and docs/review.en.md

REVIEW = {"zh": ROOT / "docs" / "review.md", "en": ROOT / "docs" / "review.en.md"}
_SPAN = re.compile(r"`([^`\n]+)`")

# the measures the acknowledgement in the review pages names, in a policy where they overlap
_ACK_CONTEXT = """政策 "示例" { 发文机关 "测试" 印发 2022-03-01 }
事实 交易额 "年交易额": 金额 >= 0
措施 大型平台 "大型平台奖励" 依据 "三(二)3" {
  给予 500万 如 交易额 达到 10亿
}
措施 专业型平台 "专业型平台奖励" 依据 "三(二)3" {
  给予 50万 如 交易额 达到 1亿
}
"""


def _review(lang: str) -> str:
    return REVIEW[lang].read_text(encoding="utf-8")


def test_the_review_pages_link_to_each_other() -> None:
    assert "[English](review.en.md)" in _review("zh").splitlines()[:4]
    assert "[中文](review.md)" in _review("en").splitlines()[:4]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/review.md" in readme and "docs/errors/zh/" in readme


@pytest.mark.parametrize("lang", sorted(REVIEW))
def test_every_command_and_option_the_review_page_names_exists(lang: str) -> None:
    import click

    from policydsl.commands.cli import main

    assert isinstance(main, click.Group)
    spans = _SPAN.findall(_review(lang))
    commands = [s.split() for s in spans if s.startswith("policydsl ")]
    assert len(commands) >= 4
    for words in commands:
        command = main.commands.get(words[1])
        assert command is not None, f"`{' '.join(words)}`: no command `{words[1]}`"
        known = {opt for param in command.params for opt in param.opts}
        unknown = [w for w in words if w.startswith("-") and w not in known]
        assert not unknown, f"`{' '.join(words)}`: {unknown} are not options of `{words[1]}`"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for span in spans:
        if span.startswith("make "):
            assert re.search(rf"^{re.escape(span.split()[1])}:", makefile, re.M), span


@pytest.mark.parametrize("lang", sorted(REVIEW))
def test_the_acknowledgement_the_review_page_shows_settles_its_finding(lang: str) -> None:
    from policydsl.analysis.run import Options, analyse

    (block,) = re.findall(r"^```policy\n(.*?)^```$", _review(lang), re.M | re.S)
    assert block.startswith(KEYWORDS["acknowledge"][1] + " ")
    for text, expected in ((_ACK_CONTEXT, ["P201"]), (_ACK_CONTEXT + block, [])):
        sink = Sink()
        checked = check_text("ack.policy", text, sink)
        assert checked.model is not None and sink.diagnostics == []
        findings = analyse(checked.model, text, Options(timeout_ms=10000)).findings
        assert [d.code for d in findings if d.code.startswith("P2")] == expected
    # the keywords and vocabulary words the page names are the language's
    spans = set(_SPAN.findall(_review(lang)))
    assert {"acknowledge", "确认"} <= spans
    assert KEYWORDS["acknowledge"] == ("acknowledge", "确认")
    assert COMBINE_MODES["就高"] == "highest" and KEYWORDS["combine"] == ("combine", "合并")
