"""The encoded seed policies: they check clean, their hand-computed examples hold, their samples run."""

from __future__ import annotations

import csv
import datetime
import functools
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

import policydsl
from policydsl.analysis import run as analysis
from policydsl.api import compile_policy
from policydsl.checking.pipeline import check_file
from policydsl.diagnostics import Severity, Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.examples import run_examples
from policydsl.syntax import ast
from tests.conftest import POLICIES

SAMPLES = POLICIES / "samples"
POLICY_FILES = sorted(POLICIES.glob("*.policy"))
NAMES = [p.stem for p in POLICY_FILES]

# Each seed document has exactly one encoding; the seed file names are those of SEED-CLAUSES.md.
SEEDS = {
    "shenzhen_industrial_internet_plan": "000_d7b377ca15ce7bdb.txt",
    "shandong_platforms": "001_daab0d322e2f7c63.txt",
    "jiangmen_special_fund": "002_feaf6a41846fe068.txt",
    "shenzhen_consulting_diagnosis": "003_93a2485cbd92d1c4.txt",
    "baoan_industrial_internet": "004_d41223bd964af659.txt",
}

# Further published policies, each encoded with its published text beside it (policies/<text>).
PUBLISHED: dict[str, str] = {
    "liuhe_key_industries": "liuhe_key_industries.txt",
}

# The evaluation date of each sample batch (inside the policy's validity).
SAMPLE_DATES = {
    "shenzhen_industrial_internet_plan": None,
    "shandong_platforms": datetime.date(2019, 6, 1),
    "jiangmen_special_fund": datetime.date(2022, 6, 1),
    "shenzhen_consulting_diagnosis": datetime.date(2023, 3, 1),
    "baoan_industrial_internet": None,
    "liuhe_key_industries": datetime.date(2023, 6, 1),
}


@functools.cache
def _policy(name: str) -> ast.Policy:
    sink = Sink()
    checked = check_file(POLICIES / f"{name}.policy", sink)
    assert checked.policy is not None, sink.diagnostics
    return checked.policy


def test_one_file_per_seed_document() -> None:
    assert sorted(NAMES) == sorted([*SEEDS, *PUBLISHED])
    for name, seed in SEEDS.items():
        header = _policy(name).header
        assert header is not None and header.source == seed


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_policies_carry_their_text(name: str) -> None:
    header = _policy(name).header
    assert header is not None and header.source == PUBLISHED[name]
    assert (POLICIES / PUBLISHED[name]).is_file()


@pytest.mark.parametrize("path", POLICY_FILES, ids=NAMES)
def test_policy_checks_without_errors(path: Path) -> None:
    sink = Sink()
    checked = check_file(path, sink)
    errors = [d for d in sink.diagnostics if d.severity is Severity.ERROR]
    assert checked.model is not None
    assert errors == []


@pytest.mark.parametrize("name", NAMES)
def test_every_measure_and_clause_cites_its_article(name: str) -> None:
    for measure in _policy(name).of(ast.Measure):
        assert measure.cite, measure.name.text
        for clause in measure.clauses:
            assert clause.cite, measure.clause_id(clause)
        for requirement in measure.of(ast.Requirement):
            assert requirement.cite and requirement.reason, measure.name.text


@pytest.mark.parametrize("name", NAMES)
def test_at_least_one_example_per_measure(name: str) -> None:
    policy = _policy(name)
    examples = policy.of(ast.Example)
    measures = policy.of(ast.Measure)
    assert len(examples) >= len(measures)
    expected = {e.target.text for ex in examples for e in ex.expectations if e.target is not None}
    assert {m.name.text for m in measures} <= expected, "a measure no example states an expectation for"


@pytest.mark.parametrize("path", POLICY_FILES, ids=NAMES)
def test_hand_computed_examples_pass(path: Path) -> None:
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None
    results = run_examples(checked.model, checked.source.text)
    assert results
    failures = {r.example.name: r.failures for r in results if not r.passed}
    assert failures == {}


# ------------------------------------------------------------------ figures through the Python API


