"""The `policydsl` command line: click commands that wire the modules together, nothing more."""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from policydsl.checking.frontend import is_stdin
from policydsl.checking.pipeline import check_file
from policydsl.commands import evaluate as commands_eval
from policydsl.commands.build import echo
from policydsl.diagnostics import Severity, Sink, format_json, format_text
from policydsl.evaluation.batch import COLUMN_CHOICES
from policydsl.messages import Lang, choice_scope, choose, default_lang
from policydsl.source import SourceFile
from policydsl.syntax.keywords import chinese_keywords
from policydsl.textsafety import json_safe

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2  # the table in docs/cli.md says what each means

# Inputs must exist (a missing file is a usage error, exit 2, before any work); `-` is standard input.
_FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True, path_type=Path)
)
_POLICY = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
_INPUT = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)


def policy_files(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    """The files to work on: a folder stands for the `.policy` files under it (sorted, hidden folders
    and files left out), as `opa check dir/` does; a folder without any is a usage error."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(
            p
            for p in path.rglob("*.policy")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not inside:
            raise click.UsageError(f"no .policy files in the folder {path}")
        found.extend(inside)
    return tuple(found)


def one_stdin(**inputs: Path | None) -> None:
    """Standard input can be read once: refuse `-` for two inputs of one command."""
    dashes = [f"{name}" for name, path in inputs.items() if path is not None and str(path) == "-"]
    if len(dashes) > 1:
        raise click.UsageError(f"only one input can be standard input (`-`): {', '.join(dashes)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policydsl")
@click.pass_context
def main(ctx: click.Context) -> None:
    """policydsl: write, check, compile, evaluate and draw subsidy policies."""
    ctx.call_on_close(choice_scope())  # a command's `--lang` ends with the command


# `--lang` on every command that prints diagnostics or findings; without it each file's messages
# are in its keyword language (messages.default_lang).
LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    envvar="POLICYDSL_LANG",
    help="The language of messages, findings and summaries (default: the file's keyword language, "
    "else the locale; also POLICYDSL_LANG).",
)


# Options `eval` and `simulate` share, declared once: the evaluation date, and the engine (each
# command names the engines it runs on).
DATE_OPTION = click.option(
    "--date", "date_text", help="Evaluation date (validity, durations); default: today."
)
ENGINE_HELP = (
    "python (the evaluator, every construct), duckdb or spark (the SQL back end; .csv, .parquet or "
    ".jsonl in and out); auto: duckdb when the policy translates and no option needs python, else "
    "python with a line on standard error saying why."
)


def engine_option(
    engines: tuple[str, ...], default: str = "python", help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--engine`, one of `engines`."""
    return click.option("--engine", type=click.Choice(engines), default=default, show_default=True, help=help)


def file_lang(lang: str | None, source: SourceFile | None) -> Lang:
    """The language of the messages about `source`: `--lang`, else its keyword language, else the locale."""
    if lang in ("zh", "en"):
        return "zh" if lang == "zh" else "en"
    return default_lang(None if source is None else chinese_keywords(source.text))


def emit(sink: Sink, sources: dict[str, SourceFile], fmt: str, lang: str | None = None) -> None:
    """Print the sink's diagnostics in the chosen format, each in its file's language."""
    diagnostics = sink.diagnostics
    if fmt == "json":
        shared = file_lang(lang, next(iter(sources.values()), None) if len(sources) == 1 else None)
        echo(json_safe(format_json(diagnostics, shared)))
    elif diagnostics:
        echo(
            "\n".join(
                format_text([d], sources, file_lang(lang, sources.get(d.span.file) if d.span else None))
                for d in diagnostics
            )
        )


@main.command()
# A file that cannot be read is still listed with the other files' findings (E004, in the chosen
# format, for editors and CI), and makes the exit code 2.
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="The lowest severity that makes the exit code 1.",
)
@click.option("--verbose", is_flag=True, help="Also show the findings the policy settles, with their reason.")
@click.option(
    "--timeout-ms",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Solver time limit for each analysis query.",
)
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=20000,  # Options.budget (not imported here: that would load the solver for every command)
    show_default=True,
    help="The most solver questions the analysis of one file asks; past it the rest is skipped "
    "(a P900 finding, and the summary says the analysis was cut short).",
)
@click.option(
    "--rlimit",
    type=click.IntRange(min=1),
    default=5_000_000,  # smt.DEFAULT_RLIMIT (not imported here, for the same reason)
    show_default=True,
    help="Solver steps each analysis question may take; a question not decided within them is "
    "reported (P900), the same on every machine.",
)
@LANG_OPTION
def check(
    files: tuple[Path, ...],
    fmt: str,
    fail_on: str,
    verbose: bool,
    timeout_ms: int,
    budget: int,
    rlimit: int,
    lang: str | None,
) -> None:
    """Parse and check policy files, then analyse the clauses of those without errors; print every
    problem found, or a one-line summary."""
    choose(lang)
    from policydsl.analysis import report as analysis_report
    from policydsl.analysis import run as analysis

    sink = Sink()
    sources: dict[str, SourceFile] = {}
    settled: list[analysis.Settled] = []
    options = analysis.Options(timeout_ms=timeout_ms, verbose=verbose, budget=budget, rlimit=rlimit)
    cut_short = 0
    files = policy_files(files)
    unreadable = False
    for path in files:
        unreadable |= not is_stdin(path) and not (path.exists() and os.access(path, os.R_OK))
        checked = check_file(path, sink)
        if checked.source is not None:
            sources[checked.source.name] = checked.source
        result = analysis_report.analyse_checked(checked, sink, options)
        if result is not None and verbose:
            settled.extend(result.settled)
        if result is not None and result.skipped:
            cut_short += 1
    # one language for what is not about one file: the files' own when they agree
    shared = {file_lang(lang, source) for source in sources.values()}
    common: Lang = shared.pop() if len(shared) == 1 else file_lang(lang, None)
    if fmt == "sarif":
        echo(json_safe(analysis_report.sarif_text(sink.diagnostics, settled, common)))
    elif fmt == "json":
        echo(json_safe(analysis_report.json_text(sink.diagnostics, settled, common)))
    else:
        emit(sink, sources, fmt, lang)
        if settled:
            echo(analysis_report.settled_text(settled, sources, common))
    threshold = Severity[fail_on.upper()]
    failing = [d for d in sink.diagnostics if d.severity >= threshold]
    exit_code = EXIT_USAGE if unreadable else EXIT_PROBLEMS if failing else EXIT_OK
    if fmt == "text":
        summary = analysis_report.summary_line(
            len(files),
            sink.diagnostics,
            fail_on=threshold,
            exit_code=exit_code,
            cut_short=cut_short,
            budget=budget,
            lang=common,
        )
        echo(summary)
    sys.exit(exit_code)


