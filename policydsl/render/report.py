"""The static review site: one offline HTML page per policy, and an index of them."""

from __future__ import annotations

import html
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pygments
from pygments.formatters import HtmlFormatter

from policydsl import codes
from policydsl.analysis.run import Options, analyse
from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file
from policydsl.codes import CODES
from policydsl.diagnostics import Diagnostic, Severity, Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.examples import (
    ExampleResult,
    Examples,
    Expected,
    Given,
    decide_applicant,
    first_day,
    read_examples,
    run_all,
)
from policydsl.files import write_atomically
from policydsl.messages import Lang, Message, default_lang, msg, problem_message
from policydsl.plan import nodes as P
from policydsl.plan.lower import lower, lower_header
from policydsl.render.articles import locate
from policydsl.render.diagram import ROLES, Diagram
from policydsl.render.graphviz import RenderError, render_bytes
from policydsl.render.trees import STATUS_WORDS, Words, measure_tree, overview, served_kinds
from policydsl.source import SourceFile
from policydsl.syntax.highlight import PolicyLexer

FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"WenQuanYi Micro Hei", sans-serif'
)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


# The policy file's own text, coloured.  Pygments escapes every token it writes (&, <, >, " and ').
CODE_CLASS = "policy-code"
LINE_ANCHOR = "policy-line"
CODE_STYLE = "friendly"


def policy_html(text: str) -> str:
    """The whole policy file, coloured, each line anchored `policy-line-N` and numbered."""
    formatter = HtmlFormatter(
        cssclass=CODE_CLASS, style=CODE_STYLE, linenos="inline", lineanchors=LINE_ANCHOR, wrapcode=True
    )
    coloured: str = pygments.highlight(text, PolicyLexer(), formatter)
    return coloured


def policy_line_html(line: str) -> str:
    """One line of the policy file, coloured, for the excerpt under a finding."""
    coloured: str = pygments.highlight(line, PolicyLexer(), HtmlFormatter(nowrap=True))
    return coloured.rstrip("\n")


def code_css() -> str:
    """The colours of the policy text, scoped to it: Pygments' rules for other selectors (`pre`,
    line-number tables) are left out, so they cannot restyle the rest of the page."""
    defs: str = HtmlFormatter(style=CODE_STYLE).get_style_defs(f".{CODE_CLASS}")  # type: ignore[no-untyped-call]
    rules = defs.splitlines()
    return "\n".join(rule for rule in rules if rule.startswith(f".{CODE_CLASS}"))


# Only text documents are embedded (shown as plain text: an .html document would show its markup),
# never larger than this.
SOURCE_SUFFIXES = (".txt", ".md")
MAX_SOURCE_BYTES = 4 * 1024 * 1024


@attrs.frozen
class SourceDocument:
    """What a page shows of the header's `source`: the `text` embedded (None when none is) and a
    `note` for readers: the file and the folder it came from, or why nothing was embedded."""

    text: str | None
    note: str


class SourceRefused(Exception):
    """The document the policy names may not be embedded; `message` (a catalogue entry) says why."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.render("en"))
        self.message = message


def find_source(policy_file: Path, name: str, dirs: Iterable[Path]) -> Path | None:
    """The source document `name`: next to the policy file, then in each of `dirs`; None when it is
    in none of them or may not be embedded."""
    try:
        found = locate_source(policy_file, name, dirs)
    except SourceRefused:
        return None
    return None if found is None else found[0]


def _source_folders(policy_file: Path, dirs: Iterable[Path]) -> list[tuple[Path, str]]:
    """Where a source document is looked up, and how the page names each place.  Nothing else: the
    bundled policies keep their texts beside them in `policies/`, and the wheel ships no policies."""
    folders = [] if str(policy_file) == "-" else [(policy_file.parent, "政策文件所在目录")]
    return [*folders, *((d, f"--sources {d}") for d in dirs)]


def locate_source(policy_file: Path, name: str, dirs: Iterable[Path]) -> tuple[Path, str] | None:
    """The source document `name` and where it was found, looked up by name only in the policy's
    folder, then each of `dirs`.  It must be a text document (SOURCE_SUFFIXES),
    no name on its way may start with a dot, it must stay inside its folder once symbolic links are
    resolved, and be a regular file; otherwise SourceRefused says why.  None when it is nowhere."""
    if name in ("", ".", "..") or Path(name).name != name or "\\" in name:
        raise SourceRefused(msg("source.not_a_name", name=name))
    if name.startswith("."):
        raise SourceRefused(msg("source.hidden", name=name))
    if Path(name).suffix.lower() not in SOURCE_SUFFIXES:
        raise SourceRefused(msg("source.suffix", name=name))
    for folder, where in _source_folders(policy_file, dirs):
        candidate = folder / name
        if not os.path.lexists(candidate):
            continue
        root, real = folder.resolve(), candidate.resolve()
        if not real.is_relative_to(root):
            raise SourceRefused(msg("source.outside", path=str(candidate)))
        if any(part.startswith(".") for part in real.relative_to(root).parts):
            raise SourceRefused(msg("source.dot_target", path=str(candidate)))
        try:
            info = real.stat()
        except OSError as exc:
            raise SourceRefused(
                msg("source.unreadable", path=str(candidate), reason=str(exc.strerror or exc))
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefused(msg("source.not_regular", path=str(candidate)))
        if info.st_size > MAX_SOURCE_BYTES:
            raise SourceRefused(
                msg(
                    "source.too_large",
                    path=str(candidate),
                    size=f"{info.st_size:,}",
                    limit=f"{MAX_SOURCE_BYTES:,}",
                )
            )
        return real, where
    return None


def read_source(path: Path) -> str:
    """A located source document's text; opened without blocking and checked again once open (the
    file may have been swapped for something else since it was located)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise SourceRefused(
            msg("source.unreadable", path=str(path), reason=str(exc.strerror or exc))
        ) from None
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise SourceRefused(msg("source.not_regular", path=str(path)))
        data = stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceRefused(msg("source.over_limit", path=str(path), limit=f"{MAX_SOURCE_BYTES:,}"))
    return data.decode("utf-8-sig", errors="replace")


def source_document(
    policy: Path, header: P.Header, dirs: Iterable[Path], sink: Sink, file: SourceFile
) -> SourceDocument:
    """The header's source document for the page; a refusal or a missing document is an R101 warning
    at the header's `source` line in `file`, the policy file."""
    assert header.source is not None and header.source_at is not None
    try:
        found = locate_source(policy, header.source, dirs)
        if found is None:
            raise SourceRefused(msg("source.not_found", name=header.source))
        path, where = found
        return SourceDocument(read_source(path), f"{path.name}（{where}）")
    except SourceRefused as exc:
        refused = msg("source.not_embedded", why=exc.message)
        sink.report(codes.R101, refused, file.span(*header.source_at))
        return SourceDocument(None, refused.render("zh"))


