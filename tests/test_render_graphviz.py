"""DOT golden files for every measure and overview, and real drawings with Chinese set as text."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file
from policydsl.diagnostics import Sink
from policydsl.plan.lower import lower
from policydsl.render.diagram import ROLES, Diagram
from policydsl.render.graphviz import FONT, RenderError, dot_source, render_bytes, render_file
from policydsl.render.trees import measure_tree, overview
from tests.conftest import DATA, POLICIES, golden

PLATFORM = DATA / "diagrams" / "platform.policy"
FILES = [PLATFORM, *sorted(POLICIES.glob("*.policy"))]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")


def model_of(path: Path) -> Model:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and not sink.has_errors
    return checked.model


def diagrams(path: Path) -> list[Diagram]:
    plan = lower(model_of(path))
    return [overview(plan), *(measure_tree(plan, m) for m in plan.measures)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dot_golden(path: Path, update_golden: bool) -> None:
    folder = DATA / "diagrams" / path.stem
    drawn = diagrams(path)
    for d in drawn:
        golden(folder / f"{d.name}.dot", dot_source(d), update_golden)
    if not update_golden:
        # A golden file for a measure that no longer exists would test nothing.
        assert sorted(p.stem for p in folder.glob("*.dot")) == sorted(d.name for d in drawn)


def test_dot_is_deterministic_across_runs() -> None:
    first = [dot_source(d) for d in diagrams(PLATFORM)]
    second = [dot_source(d) for d in diagrams(PLATFORM)]
    assert first == second


def test_font_is_set_on_graph_nodes_and_edges() -> None:
    text = dot_source(diagrams(PLATFORM)[1])
    assert f'graph [charset="UTF-8" fontname="{FONT}"' in text
    assert f'node [fontname="{FONT}"' in text
    assert f'edge [arrowsize=0.7 fontname="{FONT}"' in text


def test_colours_come_from_the_one_role_table() -> None:
    tree = diagrams(PLATFORM)[2]  # platform_award
    text = dot_source(tree)
    for node in tree.nodes:
        role = ROLES[node.role]
        line = next(
            line
            for line in text.splitlines()
            if line.lstrip().startswith(f'"{node.id}" [') or line.lstrip().startswith(f"{node.id} [")
        )
        assert f'fillcolor="{role.fill}"' in line, node.id
    legend = text[text.index("legend [") :]
    for name in tree.roles():
        assert ROLES[name].legend in legend
        assert ROLES[name].fill in legend


def test_labels_are_escaped_for_html_like_labels() -> None:
    from policydsl.render.diagram import Node

    d = Diagram("x", "a < b & c")
    d.add(Node("n", "gate", "甲 < 乙 & 丙", ['"引号"']))
    text = dot_source(d)
    assert "甲 &lt; 乙 &amp; 丙" in text
    assert "&quot;引号&quot;" in text


@needs_dot
def test_png_has_chinese_as_glyphs(tmp_path: Path) -> None:
    # Look at this file when changing the layout: Chinese must be readable text, not boxes.
    tree = diagrams(PLATFORM)[2]
    out = tmp_path / "platform_award.png"
    render_file(tree, out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 600 and height > 1000


@needs_dot
def test_a_cjk_font_is_installed_for_graphviz() -> None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fontconfig is not installed")
    families = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert FONT in families, "install a CJK font (Debian: fonts-noto-cjk) or diagrams show boxes"


@needs_dot
def test_svg_keeps_chinese_as_text() -> None:
    tree = diagrams(PLATFORM)[2]
    svg = render_bytes(tree, "svg").decode("utf-8")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "措施：平台培育奖补" in texts
    assert "申报主体为工业互联网平台？" in texts
    assert f'font-family="{FONT}' in svg


@needs_dot
def test_pdf_and_dot_outputs(tmp_path: Path) -> None:
    tree = diagrams(PLATFORM)[1]
    render_file(tree, tmp_path / "t.pdf")
    assert (tmp_path / "t.pdf").read_bytes()[:5] == b"%PDF-"
    render_file(tree, tmp_path / "t.dot")
    assert (tmp_path / "t.dot").read_text(encoding="utf-8") == dot_source(tree)


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"\.svg, \.png"):
        render_file(diagrams(PLATFORM)[1], tmp_path / "t.gif")


@needs_dot
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_tooltip_reads_markup(path: Path) -> None:
    """Graphviz titles a linked box with its HTML-like label's markup ("<TABLE>") unless told
    otherwise: every box and arrow carries its own text as its tooltip, linked or not."""
    for d in diagrams(path):
        for node in d.nodes:
            node.href = f"#{node.id}"
        svg = render_bytes(d, "svg").decode("utf-8")
        titles = [html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg)]
        assert titles, d.name
        assert not [t for t in titles if "<" in t or "TABLE" in t], d.name
        assert d.nodes[0].tooltip() in titles, (d.name, d.nodes[0].tooltip())


def test_a_tooltip_is_plain_text_even_with_a_backslash() -> None:
    from policydsl.render.diagram import Node

    d = Diagram("x", "x")
    d.add(Node("n", "gate", "路径 C:\\", ["第二行"], note="措施 n"))
    text = dot_source(d)
    assert 'tooltip="路径 C:\\\\\\n第二行\\n措施 n"' in text
