"""Find where a citation such as 第八条(一), 三(二)1 or 四.1 stands in a source document."""

from __future__ import annotations

import re

import attrs

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10**4, "亿": 10**8}
_CN = "零〇一二两三四五六七八九十百千万亿"
_LINE = r"(?m)^[ \t\u3000]*"
# Texts converted from PDF keep stray spaces inside article numbers ("第 1 0 条"); a citation's
# article, its number and its parenthesised item are found across them.
_GAP = r"[ \t\u3000]*"


_NEXT_ARTICLE = _LINE[4:] + rf"第{_GAP}[0-9{_CN}](?:{_GAP}[0-9{_CN}])*{_GAP}[条章]"


def _spaced(text: str) -> str:
    """A pattern matching `text` with stray spaces between its characters."""
    return _GAP.join(re.escape(ch) for ch in text)


def cn_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十一 → 21, 一百零五 → 105, 一千零一万 → 10010000; None when `text` is
    not a Chinese numeral."""
    if not text or any(ch not in _CN for ch in text):
        return None
    total, section, current = 0, 0, 0  # done with 亿 and 万; below 万; the last digit
    for ch in text:
        if ch in _SMALL_UNITS:
            section += (current or 1) * _SMALL_UNITS[ch]
            current = 0
        elif ch == "万":
            total += ((section + current) or 1) * 10**4
            section = current = 0
        elif ch == "亿":
            total = ((total + section + current) or 1) * 10**8
            section = current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + section + current


def _below_10000(n: int) -> str:
    """1..9999 with 千百十 and one 零 for each run of missing places between digits."""
    digits = "零一二三四五六七八九"
    out: list[str] = []
    gap = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            gap = bool(out)
            continue
        if gap:
            out.append("零")
            gap = False
        out.append(digits[d] + unit)
    return "".join(out)


def int_to_cn(n: int) -> str:
    """1 → 一, 12 → 十二, 21 → 二十一, 105 → 一百零五, 1000 → 一千, 10010000 → 一千零一万 (as statutes
    number their articles; any size, with 万 and 亿 for the groups of four digits)."""
    if n < 0:
        raise ValueError(f"{n} is negative")
    if n == 0:
        return "零"
    groups: list[int] = []  # groups of four digits, lowest first
    while n:
        groups.append(n % 10**4)
        n //= 10**4
    out: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group:
            if out and group < 1000:
                out.append("零")  # 一万零一: a higher group was written and this one has a leading zero
            out.append(_below_10000(group))
        if index and (group or (index % 2 == 0 and out)):
            # 万 after a non-empty group; 亿 (every second group) even after an empty one
            out.append("亿" if index % 2 == 0 else "万")
        # 亿亿 and beyond: repeated units are not written by statutes and never parsed back
    text = "".join(out)
    # 十 rather than 一十 at the start: 十二, 十万
    return text[1:] if text.startswith("一十") else text


def _numeral(text: str) -> str:
    """A pattern matching a number written either way: 八 or 8."""
    value = int(text) if text.isdigit() else cn_to_int(text)
    if value is None:
        return re.escape(text)
    return f"(?:{_spaced(int_to_cn(value))}|{_spaced(str(value))})"


@attrs.frozen
class Part:
    """One step of a citation: `kind` (article, chapter, paragraph, item, heading, paren, number or
    text) and the `pattern` that finds it in the document."""

    kind: str
    pattern: str


_TOKEN = re.compile(
    r"第(?P<unit_n>[0-9零〇一二两三四五六七八九十百千万亿]+)(?P<unit>条|章|款|项|节)"
    r"|[（(](?P<paren>[0-9零〇一二两三四五六七八九十百千万亿]+)[）)]"
    r"|(?P<cn>[零〇一二两三四五六七八九十百]+)"  # a heading such as 三、 (千万亿 here are words)
    r"|(?P<num>\d+)"
    r"|(?P<sep>[\s.、．,，]+)"
    r"|(?P<text>[^\s.、．,，（(0-9零〇一二两三四五六七八九十百第]+|第)"
)


def parse_citation(cite: str) -> list[Part]:
    """The steps of a citation, outermost first."""
    parts: list[Part] = []
    for m in _TOKEN.finditer(cite):
        if m.group("unit"):
            number = _numeral(m.group("unit_n"))
            unit = m.group("unit")
            kind = {"条": "article", "章": "chapter", "款": "paragraph", "项": "item", "节": "section"}[unit]
            parts.append(Part(kind, f"第{_GAP}{number}{_GAP}{unit}"))
        elif m.group("paren"):
            parts.append(Part("paren", rf"[（(]{_numeral(m.group('paren'))}[）)]"))
        elif m.group("cn"):
            parts.append(Part("heading", rf"{_numeral(m.group('cn'))}(?=[、.．\s])"))
        elif m.group("num"):
            parts.append(Part("number", rf"(?:{m.group('num')})(?=[.、．）)\s])(?!\.\d)"))
        elif m.group("text"):
            parts.append(Part("text", re.escape(m.group("text"))))
    return parts


@attrs.frozen
class Place:
    """Where a citation was found: character `start` and `end` of the line that holds its innermost
    step found, and whether every step was found (`exact`)."""

    start: int
    end: int
    exact: bool


def locate(text: str, cite: str) -> Place | None:
    """Find `cite` in `text`: each step is looked for after the previous one, first at the start of
    a line (where headings stand), then anywhere.  None when even the first step is missing."""
    parts = parse_citation(cite)
    position = 0
    found: int | None = None
    exact = True
    for part in parts:
        if part.kind == "paragraph" and found is not None:
            hit = _paragraph(text, found, part)
        else:
            hit = _search(text, part, position)
        if hit is None:
            exact = False
            break
        found, position = hit, hit + 1
    if found is None:
        return None
    end = text.find("\n", found)
    return Place(found, len(text) if end < 0 else end, exact)


def _search(text: str, part: Part, position: int) -> int | None:
    m = re.compile(_LINE + f"({part.pattern})").search(text, position)
    if m is None and part.kind in ("article", "text", "chapter", "section", "item"):
        m = re.compile(f"({part.pattern})").search(text, position)
    return None if m is None else m.start(1)


def _paragraph(text: str, article: int, part: Part) -> int | None:
    """The n-th paragraph (non-empty line) of the article starting at `article`; a paragraph is
    numbered from the article's own first line."""
    m = re.search(r"\d+|[零〇一二两三四五六七八九十百千万亿]+", part.pattern.replace(_GAP, "")[1:])
    if m is None:
        return None
    value = int(m.group(0)) if m.group(0).isdigit() else cn_to_int(m.group(0))
    if value is None:
        return None
    offset = article
    count = 0
    for line in text[article:].splitlines(keepends=True):
        if count and re.match(_NEXT_ARTICLE, line):
            return None  # the next article began before the paragraph was found
        if line.strip():
            count += 1
            if count == value:
                return offset + len(line) - len(line.lstrip(" \t\u3000"))
        offset += len(line)
    return None
