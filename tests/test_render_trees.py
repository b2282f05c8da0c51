"""The shape of decision trees and overviews: every clause has its leaf, every decision two answers."""

from __future__ import annotations

import itertools
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file, check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.plan.lower import lower
from policydsl.render.diagram import EDGE_ROLES, ROLES, Diagram
from policydsl.render.graphviz import render_bytes
from policydsl.render.trees import COMPACT_COLUMNS, measure_tree, overview
from policydsl.syntax import ast
from tests.conftest import DATA, POLICIES
from tests.strategies import GeneratedPolicy, applicants, evaluation_dates, policies

PLATFORM = DATA / "diagrams" / "platform.policy"
FILES = [PLATFORM, *sorted(POLICIES.glob("*.policy"))]


def tree_of(model: Model, measure: str) -> Diagram:
    """The tree of `measure`, drawn from the model's plan."""
    plan = lower(model)
    return measure_tree(plan, plan.measure(measure))


def model_of(path: Path) -> Model:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return checked.model


def model_text(text: str) -> Model:
    sink = Sink()
    checked = check_text("t.policy", text, sink)
    assert checked.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return checked.model


def reachable(d: Diagram) -> set[str]:
    seen: set[str] = set()
    stack = [d.nodes[0].id]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(e.head for e in d.out(n))
    return seen


def well_formed(d: Diagram) -> None:
    ids = [n.id for n in d.nodes]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    known = set(ids)
    for e in d.edges:
        assert e.tail in known and e.head in known, e
        assert e.role in EDGE_ROLES
    for n in d.nodes:
        assert n.role in ROLES
        if n.decision is not None:
            answers = sorted(e.role for e in d.out(n.id))
            assert answers == ["no", "yes"], (n.id, answers)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_clause_has_a_reachable_leaf_in_its_measures_tree(path: Path) -> None:
    model = model_of(path)
    assert model.measures
    plan = lower(model)
    for m in model.measures.values():
        tree = measure_tree(plan, plan.measure(m.name.text))
        well_formed(tree)
        leaves = tree.leaves()
        assert set(leaves) == {m.clause_id(c) for c in m.clauses}, m.name.text
        seen = reachable(tree)
        assert {leaf.id for leaf in leaves.values()} <= seen
        # Every node hangs off the measure's root: nothing is drawn that a reader cannot reach.
        assert seen == {n.id for n in tree.nodes}
        # Each condition of each clause is asked somewhere in the tree.
        asked = {id(n.decision.subject) for n in tree.nodes if n.decision is not None}
        for clause in plan.measure(m.name.text).clauses:
            for cond in clause.conditions:
                assert id(cond) in asked, (clause.id, cond)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_overview_shows_every_measure_and_who_it_serves(path: Path) -> None:
    model = model_of(path)
    view = overview(lower(model))
    well_formed(view)
    ids = {n.id for n in view.nodes}
    plan = lower(model)
    for name, m in model.measures.items():
        assert f"measure.{name}" in ids
        box = view.node(f"measure.{name}")
        for a in m.of(ast.Applicants):
            for kind in a.kinds:
                if view.groups:
                    # framed by article: each box names the kinds it serves, in Chinese
                    assert plan.kinds[kind.text] in "".join(box.lines), (name, box.lines)
                else:
                    assert any(
                        e.tail == f"kind.{kind.text}" and e.head == f"measure.{name}" for e in view.edges
                    )
    assert reachable(view) == ids


def test_an_overview_of_many_measures_is_framed_by_article_in_a_few_columns() -> None:
    """Bao'an's 21 measures: one frame per cited article, at most COMPACT_COLUMNS columns of frames,
    one arrow from each frame to the total, no identifiers in the boxes, and a drawing that fits a
    page (it was 3,700 pixels wide, a web of arrows from applicant kinds)."""
    plan = lower(model_of(POLICIES / "baoan_industrial_internet.policy"))
    view = overview(plan)
    assert [g.label for g in view.groups] == [f"依据 三(二){i}" for i in range(1, 8)]
    framed = sorted(n for g in view.groups for n in g.nodes)
    assert framed == sorted(f"measure.{m.name}" for m in plan.measures)
    assert not any(n.role == "kind" for n in view.nodes)
    heads = [e for e in view.edges if e.head_group is not None]
    assert 1 < len(heads) <= COMPACT_COLUMNS
    into_total = [e for e in view.edges if e.head == "total"]
    assert len(into_total) == len(view.groups) and all(e.tail_group for e in into_total)
    for m in plan.measures:
        box = view.node(f"measure.{m.name}")
        text = "\n".join([box.title, *box.lines, *(t for _, t in box.rows)])
        assert m.name not in text, (m.name, text)
        assert box.note == f"措施 {m.name}"
    if shutil.which("dot") is not None:
        svg = render_bytes(view, "svg").decode("utf-8")
        m = re.search(r'<svg width="(\d+)pt"', svg)
        assert m is not None and int(m.group(1)) * 4 // 3 <= 1600, m.group(1)


