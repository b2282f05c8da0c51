"""The `simulate` command's work: a population's budget estimate under one policy or two versions."""

from __future__ import annotations

import datetime
import json
import tempfile
from pathlib import Path
from typing import Any

import click

from policydsl import codes
from policydsl.api import PolicyEvaluator
from policydsl.checking.pipeline import errors_text
from policydsl.commands.build import echo
from policydsl.commands.evaluate import UsageProblem, build, prepare_sql
from policydsl.evaluation import runtime as rt
from policydsl.evaluation import simulate as sim
from policydsl.evaluation.batch import PotShare
from policydsl.files import atomic_output
from policydsl.messages import default_lang
from policydsl.render import simulate as show
from policydsl.syntax.keywords import chinese_keywords
from policydsl.textsafety import json_safe

INPUT_SUFFIXES = (".csv", ".jsonl")


def _python(evaluator: PolicyEvaluator, policy: Path, population: Path, date: datetime.date | None) -> Any:
    limits = evaluator.constraints()
    budget = sim.budgets(evaluator.plan, evaluator.interpreter.literal)
    outcomes = sim.python_outcomes(evaluator, population, date, limits)
    pots = [c for c in limits if isinstance(c, PotShare)]
    return sim.estimate(outcomes, evaluator.plan, budget, pots, engine="python", policy=str(policy))


def _duckdb(policy: Path, population: Path, date: datetime.date | None) -> Any:
    """The estimate on DuckDB; None (after a note on standard error) when the SQL back end does not
    translate the policy, and the caller falls back to the Python engine."""
    from policydsl.evaluation import sqlbatch
    from policydsl.evaluation.interpreter import Interpreter

    prepared, sink, _ = prepare_sql(policy, date)
    if prepared is None:
        echo(errors_text(policy, sink.errors_only()), err=True)
        if any(d.code != codes.S101.id for d in sink.errors_only()):
            raise SystemExit(1)
        note = "note: the SQL back end does not translate this policy; estimating with --engine python"
        echo(f"{policy}: {note}", err=True)
        return None
    plan = prepared.plan
    interpreter = Interpreter(plan)
    evaluator = PolicyEvaluator(plan)
    limits = evaluator.constraints()
    with tempfile.TemporaryDirectory() as folder:
        decided = Path(folder) / "decided.jsonl"
        try:
            sqlbatch.run_file(
                prepared.query_for,
                prepared.facts,
                prepared.labels,
                prepared.forms,
                population,
                decided,
                notes=prepared.notes,
            )
        except sqlbatch.BatchProblem as exc:
            raise UsageProblem(str(exc)) from None
        outcomes = sim.decided_file_outcomes(decided, [m.name for m in plan.measures])
        estimate, by_id = sim.estimate(
            outcomes,
            plan,
            sim.budgets(plan, interpreter.literal),
            [c for c in limits if isinstance(c, PotShare)],
            engine="duckdb",
            policy=str(policy),
        )
    estimate.limits_known = False
    return estimate, by_id


def one(policy: Path, population: Path, date: datetime.date | None, engine: str) -> tuple[sim.Estimate, Any]:
    if engine == "duckdb":
        done = _duckdb(policy, population, date)
        if done is not None:
            return done  # type: ignore[no-any-return]
    evaluator = build(policy, None)
    try:
        return _python(evaluator, policy, population, date)  # type: ignore[no-any-return]
    except rt.InputError as exc:
        raise UsageProblem("; ".join(exc.problems)) from None


def simulate(
    policy: Path,
    population: Path,
    other: Path | None,
    fmt: str,
    output: Path | None,
    engine: str,
    date: datetime.date | None,
    lang: str | None,
) -> int:
    """Exit 0 with the figures printed or written (a budget exceeded is a figure, not a failure); 1
    when a policy has errors; 2 for a usage problem (the population's format or columns)."""
    if population.suffix.lower() not in INPUT_SUFFIXES and not (
        engine == "duckdb" and population.suffix.lower() == ".parquet"
    ):
        raise UsageProblem("--population takes a .csv or .jsonl file (.parquet with --engine duckdb)")
    estimate, by_id = one(policy, population, date, engine)
    estimates = [estimate]
    comparison = None
    if other is not None:
        second, second_by_id = one(other, population, date, engine)
        estimates.append(second)
        comparison = sim.compare(by_id, second_by_id)
    if lang not in ("zh", "en"):  # a policy with a Chinese title is read by Chinese drafters
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in estimate.title)
        lang = "zh" if chinese else default_lang(chinese_keywords(policy.read_text("utf-8", "replace")))
    if fmt == "json":
        data: dict[str, Any] = {"estimates": [sim.estimate_json(e) for e in estimates]}
        if comparison is not None:
            data["comparison"] = sim.comparison_json(comparison)
        out = json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"
    elif fmt == "html":
        out = show.page(estimates, comparison, lang)
    else:
        out = show.table(estimates, comparison, lang)
    if output is None:
        click.echo(out, nl=False)
    else:
        with atomic_output(output) as handle:
            handle.write(out.encode("utf-8"))
        echo(f"estimate written to {output}")
    return 0
