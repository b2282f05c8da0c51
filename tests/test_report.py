"""The review site: self-contained pages, anchors that resolve, and a real browser that draws them."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policydsl.api import compile_policy
from policydsl.checking.pipeline import check_file
from policydsl.codes import CODES
from policydsl.commands.cli import main
from policydsl.diagnostics import Severity, Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.examples import first_day
from policydsl.plan.lower import lower
from policydsl.render.diagram import ROLES
from policydsl.render.report import _source_folders, build_site, find_source, inline_svg, slug
from tests.browser import BROWSER_ARGS, browser_api, chromium
from tests.conftest import DATA, POLICIES, ROOT

PLATFORM = DATA / "diagrams" / "platform.policy"
SOURCES = DATA / "report"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    files = [PLATFORM, *sorted(POLICIES.glob("*.policy"))]
    pages, _ = build_site(files, out, [SOURCES])
    assert len(pages) == len(files)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site `make demo` builds: `policydsl report policies/*.policy -o SITE`, nothing else given."""
    out = tmp_path_factory.mktemp("demo")
    files = [str(p) for p in sorted(POLICIES.glob("*.policy"))]
    result = CliRunner().invoke(main, ["report", *files, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "R101" not in result.output, result.output
    return out


def page(site: Path) -> str:
    return (site / "platform.html").read_text(encoding="utf-8")


def ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def local_links(html: str) -> Iterator[str]:
    for m in re.finditer(r'(?:xlink:)?href="#([^"]*)"', html):
        yield m.group(1)


def test_index_lists_every_policy(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in index
    assert 'href="platform.html">示例市工业互联网平台培育办法</a>' in index
    for path in POLICIES.glob("*.policy"):
        assert f'href="{path.stem}.html"' in index
        assert (site / f"{path.stem}.html").is_file()


def test_pages_are_self_contained(site: Path) -> None:
    for path in site.glob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in html
        assert "<script" not in html
        assert "<link" not in html
        assert not re.search(r'\bsrc="', html)
        assert not re.search(r'href="(?:https?:)?//', html), path.name
        assert "@import" not in html and "url(" not in html
        assert "Noto Sans CJK SC" in html


def test_every_local_link_has_its_target(site: Path) -> None:
    for path in site.glob("*.html"):
        html = path.read_text(encoding="utf-8")
        known = ids(html)
        missing = {target for target in local_links(html) if target not in known}
        assert not missing, (path.name, sorted(missing)[:5])


def test_ids_are_unique_across_the_inline_drawings(site: Path) -> None:
    html = page(site)
    found = re.findall(r'\bid="([^"]+)"', html)
    assert len(found) == len(set(found))


def test_the_source_text_sits_beside_the_clauses_with_links_both_ways(site: Path) -> None:
    html = page(site)
    assert "第五条 对列入省级重点支持的平台" in html
    # the clause cites its article, and the article links back to the clause
    m = re.search(r'id="clause-platform_award\.national".*?href="#(src-\d+)"', html, re.S)
    assert m is not None
    anchor = m.group(1)
    article = re.search(
        rf'<mark class="article" id="{anchor}">(.*?)</mark><span class="backlinks">(.*?)</span>', html
    )
    assert article is not None
    assert article.group(1).startswith("第五条 对列入省级重点支持的平台")
    assert 'href="#clause-platform_award.national"' in article.group(2)


def test_the_policy_file_is_shown_coloured_and_findings_link_to_its_lines(site: Path) -> None:
    html = page(site)
    section = re.search(r'<section id="policy-file">(.*?)</section>', html, re.S)
    assert section is not None
    code = section.group(1)
    # keywords, declared names, numbers and strings each carry the lexer's class
    assert '<span class="kd">measure</span>' in code or '<span class="kd">措施</span>' in code
    for css in ("k", "m", "s2", "nf", "p"):
        assert f'<span class="{css}">' in code, css
    lines = PLATFORM.read_text(encoding="utf-8").count("\n")
    assert f'id="policy-line-{lines}"' in code
    # a finding's place is a link to its line, and its excerpt is coloured too
    assert re.search(r'<a href="#policy-line-\d+">platform\.policy:\d+:\d+</a>', html)
    assert re.search(r'<pre class="excerpt policy-code">.*?<span class="', html)
    assert ".policy-code .k {" in html


def test_the_policy_file_is_escaped(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text(
        'policy "</pre><script>alert(1)</script>" { issued 2021-01-01 }  # <img src=x onerror=alert(1)>\n'
        "fact x: money\nfact x: money\n",
        encoding="utf-8",
    )
    build_site([policy], tmp_path / "site")
    html = (tmp_path / "site" / "p.html").read_text(encoding="utf-8")
    assert 'id="policy-file"' in html  # a page with errors shows the file too
    assert "<script" not in html and "<img" not in html
    assert "&lt;/pre&gt;&lt;script&gt;" in html


def test_a_citation_not_found_is_marked(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text(
        'policy "测试" { source "doc.txt" }\n'
        'measure m "措施" cite "第九十九条" { award 1万 cite "第一条" }\n',
        encoding="utf-8",
    )
    (tmp_path / "doc.txt").write_text("第一条 内容。\n", encoding="utf-8")
    build_site([policy], tmp_path / "site")
    html = (tmp_path / "site" / "p.html").read_text(encoding="utf-8")
    assert '<span class="cite missing" title="原文中未找到该条文">第九十九条</span>' in html
    assert '<mark class="article"' in html and "第一条 内容。" in html


def test_no_source_text_is_marked_unlike_a_citation_the_text_lacks(tmp_path: Path) -> None:
    """Without a source text a citation cannot be checked (grey, dashed); with one, a citation it
    lacks is an error in the encoding (struck through).  Both looked the same."""
    policy = tmp_path / "p.policy"
    policy.write_text('measure m "措施" cite "第九十九条" { award 1万 cite "第一条" }\n', encoding="utf-8")
    build_site([policy], tmp_path / "site")
    html = (tmp_path / "site" / "p.html").read_text(encoding="utf-8")
    assert '<span class="cite nosource" title="未嵌入原文，无法核对该条文">第九十九条</span>' in html
    assert "cite missing" not in html
    css = html[html.index("<style>") : html.index("</style>")]
    nosource = re.search(r"\.cite\.nosource \{([^}]*)\}", css)
    missing = re.search(r"\.cite\.missing \{([^}]*)\}", css)
    assert nosource is not None and missing is not None
    assert "line-through" in missing.group(1) and "line-through" not in nosource.group(1)


def test_findings_are_anchored_and_linked_from_their_clauses_and_articles(site: Path) -> None:
    html = page(site)
    findings = re.findall(r'<div class="finding sev-\w+" id="(finding-\d+)">', html)
    assert findings and len(findings) == html.count('<div class="finding ')
    # the P201 overlap between `center` and `pilot`: on both measure cards, and under the articles
    # they cite (第四条, 第六条), each a link to the finding's anchor
    overlap = re.search(r'<div class="finding sev-warning" id="(finding-\d+)"><div>.{0,200}P201', html)
    assert overlap is not None
    anchor = overlap.group(1)
    for measure in ("center", "pilot"):
        card = html[html.index(f'id="measure-{measure}"') :]
        card = card[: card.index("</article>")]
        assert f'href="#{anchor}"' in card, measure
    articles = re.findall(
        r'<mark class="article" id="src-\d+">(.*?)</mark><span class="backlinks">(.*?)</span></span>', html
    )
    citing = [text[:4] for text, backs in articles if f'href="#{anchor}"' in backs]
    assert "第四条 " in citing and "第六条 " in citing
    # settled findings are anchored too, and marked as settled where they are listed
    settled = html[html.index('id="settled"') :]
    assert re.search(r'<div class="finding sev-\w+" id="finding-\d+">', settled)
    assert "finding-ref sev-warning settled" in html or "finding-ref sev-info settled" in html


def test_the_page_drawings_have_no_internal_titles(site: Path) -> None:
    html = page(site)
    assert "<title>" not in html[html.index("<body>") :]
    assert "&lt;TABLE&gt;" not in html
    assert 'xlink:title="制造业创新中心配套奖励&#10;依据：第四条' in html


def test_diagrams_are_inline_svg(site: Path) -> None:
    html = page(site)
    assert html.count("<svg") == 1 + 3  # the overview and one tree per measure
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "措施：平台培育奖补" in html


def test_examples_run_and_findings_and_open_points_are_listed(site: Path) -> None:
    html = page(site)
    assert "国家级中心" in html
    assert '<span class="badge pass">通过</span>' in html
    assert 'id="findings"' in html
    undetermined = html[html.index('id="undetermined"') :]
    assert "参数「试点奖励金额」" in undetermined
    assert 'href="#clause-pilot.1"' in undetermined
    assert "只给出最高限额" in undetermined


def test_findings_show_witnesses_and_settled_ones_their_reason(site: Path) -> None:
    html = page(site)
    findings = html[html.index('<section id="findings">') : html.index('<section id="examples">')]
    assert '<h3 id="code-P201">' in findings
    # the witness applicant, with the drafters' labels and enum values by their label
    assert "<th>见证申请人</th>" in findings
    assert "<th>创新中心级别（center_level）</th><td>国家级（national）</td>" in findings
    assert 'href="#measure-center"' in findings
    settled = findings[findings.index('id="settled"') :]
    assert "确认理由：试点示范另行发文，可与平台奖补叠加" in settled


def test_the_findings_of_baoan_follow_the_grouping_and_fit_a_few_screens(site: Path) -> None:
    html = (site / "baoan_industrial_internet.html").read_text(encoding="utf-8")
    findings = html[html.index('<section id="findings">') :]
    findings = findings[: findings.index("</section>")]
    # one card for the 197 pairs of measures, not one card each
    assert findings.count('class="finding') < 20
    assert findings.count("<code>P206</code>") == 2 and "<code>P201</code>" not in findings
    group = findings[findings.index('<h3 id="code-P206">') :]
    # the pairs about the same subject lead, each with its two amounts and its applicant folded
    assert group.count("<th>同一事项</th>") == 12
    assert '<a href="#measure-large_platform">large_platform</a> 与 <a href="#measure-pro_platform">' in group
    assert "<summary>其余 185 对（逐对列出）</summary>" in group


def test_colours_in_the_page_match_the_diagrams(site: Path) -> None:
    html = page(site)
    for name, role in ROLES.items():
        assert f".role-{name} {{ background: {role.fill}; border-color: {role.border}; }}" in html


def test_a_policy_with_errors_gets_a_page_that_shows_them(tmp_path: Path) -> None:
    policy = tmp_path / "bad.policy"
    policy.write_text("measure m { award 1万 if nonsense }\n", encoding="utf-8")
    pages, sink = build_site([policy], tmp_path / "site")
    assert sink.has_errors and not pages[0].parsed
    html = (tmp_path / "site" / "bad.html").read_text(encoding="utf-8")
    assert "unknown name `nonsense`" in html
    assert "<svg" not in html


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_every_bundled_policy_has_its_text_beside_it(path: Path) -> None:
    """The repository ships each bundled policy's source document in `policies/`, under the name
    its header gives, so a fresh clone's review site embeds it."""
    checked = check_file(path, Sink())
    assert checked.policy is not None and checked.policy.header is not None
    name = checked.policy.header.source
    assert name is not None, "a bundled policy names its source document"
    assert find_source(path, name, []) == (POLICIES / name).resolve()


@pytest.mark.parametrize("sample", sorted((POLICIES / "samples").glob("*.json")), ids=lambda p: p.stem)
def test_the_demo_site_shows_each_sample_applicant_with_its_reasons(demo: Path, sample: Path) -> None:
    """A policy's page shows its bundled sample applicant (policies/samples/NAME.json): per measure
    the status and every condition, met or not, with the facts that decided it and its article: the
    `conditions` of `eval --format json`, in Chinese."""
    policy = POLICIES / f"{sample.stem}.policy"
    html = (demo / f"{sample.stem}.html").read_text(encoding="utf-8")
    start = html.index("示例申请人")
    section = html[start : html.index("</section>", start)]
    assert f"samples/{sample.name}" in section
    evaluator, _ = compile_policy(policy)
    assert evaluator is not None
    plan = evaluator.plan
    day = first_day(plan)
    facts = json.loads(sample.read_text(encoding="utf-8"))
    decision = evaluator.evaluate(facts, day, partial=True)
    data = decision.to_dict()
    for m in data["measures"]:
        assert html_escape(f"{m['label']}：{rt.describe(decision.measures[m['measure']])}") in section
        for c in m["conditions"]:
            assert html_escape(c["label"]) in section, c
            for value in c["facts"].values():
                assert value is None or html_escape(value) in section, c
            if c["article"]:
                assert f">{html_escape(c['article'])}</" in section, c
    unmet = sum(1 for m in data["measures"] for c in m["conditions"] if c["value"] is False)
    assert section.count('class="badge unmet"') == unmet
    assert re.search(r"[a-z]{4,} (?:is|not|the)\b", re.sub(r"<[^>]+>|<code>.*?</code>", "", section)) is None


def test_the_demo_site_embeds_every_source_and_finds_every_citation(demo: Path) -> None:
    for path in sorted(POLICIES.glob("*.policy")):
        html = (demo / f"{path.stem}.html").read_text(encoding="utf-8")
        assert '<pre class="source-text">' in html, path.name
        assert "原文未嵌入" not in html and 'class="cite missing' not in html, path.name
        assert "政策文件所在目录" in html


def test_a_policy_away_from_its_text_is_warned_about_and_nothing_else_is_searched(tmp_path: Path) -> None:
    """Only the policy's folder and --sources folders are searched: a copy of a bundled policy
    without its text gets R101, never a text found somewhere outside (a checkout's neighbours, the
    installed package)."""
    policy = tmp_path / "jiangmen.policy"
    shutil.copyfile(POLICIES / "jiangmen_special_fund.policy", policy)
    _, sink = build_site([policy], tmp_path / "site")
    (message,) = refusals(sink)
    assert "`002_feaf6a41846fe068.txt` was not found" in message
    html = (tmp_path / "site" / "jiangmen.html").read_text(encoding="utf-8")
    assert "原文未嵌入" in html and '<pre class="source-text">' not in html
    _, sink = build_site([policy], tmp_path / "site", [POLICIES])
    assert refusals(sink) == []
    assert '<pre class="source-text">' in (tmp_path / "site" / "jiangmen.html").read_text(encoding="utf-8")
    assert [folder for folder, _ in _source_folders(policy, [POLICIES])] == [tmp_path, POLICIES]


def test_sources_are_looked_up_only_by_name(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_text("x", encoding="utf-8")
    assert find_source(tmp_path / "p.policy", "doc.txt", []) == tmp_path / "doc.txt"
    assert find_source(tmp_path / "p.policy", "../doc.txt", [tmp_path]) is None
    assert find_source(tmp_path / "p.policy", "missing.txt", [tmp_path]) is None


def test_slugs_are_unique_and_safe() -> None:
    taken: set[str] = set()
    assert slug(Path("a/深圳 policy.policy"), taken) == "policy"
    assert slug(Path("b/policy.policy"), taken) == "policy-2"
    assert slug(Path("江门.policy"), taken) == "policy-3"


def test_inline_svg_prefixes_ids() -> None:
    svg = (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg>\n<!-- c -->\n'
        b'<svg><g id="node1"><a xlink:href="#clause-x"></a></g></svg>'
    )
    assert inline_svg(svg, "t") == '<svg><g id="t-node1"><a xlink:href="#clause-x"></a></g></svg>'


# ------------------------------------------------------------------------------ in a real browser


@pytest.mark.parametrize("name", ["platform.html", "index.html"])
def test_the_page_opens_in_a_browser(site: Path, name: str) -> None:
    executable = chromium()
    sync_api = browser_api()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            tab = browser.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto((site / name).as_uri())
            assert tab.evaluate("document.characterSet") == "UTF-8"
            boxes = tab.evaluate(
                "[...document.querySelectorAll('svg')].map(s => {"
                " const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
            )
            assert all(w > 0 and h > 0 for w, h in boxes), boxes
            missing = tab.evaluate(
                "[...document.querySelectorAll('a')].map(a => a.getAttribute('href')"
                " || a.getAttribute('xlink:href')).filter(h => h && h.startsWith('#'))"
                ".filter(h => !document.getElementById(decodeURIComponent(h.slice(1))))"
            )
            assert missing == []
            assert not errors
            # nothing but the page itself was fetched: the site works offline
            assert all(url.startswith("file://") for url in requests), requests
            if name == "platform.html":
                assert len(boxes) == 4
                assert tab.title() == "示例市工业互联网平台培育办法"
                font = tab.evaluate("getComputedStyle(document.body).fontFamily")
                assert font.startswith('"Noto Sans CJK SC"')
                # following a clause's citation lands on its article, highlighted as the target
                tab.click("#clause-platform_award\\.national a.cite")
                target = tab.evaluate("document.querySelector(':target').textContent")
                assert target.startswith("第五条")
                tab.click("mark.article:target + .backlinks a.back")
                assert tab.evaluate("location.hash").startswith("#")
                assert tab.evaluate("document.querySelector(':target') !== null")
        finally:
            browser.close()


# The page of each bundled policy in the site `make demo` builds, at a desktop and a phone width.
WIDTHS = [1400, 390]
DEMO_PAGES = sorted(f"{p.stem}.html" for p in POLICIES.glob("*.policy"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    sync_api = browser_api()
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["index.html", *DEMO_PAGES])
def test_the_demo_site_in_a_browser(demo: Path, browser: Any, name: str, width: int) -> None:
    """Each page of a fresh clone's `make demo` site, as a reviewer opens it on a desktop and on a
    phone: the source text is there and no citation is struck through, following a citation lights
    up its article, an article lists the clauses citing it and the findings about it, the drawings
    and the page fit the width, tooltips are text, nothing is fetched and nothing fails."""
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
        requests: list[str] = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto((demo / name).as_uri())
        # the page, not the reader, scrolls sideways: nothing is wider than the screen
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px wider than a {width}px screen"
        boxes = tab.evaluate(
            "[...document.querySelectorAll('.diagram svg')].map(s => {"
            " const r = s.getBoundingClientRect(), p = s.parentElement.getBoundingClientRect();"
            " return [r.width, r.height, p.width]; })"
        )
        assert all(0 < w <= p and h > 0 for w, h, p in boxes), boxes
        titles = tab.evaluate(
            "[...document.querySelectorAll('svg title, svg a')].map(e => e.textContent && e.tagName"
            " === 'title' ? e.textContent : e.getAttribute('xlink:title') || '')"
        )
        assert not [t for t in titles if "<" in t or "TABLE" in t], name
        if name != "index.html":
            # the sample applicant's decision, each condition's article a link into the text
            assert tab.locator(".sample .sample-measure").count() >= 1
            assert tab.locator(".sample .cite.missing").count() == 0
            assert tab.locator("pre.source-text").is_visible()
            # the policy file, coloured by the lexer: keywords and names drawn in different colours
            keyword = tab.locator("#policy-file .policy-code span.k").first
            assert keyword.count() == 1 and tab.locator("#policy-file .policy-code span.s2").count() > 0
            colour = "e => getComputedStyle(e).color"
            assert keyword.evaluate(colour) != tab.locator("#policy-file span.n").first.evaluate(colour)
            assert tab.locator(".cite.missing, .cite.nosource").count() == 0
            assert "原文未嵌入" not in tab.content()
            # a clause's citation leads to its article, lit up as the target
            cite = tab.locator(".clause a.cite").first
            href = cite.get_attribute("href")
            cite.click()
            assert tab.evaluate("location.hash") == href
            target = tab.locator("mark.article:target")
            assert target.count() == 1 and target.is_visible()
            background = tab.evaluate("getComputedStyle(document.querySelector(':target')).backgroundColor")
            assert background == "rgb(253, 224, 71)"
            # the article lists the clauses that cite it, and the findings about it where there are any
            backs = tab.locator("mark.article:target + .backlinks")
            assert backs.locator("a.back").count() >= 1
            both = tab.locator(".backlinks:has(a.back):has(a.finding-ref)")
            if tab.locator(".measure a.finding-ref").count():
                assert both.count() >= 1, "no article lists its findings"
                link = both.first.locator("a.finding-ref").first
                link.click()
                assert tab.evaluate("document.querySelector(':target').classList.contains('finding')")
                # and the finding leads back to a clause or measure card listing it
                anchor = tab.evaluate("location.hash")
                assert tab.locator(f'.measure a.finding-ref[href="{anchor}"]').count() >= 1
        assert not errors, errors
        assert all(url.startswith("file://") for url in requests), requests
    finally:
        tab.close()


# ------------------------------------------------------------------------------ what `source` may embed

SOURCE_HEADER = 'policy "示例" {{\n  issued 2021-01-01\n  source "{name}"\n}}\n'


def report_with_source(tmp_path: Path, name: str, sources: list[Path] | None = None) -> tuple[str, Sink]:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    policy = folder / "p.policy"
    policy.write_text(SOURCE_HEADER.format(name=name), encoding="utf-8")
    _, sink = build_site([policy], tmp_path / "site", sources or [])
    return (tmp_path / "site" / "p.html").read_text(encoding="utf-8"), sink


def refusals(sink: Sink) -> list[str]:
    return [d.message for d in sink.diagnostics if d.code == "R101" and d.severity is Severity.WARNING]


def test_a_text_document_beside_the_policy_is_embedded_and_named(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "doc.txt").write_text("第一条 原文内容。", encoding="utf-8")
    html, sink = report_with_source(tmp_path, "doc.txt")
    assert "第一条 原文内容。" in html and refusals(sink) == []
    assert "doc.txt（政策文件所在目录）" in html


def test_a_document_in_a_sources_folder_is_embedded_and_named(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "doc.md").write_text("# 原文\n第一条 内容。", encoding="utf-8")
    html, sink = report_with_source(tmp_path, "doc.md", [tmp_path / "docs"])
    assert "第一条 内容。" in html and refusals(sink) == []
    assert f"doc.md（--sources {tmp_path / 'docs'}）" in html


@pytest.mark.parametrize(
    ("name", "why", "why_zh"),
    [
        (".env", "starts with a dot", "以点开头"),
        ("id_ed25519", "only .txt and .md", "只嵌入 .txt 和 .md"),
        ("key.pem", "only .txt and .md", "只嵌入 .txt 和 .md"),
        ("page.html", "only .txt and .md", "只嵌入 .txt 和 .md"),
        ("../secret.txt", "a file name", "不是文件名"),
        ("sub/doc.txt", "a file name", "不是文件名"),
    ],
)
def test_a_secret_beside_the_policy_is_never_published(
    tmp_path: Path, name: str, why: str, why_zh: str
) -> None:
    folder = tmp_path / "policies"
    (folder / "sub").mkdir(parents=True)
    secret = "PRIVATE KEY 0123456789"
    for file in (".env", "id_ed25519", "key.pem", "page.html", "sub/doc.txt"):
        (folder / file).write_text(secret, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(secret, encoding="utf-8")
    html, sink = report_with_source(tmp_path, name)
    assert secret not in html
    (message,) = refusals(sink)
    assert why in message
    # the page is read by Chinese reviewers: the reason is in Chinese there
    assert "原文未嵌入" in html and why_zh in html


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "outside.txt").write_text("SECRET", encoding="utf-8")
    (tmp_path / "policies" / "doc.txt").symlink_to(tmp_path / "outside.txt")
    html, sink = report_with_source(tmp_path, "doc.txt")
    assert "SECRET" not in html
    assert "leads outside" in refusals(sink)[0]


def test_a_symbolic_link_into_a_hidden_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policies" / ".ssh").mkdir(parents=True)
    (tmp_path / "policies" / ".ssh" / "notes.txt").write_text("SECRET", encoding="utf-8")
    (tmp_path / "policies" / "doc.txt").symlink_to(tmp_path / "policies" / ".ssh" / "notes.txt")
    html, sink = report_with_source(tmp_path, "doc.txt")
    assert "SECRET" not in html
    assert "starts with a dot" in refusals(sink)[0]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    os.mkfifo(tmp_path / "policies" / "doc.txt")
    html, sink = report_with_source(tmp_path, "doc.txt")  # would block forever if opened
    assert "not a regular file" in refusals(sink)[0]
    assert "原文未嵌入" in html


def test_a_missing_document_is_said_to_be_missing(tmp_path: Path) -> None:
    html, sink = report_with_source(tmp_path, "nowhere.txt")
    assert "not found" in refusals(sink)[0]
    assert "原文未嵌入" in html


def test_the_refusal_code_has_a_page() -> None:
    page = (ROOT / "docs" / "errors" / "R101.md").read_text(encoding="utf-8")
    assert page.startswith(f"# R101: {CODES['R101'].title}\n")


def test_the_header_of_a_page_with_errors_is_the_plans_header(tmp_path: Path) -> None:
    """Both pages word the header from `plan.lower.lower_header`: a policy that breaks only in a
    measure shows the same issuer, document number, days and cite as the same policy without it."""
    head = (
        'policy "示例办法" {\n  issuer "某局"\n  docno "某〔2024〕1号"\n  issued 2024-01-02\n'
        '  valid from unset until 2026-12-31\n  cite "第一条"\n}\nfact x "x": money >= 0\n'
    )
    good, bad = tmp_path / "good.policy", tmp_path / "bad.policy"
    good.write_text(head + "measure m { award x }\n", encoding="utf-8")
    bad.write_text(head + "measure m { award 1万 if nonsense }\n", encoding="utf-8")
    pages, _ = build_site([good, bad], tmp_path / "site")
    assert [p.parsed for p in pages] == [True, False]
    assert [(p.title, p.issuer, p.issued) for p in pages] == [("示例办法", "某局", "2024-01-02")] * 2

    def header(name: str) -> str:
        html = (tmp_path / "site" / name).read_text(encoding="utf-8")
        table = re.search(r'<table class="facts">(.*?)</table>', html)
        assert table is not None
        return table.group(1).replace(name.replace(".html", ".policy"), "FILE")

    assert header("good.html") == header("bad.html")
    for shown in ("某局", "某〔2024〕1号", "2024-01-02", "起始日期原文未定 至 2026-12-31", "第一条"):
        assert shown in header("good.html")
    assert "有效期起始日期原文未定" in (tmp_path / "site" / "good.html").read_text(encoding="utf-8")


def test_each_policy_with_a_population_links_its_budget_estimate(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<th>测算</th>" in index
    for path in POLICIES.glob("*.policy"):
        assert (POLICIES / "samples" / f"{path.stem}_population.csv").is_file()
        href = f"simulate/{path.stem}.html"
        estimate = (site / href).read_text(encoding="utf-8")
        policy_page = (site / f"{path.stem}.html").read_text(encoding="utf-8")
        assert f'href="{href}"' in index and f'<a class="estimate" href="{href}">' in policy_page
        # evaluated on the sample applicants' day, said on both pages
        checked = check_file(path, Sink())
        assert checked.model is not None and checked.source is not None
        day = first_day(lower(checked.model, checked.source.text))
        when = f"评估日期 {day.isoformat()}" if day is not None else "评估日期未定"
        assert when in estimate and when in policy_page
        assert '<html lang="zh-CN">' in estimate and "测算：" in estimate and "<svg" in estimate
        assert f'href="../{path.stem}.html"' in estimate
        assert not re.search(r'\bsrc="|href="(?:https?:)?//|<script|<link', estimate)
    # a policy with no population beside it gets no link
    assert '<a class="estimate"' not in page(site) and not (site / "simulate" / "platform.html").exists()


def test_report_takes_a_population_and_gives_its_estimate_in_english(tmp_path: Path) -> None:
    from tests.test_simulate import POPULATION, SHENZHEN

    population = tmp_path / "people.csv"
    population.write_text(POPULATION, encoding="utf-8")
    out = tmp_path / "site"
    args = ["report", str(SHENZHEN), "-o", str(out), "--population", str(population), "--lang", "en"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    estimate = (out / "simulate" / f"{SHENZHEN.stem}.html").read_text(encoding="utf-8")
    assert "Budget estimate:" in estimate and "(6 applicants, python)" in estimate
    assert "Rows that could not be decided: 1" in estimate and "Evaluated on 2022-12-31" in estimate
    policy_page = (out / f"{SHENZHEN.stem}.html").read_text(encoding="utf-8")
    assert "people.csv 中 6 户（评估日期 2022-12-31）" in policy_page


def test_a_population_that_cannot_be_used_is_said_on_the_page(tmp_path: Path) -> None:
    from tests.test_simulate import SHENZHEN

    population = tmp_path / "bad.csv"
    population.write_text("id,colour\n1,red\n", encoding="utf-8")
    out = tmp_path / "site"
    result = CliRunner().invoke(
        main, ["report", str(SHENZHEN), "-o", str(out), "--population", str(population)]
    )
    assert result.exit_code == 0, result.output
    policy_page = (out / f"{SHENZHEN.stem}.html").read_text(encoding="utf-8")
    assert "测算人群 bad.csv 无法使用" in policy_page and "colour" in policy_page
    assert not (out / "simulate").exists()
    assert "Traceback" not in result.output
