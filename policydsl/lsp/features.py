"""What the language server answers, as plain functions of a policy's text and the editor's positions:
diagnostics, hover, definition, references, symbols, completion, formatting and code actions.  The
protocol (server.py) only carries their results; everything here is testable without it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import attrs
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from policydsl.analysis.base import Options
from policydsl.analysis.report import analyse_checked
from policydsl.checking.frontend import load_text
from policydsl.checking.pipeline import Checked, check_text
from policydsl.checking.typecheck import describe
from policydsl.diagnostics import Diagnostic, Severity, Sink
from policydsl.lsp.index import Entity, Index, build_index
from policydsl.lsp.positions import offset, span_range, whole
from policydsl.messages import Lang, Message, default_lang, msg
from policydsl.render.articles import locate
from policydsl.render.report import SourceRefused, locate_source, read_source
from policydsl.source import SourceFile, Span
from policydsl.syntax import ast
from policydsl.syntax.fmt import format_source
from policydsl.syntax.keywords import (
    KEYWORDS,
    POSTFIX_WORDS,
    PREFIX_WORDS,
    TYPE_NAMES,
    UNITS,
    chinese_keywords,
    spelling,
)

SOURCE = "policydsl"  # the `source` of every diagnostic, as editors show it
ERROR_PAGES = Path(__file__).resolve().parents[2] / "docs" / "errors"  # in a checkout; not in the wheel
_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}
# The hints whose `code` argument is a declaration to add (hint.declare_fact: `fact x "…": money`).
DECLARING = ("hint.declare_fact", "hint.declare_unit", "hint.declare_kind", "hint.other_award_fact")
# Money and percentages beside the built-in counting and measuring units.
AMOUNT_UNITS = ("元", "万", "万元", "亿", "亿元", "%", "个百分点")
_CITE = re.compile(r'(?<![\w])(?:cite|依据)\s+"([^"\n]*)"')
_WORD_BEFORE = re.compile(r"[\w.]*$")
_ARTICLE_CHARS = 600  # the most of an article's text a hover shows


@attrs.frozen
class Document:
    """One version of a policy in the editor: its `uri`, the `checked` result (source, Model) and the
    `problems` the front end and the type checks found, its `index` of names (None when it does not
    type-check far enough to have a Model) and the language of its messages (`lang`)."""

    uri: str
    checked: Checked
    problems: tuple[Diagnostic, ...]
    index: Index | None
    lang: Lang

    @property
    def source(self) -> SourceFile:
        assert self.checked.source is not None  # text in memory always has one
        return self.checked.source

    @property
    def text(self) -> str:
        return self.source.text

    @property
    def chinese(self) -> bool:
        return chinese_keywords(self.text)


def path_of(uri: str) -> Path | None:
    """The file a `file:` URI names (None for another scheme: an unsaved buffer)."""
    path = to_fs_path(uri) if urlparse(uri).scheme == "file" else None
    return None if path is None else Path(path)


def open_document(uri: str, text: str, lang: str | None = None) -> Document:
    """Check `text` as `check` does (front end and type checks), in the language `lang` if given, else
    the file's keyword language (messages.default_lang)."""
    path = path_of(uri)
    name = path.name if path is not None else uri
    sink = Sink()
    checked = check_text(name, text, sink)
    chosen: Lang = (
        ("zh" if lang == "zh" else "en") if lang in ("zh", "en") else default_lang(chinese_keywords(text))
    )
    index = None if checked.model is None else build_index(checked.model)
    return Document(uri, checked, tuple(sink.diagnostics), index, chosen)


def findings(doc: Document, options: Options) -> tuple[Diagnostic, ...]:
    """The analysis findings of a document without errors (none when it has any), within the
    analysis's budget of solver questions and steps (`options`)."""
    sink = Sink()
    sink.extend(doc.problems)
    result = analyse_checked(doc.checked, sink, options)
    return () if result is None else result.findings


