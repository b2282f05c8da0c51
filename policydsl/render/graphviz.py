"""Diagrams to graphviz: DOT text with a legend, and SVG, PNG or PDF drawn by `dot`."""

from __future__ import annotations

import html
from pathlib import Path

import graphviz

from policydsl.files import write_atomically
from policydsl.render.diagram import EDGE_ROLES, PATH_COLOR, ROLES, Diagram, Node

# The font every label is set in; it must cover Chinese (Debian: fonts-noto-cjk).
FONT = "Noto Sans CJK SC"
FORMATS = ("svg", "png", "pdf", "dot")


class RenderError(Exception):
    """Graphviz could not draw a diagram (`dot` missing or failing)."""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _lines(text: str) -> str:
    return "<BR/>".join(_esc(line) for line in text.split("\n"))


def _tooltip(text: str) -> str:
    """Plain text as a DOT escString: the box's text, so that a drawing's tooltip never reads the
    markup of its HTML-like label (graphviz's default, "<TABLE>")."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label(node: Node) -> str:
    """An HTML-like label: the bold title, then each line left-aligned, then coloured rows."""
    # One row per line: graphviz sets lines broken with <BR/> inside <B> too close for Chinese.
    rows = [f'<TR><TD ALIGN="CENTER"><B>{_esc(line)}</B></TD></TR>' for line in node.title.split("\n")]
    for line in node.lines:
        rows.append(f'<TR><TD ALIGN="LEFT">{_esc(line) if line else " "}</TD></TR>')
    for role, text in node.rows:
        colour = ROLES[role]
        rows.append(
            f'<TR><TD ALIGN="LEFT" BALIGN="LEFT" BGCOLOR="{colour.fill}" COLOR="{colour.border}" BORDER="1">'
            f"{_lines(text)}</TD></TR>"
        )
    if node.figure is not None:
        rows.append(
            f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT COLOR="{PATH_COLOR}"><B>'
            f"{_lines(node.figure)}</B></FONT></TD></TR>"
        )
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _legend(diagram: Diagram) -> str:
    rows = ['<TR><TD COLSPAN="2"><B>图例</B></TD></TR>']
    for name in diagram.roles():
        role = ROLES[name]
        style = ' STYLE="DASHED"' if "dashed" in role.style else ""
        rows.append(
            f'<TR><TD BGCOLOR="{role.fill}" COLOR="{role.border}" BORDER="1"{style} WIDTH="28"> </TD>'
            f'<TD ALIGN="LEFT">{_esc(role.legend)}</TD></TR>'
        )
    for name in diagram.edge_roles():
        edge = EDGE_ROLES[name]
        rows.append(
            f'<TR><TD><FONT COLOR="{edge.color}">⟶</FONT></TD><TD ALIGN="LEFT">{_esc(edge.legend)}</TD></TR>'
        )
    if diagram.path_nodes:
        rows.append(
            f'<TR><TD><FONT COLOR="{PATH_COLOR}"><B>⟶</B></FONT></TD>'
            '<TD ALIGN="LEFT">粗线：本申请人的路径</TD></TR>'
        )
    return (
        '<<TABLE BORDER="1" COLOR="#9ca3af" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3">'
        + "".join(rows)
        + "</TABLE>>"
    )


def to_graphviz(diagram: Diagram, *, legend: bool = True) -> graphviz.Digraph:
    """The diagram as a graphviz graph, drawn top-down, nodes and edges in the diagram's order."""
    g = graphviz.Digraph(
        name=diagram.name,
        graph_attr={
            "rankdir": "TB",
            "charset": "UTF-8",
            "fontname": FONT,
            # an HTML-like label, as for the nodes: a plain one ending in `\` would escape its own
            # closing quote, and graphviz would reject the file
            "label": f"<{_lines(diagram.title)}>",
            "labelloc": "t",
            "fontsize": "18",
            "nodesep": "0.3",
            "ranksep": "0.35",
        },
        node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.12,0.06", "penwidth": "1.2"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.7"},
    )
    if diagram.groups:
        # edges may end at a frame; columns of frames keep the order of their arrows (the text's)
        g.attr(compound="true")

    def draw(graph: graphviz.Digraph, node: Node) -> None:
        role = ROLES[node.role]
        attrs: dict[str, str] = {
            "label": _label(node),
            "shape": role.shape,
            "style": role.style,
            "fillcolor": role.fill,
            "color": role.border,
            "tooltip": _tooltip(node.tooltip()),
        }
        if node.id in diagram.path_nodes:
            attrs.update(penwidth="3.5", color=PATH_COLOR)
        if node.href is not None:
            attrs["href"] = node.href
            attrs["target"] = "_top"
        graph.node(node.id, **attrs)

    # A node is drawn in the frame of its group: the whole group where its first member comes.
    group_of = {member: group for group in diagram.groups for member in group.nodes}
    drawn: set[str] = set()
    for node in diagram.nodes:
        group = group_of.get(node.id)
        if group is None:
            draw(g, node)
        elif group.id not in drawn:
            drawn.add(group.id)
            with g.subgraph(name=f"cluster_{group.id}") as sub:
                sub.attr(
                    label=f"<{_lines(group.label)}>",
                    color="#9ca3af",
                    style="rounded",
                    labeljust="l",
                    fontsize="13",
                )
                for member in group.nodes:
                    draw(sub, diagram.node(member))
    roles = {node.id: node.role for node in diagram.nodes}
    for edge in diagram.edges:
        line = EDGE_ROLES[edge.role]
        eattrs = {"color": line.color, "fontcolor": line.color, "style": line.style}
        if line.legend:
            eattrs["tooltip"] = _tooltip(line.legend)
        if edge.tail_group is not None:
            eattrs["ltail"] = f"cluster_{edge.tail_group}"
        if edge.head_group is not None:
            eattrs["lhead"] = f"cluster_{edge.head_group}"
        if roles.get(edge.head) != "ineligible":
            # Heavier edges keep the main line straight; the dead ends hang off to the side.
            eattrs["weight"] = "4"
        if line.label:
            eattrs["label"] = line.label
        if (edge.tail, edge.head) in diagram.path_edges:
            eattrs.update(color=PATH_COLOR, penwidth="3.5")
        g.edge(edge.tail, edge.head, **eattrs)
    if legend:
        with g.subgraph(name="cluster_legend") as sub:
            sub.attr(label="", color="white")
            sub.node("legend", label=_legend(diagram), shape="plain")
    return g


def dot_source(diagram: Diagram, *, legend: bool = True) -> str:
    """The DOT text of a diagram; the same diagram always gives the same text."""
    return str(to_graphviz(diagram, legend=legend).source)


def render_bytes(diagram: Diagram, fmt: str) -> bytes:
    """The drawing in `fmt` (svg, png, pdf, or dot for the DOT text)."""
    if fmt == "dot":
        return dot_source(diagram).encode("utf-8")
    try:
        data: bytes = to_graphviz(diagram).pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise RenderError("graphviz `dot` is not installed (Debian: apt-get install graphviz)") from exc
    except graphviz.CalledProcessError as exc:
        raise RenderError(f"graphviz failed: {exc.stderr.decode('utf-8', 'replace').strip()}") from exc
    return data


def render_file(diagram: Diagram, path: Path) -> None:
    """Draw the diagram into `path`, in the format its extension names."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise RenderError(f"cannot tell the format from `{path.name}`: use .svg, .png, .pdf or .dot")
    write_atomically(path, render_bytes(diagram, fmt))
