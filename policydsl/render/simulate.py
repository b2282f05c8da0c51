"""Budget estimates shown to a drafter: a table in the reader's language, and an offline HTML page with
charts drawn as inline SVG."""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence
from decimal import Decimal

from policydsl.evaluation import runtime as rt
from policydsl.evaluation.simulate import KINDS, Comparison, Estimate, Figures, histogram
from policydsl.messages import Lang, Message, msg

# Every word this module shows comes from the message catalogue (messages/catalog.toml, `simulate.*`).
WORDS: dict[str, Message] = {
    "measure": msg("simulate.measure"),
    "eligible": msg("simulate.eligible"),
    "determined": msg("simulate.determined"),
    "determined_sum": msg("simulate.determined_sum"),
    "ceilings": msg("simulate.ceilings"),
    "ceiling_sum": msg("simulate.ceiling_sum"),
    "undetermined": msg("simulate.undetermined"),
    "limited": msg("simulate.limited"),
    "limited_by": msg("simulate.limited_by"),
    "budget": msg("simulate.budget"),
    "over": msg("simulate.over"),
    "total": msg("simulate.total"),
    "within": msg("simulate.within"),
    "gainers": msg("simulate.gainers"),
    "losers": msg("simulate.losers"),
    "newly_eligible": msg("simulate.newly_eligible"),
    "no_longer_eligible": msg("simulate.no_longer_eligible"),
    "spend_chart": msg("simulate.spend_chart"),
    "award_chart": msg("simulate.award_chart"),
    "none": msg("simulate.none"),
}
STATUS_WORDS = {
    rt.DETERMINED: msg("simulate.status_determined"),
    rt.CEILING: msg("simulate.status_ceiling"),
    rt.UNDETERMINED: msg("simulate.status_undetermined"),
    rt.INELIGIBLE: msg("simulate.status_ineligible"),
}


def word(key: str, lang: str) -> str:
    return WORDS[key].render(_lang(lang))


def _lang(lang: str) -> Lang:
    return "zh" if lang == "zh" else "en"


def said(message: Message, lang: str) -> str:
    return message.render(_lang(lang))


def money(value: Decimal | None, lang: str) -> str:
    if value is None:
        return word("none", lang)
    return rt.yuan(value) if lang == "zh" else said(msg("simulate.yuan", amount=f"{value:,f}"), lang)


def heading(e: Estimate, lang: str) -> str:
    return said(msg("simulate.heading", title=e.title, rows=e.rows, engine=e.engine), lang)


def date_line(date: datetime.date | None, lang: str) -> str:
    """The evaluation date the figures were worked out on."""
    if date is None:
        return said(msg("simulate.no_date"), lang)
    return said(msg("simulate.date", date=date.isoformat()), lang)


COLUMNS = (
    "eligible",
    "determined",
    "determined_sum",
    "ceilings",
    "ceiling_sum",
    "undetermined",
    "limited",
    "limited_by",
    "budget",
    "over",
)


def _cells(f: Figures, lang: str, known: bool = True) -> list[str]:
    none = word("none", lang)
    return [
        str(f.eligible),
        str(f.determined),
        money(f.determined_sum, lang),
        str(f.ceilings),
        money(f.ceiling_sum, lang),
        str(f.undetermined),
        str(f.limited) if known else none,
        money(f.limited_by, lang) if known else none,
        money(f.budget, lang),
        money(f.over, lang),
    ]


def _rows(e: Estimate, lang: str) -> list[list[str]]:
    rows = [[f.label, *_cells(f, lang, e.limits_known)] for f in e.measures.values()]
    rows.append([word("total", lang), *_cells(e.total, lang, e.limits_known)])
    return rows


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def budget_lines(e: Estimate, lang: str) -> list[str]:
    """A line for every budget the determined amounts (or they with the ceilings) exceed."""
    lines = []
    for f in [*e.measures.values(), e.total]:
        label = word("total", lang) if f is e.total else f.label
        if f.over is not None:
            over = msg(
                "simulate.over_line",
                label=label,
                spent=money(f.determined_sum, lang),
                budget=money(f.budget, lang),
                over=money(f.over, lang),
            )
            lines.append(said(over, lang))
        elif f.over_at_most is not None:
            over = msg(
                "simulate.over_ceiling_line",
                label=label,
                spent=money(f.determined_sum + f.ceiling_sum, lang),
                budget=money(f.budget, lang),
                over=money(f.over_at_most, lang),
            )
            lines.append(said(over, lang))
    for label, (total, drawn) in e.pots.items():
        pot = msg("simulate.pot", label=label, total=money(total, lang), drawn=money(drawn, lang))
        lines.append(said(pot, lang))
    return lines or [word("within", lang)]


def _figure(status: str, amount: Decimal | None, lang: str) -> str:
    known = STATUS_WORDS.get(status)
    shown = status if known is None else said(known, lang)
    return shown if amount is None or status == rt.INELIGIBLE else f"{shown} {money(amount, lang)}"


def comparison_lines(c: Comparison, lang: str) -> list[str]:
    lines = []
    for kind in KINDS:
        change = msg(
            "simulate.change_line", kind=WORDS[kind], count=c.counts[kind], sum=money(c.sums[kind], lang)
        )
        lines.append(said(change, lang))
        for x in c.examples[kind]:
            example = msg(
                "simulate.example", id=x.id, before=_figure(*x.before, lang), after=_figure(*x.after, lang)
            )
            lines.append(said(example, lang))
    if c.unmatched:
        lines.append(said(msg("simulate.unmatched", n=c.unmatched), lang))
    return lines


