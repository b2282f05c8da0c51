"""Applicants with several roles (kinds as a set) and `exclusive_kinds`, through every back end: the
checker, the formatter, input parsing, the interpreter, the generated module (full and fast path),
the analysis, batch input."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

import policydsl
from policydsl.analysis import run as analysis
from policydsl.api import compile_policy
from policydsl.checking.pipeline import check_file, check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.syntax.fmt import format_source
from tests.conftest import POLICIES

BAOAN = POLICIES / "baoan_industrial_internet.policy"
DAY = datetime.date(2024, 6, 1)

POLICY = """\
policy "示例" {}
kind enterprise "企业"
kind platform "工业互联网平台"
kind association "行业协会"
exclusive_kinds { enterprise, association }
fact revenue "年营业收入": money >= 0
measure platform_award "平台奖励" cite "一" {
  applicants platform
  award 10万
}
measure enterprise_award "企业奖励" cite "二" {
  applicants enterprise, association
  award 20万
}
measure condition_award "非平台的企业" cite "三" {
  require applicant == enterprise and applicant != platform "企业，且不是平台"
  award 5万
}
measure member_award "平台或协会" cite "四" {
  require applicant in [platform, association] "平台或协会"
  award 1万
}
"""


def _codes(text: str) -> list[str]:
    sink = Sink()
    check_text("t.policy", text, sink)
    return [d.code for d in sink.diagnostics]


def _write(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "roles.policy"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- checks


def test_exclusive_kinds_and_sets_check_clean() -> None:
    example = (
        'example "平台兼企业" {\n  given { applicant: {platform, enterprise} }\n'
        "  expect platform_award = 10万\n}\n"
    )
    assert _codes(POLICY + example) == []


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ('example "x" {\n  given { applicant: {enterprise, association} }\n}\n', "E110"),
        ('example "x" {\n  given { applicant: {platform, platform} }\n}\n', "E110"),
        ('example "x" {\n  given { applicant: {platform, plaform} }\n}\n', "E106"),
        ('example "x" {\n  given { revenue: {platform} }\n}\n', "E201"),
        ("exclusive_kinds { platform }\n", "E110"),
        ("exclusive_kinds { platform, platform }\n", "E110"),
        ("exclusive_kinds { platform, park }\n", "E106"),
        ('measure t "t" {\n  award by applicant { platform: 1万, otherwise: 2万 }\n}\n', "E202"),
    ],
)
def test_bad_sets_and_groups_are_refused(extra: str, code: str) -> None:
    assert code in _codes(POLICY + extra)


def test_a_tier_table_by_the_applicant_says_why_and_what_to_write() -> None:
    sink = Sink()
    check_text("t.policy", POLICY + 'measure t "t" {\n  award by applicant { platform: 1万 }\n}\n', sink)
    (diagnostic,) = sink.diagnostics
    assert "may have several" in diagnostic.message and diagnostic.hint and "applicant ==" in diagnostic.hint


ZH = """\
政策 "示例" {}
主体类型 enterprise "企业"
主体类型 association "行业协会"
互斥主体类型 {enterprise,association}
示例 "x" {
  已知 { 申报主体: {association} }
}
"""


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (
            POLICY + 'example "x" {\n  given { applicant: {platform,   enterprise} }\n}\n',
            "applicant: { platform, enterprise }",
        ),
        (ZH, "互斥主体类型 { enterprise, association }"),
    ],
)
def test_format_round_trip_keeps_sets_and_groups(text: str, written: str) -> None:
    sink = Sink()
    once = format_source("t.policy", text, sink)
    assert once is not None and not sink.has_errors, sink.diagnostics
    assert written in once
    assert format_source("t.policy", once, Sink()) == once


# ---------------------------------------------------------------------------------------- input


def _spec() -> rt.FactSpec:
    members = (("enterprise", "企业"), ("platform", "工业互联网平台"), ("association", "行业协会"))
    return rt.FactSpec("applicant", "申报主体", "roles", None, members, (), (("enterprise", "association"),))


@pytest.mark.parametrize(
    ("raw", "roles"),
    [
        ("platform", {"platform"}),
        ("工业互联网平台", {"platform"}),
        (["platform", "enterprise"], {"platform", "enterprise"}),
        ("platform;enterprise", {"platform", "enterprise"}),
        ("工业互联网平台、企业", {"platform", "enterprise"}),
        ("{platform, enterprise}", {"platform", "enterprise"}),
        ("platform；association", {"platform", "association"}),
    ],
)
def test_roles_are_read_from_a_name_a_list_or_a_cell(raw: object, roles: set[str]) -> None:
    assert rt.parse_fact(_spec(), raw) == frozenset(roles)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (["enterprise", "association"], "exclude each other"),
        ("platform;platform", "given twice"),
        ("platform;park", "not one of"),
        ([], "at least one role"),
        ("", "not one of"),
        (3, "a role or a list of roles"),
    ],
)
def test_bad_roles_are_input_errors(raw: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        rt.parse_fact(_spec(), raw)


# ---------------------------------------------------------------------------------------- back ends

CASES = [
    # (applicant, expected amounts per measure: None for ineligible)
    (
        "platform",
        {
            "platform_award": "100000",
            "enterprise_award": None,
            "condition_award": None,
            "member_award": "10000",
        },
    ),
    (
        "enterprise",
        {
            "platform_award": None,
            "enterprise_award": "200000",
            "condition_award": "50000",
            "member_award": None,
        },
    ),
    (
        ["platform", "enterprise"],
        {
            "platform_award": "100000",
            "enterprise_award": "200000",
            "condition_award": None,
            "member_award": "10000",
        },
    ),
    (
        "association;platform",
        {
            "platform_award": "100000",
            "enterprise_award": "200000",
            "condition_award": None,
            "member_award": "10000",
        },
    ),
]


@pytest.mark.parametrize(("applicant", "expected"), CASES)
@pytest.mark.parametrize("compiled", [False, True])
def test_every_back_end_admits_an_applicant_having_any_named_role(
    tmp_path: Path, applicant: object, expected: dict[str, str | None], compiled: bool
) -> None:
    evaluator, sink = compile_policy(_write(tmp_path), compiled=compiled)
    assert evaluator is not None, sink.diagnostics
    decision = evaluator.evaluate({"applicant": applicant, "revenue": 0}, DAY)
    got = {
        name: None if m.status == rt.INELIGIBLE else str(m.amount) for name, m in decision.measures.items()
    }
    assert got == {
        k: None if v is None else str(Decimal(v).quantize(Decimal("0.01"))) for k, v in expected.items()
    }
    if compiled:
        # one role as a text takes the fast path; a set is the full path's
        assert decision.path == ("fast" if isinstance(applicant, str) and ";" not in applicant else "full")


@pytest.mark.parametrize("compiled", [False, True])
def test_exclusive_roles_are_an_input_error_in_every_back_end(tmp_path: Path, compiled: bool) -> None:
    evaluator, _ = compile_policy(_write(tmp_path), compiled=compiled)
    assert evaluator is not None
    with pytest.raises(rt.InputError, match="exclude each other"):
        evaluator.evaluate({"applicant": ["enterprise", "association"], "revenue": 0}, DAY)


def test_an_example_with_a_set_of_roles_runs(tmp_path: Path) -> None:
    example = (
        'example "平台兼企业" {\n  given { applicant: {platform, enterprise}, revenue: 0元 }\n'
        "  expect platform_award = 10万\n  expect enterprise_award = 20万\n"
        "  expect condition_award ineligible\n}\n"
    )
    from policydsl.evaluation.examples import run_examples

    sink = Sink()
    checked = check_file(_write(tmp_path, POLICY + example), sink)
    assert checked.model is not None and checked.source is not None
    results = run_examples(checked.model, checked.source.text)
    assert [r.passed for r in results] == [True]


def test_batch_reads_roles_from_csv_cells_and_jsonl_lists(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from policydsl.commands.cli import main

    path = _write(tmp_path)
    csv_in = tmp_path / "in.csv"
    csv_in.write_text("id,applicant,revenue\na,platform;enterprise,0\nb,企业、行业协会,0\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        [
            "eval",
            str(path),
            "--batch",
            str(csv_in),
            "-o",
            str(out),
            "--date",
            "2024-06-01",
            "--engine",
            "python",
        ],
    )
    assert result.exit_code == 1, result.output  # row b: two roles that exclude each other
    text = out.read_text(encoding="utf-8-sig")
    assert "exclude each other" in text.splitlines()[2]
    row_a = text.splitlines()[1]
    assert "100000.00" in row_a and "200000.00" in row_a
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        json.dumps({"applicant": ["platform", "enterprise"], "revenue": 0}) + "\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        main, ["eval", str(path), "--batch", str(jsonl), "-o", str(out), "--date", "2024-06-01"]
    )
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------------------- analysis


def _findings(path: Path) -> set[tuple[str, frozenset[str]]]:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None
    found = set()
    for d in analysis.analyse(checked.model, checked.source.text).findings:
        found.add((d.code, frozenset(d.data.get("targets", ()))))
        if d.code == "P206":
            found |= {(m["code"], frozenset(m["targets"])) for m in d.data["members"]}
    return found


def _overlap(found: set[tuple[str, frozenset[str]]], a: str, b: str) -> bool:
    return any(code in ("P201", "P202") and targets == {a, b} for code, targets in found)


def test_the_analysis_lets_roles_overlap_unless_the_policy_excludes_them(tmp_path: Path) -> None:
    found = _findings(_write(tmp_path))
    # a platform may also be an enterprise: both awards reach it
    assert _overlap(found, "platform_award", "enterprise_award")
    # condition_award asks for an enterprise that is not a platform: never with platform_award
    assert not _overlap(found, "platform_award", "condition_award")
    # an enterprise is never an association: member_award (platform or association) and
    # condition_award (an enterprise, not a platform) exclude each other
    assert not _overlap(found, "member_award", "condition_award")


# ---------------------------------------------------------------------------------------- Bao'an


def _baoan_platform_node_operator() -> dict[str, object]:
    return {
        "applicant": "platform",
        "in_district": True,
        "platform_transactions": "10亿",
        "platform_customers": 3000,
        "platform_service_revenue": "2000万",
        "node_operator": True,
        "node_new_registrations": 20000001,
        "node_monthly_resolutions": 1000001,
    }


@pytest.mark.parametrize("compiled", [False, True])
def test_baoan_a_platform_that_is_also_a_node_operator_is_eligible_for_both(compiled: bool) -> None:
    evaluator, _ = compile_policy(BAOAN, compiled=compiled)
    assert evaluator is not None
    measures = evaluator.evaluate(_baoan_platform_node_operator(), DAY, partial=True).measures
    assert (measures["large_platform"].status, measures["large_platform"].amount) == (
        rt.CEILING,
        Decimal("5000000"),
    )
    assert (measures["node_operation"].status, measures["node_operation"].amount) == (
        rt.DETERMINED,
        Decimal("500000"),
    )


def test_baoan_through_the_api_a_platform_and_service_provider_gets_both_roles_measures() -> None:
    facts = {
        "applicant": ["platform", "service_provider"],
        "in_district": False,
        "professional_platform": True,
        "platform_customers": 100,
        "revenue": "2500万",
        "pool_member": True,
    }
    measures = policydsl.load(BAOAN).evaluate(facts, DAY, partial=True).measures
    assert measures["pro_platform"].amount == Decimal("500000")
    assert measures["resource_pool"].amount == Decimal("500000")


def test_baoan_check_reports_the_platform_and_node_operator_overlap() -> None:
    found = _findings(BAOAN)
    # 三(二)2 names no applicant type: a 区内平台 that runs a 二级节点 reaches both measures
    assert _overlap(found, "large_platform", "node_operation")
    # roles overlap: a 专业型平台 that is also a 资源池 服务商
    assert _overlap(found, "pro_platform", "resource_pool")


def test_one_role_by_its_name_skips_the_general_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typed facts with the applicant's one role as a name are read without the general parser (the
    full path's speed rests on it), and become the set of that role; anything else is parsed."""
    evaluator, _ = compile_policy(_write(tmp_path), compiled=True)
    assert evaluator is not None
    module = evaluator.module  # type: ignore[attr-defined]
    parsed: list[object] = []
    general = module.parse_facts
    monkeypatch.setattr(module, "parse_facts", lambda *a, **k: parsed.append(a) or general(*a, **k))
    raw = {"applicant": "platform", "revenue": Decimal(0)}
    assert module.read_facts(raw) == {"applicant": frozenset({"platform"}), "revenue": Decimal(0)}
    assert parsed == [] and raw["applicant"] == "platform"  # the caller's dict is left as it was
    assert module.read_facts({"applicant": "association;platform"})["applicant"] == frozenset(
        {"association", "platform"}
    )
    assert len(parsed) == 1


