"""Hypothesis strategies shared by the tests: well-typed policies built from the grammar, applicants
for them, and mutations of policy text.

`policies()` draws a `GeneratedPolicy`: the text of a policy that parses and type-checks without
errors, using every construct of the language (facts of every type, enums, kinds, parameters with
versions, measures with every clause form, caps before and after conditions, tier tables, bands,
exceptions, funding limits, instalments, combination rules, examples; quantities in a counting, a
measuring or a declared unit with amounts per unit, percentage points, comparisons whose subject is
left out), in English, Chinese or mixed keywords, with names and
texts chosen to be awkward for a code generator (Python keywords and builtins, dunder names,
quotes, backslashes, newlines, `\"\"\"`).  `applicants(policy)` draws raw facts for it, the way JSON or a
CSV file would give them.  `mutations()` draws edits of a valid file: deleted, duplicated and
swapped tokens, random bytes, invalid UTF-8, a BOM, CRLF, tabs, full-width forms.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from policydsl.syntax.keywords import COUNTING_UNITS, KEYWORDS, TYPE_NAMES

# ---------------------------------------------------------------------------------------- names

# Names that a careless code generator would turn into broken or dangerous Python.
PYTHON_NAMES = (
    "class", "def", "import", "lambda", "return", "yield", "None", "True", "False", "self",
    "print", "eval", "exec", "open", "os", "sys", "__import__", "__init__", "__class__",
    "__builtins__", "__name__", "_", "__", "Decimal", "decimal", "datetime", "rt", "result",
    "facts", "date", "value", "str", "int", "type", "object", "match", "case", "async", "await",
    "global", "nonlocal", "del", "pass", "raise", "try", "except", "finally", "with", "assert",
    "while", "for", "is", "break", "continue", "elif", "else", "from_", "_x", "x__y",
)  # fmt: skip
PLAIN_NAMES = (
    "investment", "revenue", "customers", "level", "established", "funding", "rate", "area",
    "staff", "score", "region", "tier", "output", "patents", "subsidy", "base", "extra",
)  # fmt: skip
# Chinese names; a run of Chinese characters may contain a keyword (自有资金 holds 自) as long as
# the whole run is not one.
CHINESE_NAMES = (
    "营收", "投资额", "客户数量", "认定级别", "成立日期", "自有资金", "如意", "研发投入", "职工人数",
    "上级资金", "区域", "档次", "产值", "专利", "基础奖励", "追加奖励", "国家级", "省级", "市级",
    "企业", "园区", "平台", "配套", "标杆", "示范", "中心", "节点", "试点",
)  # fmt: skip
# Names that look alike but differ: a CJK compatibility ideograph and the unified one it folds to
# under NFKC (which Python applies to identifiers), and ASCII names that differ only in case.
LOOKALIKE_NAMES = ("\uf900", "\u8c48", "\uf901", "\u66f4", "Rate", "rate", "RATE")

RESERVED = (
    {w for pair in KEYWORDS.values() for w in pair}
    | {"applicant", "申报主体"}
    | {"超过", "不满", "达到", "不低于", "届满", "满", "不超过", "低于", "等于"}
    | {"以上", "及以上", "或以上", "以下", "及以下", "以内"}
)

# Characters for labels, citations and other texts: quotes, backslashes and newlines are written
# escaped; the rest as they are.  A full-width quote (U+FF02) is a quote everywhere, so it is left out.
TEXT_CHARS = st.one_of(
    st.sampled_from([*"ab 第八条（一）{}#:,，Ａ＃“”'\"\\\n\t$%{}", '"""', "'''", "\\n", "${x}", "{0}", "%s"]),
    # citation numbers of any size, as a document number's year or an article (第1000条, (2023))
    st.sampled_from(["第1000条", "第一千零五条", "(2023)", "（12345678）", "第二万条"]),
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc"),
        # bidi controls are refused in text (E006); the full-width quote is folded
        exclude_characters="\uff02\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
)


def quote(text: str) -> str:
    """`text` as a policy string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---------------------------------------------------------------------------------------- types

MONEY, PERCENT, NUMBER, COUNT, BOOL, DATE, TEXT, DURATION = (
    "money", "percent", "number", "count", "bool", "date", "text", "duration",
)  # fmt: skip
FACT_TYPES = (MONEY, PERCENT, NUMBER, COUNT, BOOL, DATE, TEXT, "enum")
TYPE_SPELLING = {
    MONEY: ("money", "金额"),
    PERCENT: ("percent", "比例"),
    NUMBER: ("number", "数值"),
    COUNT: ("count", "数量"),
    BOOL: ("bool", "布尔"),
    DATE: ("date", "日期"),
    TEXT: ("text", "文本"),
    DURATION: ("duration", "期限"),
}
COUNT_UNIT = "家"
# The unit of a policy's quantities: a counting unit (whole things), a measuring unit (any amount of
# at least 0: `62.5亩`), or a unit the policy declares (`declare_unit 标准箱`), which measures too.
UNIT_CHOICES = ("家", "家", "项", "人", "亩", "亩", "平方米", "千瓦", "千瓦时", "吨", "declared")
# Units a policy may declare: none begins with 亿, 万, 千 or a built-in unit, none holds a word that
# ends a glued quantity (且, 以上…).
DECLARED_UNITS = ("标准箱", "立方米", "公顷", "延长米", "车位")


@attrs.frozen
class GeneratedPolicy:
    """A drawn policy: its `text`, its facts (name -> type; enum facts as `enum:<enum>`), the `enums`
    (name -> members), the applicant `kinds`, the `measures`, and the first and last valid day."""

    text: str
    facts: dict[str, str]
    enums: dict[str, tuple[str, ...]]
    enum_labels: dict[str, tuple[str, ...]]
    kinds: tuple[str, ...]
    measures: tuple[str, ...]
    valid_from: datetime.date | None
    valid_until: datetime.date | None
    unit: str = COUNT_UNIT
    exclusive: tuple[tuple[str, ...], ...] = ()  # groups of kinds that exclude each other

    @property
    def measuring(self) -> bool:
        """Whether the policy's quantities need not be whole (亩, a declared unit…)."""
        return self.unit not in COUNTING_UNITS


