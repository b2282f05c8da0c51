"""Finding cited articles in source documents: numerals, nesting, paragraphs, misses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policydsl.render.articles import cn_to_int, int_to_cn, locate, parse_citation
from tests.conftest import DATA, POLICIES

DOC = (DATA / "report" / "platform.txt").read_text(encoding="utf-8")


def line_at(text: str, cite: str) -> str:
    place = locate(text, cite)
    assert place is not None, cite
    return text[place.start : place.end]


@pytest.mark.parametrize("n", range(1, 200))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert cn_to_int(int_to_cn(n)) == n


@given(st.integers(min_value=0, max_value=10**8))
def test_chinese_numerals_round_trip_for_any_size(n: int) -> None:
    assert cn_to_int(int_to_cn(n)) == n


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (10, "十"),
        (110, "一百一十"),
        (1000, "一千"),
        (1005, "一千零五"),
        (1050, "一千零五十"),
        (10000, "一万"),
        (10001, "一万零一"),
        (100000, "十万"),
        (110000, "十一万"),
        (1000000, "一百万"),
        (10010000, "一千零一万"),
        (10000100, "一千万零一百"),
        (20000000, "二千万"),
        (100000000, "一亿"),
    ],
)
def test_large_chinese_numerals_as_written(n: int, text: str) -> None:
    assert int_to_cn(n) == text
    assert cn_to_int(text) == n


def test_a_citation_of_article_1000_finds_it_either_way() -> None:
    doc = "第九百九十九条 前文。\n第一千条 本条。\n第1001条 后文。\n"
    assert line_at(doc, "第1000条") == "第一千条 本条。"
    assert line_at(doc, "第一千零一条") == "第1001条 后文。"
    # a document number with a year in brackets: (2023) is read as the number 2023, not a crash
    doc = "关于某事的通知 国发(2023)5号\n第一条 总则。\n第三条 本条。\n"
    place = locate(doc, "国发(2023)5号 第三条")
    assert place is not None and doc[place.start : place.end] == "国发(2023)5号"


@pytest.mark.parametrize(
    ("text", "n"), [("十", 10), ("十二", 12), ("二十一", 21), ("一百零五", 105), ("两", 2)]
)
def test_chinese_numerals(text: str, n: int) -> None:
    assert cn_to_int(text) == n


def test_not_a_numeral() -> None:
    assert cn_to_int("条") is None
    assert cn_to_int("") is None


def test_citation_steps() -> None:
    assert [p.kind for p in parse_citation("第八条(一)")] == ["article", "paren"]
    assert [p.kind for p in parse_citation("三(二)1")] == ["heading", "paren", "number"]
    assert [p.kind for p in parse_citation("四.1")] == ["heading", "number"]
    assert [p.kind for p in parse_citation("第五条第二款")] == ["article", "paragraph"]
    assert [p.kind for p in parse_citation("编制说明 三")] == ["text", "heading"]


def test_article_and_item() -> None:
    assert line_at(DOC, "第四条").startswith("第四条 对获得上级认定的制造业创新中心")
    assert line_at(DOC, "第三条(二)") == "（二）成立时间满1年；"
    # an Arabic article number finds the Chinese one
    assert line_at(DOC, "第3条").startswith("第三条 申报单位")


def test_paragraphs_of_an_article() -> None:
    assert line_at(DOC, "第五条第一款").startswith("第五条 对列入省级重点支持的平台")
    assert line_at(DOC, "第五条第二款").startswith("对平台服务营业收入超过2000万元")
    assert line_at(DOC, "第五条第三款").startswith("每年遴选不超过30家")


def test_a_missing_inner_step_anchors_the_outer_one() -> None:
    place = locate(DOC, "第六条(九)")
    assert place is not None and not place.exact
    assert DOC[place.start : place.end].startswith("第六条")


def test_a_missing_citation_is_none() -> None:
    assert locate(DOC, "第九十九条") is None
    assert locate("", "第一条") is None


def test_headings_and_numbered_items_nest() -> None:
    text = "一、总则\n1.目的\n二、措施\n（一）平台\n1.第一项\n2.第二项\n（二）企业\n1.其他\n"
    assert line_at(text, "二(一)2") == "2.第二项"
    assert line_at(text, "二(二)1") == "1.其他"
    assert line_at(text, "一.1") == "1.目的"


def test_a_number_does_not_match_a_longer_one() -> None:
    text = "（二）\n10.十\n1.一\n"
    assert line_at(text, "(二)1") == "1.一"


SEEDS = [
    ("002_feaf6a41846fe068.txt", "第八条(一)", "（一）工业互联网标杆示范项目"),
    ("002_feaf6a41846fe068.txt", "第十八条", "第十八条 本实施细则"),
    ("004_d41223bd964af659.txt", "三(二)3", "3.引进培育平台及服务商"),
    ("001_daab0d322e2f7c63.txt", "四.1", "1.被评审认定为我省产业互联网"),
    ("003_93a2485cbd92d1c4.txt", "第十四条", "第十四条 入选服务机构完成服务协议承诺目标"),
]


@pytest.mark.parametrize(("name", "cite", "start"), SEEDS)
def test_seed_documents(name: str, cite: str, start: str) -> None:
    path: Path = POLICIES / name
    assert line_at(path.read_text(encoding="utf-8"), cite).startswith(start)


# A text converted from a PDF keeps stray spaces inside its article numbers ("第 1 0 条"), and its
# body refers to other articles ("在第2条基础上"): the article itself, not the reference, is found.
SPACED = (
    "第 1 条 设立引导资金。\n"
    "第 2 条 固定资产投资奖励。\n"
    "第二款。\n"
    "第 3 条 重大产业项目可在第2条基础上一事一议。\n"
    "第 1 0 条 标准创制。\n"
    "第 1 1 条 产值增长。\n"
    "第19条 乡镇招商。\n"
)


@pytest.mark.parametrize(
    ("cite", "start"),
    [
        ("第2条", "第 2 条 固定资产投资奖励"),
        ("第二条", "第 2 条 固定资产投资奖励"),
        ("第2条第2款", "第二款"),
        ("第10条", "第 1 0 条 标准创制"),
        ("第十一条", "第 1 1 条 产值增长"),
        ("第1条", "第 1 条 设立引导资金"),
        ("第19条", "第19条 乡镇招商"),
    ],
)
def test_article_numbers_with_stray_spaces(cite: str, start: str) -> None:
    place = locate(SPACED, cite)
    assert place is not None and place.exact, cite
    assert SPACED[place.start : place.end].startswith(start)


def test_a_paragraph_stops_at_a_spaced_article() -> None:
    place, article = locate(SPACED, "第2条第3款"), locate(SPACED, "第2条")
    assert place is not None and article is not None
    assert (place.start, place.exact) == (article.start, False)