def _date(value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"`{value}` is not a date such as 2021-06-01") from None


def _progress_mode(progress: bool | None) -> str:
    """`--progress` (on), `--no-progress` (off), neither (auto: progress.MODES)."""
    return "auto" if progress is None else "on" if progress else "off"


@main.command("eval")
@click.argument("policy", type=_POLICY)
@click.option("--facts", type=_INPUT, help="One applicant: a JSON object of facts (`-`: standard input).")
@click.option(
    "--batch", type=_INPUT, help="Many applicants: .csv, .jsonl, .xlsx or .parquet (`-`: standard input)."
)
@click.option(
    "--input-format",
    type=click.Choice(["csv", "jsonl"]),
    help="With --batch: the input's format (default: its extension; needed for `--batch -`).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where --batch results go."
)
@DATE_OPTION
@click.option("--explain", is_flag=True, help="Explain every figure.")
@click.option(
    "--partial",
    is_flag=True,
    help="Facts may be missing: say what is decided and what is still needed (a batch is always "
    "decided so: a blank cell is a fact not known).",
)
@click.option("--params", type=_INPUT, help="JSON values for parameters.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--interpret", is_flag=True, help="Use the reference interpreter instead of the compiled evaluator."
)
@click.option(
    "--strict-facts",
    "strict",
    is_flag=True,
    help="Refuse a key that names no fact (default: ignore it with a warning naming the closest fact).",
)
@click.option("--encoding", help="With --batch: the input's encoding (default: detected, UTF-8 or GB18030).")
@click.option("--bom/--no-bom", default=True, help="With --batch: start CSV output with a BOM (for Excel).")
@click.option(
    "--formula-guard/--no-formula-guard",
    default=True,
    help="With --batch: quote CSV text cells a spreadsheet would run as formulas.",
)
@engine_option(("auto", "python", "duckdb", "spark"), default="auto", help="With --batch: " + ENGINE_HELP)
@click.option(
    "--spark-master",
    metavar="URL",
    help="With --engine spark: the Spark master (default local[*], every core of this machine).",
)
@click.option(
    "--columns",
    type=click.Choice(COLUMN_CHOICES),
    default="all",
    show_default=True,
    help="With --batch: amounts (statuses and amounts), reasons (and each measure's reasons) or all.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="With --batch: show progress on standard error (default: a bar on a terminal, otherwise a "
    "plain line every 10 seconds of a long batch).",
)
@LANG_OPTION
def eval_command(
    policy: Path,
    facts: Path | None,
    batch: Path | None,
    input_format: str | None,
    output: Path | None,
    date_text: str | None,
    explain: bool,
    partial: bool,
    params: Path | None,
    fmt: str,
    interpret: bool,
    strict: bool,
    encoding: str | None,
    bom: bool,
    formula_guard: bool,
    engine: str,
    spark_master: str | None,
    columns: str,
    progress: bool | None,
    lang: str | None,
) -> None:
    """Evaluate one applicant (--facts) or a whole batch (--batch … -o …)."""
    choose(lang)
    date = _date(date_text) or datetime.date.today()
    if (facts is None) == (batch is None):
        raise click.UsageError("give either --facts FILE or --batch FILE")
    if batch is not None and output is None:
        raise click.UsageError("--batch needs -o FILE for the results")
    if input_format is not None and batch is None:
        raise click.UsageError("--input-format goes with --batch")
    if engine not in ("python", "auto") and (batch is None or interpret or is_stdin(batch)):
        raise click.UsageError(
            f"--engine {engine} goes with --batch FILE (not standard input), without --interpret"
        )
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master goes with --engine spark")
    one_stdin(POLICY=policy, facts=facts, batch=batch, params=params)
    options = commands_eval.BatchOptions(
        encoding, bom, formula_guard, strict, columns, _progress_mode(progress)
    )
    if batch is not None and output is not None:
        with commands_eval.readable(batch) as readable:  # an .xlsx sheet as CSV text cells
            _eval_batch(policy, readable, input_format, output, date, options, engine, spark_master,
                        params=params, interpret=interpret, explain=explain)  # fmt: skip
    assert facts is not None
    evaluator = commands_eval.build(policy, params, interpret)
    sys.exit(commands_eval.evaluate_one(evaluator, facts, date, partial, explain, fmt, strict))


def _eval_batch(
    policy: Path,
    batch: Path,
    input_format: str | None,
    output: Path,
    date: datetime.date,
    options: commands_eval.BatchOptions,
    engine: str,
    spark_master: str | None,
    *,
    params: Path | None,
    interpret: bool,
    explain: bool,
) -> None:
    """`eval --batch` on the engine chosen (`auto`: commands/evaluate.py's evaluate_batch_auto)."""
    if engine in ("duckdb", "spark"):
        sys.exit(
            commands_eval.evaluate_batch_sql(
                policy, batch, output, date, engine, spark_master, options, params
            )
        )
    if engine == "auto":
        why = commands_eval.python_only(
            batch,
            interpret=interpret,
            explain=explain,
            encoding=options.encoding,
        )
        code = commands_eval.evaluate_batch_auto(
            policy, batch, input_format, output, date, options, why, params, interpret
        )
        sys.exit(code)
    evaluator = commands_eval.build(policy, params, interpret)
    sys.exit(commands_eval.evaluate_batch_input(evaluator, batch, input_format, output, date, options))


@main.command("compile")
@click.argument("policy", type=_POLICY)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The module to write (default, or `-`: standard output).",
)
@click.option(
    "--target",
    type=click.Choice(["python", "plan", "sql"]),
    default="python",
    show_default=True,
    help="python: the evaluator module; plan: the lowered policy as text, for debugging; "
    "sql: one query over a relation of applicants (see --dialect).",
)
@click.option(
    "--dialect",
    type=click.Choice(["duckdb", "spark", "postgres"]),
    default="duckdb",
    show_default=True,
    help="With --target sql: the SQL dialect printed.",
)
@LANG_OPTION
def compile_command(policy: Path, output: Path | None, target: str, dialect: str, lang: str | None) -> None:
    """Compile a policy to a standalone Python evaluator module (standard library only), print its
    plan, or print the SQL query that decides a whole relation of applicants."""
    choose(lang)
    from policydsl.commands.build import run_compile as run

    sys.exit(run(policy, None if output is not None and str(output) == "-" else output, target, dialect))