def test_baoan_large_platform_gets_a_ceiling_not_an_entitlement() -> None:
    evaluator = policydsl.load(POLICIES / "baoan_industrial_internet.policy")
    facts = json.loads((SAMPLES / "baoan_industrial_internet.json").read_text(encoding="utf-8"))
    decision = evaluator.evaluate(facts)
    large = decision.measures["large_platform"]
    assert (large.status, large.amount) == (rt.CEILING, Decimal("5000000"))
    # 国家标准 1项 × 50万 + 行业标准 2项 × 15万 = 80万
    assert decision.measures["standards"].amount == Decimal("800000")
    # 5% × 5000万 = 250万, under the 1000万 cap
    assert decision.measures["guide_fund"].amount == Decimal("2500000")
    # 500 + 80 + 50 + 10 + 250 + 20 + 50 = 960万, and only at most: no combination is declared
    assert (decision.total.status, decision.total.amount) == (rt.CEILING, Decimal("9600000"))


def test_baoan_strict_and_inclusive_thresholds_at_the_same_number() -> None:
    evaluator = policydsl.load(POLICIES / "baoan_industrial_internet.policy")
    facts = json.loads((SAMPLES / "baoan_industrial_internet.json").read_text(encoding="utf-8"))
    facts.update(platform_transactions="10亿", facilitated_financing="10亿")
    decision = evaluator.evaluate(facts)
    assert decision.measures["large_platform"].status == rt.CEILING  # 10亿元以上 includes 10亿
    assert decision.measures["financing"].status == rt.INELIGIBLE  # 超过10亿元 does not


def test_shenzhen_consulting_staged_payout_59_and_60_percent() -> None:
    evaluator = policydsl.load(POLICIES / "shenzhen_consulting_diagnosis.policy")
    facts = json.loads((SAMPLES / "shenzhen_consulting_diagnosis.json").read_text(encoding="utf-8"))
    day = datetime.date(2023, 3, 1)
    # 80家 × 5万 = 400万
    assert evaluator.evaluate(facts, day).measures["consulting"].amount == Decimal("4000000")
    at_60 = evaluator.evaluate({**facts, "completion_h1": "60%", "completion_h2": "90%"}, day)
    assert at_60.measures["consulting"].amount == Decimal("2000000")  # 50% kept, no clawback
    at_59 = evaluator.evaluate({**facts, "completion_h1": "59%"}, day)
    assert at_59.measures["consulting"].amount == Decimal("0")
    after = evaluator.evaluate(facts, datetime.date(2026, 1, 1))
    assert after.measures["consulting"].status == rt.INELIGIBLE


def test_shandong_national_platform_exception_raises_the_ceiling() -> None:
    evaluator = policydsl.load(POLICIES / "shandong_platforms.policy")
    facts = json.loads((SAMPLES / "shandong_platforms.json").read_text(encoding="utf-8"))
    day = datetime.date(2019, 6, 1)
    national = evaluator.evaluate(facts, day).measures["platform_award"]
    assert (national.status, national.amount) == (rt.CEILING, Decimal("30000000"))
    assert set(national.forms) == {"interest_subsidy", "grant", "equity"}
    provincial = evaluator.evaluate({**facts, "national_platform": False}, day).measures["platform_award"]
    assert (provincial.status, provincial.amount) == (rt.CEILING, Decimal("10000000"))


def test_jiangmen_validity_is_three_years_from_the_issue_day() -> None:
    evaluator = policydsl.load(POLICIES / "jiangmen_special_fund.policy")
    facts = json.loads((SAMPLES / "jiangmen_special_fund.json").read_text(encoding="utf-8"))
    # 80% × 58万 = 46.4万, a ceiling under the 50万 cap
    last = evaluator.evaluate(facts, datetime.date(2024, 5, 15)).measures["cluster_pilot"]
    assert (last.status, last.amount) == (rt.CEILING, Decimal("464000"))
    after = evaluator.evaluate(facts, datetime.date(2024, 5, 16)).measures["cluster_pilot"]
    assert after.status == rt.INELIGIBLE


def test_shenzhen_plan_amounts_wait_for_the_yearly_guide() -> None:
    path = POLICIES / "shenzhen_industrial_internet_plan.policy"
    facts = json.loads((SAMPLES / "shenzhen_industrial_internet_plan.json").read_text(encoding="utf-8"))
    assert policydsl.load(path).evaluate(facts).measures["fusion_pilot_award"].status == rt.UNDETERMINED
    evaluator, sink = compile_policy(path, {"fusion_pilot_amount": "30万"})
    assert evaluator is not None, sink.diagnostics
    result = evaluator.evaluate(facts).measures["fusion_pilot_award"]
    assert (result.status, result.amount) == (rt.DETERMINED, Decimal("300000"))


