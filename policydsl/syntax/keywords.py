"""The keyword table: every keyword's English and Chinese spelling, in one place."""

from __future__ import annotations

import re
from typing import Final

from policydsl.evaluation.runtime import COUNTING_UNITS as _COUNTING_UNITS
from policydsl.evaluation.runtime import PAYMENT_FORM_WORDS as _PAYMENT_FORM_WORDS

# name -> (English, Chinese).  The grammar has one rule `kw_<name>: "<en>" | "<zh>"` per row;
# tests/test_keywords.py keeps the two in step.  The formatter prints a file's keywords in the
# language of its first keyword, so a Chinese file stays Chinese.
KEYWORDS: Final[dict[str, tuple[str, str]]] = {
    # policy header
    "policy": ("policy", "政策"),
    "issuer": ("issuer", "发文机关"),
    "docno": ("docno", "文号"),
    "issued": ("issued", "印发"),
    "valid": ("valid", "有效期"),
    "from": ("from", "自"),
    "until": ("until", "至"),
    "lasting": ("lasting", "为期"),
    "source": ("source", "来源"),
    "rounding": ("rounding", "舍入"),
    "unset": ("unset", "未定"),
    # declarations
    "kind": ("kind", "主体类型"),
    "exclusive_kinds": ("exclusive_kinds", "互斥主体类型"),
    "unit": ("declare_unit", "计量单位"),
    "enum": ("enum", "枚举"),
    "fact": ("fact", "事实"),
    "param": ("param", "参数"),
    "assume": ("assume", "假设"),
    "eligibility": ("eligibility", "申报条件"),
    "require": ("require", "要求"),
    # measures and clauses
    "measure": ("measure", "措施"),
    "applicants": ("applicants", "适用主体"),
    "pays": ("pays", "支付方式"),
    "cite": ("cite", "依据"),
    "award": ("award", "给予"),
    "bonus": ("bonus", "追加"),
    "ceiling": ("ceiling", "最高"),
    "cap": ("cap", "封顶"),
    "floor": ("floor", "保底"),
    "range": ("range", "区间"),
    "to": ("to", "至"),
    "offset": ("offset", "扣除"),
    "exception": ("exception", "例外"),
    "priority": ("priority", "优先级"),
    "if": ("if", "如"),
    "unless": ("unless", "除非"),
    "exclude": ("exclude", "排除"),
    "prefer": ("prefer", "优先支持"),
    "funding_limit": ("funding_limit", "资助总额上限"),
    "counting": ("counting", "计入"),
    "quota": ("quota", "名额"),
    "rank": ("rank", "排序"),
    "selected_by": ("selected_by", "入选标记"),
    "group_cap": ("group_cap", "集体封顶"),
    "per": ("per", "每"),
    "allocate": ("allocate", "分配"),
    "budget": ("budget", "预算"),
    "instalment": ("instalment", "分期"),
    "rest": ("rest", "余额"),
    "no_clawback": ("no_clawback", "不予追回"),
    # how measures combine
    "combine": ("combine", "合并"),
    "all": ("all", "全部"),
    "against": ("against", "与其他政策"),
    "total_cap": ("total_cap", "累计封顶"),
    "over": ("over", "范围"),
    "pot": ("pot", "资金池"),
    "each_year": ("each_year", "每年"),
    "expects": ("expects", "预计"),
    "about": ("about", "约"),
    "recipients": ("recipients", "受资助"),
    "acknowledge": ("acknowledge", "确认"),
    # examples
    "example": ("example", "示例"),
    "on": ("on", "于"),
    "base": ("base_applicant", "基准主体"),
    "based_on": ("based_on", "基于"),
    "with": ("with", "设定"),
    "given": ("given", "已知"),
    "expect": ("expect", "预期"),
    "total": ("total", "合计"),
    "ineligible": ("ineligible", "不符合"),
    "undetermined": ("undetermined", "待定"),
    # expressions
    "and": ("and", "且"),
    "or": ("or", "或"),
    "not": ("not", "非"),
    "implies": ("implies", "则"),
    "in": ("in", "属于"),
    "min": ("min", "取小"),
    "max": ("max", "取大"),
    "blocks": ("blocks", "每满"),
    "round_down": ("round_down", "向下取整"),
    "by": ("by", "按"),
    "band": ("band", "分档"),
    "progressive": ("progressive", "超额累进"),
    "otherwise": ("otherwise", "其他"),
    "since": ("since", "距今"),
    "year": ("year", "年份"),
    "year_no": ("year_no", "第几年"),
    "schedule": ("schedule", "逐年"),
    "years": ("years", "第"),
    "true": ("true", "是"),
    "false": ("false", "否"),
}

