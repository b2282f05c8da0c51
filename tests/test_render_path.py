"""One applicant's path through the diagrams, followed with the reference interpreter."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file, check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan.lower import lower
from policydsl.render.diagram import Diagram
from policydsl.render.path import FIGURE_WIDTH, Applicant, trace_measure, trace_overview
from policydsl.render.text import display_width
from policydsl.render.trees import measure_tree, overview
from tests.conftest import DATA, POLICIES

PLATFORM = DATA / "diagrams" / "platform.policy"
FACTS: dict[str, Any] = json.loads((DATA / "diagrams" / "platform.facts.json").read_text(encoding="utf-8"))
DAY = datetime.date(2022, 1, 1)


def tree_of(model: Model, measure: str) -> Diagram:
    """The tree of `measure`, drawn from the model's plan."""
    plan = lower(model)
    return measure_tree(plan, plan.measure(measure))


@pytest.fixture(scope="module")
def model() -> Model:
    sink = Sink()
    checked = check_file(PLATFORM, sink)
    assert checked.model is not None and checked.source is not None
    return checked.model


def applicant(model: Model, facts: dict[str, Any], day: datetime.date | None = DAY) -> Applicant:
    return Applicant(Interpreter(model, PLATFORM.read_text(encoding="utf-8")), facts, day)


def test_the_path_takes_the_exception_the_bonus_and_loses_the_second_stage(model: Model) -> None:
    m = model.measures["platform_award"]
    tree = tree_of(model, m.name.text)
    trace_measure(tree, m.name.text, applicant(model, FACTS))
    path = tree.path_nodes
    assert {
        "platform_award.measure",
        "platform_award.exclude1",
        "platform_award.clause.national",
        "platform_award.amount",
        "platform_award.clause.3",
        "platform_award.quota1",
        "platform_award.instalment.h2.fail",
    } <= path
    # the default is never tried once the exception applies, nor the dead ends of passed gates
    assert "platform_award.clause.default.if1" not in path
    assert "platform_award.validity.fail" not in path
    assert "platform_award.paid" not in path
    assert ("platform_award.clause.national.if1", "platform_award.clause.national") in tree.path_edges
    assert tree.node("platform_award.clause.national").figure == "本申请人：最高 3000万元"
    assert tree.node("platform_award.clause.3").figure == "本申请人：30万元"
    # 3030万 ceiling; the first half-year's 50% is paid and kept, the second stage is lost
    assert tree.node("platform_award.measure").figure == "本申请人：最高 1515万元"


def test_a_failed_gate_stops_the_path_and_says_why(model: Model) -> None:
    m = model.measures["center"]
    tree = tree_of(model, m.name.text)
    trace_measure(tree, m.name.text, applicant(model, FACTS))
    assert "center.applicants.fail" in tree.path_nodes
    assert "center.clause.base" not in tree.path_nodes
    figure = tree.node("center.measure").figure
    assert figure is not None and figure.startswith("本申请人：不符合")


def test_outside_the_validity_period_nothing_is_reached(model: Model) -> None:
    m = model.measures["center"]
    tree = tree_of(model, m.name.text)
    trace_measure(tree, m.name.text, applicant(model, FACTS, datetime.date(2030, 1, 1)))
    assert tree.path_nodes == {"center.measure", "center.validity", "center.validity.fail"}


def test_an_unknown_answer_stops_the_path_there(model: Model) -> None:
    facts = {k: v for k, v in FACTS.items() if k != "national_platform"}
    m = model.measures["platform_award"]
    tree = tree_of(model, m.name.text)
    trace_measure(tree, m.name.text, applicant(model, facts))
    assert "platform_award.clause.national.if1" in tree.path_nodes
    assert not {e for e in tree.path_edges if e[0] == "platform_award.clause.national.if1"}


def test_the_enterprise_path_computes_the_tiered_award(model: Model) -> None:
    facts = dict(
        FACTS, applicant="enterprise", upper_funding="3亿", investment="4亿", center_level="national"
    )
    facts["other_funding"] = Decimal(0)
    m = model.measures["center"]
    tree = tree_of(model, m.name.text)
    trace_measure(tree, m.name.text, applicant(model, facts))
    assert tree.node("center.clause.base").figure == "本申请人：1亿元"
    assert "center.funding_limit1" in tree.path_nodes


