"""Decision trees and policy overviews as plain data: nodes, edges and the role that colours each."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from policydsl.plan import nodes as P


@attrs.frozen
class Role:
    """How one kind of node looks and what the legend says of it: `fill` and `border` colours,
    graphviz `shape` and `style`, and the `legend` text."""

    fill: str
    border: str
    shape: str
    style: str
    legend: str


# One meaning per colour, in every diagram and in the report's CSS (report.py reads this table).
ROLES: dict[str, Role] = {
    "measure": Role("#ffffff", "#111827", "box", "filled,bold", "政策 / 措施"),
    "gate": Role(
        "#dbeafe", "#1e40af", "box", "rounded,filled", "资格审查：有效期、申报条件、适用主体、排除情形"
    ),
    "condition": Role("#ede9fe", "#6d28d9", "box", "rounded,filled", "条款条件"),
    "determined": Role("#dcfce7", "#166534", "box", "filled", "确定金额：符合条件即应得"),
    "ceiling": Role("#fef3c7", "#b45309", "box", "filled", "最高限额：酌情核定，不是应得金额"),
    "undetermined": Role("#e5e7eb", "#4b5563", "box", "filled,dashed", "待定：原文未给出金额或参数"),
    "ineligible": Role("#fee2e2", "#b91c1c", "box", "rounded,filled", "不符合 / 不适用"),
    "rule": Role("#ccfbf1", "#0f766e", "box", "filled", "金额规则：资助上限、名额、分期、合并、累计封顶"),
    "kind": Role("#e0e7ff", "#3730a3", "ellipse", "filled", "申报主体类型"),
    "flow": Role("#f9fafb", "#6b7280", "box", "rounded,filled", "汇总"),
}


@attrs.frozen
class EdgeRole:
    """How one kind of edge looks: `color`, graphviz `style`, the `label` drawn on it and the
    `legend` text."""

    color: str
    style: str
    label: str
    legend: str


EDGE_ROLES: dict[str, EdgeRole] = {
    "yes": EdgeRole("#166534", "solid", "是", "绿色实线：是（条件成立）"),
    "no": EdgeRole("#b91c1c", "dashed", "否", "红色虚线：否（条件不成立）"),
    "flow": EdgeRole("#374151", "solid", "", "灰色实线：继续"),
    "combine": EdgeRole("#0f766e", "solid", "", "青色实线：计入合并或封顶规则"),
    "undeclared": EdgeRole("#9ca3af", "dashed", "", "浅灰虚线：原文未说明是否叠加（合计仅为上限）"),
    "serves": EdgeRole("#3730a3", "solid", "", "蓝紫实线：措施适用的申报主体"),
    # Not drawn: stacks the measures of one kind of applicant in a column so wide policies stay legible.
    "order": EdgeRole("#ffffff", "invis", "", ""),
}

# The applicant's path when a diagram is drawn for one applicant (`--facts`).
PATH_COLOR = "#db2777"


@attrs.frozen
class Decision:
    """What a decision node asks, for following one applicant's path: `kind` is validity,
    eligibility, applicants, require, exclude, condition or instalment; `subject` is the plan's node
    it asks (the policy's Validity, a Gate, the measure's ApplicantsGate, a clause's Condition, an
    Instalment); `clause` the clause id of a condition."""

    kind: str
    subject: P.Validity | P.Gate | P.ApplicantsGate | P.Condition | P.Instalment
    clause: str | None = None


@attrs.define
class Node:
    """A box in a diagram: stable `id`, its `role`, a bold `title` and further `lines` (already in
    the reader's words), the `decision` it asks (decision nodes only), the clause id `clause` a leaf
    stands for, the `figure` computed for one applicant, an `href` the report links it to, coloured
    `rows`, and a `note` its tooltip adds to its text (the name the policy file gives it)."""

    id: str
    role: str
    title: str
    lines: list[str] = attrs.field(factory=list)
    decision: Decision | None = None
    clause: str | None = None
    figure: str | None = None
    href: str | None = None
    rows: list[tuple[str, str]] = attrs.field(factory=list)
    note: str | None = None

    def tooltip(self) -> str:
        """The box's text as plain lines, for the tooltip of a drawing (never its markup)."""
        lines = [*self.title.split("\n"), *self.lines, *(text for _, text in self.rows)]
        if self.note:
            lines.append(self.note)
        return "\n".join(line.replace("\n", "") for line in lines if line)


@attrs.frozen
class Group:
    """Nodes drawn together in one frame: `id`, the frame's `label`, the member `nodes` in order."""

    id: str
    label: str
    nodes: tuple[str, ...]


@attrs.frozen
class Edge:
    """An arrow from `tail` to `head` with its `role` (yes, no, flow, combine, undeclared, serves).
    An arrow from or to a whole group (`tail_group`, `head_group`) starts or ends at its frame: it
    stands for every member of the group."""

    tail: str
    head: str
    role: str
    tail_group: str | None = None
    head_group: str | None = None


@attrs.define
class Diagram:
    """A whole diagram: `name` (file stem), `title`, `nodes` and `edges` in drawing order, and the
    `path` (node ids and edges) one applicant takes, empty unless drawn for an applicant."""

    name: str
    title: str
    nodes: list[Node] = attrs.field(factory=list)
    edges: list[Edge] = attrs.field(factory=list)
    path_nodes: set[str] = attrs.field(factory=set)
    path_edges: set[tuple[str, str]] = attrs.field(factory=set)
    groups: list[Group] = attrs.field(factory=list)

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def link(
        self,
        tail: str,
        head: str,
        role: str = "flow",
        *,
        tail_group: str | None = None,
        head_group: str | None = None,
    ) -> None:
        self.edges.append(Edge(tail, head, role, tail_group, head_group))

    def group_of(self, group_id: str) -> Group:
        for g in self.groups:
            if g.id == group_id:
                return g
        raise KeyError(group_id)

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def out(self, node_id: str) -> Iterator[Edge]:
        return (e for e in self.edges if e.tail == node_id)

    def roles(self) -> list[str]:
        """The node roles used, in the order of ROLES, for the legend."""
        used = {n.role for n in self.nodes} | {r for n in self.nodes for r, _ in n.rows}
        return [r for r in ROLES if r in used]

    def edge_roles(self) -> list[str]:
        used = {e.role for e in self.edges}
        return [r for r in EDGE_ROLES if r in used and EDGE_ROLES[r].legend]

    def leaves(self) -> dict[str, Node]:
        """Clause id -> the leaf that shows its award."""
        return {n.clause: n for n in self.nodes if n.clause is not None}
