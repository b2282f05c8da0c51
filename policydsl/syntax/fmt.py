"""The canonical formatter: print a policy AST back as source text in the house layout, comments kept."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias, TypeVar, assert_never

import attrs

from policydsl.checking.frontend import display_name, load_bytes, load_text, read_file
from policydsl.dates import PartialDate
from policydsl.diagnostics import Severity, Sink, display_width, format_text
from policydsl.source import SourceFile
from policydsl.syntax import ast
from policydsl.syntax.keywords import spelling

WIDTH = 100  # display columns; a Chinese character takes two
INDENT = 2

# ------------------------------------------------------------------------------- layout documents
# A small Wadler-style document: text, line breaks, groups laid out flat when they fit, nesting.


@attrs.frozen
class _Line:
    """A line break; in a group laid out flat it is a space.  A `hard` one always breaks."""

    hard: bool = False


@attrs.frozen(eq=False)
class _Group:
    """`parts` on one line when they fit in the width, else with every line of the group broken.
    A group holding a hard line break or a trailing comment always breaks."""

    parts: Doc


@attrs.frozen(eq=False)
class _Nest:
    """`parts` indented one level further after each break."""

    parts: Doc


@attrs.frozen(eq=False)
class _Fill:
    """Entries and separators, `[entry, separator, entry, …]`: as many entries on a line as fit."""

    parts: list[Doc]


@attrs.frozen(eq=False)
class _Choice:
    """Two layouts of one statement: `first`, unless its first line is too wide or `second` takes
    fewer lines."""

    first: Doc
    second: Doc


@attrs.frozen
class _IfBroken:
    """`text` printed only when the enclosing group is broken (the trailing comma of a list)."""

    text: str


@attrs.frozen
class _Trail:
    """A comment at the end of a line: `text` takes no width when deciding whether a group fits."""

    text: str


Doc: TypeAlias = "str | list[Doc] | _Line | _Group | _Nest | _Fill | _Choice | _IfBroken | _Trail"
_Cmd: TypeAlias = tuple[int, bool, Doc]  # indent, laid out flat, document

_SOFT = _Line()
_HARD = _Line(hard=True)


@functools.lru_cache(maxsize=4096)
def _width(text: str) -> int:
    return len(text) if text.isascii() else display_width(text)


def _children(doc: Doc) -> list[Doc]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, _Fill):
        return doc.parts
    if isinstance(doc, _Group | _Nest):
        return [doc.parts]
    if isinstance(doc, _Choice):
        return [doc.first, doc.second]
    return []


def _broken_groups(doc: Doc) -> set[int]:
    """The ids of the groups holding a hard line break or a trailing comment, at any depth."""
    broken: set[int] = set()
    path: list[int] = []
    stack: list[Doc | None] = [doc]  # None: leave the innermost group
    while stack:
        item = stack.pop()
        if item is None:
            path.pop()
        elif (isinstance(item, _Line) and item.hard) or isinstance(item, _Trail):
            for group in reversed(path):
                if group in broken:
                    break
                broken.add(group)
        else:
            if isinstance(item, _Group):
                path.append(id(item))
                stack.append(None)
            stack.extend(reversed(_children(item)))
    return broken


class _Layout:
    """Lays a document out in WIDTH columns, in the manner of Wadler's "prettier printer"."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.broken = _broken_groups(doc)

    def fits(self, first: list[_Cmd], rest: list[_Cmd], width: int) -> bool:
        """Whether `first`, and what follows it up to the next line break, fit in `width`."""
        todo = list(first)
        behind = len(rest)
        while width >= 0:
            if not todo:
                if behind == 0:
                    return True
                behind -= 1
                todo.append(rest[behind])
                continue
            indent, flat, doc = todo.pop()
            if isinstance(doc, str):
                width -= _width(doc)
            elif isinstance(doc, _Line):
                if doc.hard or not flat:
                    return True
                width -= 1
            elif isinstance(doc, _IfBroken) and not flat:
                width -= _width(doc.text)
            elif isinstance(doc, _Choice):
                todo.append((indent, flat, doc.first))
            else:
                flat = flat and id(doc) not in self.broken
                indent += INDENT if isinstance(doc, _Nest) else 0
                todo.extend((indent, flat, part) for part in reversed(_children(doc)))
        return False

    def choose(self, choice: _Choice, indent: int, column: int) -> Doc:
        first = _Layout(choice.first).render(indent, column).split("\n")
        if column + _width(first[0]) > WIDTH:
            return choice.second
        second = _Layout(choice.second).render(indent, column).split("\n")
        return choice.first if len(first) <= len(second) else choice.second

    def render(self, indent: int = 0, column: int = 0) -> str:
        """The text, starting at `column` with lines indented by `indent`; no line ends in white space."""
        out: list[str] = []
        stack: list[_Cmd] = [(indent, False, self.doc)]
        while stack:
            indent, flat, item = stack.pop()
            if isinstance(item, str | _Trail):
                text = item if isinstance(item, str) else item.text
                out.append(text)
                column += _width(text)
            elif isinstance(item, _Line):
                if flat and not item.hard:
                    out.append(" ")
                    column += 1
                else:
                    out.append("\n" + " " * indent)
                    column = indent
            elif isinstance(item, _IfBroken):
                if not flat:
                    out.append(item.text)
                    column += _width(item.text)
            elif isinstance(item, _Group):
                if id(item) in self.broken:
                    flat = False
                elif not flat:
                    flat = self.fits([(indent, True, item.parts)], stack, WIDTH - column)
                stack.append((indent, flat, item.parts))
            elif isinstance(item, _Choice):
                stack.append((indent, flat, item.first if flat else self.choose(item, indent, column)))
            elif isinstance(item, _Fill):
                # an entry, then the separator laid out flat when the next entry fits on the line too
                first, room = item.parts[0], WIDTH - column
                if len(item.parts) > 2:
                    pair = [first, *item.parts[1:3]]
                    stack.append((indent, flat, _Fill(item.parts[2:])))
                    stack.append((indent, flat or self.fits([(indent, True, pair)], [], room), item.parts[1]))
                stack.append((indent, flat or self.fits([(indent, True, first)], [], room), first))
            else:
                indent += INDENT if isinstance(item, _Nest) else 0
                stack.extend((indent, flat, part) for part in reversed(_children(item)))
        return "\n".join(line.rstrip() for line in "".join(out).split("\n"))


