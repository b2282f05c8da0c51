"""The `eval` and `test` commands' work: read facts, evaluate, print decisions and example results."""

from __future__ import annotations

import codecs
import datetime
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import click

from policydsl.api import PolicyEvaluator, compile_policy
from policydsl.checking.frontend import display_name, is_stdin, read_limited
from policydsl.checking.pipeline import check_file, errors_text
from policydsl.commands.build import echo
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import (
    Inconsistent,
    detect_encoding,
    encoding_name,
    parse_json,
    run_batch,
    stderr_progress,
)
from policydsl.evaluation.examples import coverage_gaps, read_examples, run_example
from policydsl.evaluation.interpreter import Coverage, Interpreter
from policydsl.files import spooled_stdin
from policydsl.messages import default_lang, msg
from policydsl.plan.lower import lower
from policydsl.syntax.keywords import chinese_keywords
from policydsl.textsafety import json_safe, visible


class UsageProblem(click.ClickException):
    """A problem with the command's input files (exit code 2)."""

    exit_code = 2

    def format_message(self) -> str:
        return visible(self.message, newlines=True)  # the message may quote file names and input


# An applicant's facts or a set of parameter values is a few kilobytes; this refuses a wrong file
# (a batch given as --facts, a device) before reading all of it.
MAX_JSON_BYTES = 16 * 1024 * 1024


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file or standard input (`-`); any problem with it is a usage error."""
    name = display_name(path)
    try:
        data = read_limited(path, MAX_JSON_BYTES)
        if len(data) > MAX_JSON_BYTES:
            raise UsageProblem(f"{name}: {what} larger than {MAX_JSON_BYTES} bytes; is this the right file?")
        value = parse_json(data.decode("utf-8-sig"))
    except OSError as exc:
        raise UsageProblem(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageProblem(f"{name}: {what} must be a JSON object of name → value")
    return value


def build(policy: Path, params: Path | None, interpret: bool = False) -> PolicyEvaluator:
    """The evaluator for a policy file (compiled, or the reference interpreter when `interpret`);
    prints the diagnostics and exits 1 when it has errors."""
    overrides = read_json(params, "parameters") if params is not None else None
    try:
        evaluator, sink = compile_policy(policy, overrides, compiled=not interpret)
    except rt.InputError as exc:
        raise UsageProblem("; ".join(exc.problems)) from None
    if evaluator is None:
        echo(errors_text(policy, sink.errors_only()), err=True)
        raise SystemExit(1)
    return evaluator


def warn_unknown_keys(
    where: Path, specs: dict[str, rt.FactSpec], keys: Iterable[str], rows: str = ""
) -> None:
    """Say loudly that keys naming no fact were ignored: a misspelt fact is otherwise a wrong award."""
    for key in keys:
        click.echo(
            f"{where}: warning: {rt.unknown_key(specs, key)}{rows}; ignored (--strict-facts refuses it)",
            err=True,
        )


def evaluate_one(
    evaluator: PolicyEvaluator,
    facts_path: Path,
    date: datetime.date | None,
    partial: bool,
    explain: bool,
    fmt: str,
    strict: bool = False,
) -> int:
    facts = read_json(facts_path, "facts")
    if not strict:
        specs = evaluator.interpreter.specs
        warn_unknown_keys(facts_path, specs, rt.unknown_keys(specs, facts))
    try:
        decision = evaluator.evaluate(
            facts, date, partial=partial, explain=explain or fmt == "json", strict=strict
        )
    except rt.InputError as exc:
        lang = default_lang(evaluator.chinese)
        echo(msg("input.facts_unusable", path=str(facts_path)).render(lang), err=True)
        for problem in evaluator.input_problems(exc, lang):
            echo(f"  - {problem}", err=True)
        return 1
    if fmt == "json":
        echo(json_safe(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2)))
    elif explain:
        echo(decision.explain())
    else:
        echo(summary(decision))
    return 0


def summary(decision: rt.Decision) -> str:
    lines = [decision.policy]
    lines.extend(f"  不符合申报条件：{f}" for f in decision.eligibility_failures)
    for m in decision.measures.values():
        reasons = f"（{'；'.join(m.reasons)}）" if m.reasons else ""
        needed = f" 尚需：{'、'.join(m.needed)}" if m.needed else ""
        lines.append(f"  {m.label}（{m.measure}）：{rt.describe(m)}{reasons}{needed}")
    lines.append(
        f"  合计：{rt.describe(decision.total)}"
        + (f"（{'；'.join(decision.total.reasons)}）" if decision.total.reasons else "")
    )
    return "\n".join(lines)


@attrs.frozen
class BatchOptions:
    """The batch command's options: the input's `encoding` (None: detected), a `bom` at the start of
    CSV output, the `formula_guard` on CSV text cells, and `strict` (a key naming no fact is an error
    row, not ignored)."""

    encoding: str | None = None
    bom: bool = True
    formula_guard: bool = True
    strict: bool = False


def evaluate_batch(
    evaluator: PolicyEvaluator,
    source: Path,
    target: Path,
    date: datetime.date | None,
    options: BatchOptions | None = None,
) -> int:
    """Exit code 0 when every row is decided, 1 when some row has an error (its own error row)."""
    options = options or BatchOptions()
    if source.suffix.lower() not in (".csv", ".jsonl") or target.suffix.lower() not in (".csv", ".jsonl"):
        raise UsageProblem("--batch and -o take .csv or .jsonl files")
    if not source.is_file():
        raise UsageProblem(f"cannot read {source}")
    encoding = options.encoding
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageProblem(f"--encoding {encoding}: no such encoding") from None
        how = "as given"
    else:
        encoding = detect_encoding(source)
        how = "detected"
    echo(f"reading {source} as {encoding_name(encoding)} ({how})")
    ignored: dict[str, int] = {}
    inconsistent: list[Inconsistent] = []
    lang = default_lang(evaluator.chinese)
    try:
        # an unreadable header, an unknown column, or a group cap the policy leaves unset stops the
        # batch before any row
        rows, errors = run_batch(
            evaluator,
            evaluator.measures,
            source,
            target,
            date,
            evaluator.constraints(),
            stderr_progress(),
            encoding=encoding,
            bom=options.bom,
            formula_guard=options.formula_guard,
            strict=options.strict,
            ignored=ignored,
            lang=lang,
            inconsistent=inconsistent,
        )
    except rt.InputError as exc:
        raise UsageProblem("; ".join(exc.problems)) from None
    specs = evaluator.interpreter.specs
    for key, count in ignored.items():
        warn_unknown_keys(source, specs, [key], f" in {count} row{'s' if count > 1 else ''}")
    echo(f"{rows} rows evaluated into {target}: {rows - errors} decided, {errors} with errors")
    for item in inconsistent:
        echo(item.summary().render(lang))
    return 1 if errors else 0


def evaluate_batch_input(
    evaluator: PolicyEvaluator,
    source: Path,
    fmt: str | None,
    target: Path,
    date: datetime.date | None,
    options: BatchOptions | None = None,
) -> int:
    """`--batch FILE` or `--batch -` (standard input, whose format `fmt` must name)."""
    if not is_stdin(source):
        if fmt is not None and source.suffix.lower() != f".{fmt}":
            raise UsageProblem(f"--input-format {fmt}, but {source} is not a .{fmt} file")
        return evaluate_batch(evaluator, source, target, date, options)
    if fmt is None:
        raise UsageProblem("--batch - needs --input-format csv or jsonl")
    with spooled_stdin(f".{fmt}") as spooled:
        return evaluate_batch(evaluator, spooled, target, date, options)


def test_files(
    files: tuple[Path, ...], coverage: bool, min_coverage: float | None, pattern: str | None
) -> int:
    passed = failed = 0
    reached_all = total_all = 0
    for path in files:
        sink = Sink()
        checked = check_file(path, sink)
        if checked.model is None or checked.source is None or sink.has_errors:
            echo(errors_text(path, sink.errors_only()))
            failed += 1
            continue
        lang = default_lang(chinese_keywords(checked.source.text))
        plan = lower(checked.model, checked.source.text)
        examples = read_examples(checked.model, plan, checked.source.text)
        interpreter = Interpreter(plan)
        seen: Coverage = {}
        for example in examples.matching(pattern):
            result = run_example(interpreter, example, seen)
            if result.passed:
                passed += 1
                continue
            failed += 1
            echo(msg("test.failed", where=str(example.span), name=example.name).render(lang))
            for failure in result.failures:
                echo(f"    {failure.render(lang)}")
            if result.decision is not None:
                echo("  " + msg("test.explanation").render(lang))
                echo("\n".join("    " + line for line in result.decision.explain().splitlines()))
        if coverage:
            reached, total, gaps = coverage_gaps(plan, examples.sites, seen)
            reached_all += reached
            total_all += total
            share = Decimal(100) * reached / total if total else Decimal(100)
            line = msg("test.coverage", path=str(path), share=f"{share:.1f}", reached=reached, total=total)
            echo(line.render(lang))
            for gap in gaps:
                echo(f"  {gap.span}: {gap.message.render(lang)}")
    echo(f"{passed} passed, {failed} failed")
    if coverage and min_coverage is not None and total_all:
        share = Decimal(100) * reached_all / total_all
        if share < Decimal(str(min_coverage)):
            below = msg("test.below_min_coverage", share=f"{share:.1f}", minimum=str(min_coverage))
            echo(below.render(default_lang()))
            return 1
    return 1 if failed else 0


def evaluate_batch_sql(
    policy: Path,
    source: Path,
    target: Path,
    date: datetime.date | None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    params: Path | None = None,
) -> int:
    """`eval --batch FILE -o OUT --engine duckdb|spark`: the SQL back end's query run on DuckDB or on
    Spark (`spark_master`, default local mode).  Exit 1 when the policy has errors or a construct the
    back end does not translate (S101), or when some row is invalid (its own output row says why); 0
    otherwise."""
    from policydsl.codegen import sql
    from policydsl.codegen.evaluator import sql_query
    from policydsl.evaluation import sqlbatch
    from policydsl.evaluation.batch import column_names

    if (
        source.suffix.lower() not in sqlbatch.INPUT_SUFFIXES
        or target.suffix.lower() not in sqlbatch.OUTPUT_SUFFIXES
    ):
        raise UsageProblem(f"--engine {engine} reads and writes .csv, .parquet or .jsonl files")
    if not source.is_file():
        raise UsageProblem(f"cannot read {source}")
    sink = Sink()
    checked = check_file(policy, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        echo(errors_text(policy, sink.errors_only()), err=True)
        return 1
    plan = lower(checked.model, checked.source.text)
    try:  # --params values, checked and parsed as the Python engine does, reach the query inlined
        overrides = read_json(params, "parameters") if params is not None else None
        interpreter = Interpreter(plan, params=overrides)
    except rt.InputError as exc:
        raise UsageProblem("; ".join(exc.problems)) from None
    given = interpreter.overrides
    query = sql_query(plan, checked.source, sink, date, params=given)  # refusals come before any row
    if query is None:
        echo(errors_text(policy, sink.errors_only()), err=True)
        return 1
    labels = {
        header: plan.aliases.get(key, key)
        for header, key in (column_names(interpreter.specs) or {}).items()
        if key in plan.facts or key in plan.aliases
    }
    forms = {m.name: rt.form_words(m.forms) for m in plan.measures}
    src = checked.source

    def query_for(passthrough: tuple[str, ...]) -> Any:
        return sql_query(plan, src, Sink(), date, passthrough, params=given)

    try:
        if engine == "spark":
            from policydsl.evaluation import sparkbatch

            spark = sparkbatch.session(spark_master)
            counted = sparkbatch.run_file(query_for, tuple(plan.facts), labels, forms, source, target, spark)
        else:
            counted = sqlbatch.run_file(query_for, tuple(plan.facts), labels, forms, source, target)
    except sqlbatch.BatchProblem as exc:
        raise UsageProblem(str(exc)) from None
    rows = sum(counted.values())
    parts = ", ".join(f"{counted[s]} {s}" for s in sql.STATUSES if counted.get(s))
    echo(f"{rows} rows → {target} ({engine}): {parts or 'no rows'}")
    return 1 if counted.get(sql.INVALID) else 0
