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
from policydsl.source import SourceFile, Span

_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

# The summary line `check` ends with, in the files' keyword language (one place for the message
# catalogue to take over).
_SUMMARY = {
    "zh": {
        "ok": "通过：",
        "checked": "已检查 {files} 个文件：",
        "nothing": "没有未处理的发现",
        "counts": "{errors} 个错误、{warnings} 个警告、{infos} 条提示未处理",
        "exit": "；退出码 {code}（--fail-on {level}）",
        "cut": "；其中 {n} 个文件的分析在 {budget} 个求解问题的预算处中止（--budget）",
    },
    "en": {
        "ok": "ok: ",
        "checked": "{files} file{s} checked: ",
        "nothing": "nothing stands",
        "counts": "{errors} error{es}, {warnings} warning{ws}, {infos} info{is_} stand",
        "exit": "; exit code {code} (--fail-on {level})",
        "cut": "; {which} cut short at the budget of {budget} solver questions (--budget)",
    },
}


def summary_line(
    files: int,
    standing: Sequence[Diagnostic],
    *,
    fail_on: Severity,
    exit_code: int,
    cut_short: int = 0,
    budget: int = 0,
    chinese: bool = False,
) -> str:
    """The last line of `check`: what stands (never "ok" while an error or a warning does), the
    exit code and the `--fail-on` level that decided it, and whether the analysis was cut short."""
    text = _SUMMARY["zh" if chinese else "en"]
    count = {s: sum(1 for d in standing if d.severity is s) for s in Severity}
    errors, warnings, infos = count[Severity.ERROR], count[Severity.WARNING], count[Severity.INFO]
    failing = any(d.severity >= fail_on for d in standing)
    ok = not failing and not errors and not warnings and exit_code == 0
    line = (text["ok"] if ok else "") + text["checked"].format(files=files, s="s" if files != 1 else "")
    if not standing:
        line += text["nothing"]
    else:
        line += text["counts"].format(
            errors=errors,
            warnings=warnings,
            infos=infos,
            es="s" if errors != 1 else "",
            ws="s" if warnings != 1 else "",
            is_="s" if infos != 1 else "",
        )
    line += text["exit"].format(code=exit_code, level=str(fail_on))
    if cut_short:
        which = "its analysis was" if files == 1 else f"the analysis of {cut_short} was"
        line += text["cut"].format(n=cut_short, budget=budget, which=which)
    return line


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


def settled_text(settled: Sequence[Settled], sources: Mapping[str, SourceFile]) -> str:
    """The settled findings, each followed by what settles it."""
    out: list[str] = []
    for s in settled:
        d = s.diagnostic
        shown = Diagnostic(d.code, Severity.INFO, f"settled: {d.message}", d.span, d.notes, None, d.data)
        out.append(format_text([shown], sources))
        where = f"{s.span}: " if s.span is not None else ""
        out.append(f"  = settled by {where}{s.reason}")
    return "\n".join(out)


def _settled_json(s: Settled) -> dict[str, Any]:
    item = to_json(s.diagnostic)
    item["settled"] = {"reason": s.reason, "location": _location(s.span)}
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


def json_text(diagnostics: Iterable[Diagnostic], settled: Sequence[Settled]) -> str:
    """JSON: every open diagnostic, then the settled findings with `settled: {reason, location}`."""
    items = [to_json(d) for d in diagnostics] + [_settled_json(s) for s in settled]
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


def sarif_text(diagnostics: Iterable[Diagnostic], settled: Sequence[Settled]) -> str:
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
            "message": {"text": d.message + (f"\n{d.hint}" if d.hint else "")},
        }
        if d.span is not None:
            result["locations"] = [_physical(d.span)]
        related = []
        for n, note in enumerate(d.notes):
            item: dict[str, Any] = {"id": n, "message": {"text": note.message}}
            if note.span is not None:
                item.update(_physical(note.span))
            related.append(item)
        if related:
            result["relatedLocations"] = related
        if d.data:
            result["properties"] = json.loads(json.dumps(to_json(d)["details"], ensure_ascii=False))
        if s is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": s.reason}]
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
