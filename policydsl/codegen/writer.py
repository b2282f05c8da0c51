"""A small writer of Python source that owns indentation, line width and safe literals."""

from __future__ import annotations

import ast as pyast
import contextlib
import re
import unicodedata
from collections.abc import Iterator, Sequence

LINE_WIDTH = 110
INDENT = "    "


def width(text: str) -> int:
    """The width `ruff format` measures: East Asian wide and full-width characters count two."""
    total = 0
    for ch in text:
        if ord(ch) < 0x80:
            total += 1
        elif unicodedata.combining(ch):
            continue
        else:
            total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def literal(text: str) -> str:
    """`text` as a double-quoted Python string literal that `ruff format` leaves as it is.

    Quotes become `\\x22` rather than `\\"`, so the formatter never prefers other quotes; anything
    that is not printable (line breaks, separators, controls) is escaped, so a literal is one line."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append("\\x22")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return '"' + "".join(out) + '"'


def comment_text(text: str) -> str:
    """Text safe inside a `#` comment: one line, every unprintable character escaped."""
    cleaned = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return cleaned.rstrip()


# comparisons whose negation is exactly another operator (not so the orderings: a NaN fails both)
_NEGATED: dict[type[pyast.cmpop], tuple[str, str]] = {
    pyast.Is: ("is", "is not"),
    pyast.In: ("in", "not in"),
    pyast.Eq: ("==", "!="),
}


def negated(test: str) -> str:
    """The Python expression `not (test)`, written `a is not b`, `a not in b` or `a != b` when `test`
    is one such comparison (as the linters ask)."""
    node = pyast.parse(test, mode="eval").body
    if isinstance(node, pyast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _NEGATED:
        raw = test.encode()  # the offsets count UTF-8 bytes
        start, end = node.left.end_col_offset, node.comparators[0].col_offset
        if start is not None and end is not None:
            # between the operands: the operator and the operands' own brackets, nothing else
            between = raw[start:end].decode()
            old, new = _NEGATED[type(node.ops[0])]
            between = between.replace(old, new, 1)
            return raw[:start].decode() + between + raw[end:].decode()
    return f"not ({test})"


def _string_value(code: str) -> str | None:
    """The text of `code` when it is one string literal, else None."""
    if not code.startswith('"'):
        return None
    try:
        node = pyast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    return node.value if isinstance(node, pyast.Constant) and isinstance(node.value, str) else None


def split_literal(text: str, room: int) -> list[str]:
    """`text` as consecutive string literals, each at most `room` wide where one character allows."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = start + 1
        while end < len(text) and width(literal(text[start : end + 1])) <= room:
            end += 1
        pieces.append(literal(text[start:end]))
        start = end
    return pieces or [literal("")]


def wrap_comment(text: str, room: int) -> list[str]:
    """A comment's text in lines at most `room` wide: broken at the last space that leaves half the
    line or more, else between two characters (Chinese text has no spaces)."""
    lines: list[str] = []
    while width(text) > room:
        cut = 1
        while cut < len(text) and width(text[: cut + 1]) <= room:
            cut += 1
        space = text.rfind(" ", 0, cut + 1)
        if space > cut // 2:
            cut = space
        lines.append(text[:cut].rstrip(" "))
        text = text[cut:].lstrip(" ")
    lines.append(text)
    return lines


