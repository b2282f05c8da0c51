"""The plan: every policy lowers; ids are positional; exception groups are in priority order; and the
plan holds every gate, clause and text the reference interpreter's results name, with the same labels."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_file, check_text
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.examples import coverage_gaps, given_facts, read_examples
from policydsl.evaluation.interpreter import Coverage, CoverageKey, Interpreter
from policydsl.plan import Plan, format_plan, lower
from policydsl.plan import nodes as P
from policydsl.plan.lower import award_period, folded
from policydsl.plan.specs import gate_unmet, reader_plan
from policydsl.syntax import ast
from tests.conftest import DATA, POLICIES, ROOT, golden
from tests.strategies import GeneratedPolicy, applicants, evaluation_dates, policies

BUNDLED = sorted(POLICIES.glob("*.policy"))
CONSTRUCTS = DATA / "codegen" / "constructs.policy"
GOLDEN = [*BUNDLED, CONSTRUCTS]


def checked(path: Path) -> tuple[Model, str]:
    sink = Sink()
    result = check_file(path, sink)
    assert result.model is not None and result.source is not None and not sink.has_errors, sink.diagnostics
    return result.model, result.source.text


def checked_text(text: str) -> tuple[Model, str]:
    sink = Sink()
    result = check_text("t.policy", text, sink)
    assert result.model is not None and not sink.has_errors, [d.message for d in sink.diagnostics]
    return result.model, text


# ---------------------------------------------------------------------------------------- golden


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_plan_golden(path: Path, update_golden: bool) -> None:
    result = CliRunner().invoke(main, ["compile", str(path), "--target", "plan"])
    assert result.exit_code == 0, result.output
    golden(DATA / "plan" / f"{path.stem}.plan", result.output, update_golden)


def test_plan_is_deterministic() -> None:
    model, text = checked(CONSTRUCTS)
    first = format_plan(lower(model, text))
    model, text = checked(CONSTRUCTS)
    assert format_plan(lower(model, text)) == first


def test_compile_plan_of_a_policy_with_errors_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy"
    bad.write_text('policy "x" { issued 2024-01-01 }\nmeasure m "m" {\n  award 10万 if nope\n}\n', "utf-8")
    result = CliRunner().invoke(main, ["compile", str(bad), "--target", "plan"])
    assert result.exit_code == 1
    assert "E101" in result.output and "Traceback" not in result.output


def test_compile_plan_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "x.plan"
    result = CliRunner().invoke(main, ["compile", str(CONSTRUCTS), "--target", "plan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model, text = checked(CONSTRUCTS)
    assert out.read_text("utf-8") == format_plan(lower(model, text))


# ---------------------------------------------------------------------------------------- the docs


def _doc_policies() -> list[tuple[str, str]]:
    from tests.test_docs import BLOCKS, _prelude

    found = []
    for line, kind, options, body in BLOCKS:
        if kind == "policy":
            found.append((f"language.md:{line}", body if "standalone" in options else _prelude() + body))
    return found


@pytest.mark.parametrize(("where", "text"), _doc_policies(), ids=lambda x: x if ".md:" in x else "")
def test_docs_examples_lower(where: str, text: str) -> None:
    model, source = checked_text(text)
    plan = lower(model, source)
    assert_every_ast_piece_once(model, plan)


# ---------------------------------------------------------------------------------------- ids


TWICE = """policy "twice" { issued 2024-01-01 }
fact x "x": bool
measure m "m" {
  award 10万 if x
  award 10万 if x
  award named "named": 5万 if x
  award 10万 if x
}
"""


def test_ids_are_positional_even_for_identical_clauses() -> None:
    model, text = checked_text(TWICE)
    plan = lower(model, text)
    assert [c.id for c in plan.measure("m").clauses] == ["m.1", "m.2", "m.named", "m.4"]
    assert [c.index for c in plan.measure("m").clauses] == [1, 2, 3, 4]


def test_the_ast_numbers_identical_clauses_apart() -> None:
    """`Measure.clause_id` counted clauses by equality, so two identical clauses were both `m.1`:
    the interpreter listed `m.1` twice and the overlap analysis crashed on the collision."""
    model, _ = checked_text(TWICE)
    measure = model.measures["m"]
    assert [measure.clause_id(c) for c in measure.clauses] == ["m.1", "m.2", "m.named", "m.4"]
    decision = Interpreter(model, TWICE).evaluate({"x": True}, datetime.date(2024, 6, 1))
    assert decision.measures["m"].clauses == ["m.1", "m.2", "m.named", "m.4"]


def test_check_of_identical_clauses_reports_instead_of_crashing(tmp_path: Path) -> None:
    path = tmp_path / "twice.policy"
    path.write_text(TWICE, "utf-8")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------------------- exceptions


LADDER = """policy "ladder" { issued 2024-01-01 }
fact n "n": number
measure m "m" {
  award d "d": 10万 if n >= 1
  award low "low": exception d priority 1 20万 if n >= 2
  award none "none": exception d 30万 if n >= 3
  award high "high": exception d priority 5 40万 if n >= 4
  award tie "tie": exception d priority 1 50万 if n >= 5
  award sub "sub": exception high priority 2 60万 if n >= 6
  bonus extra "extra": 1万 if n >= 1
}
"""


def test_exception_groups_are_in_priority_order() -> None:
    model, text = checked_text(LADDER)
    m = lower(model, text).measure("m")
    assert [(g.default, g.exceptions) for g in m.groups] == [
        ("m.d", ("m.high", "m.low", "m.tie", "m.none")),
        ("m.high", ("m.sub",)),
    ]
    assert m.groups[0].ties == (("m.low", "m.tie"),)
    assert m.clause("m.none").priority is None and m.clause("m.none").rank == 0
    assert [c.id for c in m.bonuses] == ["m.extra"]


# ---------------------------------------------------------------------------------------- every piece once


def assert_every_ast_piece_once(model: Model, plan: Plan) -> None:
    """Every measure, clause, gate and rule of the AST appears exactly once in the plan, in order."""
    measures = model.policy.of(ast.Measure)
    assert [m.name for m in plan.measures] == [m.name.text for m in measures]
    for am, pm in zip(measures, plan.measures, strict=True):
        assert len(pm.clauses) == len(am.clauses)
        assert len({c.id for c in pm.clauses}) == len(pm.clauses)
        for i, (ac, pc) in enumerate(zip(am.clauses, pm.clauses, strict=True), 1):
            # a schedule by year in the amount or a cap adds its award period as a last condition
            period = award_period(pc.amount)
            assert pc.conditions[len(ac.conditions) :] == period
            assert (
                pc.index == i
                and pc.kind == ac.kind
                and len(pc.conditions) == len(ac.conditions) + len(period)
            )
            assert pc.amount.mode == ac.amount.mode and len(pc.amount.caps) == len(ac.amount.caps)
        kinds = [g.kind for g in pm.gates]
        assert kinds.count("require") == len(am.of(ast.Requirement))
        assert kinds.count("exclude") == len(am.of(ast.Exclusion))
        assert len({g.key for g in pm.gates}) == len(pm.gates)
        assert len(pm.funding_limits) == len(am.of(ast.FundingLimit))
        assert len(pm.instalments) == len(am.of(ast.Instalment))
        assert len(pm.quotas) == len(am.of(ast.Quota))
        assert len(pm.group_caps) == len(am.of(ast.GroupCap))
        assert len(pm.budgets) == len(am.of(ast.Budget))
        assert len(pm.preferences) == len(am.of(ast.Preference))
        exceptions = [c.id for c in pm.clauses if c.exception_of is not None and c.kind == "award"]
        assert sorted(e for g in pm.groups for e in g.exceptions) == sorted(exceptions)
    shared = [r for e in model.policy.of(ast.Eligibility) for r in e.requirements]
    assert len(plan.eligibility) == len(shared)
    assert len(plan.combinations) + len(plan.other_documents) == len(model.policy.of(ast.Combine))
    assert len(plan.total_caps) == len(model.policy.of(ast.TotalCap))
    every = [*plan.eligibility, *(g for m in plan.measures for g in m.gates)]
    assert len({g.key for g in every}) == len(every)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_bundled_policies_lower_whole(path: Path) -> None:
    model, text = checked(path)
    assert_every_ast_piece_once(model, lower(model, text))


# ------------------------------------------------------------------------------ against the interpreter


def assert_plan_agrees(model: Model, text: str, plan: Plan, decision: rt.Decision) -> None:
    """Whatever the interpreter's decision names (condition keys, clause ids, labels, heads, reasons)
    exists in the plan, and says the same."""
    assert plan.title == decision.policy
    # a failed requirement is told by its words in the plan (specs.gate_unmet), then the facts
    shared_reasons = {rt.UNMET + gate_unmet(plan, g)[0] for g in plan.eligibility}
    for failure in decision.eligibility_failures:
        assert failure.startswith(("政策", *shared_reasons)), failure
    for name, result in decision.measures.items():
        m = plan.measure(name)
        assert (result.label, result.cite, result.forms) == (m.label, m.cite, m.forms)
        keys = {c.id for c in m.clauses} | {g.key for g in m.gates} | {s.key for s in m.instalments}
        assert set(result.conditions) <= keys, set(result.conditions) - keys
        for cid in result.clauses:
            clause = reader_plan(plan).measure(name).clause(cid)  # the head an explanation shows
            if result.explanation and result.status != rt.INELIGIBLE:
                assert any(line.startswith(clause.head) for line in result.explanation), (cid, clause.head)
        known = (
            {rt.UNMET + gate_unmet(plan, g)[0] for g in m.gates}
            | {m.none_reason, rt.NO_AWARD_MET}
            | ({rt.UNMET + m.applicants.reason} if m.applicants else set())
            | shared_reasons
        )
        if result.status == rt.INELIGIBLE:
            for reason in result.reasons:
                assert reason.startswith(("政策", *known)), reason
        if result.selection is not None:
            assert m.quota is not None and result.selection == m.quota.selection
        for line in result.explanation:
            if line.startswith("优先支持："):
                assert line in {p.note for p in m.preferences}


def _examples(path: Path) -> list[tuple[Path, int]]:
    model, _ = checked(path)
    return [(path, i) for i in range(len([e for e in model.policy.of(ast.Example) if not e.template]))]


EXAMPLES = [case for path in GOLDEN for case in _examples(path)]


@pytest.mark.parametrize(("path", "index"), EXAMPLES, ids=lambda x: x.stem if isinstance(x, Path) else str(x))
def test_plan_agrees_with_the_interpreter_on_examples(path: Path, index: int) -> None:
    model, text = checked(path)
    plan = lower(model, text)
    interp = Interpreter(plan)
    example = read_examples(model, plan, text).cases[index]
    facts = given_facts(interp, example)
    decision = interp.evaluate(facts, example.day, partial=True, parsed=True)
    assert_plan_agrees(model, text, plan, decision)


def test_plan_agrees_on_a_failing_gate_and_an_exception() -> None:
    model, text = checked_text(LADDER)
    plan = lower(model, text)
    decision = Interpreter(model, text).evaluate({"n": "4"}, datetime.date(2024, 6, 1))
    assert decision.measures["m"].clauses == ["m.high", "m.extra"]
    assert_plan_agrees(model, text, plan, decision)
    decision = Interpreter(model, text).evaluate({"n": "0"}, datetime.date(2024, 6, 1))
    assert decision.measures["m"].reasons == [
        "未满足任何给予条件：「d」n ≥ 1（实际 0，不满1）；「low」n ≥ 2（实际 0，不满2）；"
        "「none」n ≥ 3（实际 0，不满3）；「high」n ≥ 4（实际 0，不满4）；"
        "「tie」n ≥ 5（实际 0，不满5）；「sub」n ≥ 6（实际 0，不满6）"
    ]
    assert_plan_agrees(model, text, plan, decision)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_generated_policies_lower_and_agree(data: st.DataObject) -> None:
    drawn: GeneratedPolicy = data.draw(policies())
    model, text = checked_text(drawn.text)
    plan = lower(model, text)
    assert_every_ast_piece_once(model, plan)
    assert format_plan(plan) == format_plan(lower(model, text))
    facts: dict[str, Any] = data.draw(applicants(drawn))
    date = data.draw(evaluation_dates(drawn))
    seen: Coverage = {}
    try:
        decision = Interpreter(model, text).evaluate(facts, date, partial=True, coverage=seen)
    except rt.InputError:
        return
    assert_plan_agrees(model, text, plan, decision)
    # what the interpreter records for coverage is what `test --coverage` counts, atom for atom
    keys: set[CoverageKey] = set()
    for m in plan.measures:
        for c in m.clauses:
            keys.add(c.id)
            keys.update(
                (c.id, i, k) for i, cond in enumerate(c.conditions) for k in range(len(P.atoms(cond.cond)))
            )
    assert set(seen) <= keys, set(seen) - keys
    reached, total, _ = coverage_gaps(plan, read_examples(model, plan, text).sites, seen)
    assert total == sum(1 if isinstance(k, str) else 2 for k in keys)
    assert reached == sum(len(v) if not isinstance(k, str) else int(True in v) for k, v in seen.items())


EVERY_EXPRESSION = """policy "every" { issued 2024-01-01 }
kind enterprise "企业"
enum level "级别" { national "国家级", provincial "省级" }
fact level_of "级别": level
fact revenue "收入": money >= 0
fact flag "标志": bool
fact founded "成立": date
fact loss "亏损": number
param rate "比例": percent = 30%
assume flag implies applicant == enterprise
measure m "m" {
  award min(rate * revenue, by level_of { national: 100万, otherwise: unset }) if level_of in [national]
  award max(1:2 * revenue, band revenue { 不满 100万: 5万, otherwise: 10万 }) if flag == true or -loss > 0
  award 1万 if founded + 1年 <= 2023-06-01 and since(founded) 届满 1年 and not flag
  award 1万 * blocks(revenue - 100万, 10万) + round_down(max(rate * revenue, 0), 1万)
  award progressive revenue { 不超过 100万: 10%, 超过 100万 且 500万 以下: rate, 超过 500万: 0 }
  award schedule founded { years 1 until 2: 1万, years 3: 5000元 } if year(founded) >= 2020
}
"""


def test_every_expression_class_is_lowered_printed_and_walked() -> None:
    from policydsl.plan.printer import expr

    model, text = checked_text(EVERY_EXPRESSION)
    plan = lower(model, text)
    roots: list[P.Expr] = [*plan.assumptions, *(g.cond for g in plan.eligibility)]
    for m in plan.measures:
        roots += [g.cond for g in m.gates]
        for c in m.clauses:
            roots += [k.cond for k in c.conditions] + [cap.expr for cap in c.amount.caps]
            roots += [c.amount.expr] if c.amount.expr is not None else []
    roots += [v.value for p in plan.params.values() for v in p.versions]
    seen = {type(e) for root in roots for e in P.walk(root)}
    assert all(expr(e) for root in roots for e in P.walk(root))
    assert {cls.__name__ for cls in P.EXPR_CLASSES} - {cls.__name__ for cls in seen} == set()
    printed = format_plan(plan)
    assert "assume (not flag) or (applicant == applicant.enterprise)" in printed
    assert "(since(founded) >= 1 year)" in printed and "$rate" in printed
    assert "blocks((revenue - 1000000元), 100000元)" in printed
    assert "round_down(max(($rate * revenue), 0元), 10000元)" in printed
    rows = "from 0 to 1000000元: 10%; from 1000000元 to 5000000元: $rate; from 5000000元: 0"
    assert f"progressive revenue {{{rows}}}" in printed
    assert "if year(founded) >= 2020" in printed
    # a schedule by year is a band over the year counted from its date, and a condition of its clause
    years = ">= 1 and <= 2: 10000元; >= 3 and <= 3: 5000元"
    assert f"band year_no(founded) {{{years}}}" in printed
    assert "if (year_no(founded) >= 1) and (year_no(founded) <= 3)" in printed
    assert "奖励期：自成立当年起第1至3年" in printed


def test_the_plan_package_reads_no_cli_or_drawing_library() -> None:
    for path in (ROOT / "policydsl" / "plan").glob("*.py"):
        source = path.read_text("utf-8")
        assert "import click" not in source and "graphviz" not in source, path.name


LONG = """policy "long" {
  issued 2020-01-01
  valid from issued lasting 8000年
}
fact x "x": bool
measure m "m" {
  award 10万 if x
}
"""


def test_a_validity_past_the_calendar_is_one_window_everywhere(tmp_path: Path) -> None:
    """The z3 encoding worked the window out again without the end-of-calendar case, and looped for
    ever on a validity running past 9999-12-31: `check` never returned."""
    import subprocess
    import sys

    path = tmp_path / "long.policy"
    path.write_text(LONG, "utf-8")
    run = [sys.executable, "-c", "from policydsl.commands.cli import main; main()", "check", str(path)]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    from policydsl.analysis.smt import Encoder

    model, text = checked_text(LONG)
    plan = lower(model, text)
    assert plan.validity.end == datetime.date.max
    assert Encoder(plan).window == (plan.validity.start, plan.validity.end)


def _written(source: str, span: Any) -> str:
    return source[span.start : span.end]


@pytest.mark.parametrize("name", ["band_hole", "tier_gap", "undetermined"])
def test_tables_bands_amounts_and_quotas_carry_where_they_are_written(name: str) -> None:
    """The analyses read the plan and place their findings at its spans: every tier table, band,
    row, amount and quota lowered carries the span of the text it came from, and a band's bounds
    the statutory words written (its hints quote them)."""
    model, source = checked(DATA / "analysis" / f"{name}.policy")
    plan = lower(model, source)
    seen = 0
    for measure in plan.measures:
        for quota in measure.quotas:
            assert quota.span is not None and _written(source, quota.span).startswith("quota")
        for clause in measure.clauses:
            amount = clause.amount
            assert amount.span is not None
            if amount.text is not None:
                assert amount.text in " ".join(_written(source, amount.span).split())
            exprs = [amount.expr, *(cap.expr for cap in amount.caps)]
            for expr in (e for top in exprs if top is not None for e in P.walk(top)):
                if isinstance(expr, P.Table | P.Band):
                    seen += 1
                    assert expr.span is not None
                    assert _written(source, expr.span).startswith(("by", "band"))
                    for row in expr.rows:
                        assert row.span is not None and expr.span.start <= row.span.start
                        assert row.span.end <= expr.span.end
                if isinstance(expr, P.Band):
                    for row in expr.rows:
                        assert len(row.words) == len(row.bounds or ())
                        assert all(word in _written(source, row.span) for word, _ in row.words)
    assert seen


def _folded(source: str, span: Any) -> str:
    return folded(_written(source, span))


CAPPED = [
    CONSTRUCTS,
    DATA / "fmt" / "messy_chinese.policy",
    *(DATA / "analysis" / f"{name}.policy" for name in ("quota_budget", "cap_dominated", "funding_limit")),
    *BUNDLED,
]


def test_caps_limits_budgets_and_total_caps_carry_where_and_how_they_are_written() -> None:
    """The cap analyses read the plan and quote and place their findings from it: every cap, fixed
    formula, funding limit, group cap, budget and total cap carries the span of the text it came
    from, and the text it quotes is the text at that span (the written allocation word and counted
    funding included)."""
    seen: set[str] = set()
    for path in CAPPED:
        model, source = checked(path)
        plan = lower(model, source)
        for measure in plan.measures:
            for clause in measure.clauses:
                amount = clause.amount
                if amount.expr is not None:
                    assert amount.expr.span is not None and _folded(source, amount.expr.span) == amount.text
                for cap in amount.caps:
                    seen.add("cap")
                    assert cap.span is not None and _folded(source, cap.span) == cap.text
            for limit in measure.funding_limits:
                seen.add("funding_limit")
                assert limit.span is not None
                written = _folded(source, limit.span)
                assert limit.text in written and limit.received_text in written
            for group in measure.group_caps:
                seen.add("group_cap")
                assert group.span is not None
                written = _folded(source, group.span)
                assert group.text in written and group.per in written
                assert group.allocate_text is None or group.allocate_text in written
            for budget in measure.budgets:
                seen.add("budget")
                assert budget.span is not None and budget.text in _folded(source, budget.span)
        for total in plan.total_caps:
            seen.add("total_cap")
            assert total.amount_span is not None and _folded(source, total.amount_span) == total.text
    assert seen == {"cap", "funding_limit", "group_cap", "budget", "total_cap"}


def _ast_nodes(value: object) -> list[object]:
    """Every AST node inside `value`, through attrs fields, tuples and mappings."""
    if isinstance(value, ast.Node):
        return [value]
    if isinstance(value, tuple | list):
        return [n for v in value for n in _ast_nodes(v)]
    if isinstance(value, dict) or (hasattr(value, "items") and not attrs.has(type(value))):
        return [n for k, v in value.items() for n in (*_ast_nodes(k), *_ast_nodes(v))]  # type: ignore[union-attr]
    if attrs.has(type(value)):
        return [n for f in attrs.fields(type(value)) for n in _ast_nodes(getattr(value, f.name))]
    return []


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_examples_are_handed_on_as_plain_data(path: Path) -> None:
    """What examples.py hands the review page and `test` holds no AST node: names as text, values
    as plan expressions, each example's day worked out."""
    model, text = checked(path)
    plan = lower(model, text)
    examples = read_examples(model, plan, text)
    assert len(examples.cases) == len([e for e in model.policy.of(ast.Example) if not e.template])
    assert not _ast_nodes(examples.cases)
    for example in examples.cases:
        for g in example.given:
            # a text, the applicant's roles as names, or a plan expression
            roles = isinstance(g.value, tuple) and all(isinstance(k, str) for k in g.value)
            assert isinstance(g.value, str) or roles or type(g.value) in P.EXPR_CLASSES
        for e in example.expectations:
            assert e.value is None or type(e.value) in P.EXPR_CLASSES


def test_a_quoted_amount_leaves_out_what_only_lays_out_a_table() -> None:
    """An amount written over several lines is quoted on one line for explanations: a comment
    inside it and the comma before the closing brace were quoted too (`…: 8‰ * x, }`)."""
    model, text = checked_text(
        'policy "p" { rounding fen half_up }\n'
        'fact x "x": money >= 0\n'
        'measure m "m" {\n'
        "  award band x {\n"
        "    不满 100万: 1万,  # 第一档\n"
        '    otherwise: 2万,  # "#" in a comment\n'
        "  } cap 5万\n"
        "}\n"
    )
    (clause,) = lower(model, text).measures[0].clauses
    assert clause.amount.text == "band x { 不满 100万: 1万, otherwise: 2万 }"
    decision = Interpreter(lower(model, text), text).evaluate({"x": "50万"})
    assert "金额：分档 x { 不满 100万: 1万, 其他: 2万 } = 1万元" in decision.explain()