def _render(doc: Doc) -> str:
    return _Layout(doc).render()


# ------------------------------------------------------------------------------- the printer


@attrs.define
class _Elem:
    """One line-level element of a block: the `parts` of a statement or of a comment on its own
    line, with `blank` when the source had a blank line before it."""

    parts: list[Doc]
    blank: bool


@attrs.frozen
class _Stmt:
    """A statement of a block: its source offsets `start` and `end` and how to `build` its layout."""

    start: int
    end: int
    build: Callable[[], Doc]


_N = TypeVar("_N", bound=ast.Node)


def _stmts(nodes: Sequence[_N], build: Callable[[_N], Doc]) -> list[_Stmt]:
    return [_Stmt(node.span.start, node.span.end, functools.partial(build, node)) for node in nodes]


def _text(node: ast.Ident | ast.Name) -> Doc:
    return node.text


_HALF = {"｛": "{", "｝": "}", "＂": '"', "＃": "#"}


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _date(value: datetime.date | PartialDate) -> str:
    if isinstance(value, PartialDate):
        return value.isoformat()
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _level(expr: ast.Expr) -> int:
    """How tightly an expression binds, following the grammar's precedence (atoms are 8)."""
    match expr:
        case ast.Implies():
            return 0
        case ast.Or():
            return 1
        case ast.And():
            return 2
        case ast.Not():
            return 3
        case ast.Compare() | ast.Member():
            return 4
        case ast.BinOp(op="+" | "-"):
            return 5
        case ast.BinOp():
            return 6
        case ast.Negate():
            return 7
    return 8


_LITERALS = (ast.Money, ast.Percent, ast.Ratio, ast.Count, ast.PerUnit, ast.Duration, ast.Number, ast.DateLit)


def _starts_with_name(expr: ast.Expr) -> bool:
    """Whether a postfix operand (`operand 以上`) starts with a name."""
    while isinstance(expr, ast.BinOp) and expr.op in "*/":
        expr = expr.left
    return isinstance(expr, ast.Name)


def _kind(item: ast.Item | ast.Header) -> str:
    """Declarations of one kind stand together (a total cap with the combine rules)."""
    if isinstance(item, ast.ExclusiveKinds):
        return "KindDecl"  # with the kinds it groups
    return "Combine" if isinstance(item, ast.TotalCap | ast.Pot) else type(item).__name__