class _Writer:
    """Draws one policy.  `lang` is en, zh or mixed (each keyword spelt at random)."""

    def __init__(self, draw: st.DrawFn, lang: str) -> None:
        self.draw = draw
        self.lang = lang
        self.used: set[str] = set()
        self.facts: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.enums: dict[str, tuple[str, ...]] = {}
        self.enum_labels: dict[str, tuple[str, ...]] = {}
        self.kinds: list[str] = []
        self.exclusive: list[tuple[str, ...]] = []
        self.measures: list[str] = []
        self.bodies: list[list[str]] = []  # each measure's items, for a copy-pasted measure
        self.examples: list[str] = []  # names of the examples and bases written so far
        unit = self.pick(UNIT_CHOICES)
        self.declared = unit == "declared"
        self.unit: str = self.pick(DECLARED_UNITS) if self.declared else unit
        self.used.add(self.unit)
        self.measuring = self.unit not in COUNTING_UNITS

    # ------------------------------------------------------------------ small draws
    def pick(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def chance(self, p: float) -> bool:
        return bool(self.draw(st.integers(0, 999)) < p * 1000)

    def count(self, low: int, high: int) -> int:
        return int(self.draw(st.integers(low, high)))

    def kw(self, name: str) -> str:
        english, chinese = KEYWORDS[name]
        if self.lang == "en":
            return english
        if self.lang == "zh":
            return chinese
        return english if self.chance(0.5) else chinese

    def raw_text(self) -> str:
        return "".join(self.draw(st.lists(TEXT_CHARS, max_size=6)))

    def text(self) -> str:
        return quote(self.raw_text())

    def opt_text(self) -> str:
        return " " + self.text() if self.chance(0.5) else ""

    def cite(self) -> str:
        return f" {self.kw('cite')} {self.text()}" if self.chance(0.3) else ""

    def name(self) -> str:
        pools = (PYTHON_NAMES, PLAIN_NAMES, CHINESE_NAMES, LOOKALIKE_NAMES)
        for _ in range(50):
            pool = self.pick(pools)
            base = self.pick(pool)
            if self.chance(0.3) and base[0].isascii():
                base = f"{base}_{self.count(0, 99)}"
            if base not in self.used and base not in RESERVED and base not in TYPE_NAMES:
                self.used.add(base)
                return str(base)
        fresh = f"n{len(self.used)}"
        self.used.add(fresh)
        return fresh

    def date(self) -> datetime.date:
        return datetime.date(self.count(1990, 2030), self.count(1, 12), self.count(1, 28))

    def date_lit(self, day: datetime.date | None = None) -> str:
        day = day or self.date()
        if self.chance(0.3):
            return f"{day.year}年{day.month}月{day.day}日"
        return day.isoformat()

    def partial_date(self, day: datetime.date) -> tuple[str, datetime.date, datetime.date]:
        """A date known only to its year (`2022-*-*`, `2022年*月*日`) or month (`2022-05-*`), with the
        first and the last day it may be."""
        if self.chance(0.5):
            text = f"{day.year}年*月*日" if self.chance(0.4) else f"{day.year}-*-*"
            return text, datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31)
        text = f"{day.year}年{day.month}月*日" if self.chance(0.4) else f"{day.year}-{day.month:02d}-*"
        following = datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return text, day.replace(day=1), following - datetime.timedelta(days=1)

    # ------------------------------------------------------------------ literals
    def money_lit(self) -> str:
        form = self.count(0, 6)
        if form == 0:
            return f"{self.count(0, 999)}万"
        if form == 1:
            return f"{self.count(1, 99)}.{self.count(0, 9)}亿"
        if form == 2:
            return f"{self.count(0, 10**9)}元"
        if form == 3:
            return f"{self.count(0, 9999)}.{self.count(0, 99):02d}元"
        if form == 4:
            return self.pick(["1e30万", "0.001元", "1e-3元", "2.5e2万", "0元", "1千", "0.01元"])
        if form == 5:
            return f"{self.count(1, 500)}千"
        return f"{self.count(1, 5000)}万"

    def percent_lit(self) -> str:
        form = self.count(0, 5)
        if form == 5:  # percentage points: 3个百分点 is 3%
            points = self.pick([str(self.count(0, 20)), f"{self.count(0, 9)}.{self.count(1, 9)}"])
            return f"{points}{self.pick(['个百分点', '百分点'])}"
        if form == 0:
            return f"{self.count(0, 100)}%"
        if form == 1:
            return f"{self.count(0, 99)}.{self.count(0, 9)}%"
        if form == 2:
            return f"{self.count(0, 1000)}‰"
        if form == 3:
            return f"{self.count(1, 3)}:{self.count(1, 3)}"
        return self.pick(["1e-30%", "100%", "0%", "33.333%"])

    def number_lit(self) -> str:
        return self.pick([str(self.count(0, 1000)), f"{self.count(0, 99)}.{self.count(1, 9)}", "1e3"])

    def count_lit(self) -> str:
        if self.measuring and self.chance(0.4):  # an amount of 亩 need not be whole
            return f"{self.count(0, 500)}.{self.count(0, 99)}{self.unit}"
        return f"{self.count(0, 500)}{self.unit}"

    def per_unit_lit(self) -> str:
        """An amount per one of the policy's unit: `5万/家`, `100元/亩`, `0.5元/千瓦时`."""
        amount = self.pick(
            [f"{self.count(1, 100)}万", f"{self.count(0, 999)}元", f"{self.count(0, 9)}.{self.count(1, 9)}元"]
        )
        return f"{amount}/{self.unit}"

    def duration_lit(self) -> str:
        return self.pick(
            [f"{self.count(1, 10)}年", f"{self.count(1, 36)}个月", f"{self.count(1, 400)}天", "1年"]
        )

    # ------------------------------------------------------------------ expressions
    def names_of(self, ty: str) -> list[str]:
        return [n for n, t in self.facts.items() if t == ty] + [n for n, t in self.params.items() if t == ty]

    def wrap(self, text: str) -> str:
        return f"({text})"

    def expr(self, ty: str, depth: int) -> str:
        """An expression of type `ty` (money, percent, number, count, date, bool)."""
        leaf = depth <= 0 or self.chance(0.35)
        maker: Callable[[int], str] = getattr(self, f"_{ty}")
        return maker(-1 if leaf else depth - 1)

    def _leaf(self, ty: str, literal: Callable[[], str]) -> str:
        names = self.names_of(ty)
        if names and self.chance(0.6):
            return str(self.pick(names))
        return literal()

    def _money(self, depth: int) -> str:
        if depth < 0:
            return self._leaf(MONEY, self.money_lit)
        e = lambda ty: self.wrap(self.expr(ty, depth))  # noqa: E731
        form = self.count(0, 13)
        if form == 12:
            return self.brackets(depth)
        if form == 0:
            return f"{e(PERCENT)} * {e(MONEY)}"
        if form == 1:
            return f"{e(MONEY)} {self.pick(['*', '×'])} {e(PERCENT)}"
        if form == 2:
            return f"{e(MONEY)} {self.pick(['+', '-'])} {e(MONEY)}"
        if form == 3:
            return f"{self.kw(self.pick(['min', 'max']))}({e(MONEY)}, {e(MONEY)})"
        if form == 4:
            return f"{e(MONEY)} {self.pick(['/', '÷'])} {self.pick(['2', '3', '1.5', '7', '100'])}"
        if form == 5 and self.names_of(COUNT):
            quantity = self.pick(self.names_of(COUNT))
            if self.chance(0.3):  # a rate per unit by bands of the quantity, as 柳河县 pays per 亩
                rate = self.band(quantity, COUNT, self.per_unit_lit)
                return f"{quantity} * {rate}"
            if self.chance(0.5):
                return f"{quantity} * {self.per_unit_lit()}"
            return f"{self.per_unit_lit()} * {self.pick(self.names_of(COUNT))}"
        if form == 6:
            enums = [n for n, t in self.facts.items() if t.startswith("enum:")]
            if enums:
                fact = self.pick(enums)
                return self.table(fact, lambda: self.expr(MONEY, depth))
        if form == 7:
            subject = self.pick(self.names_of(MONEY) or [self.money_lit()])
            return self.band(subject, MONEY, lambda: self.expr(MONEY, depth))
        if form == 8:
            return f"{e(MONEY)} * {e(NUMBER)}"
        if form == 9:
            return f"- {e(MONEY)}"
        if form == 10 and self.names_of(NUMBER):
            # division by a fact that may be 0 when evaluated
            return f"{e(MONEY)} / {self.pick(self.names_of(NUMBER))}"
        if form == 11:
            return self.whole(MONEY, depth, ["100万", "1万", "0.01元", "3元", "2.5万", "1e-3元"])
        return self._leaf(MONEY, self.money_lit)

    def brackets(self, depth: int) -> str:
        """Progressive brackets: over money at percentages (figures, parameters or any percentage),
        or over a count at amounts per unit; ascending limits written with the statutory words."""
        counted = self.names_of(COUNT) and self.chance(0.3)
        subject = self.pick(self.names_of(COUNT)) if counted else self.wrap(self.expr(MONEY, depth))
        unit = self.unit if counted else "万"  # the policy's own unit: 项, 亩 or a declared one
        limits = sorted(set(self.draw(st.lists(st.integers(1, 5000), min_size=1, max_size=3))))

        def rate() -> str:
            if counted:
                return f"{self.count(0, 99)}万/{self.unit}"
            return self.wrap(self.expr(PERCENT, depth)) if self.chance(0.3) else self.percent_lit()

        def lower(x: int) -> str:
            return self.pick([f"超过 {x}{unit}", f"{x}{unit}以上", f"达到 {x}{unit}"])

        def upper(x: int) -> str:
            return self.pick([f"不超过 {x}{unit}", f"{x}{unit}以下", f"不满 {x}{unit}", f"低于 {x}{unit}"])

        rows = [f"{upper(limits[0])}: {rate()}"]
        for a, b in itertools.pairwise(limits):
            rows.append(f"{lower(a)} {self.kw('and')} {upper(b)}: {rate()}")
        rows.append(f"{lower(limits[-1])}: {rate()}")
        return f"{self.kw('progressive')} {subject} {{ {', '.join(rows)} }}"

    def whole(self, ty: str, depth: int, sizes: list[str]) -> str:
        """Whole units of an expression of type `ty`: `per * blocks(x, size)` (per an amount or a
        percentage, the award per block), `round_down(x, size)`, or `max(x, 0)` with a plain 0.
        The size is a literal above zero or a name, which may be 0 or negative when evaluated."""
        e = lambda ty: self.wrap(self.expr(ty, depth))  # noqa: E731
        # a parameter set to zero or below is E209 at check time; a fact may be either when evaluated
        facts = [n for n, t in self.facts.items() if t == ty]
        size = self.pick(facts) if facts and self.chance(0.3) else self.pick(sizes)
        form = self.count(0, 2)
        if form == 0:
            per = self.money_lit() if ty == MONEY else e(ty)
            return f"{per} * {self.kw('blocks')}({self.expr(ty, depth)}, {size})"
        if form == 1:
            return f"{self.kw('round_down')}({self.expr(ty, depth)}, {size})"
        args = [self.expr(ty, depth), "0"]
        return f"{self.kw(self.pick(['min', 'max']))}({', '.join(args[:: self.pick([1, -1])])})"

    def _percent(self, depth: int) -> str:
        if depth < 0:
            return self._leaf(PERCENT, self.percent_lit)
        e = lambda ty: self.wrap(self.expr(ty, depth))  # noqa: E731
        form = self.count(0, 5)
        if form == 0:
            return f"{e(PERCENT)} {self.pick(['+', '-'])} {e(PERCENT)}"
        if form == 1:
            return f"{e(PERCENT)} * {e(NUMBER)}"
        if form == 2:
            # a literal 0 divisor is E209; a fact may still be 0 when evaluated
            divisor = self.pick(self.names_of(MONEY) or [f"{self.count(1, 99)}万"])
            return f"{e(MONEY)} / {divisor}"
        if form == 3:
            return f"{self.kw(self.pick(['min', 'max']))}({e(PERCENT)}, {e(PERCENT)})"
        if form == 4:
            return self.whole(PERCENT, depth, ["1%", "0.5%", "10%", "1‰", "1个百分点"])
        return self._leaf(PERCENT, self.percent_lit)

    def _number(self, depth: int) -> str:
        if depth < 0:
            return self._leaf(NUMBER, self.number_lit)
        e = lambda ty: self.wrap(self.expr(ty, depth))  # noqa: E731
        form = self.count(0, 3)
        if form == 0:
            return f"{e(NUMBER)} {self.pick(['+', '-', '*'])} {e(NUMBER)}"
        if form == 1:
            return f"{e(NUMBER)} / {self.pick(['2', '4', '0.5'])}"
        if form == 2:  # whole blocks: a plain number
            ty, size = self.pick([(MONEY, "10万"), (NUMBER, "3"), (NUMBER, "0.5"), (PERCENT, "1%")])
            return f"{self.kw('blocks')}({self.expr(ty, depth)}, {size})"
        return self._leaf(NUMBER, self.number_lit)

    def _count(self, depth: int) -> str:
        if depth < 0:
            return self._leaf(COUNT, self.count_lit)
        if self.chance(0.4):
            return f"{self.wrap(self.expr(COUNT, depth))} + {self.wrap(self.expr(COUNT, depth))}"
        if self.chance(0.2):
            sizes = ["10", "1", "3"] + (["0.5", "2.5"] if self.measuring else [])
            size = f"{self.pick(sizes)}{self.unit}"
            return f"{self.kw('round_down')}({self.expr(COUNT, depth)}, {size})"
        return self._leaf(COUNT, self.count_lit)

    def _date(self, depth: int) -> str:
        if depth < 0:
            return self._leaf(DATE, self.date_lit)
        if self.chance(0.5):
            return f"{self.wrap(self.expr(DATE, depth))} {self.pick(['+', '-'])} {self.duration_lit()}"
        return self._leaf(DATE, self.date_lit)

    def _bool(self, depth: int) -> str:
        if depth < 0:
            return self.atom_condition()
        e = lambda: self.wrap(self.expr(BOOL, depth))  # noqa: E731
        form = self.count(0, 5)
        if form == 0:
            return f"{e()} {self.kw('and')} {e()}"
        if form == 1:
            return f"{e()} {self.kw('or')} {e()}"
        if form == 2:
            return f"{self.kw('not')} {e()}"
        if form == 3:
            return f"{e()} {self.kw('implies')} {e()}"
        return self.atom_condition()

    def atom_condition(self) -> str:
        form = self.count(0, 8)
        bools = self.names_of(BOOL)
        if form == 0 and bools:
            return str(self.pick(bools))
        if form == 1:
            return self.kw(self.pick(["true", "false"]))
        enums = [n for n, t in self.facts.items() if t.startswith("enum:")]
        if form == 2 and self.kinds and self.chance(0.3):  # the applicant's roles
            subject = self.pick(["applicant", "申报主体"])
            if self.chance(0.5):
                chosen = self.draw(st.lists(st.sampled_from(self.kinds), min_size=1, max_size=3, unique=True))
                return f"{subject} {self.kw('in')} [{', '.join(chosen)}]"
            return f"{subject} {self.pick(['==', '!=', '≠'])} {self.pick(self.kinds)}"
        if form == 2 and enums:
            fact = self.pick(enums)
            members = self.enums[self.facts[fact][5:]]
            if self.chance(0.5):
                chosen = self.draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
                return f"{fact} {self.kw('in')} [{', '.join(chosen)}]"
            return f"{fact} {self.pick(['==', '!=', '≠'])} {self.pick(members)}"
        dates = self.names_of(DATE)
        if form == 3 and [n for n in dates if n in self.facts]:
            fact = self.pick([n for n in dates if n in self.facts])
            word = self.pick(["届满", "满", "超过", "不满", ">=", ">", "<", "<=", "达到"])
            durations = [self.duration_lit(), *self.names_of(DURATION)]
            return f"{self.kw('since')}({fact}) {word} {self.pick(durations)}"
        if form == 4:
            return f"{self.expr(DATE, 1)} {self.pick(['>=', '<', '==', '!='])} {self.date_lit()}"
        texts = self.names_of(TEXT)
        if form == 5 and texts:
            return f"{self.pick(texts)} {self.pick(['==', '!='])} {self.pick(texts)}"
        ty = self.pick([MONEY, PERCENT, NUMBER, COUNT])
        return self.comparison(ty)

    def comparison(self, ty: str) -> str:
        left = self.wrap(self.expr(ty, 1)) if self.chance(0.3) else self.expr(ty, -1)
        literal = {
            MONEY: self.money_lit,
            PERCENT: self.percent_lit,
            NUMBER: self.number_lit,
            COUNT: self.count_lit,
        }[ty]
        text = f"{left} {self.bound(ty, literal)}"
        if self.chance(0.25):
            # comparisons whose subject is left out, as drafting says a range: `x 超过 A 且 不满 B`
            # `and` binds tighter than `or`; after `x 超过 A 或 不满 B` the grammar takes no `且 …`
            # (E001), so an `or` comes last
            joins = sorted(self.pick(["and", "and", "or"]) for _ in range(self.count(1, 2)))
            for join in joins if joins[0] == "and" else joins[:1]:
                text += f" {self.kw(join)} {self.bound(ty, literal)}"
            if self.chance(0.5):
                text = self.wrap(text)
        return text

    def bound(self, ty: str, literal: Callable[[], str]) -> str:
        """The part of a comparison after its subject: `>= (x)`, `超过 50万`, `50万 以上`."""
        style = self.count(0, 2)
        if style == 0:
            symbol = self.pick([">=", "≥", ">", "<=", "≤", "<", "==", "!=", "≠"])
            return f"{symbol} {self.wrap(self.expr(ty, 1))}"
        if style == 1:
            word = self.pick(["超过", "不满", "达到", "不低于", "届满", "满", "不超过", "低于"])
            glue = "" if self.chance(0.3) else " "
            return f"{word}{glue}{literal()}"
        word = self.pick(["以上", "及以上", "或以上", "以下", "及以下", "以内"])
        glue = "" if self.chance(0.5) else " "
        return f"{literal()}{glue}{word}"

    def table(self, fact: str, value: Callable[[], str]) -> str:
        members = list(self.enums[self.facts[fact][5:]])
        keys = self.draw(st.lists(st.sampled_from(members), min_size=1, max_size=len(members), unique=True))
        entries = [f"{k}: {self.value(value)}" for k in keys]
        if len(keys) < len(members) or self.chance(0.3):
            entries.append(f"{self.kw('otherwise')}: {self.value(value)}")
        trailing = "," if self.chance(0.2) else ""
        return f"{self.kw('by')} {fact} {{ {', '.join(entries)}{trailing} }}"

    def band(self, subject: str, ty: str, value: Callable[[], str]) -> str:
        literal = {
            MONEY: self.money_lit,
            PERCENT: self.percent_lit,
            NUMBER: self.number_lit,
            COUNT: self.count_lit,
        }[ty]
        entries = []
        for _ in range(self.count(1, 3)):
            first = f"{self.pick(['超过', '达到', '>=', '>', '<', '不满'])} {literal()}"
            if self.chance(0.3):
                first += f" {self.kw('and')} {self.pick(['<', '不超过', '<='])} {literal()}"
            entries.append(f"{first}: {self.value(value)}")
        if self.chance(0.7):
            entries.append(f"{self.kw('otherwise')}: {self.value(value)}")
        return f"{self.kw('band')} {subject} {{ {', '.join(entries)} }}"

    def value(self, value: Callable[[], str]) -> str:
        return self.kw("unset") if self.chance(0.1) else value()

    # ------------------------------------------------------------------ declarations
    def header(self) -> tuple[str, datetime.date | None, datetime.date | None]:
        lines = [f"{self.kw('policy')} {self.text()} {{"]
        issued = self.date() if self.chance(0.8) else None
        issued_text = self.date_lit(issued) if issued else self.kw("unset")
        if issued is not None and self.chance(0.15):  # 印发 2022年*月*日: a date known to the year or month
            issued_text, issued, _ = self.partial_date(issued)
        if self.chance(0.6):
            lines.append(f"  {self.kw('issuer')} {self.text()}")
        if self.chance(0.3):
            lines.append(f"  {self.kw('docno')} {self.text()}")
        lines.append(f"  {self.kw('issued')} {issued_text}")
        start: datetime.date | None = None
        end: datetime.date | None = None
        if self.chance(0.7):
            form = self.count(0, 3)
            if form == 0 and issued is not None:
                first, start = self.kw("issued"), issued
            elif form == 1:
                start = self.date()
                first = self.date_lit(start)
            elif form == 2:  # 自2022年*月*日起施行: the earliest day it may be, for the dates drawn
                first, start, _ = self.partial_date(self.date())
            else:
                first = self.kw("unset")
            if start is not None and self.chance(0.2):  # 自发布之日起施行, no end: never expires
                tail = ""
            elif self.chance(0.5) or start is None:
                end = (start or datetime.date(2020, 1, 1)) + datetime.timedelta(days=self.count(30, 3000))
                tail = f" {self.kw('until')} {self.date_lit(end)}"
                if self.chance(0.2) and end.year > (start or end).year:  # 至2025年*月*日
                    text, _, end = self.partial_date(end)
                    tail = f" {self.kw('until')} {text}"
            else:
                years = self.count(1, 5)
                tail = f" {self.kw('lasting')} {years}年"
                end = start.replace(year=start.year + years) - datetime.timedelta(days=1)
            lines.append(f"  {self.kw('valid')} {self.kw('from')} {first}{tail}")
        if self.chance(0.4):
            lines.append(f"  {self.kw('source')} {self.text()}")
        if self.chance(0.5):
            unit = self.pick(["fen", "jiao", "yuan", "分", "角", "元"])
            mode = self.pick(["half_up", "half_even", "down", "四舍五入", "银行家舍入", "舍去"])
            lines.append(f"  {self.kw('rounding')} {unit} {mode}")
        if self.chance(0.2):
            lines.append(f"  {self.kw('cite')} {self.text()}")
        lines.append("}")
        return "\n".join(lines), start, end

    def type_ref(self, ty: str) -> str:
        english, chinese = TYPE_SPELLING[ty]
        spelt = english if self.lang == "en" or (self.lang == "mixed" and self.chance(0.5)) else chinese
        return f"{spelt} {self.unit}" if ty == COUNT else spelt

    def fact(self) -> str:
        name = self.name()
        ty = self.pick(FACT_TYPES)
        bound = ""
        if ty == "enum":
            if not self.enums:
                ty = MONEY
            else:
                enum = self.pick(sorted(self.enums))
                self.facts[name] = f"enum:{enum}"
                return f"{self.kw('fact')} {name}{self.opt_text()}: {enum}"
        if ty in (MONEY, COUNT) or (ty in (NUMBER, PERCENT) and self.chance(0.5)):
            zero = {MONEY: "0", COUNT: f"0{self.unit}", NUMBER: "0", PERCENT: "0%"}[ty]
            bound = f" >= {zero}" if self.chance(0.8) else f" 不低于 {zero}"
            if ty == PERCENT and self.chance(0.5):
                bound += " <= 100%"
        self.facts[name] = ty
        return f"{self.kw('fact')} {name}{self.opt_text()}: {self.type_ref(ty)}{bound}"

    def param(self) -> str:
        name = self.name()
        ty = self.pick([MONEY, MONEY, PERCENT, NUMBER, DURATION, DATE])
        literal = {
            MONEY: lambda: self.expr(MONEY, 1),
            PERCENT: self.percent_lit,
            NUMBER: self.number_lit,
            DURATION: self.duration_lit,
            DATE: self.date_lit,
        }[ty]
        head = f"{self.kw('param')} {name}{self.opt_text()}: {self.type_ref(ty)}"
        if self.chance(0.6):
            decl = f"{head} = {self.value(literal)}{self.cite()}"
        else:
            days = sorted({self.date() for _ in range(self.count(1, 3))})
            versions = "\n".join(
                f"  {self.kw('from')} {self.date_lit(d)} = {self.value(literal)}{self.cite()}" for d in days
            )
            decl = f"{head} {{\n{versions}\n}}"
        self.params[name] = ty
        return decl

    def enum(self) -> str:
        name = self.name()
        members = tuple(self.name() for _ in range(self.count(1, 4)))
        labels = tuple(self.raw_text() if self.chance(0.8) else None for _ in members)
        self.enums[name] = members
        self.enum_labels[name] = tuple(
            lab if lab is not None else m for m, lab in zip(members, labels, strict=True)
        )
        body = ", ".join(
            m if lab is None else f"{m} {quote(lab)}" for m, lab in zip(members, labels, strict=True)
        )
        trailing = "," if self.chance(0.2) else ""
        return f"{self.kw('enum')} {name}{self.opt_text()} {{ {body}{trailing} }}"

    def kind(self) -> str:
        name = self.name()
        self.kinds.append(name)
        return f"{self.kw('kind')} {name}{self.opt_text()}"

    def long_money(self) -> str:
        """A formula of several terms, as published amounts sometimes are (`min(50% * investment, 30% *
        revenue) + max(...) + 10% * investment`): a generated module must lay it out within its width."""
        return " + ".join(self.wrap(self.expr(MONEY, 2)) for _ in range(self.count(3, 5)))

    def condition(self) -> str:
        """A condition: mostly drawn as any, sometimes a long formula compared with a figure."""
        if self.chance(0.1):
            return f"{self.long_money()} >= {self.money_lit()}"
        return self.expr(BOOL, 2)

    def requirement(self, indent: str = "  ") -> str:
        return f"{indent}{self.kw('require')} {self.condition()}{self.opt_text()}{self.cite()}"

    # ------------------------------------------------------------------ measures
    def amount(self) -> str:
        """A clause's amount and what follows it: caps and conditions, in any order (`award x cap 5万
        if c`, `award x if c cap 5万`); sometimes a long formula (strategies.long_money)."""
        tails = [f" {self.kw('cap')} {self.expr(MONEY, 1)}" for _ in range(self.count(0, 2))]
        tails += [
            f" {self.kw(self.pick(['if', 'if', 'unless']))} {self.condition()}"
            for _ in range(self.count(0, 2))
        ]
        form = self.count(0, 8)
        if form != 1:  # a floor (保底) and an offset (扣除) act on a written amount
            if form != 2 and self.chance(0.25):
                tails.append(f" {self.kw('floor')} {self.expr(MONEY, 1)}")
            if self.chance(0.25):
                tails.append(f" {self.kw('offset')} {self.expr(MONEY, 1)}")
        if self.chance(0.5):
            tails = list(self.draw(st.permutations(tails)))
        if form == 0:
            return f"{self.kw('ceiling')} {self.expr(MONEY, 2)}{''.join(tails)}"
        if form == 1:
            return f"{self.kw('unset')}{''.join(tails)}"
        if form == 8:
            return f"{self.long_money()}{''.join(tails)}"
        dates = [n for n in self.names_of(DATE) if n in self.facts]
        if form == 7 and dates:
            return f"{self.schedule(self.pick(dates))}{''.join(tails)}"
        if form == 2:
            low, high = self.expr(MONEY, 2), self.expr(MONEY, 2)
            return f"{self.kw('range')} {low} {self.kw('to')} {high}{''.join(tails)}"
        return f"{self.expr(MONEY, 2)}{''.join(tails)}"

    def schedule(self, fact: str) -> str:
        """A schedule by year counted from a date fact, as a clause's amount: rates by year times an
        amount (柳河 第4条) or amounts by year (第14条); rows ascending, in any spelling, and now and
        then a year left out (which the analysis reports)."""
        rated = self.chance(0.5)
        cuts = sorted(set(self.draw(st.lists(st.integers(1, 8), min_size=1, max_size=4))))
        rows = []
        first = self.count(1, 2)
        for last in cuts:
            if last < first:
                continue
            value = self.percent_lit() if rated else self.expr(MONEY, 0)
            if self.lang == "zh" or self.chance(0.3):
                span = (
                    f"第{first}年"
                    if first == last
                    else self.pick([f"第{first}至{last}年", f"第{first}年至第{last}年"])
                )
            else:
                span = f"years {first}" if first == last else f"years {first} until {last}"
            rows.append(f"{span}: {value}")
            first = last + 1 + (1 if self.chance(0.1) else 0)
        if not rows:
            rows.append(f"{self.kw('years')} 1: {self.percent_lit() if rated else self.money_lit()}")
        table = f"{self.kw('schedule')} {fact} {{ {', '.join(rows)} }}"
        if rated:
            return f"{table} * {self.wrap(self.expr(MONEY, 1))}"
        return table

    def measure(self) -> str:
        name = self.name()
        self.measures.append(name)
        items: list[str] = []
        if self.kinds and self.chance(0.5):
            chosen = self.draw(st.lists(st.sampled_from(self.kinds), min_size=1, unique=True))
            items.append(f"  {self.kw('applicants')} {', '.join(chosen)}")
        if self.chance(0.3):
            forms = self.draw(
                st.lists(
                    st.sampled_from(
                        ["cash", "voucher", "interest_subsidy", "equity", "grant", "现金", "贴息"]
                    ),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
            items.append(f"  {self.kw('pays')} {', '.join(forms)}")
        copyable: list[str] = []  # items a drafter can paste twice and still have a valid policy
        for _ in range(self.count(0, 2)):
            items.append(self.requirement())
            copyable.append(items[-1])
        named: list[str] = []
        for i in range(self.count(1, 4)):
            kind = "award" if i == 0 or self.chance(0.7) else "bonus"
            head = self.kw(kind)
            label = ""
            if self.chance(0.6):
                clause = self.name()
                label = f" {clause}{self.opt_text()}:"
                exception = ""
                if named and kind == "award" and self.chance(0.4):
                    exception = f" {self.kw('exception')} {self.pick(named)}"
                    if self.chance(0.6):
                        exception += f" {self.kw('priority')} {self.count(0, 9)}"
                if kind == "award" and not exception:
                    named.append(clause)
                label += exception
            items.append(f"  {head}{label} {self.amount()}{self.cite()}")
            if not label:
                copyable.append(items[-1])
        if self.chance(0.3):
            items.append(f"  {self.kw('exclude')} {self.expr(BOOL, 2)}{self.opt_text()}{self.cite()}")
        if self.chance(0.2):
            items.append(f"  {self.kw('prefer')} {self.expr(BOOL, 1)}{self.opt_text()}")
        money_names = self.names_of(MONEY)
        earlier = self.measures[:-1]  # counting only earlier measures never makes a circle (E225)
        if (money_names or earlier) and self.chance(0.3):
            limit = self.expr(MONEY, 1)
            counted = [self.pick(money_names)] if money_names and (not earlier or self.chance(0.7)) else []
            if earlier and (not counted or self.chance(0.4)):
                counted += self.draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2, unique=True))
            items.append(f"  {self.kw('funding_limit')} {limit} {self.kw('counting')} {', '.join(counted)}")
        bools = [n for n, t in self.facts.items() if t == BOOL]
        if bools and self.chance(0.1):
            # 每年认定不超过2个: the applicant's facts record the selection, a requirement of the measure
            fact = self.pick(bools)
            cond = fact if self.chance(0.6) else f"{fact} {self.kw('and')} {self.wrap(self.expr(BOOL, 1))}"
            items.append(f"  {self.kw('require')} {cond}{self.opt_text()}")
            selected = f" {self.kw('selected_by')} {fact}"
            items.append(f"  {self.kw('quota')} {self.count(0, 5)}{selected}{self.cite()}")
        elif self.chance(0.2):
            rank = (
                f" {self.kw('rank')} {self.expr(self.pick([MONEY, NUMBER]), 1)}" if self.chance(0.6) else ""
            )
            items.append(f"  {self.kw('quota')} {self.count(0, 50)}{rank}{self.cite()}")
        if self.facts and self.chance(0.15):
            allocate = (
                f" {self.kw('allocate')} {self.pick(['proportional', '按比例'])}" if self.chance(0.6) else ""
            )
            per = self.pick(sorted(self.facts))
            items.append(f"  {self.kw('group_cap')} {self.money_lit()} {self.kw('per')} {per}{allocate}")
        if self.chance(0.1):
            items.append(f"  {self.kw('budget')} {self.money_lit()}{self.cite()}")
        if self.chance(0.25):
            for _ in range(self.count(1, 3)):
                share = self.kw("rest") if self.chance(0.3) else self.percent_lit()
                head = f"{self.kw('instalment')} {self.name()}{self.opt_text()}"
                items.append(f"  {head}: {share} {self.kw('if')} {self.expr(BOOL, 1)}")
            if self.chance(0.5):
                items.append(f"  {self.kw('no_clawback')}{self.cite()}")
        if copyable and self.chance(0.2):  # a clause or requirement pasted twice, equal in value
            for _ in range(self.count(1, 2)):
                items.insert(self.count(0, len(items)), self.pick(copyable))
        order = self.draw(st.permutations(items)) if self.chance(0.3) else items
        self.bodies.append(list(order))
        return self.measure_text(name, order)

    def measure_text(self, name: str, items: list[str]) -> str:
        head = f"{self.kw('measure')} {name}{self.opt_text()}{self.cite()} {{"
        return "\n".join([head, *items, "}"])

    def pasted_measure(self) -> str:
        """A copy of an earlier measure under a new name, its items perhaps reordered."""
        items = self.pick(self.bodies)
        if self.chance(0.5):
            items = self.draw(st.permutations(items))
        name = self.name()
        self.measures.append(name)
        return self.measure_text(name, list(items))

    # ------------------------------------------------------------------ across measures and examples
    def combine(self) -> str:
        chosen = self.draw(st.lists(st.sampled_from(self.measures), min_size=1, unique=True))
        mode = self.pick(["added", "highest", "exclusive", "叠加", "就高", "互斥"])
        if self.chance(0.2):  # one rule for every pair of measures
            chosen = [self.kw("all")]
        return f"{self.kw('combine')} {mode} {{ {', '.join(chosen)} }}{self.cite()}{self.opt_text()}"

    def against(self) -> str | None:
        """`combine highest|exclusive against F { all }`: awards under other documents (a money
        fact); over all measures, so no total cap can run across the measures named and others."""
        money = [n for n, t in self.facts.items() if t == MONEY]
        if not money:
            return None
        mode = self.pick(["highest", "exclusive", "就高", "互斥"])
        fact = self.pick(money)
        return f"{self.kw('combine')} {mode} {self.kw('against')} {fact} {{ {self.kw('all')} }}{self.cite()}"

    def pots(self) -> list[str]:
        """Pots (「每年…补贴100万元」): one figure shared by the applicants of the measures over it, each
        measure in one pot at most, with an allocation rule or none."""
        free = list(self.measures)
        out: list[str] = []
        for _ in range(self.count(1, 2)):
            if not free:
                break
            chosen = self.draw(st.lists(st.sampled_from(free), min_size=1, max_size=3, unique=True))
            free = [m for m in free if m not in chosen]
            amount = self.money_lit()  # one figure: a pot reads no applicant's fact
            yearly = f" {self.kw('each_year')}" if self.chance(0.5) else ""
            rule = self.count(0, 4)
            if rule == 0:
                allocate = ""
            elif rule == 1:
                score = self.expr(self.pick([MONEY, NUMBER]), 1)
                ranked = self.pick(["ranked", "排名"])
                allocate = f" {self.kw('allocate')} {ranked} {self.kw('by')} {score}"
            else:
                options = ["proportional", "按比例", "first_come", "先到先得", "unset", "未定"]
                allocate = f" {self.kw('allocate')} {self.pick(options)}"
            over = f"{self.kw('over')} {{ {', '.join(chosen)} }}{allocate}{self.cite()}"
            out.append(f"{self.kw('pot')} {self.name()}{self.opt_text()} {amount}{yearly} {over}")
        return out

    def total_cap(self) -> str:
        chosen = self.draw(st.lists(st.sampled_from(self.measures), min_size=1, unique=True))
        cap = self.expr(MONEY, 1)
        return f"{self.kw('total_cap')} {cap} {self.kw('over')} {{ {', '.join(chosen)} }}{self.cite()}"

    def acknowledge(self) -> str:
        chosen = self.draw(st.lists(st.sampled_from(self.measures), min_size=1, unique=True))
        code = self.pick(["P201", "P202", "W301"])
        return f"{self.kw('acknowledge')} {code} {{ {', '.join(chosen)} }} {self.text()}"

    def given_value(self, ty: str) -> str:
        if ty.startswith("enum:"):
            return str(self.pick(self.enums[ty[5:]]))
        params = [n for n, t in self.params.items() if t == ty]
        if params and self.chance(0.2):  # a parameter's value, which may be unset
            return str(self.pick(params))
        return {
            MONEY: self.money_lit,
            PERCENT: self.percent_lit,
            NUMBER: self.number_lit,
            COUNT: self.count_lit,
            BOOL: lambda: self.kw(self.pick(["true", "false"])),
            DATE: self.date_lit,
            TEXT: self.text,
        }[ty]()

    def param_value(self, ty: str) -> str:
        return self.duration_lit() if ty == DURATION else self.given_value(ty)

    def example(self, base: bool = False) -> str:
        """An example, or with `base` a `base_applicant` block (no expectations); either may extend
        an earlier one (`from "name"`) and set parameters (`with { p: value }`)."""
        name = self.raw_text()
        while name in self.examples:
            name += "例"
        extends = ""
        if self.examples and self.chance(0.4):
            extends = f" {self.kw(self.pick(['from', 'based_on']))} {quote(self.pick(self.examples))}"
        self.examples.append(name)
        on = f" {self.kw('on')} {self.date_lit()}" if self.chance(0.6) else ""
        with_params = ""
        if self.params and self.chance(0.4):
            chosen = self.draw(st.lists(st.sampled_from(sorted(self.params)), min_size=1, unique=True))
            values = ", ".join(f"{p}: {self.param_value(self.params[p])}" for p in chosen)
            with_params = f"  {self.kw('with')} {{ {values} }}"
        bindings = []
        names = self.draw(st.lists(st.sampled_from(sorted(self.facts)), unique=True)) if self.facts else []
        for fact in names:
            bindings.append(f"{fact}: {self.given_value(self.facts[fact])}")
        if self.kinds and self.chance(0.7):
            roles = self.draw(roles_of(tuple(self.kinds), tuple(self.exclusive)))
            one = len(roles) == 1 and self.chance(0.5)
            bindings.append(f"applicant: {roles[0]}" if one else "applicant: {" + ", ".join(roles) + "}")
        head = self.kw("base") if base else self.kw("example")
        lines = [f"{head} {quote(name)}{extends}{on} {{", f"  {self.kw('given')} {{ {', '.join(bindings)} }}"]
        if with_params:
            lines.append(with_params)
        for _ in range(0 if base else self.count(0, 3)):
            target = self.kw("total") if self.chance(0.2) else self.pick(self.measures)
            expected = self.pick(
                [
                    f"= {self.money_lit()}",
                    f"= {self.expr(MONEY, 0)}",  # may name a parameter, which may be unset
                    f"{self.kw('ceiling')} {self.money_lit()}",
                    self.kw("undetermined"),
                    self.kw("ineligible"),
                ]
            )
            lines.append(f"  {self.kw('expect')} {target} {expected}")
        lines.append("}")
        return "\n".join(lines)

    def policy(self) -> GeneratedPolicy:
        parts: list[str] = []
        start = end = None
        if self.chance(0.9):
            header, start, end = self.header()
            parts.append(header)
        for _ in range(self.count(0, 3)):
            parts.append(self.kind())
        if len(self.kinds) >= 2 and self.chance(0.3):
            group = tuple(self.draw(st.lists(st.sampled_from(self.kinds), min_size=2, unique=True)))
            self.exclusive.append(group)
            parts.append(f"{self.kw('exclusive_kinds')} {{ {', '.join(group)} }}")
        if self.declared:
            parts.append(f"{self.kw('unit')} {self.unit}{self.opt_text()}")
        for _ in range(self.count(0, 2)):
            parts.append(self.enum())
        for _ in range(self.count(1, 8)):
            parts.append(self.fact())
        for _ in range(self.count(0, 3)):
            parts.append(self.param())
        if self.chance(0.3):
            parts.append(f"{self.kw('assume')} {self.expr(BOOL, 1)}{self.opt_text()}")
        if self.chance(0.4):
            reqs = "\n".join(self.requirement() for _ in range(self.count(0, 3)))
            parts.append(f"{self.kw('eligibility')} {{\n{reqs}\n}}")
        for _ in range(self.count(1, 4)):
            parts.append(self.measure())
        if self.chance(0.15):
            parts.append(self.pasted_measure())
        if self.chance(0.4):
            parts.append(self.combine())
        if self.chance(0.3):
            parts.append(self.total_cap())
        if self.chance(0.15) and (rule := self.against()) is not None:
            parts.append(rule)
        if self.chance(0.2):
            parts.append(self.acknowledge())
        if self.chance(0.2):
            parts.extend(self.pots())
        if self.chance(0.15):
            parts.append(self.example(base=True))
        for _ in range(self.count(0, 2)):
            parts.append(self.example())
        if self.chance(0.3):
            parts.insert(self.count(0, len(parts)), "# " + self.text())
        separator = self.pick(["\n", "\n\n", "\n  \n"])
        return GeneratedPolicy(
            separator.join(parts) + "\n",
            dict(self.facts),
            dict(self.enums),
            dict(self.enum_labels),
            tuple(self.kinds),
            tuple(self.measures),
            start,
            end,
            self.unit,
            tuple(self.exclusive),
        )


