"""Write a generated population for every bundled policy: policies/samples/<name>_population.csv.

Each population grows from the policy's hand-made sample applicants (policies/samples/<name>.csv), whose
values sit on and around the policy's thresholds: every generated applicant starts from one sample,
takes some columns from another, moves its figures by up to a fifth either way, its dates by up to a
year, and turns a few yes/no answers round; a quota whose selection a fact records keeps at most its
count of applicants marked.  A fixed seed makes the files the same on every run.

    .venv/bin/python scripts/populations.py
"""

from __future__ import annotations

import csv
import datetime
import random
import re
from decimal import Decimal
from pathlib import Path

import policydsl
from policydsl.evaluation import runtime as rt

SAMPLES = Path(__file__).resolve().parent.parent / "policies" / "samples"
SEED = 20260601
ROWS = 300
# the day each policy's examples are evaluated on (tests/test_policies.py SAMPLE_DATES; None: today)
DATES = {
    "shandong_platforms": datetime.date(2019, 6, 1),
    "jiangmen_special_fund": datetime.date(2022, 6, 1),
    "shenzhen_consulting_diagnosis": datetime.date(2023, 3, 1),
    "liuhe_key_industries": datetime.date(2023, 6, 1),
    "lucheng_open_economy": datetime.date(2020, 6, 1),
    "lucheng_modern_services": datetime.date(2020, 6, 1),
}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def vary(value: str, pick: random.Random) -> str:
    """`value` moved a little: a figure by up to ±20% (as many decimals as written), a date by up to a
    year, a yes/no turned round one time in 25; anything else as it is."""
    if value in ("true", "false"):
        return ("false" if value == "true" else "true") if pick.random() < 0.04 else value
    if _DATE.fullmatch(value):
        day = datetime.date.fromisoformat(value) + datetime.timedelta(days=pick.randint(-120, 120))
        return day.isoformat()
    if (_NUMBER.fullmatch(value) and not value.startswith("0")) or value == "0":
        if value == "0" or pick.random() < 0.4:  # keep the threshold values themselves often
            return value
        places = len(value.split(".")[1]) if "." in value else 0
        factor = Decimal(pick.randint(80, 120)) / 100
        moved = (Decimal(value) * factor).quantize(Decimal(1).scaleb(-places))
        return format(max(moved, Decimal(0)), "f")
    return value


def population(
    sample: Path, pick: random.Random, evaluator: policydsl.PolicyEvaluator
) -> tuple[list[str], list[dict[str, str]]]:
    with sample.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    out = []
    for n in range(1, ROWS + 1):
        for _ in range(50):
            base = pick.choice(rows)
            row = {column: vary(value, pick) for column, value in base.items() if column != "id"}
            try:
                evaluator.evaluate(
                    {k: v for k, v in row.items() if v != ""}, DATES.get(sample.stem), explain=False
                )
            except rt.InputError:
                continue
            break
        row["id"] = f"P{n:04d}"
        out.append(row)
    # a quota whose selection a fact records: the authority selected at most its count, so the rows
    # past it are not marked (a batch marking more is inconsistent input)
    for measure in evaluator.plan.measures:
        quota = measure.quota
        if quota is None or quota.selected_by is None or quota.selected_by not in columns:
            continue
        marked = [row for row in out if row[quota.selected_by] == "true"]
        for row in marked[quota.count :]:
            row[quota.selected_by] = "false"
    return columns, out


def main() -> None:
    for sample in sorted(SAMPLES.glob("*.csv")):
        if sample.stem.endswith("_population"):
            continue
        pick = random.Random(f"{SEED}:{sample.stem}")
        evaluator = policydsl.load(sample.parent.parent / f"{sample.stem}.policy")
        columns, rows = population(sample, pick, evaluator)
        target = SAMPLES / f"{sample.stem}_population.csv"
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"{target.name}: {len(rows)} applicants")


if __name__ == "__main__":
    main()
