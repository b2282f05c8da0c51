"""Time a whole population, CSV in and CSV out, four ways in one run, and check that they agree.

The policy is batch_bench.policy beside this script: five seed-like measures (a requirement, a
percentage with a cap, a threshold award, an amount per person with a cap, a flat award, a
conditional percentage), every one of which the SQL back end translates. The script generates
`--rows` seeded applicants into a CSV file, then runs, each as a child process started the same way:

- `policydsl eval --batch --engine duckdb --columns amounts` (the SQL query on DuckDB),
- `policydsl eval --batch --engine python --columns amounts` (the Python batch),
- the compiled module (`policydsl compile`) driven by a short script reading and writing CSV,
- a hand-written Decimal CSV script for the same rules;

and checks that the four agree row for row on every status and amount, then prints each one's
wall time (best and worst of `--repeat` runs), its ratio to the hand-written script, and its peak
memory (the child's maximum resident set size).  `--memory` runs only DuckDB on 10,000,000 rows.

    python benchmarks/batch_bench.py [--rows 1000000] [--repeat 3] [--only duckdb,hand] [--memory]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = HERE / "batch_bench.policy"
DATE = "2022-06-01"
MEASURES = ("rnd", "scale", "jobs", "tech", "growth")
BIN = Path(sys.executable).parent

# The compiled module driven by a short script: CSV rows in, statuses and amounts out.
DRIVER = """
import csv, datetime, importlib.util, sys
spec = importlib.util.spec_from_file_location("policy", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
day = datetime.date.fromisoformat(sys.argv[4])
measures = sys.argv[5].split(",")
src = open(sys.argv[2], newline="", encoding="utf-8")
dst = open(sys.argv[3], "w", newline="", encoding="utf-8")
with src, dst:
    out = csv.writer(dst)
    columns = [f"{m}.{k}" for m in measures for k in ("status", "amount")]
    out.writerow(["id", "total_status", "total_amount"] + columns)
    for row in csv.DictReader(src):
        key = row.pop("id")
        d = module.evaluate(row, day)
        cells = [key, d.total.status, "" if d.total.amount is None else d.total.amount]
        for m in measures:
            r = d.measures[m]
            cells += [r.status, "" if r.amount is None else r.amount]
        out.writerow(cells)
"""

# The same five measures written by hand with Decimal.
HAND = """
import csv, sys
from decimal import Decimal, ROUND_HALF_UP
FEN = Decimal("0.01")
TRUE = ("true", "是", "yes", "1")
def fen(x): return x.quantize(FEN, rounding=ROUND_HALF_UP)
src = open(sys.argv[1], newline="", encoding="utf-8")
dst = open(sys.argv[2], "w", newline="", encoding="utf-8")
with src, dst:
    out = csv.writer(dst)
    measures = ("rnd", "scale", "jobs", "tech", "growth")
    columns = [f"{m}.{k}" for m in measures for k in ("status", "amount")]
    out.writerow(["id", "total_status", "total_amount"] + columns)
    rows = csv.reader(src)
    next(rows)
    for key, revenue, investment, staff, certified, hightech in rows:
        revenue, investment, staff = Decimal(revenue), Decimal(investment), Decimal(staff)
        certified, hightech = certified.lower() in TRUE, hightech.lower() in TRUE
        results = [
            fen(min(investment * Decimal("0.1"), Decimal(5000000))) if certified else None,
            Decimal(500000) if revenue >= 100000000 else None,
            fen(min(staff * 2000, Decimal(1000000))),
            Decimal(200000) if hightech else None,
            fen(min(revenue * Decimal("0.01"), Decimal(2000000)))
            if certified and investment >= 10000000
            else None,
        ]
        paid = [r for r in results if r is not None]
        cells = [key, "determined" if paid else "ineligible", fen(sum(paid)) if paid else ""]
        for r in results:
            cells += ["ineligible", ""] if r is None else ["determined", fen(r)]
        out.writerow(cells)
"""


def generate(path: Path, rows: int, seed: int = 17) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "revenue", "investment", "staff", "certified", "hightech"])
        for i in range(rows):
            out.writerow(
                [
                    f"A{i + 1:08d}",
                    f"{rng.randrange(0, 30000000000) / 100:.2f}",
                    f"{rng.randrange(0, 8000000000) / 100:.2f}",
                    rng.randrange(0, 800),
                    "true" if rng.random() < 0.6 else "false",
                    "true" if rng.random() < 0.3 else "false",
                ]
            )


def run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    stderr = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed ({code}): {stderr[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def outcomes(path: Path) -> list[tuple[str, ...]]:
    """Every row's id, statuses and amounts (amounts as exact text, two places)."""
    keys = ["total_status", "total_amount"] + [f"{m}.{k}" for m in MEASURES for k in ("status", "amount")]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(r["id"], *(r[k] for k in keys)) for r in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated: duckdb,python,compiled,hand")
    parser.add_argument("--memory", action="store_true", help="DuckDB alone on 10,000,000 rows")
    args = parser.parse_args()
    rows = 10_000_000 if args.memory else args.rows
    chosen = ["duckdb"] if args.memory else (args.only or "duckdb,python,compiled,hand").split(",")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "applicants.csv"
        started = time.perf_counter()
        generate(source, rows)
        print(f"{rows:,} applicants generated in {time.perf_counter() - started:.1f} s "
              f"({source.stat().st_size / 1e6:.0f} MB)")  # fmt: skip
        module = work / "policy_module.py"
        subprocess.run([str(BIN / "policydsl"), "compile", str(POLICY), "-o", str(module)], check=True)
        (work / "driver.py").write_text(DRIVER, encoding="utf-8")
        (work / "hand.py").write_text(HAND, encoding="utf-8")
        policydsl = str(BIN / "policydsl")
        commands = {
            "duckdb": [policydsl, "eval", str(POLICY), "--batch", str(source), "-o", str(work / "duckdb.csv"),
                       "--date", DATE, "--engine", "duckdb", "--columns", "amounts", "--no-progress"],
            "python": [policydsl, "eval", str(POLICY), "--batch", str(source), "-o", str(work / "python.csv"),
                       "--date", DATE, "--engine", "python", "--columns", "amounts", "--no-progress"],
            "compiled": [sys.executable, str(work / "driver.py"), str(module), str(source),
                         str(work / "compiled.csv"), DATE, ",".join(MEASURES)],
            "hand": [sys.executable, str(work / "hand.py"), str(source), str(work / "hand.csv")],
        }  # fmt: skip
        times: dict[str, list[float]] = {}
        memory: dict[str, int] = {}
        for _ in range(args.repeat):
            for name in chosen:
                wall, peak = run(commands[name])
                times.setdefault(name, []).append(wall)
                memory[name] = max(memory.get(name, 0), peak)
        results = {name: outcomes(work / f"{name}.csv") for name in chosen}
        first = chosen[0]
        for name in chosen[1:]:
            if results[name] != results[first]:
                bad = next((a, b) for a, b in zip(results[first], results[name], strict=True) if a != b)
                raise SystemExit(f"{name} disagrees with {first}: {bad}")
        print(f"all {len(chosen)} agree on every status and amount of {rows:,} rows")
        base = min(times["hand"]) if "hand" in times else None
        print(f"{'approach':<10} {'best s':>8} {'worst s':>8} {'× hand':>7} {'peak MB':>8}")
        for name in chosen:
            best, worst = min(times[name]), max(times[name])
            ratio = f"{best / base:.2f}" if base else "-"
            print(f"{name:<10} {best:8.2f} {worst:8.2f} {ratio:>7} {memory[name]:8d}")


if __name__ == "__main__":
    main()