@st.composite
def policies(draw: st.DrawFn) -> GeneratedPolicy:
    """A policy that parses and type-checks without errors."""
    lang = draw(st.sampled_from(["en", "zh", "mixed"]))
    return _Writer(draw, lang).policy()


# ---------------------------------------------------------------------------------------- applicants


def _money_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(0, 10**10),
        st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False),
        st.integers(0, 10**6).map(lambda n: f"{n}万"),
        st.integers(0, 10**6).map(lambda n: f" {n} "),
        st.sampled_from(["1.5亿", "1,000", "0", "0.001", "3000万元", "1e3", "100元", "1e30"]),
    )


def _count_value(policy: GeneratedPolicy) -> st.SearchStrategy[Any]:
    whole = st.one_of(st.integers(0, 5000), st.integers(0, 99).map(lambda n: f"{n}{policy.unit}"))
    if not policy.measuring:
        return whole
    # an amount of 亩 or of a declared unit need not be whole: a number, or text with its unit
    return st.one_of(
        whole,
        st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
        st.tuples(st.integers(0, 999), st.integers(0, 9)).map(lambda p: f"{p[0]}.{p[1]}{policy.unit}"),
        st.sampled_from(["320.5", "0.01", "1e3"]),
    )


def fact_value(policy: GeneratedPolicy, ty: str) -> st.SearchStrategy[Any]:
    """A raw value (JSON/CSV-like) that a fact of type `ty` accepts."""
    if ty.startswith("enum:"):
        enum = ty[5:]
        return st.sampled_from(
            list(policy.enums[enum]) + [label for label in policy.enum_labels[enum] if label.strip()]
        )
    dates = st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 12, 31))
    return {
        MONEY: _money_value(),
        PERCENT: st.one_of(
            st.integers(0, 100).map(lambda n: f"{n}%"),
            st.decimals(min_value=0, max_value=1, places=3, allow_nan=False, allow_infinity=False),
            st.sampled_from(["0.5", "1", "0"]),
        ),
        NUMBER: st.one_of(st.integers(-10, 1000), st.sampled_from(["0", "1.5", "2", "-3"])),
        COUNT: _count_value(policy),
        BOOL: st.sampled_from([True, False, "true", "false", "是", "否", "yes", "no", 1, 0]),
        DATE: st.one_of(
            dates.map(lambda d: d.isoformat()),
            dates,
            st.sampled_from(["0001-01-01", "9999-12-31", "2020-02-29"]),
        ),
        TEXT: st.text(max_size=8),
    }[ty]


