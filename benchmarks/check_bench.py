"""Time the policy analysis: generated policies of 10, 100 and 1000 clauses, then the seed policies.

    python benchmarks/check_bench.py [--sizes 10,100,1000] [--timeout-ms 2000] [--repeat 3]
    python benchmarks/check_bench.py --measures 1000,2000 --shape simple [--budget N] [--profile]

For each policy it prints the clauses, the solver calls, the pairs ruled out by interval reasoning,
the findings, whether the budget cut the analysis short, the time parse and type checks took, and
the wall-clock and CPU time of the analysis (parsing and type checks excluded; the best of --repeat
runs).  With --measures it times only generated policies of that many measures: `simple` (one
clause each, `simple()`) or `mixed` (ten clauses each, `generate()`).  The policies are generated
without randomness, so a size always gives the same text.  --profile prints the 25 costliest
functions of one analysis (cProfile).  Figures are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

from policydsl.analysis.base import DEFAULT_BUDGET
from policydsl.analysis.run import Analysis, Options, analyse
from policydsl.checking.pipeline import check_file, check_text
from policydsl.diagnostics import Sink

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("enterprise", "platform", "park")
SECTORS = 20
BANDS = 8  # revenue bands of 500万 each, then a top tier with an exception


def generate(clauses: int) -> str:
    """A policy of `clauses` award clauses in measures of ten: eight adjacent revenue bands, a top
    tier capped by level and a national exception to it.  Measures serve one of three kinds of
    applicant and one of twenty sectors, so most pairs cannot collide; every seventh measure
    writes one boundary inclusive on both sides, a drafting slip the analysis must find."""
    lines = [
        f'policy "生成的政策（{clauses}条）" {{',
        '  issuer "基准测试"',
        "  issued 2022-01-01",
        "  valid from issued lasting 3年",
        "}",
    ]
    lines += [f'kind {k} "{k}"' for k in KINDS]
    lines.append('enum level "级别" { national "国家级", provincial "省级", municipal "市级" }')
    members = ", ".join(f's{i} "行业{i}"' for i in range(SECTORS))
    lines.append(f'enum sector "行业" {{ {members} }}')
    lines += [
        'fact revenue "营业收入": money >= 0',
        'fact investment "项目投资": money >= 0',
        'fact unit_level "认定级别": level',
        'fact industry "所属行业": sector',
        'fact national_flag "国家级示范": bool',
        'fact established "成立日期": date',
        "eligibility {",
        '  require since(established) 届满 1年 "成立满1年"',
        "}",
    ]
    measures = max(1, clauses // 10)
    for m in range(measures):
        kind = KINDS[m % len(KINDS)]
        lines.append(f'measure m{m} "措施{m}" cite "第{m + 1}条" {{')
        lines.append(f"  applicants {kind}")
        lines.append(f"  require industry == s{m % SECTORS}")
        for b in range(BANDS):
            low, high = b * 500, (b + 1) * 500
            sloppy = m % 7 == 3 and b == 3
            upper = f"revenue {high}万以下" if sloppy else f"revenue 不满 {high}万"
            lower = f"revenue {low}万以上" if b else "revenue >= 0"
            lines.append(f'  award b{b}: {(b + 1) * 10}万 if {lower} and {upper} cite "第{m + 1}条({b + 1})"')
        top = BANDS * 500
        lines.append(
            f"  award top: 30% * investment cap by unit_level {{ national: 500万, provincial: 300万, "
            f'municipal: 100万 }} if revenue {top}万以上 cite "第{m + 1}条(九)"'
        )
        lines.append(
            f"  award top_national: exception top priority 1 600万 if revenue {top}万以上 and national_flag "
            f'cite "第{m + 1}条(十)"'
        )
        lines.append("}")
    return "\n".join(lines) + "\n"


def simple(measures: int) -> str:
    """A policy of `measures` one-clause measures over shared facts: each serves one of three kinds
    and one of twenty sectors and pays above a revenue threshold, so most pairs cannot meet but a
    twentieth of them can (and are reported as overlaps)."""
    lines = ['policy "简单措施" { issuer "基准测试" issued 2022-01-01 }']
    lines += [f'kind {k} "{k}"' for k in KINDS]
    members = ", ".join(f's{i} "行业{i}"' for i in range(SECTORS))
    lines.append(f'enum sector "行业" {{ {members} }}')
    lines += ['fact revenue "营业收入": money >= 0', 'fact industry "所属行业": sector']
    for m in range(measures):
        lines.append(
            f'measure m{m} "措施{m}" {{\n  applicants {KINDS[m % len(KINDS)]}\n'
            f"  award {m % 9 + 1}0万 if industry == s{m % SECTORS} and revenue {m % 13 + 1}00万以上\n}}"
        )
    return "\n".join(lines) + "\n"


def timed(run: object, repeat: int) -> tuple[Analysis, float, float]:
    best_wall = best_cpu = float("inf")
    result: Analysis | None = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()  # type: ignore[operator]
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert result is not None
    return result, best_wall, best_cpu


def report(name: str, clauses: int, result: Analysis, wall: float, cpu: float, parse: float = 0.0) -> None:
    findings = len(result.findings) + len(result.settled)
    print(
        f"{name:<44} {clauses:>6} {result.stats.calls:>7} {result.stats.filtered:>8} {findings:>8}"
        f" {'yes' if result.skipped else 'no':>5} {parse:>7.2f} {wall:>8.2f} {cpu:>8.2f}"
    )


def bench_text(name: str, text: str, options: Options, repeat: int, profile: bool) -> int:
    """Check `text` (timed once), then time its analysis; 1 when it does not check."""
    sink = Sink()
    started = time.perf_counter()
    checked = check_text(f"{name}.policy", text, sink)
    parse = time.perf_counter() - started
    if checked.model is None or sink.has_errors:
        print(f"{name} does not check: {sink.diagnostics[:3]}", file=sys.stderr)
        return 1
    model = checked.model
    result, wall, cpu = timed(lambda: analyse(model, text, options), repeat)
    clauses = sum(len(m.clauses) for m in model.measures.values())
    report(name, clauses, result, wall, cpu, parse)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(analyse, model, text, options)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="clauses of the mixed policies")
    parser.add_argument("--measures", default="", help="measures of generated policies, e.g. 1000,2000")
    parser.add_argument("--shape", choices=("simple", "mixed"), default="simple")
    parser.add_argument("--timeout-ms", type=int, default=2000)
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    options = Options(timeout_ms=args.timeout_ms, budget=args.budget)
    heads = (
        ("clauses", 6),
        ("calls", 7),
        ("filtered", 8),
        ("findings", 8),
        ("cut", 5),
        ("parse s", 7),
        ("wall s", 8),
        ("cpu s", 8),
    )
    print(f"{'policy':<44}" + "".join(f" {h:>{w}}" for h, w in heads))
    if args.measures:
        for size in (int(s) for s in args.measures.split(",") if s):
            text = simple(size) if args.shape == "simple" else generate(size * 10)
            if bench_text(f"{args.shape}_{size}_measures", text, options, args.repeat, args.profile):
                return 1
        return 0
    for size in (int(s) for s in args.sizes.split(",") if s):
        if bench_text(f"generated_{size}", generate(size), options, args.repeat, args.profile):
            return 1
    for path in sorted((ROOT / "policies").glob("*.policy")):
        sink = Sink()
        checked = check_file(path, sink)
        if checked.model is None or checked.source is None or sink.has_errors:
            print(f"{path.name}: does not check", file=sys.stderr)
            continue
        model, text = checked.model, checked.source.text
        result, wall, cpu = timed(lambda model=model, text=text: analyse(model, text, options), args.repeat)
        clauses = sum(len(m.clauses) for m in model.measures.values())
        report(path.name, clauses, result, wall, cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