def _liuhe(**changes: object) -> rt.Decision:
    evaluator = policydsl.load(POLICIES / "liuhe_key_industries.policy")
    facts = json.loads((SAMPLES / "liuhe_key_industries.json").read_text(encoding="utf-8"))
    return evaluator.evaluate({**facts, **changes}, datetime.date(2023, 6, 1))


def test_liuhe_agriculture_band_gives_shared_ends_to_the_lower_band() -> None:
    # 第2条第3款 "1000万元及以上至5000万元、5000万元以上至1亿元、1亿元以上": 70% / 80% / 90% of 150万
    def amount(investment: str) -> Decimal | None:
        return _liuhe(fixed_investment=investment).measures["agriculture_investment"].amount

    assert amount("1000万") == Decimal("1050000")  # 70% × 150万
    assert amount("5000万") == Decimal("1050000")  # 至5000万元 includes 5000万
    assert amount("5000.01万") == Decimal("1200000")  # 80% × 150万
    assert amount("1亿") == Decimal("1200000")
    assert amount("100000001") == Decimal("1350000")  # 90% × 150万
    assert _liuhe(fixed_investment="999.99万").measures["agriculture_investment"].status == rt.INELIGIBLE


def test_liuhe_output_growth_pays_on_the_part_above_ten_million() -> None:
    # 第11条: 0.5% of the growth above 1000万, at most 20万; the sample grows 2.6亿 − 2.2亿 = 4000万
    assert _liuhe().measures["output_growth"].amount == Decimal("150000")  # 0.5% × 3000万
    assert _liuhe(output="2.3亿").measures["output_growth"].status == rt.INELIGIBLE  # exactly 1000万
    assert _liuhe(output="2.3001亿").measures["output_growth"].amount == Decimal("50")  # 0.5% × 1万
    assert _liuhe(output="2.7亿").measures["output_growth"].amount == Decimal("200000")  # 0.5% × 4000万


def test_liuhe_planting_rate_per_mu_and_the_total_is_only_a_ceiling() -> None:
    # 第17条: 320.5亩 × 100元/亩 = 32050元; 500亩 still at 100元/亩; 500.01亩 × 200元/亩 = 100002元
    assert _liuhe().measures["planting"].amount == Decimal("32050")
    assert _liuhe(base_area="500").measures["planting"].amount == Decimal("50000")
    assert _liuhe(base_area="500.01").measures["planting"].amount == Decimal("100002")
    # 120万 + 120万 + 30万 + 20万 + 15万 + 3万 + 32050元, only at most: the text never says the awards add up
    total = _liuhe().total
    assert (total.status, total.amount) == (rt.CEILING, Decimal("3112050"))


def test_liuhe_investment_award_is_a_range_with_both_bounds() -> None:
    # 第2条第1款: 5%—20% of the investment; the sample's 6000万 on 20亩 is 300万/亩
    result = _liuhe(project="industrial").measures["industrial_investment"]
    assert (result.status, result.floor, result.amount) == (
        rt.CEILING,
        Decimal("3000000"),  # 5% × 6000万
        Decimal("12000000"),  # 20% × 6000万
    )
    # exactly 200万/亩 still qualifies (不低于); 30.01亩 does not
    assert _liuhe(project="industrial", land_area="30").measures["industrial_investment"].floor == Decimal(
        "3000000"
    )
    thin = _liuhe(project="industrial", land_area="30.01").measures["industrial_investment"]
    assert thin.status == rt.INELIGIBLE
    # 第2条第2款 needs 3000万: 2999.99万 on 10亩 is out, 3000万 on 15亩 (200万/亩) gives 150万 to 600万
    assert (
        _liuhe(project="services", fixed_investment="2999.99万", land_area="10")
        .measures["services_investment"]
        .status
        == rt.INELIGIBLE
    )
    services = _liuhe(project="services", fixed_investment="3000万", land_area="15").measures[
        "services_investment"
    ]
    assert (services.floor, services.amount) == (Decimal("1500000"), Decimal("6000000"))
    # 第3条: 1亿 at 200万/亩 or more is a 重大产业项目, 一事一议 replaces the range
    major = _liuhe(project="industrial", fixed_investment="1亿", land_area="50").measures[
        "industrial_investment"
    ]
    assert major.status == rt.UNDETERMINED