def test_gates_come_first_in_the_drafters_order() -> None:
    model = model_of(PLATFORM)
    tree = tree_of(model, "platform_award")
    chain = [n.id for n in tree.nodes if n.decision is not None]
    assert chain[:7] == [
        "platform_award.validity",
        "platform_award.eligibility1",
        "platform_award.eligibility2",
        "platform_award.eligibility3",
        "platform_award.applicants",
        "platform_award.exclude1",
        # the exception with the higher priority is tried before its default
        "platform_award.clause.national.if1",
    ]
    assert tree.node("platform_award.eligibility2").title == "距今(成立日期) 届满 1年？"
    assert tree.node("platform_award.applicants").title == "申报主体为工业互联网平台？"
    # an exclusion continues on "no" and ends the measure on "yes"
    assert {(e.head, e.role) for e in tree.out("platform_award.exclude1")} == {
        ("platform_award.exclude1.fail", "yes"),
        ("platform_award.clause.national.if1", "no"),
    }


def test_an_exception_is_tried_before_its_default_and_shows_its_priority() -> None:
    model = model_of(PLATFORM)
    tree = tree_of(model, "platform_award")
    national = tree.node("platform_award.clause.national")
    assert national.role == "ceiling"
    assert "最高：3000万" in national.lines
    assert "例外：适用时取代给予（default），优先级 1" in "".join(national.lines)
    # failing the exception's condition leads to the default's condition
    assert ("platform_award.clause.default.if1", "no") in {
        (e.head, e.role) for e in tree.out("platform_award.clause.national.if1")
    }


def test_leaves_show_formula_caps_status_payment_and_article() -> None:
    model = model_of(PLATFORM)
    tree = tree_of(model, "center")
    leaf = tree.node("center.clause.base")
    assert leaf.role == "determined"
    assert leaf.title == "给予「配套奖励」"
    assert leaf.lines == [
        "金额：50% × 上级扶持资金",
        "封顶：按创新中心级别分档",
        "  国家级：1亿",
        "  省级：5000万",
        "  市级：3000万",
        "性质：确定金额（符合条件即应得）",
        "支付方式：现金",
        "依据：第四条",
    ]
    limit = tree.node("center.funding_limit1")
    assert limit.role == "rule"
    assert "本项 ≤ 50% × 项目总投入 − 已获其他财政资助" in "".join(limit.lines)


def test_unset_amounts_are_undetermined_and_unless_continues_on_no() -> None:
    model = model_of(PLATFORM)
    tree = tree_of(model, "pilot")
    leaf = tree.node("pilot.clause.1")
    assert leaf.role == "undetermined"
    assert "待定：试点奖励金额（原文未定）" in leaf.lines
    cond = tree.node("pilot.clause.1.if1")
    assert cond.title.startswith("除非：")
    assert {(e.head, e.role) for e in tree.out(cond.id)} == {("pilot.clause.1", "no"), ("pilot.none", "yes")}


def test_bonus_quota_and_instalments_follow_the_award() -> None:
    model = model_of(PLATFORM)
    tree = tree_of(model, "platform_award")
    order = [n.id for n in tree.nodes]
    assert order.index("platform_award.amount") < order.index("platform_award.clause.3.if1")
    bonus = tree.node("platform_award.clause.3")
    assert "在已适用的奖励之上另加" in bonus.lines
    # both the bonus and skipping it lead to the quota
    into_quota = {e.tail for e in tree.edges if e.head == "platform_award.quota1"}
    assert into_quota == {"platform_award.clause.3", "platform_award.clause.3.if1"}
    h2 = tree.node("platform_award.instalment.h2")
    assert h2.title.startswith("分期「7-12月」：兑付余额")
    fail = tree.node("platform_award.instalment.h2.fail")
    assert fail.lines == ["已兑付部分不予追回"]


