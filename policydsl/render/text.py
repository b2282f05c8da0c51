"""The plan's expressions printed back as text: in the source notation, or in the drafters' own labels."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import assert_never

from policydsl.evaluation.runtime import shift
from policydsl.plan import nodes as P
from policydsl.syntax.keywords import KEYWORDS

# Binding strength, loosest first; a child printed below the strength its place needs is
# parenthesised.  The levels follow grammar/policy.lark (expr > disj > conj > neg > cmp > sum > ...).
IMPLIES, OR, AND, NOT, CMP, SUM, PRODUCT, UNARY, ATOM = range(1, 10)

# How reviewers read operators: the mathematical signs rather than the ASCII spellings.
_LABEL_OPS = {"*": "×", "/": "÷", ">=": "≥", "<=": "≤", "==": "=", "!=": "≠"}

# The constants glued to a statutory word that follows them, as the documents write `10亿以上`.
_GLUED_KINDS = ("money", "percent", "count", "number")


class ExprPrinter:
    """Prints the plan's expressions as they were written (each literal, statutory word and operator
    as the file spelled it).  With `labels` (and the `plan` to look them up in) facts, parameters and
    enum values appear as their declared labels, keywords in Chinese and operators as × ≥ ≠;
    without it the output is the source notation, keywords spelled in English or, with `chinese`,
    in Chinese."""

    def __init__(self, plan: P.Plan | None = None, *, labels: bool = False, chinese: bool = False) -> None:
        self.plan = plan
        self.labels = labels
        self.chinese = chinese or labels

    # ------------------------------------------------------------------ words
    def kw(self, name: str) -> str:
        english, zh = KEYWORDS[name]
        return zh if self.chinese else english

    def op(self, symbol: str) -> str:
        return _LABEL_OPS.get(symbol, symbol) if self.labels else symbol

    def name(self, ref: P.FactRef | P.ParamRef | P.EnumConst) -> str:
        if self.labels and self.plan is not None:
            return self.plan.label(ref)
        return ref.member if isinstance(ref, P.EnumConst) else ref.name

    def enum_member(self, enum: str | None, member: str) -> str:
        """The label of value `member` of `enum`, when labels are wanted and the enum is known."""
        if not self.labels or self.plan is None:
            return member
        return self.plan.member_label(enum, member)

    def fact_enum(self, fact: str) -> str | None:
        """The enumeration a tier table's fact takes its values from."""
        spec = self.plan.facts.get(fact) if self.plan is not None else None
        return spec.enum if spec is not None else None

    # ------------------------------------------------------------------ expressions
    def __call__(self, node: P.Expr) -> str:
        return self.expr(node)

    def expr(self, node: P.Expr, level: int = IMPLIES) -> str:
        """`node` printed so that it reads correctly in a place that binds at `level`."""
        text, own = self._print(node)
        return f"({text})" if own < level else text

    def _print(self, node: P.Expr) -> tuple[str, int]:
        match node:
            case P.Const():
                return node.text or _plain(node.value), ATOM
            case P.DateConst():
                return node.text or node.value.isoformat(), ATOM
            case P.DurationConst():
                return node.text or f"{node.count}{node.unit}", ATOM
            case P.BoolConst():
                return self.kw("true" if node.value else "false"), ATOM
            case P.FactRef() | P.ParamRef() | P.EnumConst():
                return self.name(node), ATOM
            case P.Unset():
                return self.kw("unset"), ATOM
            case P.Arith():
                if node.ratio is not None:
                    return node.ratio, ATOM
                if node.op in ("+", "-"):
                    left, right = self.expr(node.left, SUM), self.expr(node.right, PRODUCT)
                    return f"{left} {node.symbol or node.op} {right}", SUM
                left, right = self.expr(node.left, PRODUCT), self.expr(node.right, UNARY)
                symbol = self.op(node.op) if self.labels else node.symbol or node.op
                return f"{left} {symbol} {right}", PRODUCT
            case P.Neg():
                return "-" + self.expr(node.operand, UNARY), UNARY
            case P.Cmp():
                tail = self.tail(node.right, node.word or node.op, node.postfix)
                return f"{self.expr(node.left, SUM)} {tail}", CMP
            case P.Since():
                tail = self.tail(node.duration, node.word or node.op, node.postfix)
                return f"{self.kw('since')}({self.expr(node.start)}) {tail}", CMP
            case P.In():
                values = ", ".join(self.enum_member(node.enum, m) for m in node.members)
                return f"{self.expr(node.subject, SUM)} {self.kw('in')} [{values}]", CMP
            case P.And():
                return f"{self.expr(node.left, AND)} {self.kw('and')} {self.expr(node.right, NOT)}", AND
            case P.Or():
                if node.implies and isinstance(node.left, P.Not):
                    left, right = self.expr(node.left.operand, OR), self.expr(node.right, OR)
                    return f"{left} {self.kw('implies')} {right}", IMPLIES
                return f"{self.expr(node.left, OR)} {self.kw('or')} {self.expr(node.right, AND)}", OR
            case P.Not():
                return f"{self.kw('not')} {self.expr(node.operand, NOT)}", NOT
            case P.MinMax():
                args = ", ".join(self.expr(a) for a in node.args)
                return f"{self.kw(node.func)}({args})", ATOM
            case P.Whole():
                return f"{self.kw(node.func)}({self.expr(node.value)}, {self.expr(node.size)})", ATOM
            case P.Table():
                enum = self.fact_enum(node.fact)
                rows = ", ".join(
                    (self.kw("otherwise") if row.key is None else self.enum_member(enum, row.key))
                    + f": {self.expr(row.value)}"
                    for row in node.rows
                )
                return f"{self.kw('by')} {self.name(P.FactRef(node.fact))} {{ {rows} }}", ATOM
            case P.Year():
                return f"{self.kw(node.func)}({self.expr(node.date)})", ATOM
            case P.Band() if node.counted_from is not None and isinstance(node.subject, P.Year):
                rows = ", ".join(
                    f"{self.years(years)}: {self.expr(row.value)}"
                    for years, row in zip(node.years, node.rows, strict=True)
                )
                return f"{self.kw('schedule')} {self.expr(node.subject.date, ATOM)} {{ {rows} }}", ATOM
            case P.Band():
                rows = ", ".join(f"{self.band_condition(row)}: {self.expr(row.value)}" for row in node.rows)
                return f"{self.kw('band')} {self.expr(node.subject, ATOM)} {{ {rows} }}", ATOM
            case P.Brackets():
                rows = ", ".join(f"{self.band_condition(row)}: {self.expr(row.rate)}" for row in node.rows)
                return f"{self.kw('progressive')} {self.expr(node.subject, ATOM)} {{ {rows} }}", ATOM
            case _:
                assert_never(node)

    def years(self, years: tuple[int, int]) -> str:
        """A schedule's row: `第1至2年`, `第3年` (`years 1 until 2`, `years 3`)."""
        first, last = years
        if self.chinese:
            return f"第{first}年" if first == last else f"第{first}至{last}年"
        return f"years {first}" if first == last else f"years {first} until {last}"

    def tail(self, right: P.Expr, word: str, postfix: bool) -> str:
        """The comparison without its subject: `超过 2000万`, `10亿以上`, `>= 100%`."""
        if postfix:
            value = self.expr(right, PRODUCT)
            if value.startswith("-"):
                value = f"({value})"
            # An amount glued to the word reads as the documents write it: `10亿以上`.
            glue = "" if isinstance(right, P.Const) and right.kind in _GLUED_KINDS else " "
            return f"{value}{glue}{word}"
        shown = self.op(word) if word in _LABEL_OPS else word
        return f"{shown} {self.expr(right, SUM)}"

    def band_condition(self, row: P.BandRow | P.BracketRow) -> str:
        if row.bounds is None:
            return self.kw("otherwise")
        words = row.words or tuple((op, False) for op, _ in row.bounds)
        return f" {self.kw('and')} ".join(
            self.tail(value, word, postfix)
            for (_, value), (word, postfix) in zip(row.bounds, words, strict=True)
        )

    def conjuncts(self, node: P.Expr) -> list[str]:
        """A condition split at its top-level `and`s, each part printed on its own."""
        if isinstance(node, P.And):
            return self.conjuncts(node.left) + self.conjuncts(node.right)
        return [self.expr(node, NOT)]


