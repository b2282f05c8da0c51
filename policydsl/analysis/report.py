"""What `check` does with the analysis: run it on files without errors, and print the findings,
settled ones included under --verbose, as text, JSON or SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from policydsl.analysis.run import Analysis, Options, Settled, report
from policydsl.checking.pipeline import Checked
from policydsl.codes import CODES
from policydsl.diagnostics import Diagnostic, Severity, Sink, format_text, to_json
from policydsl.messages import Lang, Message, msg
from policydsl.source import SourceFile, Span

_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def counted(stem: str, n: int) -> Message:
    """`{n} error` or `{n} errors`: the catalogue's `<stem>_one` or `<stem>_many` entry."""
    return msg(f"{stem}_one" if n == 1 else f"{stem}_many", n=n)


def summary_line(
    files: int,
    standing: Sequence[Diagnostic],
    *,
    fail_on: Severity,
    exit_code: int,
    cut_short: int = 0,
    budget: int = 0,
    lang: Lang = "en",
) -> str:
    """The last line of `check`: what stands (never "ok" while an error or a warning does), the
    exit code and the `--fail-on` level that decided it, what would make standing warnings fail,
    and whether the analysis was cut short."""
    count = {s: sum(1 for d in standing if d.severity is s) for s in Severity}
    errors, warnings, infos = count[Severity.ERROR], count[Severity.WARNING], count[Severity.INFO]
    failing = any(d.severity >= fail_on for d in standing)
    ok = not failing and not errors and not warnings and exit_code == 0
    parts = [msg("summary.ok")] if ok else []
    parts.append(counted("summary.checked", files))
    if not standing:
        parts.append(msg("summary.nothing"))
    else:
        parts.append(
            msg(
                "summary.counts",
                errors=counted("summary.error", errors),
                warnings=counted("summary.warning", warnings),
                infos=counted("summary.info", infos),
            )
        )
    if warnings and fail_on > Severity.WARNING:
        parts.append(msg("summary.exit_warnings_pass", code=exit_code, level=str(fail_on)))
    else:
        parts.append(msg("summary.exit", code=exit_code, level=str(fail_on)))
    if cut_short:
        which = "summary.cut_one" if files == 1 else "summary.cut_many"
        parts.append(msg(which, n=cut_short, budget=budget))
    return "".join(p.render(lang) for p in parts)


_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def analyse_checked(checked: Checked, sink: Sink, options: Options) -> Analysis | None:
    """Analyse a checked file when it has no errors; its open findings go into `sink`."""
    if checked.model is None or checked.source is None:
        return None
    name = checked.source.name
    if any(
        d.severity is Severity.ERROR and (d.span is None or d.span.file == name) for d in sink.diagnostics
    ):
        return None
    return report(checked.model, sink, checked.source.text, options)


def settled_text(settled: Sequence[Settled], sources: Mapping[str, SourceFile], lang: Lang = "en") -> str:
    """The settled findings, each followed by what settles it."""
    out: list[str] = []
    for s in settled:
        d = s.diagnostic
        message = msg("summary.settled", message=d.msg)
        shown = Diagnostic(d.code, Severity.INFO, message, d.span, d.notes, None, d.data)
        out.append(format_text([shown], sources, lang))
        where = f"{s.span}: " if s.span is not None else ""
        out.append("  = " + msg("summary.settled_by", where=where, reason=s.reason).render(lang))
    return "\n".join(out)


def _settled_json(s: Settled, lang: Lang) -> dict[str, Any]:
    item = to_json(s.diagnostic, lang)
    item["settled"] = {"reason": s.reason.render(lang), "location": _location(s.span)}
    return item


def _location(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {
        "file": span.file,
        "line": span.line,
        "col": span.col,
        "end_line": span.end_line,
        "end_col": span.end_col,
    }


def json_text(diagnostics: Iterable[Diagnostic], settled: Sequence[Settled], lang: Lang = "en") -> str:
    """JSON: every open diagnostic, then the settled findings with `settled: {reason, location}`."""
    items = [to_json(d, lang) for d in diagnostics] + [_settled_json(s, lang) for s in settled]
    return json.dumps(items, ensure_ascii=False, indent=2)


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.col,
        "endLine": span.end_line,
        "endColumn": span.end_col,
    }


def _physical(span: Span) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": span.file}, "region": _region(span)}}


def sarif_text(diagnostics: Iterable[Diagnostic], settled: Sequence[Settled], lang: Lang = "en") -> str:
    """SARIF 2.1.0: one run of policydsl; settled findings carry an in-source suppression with the
    drafter's reason, so code hosts and editors list them as reviewed."""
    pairs: list[tuple[Diagnostic, Settled | None]] = [(d, None) for d in diagnostics]
    pairs += [(s.diagnostic, s) for s in settled]
    used = sorted({d.code for d, _ in pairs})
    index = {code: i for i, code in enumerate(used)}
    rules = []
    for code in used:
        info = CODES.get(code)
        rule: dict[str, Any] = {"id": code, "helpUri": f"docs/errors/{code}.md"}
        if info is not None:
            rule["shortDescription"] = {"text": info.title}
            rule["defaultConfiguration"] = {"level": _LEVELS[info.severity]}
        rules.append(rule)
    results = []
    for d, s in pairs:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _LEVELS[d.severity],
            "message": {"text": d.msg.render(lang) + (f"\n{d.hint_msg.render(lang)}" if d.hint_msg else "")},
        }
        if d.span is not None:
            result["locations"] = [_physical(d.span)]
        related = []
        for n, note in enumerate(d.notes):
            item: dict[str, Any] = {"id": n, "message": {"text": note.msg.render(lang)}}
            if note.span is not None:
                item.update(_physical(note.span))
            related.append(item)
        if related:
            result["relatedLocations"] = related
        if d.data:
            result["properties"] = json.loads(json.dumps(to_json(d)["details"], ensure_ascii=False))
        if s is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": s.reason.render(lang)}]
        results.append(result)
    try:
        version = metadata.version("policydsl")
    except metadata.PackageNotFoundError:
        version = "0"
    run = {
        "tool": {"driver": {"name": "policydsl", "version": version, "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return json.dumps(
        {"$schema": _SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, ensure_ascii=False, indent=2
    )


def render_example_message(policy_text: str, lang: Lang, name: str = "example.policy") -> str:
    """The diagnostics of a snippet (`policy_text`, shown as file `name`) as `check --lang lang`
    prints them, analysis findings included, without the summary line: the message blocks of the
    pages in docs/errors/ and docs/errors/zh/."""
    from policydsl.checking.pipeline import check_text

    sink = Sink()
    checked = check_text(name, policy_text, sink)
    analyse_checked(checked, sink, Options())
    sources = {checked.source.name: checked.source} if checked.source is not None else {}
    return format_text(sink.diagnostics, sources, lang)
