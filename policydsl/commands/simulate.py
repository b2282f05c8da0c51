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
from policydsl.commands.evaluate import UsageProblem, build, prepare_sql, run_sql_engine
from policydsl.evaluation import runtime as rt
from policydsl.evaluation import simulate as sim
from policydsl.evaluation.batch import PotShare
from policydsl.files import atomic_output
from policydsl.messages import Lang, default_lang, msg
from policydsl.render import simulate as show
from policydsl.syntax.keywords import chinese_keywords
from policydsl.textsafety import json_safe

INPUT_SUFFIXES = (".csv", ".jsonl")


def _text(policy: Path) -> str:
    return policy.read_text("utf-8", "replace")


ENGINES = ("auto", "python", "duckdb", "spark")


def _python(
    evaluator: PolicyEvaluator, policy: Path, population: Path, date: datetime.date | None, lang: Lang
) -> Any:
    return sim.run_python(
        evaluator,
        evaluator.plan,
        evaluator.interpreter.literal,
        evaluator.constraints(),
        population,
        date,
        str(policy),
        lang,
    )


def _sql(policy: Path, population: Path, date: datetime.date | None, engine: str, lang: Lang) -> Any:
    """The estimate on DuckDB (`duckdb`, and `auto`) or Spark; None when the SQL back end does not
    translate the policy and the caller falls back to the Python engine (after a note on standard
    error, unless the engine was chosen by `auto`)."""
    from policydsl.evaluation import sqlbatch
    from policydsl.evaluation.interpreter import Interpreter

    prepared, sink, _ = prepare_sql(policy, date)
    if prepared is None:
        if any(d.code != codes.S101.id for d in sink.errors_only()):
            echo(errors_text(policy, sink.errors_only()), err=True)
            raise SystemExit(1)
        if engine == "auto":
            return None
        echo(errors_text(policy, sink.errors_only()), err=True)
        note = msg("simulate.fallback", engine=engine)
        echo(f"{policy}: {note.render(lang)}", err=True)
        return None
    plan = prepared.plan
    interpreter = Interpreter(plan)
    limits = PolicyEvaluator(plan).constraints()
    limited = sim.limited_measures(limits)
    extra = sim.before_columns(prepared.query.tree.named_selects, sorted(limited))
    ran = "duckdb" if engine == "auto" else engine
    with tempfile.TemporaryDirectory() as folder:
        decided = Path(folder) / "decided.jsonl"
        try:
            run_sql_engine(prepared, ran, population, decided, extra=extra)
        except sqlbatch.BatchProblem as exc:
            raise UsageProblem(str(exc)) from None
        outcomes = sim.decided_file_outcomes(decided, [m.name for m in plan.measures])
        estimate, by_id = sim.estimate(
            outcomes,
            plan,
            sim.budgets(plan, interpreter.literal),
            [c for c in limits if isinstance(c, PotShare)],
            engine=ran,
            policy=str(policy),
        )
    # the figures of the limits are known when the query gives every limited measure's result before them
    estimate.limits_known = len(extra) == 2 * len(limited)
    return estimate, by_id


def one(
    policy: Path, population: Path, date: datetime.date | None, engine: str, lang: Lang = "en"
) -> tuple[sim.Estimate, Any]:
    """The estimate of one policy on `engine`; `auto` is DuckDB where the SQL back end translates the
    policy, else Python (as `eval --batch` chooses)."""
    if engine != "python":
        done = _sql(policy, population, date, engine, lang)
        if done is not None:
            return done  # type: ignore[no-any-return]
        if population.suffix.lower() == ".parquet":
            raise UsageProblem(msg("simulate.parquet_needs_sql").render(lang))
    evaluator = build(policy, None)
    try:
        return _python(evaluator, policy, population, date, lang)  # type: ignore[no-any-return]
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
    said: Lang = lang if lang in ("zh", "en") else default_lang(chinese_keywords(_text(policy)))  # type: ignore[assignment]
    if population.suffix.lower() not in INPUT_SUFFIXES and not (
        engine != "python" and population.suffix.lower() == ".parquet"
    ):
        raise UsageProblem(msg("simulate.population_format").render(said))
    estimate, by_id = one(policy, population, date, engine, said)
    estimates = [estimate]
    comparison = None
    if other is not None:
        second, second_by_id = one(other, population, date, engine, said)
        estimates.append(second)
        comparison = sim.compare(by_id, second_by_id)
    if lang not in ("zh", "en"):  # a policy with a Chinese title is read by Chinese drafters
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in estimate.title)
        lang = "zh" if chinese else said
    if fmt == "json":
        data: dict[str, Any] = {"estimates": [sim.estimate_json(e) for e in estimates]}
        if comparison is not None:
            data["comparison"] = sim.comparison_json(comparison)
        out = json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"
    elif fmt == "html":
        out = show.page(estimates, comparison, lang, date)
    else:
        out = show.table(estimates, comparison, lang, date)
    if output is None:
        click.echo(out, nl=False)
    else:
        with atomic_output(output) as handle:
            handle.write(out.encode("utf-8"))
        echo(msg("simulate.written", path=str(output)).render(said))
    return 0
