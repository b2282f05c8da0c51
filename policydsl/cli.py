"""The `policydsl` command line: click commands that wire the modules together, nothing more."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from policydsl.diagnostics import Severity, Sink, format_json, format_text
from policydsl.pipeline import check_file
from policydsl.source import SourceFile

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

_FILES = click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policydsl")
def main() -> None:
    """policydsl: write, check, compile, evaluate and draw subsidy policies."""


def emit(sink: Sink, sources: dict[str, SourceFile], fmt: str) -> None:
    """Print the sink's diagnostics in the chosen format."""
    diagnostics = sink.diagnostics
    if fmt == "json":
        click.echo(format_json(diagnostics))
    elif diagnostics:
        click.echo(format_text(diagnostics, sources), err=False)


@main.command()
@_FILES
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="The lowest severity that makes the exit code 1.",
)
def check(files: tuple[Path, ...], fmt: str, fail_on: str) -> None:
    """Parse and check policy files; print every problem found, or a one-line summary."""
    sink = Sink()
    sources: dict[str, SourceFile] = {}
    for path in files:
        checked = check_file(path, sink)
        if checked.source is not None:
            sources[checked.source.name] = checked.source
    emit(sink, sources, fmt)
    threshold = Severity[fail_on.upper()]
    failing = [d for d in sink.diagnostics if d.severity >= threshold]
    if fmt == "text":
        counts = {s: sum(1 for d in sink.diagnostics if d.severity is s) for s in Severity}
        summary = f"{len(files)} file{'s' if len(files) != 1 else ''} checked: " + ", ".join(
            f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        )
        click.echo(("ok: " if not failing else "") + summary)
    sys.exit(EXIT_PROBLEMS if failing else EXIT_OK)


if __name__ == "__main__":
    main()
