"""Time the compiled evaluator against the reference interpreter and hand-written Decimal code.

For two seed policies (Jiangmen 002, Bao'an 004) it generates seeded applicants with every fact
given, checks that the evaluators agree on every applicant, then times, in this process:

- a hand-written Decimal function for the same measures returning {measure: (status, amount)},
- the compiled module's evaluate(facts, date) -> Decision, reading its amounts (the main figure),
- the same decision's total as well, then every detail of it (results, reasons, explanation),
- the compiled module's full path (what evaluate does when the fast path cannot decide),
- the reference interpreter (on a subset of the rows, scaled to the same count).

    python benchmarks/eval_bench.py [--rows 100000] [--interpreter-rows 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import random
import sys
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policydsl.checking.pipeline import check_file  # noqa: E402
from policydsl.codegen.python import generate  # noqa: E402
from policydsl.diagnostics import Sink  # noqa: E402
from policydsl.evaluation.interpreter import Interpreter  # noqa: E402

DATE = datetime.date(2022, 6, 1)
FEN = Decimal("0.01")
Result = dict[str, tuple[str, Decimal | None]]


def fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------ Jiangmen (002)


def jiangmen_applicant(rng: random.Random) -> dict[str, Any]:
    def money(low: int, high: int) -> Decimal:
        return Decimal(rng.randint(low * 100, high * 100)) / 100

    return {
        "registered_in_jiangmen": rng.random() < 0.95,
        "independent_legal_person": rng.random() < 0.95,
        "established": datetime.date(2019, 1, 1) + datetime.timedelta(days=rng.randint(0, 1250)),
        "other_public_funding": rng.random() < 0.05,
        "funded_projects_compliant": rng.random() < 0.97,
        "good_credit": rng.random() < 0.97,
        "no_major_accident": rng.random() < 0.97,
        "project": rng.choice(["benchmark", "cloud", "cluster", "talent", "other"]),
        "project_investment": money(0, 3_000_000),
        "sme": rng.random() < 0.7,
        "in_5n_cluster": rng.random() < 0.6,
        "industry_cluster": rng.choice(["机械", "电子", "纺织", "化工"]),
        "training_sessions": Decimal(rng.randint(0, 20)),
        "trainees": Decimal(rng.randint(300, 800)),
    }


JIANGMEN_MEASURES = ("benchmark", "cloud", "cluster_pilot", "talent", "other_matters")
J_FROM, J_UNTIL = datetime.date(2021, 5, 16), datetime.date(2024, 5, 15)


def one_year_after(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def jiangmen_by_hand(f: dict[str, Any], today: datetime.date) -> Result:
    """The Jiangmen measures written directly: shared eligibility, then one rule per measure."""
    eligible = (
        J_FROM <= today <= J_UNTIL
        and f["registered_in_jiangmen"]
        and f["independent_legal_person"]
        and one_year_after(f["established"]) <= today
        and not f["other_public_funding"]
        and f["funded_projects_compliant"]
        and f["good_credit"]
        and f["no_major_accident"]
    )
    out: Result = dict.fromkeys(JIANGMEN_MEASURES, ("ineligible", None))
    if not eligible:
        return out
    project = f["project"]
    investment = f["project_investment"]
    if project == "benchmark":
        out["benchmark"] = ("ceiling", fen(min(investment * Decimal("0.5"), Decimal(1_000_000))))
    elif project == "cloud" and f["sme"]:
        out["cloud"] = ("ceiling", fen(min(investment * Decimal("0.8"), Decimal(600_000))))
    elif project == "cluster" and f["in_5n_cluster"]:
        out["cluster_pilot"] = ("ceiling", fen(min(investment * Decimal("0.8"), Decimal(500_000))))
    elif project == "talent" and f["training_sessions"] >= 10 and f["trainees"] >= 500:
        out["talent"] = ("ceiling", Decimal("1000000.00"))  # `award yearly`: up to 100万 a year
    elif project == "other":
        out["other_matters"] = ("undetermined", None)
    return out


# ------------------------------------------------------------------------------ Bao'an (004)

KINDS = (
    "industrial_enterprise",
    "platform",
    "service_provider",
    "ii_enterprise",
    "training_org",
    "association",
    "park",
)
LEVELS = ("national", "provincial", "municipal", "none")


def baoan_applicant(rng: random.Random) -> dict[str, Any]:
    def money(high: int) -> Decimal:
        return Decimal(rng.randint(0, high * 100)) / 100

    def count(high: int) -> Decimal:
        return Decimal(rng.randint(0, high))

    def flag(p: float = 0.5) -> bool:
        return rng.random() < p

    upper = money(300_000_000)
    node_upper = money(20_000_000)
    return {
        "applicant": rng.choice(KINDS),
        "in_district": flag(0.9),
        "center_level": rng.choice(LEVELS),
        "center_upper_funding": upper,
        "center_investment": money(1_000_000_000),
        "center_public_funding": upper + money(50_000_000),
        "intl_standards": count(2),
        "national_standards": count(3),
        "industry_standards": count(4),
        "node_operator": flag(),
        "node_new_registrations": count(40_000_000),
        "node_monthly_resolutions": count(2_000_000),
        "node_builder": flag(),
        "node_upper_funding": node_upper,
        "node_investment": money(60_000_000),
        "node_public_funding": node_upper + money(5_000_000),
        "platform_transactions": money(2_000_000_000),
        "platform_customers": count(6000),
        "platform_service_revenue": money(40_000_000),
        "professional_platform": flag(),
        "revenue": money(40_000_000),
        "miit_dual_platform": flag(0.1),
        "relocated": flag(0.2),
        "dual_business_in_district": flag(),
        "promo_production_line": flag(0.7),
        "promo_validation": flag(0.7),
        "promo_showcase": flag(0.7),
        "promo_investment": money(50_000_000),
        "promo_public_funding": money(20_000_000),
        "key_lab": flag(0.2),
        "pool_member": flag(),
        "on_cloud": flag(),
        "cloud_fees": money(400_000),
        "ident_registrations": count(3_000_000),
        "ident_monthly_resolutions": count(300_000),
        "app_benchmark": flag(0.2),
        "smart_benchmark": flag(0.2),
        "demo_park": flag(0.3),
        "pilot_lead": flag(),
        "pilot_accepted": flag(),
        "pilot_level": rng.choice(LEVELS),
        "guide_fund_investment": money(300_000_000),
        "other_equity": money(30_000_000),
        "facilitated_financing": money(2_000_000_000),
        "training_base": flag(),
        "assessment_passed": flag(),
        "association_supported": flag(0.3),
    }


CENTER_CAPS = {
    "national": Decimal(100_000_000),
    "provincial": Decimal(50_000_000),
    "municipal": Decimal(30_000_000),
}
HALF = Decimal("0.5")
NO = ("ineligible", None)


def capped_by_funding(amount: Decimal, limit: Decimal, received: Decimal) -> Decimal:
    room = max(Decimal(0), fen(limit - received))
    return fen(min(amount, room))


def share_room(out: Result, names: tuple[str, ...], investment: Decimal, received: Decimal) -> None:
    """Half the investment less the funding received, shared by the awards `names` in their order."""
    left = max(Decimal(0), fen(investment * HALF - received))
    for name in names:
        status, amount = out[name]
        if amount is not None:
            amount = min(amount, left)
            left -= amount
            out[name] = (status, amount)


def baoan_by_hand(f: dict[str, Any], today: datetime.date) -> Result:
    """The 21 Bao'an measures written directly, one rule each."""
    kind = f["applicant"]
    district = f["in_district"]
    out: Result = {}
    level = f["center_level"]
    if level in CENTER_CAPS:  # 三(二)1–3 name no applicant type
        amount = fen(min(f["center_upper_funding"] * HALF, CENTER_CAPS[level]))
        amount = capped_by_funding(amount, f["center_investment"] * HALF, f["center_public_funding"])
        out["innovation_center"] = ("determined", amount)
    else:
        out["innovation_center"] = NO
    intl, nat, ind = f["intl_standards"], f["national_standards"], f["industry_standards"]
    if intl + nat + ind >= 1:
        total = Decimal(0)
        if intl >= 1:
            total += fen(intl * Decimal(1_000_000))
        if nat >= 1:
            total += fen(nat * Decimal(500_000))
        if ind >= 1:
            total += fen(ind * Decimal(150_000))
        out["standards"] = ("determined", fen(total))
    else:
        out["standards"] = NO
    out["node_operation"] = (
        ("determined", Decimal("500000.00"))
        if district
        and f["node_operator"]
        and f["node_new_registrations"] > 20_000_000
        and f["node_monthly_resolutions"] > 1_000_000
        else NO
    )
    if district and f["node_builder"] and f["node_upper_funding"] > 0:
        amount = fen(min(f["node_upper_funding"], Decimal(10_000_000)))
        out["node_construction"] = ("determined", amount)
        # its funding limit counts the innovation-centre award, paid first (shared funding limits)
        share_room(
            out, ("innovation_center", "node_construction"), f["node_investment"], f["node_public_funding"]
        )
    else:
        out["node_construction"] = NO
    platform = kind == "platform"
    out["large_platform"] = (
        ("ceiling", Decimal("5000000.00"))
        if platform
        and district
        and f["platform_transactions"] >= 1_000_000_000
        and f["platform_customers"] >= 3000
        and f["platform_service_revenue"] >= 20_000_000
        else NO
    )
    out["pro_platform"] = (
        ("determined", Decimal("500000.00"))
        if platform
        and f["professional_platform"]
        and f["platform_customers"] >= 100
        and f["revenue"] >= 10_000_000
        else NO
    )
    out["dual_platform"] = (
        ("determined", Decimal("10000000.00")) if platform and f["miit_dual_platform"] else NO
    )
    out["dual_platform_relocation"] = (
        ("determined", Decimal("10000000.00"))
        if platform and f["relocated"] and f["dual_business_in_district"] and f["revenue"] >= 20_000_000
        else NO
    )
    if f["promo_production_line"] and f["promo_validation"] and f["promo_showcase"]:
        out["promotion_center"] = ("determined", fen(min(f["promo_investment"] * HALF, Decimal(15_000_000))))
        counted = ("innovation_center", "node_construction", "promotion_center")
        share_room(out, counted, f["promo_investment"], f["promo_public_funding"])
    else:
        out["promotion_center"] = NO
    if kind == "service_provider" and f["pool_member"]:
        bonus = Decimal(300_000) if f["revenue"] > 20_000_000 else Decimal(0)
        out["resource_pool"] = ("determined", fen(Decimal(200_000) + bonus))
    else:
        out["resource_pool"] = NO
    industrial = kind == "industrial_enterprise"
    out["cloud_voucher"] = (
        ("determined", fen(min(f["cloud_fees"] * Decimal("0.3"), Decimal(50_000))))
        if industrial and f["on_cloud"]
        else NO
    )
    enterprise = kind in ("industrial_enterprise", "platform", "service_provider", "ii_enterprise")
    out["identifier_application"] = (
        ("determined", Decimal("100000.00"))
        if enterprise and f["ident_registrations"] > 1_000_000 and f["ident_monthly_resolutions"] > 100_000
        else NO
    )
    out["app_benchmark_award"] = (
        ("determined", Decimal("1000000.00")) if industrial and f["app_benchmark"] else NO
    )
    out["smart_benchmark_award"] = (
        ("determined", Decimal("2000000.00")) if industrial and f["smart_benchmark"] else NO
    )
    out["demo_park_award"] = (
        ("determined", Decimal("1000000.00")) if kind == "park" and f["demo_park"] else NO
    )
    out["cluster_pilot"] = (
        ("determined", Decimal("1000000.00"))
        if enterprise
        and district
        and f["pilot_lead"]
        and f["pilot_accepted"]
        and f["pilot_level"] in ("national", "provincial")
        else NO
    )
    investor = kind in ("ii_enterprise", "platform", "service_provider")
    out["guide_fund"] = (
        ("determined", fen(min(f["guide_fund_investment"] * Decimal("0.05"), Decimal(10_000_000))))
        if investor and district and f["guide_fund_investment"] > 0
        else NO
    )
    out["other_equity_award"] = (
        ("determined", Decimal("200000.00"))
        if investor and district and f["other_equity"] >= 10_000_000
        else NO
    )
    out["financing"] = (
        ("determined", Decimal("500000.00"))
        if platform and district and f["facilitated_financing"] > 1_000_000_000
        else NO
    )
    out["training_base_grant"] = (
        ("ceiling", Decimal("500000.00")) if kind == "training_org" and f["training_base"] else NO
    )
    out["association_support"] = (
        ("determined", Decimal("1000000.00"))
        if kind == "association" and f["assessment_passed"] and not f["association_supported"]
        else NO
    )
    return out