def test_several_award_groups_add_up_and_each_may_not_apply() -> None:
    model = model_text(
        """
        fact a "甲": bool
        fact b "乙": bool
        measure m "措施" {
          award one: 10万 if a
          award two: 20万 if b if a
          award three: ceiling 5万
        }
        """
    )
    tree = tree_of(model, "m")
    well_formed(tree)
    hub = [e.head for e in tree.out("m.awards")]
    assert hub == ["m.clause.one.if1", "m.clause.two.if1", "m.clause.three"]
    assert tree.node("m.group1.none").role == "ineligible"
    # two conditions fail into one join point, which leads to "not applicable"
    assert {e.tail for e in tree.edges if e.head == "m.clause.two.else"} == {
        "m.clause.two.if1",
        "m.clause.two.if2",
    }
    into_amount = {e.tail for e in tree.edges if e.head == "m.amount"}
    assert into_amount == {"m.clause.one", "m.clause.two", "m.clause.three"}


def test_tied_exceptions_are_marked_undetermined() -> None:
    model = model_text(
        """
        fact a: bool
        fact b: bool
        measure m {
          award base: 10万
          award x: exception base priority 1 20万 if a
          award y: exception base priority 1 30万 if b
        }
        """
    )
    tree = tree_of(model, "m")
    assert any("优先级相同" in line for line in tree.node("m.clause.x").lines)
    assert any("优先级相同" in line for line in tree.node("m.clause.y").lines)


def test_overview_shows_combinations_caps_and_undeclared_pairs() -> None:
    model = model_of(PLATFORM)
    view = overview(lower(model))
    assert view.node("combine1").title == "就高不重复：只发其中最高一项"
    assert view.node("total_cap1").title == "累计封顶 3000万"
    into = {(e.tail, e.role) for e in view.edges if e.head == "combine1"}
    assert into == {("measure.center", "combine"), ("measure.platform_award", "combine")}
    # pilot is in no combination: its edge to the total says so
    assert ("measure.pilot", "flow") in {(e.tail, e.role) for e in view.edges if e.head == "total"}
    rows = view.node("measure.platform_award").rows
    assert rows[0] == ("ceiling", "给予（default）：最高 1000万")
    assert rows[-1] == ("rule", "名额 30；分期兑付")


def test_same_model_same_diagram() -> None:
    once = model_of(PLATFORM)
    first = tree_of(once, "platform_award")
    again = model_of(PLATFORM)
    second = tree_of(again, "platform_award")
    assert [(n.id, n.title, n.lines) for n in first.nodes] == [(n.id, n.title, n.lines) for n in second.nodes]
    assert first.edges == second.edges


# How each clause amount reads in a diagram must be what the evaluator says of it: a figure that reads
# an unset parameter is undetermined (an unset cap leaves a ceiling), whatever the caps.
_AMOUNT_PRELUDE = """policy "t" {}
enum level "级别" { national "国家级", provincial "省级" }
fact investment "投入": money >= 0
fact lv "级别": level
param p "待定金额": money = unset
param rate "比例": percent = unset
param known "已定金额": money = 30万
measure m "m" {
  award %s
}
"""
_AMOUNTS = [
    "p",
    "p cap 100万",
    "50% * investment + p",
    "rate * investment cap 100万",
    "min(p, 100万)",
    "ceiling p cap 100万",
    "50% * investment cap p",
    "ceiling 50% * investment cap p",
    "known cap p",
    "by lv { national: p, otherwise: 10万 }",
    "by lv { national: unset, otherwise: 10万 }",
    "known",
    "50% * investment cap 100万",
    "ceiling 50% * investment",
    "unset cap 100万",
]


@pytest.mark.parametrize("written", _AMOUNTS)
def test_a_leaf_reads_as_the_evaluator_decides_its_amount(written: str) -> None:
    from policydsl.evaluation import runtime as rt
    from policydsl.evaluation.interpreter import Interpreter

    model = model_text(_AMOUNT_PRELUDE % written)
    leaf = tree_of(model, "m").node("m.clause.1")
    interpreter = Interpreter(model)
    worst = rt.EXACT
    for level in ("national", "provincial"):
        result = interpreter.evaluate({"investment": "10万", "lv": level}).measures["m"]
        precision = {rt.DETERMINED: rt.EXACT, rt.CEILING: rt.AT_MOST}.get(result.status, rt.UNKNOWN)
        worst = rt.combine_precision(worst, precision)
    expected = {rt.EXACT: "determined", rt.AT_MOST: "ceiling", rt.UNKNOWN: "undetermined"}[worst]
    assert leaf.role == expected
    if expected != "determined" and "ceiling" not in written and "unset" not in written:
        assert any(line.startswith("待定：") for line in leaf.lines), leaf.lines


