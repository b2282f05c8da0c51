"""Time the front end on a generated 1,000-measure policy of about 855 KB: read, parse, build, type-check.

    python benchmarks/parse_bench.py [--measures 1000] [--repeat 3] [--profile]

Each stage is timed separately (best of --repeat runs) and set against a floor measured in the same
process: Lark's bare LALR parse of the same text with the same tables, no callbacks, no positions
propagated, no tree shaping of ours.  Figures are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark

from policydsl.checking.frontend import read_file
from policydsl.checking.typecheck import check_types
from policydsl.diagnostics import Sink
from policydsl.syntax import parser as policy_parser
from policydsl.syntax.builder import build
from policydsl.syntax.parser import decode, parse

KINDS = ("enterprise", "platform", "park")
SECTORS = 20
BANDS = 4


def generate(measures: int) -> str:
    """A policy of `measures` measures of mixed constructs: labels, citations, conditions over
    statutory words and symbols, a tier cap by level, an exception, a funding limit and comments."""
    lines = [
        f'policy "生成的政策（{measures}项措施）" {{',
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
        'fact staff "职工人数": count',
        'fact unit_level "认定级别": level',
        'fact industry "所属行业": sector',
        'fact national_flag "国家级示范": bool',
        'fact established "成立日期": date',
        'fact public_funding "已获财政资金": money >= 0',
        "eligibility {",
        '  require since(established) 届满 1年 "成立满1年"',
        "}",
    ]
    for m in range(measures):
        kind = KINDS[m % len(KINDS)]
        lines.append(f"# 第{m + 1}条 生成的措施")
        lines.append(f'measure m{m} "措施{m}" cite "第{m + 1}条" {{')
        lines.append(f"  applicants {kind}")
        lines.append(f"  require industry == s{m % SECTORS} and staff >= {m % 50 + 10}人")
        for b in range(BANDS):
            low, high = b * 500, (b + 1) * 500
            lower = f"revenue {low}万以上" if b else "revenue >= 0"
            lines.append(
                f'  award b{b} "档{b + 1}": {(b + 1) * 10}万 if {lower} and revenue 不满 {high}万 '
                f'cite "第{m + 1}条({b + 1})"'
            )
        top = BANDS * 500
        lines.append(
            f"  award top: 30% * investment cap by unit_level {{ national: 500万, provincial: 300万, "
            f'municipal: 100万 }} if revenue {top}万以上 cite "第{m + 1}条(五)"'
        )
        lines.append(
            f"  award top_national: exception top priority 1 600万 if revenue {top}万以上 and national_flag "
            f'cite "第{m + 1}条(六)"'
        )
        lines.append(f"  funding_limit 50% * investment counting public_funding  # 不超过项目投资的一半 {m}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def best(run: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    result, fastest = None, float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        fastest = min(fastest, time.perf_counter() - start)
    return result, fastest


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--measures", type=int, default=1000)
    options.add_argument("--repeat", type=int, default=3)
    options.add_argument("--profile", action="store_true", help="print a cProfile of one parse and build")
    args = options.parse_args(argv)
    text = generate(args.measures)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.policy"
        path.write_text(text, encoding="utf-8")
        size = path.stat().st_size

        def read() -> Any:
            sink = Sink()
            data = read_file(path, sink)
            assert data is not None
            return decode(path.name, data, sink)

        source, t_read = best(read, args.repeat)
    sink = Sink()
    policy_parser._parser()  # loading the tables is a one-off per process; not timed here
    bare = lark.Lark._load_from_dict(*_tables())  # type: ignore[attr-defined]
    _, t_floor = best(lambda: bare.parse(text), args.repeat)
    parsed, t_parse = best(lambda: parse(source, sink), args.repeat)
    assert parsed is not None, sink.diagnostics[:3]
    policy, t_build = best(lambda: build(source, *parsed, sink), args.repeat)
    assert policy is not None and not sink.has_errors, sink.diagnostics[:3]
    model, t_check = best(lambda: check_types(policy, Sink()), args.repeat)
    assert model is not None
    total = t_read + t_parse + t_build + t_check
    print(f"policy: {args.measures} measures, {size:,} bytes; best of {args.repeat}")
    print(f"{'stage':<34} {'s':>7} {'KB/s':>8} {'× floor':>8}")
    for name, seconds in (
        ("floor: Lark's bare LALR parse", t_floor),
        ("read (file → text)", t_read),
        ("parse (text → AST)", t_parse),
        ("build (texts checked, comments)", t_build),
        ("type-check (AST → model)", t_check),
        ("front end in all", total),
    ):
        print(f"{name:<34} {seconds:>7.3f} {size / 1024 / seconds:>8.0f} {seconds / t_floor:>8.2f}")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        parsed = parse(source, Sink())
        assert parsed is not None
        build(source, *parsed, Sink())
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    return 0


def _tables() -> tuple[Any, Any]:
    tables = policy_parser._shipped_tables()
    assert tables is not None, "the shipped parser tables do not match the grammar: run `make tables`"
    return tables["data"], tables["memo"]


if __name__ == "__main__":
    sys.exit(main())