def table(
    estimates: Sequence[Estimate], comparison: Comparison | None, lang: str, date: datetime.date | None = None
) -> str:
    """The estimates as text tables, the budget lines, and the comparison."""
    out: list[str] = []
    header = [word("measure", lang), *(word(c, lang) for c in COLUMNS)]
    for e in estimates:
        out.append(heading(e, lang))
        out.append(date_line(date, lang))
        out.extend(_grid(header, _rows(e, lang)))
        if e.errors:
            out.append(said(msg("simulate.errors", n=e.errors), lang))
            out.extend(
                said(msg("simulate.error_row", id=i, error=text), lang) for i, text in e.error_examples
            )
        out.extend(budget_lines(e, lang))
        out.append("")
    if comparison is not None and len(estimates) == 2:
        out.append(said(msg("simulate.compare", a=estimates[0].policy, b=estimates[1].policy), lang))
        out.extend(comparison_lines(comparison, lang))
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ HTML

_STYLE = """
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: bold; }
.over { color: #b00020; }
svg text { font-size: 12px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _spend_chart(e: Estimate, lang: str) -> str:
    """Horizontal bars: each measure's determined amounts, its ceilings beyond them, and its budget."""
    items = list(e.measures.values())
    top = max(
        [f.determined_sum + f.ceiling_sum for f in items]
        + [f.budget or Decimal(0) for f in items]
        + [Decimal(1)]
    )
    left, width, bar = 220, 460, 22
    height = bar * len(items) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 160}" height="{height}" role="img">'
    ]
    parts.append(f"<title>{_e(word('spend_chart', lang))}</title>")
    for i, f in enumerate(items):
        y = 10 + i * bar
        det = int(Decimal(width) * f.determined_sum / top)
        ceil = int(Decimal(width) * f.ceiling_sum / top)
        parts.append(f'<text x="0" y="{y + 15}">{_e(f.label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{det}" height="{bar - 6}" fill="#3b6ea5"/>')
        parts.append(f'<rect x="{left + det}" y="{y + 3}" width="{ceil}" height="{bar - 6}" fill="#a9c4e2"/>')
        if f.budget is not None:
            bx = left + int(Decimal(width) * f.budget / top)
            parts.append(
                f'<line x1="{bx}" y1="{y}" x2="{bx}" y2="{y + bar}" stroke="#b00020" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{left + det + ceil + 6}" y="{y + 15}">{_e(money(f.determined_sum, lang))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _award_chart(e: Estimate, lang: str) -> str:
    """A histogram of the applicants' determined totals."""
    bins = histogram(e.total.awards)
    if not bins:
        return f"<p>{_e(word('none', lang))}</p>"
    most = max(n for _, _, n in bins) or 1
    column, height = 56, 160
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{column * len(bins) + 20}" '
        f'height="{height + 60}" role="img">'
    ]
    parts.append(f"<title>{_e(word('award_chart', lang))}</title>")
    for i, (low, high, n) in enumerate(bins):
        h = int(height * n / most)
        x = 10 + i * column
        parts.append(f'<rect x="{x}" y="{height - h + 10}" width="{column - 6}" height="{h}" fill="#3b6ea5">')
        parts.append(f"<title>{_e(money(low, lang))} – {_e(money(high, lang))}: {n}</title></rect>")
        parts.append(f'<text x="{x}" y="{height + 25}">{n}</text>')
        parts.append(f'<text x="{x}" y="{height + 45}">{_e(_short(low))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(value: Decimal) -> str:
    if value >= 10000:
        return f"{(value / 10000).quantize(Decimal('0.1'))}万"
    return str(value.quantize(Decimal(1)))


def _html_table(e: Estimate, lang: str) -> str:
    header = "".join(f"<th>{_e(word(c, lang))}</th>" for c in ("measure", *COLUMNS))
    body = []
    for i, cells in enumerate(_rows(e, lang)):
        cls = ' class="total"' if i == len(e.measures) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(
    estimates: Sequence[Estimate],
    comparison: Comparison | None,
    lang: str,
    date: datetime.date | None = None,
    back: str | None = None,
) -> str:
    """One self-contained HTML page (no external requests): tables, budget lines, charts, comparison;
    the evaluation `date`, and a link `back` to the policy's review page when the site holds it."""
    title = heading(estimates[0], lang)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
    ]
    if back is not None:
        parts.append(f'<p><a href="{_e(back)}">← {_e(estimates[0].title)}</a></p>')
    for e in estimates:
        parts.append(f"<h1>{_e(heading(e, lang))}</h1>")
        parts.append(f'<p class="date">{_e(date_line(date, lang))}</p>')
        parts.append(_html_table(e, lang))
        if e.errors:
            parts.append(f'<p class="over">{_e(said(msg("simulate.errors", n=e.errors), lang))}</p>')
        parts.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in budget_lines(e, lang)) + "</ul>")
        parts.append(f"<h2>{_e(word('spend_chart', lang))}</h2>{_spend_chart(e, lang)}")
        parts.append(f"<h2>{_e(word('award_chart', lang))}</h2>{_award_chart(e, lang)}")
    if comparison is not None and len(estimates) == 2:
        compared = msg("simulate.compare", a=estimates[0].policy, b=estimates[1].policy)
        parts.append(f"<h1>{_e(said(compared, lang))}</h1>")
        parts.append("<pre>" + _e("\n".join(comparison_lines(comparison, lang))) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
