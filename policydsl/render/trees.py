"""Build each measure's decision tree and the policy overview, in the drafters' own words."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import assert_never

from policydsl.evaluation.runtime import POT_RULE_WORDS
from policydsl.plan import nodes as P
from policydsl.render.diagram import Decision, Diagram, Group, Node
from policydsl.render.text import ExprPrinter, wrap
from policydsl.syntax.keywords import COMBINE_MODES, PAYMENT_FORMS

DECISION_WIDTH = 30  # columns (a Chinese character takes two) before a decision's text wraps
LEAF_WIDTH = 40

_ZH = {en: zh for zh, en in PAYMENT_FORMS.items() if zh != en}
_COMBINE_ZH = {
    "added": "叠加：各项金额相加",
    "highest": "就高不重复：只发其中最高一项",
    "exclusive": "互斥：只能享受其中一项",
}
# What a tree says of an exception that is itself replaced by an exception of its own.
REPLACED = "被例外条款取代：本项不发"
STATUS_WORDS = {
    "determined": "确定金额（符合条件即应得）",
    "ceiling": "最高限额（酌情核定，不是应得金额）",
    "undetermined": "待定（原文未定）",
}


def payment_words(forms: list[str]) -> str:
    return "、".join(_ZH.get(PAYMENT_FORMS.get(f, f), f) for f in forms) if forms else "现金"


def subexpressions(node: P.Expr) -> Iterator[P.Expr]:
    """`node` and every expression inside it, outside in: the figures a reviewer reads (a tier
    table's rows, a band's subject and rows; not a band's thresholds)."""
    yield node
    match node:
        case P.Arith() | P.Cmp() | P.And() | P.Or():
            yield from subexpressions(node.left)
            yield from subexpressions(node.right)
        case P.Since():
            yield from subexpressions(node.start)
            yield from subexpressions(node.duration)
        case P.Neg() | P.Not():
            yield from subexpressions(node.operand)
        case P.In():
            yield from subexpressions(node.subject)
        case P.MinMax():
            for arg in node.args:
                yield from subexpressions(arg)
        case P.Whole():
            yield from subexpressions(node.value)
            yield from subexpressions(node.size)
        case P.Year():
            yield from subexpressions(node.date)
        case P.Table():
            for row in node.rows:
                yield from subexpressions(row.value)
        case P.Band():
            yield from subexpressions(node.subject)
            for band in node.rows:
                yield from subexpressions(band.value)
        case P.Brackets():
            yield from subexpressions(node.subject)
            for bracket in node.rows:
                yield from subexpressions(bracket.rate)
        case (
            P.Const()
            | P.DateConst()
            | P.DurationConst()
            | P.BoolConst()
            | P.EnumConst()
            | P.FactRef()
            | P.ParamRef()
            | P.Unset()
        ):
            pass
        case _:
            assert_never(node)


class Words:
    """The reader's wording of a policy's pieces, shared by the diagrams and the report, read from
    the policy's `plan`: `printer` prints its expressions with labels."""

    def __init__(self, plan: P.Plan) -> None:
        self.plan = plan
        self.printer = ExprPrinter(plan, labels=True)

    def expr(self, node: P.Expr) -> str:
        return self.printer.expr(node)

    def question(self, node: P.Expr) -> str:
        """A condition asked as a question, each top-level `and` on its own line."""
        parts = self.printer.conjuncts(node)
        return "\n且 ".join(parts) + "？"

    def repeats(self, reason: str | None, cond: P.Expr) -> bool:
        """Whether the drafter's `reason` only repeats the condition's own words."""
        return not reason or reason.replace(" ", "") == self.expr(cond).replace(" ", "")

    def with_reason(self, cond: P.Expr, reason: str | None) -> str:
        """A condition followed by the drafter's reason for it, unless that only repeats it."""
        return self.expr(cond) + ("" if self.repeats(reason, cond) else f"（{reason}）")

    def kind(self, name: str) -> str:
        return self.plan.kinds.get(name, name)

    def unset_params(self, node: P.Expr) -> list[str]:
        """Labels of parameters (and tier rows) in `node` that the text leaves unset."""
        found: list[str] = []
        for sub in subexpressions(node):
            if isinstance(sub, P.ParamRef):
                spec = self.plan.params.get(sub.name)
                if spec is not None and any(isinstance(v.value, P.Unset) for v in spec.versions):
                    found.append(spec.label)
            elif isinstance(sub, P.Table | P.Band) and any(isinstance(r.value, P.Unset) for r in sub.rows):
                found.append("部分档次金额")
        return list(dict.fromkeys(found))

    def amount_status(self, amount: P.Amount) -> str:
        """determined, ceiling or undetermined: how a reviewer must read a clause's figure.  It is
        what the evaluator says (interpreter.amount): a figure that reads an unset parameter or tier
        row is unknown whatever its caps (for the applicants it reaches: a diagram shows the worst);
        an unset cap leaves only a ceiling."""
        if amount.mode == "unset" or amount.expr is None or self.unset_params(amount.expr):
            return "undetermined"
        if amount.floor is not None and self.unset_params(amount.floor.expr):
            return "undetermined"
        if any(self.unset_params(cap.expr) for cap in amount.caps):
            return "ceiling"
        if amount.offset is not None and self.unset_params(amount.offset.expr):
            return "ceiling"
        return amount.mode

    def amount_lines(self, amount: P.Amount) -> list[str]:
        """The figure and caps of a clause, tier tables one row to a line."""
        lines: list[str] = []
        if amount.mode == "unset" or amount.expr is None:
            lines.append("金额：原文未定")
        else:
            if amount.floor is not None:
                lines.extend(
                    self._figure("最低：" if amount.mode == "ceiling" else "保底：", amount.floor.expr)
                )
            lines.extend(self._figure("最高：" if amount.mode == "ceiling" else "金额：", amount.expr))
        for cap in amount.caps:
            lines.extend(self._figure("封顶：", cap.expr))
        if amount.offset is not None and amount.expr is not None:
            lines.extend(self._figure("扣除已获：", amount.offset.expr))
        return lines

    def amount_brief(self, amount: P.Amount) -> str:
        """A clause's figure on one line: `最高 1000万`, `50% × 投入，封顶 100万`."""
        if amount.mode == "unset" or amount.expr is None:
            text = "金额未定"
        else:
            text = ("最高 " if amount.mode == "ceiling" else "") + self._brief(amount.expr)
            if amount.floor is not None:
                low = self._brief(amount.floor.expr)
                text = f"最低 {low}，{text}" if amount.mode == "ceiling" else f"{text}，保底 {low}"
        for cap in amount.caps:
            text += "，封顶 " + self._brief(cap.expr)
        if amount.offset is not None and amount.expr is not None:
            text += "，扣除已获 " + self._brief(amount.offset.expr)
        return text

    def _row_key(self, table: P.Table, row: P.TableRow) -> str:
        if row.key is None:
            return "其他"
        return self.printer.enum_member(self.printer.fact_enum(table.fact), row.key)

    def _brief(self, expr: P.Expr) -> str:
        if isinstance(expr, P.Table):
            rows = "／".join(f"{self._row_key(expr, r)} {self.expr(r.value)}" for r in expr.rows)
            return f"按{self.fact_label(expr.fact)}：{rows}"
        if isinstance(expr, P.Band) and expr.counted_from is not None:
            rows = "／".join(f"{self.printer.years(y)} {self.expr(r.value)}" for y, r in self._years(expr))
            return f"自{expr.counted_from}当年起逐年：{rows}"
        if isinstance(expr, P.Band):
            rows = "／".join(f"{self.printer.band_condition(r)} {self.expr(r.value)}" for r in expr.rows)
            return f"按{self.expr(expr.subject)}分档：{rows}"
        if isinstance(expr, P.Brackets):
            rows = "／".join(f"{self.printer.band_condition(r)}部分 {self.expr(r.rate)}" for r in expr.rows)
            return f"按{self.expr(expr.subject)}超额累进：{rows}"
        return self.expr(expr)

    def _figure(self, lead: str, expr: P.Expr) -> list[str]:
        if isinstance(expr, P.Table):
            rows = ["  " + self._row_key(expr, r) + "：" + self.expr(r.value) for r in expr.rows]
            return [f"{lead}按{self.fact_label(expr.fact)}分档", *rows]
        if isinstance(expr, P.Band) and expr.counted_from is not None:
            rows = [f"  {self.printer.years(y)}：{self.expr(r.value)}" for y, r in self._years(expr)]
            return [f"{lead}自{expr.counted_from}当年起逐年", *rows]
        if isinstance(expr, P.Band):
            rows = [f"  {self.printer.band_condition(r)}：{self.expr(r.value)}" for r in expr.rows]
            return [f"{lead}按{self.expr(expr.subject)}分档", *rows]
        if isinstance(expr, P.Brackets):
            rows = [f"  {self.printer.band_condition(r)}部分：{self.expr(r.rate)}" for r in expr.rows]
            return [f"{lead}按{self.expr(expr.subject)}超额累进", *rows]
        return [lead + self.expr(expr)]

    @staticmethod
    def _years(expr: P.Band) -> list[tuple[tuple[int, int], P.BandRow]]:
        return list(zip(expr.years, expr.rows, strict=True))

    def fact_label(self, name: str) -> str:
        """The label of the fact (under any name it may be given) or parameter `name`."""
        fact = self.plan.facts.get(self.plan.aliases.get(name, name))
        if fact is not None:
            return fact.label
        param = self.plan.params.get(name)
        return param.label if param is not None else name

    def measure_title(self, measure: P.Measure) -> str:
        return measure.label

    def measure_name_label(self, name: str) -> str:
        """The label of the measure called `name` (the name when the plan has none such)."""
        return next((m.label for m in self.plan.measures if m.name == name), name)

    def counted(self, limit: P.FundingLimit) -> str:
        """What a funding limit takes off before this award: the funding received and the awards of
        the measures it counts (paid first, in the order written)."""
        return " − ".join([self.expr(limit.received), *map(self.measure_name_label, limit.measures)])

    def pays(self, measure: P.Measure) -> str:
        return payment_words(list(measure.forms))

    def combine(self, mode: str) -> str:
        return _COMBINE_ZH.get(COMBINE_MODES.get(mode, mode), mode)


def _dedent(lines: list[str], width: int) -> list[str]:
    """Wrap each line; rows of a tier table keep their indent on continuation lines."""
    out: list[str] = []
    for line in lines:
        indent = "  " if line.startswith("  ") else ""
        wrapped = wrap(line.strip(), width - len(indent))
        out.extend(indent + w for w in wrapped)
    return out


class _TreeBuilder:
    """Builds one measure's tree.  Node ids derive from the measure and clause names, so the same
    policy always gives the same ids in the same order."""

    def __init__(self, words: Words, measure: P.Measure) -> None:
        self.words = words
        self.m = self.plan = measure
        self.exceptions = {g.default: g for g in measure.groups}
        self.prefix = measure.name
        self.d = Diagram(measure.name, words.measure_title(measure))
        # Edges still waiting for the next node of the main line: (tail, role).
        self.open: list[tuple[str, str]] = []

    def id(self, *parts: str) -> str:
        return ".".join((self.prefix, *parts))

    def decision(self, node_id: str, role: str, text: str, lines: list[str], decision: Decision) -> Node:
        title = "\n".join(_dedent(text.split("\n"), DECISION_WIDTH))
        return self.d.add(Node(node_id, role, title, _dedent(lines, DECISION_WIDTH), decision=decision))

    def step(self, node: Node, go_on: str = "flow") -> None:
        """Append `node` to the main line: the waiting edges lead to it; continue from `node`."""
        self.enter(node.id, self.open)
        self.open = [(node.id, go_on)]

    def enter(self, head: str, tails: list[tuple[str, str]]) -> None:
        for tail, role in tails:
            self.d.link(tail, head, role)

    def gate(self, node: Node, go_on: str, fail_title: str, fail_lines: list[str]) -> None:
        """A decision on the main line whose other answer ends in `不符合`."""
        self.step(node, go_on)
        title = "\n".join(wrap(fail_title, LEAF_WIDTH))
        fail = self.d.add(Node(node.id + ".fail", "ineligible", title, _dedent(fail_lines, DECISION_WIDTH)))
        self.d.link(node.id, fail.id, "no" if go_on == "yes" else "yes")

    def reason(self, reason: str | None, cond: P.Expr) -> list[str]:
        """The drafter's reason under a condition, unless it only repeats the condition."""
        if self.words.repeats(reason, cond):
            return []
        return [f"（{reason}）"]

    @staticmethod
    def cite(cite: str | None) -> list[str]:
        return [f"依据：{cite}"] if cite else []

    # ------------------------------------------------------------------ the tree
    def build(self) -> Diagram:
        w, m = self.words, self.m
        title = "\n".join(wrap(f"措施：{w.measure_title(m)}", LEAF_WIDTH))
        # the name the policy file gives it only in the tooltip, as the overview does
        root = Node(self.id("measure"), "measure", title, self.cite(m.cite), note=f"措施 {m.name}")
        self.step(self.d.add(root))
        self.gates()
        self.awards()
        for bonus in self.plan.bonuses:
            self.bonus(bonus)
        self.rules()
        if len(self.open) > 1:
            # Bonuses leave several arrows waiting: they meet in the measure's final amount.
            self.step(self.d.add(Node(self.id("total"), "flow", "本措施金额", ["奖励加上适用的追加"])))
        return self.d

    def gates(self) -> None:
        w, m = self.words, self.m
        validity = w.plan.validity.text
        if validity is not None:
            decision = Decision("validity", w.plan.validity)
            node = self.decision(self.id("validity"), "gate", "政策在有效期内？", [validity], decision)
            self.gate(node, "yes", "不符合：政策不在有效期内", [])
        for number, req in enumerate(w.plan.eligibility, 1):
            node = self.decision(
                self.id(f"eligibility{number}"),
                "gate",
                w.question(req.cond),
                [*self.reason(req.written_reason, req.cond), *self.cite(req.cite)],
                Decision("eligibility", req),
            )
            self.gate(node, "yes", "不符合：" + (req.written_reason or "不满足申报条件"), [])
        if m.applicants is not None and m.applicants.written:
            text = "申报主体为" + "、".join(w.kind(k) for k in m.applicants.written) + "？"
            decision = Decision("applicants", m.applicants)
            node = self.decision(self.id("applicants"), "gate", text, [], decision)
            self.gate(node, "yes", "不符合：不是本措施的申报主体", [])
        requirements = [g for g in m.gates if g.kind == "require"]
        for i, req in enumerate(requirements, 1):
            node = self.decision(
                self.id(f"require{i}"),
                "gate",
                w.question(req.cond),
                [*self.reason(req.written_reason, req.cond), *self.cite(req.cite)],
                Decision("require", req),
            )
            self.gate(node, "yes", "不符合：" + (req.written_reason or "不满足本措施的要求"), [])
        exclusions = [g for g in m.gates if g.kind == "exclude"]
        for i, exc in enumerate(exclusions, 1):
            node = self.decision(
                self.id(f"exclude{i}"),
                "gate",
                "排除情形：" + w.question(exc.cond),
                self.cite(exc.cite),
                Decision("exclude", exc),
            )
            self.gate(node, "no", "不符合：" + (exc.written_reason or "属于排除情形"), [])

    def rows(self) -> list[list[P.Clause]]:
        """The award clauses as the settlement sees them (`Measure.groups`): a row for each default
        clause, its exceptions first in the order they are tried, then the default itself; a row for
        each award on its own.  An exception that has exceptions of its own stands in its default's
        row (its own are asked there, `chain`), so its row holds only them.  Rows stand in the order
        their first clause is written."""
        awards = {c.id: c for c in self.plan.awards}

        def row_of(c: P.Clause) -> str:
            return c.exception_of if c.exception_of in awards else c.id

        rows: dict[str, list[P.Clause]] = {}
        for c in self.plan.awards:
            rows.setdefault(row_of(c), [])
        for key, members in rows.items():
            group = self.exceptions.get(key)
            members.extend(awards[e] for e in (group.exceptions if group is not None else ()))
            if row_of(awards[key]) == key:
                members.append(awards[key])
        return [members for members in rows.values() if members]

    def group(
        self, group: list[P.Clause], entry: list[tuple[str, str]]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Draw one default clause and its exceptions from the `entry` edges: each clause's conditions
        in a line ending in its leaf; a failing condition tries the next clause of the group.
        Returns the leaves and the edges left when no clause of the group applies."""
        leaves: list[str] = []
        for clause in group:
            leaf, failing = self.chain(clause, entry)
            leaves.append(leaf)
            if not failing:
                return leaves, []  # a clause without conditions always applies; nothing after it is tried
            entry = failing
        return leaves, entry

    def conditions(
        self, clause: P.Clause, entry: list[tuple[str, str]], *parts: str
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The conditions of `clause` in a line from the `entry` edges, their node ids under `parts`.
        Returns the edges taken when all hold and the edges of each failing condition."""
        failing: list[tuple[str, str]] = []
        for i, cond in enumerate(clause.conditions, 1):
            node = self.decision(
                self.id(*parts, f"if{i}"),
                "condition",
                ("除非：" if cond.negated else "") + self.words.question(cond.cond),
                [],
                Decision("condition", cond, clause.id),
            )
            self.enter(node.id, entry)
            entry = [(node.id, "no" if cond.negated else "yes")]
            failing.append((node.id, "yes" if cond.negated else "no"))
        return entry, failing

    def chain(self, clause: P.Clause, entry: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
        """The conditions of `clause` in a line from the `entry` edges, ending in its leaf.  Returns
        the leaf id and the failing edges (tail, role) of its conditions.  An exception with
        exceptions of its own asks each of them before its leaf: one that applies replaces it, while
        it still replaces the rest of its row (settlement groups by the direct default)."""
        short = clause.id.split(".", 1)[1]
        entry, failing = self.conditions(clause, entry, "clause", short)
        own = self.exceptions.get(clause.id)
        if own is not None and clause.exception_of is not None:
            replaced = self.d.add(Node(self.id("clause", short, "replaced"), "ineligible", REPLACED, []))
            for other in (self.plan.clause(e) for e in own.exceptions):
                holds, fails = self.conditions(
                    other, entry, "clause", short, "unless", other.id.split(".", 1)[1]
                )
                self.enter(replaced.id, holds)
                entry = fails
        leaf = self.leaf(clause)
        self.enter(leaf.id, entry)
        if len(failing) > 1:
            # Any failing condition leads to the same place; one join point keeps the arrows few.
            join = self.d.add(Node(self.id("clause", short, "else"), "flow", "以上条件不全满足", []))
            self.enter(join.id, failing)
            failing = [(join.id, "flow")]
        return leaf.id, failing

    def leaf(self, clause: P.Clause) -> Node:
        w, m = self.words, self.m
        amount = clause.amount
        status = w.amount_status(amount)
        lines = w.amount_lines(amount)
        lines.append("性质：" + STATUS_WORDS[status])
        figures = [amount.expr, *(c.expr for c in amount.caps)] if amount.expr is not None else []
        unset = list(dict.fromkeys(p for f in figures for p in w.unset_params(f)))
        if unset:
            lines.append("待定：" + "、".join(unset) + "（原文未定）")
        if clause.kind == "bonus":
            lines.append("在已适用的奖励之上另加")
        if clause.exception_of is not None:
            target = self.plan.clause(clause.exception_of)
            priority = f"，优先级 {clause.priority}" if clause.priority is not None else ""
            lines.append(f"例外：适用时取代{target.title}{priority}")
            group = self.exceptions[clause.exception_of]
            ties = [t for tie in group.ties if clause.id in tie for t in tie if t != clause.id]
            if ties:
                names = "、".join(self.plan.clause(t).title for t in ties)
                lines.append(f"与{names}优先级相同：同时适用时结果待定")
        lines.append("支付方式：" + w.pays(m))
        lines.extend(self.cite(clause.cite))
        short = clause.id.split(".", 1)[1]
        return self.d.add(
            Node(
                self.id("clause", short),
                status,
                "\n".join(wrap(clause.title, LEAF_WIDTH)),
                _dedent(lines, LEAF_WIDTH),
                clause=clause.id,
            )
        )

    def awards(self) -> None:
        groups = self.rows()
        if not groups:
            return
        if len(groups) == 1:
            leaves, left = self.group(groups[0], self.open)
            if left:
                end = self.d.add(Node(self.id("none"), "ineligible", "不符合：不满足给予条件", []))
                self.enter(end.id, left)
            self.open = [(leaf, "flow") for leaf in leaves]
            if len(leaves) > 1:
                self.step(self.d.add(Node(self.id("amount"), "flow", "本措施金额", ["适用的一项条款的金额"])))
            return
        hub = Node(self.id("awards"), "flow", "奖励条款", ["逐项判断，适用的条款金额相加"])
        self.step(self.d.add(hub))
        entry = self.open
        all_leaves: list[str] = []
        for g, group in enumerate(groups, 1):
            leaves, left = self.group(group, entry)
            all_leaves.extend(leaves)
            if left:
                end = self.d.add(Node(self.id(f"group{g}", "none"), "ineligible", "本项不适用", []))
                self.enter(end.id, left)
        self.open = [(leaf, "flow") for leaf in all_leaves]
        self.step(
            self.d.add(
                Node(self.id("amount"), "flow", "本措施金额", ["适用条款的金额相加；均不适用则不符合"])
            )
        )

    def bonus(self, bonus: P.Clause) -> None:
        """A bonus is a detour on the main line: its conditions lead to its leaf and on; a failing
        condition skips it."""
        leaves, left = self.group([bonus], self.open)
        self.open = [(leaf, "flow") for leaf in leaves] + left

    def rules(self) -> None:
        w, m = self.words, self.m
        for i, limit in enumerate(m.funding_limits, 1):
            lines = [
                "各级财政资助合计不超过 " + w.expr(limit.limit),
                "本项 ≤ " + w.expr(limit.limit) + " − " + w.counted(limit),
                *self.cite(limit.cite),
            ]
            self.step(
                self.d.add(
                    Node(self.id(f"funding_limit{i}"), "rule", "资助总额上限", _dedent(lines, LEAF_WIDTH))
                )
            )
        for i, cap in enumerate(m.group_caps, 1):
            per = w.fact_label(cap.per)
            how = (
                "超出时按比例核减各成员金额"
                if cap.allocate == "proportional"
                else "超出时如何分配原文未定：各成员金额只是上限"
            )
            lines = [f"同一{per}的成员合计不超过 {w.expr(cap.amount)}", how, *self.cite(cap.cite)]
            self.step(
                self.d.add(Node(self.id(f"group_cap{i}"), "rule", "集体封顶", _dedent(lines, LEAF_WIDTH)))
            )
        for i, quota in enumerate(m.quotas, 1):
            rank = (
                f"按{w.expr(quota.rank)}从高到低遴选"
                if quota.rank is not None
                else f"入选与否以“{w.fact_label(quota.selected_by)}”为准"
                if quota.selected_by is not None
                else "原文未说明排序：名额内谁入选待定"
            )
            lines = [f"每年不超过 {quota.count} 个", rank, *self.cite(quota.cite)]
            self.step(self.d.add(Node(self.id(f"quota{i}"), "rule", "名额", _dedent(lines, LEAF_WIDTH))))
        for i, pref in enumerate(m.preferences, 1):
            lines = [
                w.expr(pref.cond),
                *([pref.reason] if pref.reason else []),
                "（影响遴选次序，不影响金额）",
            ]
            lines.extend(self.cite(pref.cite))
            self.step(self.d.add(Node(self.id(f"prefer{i}"), "rule", "优先支持", _dedent(lines, LEAF_WIDTH))))
        for i, budget in enumerate(m.budgets, 1):
            lines = [f"每年 {w.expr(budget.amount)}", *self.cite(budget.cite)]
            self.step(self.d.add(Node(self.id(f"budget{i}"), "rule", "年度预算", _dedent(lines, LEAF_WIDTH))))
        if m.instalments:
            for stage in m.instalments:
                share = "余额" if stage.share is None else w.expr(stage.share)
                name = f"「{stage.written_label}」" if stage.written_label else stage.name
                node = self.decision(
                    self.id("instalment", stage.name),
                    "rule",
                    f"分期{name}：兑付{share}\n" + w.question(stage.cond),
                    self.cite(stage.cite),
                    Decision("instalment", stage),
                )
                clawback = "已兑付部分不予追回" if m.no_clawback else "已兑付部分予以追回"
                self.gate(node, "yes", "丧失本期及以后各期兑付资格", [clawback])
            done = Node(self.id("paid"), "flow", "全部分期兑付", ["支付方式：" + w.pays(m)])
            self.step(self.d.add(done))


def measure_tree(plan: P.Plan, measure: P.Measure) -> Diagram:
    """The decision tree of one measure of `plan`: shared gates, its own gates, each clause's
    conditions and the award each leads to, then the rules applied to the measure's amount."""
    return _TreeBuilder(Words(plan), measure).build()


def overview(plan: P.Plan) -> Diagram:
    """The whole policy: its measures, which kinds of applicant each serves, and how they combine."""
    w = Words(plan)
    title = plan.title if plan.headed else "政策"
    d = Diagram("overview", title)
    lines: list[str] = []
    if plan.headed:
        document = dict(plan.document)
        if document.get("issuer"):
            lines.append(f"发文机关：{document['issuer']}")
        if document.get("docno"):
            lines.append(f"文号：{document['docno']}")
        if plan.issued:
            lines.append(f"印发：{plan.issued.isoformat()}")
        validity = plan.validity.text
        if validity:
            lines.append(f"有效期：{validity}")
    d.add(Node("policy", "measure", "\n".join(wrap(title, LEAF_WIDTH)), _dedent(lines, LEAF_WIDTH)))
    top = "policy"
    if plan.eligibility:
        lines = ["· " + (r.written_reason or w.expr(r.cond)) for r in plan.eligibility]
        d.add(Node("eligibility", "gate", "共同申报条件（各措施均须满足）", _dedent(lines, LEAF_WIDTH)))
        d.link("policy", "eligibility")
        top = "eligibility"
    measures = plan.measures
    names = {m.name for m in measures}
    compact = len(measures) > COMPACT_MEASURES
    kinds = [] if compact else list(plan.kinds)
    for k in kinds:
        d.add(Node(f"kind.{k}", "kind", w.kind(k), note=f"申报主体类型 {k}"))
        d.link(top, f"kind.{k}", "serves")
    for m in measures:
        rows: list[tuple[str, str]] = []
        for clause in m.clauses:
            status = w.amount_status(clause.amount)
            text = clause.title + "：" + w.amount_brief(clause.amount)
            rows.append((status, "\n".join(wrap(text, LEAF_WIDTH))))
        rules = []
        if m.funding_limits:
            rules.append("资助总额上限")
        if m.quotas:
            rules.append("名额 " + "、".join(str(q.count) for q in m.quotas))
        if m.group_caps:
            rules.append("集体封顶")
        if m.instalments:
            rules.append("分期兑付")
        if rules:
            rows.append(("rule", "；".join(rules)))
        served = served_kinds(m)
        if compact:
            # No applicant-kind ovals: with many measures their arrows cross the whole page.
            who = "、".join(w.kind(k) for k in served) if served else "所有申报主体"
            lines = _dedent([f"适用主体：{who}"], LEAF_WIDTH)
        else:
            lines = [*([f"依据：{m.cite}"] if m.cite else [])]
        lines.append("支付方式：" + w.pays(m))
        title = "\n".join(wrap(w.measure_title(m), LEAF_WIDTH))
        node = Node(f"measure.{m.name}", "measure", title, lines, note=f"措施 {m.name}")
        node.rows = rows
        d.add(node)
        if compact:
            continue
        if served:
            for k in served:
                d.link(f"kind.{k}", node.id, "serves")
        else:
            d.link(top, node.id, "serves" if kinds else "flow")
    if compact:
        columns = _article_columns(d, measures)
        for column in columns:
            first = column[0]
            d.link(top, first.nodes[0], "flow", head_group=first.id)
    else:
        # Measures of the same (first) kind of applicant stand in one column, one under the other.
        by_kind: dict[str, list[str]] = {}
        for m in measures:
            served = served_kinds(m)
            by_kind.setdefault(served[0] if served else "", []).append(f"measure.{m.name}")
        for stack in by_kind.values():
            for upper, lower in itertools.pairwise(stack):
                d.link(upper, lower, "order")
    covered: set[str] = set()
    rule_nodes: list[str] = []
    for i, combine in enumerate(plan.combinations, 1):
        lines = [
            *([combine.reason] if combine.reason else []),
            *([f"依据：{combine.cite}"] if combine.cite else []),
        ]
        node = d.add(Node(f"combine{i}", "rule", w.combine(combine.mode), _dedent(lines, LEAF_WIDTH)))
        for n in combine.measures:
            if n in names:
                d.link(f"measure.{n}", node.id, "combine")
                covered.add(n)
        rule_nodes.append(node.id)
    for i, cap in enumerate(plan.total_caps, 1):
        lines = [*([f"依据：{cap.cite}"] if cap.cite else [])]
        node = d.add(Node(f"total_cap{i}", "rule", f"累计封顶 {w.expr(cap.amount)}", lines))
        for member in cap.measures:
            if member in names:
                d.link(f"measure.{member}", node.id, "combine")
        rule_nodes.append(node.id)
    for i, other in enumerate(plan.other_documents, 1):
        head = "与其他政策同类奖励就高不重复" if other.mode == "highest" else "与其他政策同类奖励互斥"
        rule = (
            f"本政策补足超出{other.label}的部分"
            if other.mode == "highest"
            else f"{other.label}大于0时本政策不予支付"
        )
        lines = [
            rule,
            *([other.reason] if other.reason else []),
            *([f"依据：{other.cite}"] if other.cite else []),
        ]
        node = d.add(Node(f"other_documents{i}", "rule", head, _dedent(lines, LEAF_WIDTH)))
        for n in other.measures:
            if n in names:
                d.link(f"measure.{n}", node.id, "combine")

    for pot in plan.pots:
        rule = POT_RULE_WORDS.get(pot.allocate, POT_RULE_WORDS[None])
        lines = [
            f"{'每年' if pot.each_year else ''}由各申请人共享，{rule}",
            "单个申请人所得为上限",
            *([f"依据：{pot.cite}"] if pot.cite else []),
        ]
        head = f"{pot.label}资金池 {w.expr(pot.amount)}"
        node = d.add(Node(f"pot.{pot.name}", "rule", head, _dedent(lines, LEAF_WIDTH)))
        for member in pot.measures:
            if member in names:
                d.link(f"measure.{member}", node.id, "combine")
        rule_nodes.append(node.id)
    uncovered = [m.name for m in measures if m.name not in covered]
    if len(measures) > 1:
        lines = ["同一申请人可获得的合计"]
        if len(uncovered) > 1:
            lines.append("未声明合并方式的措施同时适用时，合计只是上限")
        total = d.add(Node("total", "flow", "合计", _dedent(lines, LEAF_WIDTH)))
        for node_id in rule_nodes:
            d.link(node_id, total.id, "combine")
        role = "undeclared" if len(uncovered) > 1 else "flow"
        if compact:
            # One arrow from each frame that holds a measure in no combination, not one per measure.
            for group in d.groups:
                if any(member.split(".", 1)[1] in uncovered for member in group.nodes):
                    d.link(group.nodes[-1], total.id, role, tail_group=group.id)
        else:
            for n in uncovered:
                d.link(f"measure.{n}", total.id, role)
    return d


# Above this many measures, the overview frames them by the article they cite, in at most
# COMPACT_COLUMNS columns, and names the applicant kinds in each box instead of drawing them.
COMPACT_MEASURES = 8
COMPACT_COLUMNS = 4


def _article_columns(d: Diagram, measures: tuple[P.Measure, ...]) -> list[list[Group]]:
    """Frame the measures by the article they cite (in the text's order) and stack the frames in
    at most COMPACT_COLUMNS columns, each frame under the one before it in its column."""
    by_cite: dict[str, list[str]] = {}
    for m in measures:
        by_cite.setdefault(m.cite or "", []).append(f"measure.{m.name}")
    groups = [
        Group(f"article{i}", f"依据 {cite}" if cite else "未注明依据", tuple(members))
        for i, (cite, members) in enumerate(by_cite.items(), 1)
    ]
    d.groups.extend(groups)
    # Consecutive frames share a column, so the page reads in the text's order, down then across.
    count = min(COMPACT_COLUMNS, len(groups))
    height = -(-len(measures) // count)
    columns: list[list[Group]] = [[]]
    for group in groups:
        filled = sum(len(g.nodes) for g in columns[-1])
        if columns[-1] and filled + len(group.nodes) > height and len(columns) < count:
            columns.append([])
        columns[-1].append(group)
    for column in columns:
        stack = [member for group in column for member in group.nodes]
        for upper, lower in itertools.pairwise(stack):
            d.link(upper, lower, "order")
    return columns


def served_kinds(measure: P.Measure) -> tuple[str, ...]:
    """The kinds of applicant a measure names, in the order the text names them."""
    return measure.applicants.written if measure.applicants is not None else ()