@pytest.mark.parametrize("op", ["==", "!="])
@pytest.mark.parametrize("kind_first", [False, True])
def test_the_generator_writes_a_roles_comparison_with_its_own_operator(op: str, kind_first: bool) -> None:
    """`applicant == k` / `applicant != k`, either way round: the fast path (one role, a text) compares
    with the written operator, the full path (a set) tests membership (`not in` for `!=`)."""
    from policydsl.codegen.python import PythonGenerator, Val
    from policydsl.plan import nodes as P

    sink = Sink()
    checked = check_text("t.policy", POLICY, sink)
    assert checked.model is not None and checked.source is not None
    gen = PythonGenerator(checked.model, checked.source.text, "t.policy")
    subject, kind = P.FactRef("applicant"), P.EnumConst("applicant", "platform")
    pair = [(subject, Val("applicant", False)), (kind, Val('"platform"', False))]
    if kind_first:
        pair.reverse()
    (a, a_val), (b, b_val) = pair
    gen.fast = True
    assert gen.roles_test(a, a_val, b, b_val, op) == f'applicant {op} "platform"'
    gen.fast = False
    membership = "in" if op == "==" else "not in"
    assert gen.roles_test(a, a_val, b, b_val, op) == f'"platform" {membership} applicant'
    assert gen.roles_test(a, a_val, P.FactRef("revenue"), b_val, op) is None
