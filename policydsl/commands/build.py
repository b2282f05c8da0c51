"""The command layer's own pieces: the `echo` every command prints with, and the `fmt` and `compile`
commands' work.  With cli.py, commands_eval.py and render/command.py, the only modules that use
click (tests/test_layers.py holds the list); the work itself lives in modules that print nothing."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import click

from policydsl.diagnostics import Sink
from policydsl.files import write_atomically
from policydsl.textsafety import visible


def echo(text: str, *, err: bool = False) -> None:
    """Print `text` (one or more lines) to the terminal or log with `visible` applied."""
    click.echo(visible(text, newlines=True), err=err)


# ------------------------------------------------------------------------------- fmt


def _unified_diff(name: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), name, name
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _counted(count: int, what: str) -> str:
    return f"{count} file{'' if count == 1 else 's'} {what}"


def run_fmt(paths: Sequence[Path], *, check: bool, diff: bool) -> int:
    """`policydsl fmt`: rewrite each file that is not in the canonical layout (`-` is standard input,
    written to standard output); with `check` or `diff` only report.  Messages go to standard error;
    diffs and formatted standard input to standard output.  Returns the exit code."""
    from policydsl.syntax.fmt import format_file

    report_only = check or diff
    changed = unchanged = failed = 0
    for path in paths:
        name = str(path)
        result = format_file(path)
        if isinstance(result, str):
            echo(result, err=True)
            failed += 1
            continue
        if name == "-" and not report_only:
            click.echo(result.after, nl=False)
        if result.after.encode("utf-8") == result.data:
            unchanged += 1
            continue
        if diff:
            click.echo(_unified_diff(name, result.before, result.after), nl=False)
        if check:
            echo(f"would reformat {name}", err=True)
        elif not report_only and name != "-":
            try:
                write_atomically(path, result.after.encode("utf-8"), keep_mode=True)
            except OSError as exc:
                echo(f"{name}: error: cannot write the file: {exc.strerror or exc}", err=True)
                failed += 1
                continue
            echo(f"reformatted {name}", err=True)
        changed += 1
    if report_only:
        parts = [(changed, "would be reformatted"), (unchanged, "already formatted")]
    else:
        parts = [(changed, "reformatted"), (unchanged, "left unchanged")]
    parts.append((failed, "could not be formatted"))
    click.echo(", ".join(_counted(n, what) for n, what in parts if n), err=True)
    return 1 if failed or (check and changed) else 0


# ------------------------------------------------------------------------------- compile


def run_compile(policy: Path, output: Path | None, target: str = "python", dialect: str = "duckdb") -> int:
    """`policydsl compile`: write the evaluator module (or, `target` plan, the plan as text), or
    print the policy's errors (exit 1)."""
    from policydsl.checking.frontend import load_file
    from policydsl.codegen.evaluator import compile_file, plan_file, sql_file
    from policydsl.diagnostics import format_text

    sink = Sink()
    if target == "sql":
        source = sql_file(policy, sink, dialect)
    else:
        source = plan_file(policy, sink) if target == "plan" else compile_file(policy, sink)
    if source is None:
        loaded = load_file(policy, Sink())
        sources = {loaded.source.name: loaded.source} if loaded.source else {}
        click.echo(format_text(sink.errors_only(), sources), err=True)
        return 1
    if output is None:
        click.echo(source, nl=False)
        return 0
    try:
        write_atomically(output, source)
    except OSError as exc:
        echo(f"cannot write {output}: {exc.strerror or exc}", err=True)
        return 2
    what = {"plan": "the plan of ", "sql": "the SQL query of "}.get(target, "")
    echo(f"{what}{policy} compiled into {output} ({len(source.splitlines())} lines)")
    return 0
