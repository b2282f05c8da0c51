"""The `eval` and `test` commands' work: read facts, evaluate, print decisions and example results."""

from __future__ import annotations

import codecs
import contextlib
import datetime
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import click

from policydsl import codes
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
)
from policydsl.evaluation.cells import slow_summary
from policydsl.evaluation.examples import coverage_gaps, read_examples, run_example
from policydsl.evaluation.interpreter import Coverage, Interpreter
from policydsl.evaluation.progress import Progress, count_lines, progress_for
from policydsl.files import spooled_stdin
from policydsl.messages import Message, default_lang, msg
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
    CSV output, the `formula_guard` on CSV text cells, `strict` (a key naming no fact is an error
    row, not ignored), the output `columns` (amounts, reasons, all) and the `progress` shown on
    standard error (progress.MODES)."""

    encoding: str | None = None
    bom: bool = True
    formula_guard: bool = True
    strict: bool = False
    columns: str = "all"
    progress: str = "auto"


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
    slow: dict[str, int] = {}
    passes = 2 if evaluator.constraints() else 1  # quotas, group caps and pots: a first pass plans them
    shown = progress_for(options.progress, _rows_in(source) * passes if options.progress != "off" else None)
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
            shown,
            encoding=encoding,
            bom=options.bom,
            formula_guard=options.formula_guard,
            strict=options.strict,
            ignored=ignored,
            lang=lang,
            inconsistent=inconsistent,
            columns=options.columns,
            slow=slow,
        )
    except rt.InputError as exc:
        raise UsageProblem("; ".join(exc.problems)) from None
    specs = evaluator.interpreter.specs
    for key, count in ignored.items():
        warn_unknown_keys(source, specs, [key], f" in {count} row{'s' if count > 1 else ''}")
    echo(f"{rows} rows evaluated into {target}: {rows - errors} decided, {errors} with errors")
    if slow:
        echo(slow_summary(slow, rows).render(lang))
    for item in inconsistent:
        echo(item.summary().render(lang))
    return 1 if errors else 0


def _rows_in(source: Path) -> int:
    """About how many rows `source` has (its lines, less a CSV's header): progress's total."""
    lines = count_lines(source)
    return max(lines - (source.suffix.lower() == ".csv"), 0)


@contextlib.contextmanager
def readable(source: Path) -> Iterator[Path]:
    """`source`, or for an .xlsx workbook its first sheet as a CSV file of text cells (evaluation/
    xlsx.py) in a temporary folder, which every engine then reads as it reads CSV."""
    if source.suffix.lower() != ".xlsx" or is_stdin(source):
        yield source
        return
    from policydsl.evaluation import xlsx

    if not source.is_file():
        raise UsageProblem(f"cannot read {source}")
    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder) / f"{source.name}.csv"
        try:
            xlsx.to_csv(source, converted)
        except xlsx.XlsxProblem as exc:
            raise UsageProblem(str(exc)) from None
        yield converted


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


def prepare_sql(
    policy: Path, date: datetime.date | None, params: Path | None = None
) -> tuple[Any, Sink, bool]:
    """The policy ready for the SQL engines (an sqlbatch.SqlPolicy), its sink, and whether it is in
    Chinese keywords; None when it has errors or a construct the SQL back end does not translate
    (S101): the diagnostics are in the sink, the refused construct known before any row.  `params`
    values are checked and parsed as the Python engine does and reach the query inlined."""
    from policydsl.codegen.evaluator import sql_query
    from policydsl.evaluation import sqlbatch

    sink = Sink()
    checked = check_file(policy, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None, sink, False
    chinese = chinese_keywords(checked.source.text)
    plan = lower(checked.model, checked.source.text)
    given = None
    if params is not None:
        try:
            given = Interpreter(plan, params=read_json(params, "parameters")).overrides
        except rt.InputError as exc:
            raise UsageProblem("; ".join(exc.problems)) from None
    lang = default_lang(chinese)  # the error rows' texts, as the Python engine's
    query = sql_query(plan, checked.source, sink, date, sqlbatch.PASSTHROUGH, params=given, lang=lang)
    if query is None:
        return None, sink, chinese
    return sqlbatch.for_plan(plan, query), sink, chinese


def evaluate_batch_sql(
    policy: Path,
    source: Path,
    target: Path,
    date: datetime.date | None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    options: BatchOptions | None = None,
    params: Path | None = None,
) -> int:
    """`eval --batch FILE -o OUT --engine duckdb|spark`: the SQL back end's query run on DuckDB or on
    Spark (`spark_master`, default local mode), writing the `options.columns` chosen, with
    `options.progress` (progress.MODES).  Exit 1 when the policy has errors or a construct the
    back end does not translate (S101), or when some row is invalid (its own output row says why); 0
    otherwise."""
    from policydsl.evaluation import sqlbatch

    _sql_suffixes(source, target, engine)
    prepared, sink, _ = prepare_sql(policy, date, params)
    if prepared is None:
        echo(errors_text(policy, sink.errors_only()), err=True)
        return 1
    try:
        return _run_sql(prepared, source, target, engine, spark_master, options or BatchOptions())
    except sqlbatch.BatchProblem as exc:
        raise UsageProblem(str(exc)) from None


def _sql_suffixes(source: Path, target: Path, engine: str) -> None:
    from policydsl.evaluation import sqlbatch

    if (
        source.suffix.lower() not in sqlbatch.INPUT_SUFFIXES
        or target.suffix.lower() not in sqlbatch.OUTPUT_SUFFIXES
    ):
        raise UsageProblem(f"--engine {engine} reads and writes .csv, .parquet or .jsonl files")
    if not source.is_file():
        raise UsageProblem(f"cannot read {source}")


def _run_sql(
    prepared: Any,
    source: Path,
    target: Path,
    engine: str,
    spark_master: str | None,
    options: BatchOptions,
) -> int:
    from policydsl.codegen import sql
    from policydsl.evaluation import sqlbatch

    p: sqlbatch.SqlPolicy = prepared
    # the total: the input's lines (a Parquet file's rows are not counted beforehand)
    rows_in = None if options.progress == "off" or source.suffix.lower() == ".parquet" else _rows_in(source)
    counted = run_sql_engine(
        p,
        engine,
        source,
        target,
        spark_master=spark_master,
        bom=options.bom,
        formula_guard=options.formula_guard,
        columns=options.columns,
        progress=progress_for(options.progress, rows_in),
    )
    rows = sum(counted.values())
    parts = ", ".join(f"{counted[s]} {s}" for s in sql.STATUSES if counted.get(s))
    echo(f"{rows} rows → {target} ({engine}): {parts or 'no rows'}")
    return 1 if counted.get(sql.INVALID) else 0


def run_sql_engine(
    prepared: Any,
    engine: str,
    source: Path,
    target: Path,
    *,
    spark_master: str | None = None,
    bom: bool = False,
    formula_guard: bool = False,
    columns: str = "all",
    extra: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, int]:
    """Decide every row of `source` into `target` with the SqlPolicy `prepared` on `engine` (`spark`:
    Spark on `spark_master`, default local mode; else DuckDB), as sqlbatch.run_file and
    sparkbatch.run_file do; the number of rows of each total status.  `progress` is closed when the
    run ends, however it ends.  `eval --batch` and `simulate` both run the SQL engines here."""
    from policydsl.evaluation import sqlbatch

    p: sqlbatch.SqlPolicy = prepared
    with progress if progress is not None else contextlib.nullcontext():
        if engine == "spark":
            from policydsl.evaluation import sparkbatch

            spark = sparkbatch.session(spark_master)
            return sparkbatch.run_file(
                p.query_for, p.facts, p.labels, p.forms, source, target, spark,
                notes=p.notes, bom=bom, formula_guard=formula_guard, columns=columns,
                extra=extra, progress=progress,
            )  # fmt: skip
        return sqlbatch.run_file(
            p.query_for, p.facts, p.labels, p.forms, source, target,
            notes=p.notes, bom=bom, formula_guard=formula_guard, columns=columns,
            extra=extra, progress=progress,
        )  # fmt: skip


def python_only(
    source: Path,
    *,
    interpret: bool = False,
    explain: bool = False,
    encoding: str | None = None,
) -> Message | None:
    """Why `--engine auto` runs a batch on the Python engine whatever the policy: an option only it
    has, or an input only it reads; None when DuckDB may run it."""
    from policydsl.evaluation import sqlbatch

    for option, given in (
        ("--batch -", is_stdin(source)),
        ("--interpret", interpret),
        ("--explain", explain),
        (f"--encoding {encoding}", encoding is not None and _codec(encoding) != "utf-8"),
    ):
        if given:
            return msg("batch.engine_option", option=option)
    if source.suffix.lower() not in sqlbatch.INPUT_SUFFIXES:
        return msg("batch.engine_format", suffix=source.suffix or source.name)
    return None


def _codec(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None  # the Python engine says so


def evaluate_batch_auto(
    policy: Path,
    source: Path,
    fmt: str | None,
    target: Path,
    date: datetime.date | None,
    options: BatchOptions,
    why: Message | None,
    params: Path | None = None,
    interpret: bool = False,
) -> int:
    """`eval --batch FILE -o OUT` (`--engine auto`): DuckDB when the policy translates and the run
    needs nothing only the Python engine gives (`why` says what it needs, when it does); else the
    Python engine, after one line on standard error saying why."""
    from policydsl.evaluation import sqlbatch

    chinese: bool | None = None
    if why is None and target.suffix.lower() not in sqlbatch.OUTPUT_SUFFIXES:
        why = msg("batch.engine_format", suffix=target.suffix or target.name)
    if why is None and source.is_file():
        prepared, sink, chinese = prepare_sql(policy, date, params)
        if prepared is None:
            refused = [d for d in sink.errors_only() if d.code == codes.S101.id]
            if len(refused) != len(sink.errors_only()):  # errors of the policy itself: no engine runs it
                echo(errors_text(policy, sink.errors_only()), err=True)
                return 1
            why = msg("batch.engine_refused", where=str(refused[0].span or policy), why=refused[0].msg)
        else:
            try:
                return _run_sql(prepared, source, target, "duckdb", None, options)
            except sqlbatch.BatchProblem as exc:
                why = msg("batch.engine_input", problem=str(exc))
    if why is not None:
        note = msg("batch.engine_python", why=why).render(default_lang(chinese))
        echo(f"{display_name(policy)}: {note}", err=True)
    evaluator = build(policy, params, interpret)
    return evaluate_batch_input(evaluator, source, fmt, target, date, options)
