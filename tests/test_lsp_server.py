"""`policydsl lsp` end to end: a real server process over standard input and output, driven by
pytest-lsp as an editor would drive it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import POLICIES

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEAD_ZH = '政策 "修正" { 发文机关 "测试" 印发 2022-01-01 }\n事实 服务家数 "服务家数": 数量 家 >= 0\n'
# a count times money: E203, whose fix adds the unit (`5万/家`)
MISTAKE = HEAD_ZH + '措施 m "措施" { 给予 服务家数 * 5万 }\n'
URI = "file:///tmp/lsp-test/mistake.policy"


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "policydsl", "lsp"]), scope="module"
)
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    params = lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


async def diagnostics_until(
    client: LanguageClient, uri: str, ready: Callable[[Sequence[lsp.Diagnostic]], bool], timeout: float = 60
) -> Sequence[lsp.Diagnostic]:
    """The diagnostics of `uri` once `ready` holds of them (the server publishes several times)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = client.diagnostics.get(uri)
        if found is not None and ready(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics as expected for {uri}: {client.diagnostics.get(uri)}")


def open_text(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="policy", version=version, text=text)
        )
    )


def change_text(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def at(text: str, needle: str, shift: int = 0) -> lsp.Position:
    """The position of `needle` in `text` (BMP text: UTF-16 units are characters)."""
    offset = text.index(needle) + shift
    line = text.count("\n", 0, offset)
    return lsp.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def apply(text: str, edits: Sequence[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = starts[edit.range.start.line] + edit.range.start.character
        b = starts[edit.range.end.line] + edit.range.end.character
        text = text[:a] + edit.new_text + text[b:]
    return text


async def test_a_mistake_gets_its_diagnostic_with_its_range_and_the_unit_fix_removes_it(
    client: LanguageClient,
) -> None:
    open_text(client, URI, MISTAKE)
    shown = await diagnostics_until(client, URI, lambda ds: any(d.code == "E203" for d in ds))
    (e203,) = [d for d in shown if d.code == "E203"]
    assert e203.severity == lsp.DiagnosticSeverity.Error and e203.source == "policydsl"
    start = at(MISTAKE, "服务家数 * 5万")
    assert e203.range == lsp.Range(
        start=start, end=lsp.Position(line=start.line, character=start.character + len("服务家数 * 5万"))
    )
    assert "数量" in e203.message or "家" in e203.message  # in the file's language: Chinese keywords
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            range=e203.range,
            context=lsp.CodeActionContext(diagnostics=[e203]),
        )
    )
    assert actions
    fix = next(a for a in actions if isinstance(a, lsp.CodeAction) and "5万/家" in a.title)
    assert fix.edit is not None and fix.edit.changes is not None
    fixed = apply(MISTAKE, fix.edit.changes[URI])
    assert "服务家数 * 5万/家" in fixed
    change_text(client, URI, fixed, 2)
    await diagnostics_until(client, URI, lambda ds: not any(d.code == "E203" for d in ds))


CHINESE = (
    HEAD_ZH
    + '枚举 级别 "认定级别" { 国家级 "国家级", 省级 "省级" }\n'
    + '事实 认定 "认定级别": 级别\n'
    + '措施 服务 "服务奖励" 依据 "第三条" {\n'
    + "  给予 5万/家 * 服务家数 如 服务家数 达到 3家 且 认定 == 国家级\n"
    + "}\n"
)
CHINESE_URI = "file:///tmp/lsp-test/chinese.policy"


async def test_hover_definition_and_references_of_a_fact(client: LanguageClient) -> None:
    open_text(client, CHINESE_URI, CHINESE)
    await diagnostics_until(client, CHINESE_URI, lambda ds: not [d for d in ds if d.severity == 1])
    use = at(CHINESE, "服务家数 达到", 1)
    ident = lsp.TextDocumentIdentifier(uri=CHINESE_URI)
    hover = await client.text_document_hover_async(lsp.HoverParams(text_document=ident, position=use))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    shown = hover.contents.value
    assert "服务家数" in shown and "以家计的数量" in shown and ">= 0" in shown and "使用 2 次" in shown
    defined = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=ident, position=use)
    )
    declared = at(CHINESE, '服务家数 "')
    assert isinstance(defined, list) and [d.range.start for d in defined] == [declared]
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=ident, position=use, context=lsp.ReferenceContext(include_declaration=True)
        )
    )
    assert refs is not None and len(refs) == 3 and refs[0].range.start == declared


async def test_hover_on_an_enum_value_and_the_outline(client: LanguageClient) -> None:
    ident = lsp.TextDocumentIdentifier(uri=CHINESE_URI)
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=ident, position=at(CHINESE, "== 国家级", 4))
    )
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert "国家级" in hover.contents.value and "`级别` 的取值" in hover.contents.value
    outline = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=ident))
    assert outline is not None
    (measure,) = outline
    assert isinstance(measure, lsp.DocumentSymbol) and measure.name == "服务"
    assert measure.detail is not None and "第三条" in measure.detail


