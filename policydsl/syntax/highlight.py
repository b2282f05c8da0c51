"""The Pygments lexer of `.policy` files: words from syntax/keywords.py, terminals as the grammar has them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from pygments.lexer import RegexLexer, bygroups, default
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
    _TokenType,
)

from policydsl.syntax.keywords import (
    ALLOCATIONS,
    APPLICANT_FACT,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    POSTFIX_WORDS,
    POT_ALLOCATIONS,
    PREFIX_WORDS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    SYMBOLS,
    TYPE_NAMES,
)

# The grammar's terminals (grammar/policy.lark), written as the grammar writes them; a test checks
# that each reads what the grammar's does.  Chinese characters are the three blocks NAME takes.
CJK: Final = "\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff"
ASCII_NAME: Final = "[A-Za-z_][A-Za-z0-9_]*"
CJK_NAME: Final = f"[{CJK}][{CJK}_A-Za-z]*"
NAME: Final = f"{ASCII_NAME}|{CJK_NAME}"
DATE: Final = r"\d{4}-\d{1,2}-\d{1,2}(?![\d])|\d{4}年\d{1,2}月\d{1,2}日"
PARTIAL_DATE: Final = r"\d{4}-(\d{1,2}|\*)-\*|\d{4}年(\d{1,2}|\*)月\*日"
RATIO: Final = r"\d+(\.\d+)?:\d+(\.\d+)?"
_UNIT_RUN: Final = f"(?:(?!以上|及以上|或以上|以下|及以下|以内|[且于则否如或按是每自至非])[{CJK}])+"
QUANTITY: Final = (
    r"\d+(\.\d+)?([eE][+-]?\d+)?(亿|万|千(?!瓦))?"
    f"(元|%|‰|个百分点|百分点|个月|平方米|千瓦时|千瓦|[家人场项条次个件台套名所亩吨年月日天]|{_UNIT_RUN})?"
    f"(\\/(平方米|千瓦时|千瓦|[家人场项条次个件台套名所亩吨]|{_UNIT_RUN}))?"
)
STRING: Final = r'"([^"\\\n]|\\.)*"'
COMMENT: Final = r"#[^\n]*"
TERMINALS: Final = {
    "NAME": NAME,
    "DATE": DATE,
    "PARTIAL_DATE": PARTIAL_DATE,
    "RATIO": RATIO,
    "QUANTITY": QUANTITY,
    "STRING": STRING,
    "COMMENT": COMMENT,
}
# Full-width forms read as their ASCII letters outside strings and comments (parser.normalize), so
# that `｛` is a brace; the folding keeps every character in its place.
FULLWIDTH: Final = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# the grammar's operators besides the comparison symbols, and its punctuation
ARITHMETIC: Final = ("+", "-", "*", "/", "×", "÷")
PUNCTUATION: Final = ("{", "}", "(", ")", "[", "]", ",", ":", ".", "=")

# Keywords that declare a name, and what the name they declare is (the editor's and the docs' colours).
DECLARING: Final[dict[str, _TokenType]] = {
    "kind": Name.Class,
    "unit": Name.Class,
    "enum": Name.Class,
    "fact": Name.Variable,
    "param": Name.Constant,
    "measure": Name.Function,
    "pot": Name.Function,
    "combine": Name.Function,
    "acknowledge": Name.Function,
}
WORD_OPERATORS: Final = ("and", "or", "not", "implies", "in")
CONSTANTS: Final = ("true", "false")


def _both(names: tuple[str, ...] | dict[str, Any]) -> set[str]:
    return {w for n in names for w in KEYWORDS[n]}


def word_types() -> dict[str, _TokenType]:
    """Every word with a meaning of its own, and its token type: keywords in both spellings, the
    statutory words and the vocabulary of names (types, payment forms, rounding, combination modes)."""
    words: dict[str, _TokenType] = {}
    vocabulary = (PAYMENT_FORMS, ROUNDING_UNITS, ROUNDING_MODES, COMBINE_MODES, ALLOCATIONS, POT_ALLOCATIONS)
    for table in vocabulary:
        words.update(dict.fromkeys(table, Name.Builtin))
    words.update(dict.fromkeys(APPLICANT_FACT, Name.Builtin))
    words.update(dict.fromkeys(TYPE_NAMES, Keyword.Type))
    words.update(dict.fromkeys((w for pair in KEYWORDS.values() for w in pair), Keyword))
    words.update(dict.fromkeys(_both(DECLARING), Keyword.Declaration))
    words.update(dict.fromkeys(_both(CONSTANTS), Keyword.Constant))
    words.update(dict.fromkeys(_both(WORD_OPERATORS), Operator.Word))
    words.update(dict.fromkeys((*PREFIX_WORDS, *POSTFIX_WORDS), Operator.Word))
    return words


def alternatives(words: set[str] | tuple[str, ...] | list[str]) -> str:
    """The words as one regular expression, longest first so that `及以上` wins over `以上`."""
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def word(words: set[str] | tuple[str, ...] | list[str]) -> str:
    """A regular expression for any of `words` as a whole word, as the grammar's NAME cuts words:
    an ASCII word ends before a letter or digit, a Chinese one before a Chinese character or letter."""
    ascii_words = [w for w in words if re.fullmatch(ASCII_NAME, w)]
    cjk_words = [w for w in words if w not in ascii_words]
    parts = []
    if ascii_words:
        parts.append(f"(?:{alternatives(ascii_words)})(?![A-Za-z0-9_])")
    if cjk_words:
        parts.append(f"(?:{alternatives(cjk_words)})(?![{CJK}_A-Za-z])")
    return "(?:" + "|".join(parts) + ")"


_WORDS: Final = word_types()


def _name(lexer: RegexLexer, match: re.Match[str]) -> Iterator[tuple[int, _TokenType, str]]:
    yield match.start(), _WORDS.get(match.group(0), Name), match.group(0)


def _declared(kind: str) -> list[Any]:
    return [(r"\s+", Whitespace), (NAME, DECLARING[kind], "#pop"), default("#pop")]


_CITATION: Final = bygroups(Keyword, Whitespace, String.Other)  # type: ignore[no-untyped-call]


def _tokens() -> dict[str, list[Any]]:
    cite = word(KEYWORDS["cite"])
    clause = word(KEYWORDS["award"] + KEYWORDS["bonus"])
    root: list[Any] = [
        (r"\s+", Whitespace),
        (COMMENT, Comment.Single),
        # a citation: the article the clause rests on, as the policy writes it (`cite "三(二)1"`)
        (f"({cite})(\\s+)({STRING})", _CITATION),
        (STRING, String.Double),
        (f"(?:{DATE})|(?:{PARTIAL_DATE})", Literal.Date),
        (RATIO, Number),
        (QUANTITY, Number),
        (clause, Keyword, "clause"),
        *((word(KEYWORDS[kind]), Keyword.Declaration, f"declared-{kind}") for kind in DECLARING),
        (NAME, _name),
        (alternatives(tuple(SYMBOLS)), Operator),
        (alternatives(ARITHMETIC), Operator),
        (alternatives(PUNCTUATION), Punctuation),
        (r".", Error),
    ]
    tokens = {
        "root": root,
        "clause": [
            (r"\s+", Whitespace),
            (f"({NAME})(?=\\s*(?:{STRING}\\s*)?:)", Name.Label, "#pop"),
            default("#pop"),
        ],
    }
    tokens.update({f"declared-{kind}": _declared(kind) for kind in DECLARING})
    return tokens


class PolicyLexer(RegexLexer):
    """Lexer for policydsl's `.policy` files, in either keyword spelling (English or Chinese)."""

    name = "policydsl"
    aliases: ClassVar[list[str]] = ["policy", "policydsl"]
    filenames: ClassVar[list[str]] = ["*.policy"]
    mimetypes: ClassVar[list[str]] = ["text/x-policydsl"]
    tokens = _tokens()

    def get_tokens_unprocessed(
        self, text: str, stack: Iterable[str] = ("root",)
    ) -> Iterator[tuple[int, _TokenType, str]]:
        folded = text.translate(FULLWIDTH)
        for start, token, value in super().get_tokens_unprocessed(folded, stack):
            yield start, token, text[start : start + len(value)]