def _split_top(code: str, sep: str) -> list[str]:
    """`code` cut at each `sep` outside brackets and string literals (as `literal` writes them)."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            i += 1
            while i < len(code) and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(code[start:i])
            start = i + 1
        i += 1
    parts.append(code[start:])
    return parts


# the words before which a long expression is broken onto a new line, by how loosely they bind: the
# formatter breaks before every operator of the loosest level present and keeps the rest together
# (`and` and `or` are one level to it)
_LEVELS = (
    frozenset({"if", "else"}),
    frozenset({"and", "or"}),
    frozenset({"==", "!=", ">=", "<=", ">", "<"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/"}),
)
_BREAKS = frozenset().union(*_LEVELS)


def lay_expression(code: str, room: int) -> list[str]:
    """The expression `code` (already inside brackets) on lines at most `room` wide where it can be:
    broken before its operators and, when an operand is still too long, inside that operand's own
    brackets, one argument per line.  Nested lines start with their indentation."""
    if width(code) <= room:
        return [code]
    words = [w for w in _split_top(code, " ") if w]
    # the operators: words of _BREAKS that do not follow another operator (`a * -b`)
    operators = [i for i, w in enumerate(words) if i and w in _BREAKS and words[i - 1] not in _BREAKS]
    level = next((lv for lv in _LEVELS if any(words[i] in lv for i in operators)), frozenset())
    cuts = {i for i in operators if words[i] in level}
    chunks: list[str] = []
    for i, word in enumerate(words):  # each chunk starts at an operator of the loosest level
        if not chunks or i in cuts:
            chunks.append(word)
        else:
            chunks[-1] += " " + word
    if len(chunks) == 1:
        return _explode(chunks[0], room)
    lines: list[str] = []
    for chunk in chunks:  # one per line, as the formatter lays them
        lines.extend([chunk] if width(chunk) <= room else _explode(chunk, room))
    return lines


def _explode(chunk: str, room: int) -> list[str]:
    """A chunk whose last word is too long: that word's bracketed contents on lines of their own."""
    words = _split_top(chunk, " ")
    last = words[-1]
    prefix = "".join(word + " " for word in words[:-1])
    if not last or last[-1] not in ")]}":
        return [chunk]
    depth = 0
    opening = -1
    for i in range(len(last) - 1, -1, -1):  # the bracket that the last one closes
        if last[i] in ")]}":
            depth += 1
        elif last[i] in "([{":
            depth -= 1
            if depth == 0:
                opening = i
                break
    if opening < 0 or '"' in last[:opening]:
        return [chunk]
    inner = last[opening + 1 : -1]
    items = [item.strip() for item in _split_top(inner, ",")]
    plain_group = opening == 0 and last[0] == "(" and len(items) == 1
    items = [item for item in items if item]
    lines = [prefix + last[: opening + 1]]
    for item in items:
        # a call's argument or a display's item is followed by its comma, which must fit too
        laid = lay_expression(item, room - len(INDENT) - (0 if plain_group else 1))
        if not plain_group:
            laid[-1] += ","
        lines.extend(INDENT + line for line in laid)
    lines.append(last[-1])
    return lines


# a statement whose expression can go in brackets over several lines
_STATEMENT = re.compile(
    r"(?P<head>(?:[A-Za-z_]\w*(?:: [^=]+?)? = )|(?:if|elif|while|return) )(?P<expr>.+?)(?P<tail>:?)"
)


