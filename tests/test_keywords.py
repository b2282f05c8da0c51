"""The keyword table and the grammar agree; the statutory words keep their legal meaning."""

from __future__ import annotations

import re

import pytest

from policydsl.syntax.keywords import (
    ALLOCATIONS,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    POSTFIX_WORDS,
    PREFIX_WORDS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    SYMBOLS,
    TYPE_NAMES,
    all_spellings,
    spelling,
)
from policydsl.syntax.parser import grammar_text

GRAMMAR = grammar_text()
_KW_RULE = re.compile(r'^_kw_(\w+):\s*"([^"]+)"\s*\|\s*"([^"]+)"\s*$', re.M)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _grammar_keywords() -> dict[str, tuple[str, str]]:
    return {name: (en, zh) for name, en, zh in _KW_RULE.findall(GRAMMAR)}


def _words_of(rule: str) -> list[str]:
    m = re.search(rf"^!{rule}:(.*)$", GRAMMAR, re.M)
    assert m, f"no rule {rule}"
    return re.findall(r'"([^"]+)"', m.group(1))


def test_every_keyword_row_has_a_grammar_rule_and_back() -> None:
    assert _grammar_keywords() == KEYWORDS


def test_every_kw_rule_in_the_grammar_is_a_two_spelling_rule() -> None:
    # a `_kw_` rule written another way (one spelling, three) would escape the check above
    declared = re.findall(r"^_kw_(\w+):", GRAMMAR, re.M)
    assert sorted(declared) == sorted(_grammar_keywords())


# Chinese writes both "valid from … until …" and "a range from … to …" with 至; the grammar keeps the
# two apart by position, and error messages name a keyword by its English spelling.
SHARED = {"至": {"until", "to"}}


def test_spellings_are_unique() -> None:
    spellings = [w for pair in KEYWORDS.values() for w in pair]
    shared = {w: {n for n, pair in KEYWORDS.items() if w in pair} for w in set(spellings)}
    assert {w: names for w, names in shared.items() if len(names) > 1} == SHARED
    assert not set(spellings) & (set(PREFIX_WORDS) | set(POSTFIX_WORDS))


@pytest.mark.parametrize("name", sorted(KEYWORDS))
def test_spellings_are_names_of_their_script(name: str) -> None:
    english, chinese = KEYWORDS[name]
    assert english.isascii() and NAME.fullmatch(english)
    assert NAME.fullmatch(chinese) and not chinese.isascii()


def test_spelling_follows_the_file_language() -> None:
    assert spelling("award", chinese=False) == "award"
    assert spelling("award", chinese=True) == "给予"
    assert spelling("funding_limit", chinese=True) == "资助总额上限"


def test_all_spellings_holds_both_languages_and_the_statutory_words() -> None:
    words = all_spellings()
    assert {"award", "给予", "超过", "以上", "或以上"} <= words
    assert "investment" not in words


def test_statutory_words_in_the_grammar_match_the_table() -> None:
    assert sorted(_words_of("prefix_word")) == sorted(PREFIX_WORDS)
    assert sorted(_words_of("postfix_word")) == sorted(POSTFIX_WORDS)
    assert set(_words_of("cmp_sym")) <= set(SYMBOLS)


# Civil Code Art. 1259: 以上、以下、以内、届满 include the number; 不满、超过 exclude it; 达到 is "at least".
@pytest.mark.parametrize(
    ("word", "op"),
    [
        ("以上", ">="),
        ("及以上", ">="),
        ("或以上", ">="),
        ("以下", "<="),
        ("及以下", "<="),
        ("以内", "<="),
    ],
)
def test_postfix_words_are_inclusive(word: str, op: str) -> None:
    assert POSTFIX_WORDS[word] == op


@pytest.mark.parametrize(
    ("word", "op"),
    [
        ("超过", ">"),
        ("不满", "<"),
        ("低于", "<"),
        ("达到", ">="),
        ("届满", ">="),
        ("满", ">="),
        ("不低于", ">="),
        ("不超过", "<="),
        ("等于", "=="),
    ],
)
def test_prefix_words_keep_their_legal_meaning(word: str, op: str) -> None:
    assert PREFIX_WORDS[word] == op


@pytest.mark.parametrize(
    "table", [TYPE_NAMES, PAYMENT_FORMS, ROUNDING_UNITS, ROUNDING_MODES, COMBINE_MODES, ALLOCATIONS]
)
def test_vocabularies_map_both_spellings_to_the_english_word(table: dict[str, str]) -> None:
    english = {v for v in table.values()}
    assert all(w.isascii() for w in english)
    for word, canonical in table.items():
        assert canonical in english
        assert table[canonical] == canonical
        if not word.isascii():
            assert word != canonical
    # as many Chinese spellings as English words: every word has both
    assert len(table) == 2 * len(english)