@st.composite
def applicants(draw: st.DrawFn, policy: GeneratedPolicy, complete: bool = False) -> dict[str, Any]:
    """Raw facts for `policy`: every fact when `complete`, otherwise a random subset."""
    facts: dict[str, Any] = {}
    for name, ty in policy.facts.items():
        if complete or draw(st.integers(0, 9)) < 8:
            facts[name] = draw(fact_value(policy, ty))
    if policy.kinds and (complete or draw(st.booleans())):
        roles = draw(roles_of(policy.kinds, policy.exclusive))
        # one role as a text; several as a JSON list or a CSV cell (`a;b`, labels aside)
        if len(roles) == 1 and draw(st.booleans()):
            facts["applicant"] = roles[0]
        else:
            facts["applicant"] = draw(st.sampled_from([roles, ";".join(roles), "、".join(roles)]))
    return facts


@st.composite
def roles_of(draw: st.DrawFn, kinds: tuple[str, ...], exclusive: tuple[tuple[str, ...], ...]) -> list[str]:
    """One or more distinct kinds, at most one of each exclusive group."""
    roles = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True))
    for group in exclusive:
        held = [r for r in roles if r in group]
        roles = [r for r in roles if r not in held[1:]]
    return roles


def evaluation_dates(policy: GeneratedPolicy) -> st.SearchStrategy[datetime.date]:
    """Mostly days inside the policy's validity, sometimes any day at all."""
    start = policy.valid_from or datetime.date(2015, 1, 1)
    end = policy.valid_until or start + datetime.timedelta(days=3650)
    if end < start:
        end = start
    inside = st.dates(start, end)
    return st.one_of(inside, inside, inside, st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)))


