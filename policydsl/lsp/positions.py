"""Character offsets of a policy's text and the editor's positions (0-based line, UTF-16 code units)."""

from __future__ import annotations

from lsprotocol import types as lsp

from policydsl.source import SourceFile, Span


def _units(text: str) -> int:
    """UTF-16 code units of `text`: a character outside the Basic Multilingual Plane takes two."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def position(source: SourceFile, offset: int) -> lsp.Position:
    """The editor's position of a character offset."""
    line, _ = source.position(offset)
    start = source.line_starts[line - 1]
    offset = max(start, min(offset, len(source.text)))
    return lsp.Position(line=line - 1, character=_units(source.text[start:offset]))


def offset(source: SourceFile, where: lsp.Position) -> int:
    """The character offset of an editor's position; past the end of its line, the line's end."""
    if where.line >= len(source.line_starts):
        return len(source.text)
    start = source.line_starts[where.line]
    end = (
        source.line_starts[where.line + 1] - 1
        if where.line + 1 < len(source.line_starts)
        else len(source.text)
    )
    units = 0
    for index in range(start, end):
        if units >= where.character:
            return index
        units += 2 if ord(source.text[index]) > 0xFFFF else 1
    return end


def span_range(source: SourceFile, span: Span) -> lsp.Range:
    """The editor's range of a span of `source`."""
    return lsp.Range(start=position(source, span.start), end=position(source, span.end))


def whole(source: SourceFile) -> lsp.Range:
    """The range of the whole text."""
    return lsp.Range(start=lsp.Position(line=0, character=0), end=position(source, len(source.text)))