def source_text(node: P.Expr, *, chinese: bool = False) -> str:
    """`node` in the source notation, keywords in English or Chinese."""
    return ExprPrinter(chinese=chinese).expr(node)


def label_text(node: P.Expr, plan: P.Plan) -> str:
    """`node` as a reviewer reads it: declared labels, Chinese keywords, × and ≥."""
    return ExprPrinter(plan, labels=True).expr(node)


def display_width(text: str) -> int:
    """Columns `text` takes: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width: int) -> list[str]:
    """`text` broken into lines of at most `width` columns, at spaces where possible; a run of
    Chinese may break between any two characters, but never inside an amount or a word."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_balanced(paragraph, width))
    return lines


def _balanced(text: str, width: int) -> list[str]:
    """Wrapped lines without a stub of a character or two left alone on the last line: a narrower
    width that keeps the number of lines is tried first."""
    lines = _wrap_line(text, width)
    if len(lines) < 2 or display_width(lines[-1]) > width // 5:
        return lines
    for narrower in range(width - 1, (width * 3) // 4, -1):
        attempt = _wrap_line(text, narrower)
        if len(attempt) == len(lines) and display_width(attempt[-1]) > width // 5:
            return attempt
    return lines


# Chinese typesetting never starts a line with closing punctuation nor ends one with opening.
_NO_LINE_START = "，。、；：？！）》」』”’%,.;:)]}"
_NO_LINE_END = "（《「『“‘([{"


def _tokens(text: str) -> list[str]:
    """Pieces that must stay whole: a run of ASCII letters and digits (with the unit glued to it)
    or a single Chinese character, each with the punctuation that must not be parted from it; or
    a space."""
    raw: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " " or display_width(ch) == 2 or not (ch.isalnum() or ch in ".%:_-/"):
            raw.append(ch)
            i += 1
            continue
        j = i
        while j < len(text) and text[j] != " " and display_width(text[j]) == 1 and text[j] not in "([{}])":
            j += 1
        # Keep a unit or multiplier glued to a number (2000万, 10亿以上, 3000家) on the same line.
        while (
            j < len(text)
            and text[j] in "万亿千元家人场项条次个件台套名所亩平方米瓦时吨百分点年月日天以上下内及或%"
        ):
            j += 1
        raw.append(text[i:j])
        i = j
    out: list[str] = []
    opening = ""
    for token in raw:
        if token in _NO_LINE_START and out and out[-1] != " " and not opening:
            out[-1] += token
        elif token in _NO_LINE_END:
            opening += token
        elif opening and token != " ":
            out.append(opening + token)
            opening = ""
        else:
            if opening:
                out.append(opening)
                opening = ""
            out.append(token)
    if opening:
        out.append(opening)
    return out


def _wrap_line(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        if token == " " and not current:
            continue
        if current and display_width(current + token) > width:
            lines.append(current.rstrip())
            current = "" if token == " " else token
            continue
        current += token
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return lines


def amount_words(value: Decimal) -> str:
    """A sum of money as a drafter writes it: 1亿, 5000万, 12.5万, 3000元."""
    # exact whatever the decimal context: dividing an amount of more than 28 digits would round it
    sign = "-" if value < 0 else ""
    value = value.copy_abs()
    for unit, places in (("亿", 8), ("万", 4)):
        if value >= 10**places and _whole(shift(value, 4 - places)):  # at most 4 places in the unit
            return sign + _plain(shift(value, -places)) + unit
    return sign + _plain(value) + "元"


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