# ---------------------------------------------------------------------------------------- mutations

_TOKEN = re.compile(
    r'\s+|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?[^\s{}()\[\],:"#]*'
    r"|[\u3400-\u9fff]+|."
)
# Tokens a drafter could plausibly misplace.
VOCABULARY = (
    "{", "}", "(", ")", "[", "]", ",", ":", "=", "==", ">=", "<", "+", "-", "*", "/", "%", "#",
    '"', '"x"', "award", "if", "measure", "fact", "policy", "cap", "ceiling", "exception", "by",
    "band", "otherwise", "unset", "rest", "instalment", "combine", "给予", "如", "且", "或", "超过",
    "以上", "50万", "1e30万", "0.001元", "1e-30%", "1:0", "0", "/ 0", "2021-02-30", "9999-12-31",
    "0001-01-01", "1e999999999万", "since(", "applicant", "money", "__import__", "\\", "\\n",
)  # fmt: skip
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}
# Characters drafters paste from word processors, each with the ASCII it stands for.
LOOKALIKE_PUNCTUATION = {",": "、", '"': "“", ".": "。", ";": "；", "[": "【", "]": "】", " ": "\u00a0"}


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _edit_tokens(draw: st.DrawFn, text: str) -> str:
    tokens = _tokens(text)
    if not tokens:
        return text
    op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace"]))
    i = draw(st.integers(0, len(tokens) - 1))
    if op == "delete":
        del tokens[i]
    elif op == "duplicate":
        tokens.insert(i, tokens[i])
    elif op == "swap":
        j = draw(st.integers(0, len(tokens) - 1))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif op == "insert":
        tokens.insert(i, " " + draw(st.sampled_from(VOCABULARY)) + " ")
    else:
        tokens[i] = draw(st.sampled_from(VOCABULARY))
    return "".join(tokens)


