"""Text to Lark parse tree; every Lark error is translated into a diagnostic here and nowhere else."""

from __future__ import annotations

import contextvars
import functools
import re
from importlib import resources
from pathlib import Path

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from policydsl.diagnostics import Sink
from policydsl.keywords import KEYWORDS
from policydsl.source import SourceFile

MAX_BYTES = 32 * 1024 * 1024
MAX_NESTING = 200
MAX_SYNTAX_ERRORS = 20

_comments: contextvars.ContextVar[list[lark.Token]] = contextvars.ContextVar("comments")


def grammar_text() -> str:
    """The grammar, from the installed package data or, in a source checkout, from grammar/."""
    packaged = resources.files("policydsl").joinpath("grammar/policy.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "policy.lark").read_text(encoding="utf-8")


def _on_comment(token: lark.Token) -> lark.Token:
    _comments.get().append(token)
    return token


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        propagate_positions=True,
        lexer_callbacks={"COMMENT": _on_comment},
    )


# Full-width forms pasted from word processors (５０％, （, ，, ：) read as their half-width forms
# outside strings and comments; the mapping is one character to one, so positions do not move.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def normalize(text: str) -> str:
    """Fold full-width ASCII outside strings and comments; keep everything else as written."""
    if not any(ord(ch) >= 0x3000 for ch in text):
        return text
    out: list[str] = []
    in_string = in_comment = False
    for ch in text:
        folded = chr(_FULLWIDTH.get(ord(ch), ord(ch)))
        if in_comment:
            out.append(ch)
            in_comment = ch != "\n"
        elif in_string:
            out.append(ch if folded != '"' else '"')
            in_string = folded not in ('"', "\n")
        else:
            out.append(folded)
            in_string = folded == '"'
            in_comment = folded == "#"
    return "".join(out)


def decode(name: str, data: bytes, sink: Sink) -> SourceFile | None:
    """Bytes to a SourceFile, or a diagnostic when the file is not UTF-8 text."""
    empty = SourceFile(name, "")
    if len(data) > MAX_BYTES:
        sink.report("E005", f"file is {len(data)} bytes; the limit is {MAX_BYTES}", empty.span(0, 0))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", errors="replace")
        source = SourceFile(name, prefix)
        sink.report(
            "E004",
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            source.span(len(prefix), len(prefix)),
            hint="save the file as UTF-8",
        )
        return None
    if "\x00" in text:
        source = SourceFile(name, text)
        at = text.index("\x00")
        sink.report("E004", "the file contains a NUL character; is it a binary file?", source.span(at, at + 1))
        return None
    return SourceFile(name, text)


# Names of terminals in words, for "expected …" messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "QUANTITY": "an amount such as `50万`, `30%` or `3000家`",
    "STRING": 'a quoted text such as `"第八条"`',
    "DATE": "a date such as `2021-05-16`",
    "RATIO": "a ratio such as `1:1`",
    "$END": "the end of the file",
}


def _terminal_patterns() -> dict[str, str]:
    return {t.name: t.pattern.value for t in _parser().terminals if t.pattern.type == "str"}


def _describe_expected(expected: set[str]) -> str:
    patterns = _terminal_patterns()
    words: list[str] = []
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
        elif name in patterns:
            words.append(f"`{patterns[name]}`")
    if not words:
        return "something else"
    english = [w for w in words if not re.search(r"[\u3400-\u9fff]", w)]
    shown = english if english else words
    if any(w == "a name" for w in shown) and any(w.startswith("an amount") for w in shown):
        shown = ["an expression"] + [w for w in shown if w not in ("a name",) and not w.startswith("an amount")]
    if len(shown) > 8:
        shown = shown[:8] + ["…"]
    return ", ".join(shown[:-1]) + (" or " if len(shown) > 1 else "") + shown[-1]


def _token_words(token: lark.Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    return f"`{token.value}`"


_ZH_KEYWORDS = {zh: en for en, zh in KEYWORDS.values()}


def _hint_for(token: lark.Token, expected: set[str]) -> str | None:
    value = str(token.value)
    if token.type == "NAME":
        for zh in sorted(_ZH_KEYWORDS, key=len, reverse=True):
            if value != zh and (value.startswith(zh) or value.endswith(zh)):
                return f"`{value}` reads as one name; separate the keyword `{zh}` with a space"
    if value == "=" and "EQUAL" not in expected:
        return "compare with `==` (or a statutory word such as `达到`)"
    if token.type == "NAME" and "STRING" in expected:
        return f'labels and citations are quoted: `"{value}"`'
    if "RBRACE" in expected and token.type == "$END":
        return "a `{` block is not closed"
    return None


def _max_nesting(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, i
        elif ch in ")]}":
            depth -= 1
    return deepest, where


def _report(source: SourceFile, exc: UnexpectedInput, sink: Sink) -> None:
    if isinstance(exc, UnexpectedCharacters):
        ch = source.text[exc.pos_in_stream]
        hint = None
        if ch in "“”":
            hint = 'quote text with straight quotes: `"…"`'
        elif ch in "、；。":
            hint = "separate items with `,`"
        sink.report(
            "E003",
            f"unexpected character `{ch}` (U+{ord(ch):04X})",
            source.span(exc.pos_in_stream, exc.pos_in_stream + 1),
            hint=hint,
        )
        return
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        start = token.start_pos if token.start_pos is not None else 0
        end = token.end_pos if token.end_pos is not None else start + 1
        sink.report(
            "E001",
            f"unexpected {_token_words(token)}; expected {_describe_expected(set(exc.expected))}",
            source.span(start, end),
            hint=_hint_for(token, set(exc.expected)),
        )
        return
    expected = set(getattr(exc, "expected", ()) or ())
    end = len(source.text.rstrip())
    sink.report(
        "E002",
        f"the file ends too early; expected {_describe_expected(expected)}",
        source.span(end, end),
        hint="a `{` block is not closed" if "RBRACE" in expected else None,
    )


def parse(source: SourceFile, sink: Sink) -> tuple[lark.Tree[lark.Token], list[lark.Token]] | None:
    """Parse a source file; on failure report every syntax error found and return None."""
    text = normalize(source.text)
    depth, where = _max_nesting(text)
    if depth > MAX_NESTING:
        sink.report(
            "E005", f"brackets nest {depth} deep; the limit is {MAX_NESTING}", source.span(where, where + 1)
        )
        return None
    errors: list[UnexpectedInput] = []

    def recover(exc: UnexpectedInput) -> bool:
        last = errors[-1] if errors else None
        if last is None or getattr(last, "line", -1) != getattr(exc, "line", -2):
            errors.append(exc)
        return len(errors) < MAX_SYNTAX_ERRORS

    comments: list[lark.Token] = []
    reset = _comments.set(comments)
    try:
        attempt = text
        for _ in range(MAX_SYNTAX_ERRORS):
            try:
                tree = _parser().parse(attempt, on_error=recover)
                break
            except UnexpectedCharacters as exc:
                errors.append(exc)
                # blank the bad character and go on, to report later errors in the same run
                attempt = attempt[: exc.pos_in_stream] + " " + attempt[exc.pos_in_stream + 1 :]
                comments.clear()
            except UnexpectedInput as exc:
                errors.append(exc)
                break
        else:
            tree = None
    finally:
        _comments.reset(reset)
    if errors:
        seen: set[tuple[int, int]] = set()
        for exc in errors:
            key = (getattr(exc, "line", 0), getattr(exc, "column", 0))
            if key not in seen:
                seen.add(key)
                _report(source, exc, sink)
        return None
    assert tree is not None
    return tree, comments