async def test_completion_in_a_chinese_keyword_file(client: LanguageClient) -> None:
    ident = lsp.TextDocumentIdentifier(uri=CHINESE_URI)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=ident, position=at(CHINESE, "  给予"))
    )
    assert isinstance(result, lsp.CompletionList)
    labels = {i.label for i in result.items}
    assert {
        "措施",
        "给予",
        "依据",
        "以上",
        "不满",
        "服务家数",
        "认定",
        "国家级",
        "级别.国家级",
        "万",
    } <= labels
    assert "measure" not in labels and "award" not in labels  # the file's spelling only
    figure = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=ident, position=at(CHINESE, "3家", 1))
    )
    assert isinstance(figure, lsp.CompletionList)
    assert {"家", "万", "元", "%"} <= {i.label for i in figure.items}
    assert "措施" not in {i.label for i in figure.items}  # after a figure, only units


async def test_formatting_and_its_polite_refusal(client: LanguageClient) -> None:
    uri = "file:///tmp/lsp-test/format.policy"
    messy = HEAD_ZH + '措施   m "措施" {   给予 服务家数 * 5万/家 }\n'
    open_text(client, uri, messy)
    ident = lsp.TextDocumentIdentifier(uri=uri)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=ident, options=options)
    )
    assert edits
    formatted = apply(messy, edits)
    assert '措施 m "措施" {' in formatted
    change_text(client, uri, formatted, 2)
    again = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=ident, options=options)
    )
    assert again is not None and not again  # canonical already: no edit
    change_text(client, uri, messy + "措施 {", 3)
    refused = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=ident, options=options)
    )
    assert refused is None
    assert client.messages and "语法错误" in client.messages[-1].message


async def test_a_declaration_action_for_an_unknown_name(client: LanguageClient) -> None:
    uri = "file:///tmp/lsp-test/unknown.policy"
    text = HEAD_ZH + '措施 m "措施" { 给予 5万 如 投资额 超过 100万 }\n'
    open_text(client, uri, text)
    shown = await diagnostics_until(client, uri, lambda ds: any(d.code == "E101" for d in ds))
    (e101,) = [d for d in shown if d.code == "E101"]
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=e101.range,
            context=lsp.CodeActionContext(diagnostics=[e101]),
        )
    )
    assert actions
    declare = next(a for a in actions if isinstance(a, lsp.CodeAction) and "声明" in a.title)
    assert declare.edit is not None and declare.edit.changes is not None
    fixed = apply(text, declare.edit.changes[uri])
    assert "事实 投资额" in fixed
    change_text(client, uri, fixed, 2)
    await diagnostics_until(client, uri, lambda ds: not any(d.code == "E101" for d in ds))


def _long_policy() -> str:
    from tests.test_limits import _measures

    text = _measures(52_000)
    assert text.count("\n") >= 1100
    return text


async def test_a_policy_of_1100_lines_edited_repeatedly_keeps_answering(client: LanguageClient) -> None:
    uri = "file:///tmp/lsp-test/long.policy"
    text = _long_policy()
    open_text(client, uri, text)
    await diagnostics_until(client, uri, lambda ds: True)
    ident = lsp.TextDocumentIdentifier(uri=uri)
    for version in range(2, 12):
        edited = text.replace("m7 ", f"m7{'x' * version} ", 1)
        if version % 3 == 0:
            edited = edited.replace("award base", "award award base", 1)  # a syntax error, then not
        change_text(client, uri, edited, version)
        hover = await client.text_document_hover_async(
            lsp.HoverParams(text_document=ident, position=at(edited, "require x", 8))
        )
        wanted = version % 3 == 0
        shown = await diagnostics_until(
            client, uri, lambda ds, wanted=wanted: any(d.code.startswith("E0") for d in ds) == wanted
        )
        assert shown is not None
        assert hover is None or isinstance(hover.contents, lsp.MarkupContent)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=ident))


async def test_the_analysis_findings_arrive_after_the_pause(client: LanguageClient) -> None:
    uri = (POLICIES / "baoan_industrial_internet.policy").as_uri()
    text = (POLICIES / "baoan_industrial_internet.policy").read_text(encoding="utf-8")
    open_text(client, uri, text)
    shown = await diagnostics_until(client, uri, lambda ds: any(d.code.startswith("P") for d in ds), 240)
    assert not [d for d in shown if d.severity == lsp.DiagnosticSeverity.Error]


OVERLAP = (
    'policy "重叠" { issuer "测试" issued 2022-01-01 }\n'
    'fact investment "投资额": money >= 0\n'
    'measure a "甲" { award 10万 if investment 超过 100万 }\n'
    'measure b "乙" { award 20万 if investment 超过 200万 }\n'
)


async def test_findings_of_an_older_text_are_never_shown_with_a_newer_one(client: LanguageClient) -> None:
    uri = "file:///tmp/lsp-test/overlap.policy"
    open_text(client, uri, OVERLAP)
    found = await diagnostics_until(client, uri, lambda ds: any(d.code.startswith("P") for d in ds))
    assert not [d for d in found if d.severity == lsp.DiagnosticSeverity.Error]
    # the same measures, now with a mistake: the next diagnostics are the check's alone
    broken = OVERLAP.replace("if investment 超过 200万", "if investmnt 超过 200万")
    change_text(client, uri, broken, 2)
    shown = await diagnostics_until(client, uri, lambda ds: any(d.code == "E101" for d in ds))
    assert not [d for d in shown if d.code.startswith("P")]
    await asyncio.sleep(2)  # well past the pause: a file with errors gets no analysis
    assert not [d for d in client.diagnostics[uri] if d.code.startswith("P")]