def test_liuhe_schedules_count_calendar_years_from_the_event() -> None:
    # 第4条: 80% in years 1–2, 50% in years 3–5 of 150万, at most 5000万 a year; evaluated on 2023-06-01
    def performance(tax_start: str) -> rt.MeasureResult:
        return _liuhe(tax_start=tax_start).measures["performance"]

    assert performance("2023-12-31").amount == Decimal("1200000")  # year 1
    assert performance("2022-01-01").amount == Decimal("1200000")  # year 2
    assert performance("2021-12-31").amount == Decimal("750000")  # year 3
    assert performance("2019-01-01").amount == Decimal("750000")  # year 5
    assert performance("2018-12-31").status == rt.INELIGIBLE  # year 6
    assert performance("2024-01-01").status == rt.INELIGIBLE  # year 0
    capped = _liuhe(local_contribution="6250.01万").measures["performance"]
    assert capped.amount == Decimal("50000000")  # 80% × 6250.01万 = 5000.008万, capped
    # 第14条: 5万 / 3万 / 2万 for a 规上服务业企业, 2万 / 2万 / 1万 for a 限上商贸企业
    for admitted, services, trade in (
        ("2023-01-01", "50000", "20000"),
        ("2022-06-30", "30000", "20000"),
        ("2021-06-30", "20000", "10000"),
    ):
        assert _liuhe(stats_admitted=admitted).measures["statistics"].amount == Decimal(services)
        assert _liuhe(stats_admitted=admitted, new_in_stats="trade").measures["statistics"].amount == Decimal(
            trade
        )
    assert _liuhe(stats_admitted="2020-12-31").measures["statistics"].status == rt.INELIGIBLE
    # 第5条: the band in years 1 to 5 from the year of recognition, no cap
    hq = {"hq_project": True, "hq_recognised": "2021-02-01"}
    assert _liuhe(**hq, local_contribution="2000万").measures["headquarters"].amount == Decimal("14000000")
    assert _liuhe(**hq, local_contribution="5000.01万").measures["headquarters"].amount == Decimal("45000090")
    late = _liuhe(hq_project=True, hq_recognised="2018-02-01", local_contribution="2000万")
    assert late.measures["headquarters"].status == rt.INELIGIBLE


def test_liuhe_open_questions_stay_visible() -> None:
    found = _findings("liuhe_key_industries")
    assert ("P201", frozenset({"tech_center_award", "high_tech_award"})) in found
    assert {t for c, t in found if c == "P703"} == {
        frozenset({"industrial_investment.major"}),
        frozenset({"services_investment.major"}),
        frozenset({"renovation.case_by_case"}),
        frozenset({"merger.large"}),
        frozenset({"merger_growth.large"}),
    }
    assert ("P701", frozenset({"renovation.new_project"})) in found


def test_ineligibility_reasons_use_the_documents_wording() -> None:
    jiangmen = policydsl.load(POLICIES / "jiangmen_special_fund.policy")
    facts = json.loads((SAMPLES / "jiangmen_special_fund.json").read_text(encoding="utf-8"))
    young = jiangmen.evaluate(
        {**facts, "established": "2021-06-02", "good_credit": False}, datetime.date(2022, 6, 1)
    )
    assert young.eligibility_failures == [
        "成立时间满1年",
        "近三年内信用良好（没有被纳入经营异常名录或严重违法失信企业名单）",
    ]
    late = jiangmen.evaluate(facts, datetime.date(2024, 5, 16))
    assert any("已失效" in r for r in late.measures["cluster_pilot"].reasons)

    consulting = policydsl.load(POLICIES / "shenzhen_consulting_diagnosis.policy")
    facts = json.loads((SAMPLES / "shenzhen_consulting_diagnosis.json").read_text(encoding="utf-8"))
    barred = consulting.evaluate(
        {**facts, "prior_fraud": True, "prior_fraud_date": "2020-03-02"}, datetime.date(2023, 3, 1)
    )
    assert barred.eligibility_failures == ["骗取财政资金的，3年内不受理其资助申请"]
    # exactly three years later the application is accepted again (不满3年 excludes the anniversary)
    again = consulting.evaluate(
        {**facts, "prior_fraud": True, "prior_fraud_date": "2020-03-01"}, datetime.date(2023, 3, 1)
    )
    assert again.eligibility_failures == []

    baoan = policydsl.load(POLICIES / "baoan_industrial_internet.policy")
    facts = json.loads((SAMPLES / "baoan_industrial_internet.json").read_text(encoding="utf-8"))
    assert baoan.evaluate(facts).measures["dual_platform"].reasons == ["获得工信部认定的“双跨平台”"]


# ------------------------------------------------------------------ sample applicant files


