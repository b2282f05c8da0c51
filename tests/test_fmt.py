"""The formatter: golden layouts, round-trip and idempotence properties, and the fmt command."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policydsl.checking.frontend import load_bytes, load_text
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink, display_width
from policydsl.source import SourceFile
from policydsl.syntax import ast
from policydsl.syntax.fmt import WIDTH, format_policy, format_source
from policydsl.syntax.keywords import (
    ALLOCATIONS,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    TYPE_NAMES,
    all_spellings,
)
from tests.conftest import DATA, POLICIES, ROOT, golden

FMT = DATA / "fmt"


def parse(text: str, name: str = "t.policy") -> ast.Policy | None:
    """The AST of `text`, or None when the front end reports an error."""
    sink = Sink()
    loaded = load_text(name, text, sink)
    return None if sink.has_errors else loaded.policy


def fmt(text: str) -> str:
    sink = Sink()
    out = format_source("t.policy", text, sink)
    assert out is not None, [d.message for d in sink.diagnostics]
    return out


def comment_texts(policy: ast.Policy) -> list[str]:
    return sorted(c.text.rstrip() for c in policy.comments)


def assert_round_trip(text: str) -> str:
    """Formatting keeps the AST, the comments and the keyword language, and is idempotent."""
    before = parse(text)
    assert before is not None
    out = fmt(text)
    after = parse(out)
    assert after is not None, out
    assert after == before, out
    assert comment_texts(after) == comment_texts(before), out
    if before.items or before.header:
        assert after.chinese == before.chinese
    assert fmt(out) == out
    assert out == "" or out.endswith("\n")
    assert not any(line != line.rstrip() for line in out.split("\n")), out
    return out


# ------------------------------------------------------------------------------- golden layouts


def golden_inputs() -> list[Path]:
    return sorted(p for p in FMT.glob("*.policy") if not p.name.endswith(".expected.policy"))


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: p.stem)
def test_golden(path: Path, update_golden: bool) -> None:
    text = path.read_text(encoding="utf-8")
    out = assert_round_trip(text)
    golden(path.with_suffix(".expected.policy"), out, update_golden)


def test_golden_inputs_are_messy() -> None:
    """Each golden input changes when formatted, or the pair would test nothing."""
    inputs = golden_inputs()
    assert len(inputs) >= 3
    for path in inputs:
        text = path.read_text(encoding="utf-8")
        assert fmt(text) != text, path.name


def node_classes(policy: ast.Policy) -> set[type[ast.Node]]:
    """The AST classes used in a policy, at any depth."""
    seen: set[type[ast.Node]] = set()
    stack: list[object] = [policy]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            seen.add(type(item))
            stack.extend(getattr(item, field.name) for field in attrs.fields(type(item)))
        elif isinstance(item, tuple):
            stack.extend(item)
    return seen


def test_golden_inputs_use_every_construct() -> None:
    used: set[type[ast.Node]] = set()
    for path in golden_inputs():
        policy = parse(path.read_text(encoding="utf-8"))
        assert policy is not None
        used |= node_classes(policy)
    assert set(ast.NODE_CLASSES) - used == set()


# ------------------------------------------------------------------------------- real files


def real_files() -> list[Path]:
    """Every policy in policies/ and tests/data/ that parses cleanly; the set grows as files are added."""
    files = sorted(POLICIES.glob("**/*.policy")) + sorted(DATA.glob("**/*.policy"))
    clean = []
    for path in files:
        sink = Sink()
        try:
            load_bytes(str(path), path.read_bytes(), sink)
        except OSError:  # removed while the tests were collected
            continue
        if not sink.has_errors:
            clean.append(path)
    return clean


@pytest.mark.parametrize("path", real_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_real_file_round_trips(path: Path) -> None:
    assert_round_trip(path.read_bytes().decode("utf-8-sig"))


# ------------------------------------------------------------------------------- layout rules


def test_keywords_follow_the_first_keyword() -> None:
    text = '政策 "t" { issuer "x" }\nfact a: money\nmeasure m { award 5万 if a >= 1万 and a 10万 以上 }\n'
    out = assert_round_trip(text)
    assert out == (
        '政策 "t" {\n  发文机关 "x"\n}\n\n事实 a: money\n\n'
        "措施 m {\n  给予 5万 如 a >= 1万 且 a 10万以上\n}\n"
    )
    english = assert_round_trip("# 注释\nfact a: money\n措施 m { 给予 5万 }\n")
    assert english == "# 注释\nfact a: money\n\nmeasure m {\n  award 5万\n}\n"


def test_whole_blocks_keep_the_keyword_language_and_a_plain_zero() -> None:
    text = '政策 "t" {}\n事实 a: money\n措施 m { 给予 10万*每满(a-1000万,100万)+向下取整(取大(a,0),1万) }\n'
    out = assert_round_trip(text)
    assert "给予 10万 * 每满(a - 1000万, 100万) + 向下取整(取大(a, 0), 1万)\n" in out
    out = assert_round_trip("fact a: money\nmeasure m { award 10万 * blocks(a, 100万) + round_down(a, 1万) }")
    assert "award 10万 * blocks(a, 100万) + round_down(a, 1万)\n" in out


def test_statutory_words_and_amounts_stay_as_written() -> None:
    text = "fact r: money\nassume r 超过2000万 and r 10亿元以上 and r ≥ 1.5亿 and r < 200000元 and r 满 3千\n"
    out = assert_round_trip(text)
    assert "assume r 超过 2000万 and r 10亿元以上 and r ≥ 1.5亿 and r < 200000元 and r 满 3千\n" in out


def test_full_width_punctuation_is_folded() -> None:
    out = assert_round_trip('enum 级别 ｛ 国家级 "国家级（一）"， 省级 ｝\nfact x： money >＝ ０\n')
    assert out == 'enum 级别 { 国家级 "国家级（一）", 省级 }\n\nfact x: money >= 0\n'


def test_brackets_only_where_the_grammar_needs_them() -> None:
    out = assert_round_trip(
        "fact a: money\nfact b: money\nassume ((a + b) * 2 - (a - (b - a))) >= -(-a) "
        "and not (a > b or (b > a implies a > b))\n"
    )
    assert "assume (a + b) * 2 - (a - (b - a)) >= --a and not (a > b or (b > a implies a > b))\n" in out


def test_a_name_after_a_unitless_type_keeps_its_brackets() -> None:
    # without the brackets `other` would read as the unit of a count type
    out = assert_round_trip("fact other: money\nfact x: money (other) 以上\nfact y: count 家 (other) 以上\n")
    assert "fact x: money (other) 以上\n" in out
    assert "fact y: count 家 other 以上\n" in out


def test_long_tables_break_one_entry_a_line() -> None:
    entries = ", ".join(f"level_{i}: {i}00万" for i in range(12))
    out = assert_round_trip(
        f"enum lv {{ {', '.join(f'level_{i}' for i in range(12))} }}\n"
        f"fact l: lv\nmeasure m {{ award by l {{ {entries} }} }}\n"
    )
    assert "  award by l {\n    level_0: 000万,\n" in out
    assert "    level_11: 1100万,\n  }\n}\n" in out
    assert max(display_width(line) for line in out.splitlines()) <= WIDTH


def test_width_counts_chinese_characters_twice() -> None:
    # 40 Chinese characters are 80 columns: with the rest of the line that passes 100
    label = "专" * 40
    text = f'enum e "{label}" {{ a, b, c, d }}\n'
    assert fmt(text) == f'enum e "{label}" {{\n  a,\n  b,\n  c,\n  d,\n}}\n'
    short = "专" * 30
    assert fmt(f'enum e "{short}" {{ a, b, c, d }}\n') == f'enum e "{short}" {{ a, b, c, d }}\n'


def test_header_keeps_its_lines_in_order_and_moves_first() -> None:
    text = (
        'kind a\npolicy "t" {\n  source "s.txt"\n  issued unset\n  valid from unset until 2025年12月31日\n}\n'
    )
    out = assert_round_trip(text)
    assert out == (
        'policy "t" {\n  source "s.txt"\n  issued unset\n  valid from unset until 2025-12-31\n}\n\nkind a\n'
    )


def test_blank_lines_between_blocks_and_kinds_of_declaration() -> None:
    text = (
        "kind a\nkind b\nfact x: money\n\n\n\nfact y: money\nfact z: money\n"
        'measure m { award 1万 }\nexample "e" { given {} }\n'
    )
    out = assert_round_trip(text)
    assert out == (
        "kind a\nkind b\n\nfact x: money\n\nfact y: money\nfact z: money\n\n"
        'measure m {\n  award 1万\n}\n\nexample "e" {\n  given {}\n}\n'
    )


def test_files_without_items() -> None:
    assert fmt("") == ""
    assert fmt("  \n\n") == ""
    assert assert_round_trip("# a\n\n\n# b") == "# a\n\n# b\n"


def test_line_breaks_tabs_and_a_missing_final_newline() -> None:
    out = assert_round_trip("kind\ta  # c\r\nmeasure\tm {\r\n\taward 5万\r\n}")
    assert out == "kind a  # c\n\nmeasure m {\n  award 5万\n}\n"


def test_strings_are_quoted_again() -> None:
    out = assert_round_trip('kind a "say \\"hi\\" \\\\ now\\tthen\\nend"\n')
    assert out == 'kind a "say \\"hi\\" \\\\ now\\tthen\\nend"\n'


# ------------------------------------------------------------------------------- comments


def test_comments_keep_their_places() -> None:
    text = (
        "# banner\n\n"
        "fact a: money   # trailing\n"
        "# before b\n"
        "fact b: money\n"
        "measure m { # after the brace\n"
        "  # before the clause\n"
        "  award 5万    # on the clause\n"
        "  # before the closing brace\n"
        "}  # after the block\n"
        "# at the end\n"
    )
    out = assert_round_trip(text)
    assert out == (
        "# banner\n\n"
        "fact a: money  # trailing\n"
        "# before b\n"
        "fact b: money\n\n"
        "measure m {  # after the brace\n"
        "  # before the clause\n"
        "  award 5万  # on the clause\n"
        "  # before the closing brace\n"
        "}  # after the block\n"
        "# at the end\n"
    )


def test_a_comment_inside_an_expression_moves_before_its_statement() -> None:
    text = "fact a: money\nmeasure m {\n  award 50% *   # why half\n    a cap 100万  # the cap\n}\n"
    out = assert_round_trip(text)
    assert out == "fact a: money\n\nmeasure m {\n  # why half\n  award 50% * a cap 100万  # the cap\n}\n"


def test_comments_between_list_entries_break_the_list() -> None:
    text = "enum e { a, # first\n b # second\n }\nenum f {\n # lead\n x }\n"
    out = assert_round_trip(text)
    assert out == "enum e {\n  a,  # first\n  b,  # second\n}\n\nenum f {\n  # lead\n  x,\n}\n"


def test_a_comment_on_the_closing_line_of_a_flat_list_stays_flat() -> None:
    out = assert_round_trip('example "e" {\n  given { a: 1, b: 2 }  # both\n}\n')
    assert out == 'example "e" {\n  given { a: 1, b: 2 }  # both\n}\n'


# ------------------------------------------------------------------------------- generated sources

_RESERVED = (
    all_spellings()
    | set(TYPE_NAMES)
    | set(PAYMENT_FORMS)
    | set(ROUNDING_UNITS)
    | set(ROUNDING_MODES)
    | set(COMBINE_MODES)
    | set(ALLOCATIONS)
)
_NAMES = [
    n
    for n in ("a", "rev", "x_1", "Level2", "投资额", "营收", "国家级", "满意度", "超额")
    if n not in _RESERVED
]
_MONEY = ["50万", "1.5亿", "200000元", "3千", "100万元", "0"]
_LITERALS = [*_MONEY, "50%", "3‰", "1:1", "1.5:2", "3000家", "2000万条", "5万/家", "100元/人", "1年", "6个月",
             "30天", "12", "1.5", "1e3", "2021-05-16", "2021年5月16日"]  # fmt: skip
_DATES = ["2021-05-16", "2021-1-1", "2021年5月16日", "1999-12-31"]
_PARTIAL_DATES = ["2022-*-*", "2022年*月*日", "2022-05-*", "2022年5月*日"]
_STRING_CHARS = st.sampled_from([*"ab 第八条（一）{}#:,", "，", "Ａ", "＃", '\\"', "\\\\", "\\n", "\u3000"])
_FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


class _Source:
    """Writes random valid policy text: the grammar's rules in either keyword language, with
    random spacing, line breaks, full-width punctuation and comments wherever spaces may stand."""

    def __init__(self, draw: Callable[[st.SearchStrategy[object]], object], lang: str) -> None:
        self.draw = draw
        self.lang = lang

    def pick(self, options: list[str]) -> str:
        return str(self.draw(st.sampled_from(options)))

    def flip(self, p: float = 0.5) -> bool:
        return bool(self.draw(st.floats(0, 1)) < p)

    def kw(self, name: str) -> str:
        english, chinese = KEYWORDS[name]
        if self.lang == "mixed":
            return chinese if self.flip() else english
        return chinese if self.lang == "zh" else english

    def sep(self) -> str:
        choice = self.pick([" ", " ", " ", "  ", "\n", "\n\n  ", "\t", "\u3000", "comment"])
        if choice != "comment":
            return choice
        text = "".join(
            str(self.draw(_STRING_CHARS)).replace("\\", "") for _ in range(int(self.draw(st.integers(0, 6))))
        )
        return f"  # {text}\n"

    def punct(self, char: str) -> str:
        return _FULL[char] if self.flip(0.15) else char

    def j(self, *parts: str) -> str:
        out = ""
        for part in parts:
            if part:
                out = part if not out else out + self.sep() + part
        return out

    def maybe(self, part: Callable[[], str]) -> str:
        return part() if self.flip() else ""

    def name(self) -> str:
        return self.pick(_NAMES)

    def string(self) -> str:
        text = "".join(str(self.draw(_STRING_CHARS)) for _ in range(int(self.draw(st.integers(0, 5)))))
        if self.flip(0.1):
            text += "给予最高一千万元的奖励" * int(self.draw(st.integers(1, 8)))  # long labels break lines
        return f'"{text}"'

    def cite(self) -> str:
        return self.j(self.kw("cite"), self.string())

    def listed(self, item: Callable[[], str], at_least: int = 1, trailing: bool = True) -> str:
        items = [item() for _ in range(int(self.draw(st.integers(at_least, 3))))]
        out = ""
        for i, it in enumerate(items):
            out = it if i == 0 else self.j(out + self.punct(","), it)
        if items and trailing and self.flip(0.3):
            out += self.punct(",")
        return out

    def braces(self, inner: str) -> str:
        return self.j(self.punct("{"), inner, self.punct("}"))

    # ------------------------------------------------------------------ expressions
    def expr(self, level: int = 0, depth: int = 3) -> str:
        if depth <= 0 or level >= 8:
            return self.atom(depth)
        if self.flip(0.6):
            return self.expr(level + 1, depth)
        d = depth - 1
        match level:
            case 0:
                return self.j(self.expr(1, d), self.kw("implies"), self.expr(1, d))
            case 1:
                return self.j(self.expr(1, d), self.kw("or"), self.expr(2, d))
            case 2:
                return self.j(self.expr(2, d), self.kw("and"), self.expr(3, d))
            case 3:
                return self.j(self.kw("not"), self.expr(3, d))
            case 4:
                if self.flip(0.2):
                    names = self.listed(self.name, trailing=True)
                    return self.j(self.expr(5, d), self.kw("in"), self.punct("[") + names + self.punct("]"))
                return self.j(self.expr(5, d), self.tail(d))
            case 5:
                return self.j(self.expr(5, d), self.pick(["+", "-"]), self.expr(6, d))
            case 6:
                return self.j(self.expr(6, d), self.pick(["*", "/", "×", "÷"]), self.expr(7, d))
            case _:
                return "-" + self.expr(7, d)

    def tail(self, depth: int) -> str:
        kind = self.pick(["symbol", "prefix", "postfix"])
        if kind == "symbol":
            return self.j(self.pick([">=", "≥", ">", "<=", "≤", "<", "==", "!=", "≠"]), self.expr(5, depth))
        if kind == "prefix":
            word = self.pick(["超过", "不满", "达到", "不低于", "届满", "满", "不超过", "低于"])
            if self.flip(0.3):
                return word + self.pick(_LITERALS[:3])  # glued: `超过2000万`
            return self.j(word, self.expr(5, depth))
        word = self.pick(["以上", "及以上", "或以上", "以下", "及以下", "以内"])
        if self.flip(0.3):
            return self.pick(_MONEY) + word  # glued: `10亿元以上`
        return self.j(self.operand(depth), word)

    def operand(self, depth: int) -> str:
        if depth > 0 and self.flip(0.3):
            return self.j(self.operand(depth - 1), self.pick(["*", "/"]), self.expr(7, depth - 1))
        return self.atom(depth)

    def atom(self, depth: int) -> str:
        options = ["literal", "name", "bool"] + (
            ["min", "since", "table", "band", "paren"] if depth > 0 else []
        )
        kind = self.pick(options)
        d = depth - 1
        if kind == "literal":
            lit = self.pick(_LITERALS)
            return "".join(_FULL.get(c, c) for c in lit) if self.flip(0.1) else lit
        if kind == "name":
            return self.name() if self.flip(0.8) else f"{self.name()}.{self.name()}"
        if kind == "bool":
            return self.kw(self.pick(["true", "false"]))
        if kind == "min":
            args = self.listed(lambda: self.expr(0, d))
            return self.kw(self.pick(["min", "max"])) + self.punct("(") + args + self.punct(")")
        if kind == "since":
            return self.kw("since") + self.j(self.punct("("), self.expr(0, d), self.punct(")"))
        if kind == "table":

            def row() -> str:
                key = self.kw("otherwise") if self.flip(0.2) else self.name()
                return self.j(key + self.punct(":"), self.value(d))

            return self.j(self.kw("by"), self.name(), self.braces(self.listed(row)))
        if kind == "band":

            def band() -> str:
                if self.flip(0.2):
                    cond = self.kw("otherwise")
                else:
                    cond = self.tail(d)
                    if self.flip(0.3):
                        cond = self.j(cond, self.kw("and"), self.tail(d))
                return self.j(cond, self.punct(":"), self.value(d))

            return self.j(self.kw("band"), self.atom(d), self.braces(self.listed(band)))
        return self.j(self.punct("("), self.expr(0, d), self.punct(")"))

    def value(self, depth: int) -> str:
        return self.kw("unset") if self.flip(0.15) else self.expr(0, depth)

    # ------------------------------------------------------------------ declarations
    def header(self) -> str:
        lines = {
            "issuer": lambda: self.j(self.kw("issuer"), self.string()),
            "docno": lambda: self.j(self.kw("docno"), self.string()),
            "issued": lambda: self.j(
                self.kw("issued"), self.kw("unset") if self.flip(0.2) else self.header_date()
            ),
            "valid": lambda: self.j(
                self.kw("valid"),
                self.kw("from"),
                self.header_date() if self.flip() else self.kw(self.pick(["issued", "unset"])),
                self.pick(
                    [
                        self.j(self.kw("until"), self.header_date()),
                        self.j(self.kw("lasting"), self.pick(["3年", "6个月", "30天"])),
                        "",  # open validity: no end
                    ]
                ),
            ),
            "source": lambda: self.j(self.kw("source"), self.string()),
            "rounding": lambda: self.j(
                self.kw("rounding"), self.pick(["fen", "元"]), self.pick(["half_up", "舍去"])
            ),
            "cite": self.cite,
        }
        keys = self.draw(st.lists(st.sampled_from(sorted(lines)), unique=True, max_size=7))
        assert isinstance(keys, list)
        return self.j(self.kw("policy"), self.string(), self.braces(self.j(*(lines[k]() for k in keys))))

    def header_date(self) -> str:
        """An exact date, or one known only to the year or month (2022-*-*, 2022年5月*日)."""
        return self.pick(_DATES) if self.flip(0.7) else self.pick(_PARTIAL_DATES)

    def type_ref(self) -> str:
        if self.flip(0.3):
            return self.j(self.pick(["count", "数量"]), self.pick(["家", "人"]))
        return self.pick(["money", "金额", "percent", "date", "bool", "duration", "number", "lv"])

    def item(self) -> str:
        kind = self.pick(
            ["kind", "enum", "fact", "param", "assume", "eligibility", "measure", "combine", "total_cap",
             "acknowledge", "example"]
        )  # fmt: skip
        kw, j, maybe = self.kw, self.j, self.maybe
        if kind == "kind":
            return j(kw("kind"), self.name(), maybe(self.string))
        if kind == "enum":
            member = lambda: j(self.name(), maybe(self.string))  # noqa: E731
            return j(kw("enum"), self.name(), maybe(self.string), self.braces(self.listed(member)))
        if kind == "fact":
            bounds = j(*(self.tail(1) for _ in range(int(self.draw(st.integers(0, 2))))))
            return j(kw("fact"), self.name(), maybe(self.string), self.punct(":"), self.type_ref(), bounds)
        if kind == "param":
            head = j(kw("param"), self.name(), maybe(self.string), self.punct(":"), self.type_ref())
            if self.flip():
                return j(head, self.punct("="), self.value(2), maybe(self.cite))
            versions = j(
                *(
                    j(kw("from"), self.pick(_DATES), self.punct("="), self.value(2), maybe(self.cite))
                    for _ in range(int(self.draw(st.integers(1, 3))))
                )
            )
            return j(head, self.braces(versions))
        if kind == "assume":
            return j(kw("assume"), self.expr(), maybe(self.string))
        if kind == "eligibility":
            return j(
                kw("eligibility"),
                self.braces(j(*(self.requirement() for _ in range(int(self.draw(st.integers(0, 2))))))),
            )
        if kind == "measure":
            items = j(*(self.measure_item() for _ in range(int(self.draw(st.integers(0, 4))))))
            return j(kw("measure"), self.name(), maybe(self.string), maybe(self.cite), self.braces(items))
        if kind == "combine":
            mode = self.pick(["added", "highest", "就高"])
            return j(
                kw("combine"), mode, self.braces(self.listed(self.name)), maybe(self.cite), maybe(self.string)
            )
        if kind == "total_cap":
            return j(
                kw("total_cap"),
                self.expr(0, 2),
                kw("over"),
                self.braces(self.listed(self.name)),
                maybe(self.cite),
            )
        if kind == "acknowledge":
            target = lambda: self.name() if self.flip() else f"{self.name()}.{self.name()}"  # noqa: E731
            return j(
                kw("acknowledge"),
                self.pick(["P201", "W108"]),
                self.braces(self.listed(target)),
                self.string(),
            )

        def binding() -> str:
            return j(self.name() + self.punct(":"), self.string() if self.flip(0.2) else self.expr(0, 2))

        # an example may extend a base (`from`/`基于`), leave out `given` then, and set parameters
        base = j(kw(self.pick(["from", "based_on"])), self.string()) if self.flip(0.3) else ""
        given_block = j(kw("given"), self.braces(self.listed(binding, at_least=0)))
        if base and self.flip():
            given_block = ""
        with_block = j(kw("with"), self.braces(self.listed(binding, at_least=0))) if self.flip(0.2) else ""
        date = j(kw("on"), self.pick(_DATES)) if self.flip() else ""
        if self.flip(0.15):
            return j(kw("base"), self.string(), base, date, self.braces(j(given_block, with_block)))
        expectations = j(*(self.expectation() for _ in range(int(self.draw(st.integers(0, 3))))))
        return j(
            kw("example"), self.string(), base, date, self.braces(j(given_block, with_block, expectations))
        )

    def requirement(self) -> str:
        return self.j(self.kw("require"), self.expr(), self.maybe(self.string), self.maybe(self.cite))

    def expectation(self) -> str:
        target = self.kw("total") if self.flip(0.2) else self.name()
        kind = self.pick(["amount", "ceiling", "undetermined", "ineligible"])
        if kind == "amount":
            return self.j(self.kw("expect"), target, self.punct("="), self.expr(0, 2))
        if kind == "ceiling":
            return self.j(self.kw("expect"), target, self.kw("ceiling"), self.expr(0, 2))
        return self.j(self.kw("expect"), target, self.kw(kind))

    def measure_item(self) -> str:
        kind = self.pick(
            ["applicants", "pays", "require", "award", "award", "bonus", "exclude", "prefer", "funding_limit",
             "quota", "group_cap", "budget", "instalment", "no_clawback"]
        )  # fmt: skip
        kw, j, maybe = self.kw, self.j, self.maybe
        if kind in ("applicants", "pays"):
            return j(kw(kind), self.listed(self.name, trailing=False))
        if kind == "require":
            return self.requirement()
        if kind in ("award", "bonus"):
            name = maybe(lambda: j(self.name(), maybe(self.string)) + self.punct(":"))
            exception = maybe(lambda: j(kw("exception"), self.name(), maybe(lambda: j(kw("priority"), "2"))))
            mode = self.pick(["ceiling", "determined", "unset"])
            amount = (
                j(kw("ceiling"), self.expr(0, 2))
                if mode == "ceiling"
                else kw("unset")
                if mode == "unset"
                else self.expr(0, 2)
            )
            caps = j(*(j(kw("cap"), self.expr(0, 2)) for _ in range(int(self.draw(st.integers(0, 2))))))
            conds = j(
                *(
                    j(kw(self.pick(["if", "unless"])), self.expr(0, 2))
                    for _ in range(int(self.draw(st.integers(0, 2))))
                )
            )
            return j(kw(kind), name, exception, amount, caps, conds, maybe(self.cite))
        if kind in ("exclude", "prefer"):
            return j(kw(kind), self.expr(), maybe(self.string), maybe(self.cite))
        if kind == "funding_limit":
            return j(kw(kind), self.expr(0, 2), kw("counting"), self.name(), maybe(self.cite))
        if kind == "quota":
            return j(
                kw(kind),
                self.pick(["3", "30", "5家"]),
                maybe(lambda: j(kw("rank"), self.expr(0, 2))),
                maybe(self.cite),
            )
        if kind == "group_cap":
            allocate = maybe(lambda: j(kw("allocate"), self.pick(["proportional", "按比例"])))
            return j(kw(kind), self.expr(0, 2), kw("per"), self.name(), allocate, maybe(self.cite))
        if kind == "budget":
            return j(kw(kind), self.expr(0, 2), maybe(self.cite))
        if kind == "instalment":
            share = kw("rest") if self.flip(0.3) else self.expr(0, 1)
            head = j(kw(kind), self.name(), maybe(self.string)) + self.punct(":")
            return j(head, share, kw("if"), self.expr(0, 2), maybe(self.cite))
        return j(kw("no_clawback"), maybe(self.cite))

    def policy(self) -> str:
        parts = [self.item() for _ in range(int(self.draw(st.integers(0, 5))))]
        if self.flip(0.7):
            at = int(self.draw(st.integers(0, len(parts))))
            parts.insert(at, self.header())
        lead = self.sep() if self.flip(0.3) else ""
        return lead + self.j(*parts) + self.sep()


@st.composite
def policy_sources(draw: st.DrawFn) -> str:
    lang = draw(st.sampled_from(["en", "zh", "mixed"]))
    return _Source(draw, lang).policy()  # type: ignore[arg-type]


_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(policy_sources())
def test_generated_sources_round_trip(text: str) -> None:
    assume(parse(text) is not None)
    assert_round_trip(text)


def test_examples_extending_a_base_round_trip_in_both_languages() -> None:
    english = (
        'base_applicant "典型" on 2021-06-01 { given { a: 1 } with { p: 2 } }\n'
        'example "e" from "典型" { expect m = 1万 }\n'
        'example "f" based_on "e" on 2022-01-01 { with { p: 3 } expect m = 2万 }\n'
    )
    out = assert_round_trip(english)
    assert out == (
        'base_applicant "典型" on 2021-06-01 {\n  given { a: 1 }\n  with { p: 2 }\n}\n\n'
        'example "e" from "典型" {\n  expect m = 1万\n}\n\n'
        'example "f" from "e" on 2022-01-01 {\n  with { p: 3 }\n  expect m = 2万\n}\n'
    )
    chinese = '基准主体 "典型" { 已知 { a: 1 } }\n示例 "e" 自 "典型" { 设定 { p: 2 } 预期 m = 1万 }\n'
    out = assert_round_trip(chinese)
    assert out == (
        '基准主体 "典型" {\n  已知 { a: 1 }\n}\n\n'
        '示例 "e" 基于 "典型" {\n  设定 { p: 2 }\n  预期 m = 1万\n}\n'
    )


def test_the_generator_writes_valid_policies() -> None:
    """The source generator is worth its name: most of what it writes parses."""
    samples: list[str] = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(policy_sources())
    def collect(text: str) -> None:
        samples.append(text)

    collect()
    valid = sum(parse(text) is not None for text in samples)
    assert valid >= 0.9 * len(samples), [t for t in samples if parse(t) is None][:3]


# ------------------------------------------------------------------------------- generated ASTs

_SPAN = SourceFile("x", "").span(0, 0)  # spans take no part in AST equality


def _literal(text: str) -> ast.Expr:
    policy = parse(f"assume {text}")
    assert policy is not None and isinstance(policy.items[0], ast.Assume)
    return policy.items[0].cond


_LEAVES = [_literal(t) for t in [*_LITERALS, "true", "false"]] + [
    ast.Name(_SPAN, (n,)) for n in ("a", "b", "营收")
]
_POSTFIX = ["以上", "或以上", "以下", "以内"]
_PREFIX = {
    ">=": ">=",
    "≥": ">=",
    ">": ">",
    "<": "<",
    "==": "==",
    "!=": "!=",
    "超过": ">",
    "不满": "<",
    "满": ">=",
}


def _exprs() -> st.SearchStrategy[ast.Expr]:
    def extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        s = _SPAN
        ident = st.sampled_from([ast.Ident(s, "a"), ast.Ident(s, "国家级")])
        value = st.one_of(inner, st.just(ast.Unset(s)))
        return st.one_of(
            st.builds(lambda a, b: ast.Implies(s, a, b), inner, inner),
            st.builds(lambda a, b: ast.Or(s, a, b), inner, inner),
            st.builds(lambda a, b: ast.And(s, a, b), inner, inner),
            st.builds(lambda e: ast.Not(s, e), inner),
            st.builds(lambda e: ast.Negate(s, e), inner),
            st.builds(
                lambda sym, a, b: ast.BinOp(s, {"×": "*", "÷": "/"}.get(sym, sym), a, b, sym),
                st.sampled_from(["+", "-", "*", "/", "×", "÷"]),
                inner,
                inner,
            ),
            st.builds(
                lambda w, a, b: ast.Compare(s, _PREFIX[w], a, b, w, False),
                st.sampled_from(sorted(_PREFIX)),
                inner,
                inner,
            ),
            st.builds(
                lambda w, a, b: ast.Compare(s, ">=" if "上" in w else "<=", a, b, w, True),
                st.sampled_from(_POSTFIX),
                inner,
                inner,
            ),
            st.builds(lambda e: ast.Member(s, e, (ast.Ident(s, "a"), ast.Ident(s, "b"))), inner),
            st.builds(
                lambda f, args: ast.Call(s, f, tuple(args)),
                st.sampled_from(["min", "max", "blocks", "round_down"]),
                st.lists(inner, min_size=1, max_size=3),
            ),
            st.builds(lambda e: ast.Call(s, "since", (e,)), inner),
            st.builds(
                lambda subject, rows: ast.Table(s, subject, tuple(ast.TableEntry(s, k, v) for k, v in rows)),
                ident,
                st.lists(st.tuples(st.one_of(st.none(), ident), value), min_size=1, max_size=3),
            ),
            st.builds(
                lambda subject, rows: ast.Band(
                    s,
                    subject,
                    tuple(
                        ast.BandEntry(s, None if w is None else (ast.Bound(s, _PREFIX[w], b, w, False),), v)
                        for w, b, v in rows
                    ),
                ),
                inner,
                st.lists(
                    st.tuples(st.one_of(st.none(), st.sampled_from(sorted(_PREFIX))), inner, value),
                    min_size=1,
                    max_size=2,
                ),
            ),
        )

    return st.recursive(st.sampled_from(_LEAVES), extend, max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(_exprs(), st.booleans())
def test_printed_expressions_parse_back_to_themselves(expr: ast.Expr, chinese: bool) -> None:
    policy = ast.Policy(_SPAN, None, (ast.Assume(_SPAN, expr, None),), chinese, ())
    text = format_policy(policy, SourceFile("x", ""))
    parsed = parse(text)
    assert parsed is not None, text
    assert parsed.items == policy.items, text


# ------------------------------------------------------------------------------- the command


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["fmt", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


MESSY = "fact  a :money\nmeasure m{award 5万 if a>=1万}\n"
NEAT = "fact a: money\n\nmeasure m {\n  award 5万 if a >= 1万\n}\n"


def test_fmt_rewrites_only_files_that_change(tmp_path: Path) -> None:
    messy, neat = tmp_path / "messy.policy", tmp_path / "neat.policy"
    messy.write_text(MESSY, encoding="utf-8")
    neat.write_text(NEAT, encoding="utf-8")
    before = neat.stat().st_mtime_ns
    code, out, err = run(str(messy), str(neat))
    assert code == 0
    assert messy.read_text(encoding="utf-8") == NEAT
    assert neat.stat().st_mtime_ns == before
    assert f"reformatted {messy}" in err
    assert str(neat) not in err
    assert "1 file reformatted, 1 file left unchanged" in err
    assert out == ""


def test_fmt_check_names_files_and_writes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.policy"
    messy.write_text(MESSY, encoding="utf-8")
    code, _, err = run("--check", str(messy))
    assert code == 1
    assert f"would reformat {messy}" in err
    assert "1 file would be reformatted" in err
    assert messy.read_text(encoding="utf-8") == MESSY
    messy.write_text(NEAT, encoding="utf-8")
    code, _, err = run("--check", str(messy))
    assert code == 0
    assert "1 file already formatted" in err


def test_fmt_diff_prints_a_unified_diff(tmp_path: Path) -> None:
    messy = tmp_path / "messy.policy"
    messy.write_text(MESSY, encoding="utf-8")
    code, out, _ = run("--diff", str(messy))
    assert code == 0
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ ")
    assert "\n-fact  a :money\n-measure m{award 5万 if a>=1万}\n+fact a: money\n+\n+measure m {\n" in out
    assert messy.read_text(encoding="utf-8") == MESSY
    code, out, _ = run("--diff", "--check", str(messy))
    assert code == 1


def test_fmt_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    broken, messy = tmp_path / "broken.policy", tmp_path / "messy.policy"
    broken.write_text("fact a money\n", encoding="utf-8")
    messy.write_text(MESSY, encoding="utf-8")
    code, _, err = run(str(broken), str(messy))
    assert code == 1
    assert broken.read_text(encoding="utf-8") == "fact a money\n"
    assert re.search(rf"{re.escape(str(broken))}:1:8: error\[E001\]", err)
    assert "   1 | fact a money\n" in err
    assert messy.read_text(encoding="utf-8") == NEAT  # the other files are still formatted
    assert "1 file could not be formatted" in err


def test_fmt_rewrites_a_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.policy"
    path.write_bytes(b"\xef\xbb\xbf" + NEAT.replace("\n", "\r\n").encode("utf-8"))
    code, _, err = run(str(path))
    assert code == 0
    assert path.read_bytes() == NEAT.encode("utf-8")
    assert f"reformatted {path}" in err


def test_fmt_reports_a_missing_file_as_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope.policy"))
    assert code == 2
    assert "does not exist" in err


def test_fmt_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run()[0] == 2
    assert run("--bogus", "x.policy")[0] == 2
    assert run(str(tmp_path))[0] == 2


def test_fmt_reads_stdin_and_writes_stdout() -> None:
    code, out, _ = run("-", stdin=MESSY)
    assert code == 0
    assert out == NEAT
    code, out, err = run("--check", "-", stdin=MESSY)
    assert code == 1
    assert out == ""
    assert "would reformat -" in err


def test_fmt_keeps_type_errors_but_formats() -> None:
    code, out, _ = run("-", stdin="measure m{award 5万 if unknown>=1万}\n")
    assert code == 0
    assert out == "measure m {\n  award 5万 if unknown >= 1万\n}\n"


def test_policy_wide_combination_and_shared_limits_keep_the_keyword_language() -> None:
    text = (
        '政策 "t" {}\n事实 a: money\n事实 f: money\n措施 m { 给予 5万 }\n'
        "措施 n { 给予 10万\n 资助总额上限 50%*a 计入 f,m }\n合并 就高 {全部}\n合并 叠加 { m , n }\n"
    )
    out = assert_round_trip(text)
    assert "  资助总额上限 50% * a 计入 f, m\n" in out
    assert "合并 就高 { 全部 }\n合并 叠加 { m, n }\n" in out
    english = assert_round_trip('fact a: money\nmeasure m { award 5万 }\ncombine added { all } cite "3"')
    assert 'combine added { all } cite "3"\n' in english


def test_combination_against_other_documents_keeps_the_keyword_language() -> None:
    text = (
        '政策 "t" {}\n事实 o: money\n措施 m { 给予 5万 }\n'
        '合并 就高 与其他政策 o {全部}\n合并 互斥 与其他政策 o { m } 依据 "3"\n'
    )
    out = assert_round_trip(text)
    assert '合并 就高 与其他政策 o { 全部 }\n合并 互斥 与其他政策 o { m } 依据 "3"\n' in out
    english = assert_round_trip(
        'fact o: money\nmeasure m { award 5万 }\ncombine highest against o {m} "就高"'
    )
    assert 'combine highest against o { m } "就高"\n' in english