# The diagram must say what the evaluator decides: following an applicant's answers through a
# measure's tree reaches the leaves of exactly the clauses the evaluator pays.
def _paid_by_diagram(model: Model, facts: dict[str, bool]) -> tuple[set[str], rt.Decision]:
    from policydsl.evaluation.interpreter import Interpreter
    from policydsl.render.path import Applicant, trace_measure

    m = model.measures["m"]
    tree = tree_of(model, m.name.text)
    well_formed(tree)
    applicant = Applicant(Interpreter(model), facts, None)
    trace_measure(tree, m.name.text, applicant)
    leaves = {n.clause for n in tree.nodes if n.clause is not None and n.id in tree.path_nodes}
    return {c for c in leaves if c is not None}, applicant.decision


_EXCEPTION_SHAPES = {
    "chain": """
        award d: 10万 if a
        award e1: exception d 20万 if b
        award e2: exception e1 30万 if c
    """,
    "chain_with_sibling": """
        award d: 10万
        award e1: exception d priority 2 20万 if a
        award e2: exception e1 30万 if b
        award e3: exception d priority 1 40万 if c
    """,
    "two_levels_under_an_unconditional_exception": """
        award d: 10万 if a
        award e1: exception d 20万
        award e2: exception e1 30万 if b if c
    """,
    "priorities": """
        award d: 10万 if a
        award low: exception d priority 1 20万 if b
        award high: exception d priority 5 30万 if c
    """,
}


@pytest.mark.parametrize("shape", sorted(_EXCEPTION_SHAPES))
def test_the_tree_pays_the_clauses_the_evaluator_pays(shape: str) -> None:
    model = model_text(
        "fact a: bool\nfact b: bool\nfact c: bool\nmeasure m {\n" + _EXCEPTION_SHAPES[shape] + "\n}\n"
    )
    for values in itertools.product((True, False), repeat=3):
        facts = dict(zip("abc", values, strict=True))
        paid, decision = _paid_by_diagram(model, facts)
        result = decision.measures["m"]
        if result.status == rt.UNDETERMINED:
            continue
        assert paid == set(result.clauses), (facts, paid, result.clauses)


def test_an_unwritten_priority_ties_with_priority_zero() -> None:
    # Settlement ranks an unwritten priority as 0, so these two are tied: both leaves must say so.
    model = model_text(
        """
        fact a: bool
        fact b: bool
        measure m {
          award base: 10万
          award x: exception base 20万 if a
          award y: exception base priority 0 30万 if b
        }
        """
    )
    tree = tree_of(model, "m")
    assert "与给予（y）优先级相同：同时适用时结果待定" in "".join(tree.node("m.clause.x").lines)
    assert "与给予（x）优先级相同：同时适用时结果待定" in "".join(tree.node("m.clause.y").lines)


def test_clauses_written_alike_keep_their_own_titles() -> None:
    model = model_text(
        """
        fact a: bool
        measure m {
          award 10万 if a
          award 10万 if a
        }
        """
    )
    tree = tree_of(model, "m")
    assert tree.node("m.clause.1").title == "给予（第 1 项）"
    assert tree.node("m.clause.2").title == "给予（第 2 项）"
    rows = overview(lower(model)).node("measure.m").rows
    assert [text.split("：")[0] for _, text in rows] == ["给予（第 1 项）", "给予（第 2 项）"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_generated_trees_pay_what_the_evaluator_pays(data: st.DataObject) -> None:
    # The class of defect: a diagram that re-derives the policy's meaning and draws something other
    # than what the evaluator decides.  For any policy and applicant, the leaves the applicant reaches
    # in a measure's tree are the clauses the evaluator pays, whenever it decides the measure.
    from policydsl.evaluation.interpreter import Interpreter
    from policydsl.render.path import Applicant, trace_measure

    drawn: GeneratedPolicy = data.draw(policies())
    sink = Sink()
    result = check_text("g.policy", drawn.text, sink)
    assert result.model is not None and result.source is not None and not sink.has_errors
    model = result.model
    facts = data.draw(applicants(drawn))
    date = data.draw(evaluation_dates(drawn))
    try:
        applicant = Applicant(Interpreter(model, result.source.text), facts, date)
    except rt.InputError:
        return
    for name, m in model.measures.items():
        outcome = applicant.decision.measures[name]
        if outcome.status not in (rt.DETERMINED, rt.CEILING):
            continue
        tree = tree_of(model, m.name.text)
        trace_measure(tree, m.name.text, applicant)
        asked = [n.decision for n in tree.nodes if n.id in tree.path_nodes and n.decision is not None]
        if any(applicant.truth(d) is None for d in asked):
            # a question the facts leave open (an exception whose condition is unknown makes the
            # amount a ceiling): the path stops there, highlighted up to the open question
            continue
        paid = {n.clause for n in tree.nodes if n.clause is not None and n.id in tree.path_nodes}
        assert paid == set(outcome.clauses), (name, facts, date, paid, outcome.clauses)
