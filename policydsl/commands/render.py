"""The `diagram` and `report` commands' work: check the files, draw, write, report problems."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from policydsl import codes
from policydsl.checking.frontend import display_name
from policydsl.checking.pipeline import Checked, check_file
from policydsl.commands.build import echo
from policydsl.diagnostics import Severity, Sink, format_text
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.interpreter import Interpreter
from policydsl.messages import Lang
from policydsl.plan.lower import lower
from policydsl.render.diagram import Diagram
from policydsl.render.graphviz import FORMATS, RenderError, render_file
from policydsl.render.path import Applicant, trace_measure, trace_overview
from policydsl.render.report import build_site
from policydsl.render.trees import measure_tree, overview
from policydsl.textsafety import visible

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageProblem(click.ClickException):
    """A problem with how the command was called or with its input files (exit code 2)."""

    exit_code = EXIT_USAGE

    def format_message(self) -> str:
        return visible(self.message, newlines=True)  # the message may quote file names and input


def _checked(path: Path) -> Checked:
    """The checked policy; prints its errors and exits 1 when it has any."""
    sink = Sink()
    checked = check_file(path, sink)
    errors = [d for d in sink.diagnostics if d.severity is Severity.ERROR]
    if checked.model is None or errors:
        sources = {checked.source.name: checked.source} if checked.source is not None else {}
        echo(format_text(errors, sources), err=True)
        raise SystemExit(EXIT_PROBLEMS)
    return checked


def _applicant(checked: Checked, facts_path: Path, date: datetime.date | None) -> Applicant:
    from policydsl.commands.evaluate import read_json  # as `eval --facts` reads them, `-` included

    raw = read_json(facts_path, "facts")
    assert checked.model is not None and checked.source is not None
    try:
        return Applicant(Interpreter(checked.model, checked.source.text), raw, date)
    except rt.InputError as exc:
        raise UsageProblem(
            f"{display_name(facts_path)}: the facts cannot be used: " + "; ".join(exc.problems)
        ) from None


def _format(path: Path) -> str:
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageProblem(f"cannot tell the format from `{path.name}`: use .svg, .png, .pdf or .dot")
    return fmt


def diagram_command(
    file: Path,
    measure: str | None,
    draw_all: bool,
    output: Path,
    facts: Path | None,
    date: datetime.date | None,
) -> int:
    """Draw the overview, one measure's tree, or (`draw_all`) all of them into a folder."""
    if draw_all and measure is not None:
        raise UsageProblem("give either --measure NAME or --all, not both")
    fmt = "svg"
    if draw_all:
        if output.exists() and not output.is_dir():
            raise UsageProblem(f"--all writes into a folder; `{output}` is a file")
        if output.suffix.lower().lstrip(".") in FORMATS:
            raise UsageProblem(f"--all writes into a folder, not `{output.name}`: give -o DIR/")
    else:
        fmt = _format(output)
    checked = _checked(file)
    assert checked.model is not None and checked.source is not None
    applicant = _applicant(checked, facts, date) if facts is not None else None
    plan = applicant.plan if applicant is not None else lower(checked.model, checked.source.text)
    names = [m.name for m in plan.measures]
    if measure is not None and measure not in names:
        known = ", ".join(names) or "(none)"
        raise UsageProblem(f"no measure `{measure}` in {file}; the measures are: {known}")
    drawings: list[tuple[Diagram, Path]] = []
    if draw_all:
        output.mkdir(parents=True, exist_ok=True)
        view = overview(plan)
        if applicant is not None:
            trace_overview(view, applicant)
        drawings.append((view, output / f"overview.{fmt}"))
        for m in plan.measures:
            tree = measure_tree(plan, m)
            if applicant is not None:
                trace_measure(tree, m.name, applicant)
            drawings.append((tree, output / f"{m.name}.{fmt}"))
    elif measure is not None:
        tree = measure_tree(plan, plan.measure(measure))
        if applicant is not None:
            trace_measure(tree, measure, applicant)
        drawings.append((tree, output))
    else:
        view = overview(plan)
        if applicant is not None:
            trace_overview(view, applicant)
        drawings.append((view, output))
    for drawing, path in drawings:
        try:
            render_file(drawing, path)
        except RenderError as exc:
            raise click.ClickException(visible(str(exc), newlines=True)) from None
        except OSError as exc:
            raise UsageProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    echo(f"wrote {len(drawings)} diagram{'s' if len(drawings) != 1 else ''} to {output}")
    return EXIT_OK


def report_command(
    files: tuple[Path, ...],
    output: Path,
    sources: tuple[Path, ...],
    population: Path | None = None,
    lang: Lang = "zh",
) -> int:
    """Write the review site; exit 1 when a policy has errors (its page still shows them).  Each
    policy with a population (`population`, else samples/NAME_population.csv beside it) gets its
    budget estimate page in `lang`."""
    if output.exists() and not output.is_dir():
        raise UsageProblem(f"the site is a folder; `{output}` is a file")
    for folder in sources:
        if not folder.is_dir():
            raise UsageProblem(f"--sources {folder}: not a folder")
    try:
        pages, sink = build_site(list(files), output, sources, population, lang)
    except OSError as exc:
        raise UsageProblem(f"cannot write the site into {output}: {exc.strerror or exc}") from None
    for refused in (d for d in sink.diagnostics if d.code == codes.R101.id):
        click.echo(format_text([refused], {}), err=True)
    broken = [p for p in pages if not p.parsed]
    echo(f"wrote {len(pages)} polic{'ies' if len(pages) != 1 else 'y'} to {output / 'index.html'}")
    for p in broken:
        echo(f"{p.file}: has errors; run `policydsl check {p.file}`", err=True)
    return EXIT_PROBLEMS if broken or sink.has_errors else EXIT_OK