# ------------------------------------------------------------------------------- diagnostics
def diagnostics(doc: Document, problems: Iterable[Diagnostic]) -> list[lsp.Diagnostic]:
    """The editor's diagnostics: code, severity, the message and its hint in the document's
    language, the range of the span, notes that point somewhere as related information."""
    out: list[lsp.Diagnostic] = []
    for d in problems:
        span = d.span if d.span is not None else doc.source.span(0, 0)
        lines = [d.msg.render(doc.lang)]
        related: list[lsp.DiagnosticRelatedInformation] = []
        for note in d.notes:
            if note.span is not None and note.span.file == span.file:
                where = lsp.Location(uri=doc.uri, range=span_range(doc.source, note.span))
                related.append(
                    lsp.DiagnosticRelatedInformation(location=where, message=note.msg.render(doc.lang))
                )
            else:
                lines.append(note.msg.render(doc.lang))
        if d.hint_msg is not None:
            lines.append("hint: " + d.hint_msg.render(doc.lang))  # the label `check` prints
        out.append(
            lsp.Diagnostic(
                range=span_range(doc.source, span),
                message="\n".join(lines),
                severity=_SEVERITY[d.severity],
                code=d.code,
                code_description=_page(d.code, doc.lang),
                source=SOURCE,
                related_information=related or None,
            )
        )
    return out


def _page(code: str, lang: Lang) -> lsp.CodeDescription | None:
    """The code's page in docs/errors (the Chinese one for Chinese messages), when it is at hand."""
    page = ERROR_PAGES / "zh" / f"{code}.md" if lang == "zh" else ERROR_PAGES / f"{code}.md"
    if not page.is_file():
        page = ERROR_PAGES / f"{code}.md"
    return lsp.CodeDescription(href=page.as_uri()) if page.is_file() else None


# ------------------------------------------------------------------------------- names
def _entity_at(doc: Document, where: lsp.Position) -> tuple[Entity, Span] | None:
    if doc.index is None:
        return None
    found = doc.index.at(offset(doc.source, where))
    if found is None:
        return None
    return doc.index.entities[found.key], found.span


def definition(doc: Document, where: lsp.Position) -> list[lsp.Location]:
    """Where the name at `where` is declared."""
    found = _entity_at(doc, where)
    if found is None or found[0].at is None:
        return []
    return [lsp.Location(uri=doc.uri, range=span_range(doc.source, found[0].at))]


def references(doc: Document, where: lsp.Position, include_declaration: bool = True) -> list[lsp.Location]:
    """Every place the name at `where` is written, its declaration first when asked for."""
    found = _entity_at(doc, where)
    if found is None or doc.index is None:
        return []
    entity = found[0]
    places = doc.index.all(entity.key) if include_declaration else doc.index.uses(entity.key)
    return [lsp.Location(uri=doc.uri, range=span_range(doc.source, o.span)) for o in places]


def hover(doc: Document, where: lsp.Position) -> lsp.Hover | None:
    """What the name or citation at `where` is: its label, type (with unit), declaration as written
    (bounds, values), the article it cites and how often it is used."""
    at = offset(doc.source, where)
    cite = _cite_at(doc.text, at)
    if cite is not None:
        text, start, end = cite
        return _hover(doc, start, end, [f"**{text}**", _article(doc, text)])
    found = _entity_at(doc, where)
    if found is None or doc.index is None:
        return None
    entity, span = found
    word = msg(f"word.{entity.kind}").render(doc.lang)
    head = f"{word} `{entity.name}`" + (f" 「{entity.label}」" if entity.label else "")
    parts = [head]
    if entity.type is not None:
        parts.append(describe(entity.type).render(doc.lang))
    if entity.decl is not None and entity.kind in ("fact", "param", "unit", "pot", "kind"):
        parts.append("```policy\n" + doc.text[entity.decl.start : entity.decl.end].strip() + "\n```")
    if entity.kind == "measure":
        clauses = sum(1 for e in doc.index.entities.values() if e.key.startswith(f"clause:{entity.name}."))
        parts.append(msg("lsp.clauses", n=clauses).render(doc.lang))
    if entity.cite:
        parts += [f"**{entity.cite}**", _article(doc, entity.cite)]
    parts.append(msg("lsp.used", n=len(doc.index.uses(entity.key))).render(doc.lang))
    return _hover(doc, span.start, span.end, parts)


def _hover(doc: Document, start: int, end: int, parts: Sequence[str]) -> lsp.Hover:
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(p for p in parts if p)),
        range=span_range(doc.source, doc.source.span(start, end)),
    )