class _Printer:
    """Prints one policy.  Comments are taken in source order from `comments` as the layout is
    built: before each statement, list entry or closing brace, the comments not yet placed that
    stand before it are placed there.  One on the line where the previous element ended stays at
    the end of that line; the others get lines of their own.  Comments inside a statement but not
    between list entries are `hoisted` to lines of their own before the statement."""

    def __init__(self, policy: ast.Policy, source: SourceFile) -> None:
        self.policy = policy
        self.source = source
        self.comments = sorted(policy.comments, key=lambda c: c.span.start)
        self.next = 0
        self.last_line = 0
        self.hoisted: list[ast.Comment] = []

    # ------------------------------------------------------------------ helpers
    def kw(self, name: str) -> str:
        return spelling(name, self.policy.chinese)

    def line(self, offset: int) -> int:
        return self.source.position(offset)[0]

    def find(self, char: str, start: int) -> int:
        """The offset of the next `char` from `start` outside strings and comments (where the
        parser reads full-width `｛｝＂＃` as `{}"#`)."""
        text, i = self.source.text, start
        while i < len(text):
            ch = _HALF.get(text[i], text[i])
            if ch == '"':
                i += 1
                while i < len(text) and _HALF.get(text[i], text[i]) not in '"\n':
                    i += 2 if text[i] == "\\" else 1
            elif ch == "#":
                while i < len(text) and text[i] != "\n":
                    i += 1
            elif ch == char:
                return i
            i += 1
        return len(text)

    def blank(self, after: int, before: int) -> bool:
        """Whether a blank line stands between source lines `after` and `before`."""
        return any(not self.source.line_text(n).strip() for n in range(after + 1, before))

    def take(self, offset: int) -> list[ast.Comment]:
        """The comments not yet placed that start before `offset`."""
        first = self.next
        while self.next < len(self.comments) and self.comments[self.next].span.start < offset:
            self.next += 1
        return self.comments[first : self.next]

    @staticmethod
    def text_of(comment: ast.Comment) -> str:
        return comment.text.rstrip()

    def opt(self, text: str | None) -> list[Doc]:
        return [] if text is None else [" ", _quote(text)]

    @staticmethod
    def quoted(text: str | None) -> Doc | None:
        return None if text is None else _quote(text)

    def cite(self, text: str | None) -> Doc | None:
        return None if text is None else [self.kw("cite"), " ", _quote(text)]

    @staticmethod
    def continued(first: Doc, rest: Sequence[Doc | None], nest: bool = True) -> Doc:
        """`first`, then the `rest` on the same line when the statement fits, else each on a
        continuation line (`nest`: indented one level further)."""
        parts: list[Doc] = []
        for part in rest:
            if part is not None:
                parts.extend([_SOFT, part])
        if not parts:
            return first
        return [first, _Group([_Nest(parts)] if nest else parts)]

    def labelled(self, head: Doc, first: Doc, rest: Sequence[Doc | None]) -> Doc:
        """`head` (a name and label, ending in `:`) then the statement's `first` part and `rest`
        continued; or, when that takes more lines or starts too wide, `first` on the next line."""
        same_line = [head, " ", self.continued(first, rest)]
        next_line = [head, _Group([_Nest([_SOFT, self.continued(first, rest, nest=False)])])]
        return _Choice(same_line, next_line)

    # ------------------------------------------------------------------ blocks and statements
    def between(self, elems: list[_Elem], offset: int, head: list[Doc]) -> None:
        """Place the comments before `offset` among a block's elements (`head`: the block's
        opening line, for a comment after its `{`)."""
        for comment in self.take(offset):
            line = comment.span.line
            if line == self.last_line:
                (elems[-1].parts if elems else head).append(_Trail("  " + self.text_of(comment)))
            else:
                elems.append(_Elem([self.text_of(comment)], self.blank(self.last_line, line)))
            self.last_line = line

    def statement(self, elems: list[_Elem], stmt: _Stmt, head: list[Doc]) -> None:
        self.between(elems, stmt.start, head)
        start_line = self.line(stmt.start)
        blank = self.blank(self.last_line, start_line)
        outer, self.hoisted = self.hoisted, []
        self.last_line = start_line
        doc = stmt.build()
        hoisted = self.hoisted + self.take(stmt.end)
        self.hoisted = outer
        for comment in hoisted:
            elems.append(_Elem([self.text_of(comment)], blank))
            blank = False
        elems.append(_Elem([doc], blank))
        self.last_line = self.line(stmt.end)

    @staticmethod
    def join(elems: Sequence[_Elem]) -> list[Doc]:
        out: list[Doc] = []
        for i, elem in enumerate(elems):
            if i:
                out.extend([_HARD, _HARD] if elem.blank else [_HARD])
            out.extend(elem.parts)
        return out

    def block(self, head: list[Doc], open_at: int, close_at: int, children: Sequence[_Stmt]) -> Doc:
        """`head {`, one statement a line indented, `}`."""
        self.hoisted += self.take(open_at)
        self.last_line = self.line(open_at)
        first: list[Doc] = [*head, " {"]
        elems: list[_Elem] = []
        for child in children:
            self.statement(elems, child, first)
        self.between(elems, close_at, first)
        self.last_line = self.line(close_at)
        if not elems:
            return [*head, " {}"] if len(first) == len(head) + 1 else [*first, _HARD, "}"]
        return [*first, _Nest([_HARD, *self.join(elems)]), _HARD, "}"]

    def inline(self, inner: list[Doc], offset: int) -> list[str]:
        """Place the comments before `offset` inside a list: one at the end of the previous line
        is added to `inner`; the others are returned, for lines of their own."""
        own: list[str] = []
        for comment in self.take(offset):
            if comment.span.line == self.last_line:
                inner.append(_Trail("  " + self.text_of(comment)))
            else:
                own.append(self.text_of(comment))
            self.last_line = comment.span.line
        return own

    def bracketed(
        self,
        head: list[Doc],
        open_at: int,
        close_at: int,
        entries: Sequence[_N],
        build: Callable[[_N], Doc],
        fill: bool = False,
    ) -> Doc:
        """`head{ a, b }` on one line when it fits, else one entry a line (with `fill`, as many as
        fit), each followed by a comma."""
        self.hoisted += self.take(open_at)
        self.last_line = self.line(open_at)
        parts: list[Doc] = []  # separator, entry, separator, entry …
        for i, node in enumerate(entries):
            sep: list[Doc] = [","] if i else []
            own = self.inline(sep, node.span.start)
            commented = bool(own) or any(isinstance(part, _Trail) for part in sep)
            sep.append(_HARD if commented and i else _SOFT)
            for text in own:
                sep.extend([text, _HARD])
            parts.extend([sep, build(node)])
            self.last_line = self.line(node.span.end)
        inner: list[Doc] = [parts[0], _Fill(parts[1:])] if fill and parts else parts
        if entries:
            inner.append(_IfBroken(","))
        for text in self.inline(inner, close_at):
            inner.extend([_HARD, text])
        self.last_line = self.line(close_at)
        if not inner:
            return [*head, "{}"]
        return _Group([*head, "{", _Nest(inner), _SOFT, "}"])

    # ------------------------------------------------------------------ the file
    def policy_text(self) -> str:
        header = self.policy.header
        units: list[ast.Item | ast.Header] = [*self.policy.items]
        if header is not None:
            units.append(header)
        units.sort(key=lambda unit: unit.span.start)
        elems: list[_Elem] = []
        marks: list[int] = []
        for unit in units:
            marks.append(len(elems))
            self.statement(
                elems, _Stmt(unit.span.start, unit.span.end, functools.partial(self.item, unit)), []
            )
        marks.append(len(elems))
        self.between(elems, len(self.source.text) + 1, [])
        groups = [(unit, elems[marks[i] : marks[i + 1]]) for i, unit in enumerate(units)]
        banner: list[_Elem] = []
        if groups and not isinstance(groups[0][0], ast.Header) and header is not None:
            # the header leads, with its comments; the comments opening the file stay first
            banner, groups[0] = groups[0][1][:-1], (groups[0][0], groups[0][1][-1:])
            groups.sort(key=lambda group: not isinstance(group[0], ast.Header))
        # Top-level elements start at column 0, so each is laid out on its own.  A blank line
        # separates items of different kinds and surrounds items of several lines.
        texts = {id(elem): _render(elem.parts) for elem in elems}
        kinds = ["\n" if "\n" in texts[id(group[-1])] else _kind(unit) for unit, group in groups]
        ordered = banner
        for i, (_, group) in enumerate(groups):
            if i and (kinds[i] == "\n" or kinds[i] != kinds[i - 1]):
                group[0].blank = True
            ordered.extend(group)
        ordered.extend(elems[marks[-1] :])
        out = [
            ("\n\n" if elem.blank and i else "\n" if i else "") + texts[id(elem)]
            for i, elem in enumerate(ordered)
        ]
        return "".join(out) + "\n" if out else ""

    def item(self, item: ast.Item | ast.Header) -> Doc:
        kw, opt, cite, expr = self.kw, self.opt, self.cite, self.expr
        match item:
            case ast.Header():
                lines = item.lines or tuple((key, item.span) for key in self.header_keys(item))
                children = [
                    _Stmt(span.start, span.end, functools.partial(self.header_line, item, key))
                    for key, span in lines
                ]
                head: list[Doc] = [kw("policy"), " ", _quote(item.title)]
                return self.block(head, self.find("{", item.span.start), item.span.end - 1, children)
            case ast.KindDecl():
                return [kw("kind"), " ", item.name.text, *opt(item.label)]
            case ast.ExclusiveKinds():
                names = self.names(item.kinds, self.find("{", item.span.start))
                return self.continued([kw("exclusive_kinds"), " ", names], [cite(item.cite)])
            case ast.UnitDecl():
                return [kw("unit"), " ", item.name.text, *opt(item.label)]
            case ast.EnumDecl():
                head = [kw("enum"), " ", item.name.text, *opt(item.label), " "]
                open_at = self.find("{", item.name.span.end)
                return self.bracketed(head, open_at, item.span.end - 1, item.members, self.member)
            case ast.FactDecl():
                bounds: list[Doc] = []
                for i, bound in enumerate(item.bounds):
                    # `fact x: money (y) 以上`: without the brackets `y` would read as a count unit
                    guard = (
                        i == 0 and item.type.unit is None and bound.postfix and _starts_with_name(bound.value)
                    )
                    bounds.extend([" ", self.bound(bound, guard)])
                return [
                    kw("fact"),
                    " ",
                    item.name.text,
                    *opt(item.label),
                    ": ",
                    *self.type_ref(item.type),
                    *bounds,
                ]
            case ast.ParamDecl():
                head = [kw("param"), " ", item.name.text, *opt(item.label), ": ", *self.type_ref(item.type)]
                first = item.versions[0]
                if first.start is None:
                    value = [*head, " = ", self.value(first.value)]
                    return self.continued(value, [cite(first.cite)])
                versions = _stmts(item.versions, self.version)
                return self.block(head, self.find("{", item.type.span.end), item.span.end - 1, versions)
            case ast.Assume():
                return self.continued([kw("assume"), " ", expr(item.cond)], [self.quoted(item.label)])
            case ast.Eligibility():
                reqs = _stmts(item.requirements, self.measure_item)
                return self.block(
                    [kw("eligibility")], self.find("{", item.span.start), item.span.end - 1, reqs
                )
            case ast.Measure():
                head = [kw("measure"), " ", item.name.text, *opt(item.label)]
                if item.cite is not None:
                    head.extend([" ", kw("cite"), " ", _quote(item.cite)])
                items = _stmts(item.items, self.measure_item)
                return self.block(head, self.find("{", item.span.start), item.span.end - 1, items)
            case ast.Combine():
                before = item.mode if item.other is None else item.other
                names = (
                    "{ " + kw("all") + " }"
                    if item.every
                    else self.names(item.measures, self.find("{", before.span.end))
                )
                against = [] if item.other is None else [kw("against"), " ", item.other.text, " "]
                combine_line: list[Doc] = [kw("combine"), " ", item.mode.text, " ", *against, names]
                return self.continued(combine_line, [cite(item.cite), self.quoted(item.reason)])
            case ast.TotalCap():
                amount = expr(item.amount)
                names = self.names(item.measures, self.find("{", item.amount.span.end))
                first_line = [kw("total_cap"), " ", amount, " ", kw("over"), " ", names]
                return self.continued(first_line, [cite(item.cite)])
            case ast.Pot():
                pot_head: list[Doc] = [
                    kw("pot"),
                    " ",
                    item.name.text,
                    *self.opt(item.label),
                    " ",
                    expr(item.amount),
                ]
                if item.each_year:
                    pot_head.extend([" ", kw("each_year")])
                names = self.names(item.measures, self.find("{", item.amount.span.end))
                pot_head.extend([" ", kw("over"), " ", names])
                allocate: Doc | None = None
                if item.allocate is not None:
                    allocate = [kw("allocate"), " ", item.allocate.text]
                    if item.by is not None:
                        allocate = [allocate, " ", kw("by"), " ", expr(item.by)]
                return self.continued(pot_head, [allocate, cite(item.cite)])
            case ast.Acknowledge():
                names = self.names(item.targets, self.find("{", item.code.span.end))
                first_line = [kw("acknowledge"), " ", item.code.text, " ", names]
                return self.continued(first_line, [_quote(item.reason)])
            case ast.Example():
                return self.example(item)
            case _:
                assert_never(item)

    # ------------------------------------------------------------------ pieces of items
    @staticmethod
    def header_keys(header: ast.Header) -> list[str]:
        fields = {
            "issuer": header.issuer,
            "docno": header.docno,
            "issued": header.issued,
            "valid": header.validity,
            "source": header.source,
            "rounding": header.rounding,
            "cite": header.cite,
        }
        return [key for key, value in fields.items() if value is not None]

    def header_line(self, header: ast.Header, key: str) -> Doc:
        kw = self.kw
        match key:
            case "issuer" | "docno" | "source":
                value = {"issuer": header.issuer, "docno": header.docno, "source": header.source}[key]
                return [kw(key), " ", _quote(value or "")]
            case "cite":
                return [kw("cite"), " ", _quote(header.cite or "")]
            case "issued":
                return [kw("issued"), " ", kw("unset") if header.issued is None else _date(header.issued)]
            case "rounding" if header.rounding is not None:
                return [kw("rounding"), " ", header.rounding.unit.text, " ", header.rounding.mode.text]
            case "valid" if header.validity is not None:
                v = header.validity
                start = kw("unset") if v.start is None else kw("issued") if v.start == "issued" else v.start
                start_text = start if isinstance(start, str) else _date(start)
                end: list[Doc] = (
                    [" ", kw("until"), " ", _date(v.end)]
                    if v.end is not None
                    else [" ", kw("lasting"), " ", v.duration.text]
                    if v.duration is not None
                    else []
                )
                return [kw("valid"), " ", kw("from"), " ", start_text, *end]
        raise ValueError(f"the header has no `{key}`")

    def member(self, member: ast.EnumMember) -> Doc:
        return [member.name.text, *self.opt(member.label)]

    def type_ref(self, ref: ast.TypeRef) -> list[Doc]:
        return [ref.name.text] if ref.unit is None else [ref.name.text, " ", ref.unit.text]

    def version(self, version: ast.ParamVersion) -> Doc:
        start = _date(version.start) if version.start is not None else ""
        first = [self.kw("from"), " ", start, " = ", self.value(version.value)]
        return self.continued(first, [self.cite(version.cite)])

    def names(self, names: Sequence[ast.Ident | ast.Name], open_at: int) -> Doc:
        close_at = self.find("}", names[-1].span.end) if names else self.find("}", open_at + 1)
        return self.bracketed([], open_at, close_at, names, _text, fill=True)

    def measure_item(self, item: ast.MeasureItem) -> Doc:
        kw, cite, expr, quoted = self.kw, self.cite, self.expr, self.quoted
        match item:
            case ast.Applicants():
                return [kw("applicants"), " ", ", ".join(k.text for k in item.kinds)]
            case ast.Pays():
                return [kw("pays"), " ", ", ".join(f.text for f in item.forms)]
            case ast.Requirement() | ast.Exclusion() | ast.Preference():
                word = {ast.Requirement: "require", ast.Exclusion: "exclude", ast.Preference: "prefer"}[
                    type(item)
                ]
                first = [kw(word), " ", expr(item.cond)]
                return self.continued(first, [quoted(item.reason), cite(item.cite)])
            case ast.Clause():
                return self.clause(item)
            case ast.FundingLimit():
                first = [
                    kw("funding_limit"),
                    " ",
                    expr(item.limit),
                    " ",
                    kw("counting"),
                    " ",
                    ", ".join(c.text for c in item.counting),
                ]
                return self.continued(first, [cite(item.cite)])
            case ast.Quota():
                rank = None if item.rank is None else [kw("rank"), " ", expr(item.rank)]
                selected: Doc | None = (
                    None if item.selected_by is None else [kw("selected_by"), " ", item.selected_by.text]
                )
                return self.continued([kw("quota"), " ", str(item.count)], [rank, selected, cite(item.cite)])
            case ast.GroupCap():
                first = [kw("group_cap"), " ", expr(item.amount), " ", kw("per"), " ", item.per.text]
                allocate: Doc | None = (
                    None if item.allocate is None else [kw("allocate"), " ", item.allocate.text]
                )
                return self.continued(first, [allocate, cite(item.cite)])
            case ast.Budget():
                return self.continued([kw("budget"), " ", expr(item.amount)], [cite(item.cite)])
            case ast.Population():
                first = [kw("expects"), " ", *([kw("about"), " "] if item.about else []), item.written]
                what: Doc = (
                    [kw("recipients")] if item.counting is None else [kw("counting"), " ", item.counting.text]
                )
                return self.continued([first, " ", what], [cite(item.cite)])
            case ast.Instalment():
                head = [kw("instalment"), " ", item.name.text, *self.opt(item.label), ":"]
                share = kw("rest") if item.share is None else expr(item.share)
                return self.labelled(head, share, [[kw("if"), " ", expr(item.cond)], cite(item.cite)])
            case ast.NoClawback():
                return self.continued(kw("no_clawback"), [cite(item.cite)])
            case _:
                assert_never(item)

    def clause(self, clause: ast.Clause) -> Doc:
        kw, expr = self.kw, self.expr
        head: list[Doc] = [kw(clause.kind)]
        if clause.name is not None:
            head.extend([" ", clause.name.text, *self.opt(clause.label), ":"])
        first: list[Doc] = []
        if clause.exception_of is not None:
            first.extend([kw("exception"), " ", clause.exception_of.text, " "])
            if clause.priority is not None:
                first.extend([kw("priority"), " ", str(clause.priority), " "])
        amount = clause.amount
        floors = amount.floors
        if amount.written_range and amount.expr is not None and floors:
            first.extend([kw("range"), " ", expr(floors[0]), " ", kw("to"), " "])
            floors = floors[1:]
        elif amount.mode == "ceiling":
            first.extend([kw("ceiling"), " "])
        first.append(kw("unset") if amount.expr is None else expr(amount.expr))
        rest: list[Doc | None] = []
        for floor in floors:
            rest.append([kw("floor"), " ", expr(floor)])
        for cap in amount.caps:
            rest.append([kw("cap"), " ", expr(cap)])
        for offset in amount.offsets:
            rest.append([kw("offset"), " ", expr(offset)])
        for cond in clause.conditions:
            rest.append([kw("unless" if cond.negated else "if"), " ", expr(cond.expr)])
        rest.append(self.cite(clause.cite))
        if clause.name is None:
            return [*head, " ", self.continued(first, rest)]
        return self.labelled(head, first, rest)

    def example(self, example: ast.Example) -> Doc:
        kw = self.kw
        head: list[Doc] = [kw("base" if example.template else "example"), " ", _quote(example.name)]
        if example.base is not None:
            # `from "…"` in English, `基于 "…"` in Chinese (`自` reads as a start date there)
            word = kw("based_on") if self.policy.chinese else kw("from")
            head.extend([" ", word, " ", _quote(example.base.value)])
        if example.date is not None:
            head.extend([" ", kw("on"), " ", _date(example.date)])
        open_at = self.find("{", example.span.start)
        children: list[_Stmt] = []
        for word, span, bindings in (
            ("given", example.given_span, example.given),
            ("with", example.params_span, example.params),
        ):
            if span is None:
                continue
            inner_open = self.find("{", span.start)
            inner_close = span.end - 1

            def block(
                word: str = word,
                at: int = inner_open,
                close: int = inner_close,
                entries: tuple[ast.Binding, ...] = bindings,
            ) -> Doc:
                return self.bracketed([kw(word), " "], at, close, entries, self.binding, fill=True)

            children.append(_Stmt(span.start, span.end, block))
        children += _stmts(example.expectations, self.expectation)
        return self.block(head, open_at, example.span.end - 1, children)

    def binding(self, binding: ast.Binding) -> Doc:
        value: Doc
        if isinstance(binding.value, ast.Text):
            value = _quote(binding.value.value)
        elif isinstance(binding.value, ast.Roles):
            value = self.names(binding.value.kinds, binding.value.span.start)
        else:
            value = self.expr(binding.value)
        return [binding.name.text, ": ", value]

    def expectation(self, expect: ast.Expectation) -> Doc:
        kw = self.kw
        target = kw("total") if expect.target is None else expect.target.text
        head: list[Doc] = [kw("expect"), " ", target]
        if expect.kind == "amount" and expect.value is not None:
            return [*head, " = ", self.expr(expect.value)]
        if expect.kind == "ceiling" and expect.value is not None:
            return [*head, " ", kw("ceiling"), " ", self.expr(expect.value)]
        return [*head, " ", kw(expect.kind)]

    # ------------------------------------------------------------------ expressions
    def value(self, value: ast.Expr | ast.Unset) -> Doc:
        return self.kw("unset") if isinstance(value, ast.Unset) else self.expr(value)

    def expr(self, expr: ast.Expr, need: int = 0) -> Doc:
        """`expr` where the grammar wants precedence level `need`, in brackets if it binds looser."""
        doc = self.bare(expr)
        return ["(", doc, ")"] if _level(expr) < need else doc

    def operand(self, expr: ast.Expr) -> Doc:
        """The number before a postfix word: an atom, or a product starting with one."""
        if isinstance(expr, ast.BinOp) and expr.op in ("*", "/"):
            return [self.operand(expr.left), f" {expr.symbol} ", self.expr(expr.right, 7)]
        return self.expr(expr, 8)

    def bound(self, bound: ast.Bound, guard: bool = False) -> Doc:
        if not bound.postfix:
            return [bound.word, " ", self.expr(bound.value, 5)]
        if guard:
            return ["(", self.expr(bound.value), ")", " ", bound.word]
        # an amount and its word stand together, as in the statute: `10亿元以上`
        glue = "" if isinstance(bound.value, _LITERALS) else " "
        return [self.operand(bound.value), glue, bound.word]

    def bare(self, expr: ast.Expr) -> Doc:
        kw, sub = self.kw, self.expr
        match expr:
            case ast.Money() | ast.Percent() | ast.Ratio() | ast.Count() | ast.PerUnit() | ast.Duration():
                return expr.text
            case ast.Number() | ast.DateLit():
                return expr.text
            case ast.Bool():
                return kw("true" if expr.value else "false")
            case ast.Name():
                return expr.text
            case ast.Implies():
                return [sub(expr.left, 1), " ", kw("implies"), " ", sub(expr.right, 1)]
            case ast.Or():
                return [sub(expr.left, 1), " ", kw("or"), " ", sub(expr.right, 2)]
            case ast.And():
                return [sub(expr.left, 2), " ", kw("and"), " ", sub(expr.right, 3)]
            case ast.Not():
                return [kw("not"), " ", sub(expr.operand, 3)]
            case ast.Compare():
                bound = ast.Bound(expr.span, expr.op, expr.right, expr.word, expr.postfix)
                if expr.elided:  # `超过 3000万 且 不满 5000万`: the subject stands in the comparison before
                    return self.bound(bound)
                return [sub(expr.left, 5), " ", self.bound(bound)]
            case ast.Member():
                values = ", ".join(v.text for v in expr.values)
                return [sub(expr.subject, 5), " ", kw("in"), " [", values, "]"]
            case ast.BinOp():
                level = _level(expr)
                return [sub(expr.left, level), f" {expr.symbol} ", sub(expr.right, level + 1)]
            case ast.Negate():
                return ["-", sub(expr.operand, 7)]
            case ast.Call():
                args: list[Doc] = []
                for i, arg in enumerate(expr.args):
                    args.extend([", "] if i else [])
                    args.append(sub(arg))
                return [kw(expr.func), "(", *args, ")"]
            case ast.Table():
                head: list[Doc] = [kw("by"), " ", expr.subject.text, " "]
                open_at = self.find("{", expr.subject.span.end)
                return self.bracketed(head, open_at, expr.span.end - 1, expr.entries, self.table_row)
            case ast.Band():
                head = [kw("band"), " ", sub(expr.subject, 8), " "]
                open_at = self.find("{", expr.subject.span.end)
                return self.bracketed(head, open_at, expr.span.end - 1, expr.entries, self.band_row)
            case ast.Schedule():
                head = [kw("schedule"), " ", sub(expr.start, 8), " "]
                open_at = self.find("{", expr.start.span.end)
                return self.bracketed(head, open_at, expr.span.end - 1, expr.entries, self.schedule_row)
            case ast.Brackets():
                head = [kw("progressive"), " ", sub(expr.subject, 8), " "]
                open_at = self.find("{", expr.subject.span.end)
                return self.bracketed(head, open_at, expr.span.end - 1, expr.entries, self.bracket_row)
            case _:
                assert_never(expr)

    def bracket_row(self, row: ast.BracketEntry) -> Doc:
        parts: list[Doc] = []
        for i, bound in enumerate(row.bounds):
            parts.extend([" ", self.kw("and"), " "] if i else [])
            parts.append(self.bound(bound))
        return [*parts, ": ", self.expr(row.rate)]

    def schedule_row(self, row: ast.ScheduleEntry) -> Doc:
        """`第1至2年: 80%`, `第3年: 2万` (`years 1 until 2: 80%`, `years 3: 2万`)."""
        first, last = row.first, row.last
        if self.kw("years") == "第":
            years = f"第{first}年" if first == last else f"第{first}至{last}年"
        else:
            years = f"years {first}" if first == last else f"years {first} until {last}"
        return [years, ": ", self.value(row.value)]

    def table_row(self, row: ast.TableEntry) -> Doc:
        key = self.kw("otherwise") if row.key is None else row.key.text
        return [key, ": ", self.value(row.value)]

    def band_row(self, row: ast.BandEntry) -> Doc:
        if row.bounds is None:
            return [self.kw("otherwise"), ": ", self.value(row.value)]
        parts: list[Doc] = []
        for i, bound in enumerate(row.bounds):
            parts.extend([" ", self.kw("and"), " "] if i else [])
            parts.append(self.bound(bound))
        return [*parts, ": ", self.value(row.value)]