def test_the_overview_highlights_paying_measures_and_the_total(model: Model) -> None:
    view = overview(lower(model))
    trace_overview(view, applicant(model, FACTS))
    assert {"policy", "eligibility", "kind.platform", "measure.platform_award", "total"} <= view.path_nodes
    assert "kind.enterprise" not in view.path_nodes
    assert "measure.center" not in view.path_nodes
    assert ("kind.platform", "measure.platform_award") in view.path_edges
    assert ("eligibility", "kind.enterprise") not in view.path_edges
    assert view.node("measure.center").figure is not None
    total = view.node("total").figure
    assert total is not None and total.startswith("本申请人：")


def test_measures_stacked_in_one_column_are_not_reached_through_each_other() -> None:
    text = """
    kind firm "企业"
    fact big "规模以上": bool
    measure first "甲" { applicants firm  award 10万 }
    measure second "乙" { applicants firm  award 20万 if big }
    """
    sink = Sink()
    checked = check_text("stack.policy", text, sink)
    assert checked.model is not None and not sink.has_errors
    view = overview(lower(checked.model))
    assert ("measure.first", "measure.second", "order") in {(e.tail, e.head, e.role) for e in view.edges}
    trace_overview(
        view, Applicant(Interpreter(checked.model, text), {"applicant": "firm", "big": False}, DAY)
    )
    assert "measure.first" in view.path_nodes
    assert "measure.second" not in view.path_nodes
    assert ("measure.first", "measure.second") not in view.path_edges


def test_the_total_of_many_undeclared_measures_reads_as_titles_wrapped_to_the_box() -> None:
    """Bao'an's sample platform is paid by seven measures the text never combines: the total box
    names them by their titles, a line at a time, never as 21 `a+b` pairs of identifiers on one
    line; the framed overview still leads the path from the paying measures' frames to the total."""
    path = POLICIES / "baoan_industrial_internet.policy"
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None
    facts = json.loads((POLICIES / "samples" / "baoan_industrial_internet.json").read_text(encoding="utf-8"))
    interpreter = Interpreter(checked.model, path.read_text(encoding="utf-8"))
    who = Applicant(interpreter, facts, datetime.date(2023, 6, 1))
    view = overview(lower(checked.model))
    trace_overview(view, who)
    figure = view.node("total").figure
    assert figure is not None and figure.startswith("本申请人：最高")
    assert "+" not in figure and "financing" not in figure
    assert "「促成制造业企业融资奖励」" in figure and "7 项措施" in figure
    assert all(display_width(line) <= FIGURE_WIDTH for line in figure.split("\n")[1:])
    assert "total" in view.path_nodes
    assert any(e.tail_group and (e.tail, e.head) in view.path_edges for e in view.edges if e.head == "total")


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.stem)
def test_the_path_speaks_in_labels_and_failures(path: Path) -> None:
    """On every bundled policy's sample applicant, on its sample date: each box on the path (titles,
    lines, rows and the applicant's figures) names no fact, measure, clause or enum value by its
    identifier; a measure ruled out says why as a failure, wrapped to the box."""
    from tests.test_policies import SAMPLE_DATES

    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None
    plan = lower(checked.model)
    facts = json.loads((POLICIES / "samples" / f"{path.stem}.json").read_text(encoding="utf-8"))
    who = Applicant(Interpreter(plan), facts, SAMPLE_DATES[path.stem] or datetime.date(2024, 1, 1))
    ids = {m.name for m in plan.measures} | set(plan.facts)
    ids |= {c.id for m in plan.measures for c in m.clauses}
    ids |= {member for spec in plan.facts.values() for member, _ in spec.members}
    ids = {i for i in ids if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", i) and len(i) > 2}
    views = [overview(plan)]
    trace_overview(views[0], who)
    for measure in plan.measures:
        tree = measure_tree(plan, measure)
        trace_measure(tree, measure.name, who)
        views.append(tree)
    failures = 0
    for view in views:
        for node in view.nodes:
            texts = [node.title, *node.lines, *(t for _, t in node.rows), node.figure or ""]
            for text in texts:
                words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text)) & ids
                assert not words, (node.id, text)
            if node.figure and node.figure.startswith("本申请人：不符合"):
                failures += 1
                lines = node.figure.split("\n")[1:]
                assert lines and lines[0].startswith(("未满足", "政策")), node.figure
                assert all(display_width(line) <= FIGURE_WIDTH for line in lines), node.figure
    if any(m.status == "ineligible" for m in who.decision.measures.values()):
        assert failures
