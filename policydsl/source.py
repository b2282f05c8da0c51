"""Source files and spans: where in which file a piece of text stands (1-based line and column)."""

from __future__ import annotations

import bisect
import re

import attrs

_LINE_BREAK = re.compile("\n")


@attrs.frozen
class Span:
    """A region of a source file: `file`, 1-based `line`/`col` to `end_line`/`end_col`
    (end exclusive), and the character offsets `start`/`end`."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int

    def merge(self, other: Span) -> Span:
        """The smallest span covering both."""
        first = self if self.start <= other.start else other
        last = self if self.end >= other.end else other
        return Span(self.file, first.line, first.col, last.end_line, last.end_col, first.start, last.end)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@attrs.frozen
class SourceFile:
    """A file's `name` as the user gave it and its `text`, with a line index for positions."""

    name: str
    text: str
    line_starts: tuple[int, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        starts = [0, *(m.end() for m in _LINE_BREAK.finditer(self.text))]
        object.__setattr__(self, "line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        """The span of characters `start` to `end`."""
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(self.name, line, col, end_line, end_col, start, end)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break."""
        if line < 1 or line > len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")