def inline_svg(svg: bytes, prefix: str) -> str:
    """Graphviz SVG ready to sit inside a page: no XML prolog, ids made unique to this drawing."""
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<!--.*?-->\s*", "", text, flags=re.S)
    # graphviz titles every box and arrow with its internal name; the page's tooltips are the
    # boxes' own text (`xlink:title`, graphviz.py), which a <title> child would hide
    text = re.sub(r"<title>[^<]*</title>\s*", "", text)
    text = re.sub(r'\bid="([^"]*)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    return text.strip()


def slug(path: Path, taken: set[str]) -> str:
    """A file name for a policy's page, from its file name, unique within the site."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "policy"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


# ------------------------------------------------------------------------------ citations

# How a citation that leads nowhere is marked (docs/review.md): no source text at all, or a text
# that does not hold the article.
NO_SOURCE = "未嵌入原文，无法核对该条文"
NOT_IN_SOURCE = "原文中未找到该条文"


@attrs.frozen
class FindingRef:
    """A finding as the rest of the page links to it: its `anchor` on the page, `code`, `message`
    (a tooltip), the css class of its severity (and `settled` when the policy settles it)."""

    anchor: str
    code: str
    message: str
    css: str


@attrs.define
class Citations:
    """Citations resolved against the source `text`: each cite string's anchor offset (`places`),
    and the clauses and measures that cite each anchor (`backlinks`: offset -> [(href, text)])."""

    text: str | None
    places: dict[str, tuple[int, int, bool] | None] = attrs.field(factory=dict)
    backlinks: dict[int, list[tuple[str, str]]] = attrs.field(factory=dict)
    # offset -> the findings about that article: (href, text, tooltip, css class)
    findings: dict[int, list[tuple[str, str, str, str]]] = attrs.field(factory=dict)

    def place(self, cite: str) -> tuple[int, int, bool] | None:
        """Where the article `cite` is in the text: (start, end, exact); None when it is not."""
        if cite not in self.places:
            place = locate(self.text, cite) if self.text is not None else None
            self.places[cite] = None if place is None else (place.start, place.end, place.exact)
        return self.places[cite]

    def link(self, cite: str | None, back_href: str, back_text: str) -> str:
        """The cite as a link to its article in the source text, registering the way back.  A cite
        the text does not hold is struck through; with no text at all it is only greyed."""
        if not cite:
            return ""
        found = self.place(cite)
        if found is None:
            if self.text is None:
                return f'<span class="cite nosource" title="{NO_SOURCE}">{esc(cite)}</span>'
            return f'<span class="cite missing" title="{NOT_IN_SOURCE}">{esc(cite)}</span>'
        start, _, exact = found
        links = self.backlinks.setdefault(start, [])
        if (back_href, back_text) not in links:
            links.append((back_href, back_text))
        title = "" if exact else ' title="只找到上一级条文"'
        return f'<a class="cite" href="#src-{start}"{title}>{esc(cite)}</a>'

    def finding(self, cite: str, ref: FindingRef) -> None:
        """Register a finding about the article `cite`, listed under it in the source text."""
        found = self.place(cite)
        if found is None:
            return
        entry = (f"#{ref.anchor}", ref.code, ref.message, ref.css)
        listed = self.findings.setdefault(found[0], [])
        if entry not in listed:
            listed.append(entry)

    def anchored(self, cite: str) -> str:
        """A link to an article the source text already anchors (drawn after the source text)."""
        found = self.places.get(cite)
        if found is None or (found[0] not in self.backlinks and found[0] not in self.findings):
            return esc(cite)
        return f'<a class="cite" href="#src-{found[0]}">{esc(cite)}</a>'

    def source_html(self) -> str:
        """The source text with an anchor on each cited line and links back to what cites it and
        to the findings about it."""
        if self.text is None:
            return '<p class="muted">政策文件未注明原文，或原文文件未找到。</p>'
        text = self.text
        out: list[str] = []
        cursor = 0
        for start in sorted(self.backlinks.keys() | self.findings.keys()):
            end = next((e for s, e, _ in filter(None, self.places.values()) if s == start), start)
            if start < cursor:
                continue
            out.append(esc(text[cursor:start]))
            backs = " ".join(
                f'<a class="back" href="{esc(h)}">↩ {esc(t)}</a>' for h, t in self.backlinks.get(start, [])
            )
            found = self.findings.get(start, [])
            if found:
                backs += (
                    ' <span class="finding-refs">检查发现 '
                    + " ".join(
                        f'<a class="finding-ref {css}" href="{esc(h)}" title="{esc(tip)}">{esc(t)}</a>'
                        for h, t, tip, css in found
                    )
                    + "</span>"
                )
            out.append(f'<mark class="article" id="src-{start}">{esc(text[start:end])}</mark>')
            out.append(f'<span class="backlinks">{backs}</span>')
            cursor = end
        out.append(esc(text[cursor:]))
        return '<pre class="source-text">' + "".join(out) + "</pre>"


# ------------------------------------------------------------------------------ one policy


@attrs.define
class PageSummary:
    """What the index says of one policy: `file`, page `href`, `title`, `issuer`, `issued`, counts of
    `measures`, findings by severity (`findings`), examples `passed`/`failed`, whether it `parsed`,
    its source document's name, and the href of its budget estimate page (`estimate`, "" when none)."""

    file: str
    href: str
    title: str
    issuer: str
    issued: str
    measures: int
    findings: dict[str, int]
    passed: int
    failed: int
    parsed: bool
    source: str
    estimate: str = ""


class PolicyPage:
    """Builds the page of one checked policy: `path` of the file, its `source` file and `model` (None
    when it did not parse), the `diagnostics` of `check` and the analysis, the source document `text`
    and its file name `text_name`, and the findings the policy `settled` with their reasons."""

    def __init__(
        self,
        path: Path,
        source: SourceFile | None,
        model: Model | None,
        diagnostics: list[Diagnostic],
        text: str | None,
        text_name: str | None,
        settled: list[tuple[Diagnostic, str]] | None = None,
        sample: Sample | None = None,
    ) -> None:
        self.path = path
        self.settled = settled or []
        self.sample = sample
        self.source = source
        self.model = model
        self.diagnostics = diagnostics
        self.text_name = text_name
        self.cites = Citations(text)
        self.results: list[ExampleResult] = []
        self.has_errors = any(d.severity is Severity.ERROR for d in diagnostics)
        # Only a policy without errors is lowered; the page of one with errors shows no clauses,
        # and its header lowered on its own.
        self.plan: P.Plan | None = None
        self.examples = Examples((), {})
        self.header: P.Header | None = None
        if model is not None and not self.has_errors:
            text = source.text if source is not None else ""
            self.plan = lower(model, text)
            self.examples = read_examples(model, self.plan, text)
            self.header = self.plan.header
        elif model is not None:
            self.header = lower_header(model.policy.header)
        self.words = Words(self.plan) if self.plan is not None else None
        # The findings read in the site's language: Chinese for a file written with Chinese keywords.
        self.lang: Lang = default_lang(None if model is None else model.policy.chinese)
        # Every finding gets an anchor; the cards of the clauses and measures it is about, and the
        # articles they cite, link to it.
        self.refs: dict[int, FindingRef] = {}
        self.about: dict[str, list[FindingRef]] = {}
        self.link_findings()
        # the budget estimate page over a population, when the site has one: (href, what it says)
        self.estimate: tuple[str, str] | None = None

    # ------------------------------------------------------------------ findings, linked
    def ordered_findings(self) -> list[tuple[Diagnostic, str | None]]:
        """The findings in the order the page lists them: worst first, grouped by code; then the
        settled ones with their reasons."""
        found = sorted(self.diagnostics, key=lambda d: (-d.severity, d.code, d.sort_key()))
        return [*((d, None) for d in found), *self.settled]

    def link_findings(self) -> None:
        clauses = {c.id: (m, c) for m in self.plan.measures for c in m.clauses} if self.plan else {}
        measures = {m.name: m for m in self.plan.measures} if self.plan else {}
        for number, (d, reason) in enumerate(self.ordered_findings(), 1):
            css = f"sev-{d.severity}" + (" settled" if reason is not None else "")
            ref = FindingRef(f"finding-{number}", d.code, d.msg.render(self.lang), css)
            self.refs[id(d)] = ref
            targets = self.finding_targets(d, clauses)
            for name in targets:
                self.about.setdefault(name, []).append(ref)
            cites = [str(c) for c in d.data.get("cites", ()) if isinstance(c, str)]
            param = self.plan.params.get(str(d.data.get("param"))) if self.plan is not None else None
            if param is not None:
                cites.extend(v.cite for v in param.versions if v.cite)
            for name in targets:
                if name in clauses:
                    cites.extend(c for c in (clauses[name][1].cite, clauses[name][0].cite) if c)
                elif name in measures and measures[name].cite:
                    cites.append(str(measures[name].cite))
            for cite in dict.fromkeys(cites):
                self.cites.finding(cite, ref)

    def finding_targets(self, d: Diagnostic, clauses: Mapping[str, tuple[P.Measure, P.Clause]]) -> list[str]:
        """The clauses and measures on this page a finding is about: those its data names, else
        the clause its place lies in."""
        known = self.known_targets()
        names: list[str] = []
        for key in ("clauses", "measures", "targets"):
            value = d.data.get(key)
            if isinstance(value, list | tuple):
                names.extend(str(v) for v in value)
        found = [n for n in dict.fromkeys(names) if n in known]
        if not found:
            # the clauses where it points, or its notes do (a parameter's uses, say)
            places = [d.span, *(n.span for n in d.notes)]
            for span in filter(None, places):
                found.extend(
                    cid
                    for cid, (_, clause) in clauses.items()
                    if clause.span is not None
                    and clause.span.file == span.file
                    and clause.span.start <= span.start < clause.span.end
                )
        return list(dict.fromkeys(found))

    def findings_about(self, name: str) -> str:
        """Links to the findings about one clause or measure, for its card."""
        refs = self.about.get(name)
        if not refs:
            return ""
        links = " ".join(
            f'<a class="finding-ref {ref.css}" href="#{ref.anchor}" title="{esc(ref.message)}">'
            f"{esc(ref.code)}</a>"
            for ref in refs
        )
        return f'<p class="finding-refs">检查发现（{len(refs)}）：{links}</p>'

    # ------------------------------------------------------------------ pieces
    def title(self) -> str:
        header = self.header
        return header.title if header is not None and header.title is not None else self.path.name

    def svg(self, diagram: Diagram, prefix: str) -> str:
        try:
            return '<div class="diagram">' + inline_svg(render_bytes(diagram, "svg"), prefix) + "</div>"
        except RenderError as exc:
            return f'<p class="error">无法绘制决策图：{esc(str(exc))}</p>'

    def diagrams(self) -> tuple[str, str]:
        """The overview and the measures' trees, each node linked to its place on the page."""
        assert self.plan is not None
        view = overview(self.plan)
        for node in view.nodes:
            if node.id.startswith("measure."):
                node.href = f"#tree-{node.id.split('.', 1)[1]}"
        trees: list[str] = []
        for m in self.plan.measures:
            tree = measure_tree(self.plan, m)
            tree.nodes[0].href = f"#measure-{m.name}"
            for node in tree.nodes:
                if node.clause is not None:
                    node.href = f"#clause-{node.clause}"
            label = esc(m.label)
            trees.append(
                f'<section class="tree" id="tree-{esc(m.name)}">'
                f"<h3>{label} <small>{esc(m.name)}</small> "
                f'<a class="small" href="#measure-{esc(m.name)}">条款 ↑</a></h3>'
                + self.svg(tree, f"t-{m.name}")
                + "</section>"
            )
        return self.svg(view, "overview"), "\n".join(trees)

    def header_html(self) -> str:
        rows: list[tuple[str, str]] = [("文件", esc(self.path.name))]
        header = self.header
        if header is not None and header.title is not None:
            for key, value in (("发文机关", header.issuer), ("文号", header.docno)):
                if value:
                    rows.append((key, esc(value)))
            rows.append(("印发日期", esc(header.issued.isoformat()) if header.issued else "原文未定"))
            validity = header.validity.text
            if validity:
                rows.append(("有效期", esc(validity)))
            if header.cite:
                rows.append(("依据", self.cites.link(header.cite, "#top", "政策")))
            rows.append(("原文", esc(self.text_name or header.source or "未注明")))
        if self.estimate is not None:
            href, line = self.estimate
            label = esc(msg("simulate.link").render("zh"))
            shown = f'<a class="estimate" href="{esc(href)}">{esc(line)}</a>' if href else esc(line)
            rows.append((label, shown if href else f'<span class="error">{shown}</span>'))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f'<table class="facts">{body}</table>'

    def condition_list(self, conditions: list[tuple[str, str]]) -> str:
        if not conditions:
            return ""
        items = "".join(f"<li>{text}{cite}</li>" for text, cite in conditions)
        return f"<ul>{items}</ul>"

    def measure_html(self, m: P.Measure) -> str:
        assert self.words is not None
        w = self.words
        name = m.name
        href = f"#measure-{name}"
        kinds = served_kinds(m)
        facts = [
            "适用主体：" + ("、".join(esc(w.kind(k)) for k in kinds) if kinds else "所有申报主体"),
            "支付方式：" + esc(w.pays(m)),
            f'<a href="#tree-{esc(name)}">决策树 ↓</a>',
        ]
        parts = [
            f'<article class="measure" id="measure-{esc(name)}">',
            f"<h3>{esc(m.label)} <small>{esc(name)}</small> {self.cites.link(m.cite, href, name)}</h3>",
            '<p class="meta">' + " · ".join(facts) + "</p>",
            self.findings_about(name),
        ]
        gates: list[tuple[str, str]] = []
        for gate in m.gates:
            word = "要求：" if gate.kind == "require" else "排除："
            text = word + esc(w.with_reason(gate.cond, gate.written_reason))
            gates.append((text, " " + self.cites.link(gate.cite, href, name)))
        parts.append(self.condition_list(gates))
        parts.extend(self.clause_html(clause) for clause in m.clauses)
        rules: list[tuple[str, str]] = []
        for limit in m.funding_limits:
            counted = "、".join([w.expr(limit.received), *map(w.measure_name_label, limit.measures)])
            text = f"资助总额上限：各级财政资助合计不超过 {esc(w.expr(limit.limit))}（计入 {esc(counted)}）"
            rules.append((text, " " + self.cites.link(limit.cite, href, name)))
        for quota in m.quotas:
            rank = f"，按{esc(w.expr(quota.rank))}排序" if quota.rank is not None else "，原文未规定排序"
            if quota.selected_by is not None:
                rank = f"，入选与否以“{esc(w.fact_label(quota.selected_by))}”为准"
            rules.append(
                (f"名额：每年不超过 {quota.count} 个{rank}", " " + self.cites.link(quota.cite, href, name))
            )
        for cap in m.group_caps:
            how = "按比例分配" if cap.allocate == "proportional" else "分配方式原文未定"
            text = f"集体封顶：同一{esc(w.fact_label(cap.per))}合计不超过 {esc(w.expr(cap.amount))}，{how}"
            rules.append((text, " " + self.cites.link(cap.cite, href, name)))
        for budget in m.budgets:
            rules.append(
                (f"年度预算：{esc(w.expr(budget.amount))}", " " + self.cites.link(budget.cite, href, name))
            )
        for pref in m.preferences:
            text = "优先支持：" + esc(pref.reason or w.expr(pref.cond))
            rules.append((text, " " + self.cites.link(pref.cite, href, name)))
        for stage in m.instalments:
            share = "余额" if stage.share is None else esc(w.expr(stage.share))
            text = f"分期「{esc(stage.label)}」：兑付{share}，条件 {esc(w.expr(stage.cond))}"
            rules.append((text, " " + self.cites.link(stage.cite, href, name)))
        for cite in m.no_clawback_cites:
            rules.append(("已兑付部分不予追回", " " + self.cites.link(cite, href, name)))
        if rules:
            parts.append('<div class="rules"><b>金额规则</b>' + self.condition_list(rules) + "</div>")
        parts.append("</article>")
        return "\n".join(p for p in parts if p)

    def clause_html(self, clause: P.Clause) -> str:
        """One clause: its id, title, conditions, figure and exception target, from the plan."""
        assert self.words is not None
        w = self.words
        cid = clause.id
        amount = clause.amount
        status = w.amount_status(amount)
        conds = [
            (("除非 " if c.negated else "如 ") + esc(w.expr(c.cond)), "") for c in clause.conditions
        ] or [("无条件（措施的资格条件满足即适用）", "")]
        lines = [esc(line) for line in w.amount_lines(amount)]
        extra: list[str] = []
        if clause.exception_of is not None:
            priority = f"，优先级 {clause.priority}" if clause.priority is not None else ""
            target = clause.exception_of
            extra.append(f'例外：适用时取代 <a href="#clause-{esc(target)}">{esc(target)}</a>{priority}')
        if clause.kind == "bonus":
            extra.append("追加：在已适用的奖励之上另加")
        unset = w.unset_params(amount.expr) if amount.expr is not None else []
        if unset:
            extra.append("待定：" + esc("、".join(unset)))
        cite = self.cites.link(clause.cite, f"#clause-{cid}", cid)
        return (
            f'<div class="clause role-{status}" id="clause-{esc(cid)}">'
            f'<div class="clause-head"><b>{esc(clause.title)}</b> <code>{esc(cid)}</code> '
            f'<span class="badge role-{status}">{esc(STATUS_WORDS[status])}</span> {cite}</div>'
            + self.condition_list(conds)
            + "<div>"
            + "<br>".join(lines + extra)
            + "</div>"
            + self.findings_about(cid)
            + "</div>"
        )

    def across_html(self) -> str:
        assert self.plan is not None and self.words is not None
        w = self.words
        items: list[str] = []
        for combine in self.plan.combinations:
            names = (
                "全部措施（另有合并规则的除外）"
                if combine.every
                else "、".join(f'<a href="#measure-{esc(n)}">{esc(n)}</a>' for n in combine.measures)
            )
            reason = f"（{esc(combine.reason)}）" if combine.reason else ""
            link = self.cites.link(combine.cite, "#across", "合并规则")
            items.append(f"<li>{esc(w.combine(combine.mode))}：{names}{reason} {link}</li>")
        for cap in self.plan.total_caps:
            names = "、".join(f'<a href="#measure-{esc(n)}">{esc(n)}</a>' for n in cap.measures)
            link = self.cites.link(cap.cite, "#across", "累计封顶")
            items.append(f"<li>累计封顶 {esc(w.expr(cap.amount))}：{names} {link}</li>")
        if not items:
            return ""
        return '<div class="rules" id="across"><b>措施之间</b><ul>' + "".join(items) + "</ul></div>"

    def eligibility_html(self) -> str:
        assert self.plan is not None and self.words is not None
        items: list[tuple[str, str]] = []
        for req in self.plan.eligibility:
            text = esc(self.words.with_reason(req.cond, req.written_reason))
            items.append((text, " " + self.cites.link(req.cite, "#eligibility", "申报条件")))
        if not items:
            return ""
        return (
            '<div class="rules role-gate" id="eligibility"><b>共同申报条件</b>'
            + self.condition_list(items)
            + "</div>"
        )

    def known_targets(self) -> set[str]:
        """The measures and clause ids a finding may link to: those the page shows (none when the
        policy has errors)."""
        known: set[str] = set()
        if self.plan is not None:
            for m in self.plan.measures:
                known.add(m.name)
                known.update(c.id for c in m.clauses)
        return known

    def findings_html(self) -> str:
        """The findings of `check` and the analysis, grouped by code, worst first; then the settled
        ones with the reason the drafters gave."""
        known = self.known_targets()
        parts: list[str] = []
        findings = [d for d, reason in self.ordered_findings() if reason is None]
        if not findings:
            parts.append('<p class="ok">检查未发现问题。</p>')
        codes = list(dict.fromkeys(d.code for d in findings))
        if len(codes) > 1:
            counts = " · ".join(
                f'<a href="#code-{esc(c)}">{esc(c)} {esc(code_title(c))}</a>'
                f"（{sum(d.code == c for d in findings)}）"
                for c in codes
            )
            parts.append(f'<p class="summary">{counts}</p>')
        for code in codes:
            parts.append(f'<h3 id="code-{esc(code)}"><code>{esc(code)}</code> {esc(code_title(code))}</h3>')
            parts.extend(self.finding_html(d, known) for d in findings if d.code == code)
        if self.settled:
            parts.append(
                '<h3 id="settled">已确认的发现</h3>'
                '<p class="muted">政策文件已书面确认或已用声明解决、因此不再报告的发现，及其理由。</p>'
            )
            parts.extend(self.finding_html(d, known, reason) for d, reason in self.settled)
        return "\n".join(parts)

    def target_link(self, name: str, known: set[str]) -> str:
        if name in known:
            anchor = "clause" if "." in name else "measure"
            return f'<a href="#{anchor}-{esc(name)}">{esc(name)}</a>'
        return f"<code>{esc(name)}</code>"

    def finding_html(self, d: Diagnostic, known: set[str], reason: str | None = None) -> str:
        where = esc(f"{self.path.name}:{d.span.line}:{d.span.col}") if d.span is not None else ""
        excerpt = ""
        if d.span is not None and self.source is not None:
            line = policy_line_html(self.source.line_text(d.span.line))
            excerpt = f'<pre class="excerpt {CODE_CLASS}">{line}</pre>'
            where = f'<a href="#{LINE_ANCHOR}-{d.span.line}">{where}</a>'
        # The witness is drawn from the structured data as a table; its one-line note would repeat it.
        notes = "".join(
            f"<li>{esc(n.msg.render(self.lang))}" + (f"（第 {n.span.line} 行）" if n.span else "") + "</li>"
            for n in d.notes
            if not (n.message.startswith("witness:") and "witness" in d.data)
            and d.code != codes.P206.id  # its pairs are drawn from the structured data as a table
        )
        hint = f'<p class="hint">建议：{esc(d.hint_msg.render(self.lang))}</p>' if d.hint_msg else ""
        why = f'<p class="reason">确认理由：{esc(reason)}</p>' if reason is not None else ""
        return (
            f'<div class="finding sev-{d.severity}" id="{self.refs[id(d)].anchor}">'
            f'<div><span class="badge sev-{d.severity}">{esc(str(d.severity))}</span> '
            f"<code>{esc(d.code)}</code> {esc(code_title(d.code))} "
            f'<span class="muted">{where}</span></div>'
            f"<p>{esc(d.msg.render(self.lang))}</p>{why}{excerpt}"
            + (f"<ul>{notes}</ul>" if notes else "")
            + hint
            + (self.members_html(d.data, known) if d.code == codes.P206.id else self.data_html(d.data, known))
            + "</div>"
        )

    def members_html(self, data: Mapping[str, Any], known: set[str]) -> str:
        """The pairs a group finding (P206) lists: those worth a reviewer's time as a table, each
        with its example applicant folded; the rest folded as one list."""
        rows: list[str] = []
        rest: list[str] = []
        for m in data.get("members", ()):
            a, b = (self.target_link(str(n), known) for n in m["targets"])
            amounts = " 与 ".join(esc(str(m.get("amounts", {}).get(n, "?"))) for n in m["targets"])
            if m["rank"] == "other":
                rest.append(f"<li>{a} 与 {b}：{amounts}</li>")
                continue
            witness = self.value_html(m.get("witness", {}), known)
            rows.append(
                f"<tr><th>{esc(GROUP_RANKS[m['rank']])}</th><td>{a} 与 {b}</td><td>{amounts}</td>"
                f"<td><details><summary>示例申报主体</summary>{witness}</details></td></tr>"
            )
        parts = [f'<table class="data">{"".join(rows)}</table>'] if rows else []
        if rest:
            summary = f"<summary>其余 {len(rest)} 对（逐对列出）</summary>"
            parts.append(f"<details>{summary}<ul>{''.join(rest)}</ul></details>")
        return "".join(parts)

    def data_html(self, data: Mapping[str, Any], known: set[str]) -> str:
        """The structured part of a finding: the witness applicant as a table of facts, clauses and
        measures as links to their cards, cited articles as links into the source text."""
        rows: list[str] = []
        for key, value in data.items():
            if key == "targets" and ("clauses" in data or "measures" in data):
                continue  # the same names again
            label = DATA_LABELS.get(key, key)
            if key == "cites" and isinstance(value, list | tuple):
                shown = "、".join(self.cites.anchored(str(c)) for c in dict.fromkeys(value))
            else:
                shown = self.value_html(value, known)
            rows.append(f"<tr><th>{esc(label)}</th><td>{shown}</td></tr>")
        if not rows:
            return ""
        table = f'<table class="data">{"".join(rows)}</table>'
        return f"<details><summary>见证申请人与详情</summary>{table}</details>"

    def value_html(self, value: Any, known: set[str]) -> str:
        if isinstance(value, Mapping):
            cells = "".join(
                f"<tr><th>{self.key_html(str(k), known)}</th><td>{esc(self.fact_value(str(k), v))}</td></tr>"
                for k, v in value.items()
            )
            return f'<table class="witness">{cells}</table>'
        if isinstance(value, list | tuple):
            return "、".join(self.value_html(v, known) for v in value)
        text = _shown(value)
        return self.target_link(text, known) if text in known else esc(text)

    def key_html(self, key: str, known: set[str]) -> str:
        """A key of a finding's table: a clause or measure as a link, a fact by its label."""
        return self.target_link(key, known) if key in known else esc(self.fact_label(key))

    def fact_value(self, fact: str, value: Any) -> str:
        """A witness's value as a reviewer reads it: an enum value by its label."""
        plan = self.plan
        spec = plan.facts.get(plan.aliases.get(fact, fact)) if plan is not None else None
        if plan is not None and spec is not None and spec.enum is not None:
            label = plan.enums.get(spec.enum, {}).get(str(value))
            if label is not None and label != str(value):
                return f"{label}（{value}）"
        return _shown(value)

    def fact_label(self, name: str) -> str:
        if self.words is None:
            return name
        label = self.words.fact_label(name)
        return f"{label}（{name}）" if label != name else name

    def examples_html(self) -> str:
        if self.model is None:
            return ""
        examples = self.examples.cases
        if not examples:
            return '<p class="muted">本政策文件未写示例。</p>'
        if not self.results and self.plan is not None and self.source is not None:
            self.results = run_all(self.plan, self.examples)
        by_example = {id(r.example): r for r in self.results}
        parts: list[str] = []
        for ex in examples:
            result = by_example.get(id(ex))
            given = "".join(
                f"<tr><th>{esc(self.fact_label(g.fact))}</th><td>{esc(self.given_value(g))}</td></tr>"
                for g in ex.given
            )
            expected = "；".join(self.expectation_text(e) for e in ex.expectations)
            if result is None:
                verdict, detail = '<span class="badge">未运行</span>', ""
            elif result.passed:
                verdict, detail = '<span class="badge pass">通过</span>', ""
            else:
                verdict = '<span class="badge fail">未通过</span>'
                detail = (
                    "<ul>"
                    + "".join(f"<li>{esc(f.render(self.lang))}</li>" for f in result.failures)
                    + "</ul>"
                )
            outcome = ""
            if result is not None and result.decision is not None:
                lines = [
                    f"{esc(m.label)}：{esc(rt.describe(m))}" for m in result.decision.measures.values()
                ] + [f"合计：{esc(rt.describe(result.decision.total))}"]
                outcome = '<div class="outcome">' + "<br>".join(lines) + "</div>"
            day = ex.day
            parts.append(
                f'<div class="example"><div><b>{esc(ex.name)}</b> {verdict} '
                f'<span class="muted">评估日期 {esc(day.isoformat()) if day else "未定"}</span></div>'
                f'<details open><summary>已知</summary><table class="given">{given}</table></details>'
                f"<p>预期：{expected}</p>{detail}{outcome}</div>"
            )
        return "\n".join(parts)

    def sample_html(self) -> str:
        """The bundled sample applicant's decision (samples/NAME.json beside the policy): per measure
        its status and amount and every condition met or not, with the facts that decided it and a
        link to its article (the `conditions` of `eval --format json`)."""
        sample = self.sample
        if sample is None or self.plan is None:
            return ""
        head = f"<h3>示例申请人 <small>{esc(sample.name)}</small></h3>"
        if sample.problem is not None:
            return head + f'<p class="error">{esc(sample.problem)}</p>'
        day = first_day(self.plan)
        try:
            decision = decide_applicant(self.plan, sample.facts, day)
        except rt.InputError as exc:
            problems = "".join(f"<li>{esc(problem_message(p).render('zh'))}</li>" for p in exc.details)
            return head + f'<p class="error">给出的事实无法使用：</p><ul>{problems}</ul>'
        when = f"评估日期 {day.isoformat()}" if day else "评估日期未定（与日期有关的条件无法判断）"
        parts = [
            head,
            f'<p class="muted">{esc(when)}；与 <code>policydsl eval --format json</code> 的 '
            "<code>conditions</code> 相同</p>",
            '<div class="sample">',
        ]
        data = decision.to_dict()
        for m in data["measures"]:
            result = decision.measures[m["measure"]]
            href = f"#measure-{m['measure']}"
            status = f"{esc(m['label'])}：{esc(rt.describe(result))}"
            items: list[str] = []
            met: list[str] = []
            for c in m["conditions"]:
                mark = {True: "met", False: "unmet"}.get(c["value"], "unknown")
                word = {True: "满足", False: "未满足"}.get(c["value"], "尚无法判断")
                facts = "；".join(
                    f"{esc(k)}：{esc(v if v is not None else '未给出')}" for k, v in c["facts"].items()
                )
                link = " " + self.cites.link(c["article"], href, m["measure"]) if c["article"] else ""
                (met if c["value"] is True else items).append(
                    f'<li class="{mark}"><span class="badge {mark}">{word}</span> {esc(c["label"])}'
                    + (f' <span class="muted">（{facts}）</span>' if facts else "")
                    + f"{link}</li>"
                )
            reasons = "".join(f"<li>{esc(r)}</li>" for r in result.reasons)
            parts.append(
                f'<div class="sample-measure"><a href="{esc(href)}"><b>{status}</b></a>'
                + (f"<ul>{''.join(items)}</ul>" if items else "")
                + (
                    f"<details><summary>满足的条件（{len(met)} 项）</summary>"
                    f"<ul>{''.join(met)}</ul></details>"
                    if met
                    else ""
                )
                + (f"<details><summary>原因</summary><ul>{reasons}</ul></details>" if reasons else "")
                + "</div>"
            )
        parts.append(f"<p><b>合计：{esc(rt.describe(decision.total))}</b></p></div>")
        return "\n".join(parts)

    def given_value(self, given: Given) -> str:
        if isinstance(given.value, str):
            return given.value
        if isinstance(given.value, tuple):  # the applicant's roles
            return "、".join(self.words.kind(k) if self.words is not None else k for k in given.value)
        return self.words.expr(given.value) if self.words is not None else ""

    def expectation_text(self, e: Expected) -> str:
        target = "合计" if e.target is None else e.target
        value = self.words.expr(e.value) if e.value is not None and self.words is not None else ""
        word = {
            "amount": f"= {value}",
            "ceiling": f"最高 {value}",
            "undetermined": "金额待定",
            "ineligible": "不符合",
        }
        return esc(f"{target} {word[e.kind]}")

    def undetermined_html(self) -> str:
        """Every place where the text leaves a figure or a rule open."""
        assert self.plan is not None and self.words is not None
        w, plan = self.words, self.plan
        items: list[str] = []
        if plan.headed:
            if plan.issued is None:
                items.append("印发日期原文未定")
            if plan.header.start_unset:
                items.append("有效期起始日期原文未定")
        for sym in plan.params.values():
            versions = [v for v in sym.versions if isinstance(v.value, P.Unset)]
            if versions:
                users = [
                    f'<a href="#clause-{esc(clause.id)}">{esc(clause.id)}</a>'
                    for m in plan.measures
                    for clause in m.clauses
                    if clause.amount.expr is not None and sym.label in w.unset_params(clause.amount.expr)
                ]
                cite = " ".join(
                    self.cites.link(v.cite, "#undetermined", sym.name) for v in versions if v.cite
                )
                used = f"，用于 {'、'.join(users)}" if users else ""
                items.append(
                    f"参数「{esc(sym.label)}」<code>{esc(sym.name)}</code> 原文未给出数值{used} {cite}"
                )
        for m in plan.measures:
            for clause in m.clauses:
                amount = clause.amount
                cid = clause.id
                link = f'<a href="#clause-{esc(cid)}">{esc(cid)}</a>'
                status = w.amount_status(amount)
                if amount.mode == "unset":
                    items.append(f"{link}：原文未给出金额")
                elif status == "ceiling":
                    items.append(
                        f"{link}：只给出最高限额（{esc('；'.join(w.amount_lines(amount)))}），实际金额酌情核定"
                    )
                elif amount.expr is not None and "部分档次金额" in w.unset_params(amount.expr):
                    items.append(f"{link}：部分档次的金额原文未给出")
            for quota in m.quotas:
                if quota.rank is None and quota.selected_by is None:
                    items.append(
                        f'<a href="#measure-{esc(m.name)}">{esc(m.name)}</a>：'
                        f"名额 {quota.count} 个，原文未规定遴选排序"
                    )
            for cap in m.group_caps:
                if cap.allocate is None or cap.allocate == "unset":
                    items.append(
                        f'<a href="#measure-{esc(m.name)}">{esc(m.name)}</a>：集体封顶超出时如何分配原文未定'
                    )
        covered = {n for c in plan.combinations for n in c.measures}
        loose = [m.name for m in plan.measures if m.name not in covered]
        if len(plan.measures) > 1 and len(loose) > 1:
            names = "、".join(f'<a href="#measure-{esc(n)}">{esc(n)}</a>' for n in loose)
            items.append(f"以下措施之间原文未说明能否叠加（同时适用时合计只是上限）：{names}")
        if not items:
            return '<p class="ok">原文给出了全部金额和规则。</p>'
        return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"

    # ------------------------------------------------------------------ the page
    def render(self) -> str:
        title = self.title()
        nav = [
            ("overview", "概览"),
            ("clauses", "条款与原文"),
            ("trees", "决策树"),
            ("findings", "检查发现"),
            ("examples", "示例"),
            ("undetermined", "待定事项"),
            ("policy-file", "政策文件"),
        ]
        body: list[str] = [
            '<header id="top"><p><a href="index.html">← 全部政策</a></p>',
            f"<h1>{esc(title)}</h1>",
        ]
        if self.model is None or self.has_errors:
            body.append(self.header_html() + "</header>")
            body.append('<section id="findings"><h2>检查发现</h2>')
            body.append('<p class="error">政策文件有错误，修正后才能生成决策图和示例结果。</p>')
            body.append(self.findings_html() + "</section>")
            body.append(self.policy_file_html())
            return page(title, "\n".join(body))
        body.append(self.header_html())
        body.append("<nav>" + " ".join(f'<a href="#{k}">{v}</a>' for k, v in nav) + "</nav></header>")
        overview_svg, trees = self.diagrams()
        body.append(f'<section id="overview"><h2>概览</h2>{legend_html()}{overview_svg}</section>')
        clauses = [self.eligibility_html()]
        assert self.plan is not None
        clauses.extend(self.measure_html(m) for m in self.plan.measures)
        clauses.append(self.across_html())
        source = self.cites.source_html()  # after the clauses: they register the backlinks
        body.append(
            '<section id="clauses"><h2>条款与原文</h2><div class="split"><div class="clauses">'
            + "\n".join(c for c in clauses if c)
            + '</div><aside class="source"><h3>原文'
            + (f" <small>{esc(self.text_name)}</small>" if self.text_name else "")
            + "</h3>"
            + source
            + "</aside></div></section>"
        )
        body.append(f'<section id="trees"><h2>决策树</h2>{trees}</section>')
        body.append(f'<section id="findings"><h2>检查发现</h2>{self.findings_html()}</section>')
        body.append(
            f'<section id="examples"><h2>示例</h2>{self.examples_html()}{self.sample_html()}</section>'
        )
        body.append(f'<section id="undetermined"><h2>待定事项</h2>{self.undetermined_html()}</section>')
        body.append(self.policy_file_html())
        return page(title, "\n".join(body))

    def policy_file_html(self) -> str:
        """The policy file as written, coloured; the findings' places link to its lines."""
        if self.source is None:
            return ""
        return (
            f'<section id="policy-file"><h2>政策文件 <small>{esc(self.path.name)}</small></h2>'
            f'<div class="policy-file">{policy_html(self.source.text)}</div></section>'
        )

    def summary(self, href: str) -> PageSummary:
        header = self.header if self.header is not None and self.header.title is not None else None
        counts = {
            str(s): sum(1 for d in self.diagnostics if d.severity is s and not d.data.get("acknowledged"))
            for s in Severity
        }
        return PageSummary(
            self.path.name,
            href,
            self.title(),
            (header.issuer or "") if header else "",
            (header.issued.isoformat() if header.issued else "原文未定") if header is not None else "",
            len(self.model.measures) if self.model is not None else 0,
            counts,
            sum(1 for r in self.results if r.passed),
            sum(1 for r in self.results if not r.passed),
            self.model is not None and not self.has_errors,
            self.text_name or "",
            self.estimate[0] if self.estimate is not None else "",
        )


# How the analysis's structured data is labelled for reviewers.
DATA_LABELS = {
    "witness": "见证申请人",
    "on": "评估日期",
    "clauses": "涉及条款",
    "measures": "涉及措施",
    "targets": "涉及",
    "cites": "依据",
    "amounts": "各自金额",
    "members": "成员数",
    "member_amount": "每个成员",
    "group_total": "成员合计",
    "param": "参数",
    "uses": "使用处数",
}


GROUP_RANKS = {"same_subject": "同一事项", "shared_cap": "同受累计封顶"}  # the members of P206


def code_title(code: str) -> str:
    return CODES[code].title if code in CODES else ""


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value in ("true", "false"):
        return "是" if value in (True, "true") else "否"
    return str(value)


def legend_html() -> str:
    """The colour key, the same table the diagrams' legends draw from."""
    items = "".join(
        f'<span class="key"><span class="swatch role-{name}"></span>{esc(role.legend)}</span>'
        for name, role in ROLES.items()
    )
    return f'<div class="legend">{items}</div>'


def css() -> str:
    roles = "\n".join(
        f".role-{name} {{ background: {r.fill}; border-color: {r.border}; }}" for name, r in ROLES.items()
    )
    return f"""
body {{ font-family: {FONT_STACK}; margin: 0 auto; max-width: 1600px; padding: 0 1.5rem 4rem;
  color: #111827; line-height: 1.6; }}
h1 {{ font-size: 1.6rem; margin: .5rem 0; }}
h2 {{ border-bottom: 2px solid #e5e7eb; padding-bottom: .2rem; margin-top: 2.5rem; }}
small, .muted {{ color: #6b7280; font-weight: normal; }}
code {{ font-family: "Noto Sans Mono CJK SC", ui-monospace, monospace; font-size: .9em; color: #374151; }}
nav a {{ margin-right: 1rem; }}
a.estimate {{ overflow-wrap: anywhere; }}
table.facts th, table.data th, table.witness th {{ text-align: left; padding-right: 1rem; color: #374151;
  font-weight: 600; vertical-align: top; }}
.split {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; }}
.source {{ position: sticky; top: 0; max-height: 100vh; overflow: auto; border-left: 1px solid #e5e7eb;
  padding-left: 1rem; }}
.source-text {{ white-space: pre-wrap; font-family: {FONT_STACK}; font-size: .95rem; }}
mark.article {{ background: #fef9c3; scroll-margin-top: 1rem; }}
mark.article:target {{ background: #fde047; outline: 2px solid #ca8a04; }}
.backlinks a.back {{ font-size: .8rem; margin-left: .4rem; }}
.measure {{ border: 1px solid #d1d5db; border-radius: 6px; padding: .5rem 1rem; margin-bottom: 1rem; }}
.measure:target, .clause:target {{ outline: 3px solid #db2777; }}
.measure h3 {{ margin: .3rem 0; }}
.meta {{ margin: .2rem 0; color: #374151; }}
.clause {{ border: 1px solid; border-left-width: 6px; border-radius: 4px; padding: .4rem .8rem;
  margin: .5rem 0;
  scroll-margin-top: 1rem; }}
.clause ul, .rules ul {{ margin: .2rem 0; padding-left: 1.3rem; }}
.rules {{ margin: .5rem 0; padding: .3rem .8rem; border-left: 6px solid #0f766e; background: #f0fdfa; }}
.rules.role-gate {{ border-left-color: #1e40af; }}
.badge {{ display: inline-block; border: 1px solid #9ca3af; border-radius: 3px; padding: 0 .35rem;
  font-size: .8rem; }}
.badge.pass, .badge.met {{ background: #dcfce7; border-color: #166534; }}
.badge.unmet {{ background: #fee2e2; border-color: #b91c1c; }}
.sample-measure {{ border-top: 1px solid #e5e7eb; padding: .35rem 0; }}
.sample-measure ul {{ margin: .25rem 0; }}
.badge.fail, .badge.sev-error {{ background: #fee2e2; border-color: #b91c1c; }}
.badge.sev-warning {{ background: #fef3c7; border-color: #b45309; }}
.badge.sev-info {{ background: #e0f2fe; border-color: #0369a1; }}
.cite {{ font-size: .85rem; margin-left: .3rem; }}
.cite.missing {{ color: #b91c1c; text-decoration: line-through; }}
.cite.nosource {{ color: #6b7280; border-bottom: 1px dashed #9ca3af; }}
.diagram {{ overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; padding: .5rem;
  margin: .5rem 0 1.5rem; }}
.diagram svg {{ display: block; margin: 0 auto; max-width: 100%; height: auto; }}
.finding-refs {{ font-size: .8rem; margin: .2rem 0; }}
a.finding-ref {{ display: inline-block; border: 1px solid; border-radius: 3px; padding: 0 .3rem;
  margin: 0 .15rem .15rem 0; text-decoration: none; color: #111827; }}
a.finding-ref.sev-error {{ background: #fee2e2; border-color: #b91c1c; }}
a.finding-ref.sev-warning {{ background: #fef3c7; border-color: #b45309; }}
a.finding-ref.sev-info {{ background: #e0f2fe; border-color: #0369a1; }}
a.finding-ref.settled {{ background: #f3f4f6; border-color: #9ca3af; border-style: dashed; }}
.finding {{ scroll-margin-top: 1rem; overflow-x: auto; }}
.finding:target {{ outline: 3px solid #db2777; }}
.wide {{ overflow-x: auto; }}
.legend {{ display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; font-size: .85rem; margin: .5rem 0; }}
.swatch {{ display: inline-block; width: 1.4rem; height: .9rem; border: 1px solid; vertical-align: middle;
  margin-right: .3rem; }}
.finding, .example {{ border: 1px solid #e5e7eb; border-radius: 6px; padding: .4rem .8rem; margin: .5rem 0; }}
.finding p, .example p {{ margin: .2rem 0; }}
#policy-file h2 small {{ overflow-wrap: anywhere; }}
.policy-file {{ max-height: 85vh; overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; }}
.policy-code pre {{ margin: 0; padding: .5rem .8rem; line-height: 1.5; white-space: pre;
  font-family: "Noto Sans Mono CJK SC", ui-monospace, monospace; font-size: .9rem; }}
.policy-code .linenos {{ color: #9ca3af; user-select: none; margin-right: .8rem; }}
{code_css()}
pre.excerpt {{ background: #f9fafb; padding: .3rem .6rem; margin: .2rem 0; white-space: pre-wrap; }}
table.given {{ font-size: .9rem; border-collapse: collapse; }}
table.given th {{ text-align: left; font-weight: normal; color: #374151; padding-right: 1rem; }}
.outcome {{ color: #374151; font-size: .9rem; }}
.ok {{ color: #166534; }}
.error {{ color: #b91c1c; }}
table.index {{ border-collapse: collapse; width: 100%; }}
table.index td:nth-child(5), table.index td:nth-child(6) {{ white-space: nowrap; }}
table.index th, table.index td {{ border-bottom: 1px solid #e5e7eb; padding: .4rem .6rem; text-align: left; }}
@media (max-width: 900px) {{ .split {{ grid-template-columns: 1fr; }}
  .source {{ position: static; max-height: none; }} }}
@media (max-width: 600px) {{ body {{ padding: 0 .6rem 3rem; }} .measure {{ padding: .4rem .5rem; }} }}
{roles}
"""


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{css()}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def index_html(pages: list[PageSummary]) -> str:
    rows = []
    for p in pages:
        f = p.findings
        findings = f"{f['error']} 错误 · {f['warning']} 警告 · {f['info']} 提示"
        examples = f"{p.passed} 通过 · {p.failed} 未通过" if p.passed or p.failed else "—"
        state = "" if p.parsed else ' <span class="badge fail">有错误</span>'
        estimate = (
            f'<a href="{esc(p.estimate)}">{esc(msg("simulate.link").render("zh"))}</a>' if p.estimate else "—"
        )
        rows.append(
            f'<tr><td><a href="{esc(p.href)}">{esc(p.title)}</a>{state}<br><small>{esc(p.file)}</small></td>'
            f"<td>{esc(p.issuer)}</td><td>{esc(p.issued)}</td><td>{p.measures}</td><td>{findings}</td>"
            f"<td>{examples}</td><td>{esc(p.source) or '—'}</td><td>{estimate}</td></tr>"
        )
    table = (
        '<div class="wide"><table class="index"><thead><tr>'
        "<th>政策</th><th>发文机关</th><th>印发日期</th><th>措施</th><th>检查发现</th><th>示例</th><th>原文</th>"
        f"<th>{esc(msg('simulate.link').render('zh'))}</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
    head = f'<header><h1>政策审阅</h1><p class="muted">共 {len(pages)} 份政策。</p></header>'
    body = f"{head}\n{table}"
    return page("政策审阅", body)


@attrs.frozen
class Sample:
    """A sample applicant shown on a policy's page: the file's `name`, its `facts`, or the `problem`
    that keeps it from being read."""

    name: str
    facts: Mapping[str, Any]
    problem: str | None = None


# A sample applicant is a few kilobytes; a larger file is not one
MAX_SAMPLE_BYTES = 1024 * 1024


def read_sample(policy_file: Path) -> Sample | None:
    """The sample applicant of a policy by convention: `samples/NAME.json` in the policy's folder
    (`policies/samples/jiangmen_special_fund.json`), a JSON object of facts; None when there is none."""
    path = policy_file.parent / "samples" / f"{policy_file.stem}.json"
    name = f"samples/{path.name}"
    try:
        if not path.is_file() or path.stat().st_size > MAX_SAMPLE_BYTES:
            return None
        value = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        return Sample(name, {}, f"无法读取示例申请人：{exc}")
    if not isinstance(value, dict):
        return Sample(name, {}, "示例申请人应为一个 JSON 对象（事实名 → 值）")
    return Sample(name, value)


def find_population(policy_file: Path, given: Path | None = None) -> Path | None:
    """The population a policy's budget estimate runs over: the one `given`, else by convention
    `samples/NAME_population.csv` in the policy's folder; None when there is none."""
    if given is not None:
        return given
    path = policy_file.parent / "samples" / f"{policy_file.stem}_population.csv"
    return path if path.is_file() else None


def estimate_page(
    policy_file: Path, plan: P.Plan, population: Path, back: str, lang: Lang
) -> tuple[str, str]:
    """The budget estimate page of `plan` over `population` by the Python engine, evaluated on the
    sample applicants' day (examples.first_day), and the line the policy's page links it with;
    runtime.InputError when the population cannot be used."""
    from policydsl.api import PolicyEvaluator
    from policydsl.evaluation import simulate as sim
    from policydsl.render import simulate as show

    day = first_day(plan)
    evaluator = PolicyEvaluator(plan)
    estimate, _ = sim.run_python(
        evaluator,
        plan,
        evaluator.interpreter.literal,
        evaluator.constraints(),
        population,
        day,
        policy_file.name,
        lang,
    )
    when = msg("simulate.date", date=day.isoformat()) if day is not None else msg("simulate.no_date")
    line = msg("simulate.link_line", rows=estimate.rows, population=population.name, when=when)
    return show.page([estimate], None, lang, day, back), line.render("zh")


def build_site(
    files: Iterable[Path],
    out: Path,
    source_dirs: Iterable[Path] = (),
    population: Path | None = None,
    estimate_lang: Lang = "zh",
) -> tuple[list[PageSummary], Sink]:
    """Check each policy file and write its page and the index into `out`.  Returns what the index
    lists and every diagnostic found (a file with errors still gets a page that shows them).  A
    policy with a population (`population`, else find_population's) gets its budget estimate page
    `simulate/NAME.html` in `estimate_lang`, linked from its page and the index."""
    out.mkdir(parents=True, exist_ok=True)
    dirs = list(source_dirs)
    everything = Sink()
    taken: set[str] = {"index"}
    summaries: list[PageSummary] = []
    for path in files:
        sink = Sink()
        checked = check_file(path, sink)
        everything.extend(sink.diagnostics)
        text: str | None = None
        text_name: str | None = None
        header = lower_header(checked.policy.header) if checked.policy is not None else None
        if header is not None and header.source and checked.source is not None:
            document = source_document(path, header, dirs, sink, checked.source)
            everything.extend(d for d in sink.diagnostics if d.code == codes.R101.id)
            text, text_name = document.text, document.note
        settled: list[tuple[Diagnostic, str]] = []
        if checked.model is not None and checked.source is not None and not sink.has_errors:
            # The full analysis, including what the policy's own declarations settle.
            result = analyse(checked.model, checked.source.text, Options(verbose=True))
            sink.extend(result.findings)
            everything.extend(result.findings)
            lang = default_lang(checked.model.policy.chinese)  # the page's findings' language
            settled = [(s.diagnostic, s.reason.render(lang)) for s in result.settled]
        sample = read_sample(path)
        built = PolicyPage(
            path, checked.source, checked.model, sink.diagnostics, text, text_name, settled, sample
        )
        name = slug(path, taken) + ".html"
        people = find_population(path, population)
        if people is not None and built.plan is not None:
            try:
                shown, line = estimate_page(path, built.plan, people, f"../{name}", estimate_lang)
            except rt.InputError as exc:
                problem = "; ".join(exc.problems)
                line = msg("simulate.unusable", population=people.name, problem=problem).render("zh")
                built.estimate = ("", line)
            else:
                (out / "simulate").mkdir(exist_ok=True)
                write_atomically(out / "simulate" / name, shown)
                built.estimate = (f"simulate/{name}", line)
        write_atomically(out / name, built.render())
        summaries.append(built.summary(name))
    write_atomically(out / "index.html", index_html(summaries))
    return summaries, everything
