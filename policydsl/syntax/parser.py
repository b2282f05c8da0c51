"""Text to Lark parse tree; every Lark error is translated into a diagnostic here and nowhere else."""

from __future__ import annotations

import contextvars
import difflib
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule
from lark.lark import _LOAD_ALLOWED_OPTIONS as _LOAD_OPTIONS
from lark.lexer import TerminalDef

from policydsl import codes
from policydsl.diagnostics import Code, Fix, Note, Sink
from policydsl.messages import Message, msg, text
from policydsl.source import SourceFile
from policydsl.syntax import builder
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
    chinese_keywords,
    spelling,
)

# 1 MiB is twenty times the longest policy written so far (55 KB); a file that size parses and
# checks in about 15 s, and every repair of a syntax error parses it again (docs/reliability.md).
MAX_BYTES = 1024 * 1024
MAX_NESTING = 200  # brackets, checked before parsing
MAX_DEPTH = 100  # levels of the parse tree; every later pass recurses over it
MAX_SYNTAX_ERRORS = 20
# Finding later syntax errors re-parses the repaired text; the search stops once this many
# characters have been re-parsed, so that a long file full of errors cannot take minutes.
RECOVERY_BUDGET = 2_000_000

_comments: contextvars.ContextVar[list[lark.Token]] = contextvars.ContextVar("comments")