# ------------------------------------------------------------------------------- entry points


def format_policy(policy: ast.Policy, source: SourceFile) -> str:
    """The canonical text of a policy parsed from `source` (whose comments it keeps)."""
    return _Printer(policy, source).policy_text()


def format_source(name: str, text: str, sink: Sink) -> str | None:
    """Format policy text; None, with the problems reported into `sink`, when it has syntax or
    literal errors.  Type errors do not stop the formatter."""
    local = Sink()
    loaded = load_text(name, text, local)
    sink.extend(local.diagnostics)
    if loaded.policy is None or loaded.source is None or local.has_errors:
        return None
    return format_policy(loaded.policy, loaded.source)


# ------------------------------------------------------------------------------- one file for `fmt`


def _keeps_meaning(name: str, policy: ast.Policy, formatted: str) -> bool:
    """The formatted text parses to the same AST with the same comments (a guard before writing)."""
    again = load_text(name, formatted, Sink()).policy
    return (
        again is not None
        and again == policy
        and sorted(c.text.rstrip() for c in again.comments)
        == sorted(c.text.rstrip() for c in policy.comments)
    )


@attrs.frozen
class Formatted:
    """A file that formats: its bytes as read (`data`), its text (`before`) and canonical text (`after`)."""

    data: bytes
    before: str
    after: str


def format_file(path: Path) -> Formatted | str:
    """Format one file (`-`: standard input); on failure, the text saying why."""
    name, sink = display_name(path), Sink()
    data = read_file(path, sink)  # at most the size limit; `-` is standard input
    if data is None:
        return format_text(sink.diagnostics, {})
    loaded = load_bytes(name, data, sink)
    if loaded.source is None or loaded.policy is None or sink.has_errors:
        errors = [d for d in sink.diagnostics if d.severity is Severity.ERROR]
        return format_text(errors, {name: loaded.source} if loaded.source is not None else {})
    after = format_policy(loaded.policy, loaded.source)
    if not _keeps_meaning(name, loaded.policy, after):
        return f"{name}: error: formatting would change what this file means; it is left as it is"
    return Formatted(data, loaded.source.text, after)