@pytest.mark.parametrize("name", NAMES)
def test_sample_batch_covers_every_measure_without_input_errors(name: str) -> None:
    evaluator = policydsl.load(POLICIES / f"{name}.policy")
    with (SAMPLES / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert 15 <= len(rows) <= 40
    assert len({row["id"] for row in rows}) == len(rows)
    reached: set[str] = set()
    ineligible_rows = 0
    for row in rows:
        decision = evaluator.evaluate(row, SAMPLE_DATES[name])
        reached |= {m for m, r in decision.measures.items() if r.status != rt.INELIGIBLE}
        ineligible_rows += decision.total.status == rt.INELIGIBLE
    assert reached == set(evaluator.measures)
    assert ineligible_rows >= 2


@pytest.mark.parametrize("name", NAMES)
def test_sample_applicant_is_decided(name: str) -> None:
    evaluator = policydsl.load(POLICIES / f"{name}.policy")
    facts = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    decision = evaluator.evaluate(facts, SAMPLE_DATES[name])
    assert decision.total.status != rt.INELIGIBLE


def test_samples_use_plain_values() -> None:
    # amounts as plain 元 integers (or percentages), dates as 2021-06-01, booleans true/false
    for path in SAMPLES.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    assert not re.fullmatch(r"\d+(\.\d+)?[万亿]元?", value), (path.name, key, value)
                    assert value not in ("True", "False", "是", "否"), (path.name, key, value)


# ------------------------------------------------------------------ what the analysis must keep showing


@functools.cache
def _analysis(name: str) -> analysis.Analysis:
    sink = Sink()
    checked = check_file(POLICIES / f"{name}.policy", sink)
    assert checked.model is not None and checked.source is not None
    return analysis.analyse(checked.model, checked.source.text)


def _findings(name: str) -> set[tuple[str, frozenset[str]]]:
    """The open findings, and the pairs a group finding (P206) lists as its members."""
    found = set()
    for d in _analysis(name).findings:
        found.add((d.code, frozenset(d.data.get("targets", ()))))
        if d.code == "P206":
            found |= {(m["code"], frozenset(m["targets"])) for m in d.data["members"]}
    return found


@pytest.mark.parametrize("name", NAMES)
def test_analysis_finds_no_errors_and_no_stale_acknowledgement(name: str) -> None:
    codes = {d.code for d in _analysis(name).findings if d.severity is Severity.ERROR}
    assert codes == set()
    assert "P902" not in {d.code for d in _analysis(name).findings}


def test_baoan_ambiguities_stay_visible() -> None:
    found = _findings("baoan_industrial_internet")
    # the text never says whether a large platform gets both the 500万 and the 50万 award
    assert ("P201", frozenset({"large_platform", "pro_platform"})) in found
    # nor whether a certified 双跨平台 that moves in is paid 1000万 twice
    assert ("P202", frozenset({"dual_platform", "dual_platform_relocation"})) in found
    assert ("P701", frozenset({"large_platform.tiered"})) in found
    assert {t for c, t in found if c == "P704"} == {
        frozenset({m})
        for m in (
            "resource_pool",
            "cloud_voucher",
            "app_benchmark_award",
            "smart_benchmark_award",
            "demo_park_award",
            "training_base_grant",
        )
    }
    # settled by "分别给予每项": the standards of different levels add up
    assert not any(c == "P203" for c, _ in found)
    settled = _analysis("baoan_industrial_internet").settled
    assert [s.diagnostic.code for s in settled].count("P203") == 3


def test_jiangmen_cluster_cap_without_allocation_is_reported() -> None:
    assert ("P605", frozenset({"cluster_pilot"})) in _findings("jiangmen_special_fund")


def test_blank_start_and_unset_amounts_are_reported() -> None:
    assert "P705" in {c for c, _ in _findings("shenzhen_consulting_diagnosis")}
    plan = [c for c, _ in _findings("shenzhen_industrial_internet_plan")]
    assert plan.count("P702") == 7
    assert ("P703", frozenset({"platform_award.effect"})) in _findings("shandong_platforms")


def test_policies_are_in_canonical_layout() -> None:
    """`policydsl fmt --check` is the CI gate on layout: the bundled policies are formatted."""
    from click.testing import CliRunner

    from policydsl.commands.cli import main

    files = sorted(str(p) for p in POLICIES.glob("*.policy"))
    result = CliRunner().invoke(main, ["fmt", "--check", *files])
    assert result.exit_code == 0, result.output