# Comparison words with their statutory meaning (Civil Code Art. 1259).  Prefix words stand
# before the number ("超过 2000万"), postfix words after it ("10亿 以上").
PREFIX_WORDS: Final[dict[str, str]] = {
    "超过": ">",
    "不满": "<",
    "达到": ">=",
    "不低于": ">=",
    "届满": ">=",
    "满": ">=",
    "不超过": "<=",
    "低于": "<",
    "等于": "==",
}
POSTFIX_WORDS: Final[dict[str, str]] = {
    "以上": ">=",
    "及以上": ">=",
    "或以上": ">=",
    "以下": "<=",
    "及以下": "<=",
    "以内": "<=",
}
# The units the language knows without a declaration (the grammar's QUANTITY reads each; a test
# checks).  Counting units count whole things (家, 项…); measuring units measure any amount of at
# least zero (12.5亩).  A policy declares any other unit it needs with `unit 标准箱` (a measuring
# unit).  An amount can be given per any of them (`5万/家`, `100元/亩`).
COUNTING_UNITS: Final = _COUNTING_UNITS
MEASURING_UNITS: Final = ("亩", "平方米", "千瓦", "千瓦时", "吨")
UNITS: Final = COUNTING_UNITS + MEASURING_UNITS
# the spellings of a percentage point (`3个百分点` is 3%: added to a rate of 5% it makes 8%)
POINTS: Final = ("个百分点", "百分点")
SYMBOLS: Final[dict[str, str]] = {
    ">=": ">=",
    "≥": ">=",
    ">": ">",
    "<=": "<=",
    "≤": "<=",
    "<": "<",
    "==": "==",
    "=": "==",
    "!=": "!=",
    "≠": "!=",
}


def spelling(name: str, chinese: bool) -> str:
    """The spelling of keyword `name` in the file's language."""
    english, zh = KEYWORDS[name]
    return zh if chinese else english


def all_spellings() -> frozenset[str]:
    """Every reserved word, in both languages."""
    words = {w for pair in KEYWORDS.values() for w in pair}
    return frozenset(words | set(PREFIX_WORDS) | set(POSTFIX_WORDS))


# Words that are names, not keywords, in their place: type names, payment forms, rounding, modes.
# Each maps both spellings to the canonical English one.
def _vocab(pairs: dict[str, str]) -> dict[str, str]:
    table = {en: en for en in pairs}
    table.update({zh: en for en, zh in pairs.items()})
    return table


def vocab_spelling(table: dict[str, str], word: str, chinese: bool) -> str:
    """`word`, an English entry of a `_vocab` table, as a file written with Chinese keywords spells it."""
    if not chinese:
        return word
    return next(k for k, v in table.items() if v == word and k != word)


TYPE_NAMES: Final = _vocab(
    {
        "money": "金额",
        "percent": "比例",
        "number": "数值",
        "count": "数量",
        "bool": "布尔",
        "date": "日期",
        "duration": "期限",
        "text": "文本",
    }
)
PAYMENT_FORMS: Final = _vocab(_PAYMENT_FORM_WORDS)
ROUNDING_UNITS: Final = _vocab({"yuan": "元", "jiao": "角", "fen": "分"})
ROUNDING_MODES: Final = _vocab({"half_up": "四舍五入", "half_even": "银行家舍入", "down": "舍去"})
COMBINE_MODES: Final = _vocab({"added": "叠加", "highest": "就高", "exclusive": "互斥"})
ALLOCATIONS: Final = _vocab({"proportional": "按比例", "unset": "未定"})
# how a pot is shared when the claims on it pass it (docs/semantics.md, "Pots")
POT_ALLOCATIONS: Final = _vocab(
    {"proportional": "按比例", "ranked": "排名", "first_come": "先到先得", "unset": "未定"}
)
APPLICANT_FACT: Final = ("applicant", "申报主体")


_KEYWORDS_ZH = frozenset(zh for _, zh in KEYWORDS.values())


def chinese_keywords(text: str) -> bool:
    """The file is written with Chinese keywords: its first word is one (as the builder decides)."""
    first = re.search(r"[^\s#][^\s]*", re.sub(r"#[^\n]*", "", text))
    return bool(first and first.group(0) in _KEYWORDS_ZH)