# ------------------------------------------------------------------------------ timing

CASES: list[tuple[str, str, Callable[[random.Random], dict[str, Any]], Callable[..., Result]]] = [
    ("Jiangmen 002", "jiangmen_special_fund.policy", jiangmen_applicant, jiangmen_by_hand),
    ("Bao'an 004", "baoan_industrial_internet.policy", baoan_applicant, baoan_by_hand),
]


def each(function: Callable[[dict[str, Any]], object], rows: list[dict[str, Any]]) -> Callable[[], None]:
    """A loop calling `function(row)` on every row, keeping no result."""

    def run() -> None:
        for row in rows:
            function(row)

    return run


def timed(run: Callable[[], None]) -> float:
    """One run, with the cyclic garbage collector paused as timeit does (results are dropped one by
    one, so reference counting frees them)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def rounds(runs: dict[str, Callable[[], None]], repeat: int) -> dict[str, float]:
    """The best time of each run over `repeat` rounds; each round runs them all one after the other,
    so a change in the machine's load between runs weighs on all of them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            best[name] = min(best[name], timed(run))
    return best


def run_case(
    title: str,
    filename: str,
    make: Callable[[random.Random], dict[str, Any]],
    by_hand: Callable[..., Result],
    args: argparse.Namespace,
) -> None:
    """Check agreement on one policy's applicants, then time and print its figures."""
    sink = Sink()
    checked = check_file(ROOT / "policies" / filename, sink)
    assert checked.model is not None and checked.source is not None, sink.diagnostics
    module = generate(checked.model, checked.source.text, filename).load()
    interpreter = Interpreter(checked.model, checked.source.text)
    rng = random.Random(args.seed)
    rows = [make(rng) for _ in range(args.rows)]
    subset = rows[: args.interpreter_rows]

    # agreement first: the evaluators decide every applicant alike
    for i, row in enumerate(rows):
        amounts = module.evaluate(row, DATE).amounts
        assert amounts == by_hand(row, DATE), (title, i, amounts, by_hand(row, DATE))
    for row in subset:
        decision = interpreter.evaluate(row, DATE, explain=True)
        assert module.evaluate(row, DATE).to_dict() == decision.to_dict()
    fast = sum(module.fast_amounts(row, DATE) is not None for row in rows)

    best = rounds(
        {
            "hand": each(lambda row: by_hand(row, DATE), rows),
            "evaluate": each(lambda row: module.evaluate(row, DATE).amounts, rows),
            "total": each(lambda row: module.evaluate(row, DATE).total.amount, rows),
            "details": each(lambda row: module.evaluate(row, DATE, explain=False).to_dict(), subset),
            "full": each(lambda row: module.decide(row, DATE, False, False, None), rows),
            "interpreter": each(lambda row: interpreter.evaluate(row, DATE, explain=False), subset),
        },
        args.repeat,
    )
    count = len(rows)
    best["details"] *= count / len(subset)
    best["interpreter"] *= count / len(subset)

    def per(name: str) -> str:
        return f"{best[name] / count * 1e6:8.1f} µs/applicant"

    print(f"\n{title}: {len(module.MEASURES)} measures, {fast} of {count} applicants on the fast path")
    print(f"  hand-written Decimal function              {per('hand')}")
    print(f"  compiled evaluate(), its amounts           {per('evaluate')}")
    print(f"  compiled evaluate(), amounts and total     {per('total')}")
    print(f"  compiled evaluate(), every detail          {per('details')}")
    print(f"  compiled full path (explain=False)         {per('full')}")
    print(f"  reference interpreter (explain=False)      {per('interpreter')}")
    hand = best["hand"]
    print(f"  compiled evaluate / hand-written           {best['evaluate'] / hand:6.2f}x")
    print(f"  evaluate with total / hand-written         {best['total'] / hand:6.2f}x")
    print(f"  interpreter / compiled evaluate            {best['interpreter'] / best['evaluate']:6.1f}x")
    print(f"  interpreter / compiled full path           {best['interpreter'] / best['full']:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--interpreter-rows", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20210516)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {args.rows} applicants per policy (seed {args.seed})")
    print(
        f"best of {args.repeat} interleaved rounds; interpreter timed on {args.interpreter_rows} rows, scaled"
    )
    for title, filename, make, by_hand in CASES:
        run_case(title, filename, make, by_hand, args)


if __name__ == "__main__":
    main()
