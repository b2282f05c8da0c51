"""The Pygments lexer: what the parser reads is coloured without an error, cut as the parser cuts it."""

from __future__ import annotations

import re
from pathlib import Path

import lark
import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String, _TokenType

from policydsl.syntax import parser
from policydsl.syntax.highlight import FULLWIDTH, TERMINALS, PolicyLexer
from policydsl.syntax.keywords import KEYWORDS, chinese_keywords
from tests.conftest import DATA, POLICIES

BUNDLED = sorted(POLICIES.glob("*.policy"))


def _parses(path: Path) -> bool:
    try:
        parser._parser().parse(parser.normalize(path.read_text(encoding="utf-8")))
    except (lark.exceptions.UnexpectedInput, UnicodeDecodeError):
        return False
    return True


# The test files written with Chinese keywords that the parser reads (the others hold syntax mistakes
# on purpose: a curly quote is an error token there, as it is an error to the parser).
CHINESE = [
    p
    for p in sorted(DATA.rglob("*.policy"))
    if chinese_keywords(p.read_text(encoding="utf-8", errors="replace")) and _parses(p)
]


def _tokens(text: str) -> list[tuple[int, _TokenType, str]]:
    return list(PolicyLexer().get_tokens_unprocessed(text))


def test_the_chinese_test_files_are_found() -> None:
    names = {p.name for p in CHINESE}
    assert {"findings_zh.policy", "zh_type_mistakes.policy", "messy_chinese.policy"} <= names


@pytest.mark.parametrize("path", BUNDLED + CHINESE, ids=lambda p: p.name)
def test_every_policy_is_coloured_without_an_error_token(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    errors = [(at, value) for at, token, value in _tokens(text) if token in Error]
    assert errors == []
    assert "".join(value for _, _, value in _tokens(text)) == text


# What the parser's terminals may be coloured as: a name may be a keyword where the grammar reads the
# word as a name (`allocate unset`), never a number, a string or an error.
ALLOWED = {
    "NAME": (Name, Keyword, Operator.Word),
    "QUANTITY": (Number,),
    "RATIO": (Number,),
    "DATE": (Literal.Date,),
    "PARTIAL_DATE": (Literal.Date,),
    "STRING": (String,),
}


@pytest.mark.parametrize("path", BUNDLED + CHINESE, ids=lambda p: p.name)
def test_the_lexer_cuts_words_where_the_parser_does(path: Path) -> None:
    """Every name, number, date and string of the parse is one token of the lexer, of its kind."""
    text = parser.normalize(path.read_text(encoding="utf-8"))
    coloured = {at: (token, value) for at, token, value in _tokens(text)}
    tree = parser._parser().parse(text)
    seen = 0
    for terminal in tree.scan_values(lambda v: isinstance(v, lark.Token)):
        if terminal.type not in ALLOWED:
            continue
        seen += 1
        assert terminal.start_pos in coloured, (terminal.type, terminal.line, str(terminal))
        token, value = coloured[terminal.start_pos]
        assert value == str(terminal), (terminal.line, value, str(terminal))
        assert any(token in kind for kind in ALLOWED[terminal.type]), (terminal.line, value, token)
    assert seen > 0


def test_the_terminals_read_as_the_grammars() -> None:
    """The lexer's copies of the grammar's terminals match what the parser's match."""
    grammar = {t.name: t.pattern.to_regexp() for t in parser._parser().terminals}
    samples = {
        "QUANTITY": [
            "50万",
            "1.5亿",
            "3个百分点",
            "5万/家",
            "100元/亩",
            "50标准箱",
            "10亿元",
            "6个月",
            "12.5亩",
        ],
        "DATE": ["2021-05-16", "2021年5月16日"],
        "PARTIAL_DATE": ["2022-*-*", "2022-05-*", "2022年*月*日"],
        "RATIO": ["1:1", "1.5:2"],
        "NAME": ["营业收入", "revenue_2", "国家级A类"],
        "STRING": ['"三(二)1"', '"a\\"b"'],
        "COMMENT": ["# 注释"],
    }
    for name, pattern in TERMINALS.items():
        for sample in samples[name]:
            for probe in (sample, sample + "以上", sample + "如", sample + " x", sample + "0"):
                ours = re.match(pattern, probe)
                theirs = re.match(grammar[name], probe)
                assert (ours and ours.group(0)) == (theirs and theirs.group(0)), (name, probe)


def test_full_width_folding_is_the_parsers() -> None:
    assert dict(parser._FULLWIDTH) == FULLWIDTH


def _types(text: str) -> dict[str, _TokenType]:
    return {value: token for _, token, value in _tokens(text) if value.strip()}


def test_both_spellings_colour_alike() -> None:
    english = _types(
        'measure platform "平台" cite "四.1" {\n  award national: 30% * fees cap 50万 if a and not b\n}\n'
    )
    chinese = _types(
        '措施 platform "平台" 依据 "四.1" {\n  给予 national: 30% * fees 封顶 50万 如 a 且 非 b\n}\n'
    )
    for en, zh, kind in [
        ("measure", "措施", Keyword.Declaration),
        ("platform", "platform", Name.Function),
        ('"平台"', '"平台"', String.Double),
        ('"四.1"', '"四.1"', String.Other),
        ("award", "给予", Keyword),
        ("national", "national", Name.Label),
        ("30%", "30%", Number),
        ("fees", "fees", Name),
        ("cap", "封顶", Keyword),
        ("50万", "50万", Number),
        ("if", "如", Keyword),
        ("and", "且", Operator.Word),
        ("not", "非", Operator.Word),
    ]:
        assert english[en] is kind, en
        assert chinese[zh] is kind, zh


def test_statutory_words_units_and_dates() -> None:
    types = _types(
        "事实 营业收入: 金额 >= 0\n"
        "要求 营业收入 超过2000万 且 营业收入 10亿元以上 # 附则4\n"
        "印发 2021年5月16日\n"
    )
    assert types["超过"] is Operator.Word
    assert types["2000万"] is Number
    assert types["10亿元"] is Number
    assert types["以上"] is Operator.Word
    names = [
        token for _, token, value in _tokens("事实 营业收入: 金额\n要求 营业收入 > 0") if value == "营业收入"
    ]
    assert names == [Name.Variable, Name]  # where `事实` declares it; a plain name elsewhere
    assert types["金额"] is Keyword.Type
    assert types["# 附则4"] is Comment.Single
    assert types["2021年5月16日"] is Literal.Date


def test_a_chinese_name_holding_a_keyword_is_one_name() -> None:
    # `如` and `每` are keywords; inside a longer run of characters they are part of the name
    types = _types("要求 如期完成 且 每月报送")
    assert types["如期完成"] is Name
    assert types["每月报送"] is Name


def test_every_keyword_is_a_keyword_in_both_spellings() -> None:
    for english, chinese in KEYWORDS.values():
        for spelled in (english, chinese):
            ((_, token, value),) = [t for t in _tokens(spelled) if t[2].strip()]
            assert value == spelled
            assert token in Keyword or token in Operator.Word, spelled


def test_the_entry_point_finds_the_lexer() -> None:
    assert isinstance(get_lexer_by_name("policy"), PolicyLexer)
    assert isinstance(get_lexer_for_filename("资助.policy"), PolicyLexer)