def _last_bracket(expr: str) -> int | None:
    """Where the bracket that closes `expr` opens, when that bracket is not the whole expression
    (`a * (b + c)`, `f(x)`) and nothing follows it; None otherwise.  Text in quotes is skipped."""
    if not expr.endswith((")", "]", "}")):
        return None
    stack: list[int] = []
    quoted = False
    i = 0
    while i < len(expr):
        ch = expr[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "([{":
            stack.append(i)
        elif ch in ")]}":
            opened = stack.pop() if stack else -1
            if i == len(expr) - 1:
                return opened if opened > 0 else None
        i += 1
    return None


class Seq:
    """A bracketed display of `items` (text, or nested displays) between `open` and `close`."""

    def __init__(self, items: Sequence[str | Seq], open: str = "(", close: str = ")") -> None:
        self.items = list(items)
        self.open = open
        self.close = close

    def inline(self) -> str:
        parts = [item.inline() if isinstance(item, Seq) else item for item in self.items]
        # a tuple of one (`(a,)`, `name=(a,)`) needs its comma; a call of one argument does not
        single = "," if len(parts) == 1 and (self.open == "(" or self.open.endswith("=(")) else ""
        return self.open + ", ".join(parts) + single + self.close


class CodeWriter:
    """Lines of Python source (`lines`) at the current indentation `level`."""

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def line(self, text: str = "") -> None:
        """One line; an assignment, `if`, `elif`, `while` or `return` too long for the line has its
        expression put in brackets over as many lines as it needs."""
        if text and not self.fits(text):
            match = _STATEMENT.fullmatch(text)
            if match and not match["expr"].endswith(("(", "[", "{")):
                room = LINE_WIDTH - width(INDENT * (self.level + 1))
                hug = _last_bracket(match["expr"])
                if hug is not None:
                    # `x = a * (…)`: the formatter splits at the last bracket when its content fits
                    opening, inner = match["expr"][: hug + 1], match["expr"][hug + 1 : -1]
                    if self.fits(match["head"] + opening) and width(inner) <= room:
                        self.lines.append(INDENT * self.level + match["head"] + opening)
                        self.lines.append(INDENT * (self.level + 1) + inner)
                        self.lines.append(INDENT * self.level + match["expr"][-1] + match["tail"])
                        return
                self.lines.append(INDENT * self.level + match["head"] + "(")
                for part in lay_expression(match["expr"], room):
                    self.lines.append(INDENT * (self.level + 1) + part)
                self.lines.append(INDENT * self.level + ")" + match["tail"])
                return
        self.lines.append(INDENT * self.level + text if text else "")

    def blank(self, count: int = 1) -> None:
        for _ in range(count):
            self.lines.append("")

    def comment(self, text: str) -> None:
        """`# text`, on as many lines as the width asks."""
        if not text.strip():
            self.line("#")
            return
        for part in wrap_comment(comment_text(text), LINE_WIDTH - width(INDENT * self.level) - 2):
            self.line("# " + part)

    @contextlib.contextmanager
    def indent(self) -> Iterator[None]:
        self.level += 1
        try:
            yield
        finally:
            self.level -= 1

    @contextlib.contextmanager
    def block(self, head: str) -> Iterator[None]:
        """`head:` followed by an indented body."""
        self.line(head + ":")
        with self.indent():
            yield

    def choice(self, start: int) -> None:
        """Make the lines from `start` one conditional expression when they are an `if`/`else` that
        gives one target a value in each branch (`x = a if c else b`, as ruff's SIM108 asks) and the
        expression fits the line.  Either value is evaluated only when chosen, as before."""
        lines = self.lines[start:]
        if len(lines) != 4:
            return
        head, first, other, second = lines
        pad = head[: len(head) - len(head.lstrip(" "))]
        body = pad + INDENT
        if not (head.startswith(pad + "if ") and head.endswith(":") and other == pad + "else:"):
            return
        if not (first.startswith(body) and second.startswith(body)):
            return
        target, eq, value = first[len(body) :].partition(" = ")
        target2, eq2, value2 = second[len(body) :].partition(" = ")
        if not (eq and eq2 and target == target2 and target.isidentifier()):
            return
        text = f"{pad}{target} = {value} if {head[len(pad) + 3 : -1]} else {value2}"
        if width(text) <= LINE_WIDTH:
            self.lines[start:] = [text]

    def fits(self, text: str, extra: int = 0) -> bool:
        return width(INDENT * (self.level + extra) + text) <= LINE_WIDTH

    def call(self, head: str, args: Sequence[str], tail: str = ")") -> None:
        """`head` (ending in an opening bracket), the `args` and `tail`: on one line when it fits,
        otherwise one argument per line with a trailing comma, which the formatter keeps."""
        one = head + ", ".join(args) + tail
        if self.fits(one) or not args:
            self.line(one)
            return
        self.line(head)
        with self.indent():
            for arg in args:
                self.line(arg + ",")
        self.line(tail)

    def chain(self, head: str, operands: Sequence[str], op: str, tail: str) -> None:
        """`head` (ending in an opening bracket), the `operands` joined by `op` and `tail`: on one line
        when it fits, otherwise as the formatter lays it out: the operands on one indented line, or one
        per line, each after the first led by `op`."""
        joined = f" {op} ".join(operands)
        if self.fits(head + joined + tail):
            self.line(head + joined + tail)
            return
        self.line(head)
        with self.indent():
            if self.fits(joined):
                self.line(joined)
            else:
                self.line(operands[0])
                for operand in operands[1:]:
                    self.line(f"{op} {operand}")
        self.line(tail)

    def items(self, head: str, items: Sequence[str], tail: str) -> None:
        """A bracketed collection, one item per line with a trailing comma (or `head+tail` when empty); a
        tuple of one item on one line when it fits, as the formatter keeps it (its comma is not one the
        formatter keeps the lines for)."""
        if not items:
            self.line(head + tail)
            return
        if len(items) == 1 and head.endswith("(") and self.fits(head + items[0] + "," + tail):
            self.line(head + items[0] + "," + tail)
            return
        self.line(head)
        with self.indent():
            for item in items:
                self.line(item + ",")
        self.line(tail)

    def display(self, head: str, seq: Seq, tail: str = "") -> None:
        """`head`, a display and `tail`: on one line when it fits, else exploded the way the
        formatter lays it out (one item per line, trailing comma, nested displays likewise)."""
        one = head + seq.inline() + tail
        if self.fits(one) or not seq.items:
            self.line(one)
            return
        self.line(head + seq.open)
        with self.indent():
            for item in seq.items:
                if isinstance(item, Seq):
                    self.display("", item, ",")
                elif not self.fits(item + ",") and (text := _string_value(item)) is not None:
                    # a string too long for its line: consecutive literals in brackets of their own
                    self.string("", text, ",")
                else:
                    self.line(item + ",")
        self.line(seq.close + tail)

    def string(self, head: str, text: str, tail: str = "") -> None:
        """`head`, the literal of `text` and `tail`; a string too long for the line goes in brackets,
        as the formatter would put it, split into literals that fit when it is too long for one line."""
        lit = literal(text)
        if self.fits(head + lit + tail):
            self.line(head + lit + tail)
            return
        self.line(head + "(")
        with self.indent():
            for piece in split_literal(text, LINE_WIDTH - width(INDENT * self.level)):
                self.line(piece)
        self.line(")" + tail)

    def extend(self, other: CodeWriter) -> None:
        self.lines.extend(other.lines)

    def getvalue(self) -> str:
        return "\n".join(self.lines) + "\n"
