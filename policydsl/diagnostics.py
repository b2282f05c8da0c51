"""Diagnostics as data: codes, severities, a sink that collects them, and text/JSON formatters."""

from __future__ import annotations

import enum
import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from policydsl.messages import Lang, Message, default_lang, text
from policydsl.source import SourceFile, Span
from policydsl.syntax.keywords import chinese_keywords
from policydsl.textsafety import visible


def _message(value: Message | str) -> Message:
    return text(value) if isinstance(value, str) else value


def _optional_message(value: Message | str | None) -> Message | None:
    return None if value is None else _message(value)


class Severity(enum.IntEnum):
    """How bad a finding is; higher is worse."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@attrs.frozen
class Code:
    """A diagnostic code: its `id` (E101), default `severity` and a short `title`.  Every code is a
    constant in policydsl/codes.py."""

    id: str
    severity: Severity
    title: str


@attrs.frozen
class Note:
    """A secondary message, optionally pointing at another place (`span`)."""

    msg: Message = attrs.field(converter=_message)
    span: Span | None = None

    @property
    def message(self) -> str:
        """The English text (`msg.render(lang)` for another language)."""
        return str(self.msg)


@attrs.frozen
class Fix:
    """The code a hint proposes, as an edit: the text of `span` replaced by `text`.  Given only where
    the edit is the whole repair (no example figure in it); a test applies every one and checks
    that the result parses and the error is gone."""

    span: Span
    text: str


@attrs.frozen
class Diagnostic:
    """One finding: `code`, `severity`, `message`, the `span` it points at, `notes` that add
    context or name other places, a `hint` on how to fix it, and structured `data` (a witness
    applicant, the clauses involved) for machines.  Message, notes and hint are catalogue
    messages (policydsl/messages): the language is chosen when they are printed; `str()` of one
    is its English text, which the sort and de-duplication keys use, so the order is the same in
    every language."""

    code: str
    severity: Severity
    msg: Message = attrs.field(converter=_message)
    span: Span | None
    notes: tuple[Note, ...] = ()
    hint_msg: Message | None = attrs.field(default=None, converter=_optional_message)
    data: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)
    fix: Fix | None = attrs.field(default=None, eq=False, hash=False)

    @property
    def message(self) -> str:
        """The English text (`msg.render(lang)` for another language)."""
        return str(self.msg)

    @property
    def hint(self) -> str | None:
        """The hint's English text."""
        return None if self.hint_msg is None else str(self.hint_msg)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        if self.span is None:
            return ("", 0, 0, self.code, self.message)
        return (self.span.file, self.span.line, self.span.col, self.code, self.message)


class Sink:
    """Collects diagnostics from every pass; passes report here and never raise or print."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[str, str, Span | None]] = set()

    def report(
        self,
        code: Code,
        message: Message | str,
        span: Span | None,
        *,
        notes: Iterable[Note] = (),
        hint: Message | str | None = None,
        severity: Severity | None = None,
        data: Mapping[str, Any] | None = None,
        fix: Fix | None = None,
    ) -> None:
        level = severity if severity is not None else code.severity
        self.add(Diagnostic(code.id, level, message, span, tuple(notes), hint, dict(data or {}), fix))

    def add(self, diagnostic: Diagnostic) -> None:
        """Keep `diagnostic` unless one with the same code, message and span is kept already."""
        key = (diagnostic.code, diagnostic.message, diagnostic.span)
        if key in self._seen:
            return
        self._seen.add(key)
        self._items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.add(attrs.evolve(d, data=dict(d.data)))  # a copy: the data is not shared

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Sorted by file and position, de-duplicated."""
        return sorted(self._items, key=Diagnostic.sort_key)

    def errors_only(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self._items)

    def __len__(self) -> int:
        return len(self._items)


def display_width(text: str) -> int:
    """Terminal columns taken by `text`: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_EXCERPT_WIDTH = 100  # longer lines are shown as a window around the span


def _excerpt(source: SourceFile, span: Span) -> list[str]:
    line = source.line_text(span.line)
    gutter = f"{span.line:>4} | "
    if len(line) > _EXCERPT_WIDTH:
        first = max(0, min(span.col - 1 - _EXCERPT_WIDTH // 3, len(line) - _EXCERPT_WIDTH))
        window = line[first : first + _EXCERPT_WIDTH]
        left = "…" if first > 0 else ""
        right = "…" if first + _EXCERPT_WIDTH < len(line) else ""
        line = left + window + right
        shift = first - len(left)
        end_col = span.end_col - shift if span.end_line == span.line else len(line) + 1
        end_col = min(end_col, len(line) + 1)
        span = attrs.evolve(span, col=span.col - shift, end_line=span.line, end_col=end_col)
    # Control characters are shown as visible escapes (`\x1b`), and the caret measures the escapes.
    before = visible(line[: span.col - 1].replace("\t", " "))
    if span.end_line == span.line:
        marked = line[span.col - 1 : max(span.end_col - 1, span.col)]
    else:
        marked = line[span.col - 1 :]
    width = max(1, display_width(visible(marked.replace("\t", " "))))
    caret = " " * display_width(before) + "^" + "~" * (width - 1)
    return [gutter + visible(line.replace("\t", " ")), " " * (len(gutter) - 2) + "| " + caret]


def format_text(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, SourceFile], lang: Lang | None = None
) -> str:
    """Compiler-style text: `file:line:col: error[CODE]: message`, the line, a caret, notes, hint,
    in the language `lang`, by default each diagnostic in its file's (`messages.default_lang`).  The
    labels `note`/`hint` and the severity stay as they are: tools match them."""
    out: list[str] = []
    chosen = lang
    for d in diagnostics:
        if chosen is None:
            source = sources.get(d.span.file) if d.span else None
            lang = default_lang(None if source is None else chinese_keywords(source.text))
        assert lang is not None
        # file names, messages and hints quote the policy's text and the input: shown, never obeyed
        where = f"{visible(str(d.span))}: " if d.span else ""
        out.append(f"{where}{d.severity}[{d.code}]: {visible(d.msg.render(lang))}")
        source = sources.get(d.span.file) if d.span else None
        if d.span and source is not None:
            out.extend(_excerpt(source, d.span))
        for note in d.notes:
            at = f"{visible(str(note.span))}: " if note.span else ""
            out.append(f"  = note: {at}{visible(note.msg.render(lang))}")
        if d.hint_msg is not None:
            out.append(f"  = hint: {visible(d.hint_msg.render(lang))}")
    return "\n".join(out)


def _span_json(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {
        "file": span.file,
        "line": span.line,
        "col": span.col,
        "end_line": span.end_line,
        "end_col": span.end_col,
    }


def to_json(d: Diagnostic, lang: Lang = "en") -> dict[str, Any]:
    """One diagnostic as a JSON-ready dictionary: `message` in `lang`, with the catalogue's
    `message_id` (null for a text not in the catalogue) and its `args`."""
    return {
        "code": d.code,
        "severity": str(d.severity),
        "message": d.msg.render(lang),
        "message_id": d.msg.id,
        "args": d.msg.jsonable(),
        "location": _span_json(d.span),
        "notes": [
            {"message": n.msg.render(lang), "message_id": n.msg.id, "location": _span_json(n.span)}
            for n in d.notes
        ],
        "hint": None if d.hint_msg is None else d.hint_msg.render(lang),
        "details": _jsonable(dict(d.data)),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


def format_json(diagnostics: Iterable[Diagnostic], lang: Lang = "en") -> str:
    return json.dumps([to_json(d, lang) for d in diagnostics], ensure_ascii=False, indent=2)