def _edit_chars(draw: st.DrawFn, text: str) -> str:
    if not text:
        return text
    op = draw(
        st.sampled_from(["insert", "replace", "delete_range", "truncate", "fullwidth", "lookalike", "tabs"])
    )
    i = draw(st.integers(0, len(text) - 1))
    if op == "insert":
        return text[:i] + draw(st.characters()) + text[i:]
    if op == "replace":
        return text[:i] + draw(st.characters()) + text[i + 1 :]
    if op == "delete_range":
        return text[:i] + text[i + draw(st.integers(1, 40)) :]
    if op == "truncate":
        return text[:i]
    if op == "tabs":
        return text.replace("  ", "\t")
    end = i + draw(st.integers(1, 200))
    table = FULLWIDTH if op == "fullwidth" else LOOKALIKE_PUNCTUATION
    return text[:i] + "".join(table.get(ch, ch) for ch in text[i:end]) + text[end:]


def _edit_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    op = draw(st.sampled_from(["random", "invalid_utf8", "bom", "crlf", "nul", "gbk", "cr"]))
    i = draw(st.integers(0, len(data)))
    if op == "random":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if op == "invalid_utf8":
        bad = draw(
            st.sampled_from(
                [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe4\xb8", b"\x80", b"\xf8\x88\x80\x80\x80"]
            )
        )
        return data[:i] + bad + data[i:]
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if op == "cr":
        return data.replace(b"\n", b"\r")
    if op == "nul":
        return data[:i] + b"\x00" + data[i:]
    try:
        return data.decode("utf-8").encode("gb18030")
    except UnicodeError:
        return data


@st.composite
def mutations(draw: st.DrawFn, seed: str) -> bytes:
    """`seed` (a valid policy) with one to five edits, as the bytes of a file."""
    text = seed
    for _ in range(draw(st.integers(1, 5))):
        text = _edit_tokens(draw, text) if draw(st.booleans()) else _edit_chars(draw, text)
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        data = _edit_bytes(draw, data)
    return data


def fullwidth(text: str) -> str:
    """`text` with every ASCII character outside strings and comments in its full-width form."""
    out: list[str] = []
    for piece in _tokens(text):
        if piece.startswith(('"', "#")):
            out.append(piece)
        else:
            out.append("".join(FULLWIDTH.get(ch, ch) for ch in piece))
    return "".join(out)


# Decimal is re-exported for tests that build expected figures.
__all__ = ["Decimal", "GeneratedPolicy", "applicants", "evaluation_dates", "mutations", "policies"]