@main.command("test")
@_FILES
@click.option("--coverage", is_flag=True, help="Report clauses and condition branches no example reaches.")
@click.option("--min-coverage", type=float, help="With --coverage: fail below this percentage.")
@click.option("-k", "pattern", help="Only examples whose name contains this text.")
@LANG_OPTION
def test_command(
    files: tuple[Path, ...], coverage: bool, min_coverage: float | None, pattern: str | None, lang: str | None
) -> None:
    """Run the examples written in policy files; ends with `N passed, N failed`."""
    choose(lang)
    sys.exit(commands_eval.test_files(policy_files(files), coverage, min_coverage, pattern))


@main.command("diagram")
@click.argument("file", type=_POLICY)
@click.option("--measure", metavar="NAME", help="Draw this measure's decision tree (default: the overview).")
@click.option("--all", "draw_all", is_flag=True, help="Draw the overview and every measure into -o DIR.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="out.svg|png|pdf|dot, or a folder."
)
@click.option("--facts", type=_INPUT, help="Highlight this applicant's path (JSON).")
@click.option("--date", "date_text", help="With --facts: the evaluation date; default: today.")
@LANG_OPTION
def diagram_command(
    file: Path,
    measure: str | None,
    draw_all: bool,
    output: Path,
    facts: Path | None,
    date_text: str | None,
    lang: str | None,
) -> None:
    """Draw a policy's overview or a measure's decision tree; the format follows -o's extension."""
    choose(lang)
    from policydsl.commands import render as command

    date = (_date(date_text) or datetime.date.today()) if facts is not None else None
    one_stdin(FILE=file, facts=facts)
    sys.exit(command.diagram_command(file, measure, draw_all, output, facts, date))