def _cite_at(text: str, at: int) -> tuple[str, int, int] | None:
    """The citation (`cite "第八条(三)"`) whose quoted text holds `at`: its text and offsets."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    for m in _CITE.finditer(line):
        if m.start(1) - 1 <= at - line_start <= m.end(1) + 1:
            return m.group(1), line_start + m.start(1), line_start + m.end(1)
    return None


def _article(doc: Document, cite: str) -> str:
    """The text of the article `cite` in the policy's source document, as the review site finds it
    (render/report.py, render/articles.py): from its heading, at most _ARTICLE_CHARS characters."""
    policy = doc.checked.policy
    header = None if policy is None else policy.header
    path = path_of(doc.uri)
    if header is None or header.source is None or path is None:
        return msg("lsp.no_source").render(doc.lang)
    try:
        found = locate_source(path, header.source, ())
        text = None if found is None else read_source(found[0])
    except SourceRefused:
        text = None
    if text is None:
        return msg("lsp.no_source").render(doc.lang)
    place = locate(text, cite)
    if place is None:
        return msg("lsp.article_missing", cite=cite, source=header.source).render(doc.lang)
    shown = text[place.start : place.start + _ARTICLE_CHARS].strip()
    more = "…" if place.start + _ARTICLE_CHARS < len(text) else ""
    return "> " + shown.replace("\n", "\n> ") + more


# ------------------------------------------------------------------------------- outline
def symbols(doc: Document) -> list[lsp.DocumentSymbol]:
    """The outline: every measure with its clauses, each with the article it cites."""
    policy = doc.checked.policy
    if policy is None:
        return []
    out: list[lsp.DocumentSymbol] = []
    for m in policy.of(ast.Measure):
        children = []
        for c in m.clauses:
            name = m.clause_id(c).split(".", 1)[1]
            children.append(
                _symbol(doc, name, c.label, c.cite, c.span, c.name.span if c.name else c.span, [])
            )
        out.append(_symbol(doc, m.name.text, m.label, m.cite, m.span, m.name.span, children, measure=True))
    return out


def _symbol(
    doc: Document,
    name: str,
    label: str | None,
    cite: str | None,
    span: Span,
    at: Span,
    children: list[lsp.DocumentSymbol],
    measure: bool = False,
) -> lsp.DocumentSymbol:
    detail = " ".join(p for p in (cite, label) if p)
    return lsp.DocumentSymbol(
        name=name,
        detail=detail or None,
        kind=lsp.SymbolKind.Module if measure else lsp.SymbolKind.Function,
        range=span_range(doc.source, span),
        selection_range=span_range(doc.source, at),
        children=children or None,
    )


# ------------------------------------------------------------------------------- completion
_KIND = {
    "fact": lsp.CompletionItemKind.Variable,
    "param": lsp.CompletionItemKind.Constant,
    "value": lsp.CompletionItemKind.EnumMember,
    "kind": lsp.CompletionItemKind.EnumMember,
    "measure": lsp.CompletionItemKind.Module,
    "clause": lsp.CompletionItemKind.Function,
    "pot": lsp.CompletionItemKind.Variable,
    "unit": lsp.CompletionItemKind.Unit,
}


def completion(doc: Document, where: lsp.Position, names: Index | None = None) -> list[lsp.CompletionItem]:
    """What may be written at `where`: after a figure, its units; else keywords in the file's spelling,
    the declared names (from `names`, the last index that checked, while the text does not), enum
    values, units and the statutory words of comparison."""
    at = offset(doc.source, where)
    before = _WORD_BEFORE.search(doc.text, 0, at)
    typed = doc.text[before.start() if before else at : at]
    units = [*AMOUNT_UNITS, *UNITS, *_declared_units(doc.index or names)]
    if re.search(r"\d$", typed):  # `50` then 万, 元, %, 家…
        figure = re.search(r"[\d.]*$", typed)
        return [_item(u, lsp.CompletionItemKind.Unit, (figure.group(0) if figure else "") + u) for u in units]
    chinese = doc.chinese
    items = [_item(spelling(k, chinese), lsp.CompletionItemKind.Keyword) for k in KEYWORDS]
    items += [_item(w, lsp.CompletionItemKind.Operator) for w in (*PREFIX_WORDS, *POSTFIX_WORDS)]
    items += [_item(w, lsp.CompletionItemKind.TypeParameter) for w in TYPE_NAMES if _is_chinese(w) == chinese]
    items += [_item(u, lsp.CompletionItemKind.Unit) for u in units]
    index = doc.index or names
    if index is not None:
        for e in index.entities.values():
            if e.kind == "clause":
                continue
            items.append(_item(e.name, _KIND[e.kind], detail=e.label))
            if e.kind == "value":
                items.append(_item(e.key.split(":", 1)[1], _KIND[e.kind], detail=e.label))
    unique: dict[str, lsp.CompletionItem] = {}
    for item in items:
        unique.setdefault(item.label, item)  # a keyword before a name spelled the same
    return list(unique.values())


def _is_chinese(word: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in word)


def _declared_units(index: Index | None) -> list[str]:
    return [] if index is None else [e.name for e in index.entities.values() if e.kind == "unit"]


def _item(
    label: str, kind: lsp.CompletionItemKind, filter_text: str | None = None, detail: str | None = None
) -> lsp.CompletionItem:
    return lsp.CompletionItem(label=label, kind=kind, filter_text=filter_text, detail=detail)


# ------------------------------------------------------------------------------- formatting
def formatting(doc: Document) -> list[lsp.TextEdit] | None:
    """The canonical text (syntax/fmt.py) as one edit of the whole document; no edit when the text
    is canonical already, None when it does not parse or formatting would change its meaning."""
    name = doc.source.name
    formatted = format_source(name, doc.text, Sink())
    if formatted is None:
        return None
    before = load_text(name, doc.text, Sink()).policy
    again = load_text(name, formatted, Sink()).policy
    if before is None or again != before:
        return None
    if formatted == doc.text:
        return []
    return [lsp.TextEdit(range=whole(doc.source), new_text=formatted)]


def refused_formatting(doc: Document) -> str:
    """Why a document was not formatted, for the editor's message."""
    return msg("lsp.no_format").render(doc.lang)


