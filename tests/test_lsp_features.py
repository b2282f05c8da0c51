"""The language server's answers as plain functions (policydsl/lsp/features.py, positions.py), without
the protocol: positions in UTF-16, the same diagnostics as `check`, every proposed edit as an action."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Diagnostic, Fix, Severity, Sink
from policydsl.lsp import features
from policydsl.lsp.positions import offset, position, span_range
from policydsl.messages import choose
from policydsl.source import SourceFile
from policydsl.syntax import ast
from tests.conftest import DATA, POLICIES
from tests.test_diagnostics import FIX_CASES


@pytest.fixture(autouse=True)
def _no_chosen_language() -> None:
    """A command run in this process earlier may have chosen a language (`--lang`); the server's
    language comes from the file or its own option."""
    choose(None)


BMP_AND_BEYOND = '# 𠀀 is outside the BMP: two UTF-16 units\nfact x "𠀀甲": money\n'


@pytest.mark.parametrize("text", [BMP_AND_BEYOND, "a\r\nb𝄞c\n\n末", "", "无换行"])
def test_positions_count_utf16_units_and_go_back_to_the_same_offset(text: str) -> None:
    source = SourceFile("t.policy", text)
    for at in range(len(text) + 1):
        where = position(source, at)
        line_start = source.line_starts[where.line]
        assert where.character == len(text[line_start:at].encode("utf-16-le")) // 2
        assert offset(source, where) == at


def test_a_character_outside_the_bmp_moves_the_range_two_units() -> None:
    text = (
        'policy "t" { issuer "x" issued 2022-01-01 }\nfact x "𠀀": money >= 0\nmeasure m "m" { award 𠀀y }\n'
    )
    doc = features.open_document("file:///t.policy", text)
    (shown,) = [d for d in features.diagnostics(doc, doc.problems) if d.code == "E003"] or [None]
    assert shown is None or shown.range.start.line == 2
    line = text.split("\n")[1]
    assert position(doc.source, text.index("money")).character == len(line[: line.index("money")]) + 1


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_the_diagnostics_are_checks_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    sink = Sink()
    check_text(path.name, text, sink)
    doc = features.open_document(path.as_uri(), text)
    assert list(doc.problems) == sink.diagnostics
    shown = features.diagnostics(doc, doc.problems)
    assert [d.code for d in shown] == [d.code for d in sink.diagnostics]


def test_messages_follow_the_file_and_the_lang_option() -> None:
    text = FIX_CASES["count times money, Chinese keywords (E203)"]
    (zh,) = features.diagnostics(*_with(features.open_document("file:///c.policy", text)))
    (en,) = features.diagnostics(*_with(features.open_document("file:///c.policy", text, "en")))
    assert "金额" in zh.message and "money" in en.message
    assert zh.code_description is not None and zh.code_description.href.endswith("zh/E203.md")


def _with(doc: features.Document) -> tuple[features.Document, tuple[Diagnostic, ...]]:
    return doc, doc.problems


def _apply(doc: features.Document, action: lsp.CodeAction) -> str:
    assert action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes[doc.uri]
    start, end = offset(doc.source, edit.range.start), offset(doc.source, edit.range.end)
    return doc.text[:start] + edit.new_text + doc.text[end:]


@pytest.mark.parametrize("case", sorted(FIX_CASES))
def test_every_proposed_edit_is_an_action_that_removes_its_error(case: str) -> None:
    doc = features.open_document("file:///case.policy", FIX_CASES[case])
    fixed = [d for d in doc.problems if d.fix is not None]
    assert fixed
    for d in fixed:
        assert d.span is not None
        actions = features.code_actions(doc, doc.problems, span_range(doc.source, d.span))
        action = next(a for a in actions if d.fix is not None and a.title.endswith(f"`{d.fix.text}`"))
        after = features.open_document(doc.uri, _apply(doc, action))
        assert not [e for e in after.problems if e.code == d.code and e.span and e.span.start == d.span.start]


def test_a_finding_about_named_clauses_can_be_acknowledged() -> None:
    text = 'policy "t" { issuer "x" issued 2022-01-01 }\nmeasure m "m" { award 1万 }\n'
    doc = features.open_document("file:///a.policy", text)
    span = doc.source.span(text.index("measure"), text.index("measure") + 7)
    finding = Diagnostic("P201", Severity.WARNING, "overlap", span, data={"targets": ["m", "n"]})
    (ack,) = features.code_actions(doc, [finding], span_range(doc.source, span))
    assert _apply(doc, ack).endswith('acknowledge P201 { m, n } "reason"\n')
    combined = Diagnostic("P206", Severity.WARNING, "combine", span, fix=Fix(span, "combine added { m }\n"))
    titles = [a.title for a in features.code_actions(doc, [combined], span_range(doc.source, span))]
    assert titles == ["Apply: `combine added { m }`"]


def test_formatting_is_refused_for_a_file_that_does_not_parse() -> None:
    doc = features.open_document("file:///b.policy", 'measure m "m" { award }')
    assert features.formatting(doc) is None
    assert features.refused_formatting(doc)


def test_hover_on_a_citation_shows_the_article_from_the_source_document() -> None:
    path = POLICIES / "jiangmen_special_fund.policy"
    text = path.read_text(encoding="utf-8")
    doc = features.open_document(path.as_uri(), text)
    at = text.index('cite "第八条(三)"') + len('cite "') + 1
    hover = features.hover(doc, position(doc.source, at))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "第八条(三)" in hover.contents.value and "> " in hover.contents.value


# Every construct names things somewhere: the bundled policies and the corpus that uses every node
# class (tests/data/codegen/constructs.policy), in both keyword spellings.
NAMED = [
    *sorted(POLICIES.glob("*.policy")),
    *(DATA / "codegen" / n for n in ("constructs.policy", "combine_all.policy")),
    DATA / "fmt" / "messy_chinese.policy",
    DATA / "analysis" / "findings_zh.policy",
]


@pytest.mark.parametrize("path", NAMED, ids=lambda p: p.stem)
def test_every_name_written_answers_hover_definition_and_references(path: Path) -> None:
    doc = features.open_document(path.as_uri(), path.read_text(encoding="utf-8"))
    assert doc.index is not None and doc.index.occurrences
    for o in doc.index.occurrences:
        entity = doc.index.entities[o.key]
        inside = position(doc.source, (o.span.start + o.span.end) // 2)
        hover = features.hover(doc, inside)
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent), o
        assert entity.name.split(".")[-1] in hover.contents.value, o
        if entity.at is not None:
            (where,) = features.definition(doc, inside)
            assert where.range == span_range(doc.source, entity.at), o
        assert span_range(doc.source, o.span) in [r.range for r in features.references(doc, inside)], o
    # the outline has every measure, and completion offers every declared fact and parameter
    policy = doc.checked.policy
    assert policy is not None
    assert [s.name for s in features.symbols(doc)] == [m.name.text for m in policy.of(ast.Measure)]
    labels = {i.label for i in features.completion(doc, lsp.Position(line=0, character=0))}
    assert {e.name for e in doc.index.entities.values() if e.kind in ("fact", "param")} <= labels


def test_hover_on_a_parameter_shows_its_declaration_and_uses() -> None:
    path = POLICIES / "shenzhen_industrial_internet_plan.policy"
    doc = features.open_document(path.as_uri(), path.read_text(encoding="utf-8"))
    assert doc.index is not None
    (param, *_) = [e for e in doc.index.entities.values() if e.kind == "param"]
    (use, *_) = doc.index.uses(param.key)
    hover = features.hover(doc, position(doc.source, use.span.start))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert f"`{param.name}`" in hover.contents.value and "```policy" in hover.contents.value
    assert f"used {len(doc.index.uses(param.key))} times" in hover.contents.value