@main.command("report")
@_FILES
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="The site folder."
)
@click.option(
    "--sources",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="A folder holding the source documents the policies name (repeatable).",
)
@click.option(
    "--population",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The applicants (.csv or .jsonl) every policy's budget estimate page runs over "
    "(default: samples/NAME_population.csv beside each policy, when there is one).",
)
@LANG_OPTION
def report_command(
    files: tuple[Path, ...],
    output: Path,
    sources: tuple[Path, ...],
    population: Path | None,
    lang: str | None,
) -> None:
    """Write a static, offline review site: the source text beside the clauses, diagrams, findings."""
    choose(lang)
    from policydsl.commands import render as command

    shown: Lang = "en" if lang == "en" else "zh"  # the estimate pages: Chinese first, --lang en too
    sys.exit(command.report_command(policy_files(files), output, sources, population, shown))


@main.command("fmt")
@_FILES
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and name the files that would change.")
@click.option("--diff", is_flag=True, help="Print a unified diff of the changes instead of writing them.")
def fmt_command(files: tuple[Path, ...], check: bool, diff: bool) -> None:
    """Rewrite policy files in the canonical layout, keeping comments; `-` formats standard input."""
    from policydsl.commands.build import run_fmt

    sys.exit(run_fmt(policy_files(files), check=check, diff=diff))


@main.command("serve")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port (0: any free one).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (about one per core).",
)
def serve_command(files: tuple[Path, ...], host: str, port: int, workers: int) -> None:
    """Serve the policies' JSON API and the questionnaire (政策计算器) at `/`; reloads changed files."""
    from policydsl.commands.serving import serve

    sys.exit(serve(policy_files(files), host, port, workers))


@main.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over standard input and output (the default and only way).")
@LANG_OPTION
def lsp_command(stdio: bool, lang: str | None) -> None:
    """Run the language server for editors (LSP over standard input and output): diagnostics as the
    file changes, hover, definition, references, outline, completion, formatting and quick fixes."""
    from policydsl.lsp.server import serve

    sys.exit(serve(lang))


if __name__ == "__main__":
    main()


@main.command("simulate")
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--population",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The applicants: .csv or .jsonl (.parquet with --engine auto, duckdb or spark).",
)
@click.option(
    "--compare",
    "other",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another version of the policy: both estimates side by side, and who gains or loses.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to the screen."
)
@engine_option(
    ("auto", "python", "duckdb", "spark"),
    default="auto",
    help="auto: DuckDB where the SQL back end translates the policy, else python (as eval --batch).",
)
@DATE_OPTION
@LANG_OPTION
def simulate_command(
    policy: Path,
    population: Path,
    other: Path | None,
    fmt: str,
    output: Path | None,
    engine: str,
    date_text: str | None,
    lang: str | None,
) -> None:
    """Budget estimate (测算): a population's awards per measure and in total, against the budgets."""
    from policydsl.commands.simulate import simulate

    choose(lang)
    date = _date(date_text) or datetime.date.today()
    sys.exit(simulate(policy, population, other, fmt, output, engine, date, lang))