# ------------------------------------------------------------------------------- code actions
def code_actions(doc: Document, problems: Iterable[Diagnostic], where: lsp.Range) -> list[lsp.CodeAction]:
    """The edits the diagnostics touching `where` propose: their fix (a unit added, a literal
    written as the language reads it, a combination declared), a declaration their hint proposes,
    and for an analysis finding about named clauses or measures, an acknowledgement."""
    start, end = offset(doc.source, where.start), offset(doc.source, where.end)
    actions: list[lsp.CodeAction] = []
    for d in problems:
        if d.span is None or d.span.end < start or d.span.start > end:
            continue
        shown = diagnostics(doc, [d])
        if d.fix is not None:
            title = msg("lsp.apply", code=_short(d.fix.text))
            actions.append(_action(doc, title, d.fix.span.start, d.fix.span.end, d.fix.text, shown, True))
        declaration = _argument(d.hint_msg, "code") if d.hint_msg and d.hint_msg.id in DECLARING else None
        if declaration is not None:
            line = _item_line(doc, d.span)
            title = msg("lsp.declare", code=_short(declaration))
            actions.append(_action(doc, title, line, line, declaration + "\n", shown, d.fix is None))
        ack = _acknowledgement(doc, d)
        if ack is not None:
            tail = "" if doc.text.endswith("\n") else "\n"
            title = msg("lsp.acknowledge", code=_short(ack))
            actions.append(_action(doc, title, len(doc.text), len(doc.text), tail + ack + "\n", shown, False))
    return actions


def _argument(message: Message | None, name: str) -> str | None:
    if message is None:
        return None
    value = dict(message.args).get(name)
    return value if isinstance(value, str) else None


def _acknowledgement(doc: Document, d: Diagnostic) -> str | None:
    """`acknowledge CODE { targets } "reason"` for an analysis finding that names what it is about."""
    if not d.code.startswith("P") or d.severity is Severity.ERROR or not d.data.get("targets"):
        return None
    written = _argument(d.hint_msg, "ack")
    if written is not None and written.split()[0] == spelling("acknowledge", doc.chinese) and "{" in written:
        return written
    reason = msg("clauses.reason").render("zh" if doc.chinese else "en")
    targets = ", ".join(str(t) for t in d.data["targets"])
    return f'{spelling("acknowledge", doc.chinese)} {d.code} {{ {targets} }} "{reason}"'


def _item_line(doc: Document, span: Span) -> int:
    """The start of the line of the top-level item that holds `span` (where a declaration goes)."""
    policy = doc.checked.policy
    at = span.start
    for item in () if policy is None else policy.items:
        if item.span.start <= span.start < item.span.end:
            at = item.span.start
            break
    return doc.text.rfind("\n", 0, at) + 1


def _short(code: str) -> str:
    code = " ".join(code.split())
    return code if len(code) <= 60 else code[:59] + "…"


def _action(
    doc: Document,
    title: Message,
    start: int,
    end: int,
    new_text: str,
    fixes: list[lsp.Diagnostic],
    preferred: bool,
) -> lsp.CodeAction:
    edit = lsp.TextEdit(range=span_range(doc.source, doc.source.span(start, end)), new_text=new_text)
    return lsp.CodeAction(
        title=title.render(doc.lang),
        kind=lsp.CodeActionKind.QuickFix,
        diagnostics=fixes,
        is_preferred=preferred or None,
        edit=lsp.WorkspaceEdit(changes={doc.uri: [edit]}),
    )