def grammar_text() -> str:
    """The grammar, from the installed package data or, in a source checkout, from grammar/."""
    packaged = resources.files("policydsl").joinpath("grammar/policy.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "policy.lark").read_text(encoding="utf-8")


def _on_comment(token: lark.Token) -> lark.Token:
    # comments are collected for the formatter during `parse`; other uses of the lexer ignore them
    collected = _comments.get(None)
    if collected is not None:
        collected.append(token)
    return token


# How the grammar is compiled: the shipped tables are built with these options, and the parser is
# built from the grammar text with them too when the tables do not match it.
_OPTIONS: dict[str, Any] = {"parser": "lalr", "lexer": "contextual", "maybe_placeholders": True}


TABLES = "parser_tables.json"


@functools.cache
def _parser() -> lark.Lark:
    """The parser, loaded from the LALR tables shipped as package data (policydsl/syntax/parser_tables.json).

    No parser cache is read from or written to disk: Lark's `cache=True` unpickles a file with a
    predictable name in the shared temporary folder, which another local user can plant. The tables
    are JSON inside the installed package, turned into Lark's objects without pickle. When they do not
    match the grammar or the installed Lark (a source checkout with an edited grammar before `make
    tables`, another Lark release), the parser is built in memory from the grammar (about 0.5 s)."""
    callbacks = {"COMMENT": _on_comment}
    tables = _shipped_tables()
    if tables is not None:
        load: Any = lark.Lark._load_from_dict  # what Lark's standalone parsers call; not annotated
        loaded: lark.Lark = load(
            tables["data"], tables["memo"], lexer_callbacks=callbacks, propagate_positions=True
        )
        return loaded
    return lark.Lark(grammar_text(), **_OPTIONS, propagate_positions=True, lexer_callbacks=callbacks)


@functools.cache
def _building_parser() -> lark.Lark:
    """The parser of `parse`: the same tables, but each rule's callback builds its AST node as the
    rule is reduced (builder.reductions) instead of a Lark tree that is walked afterwards, and spans
    are taken from the reduced tokens instead of Lark's `propagate_positions` (which computed every
    node's position twice over, for a tree that was then thrown away).  Errors are reported from
    `_parser`'s trees, as the messages read the tokens on its stack."""
    callbacks = {"COMMENT": _on_comment, "STRING": builder.on_string}
    tables = _shipped_tables()
    loaded: lark.Lark
    if tables is not None:
        load: Any = lark.Lark._load_from_dict
        loaded = load(tables["data"], tables["memo"], lexer_callbacks=callbacks)
    else:
        loaded = lark.Lark(grammar_text(), **_OPTIONS, lexer_callbacks=callbacks)
    # Lark hands its LALR parser this dictionary of callbacks (rule -> callback) and calls no other
    loaded._callbacks.update(builder.reductions(loaded.rules, MAX_DEPTH))
    return loaded


def _grammar_hash() -> str:
    return hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()


def _int_keys(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    # JSON keys are text; the tables number their states, symbols and shared objects with integers
    return {int(k) if k.isdigit() else k: v for k, v in pairs}


def _shipped_tables() -> dict[str, Any] | None:
    try:
        text = resources.files("policydsl.syntax").joinpath(TABLES).read_text(encoding="utf-8")
        tables: dict[str, Any] = json.loads(text, object_pairs_hook=_int_keys)
    except (OSError, ValueError):
        return None
    if tables.get("grammar_sha256") != _grammar_hash() or tables.get("lark_version") != lark.__version__:
        return None
    return tables


def _canonical_table(table: dict[str, Any]) -> dict[str, Any]:
    """The serialized LALR table with its states numbered in the order a breadth-first walk from the
    start state meets them (symbols in name order), so that the same grammar always gives the same
    tables: Lark numbers states in the iteration order of sets of objects hashed by identity."""
    names: list[str] = table["tokens"]
    states: dict[int, dict[int, tuple[int, Any]]] = table["states"]
    start = table["start_states"]["start"]
    number = {start: 0}
    queue = [start]
    for state in queue:
        for _, (action, arg) in sorted(states[state].items(), key=lambda item: names[item[0]]):
            if action == 0 and arg not in number:  # a shift or goto
                number[arg] = len(number)
                queue.append(arg)
    assert len(number) == len(states), "an LALR state is unreachable from the start"
    tokens = sorted({names[t] for actions in states.values() for t in actions})
    token_id = {name: i for i, name in enumerate(tokens)}
    renumbered = {
        number[state]: {
            token_id[names[t]]: (action, number[arg] if action == 0 else arg)
            for t, (action, arg) in sorted(actions.items(), key=lambda item: names[item[0]])
        }
        for state, actions in states.items()
    }
    return {
        "tokens": tokens,
        "states": dict(sorted(renumbered.items())),
        "start_states": {name: number[s] for name, s in table["start_states"].items()},
        "end_states": {name: number[s] for name, s in table["end_states"].items()},
    }


def tables_source() -> str:
    """The text of policydsl/syntax/parser_tables.json, the grammar's LALR tables (`make tables` writes it;
    a test checks that it matches grammar/policy.lark)."""
    built = lark.Lark(grammar_text(), **_OPTIONS)
    data, memo = built.memo_serialize([TerminalDef, Rule])
    data["parser"]["parser"] = _canonical_table(data["parser"]["parser"])
    # options given when loading (callbacks, positions) are not part of the tables
    data["options"] = {k: v for k, v in data["options"].items() if k not in _LOAD_OPTIONS}
    tables = {"grammar_sha256": _grammar_hash(), "lark_version": lark.__version__, "data": data, "memo": memo}
    return _json(tables) + "\n"


def _json(value: Any, depth: int = 0) -> str:
    """JSON with one entry a line down to the parse table's states (each state on one line)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= 100 or depth >= 4 or not isinstance(value, dict | list):
        return text
    indent = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{indent}{json.dumps(str(k))}:{_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [f"{indent}{_json(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


# Full-width forms pasted from word processors (５０％, （, ，, ：) read as their half-width forms
# outside strings and comments; the mapping is one character to one, so positions do not move.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


# What _code_chars skips, as one pattern: a text up to its closing mark or the end of its line (`\"`
# does not close it), or a comment with its line break.
_NOT_CODE = re.compile(r'"(?:[^"\\\n]|\\[^\n])*(?:"|\\?\n|\\?\Z)|#[^\n]*\n?')


_FOLDED = re.compile("[\u3000\uff01-\uff5e]")


def normalize(text: str) -> str:
    """Fold full-width ASCII outside strings and comments; keep everything else as written."""
    if _FOLDED.search(text) is None:  # Chinese text without full-width forms: nothing to fold
        return text
    if "\uff3c" in text:  # `＼` folds to `\` but escapes nothing in a string: character by character
        return _normalize_by_character(text)
    # Fold everything, then put back what stands inside strings and comments as written, but for
    # their opening mark and a quotation mark inside a string, which stay folded as in the loop below.
    folded = text.translate(_FULLWIDTH)
    out: list[str] = []
    at = 0
    for skipped in _NOT_CODE.finditer(folded):
        start, end = skipped.span()
        out.append(folded[at : start + 1])
        inside = text[start + 1 : end]
        out.append(inside.replace("\uff02", '"') if folded[start] == '"' else inside)
        at = end
    out.append(folded[at:])
    return "".join(out)


def _normalize_by_character(text: str) -> str:
    out: list[str] = []
    in_string = in_comment = escaped = False
    for ch in text:
        folded = chr(_FULLWIDTH.get(ord(ch), ord(ch)))
        if in_comment:
            out.append(ch)
            in_comment = ch != "\n"
        elif in_string:
            out.append(ch if folded != '"' else '"')
            # `\"` does not end the text, so what follows it is not folded
            if escaped or ch == "\n":
                in_string, escaped = ch != "\n", False
            elif ch == "\\":
                escaped = True
            else:
                in_string = folded != '"'
        else:
            out.append(folded)
            in_string = folded == '"'
            in_comment = folded == "#"
    return "".join(out)


def decode(name: str, data: bytes, sink: Sink) -> SourceFile | None:
    """Bytes to a SourceFile, or a diagnostic when the file is not UTF-8 text."""
    empty = SourceFile(name, "")
    if len(data) > MAX_BYTES:
        sink.report(
            codes.E005,
            msg("read.file_too_large", size=len(data), limit=MAX_BYTES),
            empty.span(0, 0),
            hint=msg("read.split_file"),
        )
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", errors="replace")
        source = SourceFile(name, prefix)
        sink.report(
            codes.E004,
            msg("read.not_utf8", byte=f"{data[exc.start]:02x}", offset=exc.start),
            source.span(len(prefix), len(prefix)),
            hint=msg("read.save_as_utf8"),
        )
        return None
    if "\x00" in text:
        source = SourceFile(name, text)
        at = text.index("\x00")
        sink.report(
            codes.E004,
            msg("read.nul"),
            source.span(at, at + 1),
            hint=msg("read.plain_text"),
        )
        return None
    return SourceFile(name, text)


# ------------------------------------------------------------------------- words for messages

_TOP_LEVEL = (
    "policy", "kind", "exclusive_kinds", "unit", "enum", "fact", "param", "assume", "eligibility",
    "measure", "combine", "total_cap", "pot", "acknowledge", "example", "base",
)  # fmt: skip
_HEADER_ITEMS = ("issuer", "docno", "issued", "valid", "source", "rounding")
_MEASURE_ITEMS = (
    "applicants", "pays", "require", "award", "bonus", "exclude", "prefer",
    "funding_limit", "quota", "group_cap", "budget", "expects", "instalment", "no_clawback",
)  # fmt: skip
# Keywords that start a line-sized item inside a block: such a line can be skipped alone.
_LINE_ITEMS = frozenset(_HEADER_ITEMS + _MEASURE_ITEMS + ("expect",))
_VALUE_KEYWORDS = (
    "true",
    "false",
    "min",
    "max",
    "blocks",
    "round_down",
    "since",
    "year",
    "year_no",
    "by",
    "band",
    "progressive",
    "schedule",
    "not",
)
_SYMBOLS = frozenset({">=", "≥", ">", "<=", "≤", "<", "==", "!=", "≠"})
_COMPARISONS = frozenset(PREFIX_WORDS) | frozenset(POSTFIX_WORDS) | _SYMBOLS
_OPERATORS = frozenset({"+", "-", "*", "/", "×", "÷"})
_KEYWORD_OF = {spelling: name for name, pair in KEYWORDS.items() for spelling in pair}
_VOCABULARY = frozenset().union(
    TYPE_NAMES, PAYMENT_FORMS, ROUNDING_UNITS, ROUNDING_MODES, COMBINE_MODES, ALLOCATIONS
)


@functools.cache
def _literals() -> dict[str, str]:
    """Terminal name -> the literal text of string terminals (`AWARD` -> `award`, `__ANON_2` -> `>=`)."""
    return {t.name: t.pattern.value for t in _parser().terminals if t.pattern.type == "str"}


@functools.cache
def _terminal_names() -> frozenset[str]:
    return frozenset(t.name for t in _parser().terminals) | {"$END"}


def _keyword(name: str, chinese: bool) -> str:
    english, zh = KEYWORDS[name]
    return f"`{zh if chinese else english}`"


def _examples(names: tuple[str, ...], chinese: bool) -> tuple[Message, ...]:
    return tuple(text(_keyword(n, chinese)) for n in names)


def _join(parts: list[Message]) -> Message:
    if len(parts) > 7:
        return msg("expect.cut", items=tuple(parts[:6]))
    if len(parts) == 1:
        return parts[0]
    return msg("expect.or", items=tuple(parts[:-1]), last=parts[-1])


def describe_expected(accepted: set[str], chinese: bool = False) -> Message:
    """What the parser would have accepted, in words a drafter reads: `}`, a measure item such as
    `award`, a value such as `50万` or a name… — never raw terminal names."""
    literals = _literals()
    texts = {literals[name] for name in accepted if name in literals}
    # by the English spelling, which no two keywords share (`until` and `to` are both 至 in Chinese)
    keywords = {name for name, (english, _) in KEYWORDS.items() if english in texts}
    parts: list[Message] = []
    for punct in ("}", ")", "]", ":", ",", "=", "{", "["):
        if punct in texts:
            parts.append(text(f"`{punct}`"))
    if "STRING" in accepted:
        parts.append(msg("expect.quoted_text"))
    for group, noun, order in (
        (_TOP_LEVEL, msg("expect.declaration"), ("fact", "measure", "example")),
        (_HEADER_ITEMS, msg("expect.header_line"), ("issuer", "issued", "valid")),
        (_MEASURE_ITEMS, msg("expect.measure_item"), ("award", "require", "applicants")),
    ):
        if len(keywords & set(group)) >= 3:
            parts.append(msg("expect.group", noun=noun, examples=_examples(order, chinese)))
            keywords -= set(group)
    value_start = {"NAME", "QUANTITY"} <= accepted
    if value_start:
        parts.append(msg("expect.value"))
        keywords -= set(_VALUE_KEYWORDS) - {"not"}
    else:
        for terminal, words in (
            ("NAME", msg("expect.name")),
            ("QUANTITY", msg("expect.quantity")),
            ("DATE", msg("expect.date")),
        ):
            if terminal in accepted:
                parts.append(words)
        if "(" in texts:
            parts.append(text("`(`"))
    if len(texts & _COMPARISONS) >= 3:
        parts.append(msg("expect.comparison"))
    else:
        parts.extend(text(f"`{t}`") for t in sorted(texts & _COMPARISONS))
    operators = texts & _OPERATORS
    if len(operators) >= 3:
        parts.append(msg("expect.operator"))
    elif not value_start:
        parts.extend(text(f"`{t}`") for t in sorted(operators))
    # remaining keywords, in the order of the keyword table, spelled in the file's language
    for name in KEYWORDS:
        if name in keywords and name not in ("implies",):
            parts.append(text(_keyword(name, chinese)))
    if "$END" in accepted:
        parts.append(msg("expect.end"))
    return _join(parts) if parts else msg("expect.something_else")


def _found(token: lark.Token) -> Message:
    value = str(token.value)
    if token.type == "$END":
        return msg("expect.end")
    if token.type == "NAME":
        return msg("expect.found_name", name=value)
    if token.type == "STRING":
        shown = value if len(value) <= 24 else value[:20] + '…"'
        return msg("expect.found_text", text=shown)
    if value in _KEYWORD_OF:
        return msg("expect.found_keyword", word=value)
    return text(f"`{value}`")


def _accepted(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser would take at the error, including the Chinese keywords (Lark's
    own `accepts()` only tries terminal names written in capitals)."""
    parser: Any = exc.interactive_parser  # lark's interactive parser is not annotated
    if parser is None:
        return set(exc.expected)
    names = _terminal_names()
    accepted: set[str] = set()
    for terminal in parser.choices():
        if terminal not in names:
            continue
        trial = parser.copy(deepcopy_values=False)
        try:
            trial.feed_token(lark.Token(terminal, ""))
        except UnexpectedInput:
            continue
        accepted.add(terminal)
    return accepted


# ------------------------------------------------------------------------- known mistakes


@attrs.frozen
class _Mistake:
    """A common mistake: the `code`, `message` and `hint` to give (catalogue messages made for the
    file's keyword language: `hint(True)` proposes code with Chinese keywords), the unexpected
    `tokens` (their text) it applies to, example files that make the same error, the keywords of
    which one must stand earlier on the line (`after`; empty: any line), and an optional `repair`
    of the token's text, of the same length, so that parsing can go on along the line."""

    code: Code
    message: Callable[[bool], Message]
    hint: Callable[[bool], Message]
    tokens: frozenset[str]
    examples: tuple[str, ...]
    after: frozenset[str] = frozenset()
    repair: str | None = None


_COMPARISON_TOKENS = frozenset(PREFIX_WORDS) | _SYMBOLS
_PRE = 'fact x "x": money\nfact d "d": date\nfact b "b": bool\n'

# The catalogue is matched like Lark's `match_examples` (examples/advanced/error_reporting_lalr.py),
# but on the LALR state number and the token only: Lark also compares the depth of the parse stack,
# which would make an example written in a measure miss the same mistake in an eligibility block.
_CATALOGUE: tuple[_Mistake, ...] = (
    _Mistake(
        codes.E001,
        lambda chinese: msg("parse.eq_not_comparison"),
        lambda chinese: msg("parse.eq_hint"),
        frozenset({"="}),
        tuple(
            _PRE + body
            for body in (
                "measure m { award 1万 if x = 1万 }",
                "measure m { award 1万 if 1万 = x }",
                "measure m { award 1万 if (x) = 1万 }",
                "measure m { award 1万 if x.y = 1万 }",
                "measure m { award 1万 if d = 2021-01-01 }",
                "measure m { award 1万 if x * 2 = 1万 }",
                "assume b = true",
            )
        ),
        repair=">",
    ),
    _Mistake(
        codes.E204,
        lambda chinese: msg("parse.since_one_date", since=spelling("since", chinese)),
        lambda chinese: msg(
            "parse.since_hint",
            example=f"{spelling('since', chinese)}({'成立日期' if chinese else 'established'}) 届满 1年",
        ),
        frozenset({","}),
        (_PRE + "assume since(d, d) 届满 1年",),
    ),
    _Mistake(
        codes.E001,
        lambda chinese: msg("parse.condition_needs_if", word=spelling("if", chinese)),
        lambda chinese: msg(
            "parse.condition_hint",
            word=spelling("if", chinese),
            example="给予 50万 如 营业收入 超过 2000万" if chinese else "award 50万 if revenue 超过 2000万",
        ),
        _COMPARISON_TOKENS,
        tuple(
            _PRE + f"measure m {{ {kw} {amount} x {cmp} 1万 }}"
            for kw in ("award", "bonus")
            for amount in ("50万", "50% * x", "ceiling 50万")
            for cmp in (">", "超过")
        ),
        after=frozenset({"award", "bonus"}),
    ),
)


@functools.cache
def _catalogue_states() -> dict[tuple[int, str], _Mistake]:
    """(LALR state, unexpected token) -> mistake, from parsing each example once."""
    table: dict[tuple[int, str], _Mistake] = {}
    for mistake in _CATALOGUE:
        for example in mistake.examples:
            try:
                _parser().parse(example)
            except UnexpectedToken as exc:
                if str(exc.token.value) in mistake.tokens:
                    table.setdefault((exc.state.position, str(exc.token.value)), mistake)
            except UnexpectedInput:
                pass
    return table


def _match(exc: UnexpectedToken, line_before: str) -> _Mistake | None:
    value = str(exc.token.value)
    position = exc.state.position
    table = _catalogue_states()
    candidates = [m for (state, _), m in table.items() if state == position and value in m.tokens]
    words = {_KEYWORD_OF.get(w) for w in re.split(r"\s+", line_before)}
    for mistake in candidates:
        if not mistake.after or mistake.after & words:
            return mistake
    return None


def _keyword_read_as_name(exc: UnexpectedToken) -> lark.Token | None:
    """A keyword the parser took for a name just before the error.  Keywords are reserved only
    where the grammar can take them, so `award if x` reads `if` as the amount."""
    parser = exc.interactive_parser
    if parser is None:
        return None
    recent: list[lark.Token] = []
    for value in parser.parser_state.value_stack[-3:]:
        if isinstance(value, lark.Tree):
            recent.extend(t for t in value.scan_values(lambda v: isinstance(v, lark.Token)))
        elif isinstance(value, lark.Token):
            recent.append(value)
    line = recent[-1].line if recent else None
    for token in reversed(recent):
        word = str(token.value)
        # `allocate unset`: a vocabulary word may be spelled like a keyword where a name belongs
        if token.type == "NAME" and word in _KEYWORD_OF and word not in _VOCABULARY and token.line == line:
            return token
    return None


# ------------------------------------------------------------------------- scanning the text


def _first_word(line: str) -> str:
    m = re.match(r"\s*([^\s{}()\[\],:\"#]+)", line)
    return m.group(1) if m else ""


def _is_top_level(word: str) -> bool:
    return _KEYWORD_OF.get(word) in _TOP_LEVEL


def _code_chars(text: str) -> Iterator[tuple[int, str]]:
    """Offsets and characters outside strings and comments."""
    in_string = in_comment = escaped = False
    for i, ch in enumerate(text):
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:
            # `\"` does not end the text
            in_string = ch != "\n" and (escaped or ch != '"')
            escaped = not escaped and ch == "\\"
        elif ch == '"':
            in_string = True
        elif ch == "#":
            in_comment = True
        else:
            yield i, ch


def _code_runs(text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) of every stretch of text outside strings and comments: the characters
    _code_chars gives, found by a regular expression instead of one Python step per character."""
    at = 0
    for skipped in _NOT_CODE.finditer(text):
        if skipped.start() > at:
            yield at, skipped.start()
        at = skipped.end()
    if at < len(text):
        yield at, len(text)


def _open_braces(text: str, end: int) -> list[int]:
    """Offsets of the `{` still open at offset `end`, outermost first."""
    stack: list[int] = []
    for i, ch in _code_chars(text[:end]):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
    return stack


_BRACKET = re.compile(r"[()\[\]{}]")


def _max_nesting(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for start, end in _code_runs(text):
        for bracket in _BRACKET.finditer(text, start, end):
            if bracket.group() in "([{":
                depth += 1
                if depth > deepest:
                    deepest, where = depth, bracket.start()
            else:
                depth -= 1
    return deepest, where


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, text) of every line."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def _balanced(line: str) -> bool:
    depth = 0
    for _, ch in _code_chars(line):
        depth += ch in "([{"
        depth -= ch in ")]}"
    return depth == 0


def _starts_item(word: str) -> bool:
    """The word begins a new item (not a continuation line such as `cap 100万`), even when a
    Chinese keyword is glued to what follows it."""
    if _KEYWORD_OF.get(word) in _LINE_ITEMS or _is_top_level(word):
        return True
    return any(word.startswith(zh) for name in _LINE_ITEMS | set(_TOP_LEVEL) for zh in KEYWORDS[name][1:])


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _skip(text: str, offset: int, token_text: str = "") -> str:
    """The text with the broken part around `offset` blanked out, so the parse can go on and find
    later errors: the line alone when it is a whole item of a block, otherwise the whole
    declaration (from its keyword to the next declaration).  Blanking keeps every position."""
    lines = _lines(text)
    index = max(i for i, (start, _) in enumerate(lines) if start <= offset)
    start, line = lines[index]
    rest = [ln for _, ln in lines[index + 1 :] if ln.strip() and not ln.strip().startswith("#")]
    following = _first_word(rest[0]) if rest else ""
    if (
        _KEYWORD_OF.get(_first_word(line)) in _LINE_ITEMS
        and _balanced(line)
        and (not rest or following.startswith("}") or _starts_item(following))
    ):
        return _blank(text, start, start + len(line))
    at_item_start = _is_top_level(token_text) and _first_word(line) == token_text
    first = index - 1 if at_item_start else index
    begin = next((i for i in range(first, -1, -1) if _is_top_level(_first_word(lines[i][1]))), 0)
    stop = next((i for i in range(index + 1, len(lines)) if _is_top_level(_first_word(lines[i][1]))), None)
    if at_item_start:
        stop = index
    end = len(text) if stop is None else lines[stop][0]
    return _blank(text, lines[begin][0], end)


_KEYWORDS_ZH = frozenset(zh for _, zh in KEYWORDS.values())
_GLUE_WORDS = sorted(_KEYWORDS_ZH | set(PREFIX_WORDS) | set(POSTFIX_WORDS), key=len, reverse=True)


def _parses_past(text: str, offset: int) -> bool:
    """True when `text` parses, or fails only after `offset`."""
    # the parse reads left to right, so the text up to the end of the line is enough to tell
    cut = text.find("\n", offset + 1)
    try:
        _parser().parse(text if cut < 0 else text[:cut])
    except UnexpectedCharacters as exc:
        return (exc.pos_in_stream or 0) > offset
    except UnexpectedToken as exc:
        return exc.token.type == "$END" or (exc.token.start_pos or 0) > offset
    return True


def _glued(text: str, exc: UnexpectedToken) -> tuple[lark.Token, str, str] | None:
    """A Chinese keyword glued to a name (`如国家级` for `如 国家级`) just before the error, when
    a space there lets the parse go on: (the name token, the keyword, the corrected text)."""
    end = exc.token.end_pos if exc.token.end_pos is not None else len(text)
    lines = _lines(text)
    line = exc.token.line if exc.token.line is not None else len(lines)
    begin = lines[max(0, line - 2)][0]
    try:
        tokens = [t for t in _parser().lex(text[begin:end]) if t.type == "NAME"]
    except UnexpectedInput:
        return None
    for token in reversed(tokens[-3:]):
        name = str(token.value)
        at = begin + (token.start_pos or 0)
        for word in _GLUE_WORDS:
            if len(name) <= len(word):
                continue
            if name.startswith(word):
                split, fixed = at + len(word), f"{word} {name[len(word) :]}"
            elif name.endswith(word):
                split, fixed = at + len(name) - len(word), f"{name[: -len(word)]} {word}"
            else:
                continue
            if _parses_past(text[:split] + " " + text[split:], end + 1):
                located = lark.Token("NAME", name, start_pos=at, end_pos=at + len(name))
                return located, word, fixed
    return None


# ------------------------------------------------------------------------- reporting


_CHARACTER_HINTS: dict[str, tuple[Message, str]] = {
    # character: (hint, one-character repair)
    "“": (msg("parse.straight_quotes"), '"'),
    "”": (msg("parse.straight_quotes"), '"'),
    "‘": (msg("parse.straight_double_quotes"), '"'),
    "’": (msg("parse.straight_double_quotes"), '"'),
    "「": (msg("parse.straight_quotes"), '"'),
    "」": (msg("parse.straight_quotes"), '"'),
    "《": (msg("parse.title_quotes"), '"'),
    "》": (msg("parse.title_quotes"), '"'),
    "、": (msg("parse.comma"), ","),
    "；": (msg("parse.no_end_mark", mark=";"), " "),
    ";": (msg("parse.no_end_mark", mark=";"), " "),
    "。": (msg("parse.no_end_mark", mark="。"), " "),
    "【": (msg("parse.square_brackets"), "["),
    "】": (msg("parse.square_brackets"), "]"),
    # spaces and invisible marks pasted from word processors
    "\u00a0": (msg("parse.no_break_space"), " "),
    "\u2002": (msg("parse.wide_space"), " "),
    "\u2003": (msg("parse.wide_space"), " "),
    "\u2009": (msg("parse.thin_space"), " "),
    "\u200b": (msg("parse.zero_width_space"), " "),
    "\u2060": (msg("parse.word_joiner"), " "),
    "\ufeff": (msg("parse.byte_order_mark"), " "),
}


_QUOTE_MARKS = frozenset("“”‘’「」《》")


def _report_character(source: SourceFile, text: str, exc: UnexpectedCharacters, sink: Sink) -> str:
    """Report an unexpected character; return the text repaired so the parse can go on."""
    at = exc.pos_in_stream or 0
    ch = text[at]
    original = source.text[at] if at < len(source.text) else ch
    name = unicodedata.name(original, "").lower()
    shown = f"`{original}` (U+{ord(original):04X}{', ' + name if name else ''})"
    span = source.span(at, at + 1)
    if ch == '"':
        sink.report(
            codes.E003,
            msg("parse.unclosed_text"),
            span,
            hint=msg("parse.close_text"),
        )
        return _skip(text, at)
    hint: Message | None
    if ch in _CHARACTER_HINTS:
        hint, repair = _CHARACTER_HINTS[ch]
        sink.report(codes.E003, msg("parse.unexpected_character", shown=shown), span, hint=hint)
        text = text[:at] + repair + text[at + 1 :]
        if repair == '"':
            # the closing mark of the pair is the same mistake: repair it without a second report
            eol = text.find("\n", at)
            eol = len(text) if eol < 0 else eol
            close = next((i for i in range(at + 1, eol) if text[i] in _QUOTE_MARKS), None)
            if close is not None:
                text = text[:close] + '"' + text[close + 1 :]
        return text
    hint = None
    if ch in "%‰" and at > 0 and text[at - 1] == " ":
        hint = msg("parse.percent_together", mark=ch)
    elif ch.isalpha():
        hint = msg("parse.name_characters")
    elif ch == "'":
        hint = msg("parse.double_quotes")
    sink.report(codes.E003, msg("parse.unexpected_character", shown=shown), span, hint=hint)
    return text[:at] + " " + text[at + 1 :]


def _bounds(token: lark.Token) -> tuple[int, int]:
    start = token.start_pos if token.start_pos is not None else 0
    end = token.end_pos if token.end_pos is not None else start + len(str(token.value))
    return start, end


@attrs.frozen
class _Failure:
    """An unexpected token in context: the `source`, the `text` being parsed (normalized and
    possibly repaired), the `token`, what the parser `accepted` there and that in words
    (`expected`), and whether the file is written with Chinese keywords."""

    source: SourceFile
    text: str
    exc: UnexpectedToken
    accepted: set[str]
    expected: Message
    chinese: bool

    @property
    def token(self) -> lark.Token:
        return self.exc.token  # type: ignore[no-any-return]


def _report_token(source: SourceFile, text: str, exc: UnexpectedToken, sink: Sink) -> str | None:
    """Report an unexpected token; return the text with the broken part skipped, or None when
    there is nothing after it to parse."""
    chinese = chinese_keywords(text)
    accepted = _accepted(exc)
    failure = _Failure(source, text, exc, accepted, describe_expected(accepted, chinese), chinese)
    if exc.token.type == "$END":
        _report_end(failure, sink)
        return None
    for handler in (_report_keyword_as_name, _report_known_mistake, _report_split_amount, _report_glued):
        repaired = handler(failure, sink)
        if repaired is not None:
            return repaired
    return _report_unexpected(failure, sink)


def _report_end(f: _Failure, sink: Sink) -> None:
    # Lark's end token borrows the position of the last token: report just after it
    end = f.token.end_pos if f.token.end_pos is not None else len(f.text.rstrip())
    notes: list[Note] = []
    hint = None
    braces = _open_braces(f.text, len(f.text))
    if braces and "RBRACE" in f.accepted:
        notes.append(Note(msg("parse.never_closed"), f.source.span(braces[-1], braces[-1] + 1)))
        hint = msg("parse.close_block_end")
    message = msg("parse.ends_early", expected=f.expected)
    sink.report(codes.E002, message, f.source.span(end, end), notes=notes, hint=hint)


def _report_keyword_as_name(f: _Failure, sink: Sink) -> str | None:
    keyword = _keyword_read_as_name(f.exc)
    if keyword is None:
        return None
    word = str(keyword.value)
    at, stop = _bounds(keyword)
    where = f.source.span(at, stop)
    if _KEYWORD_OF[word] in ("if", "unless"):
        award, unset = (spelling(k, f.chinese) for k in ("award", "unset"))
        sink.report(
            codes.E001,
            msg("parse.no_amount_before", word=word),
            where,
            hint=msg(
                "parse.amount_first", example=f"{award} 50万 {word} …", unset=f"{award} {unset} {word} …"
            ),
        )
    elif _KEYWORD_OF[word] == "ceiling":
        award, cap = (spelling(k, f.chinese) for k in ("award", "cap"))
        base = "投资额" if f.chinese else "investment"
        sink.report(
            codes.E001,
            msg("parse.ceiling_after", word=word, cap=cap),
            where,
            hint=msg(
                "parse.ceiling_hint",
                word=word,
                before=f"{award} {word} 50万",
                after=f"{award} 50% * {base} {cap} 1500万",
            ),
        )
    else:
        sink.report(
            codes.E001,
            msg("parse.keyword_as_value", word=word),
            where,
            hint=msg("parse.expected_after", expected=f.expected),
        )
    return _skip(f.text, _bounds(f.token)[0], str(f.token.value))


def _report_known_mistake(f: _Failure, sink: Sink) -> str | None:
    start, end = _bounds(f.token)
    value = str(f.token.value)
    line_start = f.text.rfind("\n", 0, start) + 1
    mistake = _match(f.exc, f.text[line_start:start])
    if mistake is None:
        return None
    message, hint, repair = mistake.message(f.chinese), mistake.hint(f.chinese), mistake.repair
    after = f.text[end : end + 1]
    proposed = None  # the catalogue's repairs only let the parse go on; this one is the hint's
    if value == "=" and after and after in "<>":
        message, hint = msg("parse.reversed_comparison", after=after), msg("parse.write", code=f"{after}=")
        end, repair = end + 1, f"{after}="
        proposed = repair
    if message.id == "parse.condition_needs_if":
        # point at the whole would-be condition, from the name before the comparison
        previous = f.exc.interactive_parser.parser_state.value_stack[-1] if f.exc.interactive_parser else None
        if isinstance(previous, lark.Token) and previous.start_pos is not None:
            start = previous.start_pos
    where = f.source.span(start, end)
    sink.report(
        mistake.code, message, where, hint=hint, fix=None if proposed is None else Fix(where, proposed)
    )
    if repair is not None and len(repair) == end - start:
        return f.text[:start] + repair + f.text[end:]
    return _skip(f.text, start, value)


_UNIT_AFTER_SPACE = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)[ \t]+"
    r"(亿|万|千瓦时|千瓦|千|元|个月|个百分点|百分点|平方米|[家人场项条次个件台套名所亩吨年月日天])"
)


def _report_split_amount(f: _Failure, sink: Sink) -> str | None:
    """`50 万`: the number and its unit parted by a space, on the line of the error."""
    start, _ = _bounds(f.token)
    # the line of the error and the one before it: the unit may have been read as a name there
    line_start = f.text.rfind("\n", 0, max(0, f.text.rfind("\n", 0, start))) + 1
    line_end = f.text.find("\n", start)
    line = f.text[line_start : len(f.text) if line_end < 0 else line_end]
    code = {i for i, _ in _code_chars(line)}
    masked = "".join(ch if i in code else " " for i, ch in enumerate(line))  # no strings, no comments
    split = _UNIT_AFTER_SPACE.search(masked)
    if split is None or line_start + split.start() > start:
        return None
    number, unit = split.groups()
    at = line_start + split.start()
    where = f.source.span(at, line_start + split.end())
    sink.report(
        codes.E001,
        msg("parse.split_amount"),
        where,
        hint=msg("parse.write", code=f"{number}{unit}"),
        fix=Fix(where, f"{number}{unit}"),
    )
    return _skip(f.text, start, str(f.token.value))


def _report_glued(f: _Failure, sink: Sink) -> str | None:
    glued = _glued(f.text, f.exc)
    if glued is None:
        return None
    name, word, fixed = glued
    where = f.source.span(*_bounds(name))
    sink.report(
        codes.E001,
        msg("parse.glued", name=str(name.value), word=word),
        where,
        hint=msg("parse.write", code=fixed),
        fix=Fix(where, fixed),
    )
    start, _ = _bounds(f.token)
    return _skip(f.text, start, str(f.token.value))


def _closest_keyword(word: str, accepted: set[str]) -> str | None:
    """A misspelt keyword (`measur`): the closest keyword the parser would have taken."""
    literals = _literals()
    keywords = [literals[t] for t in accepted if literals.get(t) in _KEYWORD_OF]
    close = difflib.get_close_matches(word, keywords, n=1, cutoff=0.75)
    return close[0] if close else None


def _report_unexpected(f: _Failure, sink: Sink) -> str:
    """The general case: what was expected, in words, with a hint where the cause is known."""
    text, token = f.text, f.token
    start, end = _bounds(token)
    value = str(token.value)
    span = f.source.span(start, end)
    message = msg("parse.expected_found", expected=f.expected, found=_found(token))
    hint: Message | None = None
    fix: str | None = None  # the text that replaces `span`, where the hint proposes it
    notes: list[Note] = []
    before = re.search(r"[\d,.]*$", text[:start])
    if value == "," and text[start - 1 : start].isdigit() and re.match(r"\d{3}", text[end:]) and before:
        begin = start - len(before.group(0))
        number = re.match(r"[\d,.]+[^\s{}:,]*", text[begin:])
        written = number.group(0) if number else value
        message = msg("parse.thousands")
        hint = msg("parse.write_not", code=written.replace(",", ""), written=written)
        span, fix = f.source.span(begin, begin + len(written)), written.replace(",", "")
    elif "STRING" in f.accepted and token.type in ("NAME", "QUANTITY") and "NAME" not in f.accepted:
        run = re.match(r"[^\s{}:,]+", text[start:])
        word = run.group(0) if run else value
        message = msg("parse.needs_quotes", word=word)
        hint = msg("parse.quote_text", word=word)
        span, fix = f.source.span(start, start + len(word)), f'"{word}"'
    elif value in _KEYWORD_OF and "NAME" in f.accepted:
        message = msg("parse.keyword_as_name", word=value)
        hint = msg("parse.other_name")
    elif _is_top_level(value) and "RBRACE" in f.accepted:
        braces = _open_braces(text, start)
        if braces:
            brace = f.source.span(braces[-1], braces[-1] + 1)
            notes.append(Note(msg("parse.block_not_closed"), brace))
            hint = msg("parse.close_block_before")
    elif token.type == "QUANTITY" and {"EQUAL", "CEILING"} <= f.accepted:
        # `expect m 14万`: an example's amount is written `= 14万` (exact) or `ceiling 14万`
        hint = msg(
            "parse.expect_amount", exact=f"= {value}", ceiling=f"{spelling('ceiling', f.chinese)} {value}"
        )
        fix = f"= {value}"
    elif token.type == "NAME" and (keyword := _closest_keyword(value, f.accepted)) is not None:
        hint = msg("parse.did_you_mean", word=keyword)
    elif token.type in ("NAME", "STRING", "QUANTITY") and "COMMA" in f.accepted:
        hint = msg("parse.separate_items")
    elif value == "-" and text[start - 1 : start].isalnum() and (tail := re.match(r"-(\w+)", text[start:])):
        head = re.search(r"\w+$", text[:start])
        hint = msg("parse.underscore", name=f"{head.group(0) if head else ''}_{tail.group(1)}")
    sink.report(
        codes.E001, message, span, notes=notes, hint=hint, fix=None if fix is None else Fix(span, fix)
    )
    return _skip(text, start, value)


# full-width digits, letters, `%` and the decimal point; full-width punctuation (，：（）) is what a
# Chinese keyboard types and is folded without a word
_FULLWIDTH_WARNED = frozenset(
    chr(cp)
    for cp in [
        *range(0xFF10, 0xFF1A),
        *range(0xFF21, 0xFF3B),
        *range(0xFF41, 0xFF5B),
        0xFF05,
        0xFF0E,
        # ＃ starts a comment and ＂ a text, each silently changing how the rest of the line reads
        0xFF03,
        0xFF02,
    ]
)


_FULLWIDTH_RUN = re.compile("[" + re.escape("".join(sorted(_FULLWIDTH_WARNED))) + "]+")


def _fullwidth_warnings(source: SourceFile, sink: Sink) -> None:
    """Full-width digits and letters read as half-width: a warning, since `５０` and `50` look alike
    in a Chinese font but the file then differs from what a search for `50` finds."""
    text = source.text
    if _FULLWIDTH_RUN.search(text) is None:
        return
    # runs never join across a string or a comment: two stretches of code are never adjacent
    spans = [
        run.span() for start, end in _code_runs(text) for run in _FULLWIDTH_RUN.finditer(text, start, end)
    ]
    for start, end in spans:
        run = source.text[start:end]
        sink.report(
            codes.W211,
            msg("read.fullwidth", run=run, read=normalize(run)),
            source.span(start, end),
            hint=msg("read.fullwidth_hint"),
        )


def parse(source: SourceFile, sink: Sink) -> tuple[builder.Parsed, list[lark.Token]] | None:
    """Parse a source file, building its AST on the way (`builder.build` finishes it); on failure
    report every syntax error found and return None."""
    size = len(source.text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:  # text given in memory has not been through decode()
        sink.report(
            codes.E005,
            msg("read.file_too_large", size=size, limit=MAX_BYTES),
            source.span(0, 0),
            hint=msg("read.split_file"),
        )
        return None
    text = normalize(source.text)
    _fullwidth_warnings(source, sink)
    depth, where = _max_nesting(text)
    if depth > MAX_NESTING:
        sink.report(
            codes.E005,
            msg("read.nesting", depth=depth, limit=MAX_NESTING),
            source.span(where, where + 1),
            hint=msg("read.nesting_hint"),
        )
        return None
    comments: list[lark.Token] = []
    reset = _comments.set(comments)
    try:
        parsed = builder.parse_with(source, functools.partial(_building_parser().parse, text))
    except UnexpectedInput:
        try:
            _parser().parse(text)  # the same error, with Lark's trees on the parser's stack
        except UnexpectedInput as first:
            _report_all(source, text, first, sink)
            return None
        raise AssertionError("the two parsers share their tables") from None  # pragma: no cover
    finally:
        _comments.reset(reset)
    if parsed.too_deep_at is not None:
        at = parsed.too_deep_at
        stop = text.find(" ", at)
        sink.report(
            codes.E005,
            msg("read.too_deep", limit=MAX_DEPTH),
            source.span(at, stop if stop > at else at + 1),
            hint=msg("read.too_deep_hint"),
        )
        return None
    return parsed, comments


def _offset(exc: UnexpectedInput, text: str) -> int:
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream or 0
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return exc.token.start_pos or 0
    return len(text)


def _report_all(source: SourceFile, text: str, exc: UnexpectedInput, sink: Sink) -> None:
    """Report the first syntax error, skip past it and parse again, up to MAX_SYNTAX_ERRORS (and
    RECOVERY_BUDGET characters parsed again)."""
    last = -1
    spent = 0
    for _ in range(MAX_SYNTAX_ERRORS):
        position = _offset(exc, text)
        if position <= last:
            return  # no progress: what follows would only repeat this error
        last = position
        if isinstance(exc, UnexpectedCharacters):
            repaired: str | None = _report_character(source, text, exc, sink)
        elif isinstance(exc, UnexpectedToken):
            repaired = _report_token(source, text, exc, sink)
        else:  # pragma: no cover - the LALR parser raises only the two above
            return
        if repaired is None:
            return
        text = repaired
        spent += len(text)
        if spent > RECOVERY_BUDGET:
            return
        try:
            _parser().parse(text)
        except UnexpectedInput as again:
            exc = again
            continue
        return
