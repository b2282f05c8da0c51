"""The text `policydsl compile` writes: a policy file's evaluator module, or its plan."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path

from policydsl import codes
from policydsl.checking.pipeline import check_file
from policydsl.codegen import sql
from policydsl.codegen.python import generate
from policydsl.diagnostics import Sink
from policydsl.messages import Lang, msg
from policydsl.plan import nodes as P
from policydsl.source import SourceFile


def compile_file(path: Path, sink: Sink) -> str | None:
    """The evaluator module's source for a policy file, or None when it has errors (see `sink`)."""
    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None
    return generate(checked.model, checked.source.text, checked.source.name).source()


def plan_file(path: Path, sink: Sink) -> str | None:
    """The plan of a policy file as text, or None when it has errors (see `sink`)."""
    from policydsl.plan import format_plan, lower

    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None
    return format_plan(lower(checked.model, checked.source.text))


def sql_file(path: Path, sink: Sink, dialect: str = "duckdb") -> str | None:
    """The SQL query deciding a relation of applicants for a policy file, with its table of reason
    codes, in `dialect`; None when the policy has errors or uses a construct the SQL back end does
    not translate (S101, in `sink`)."""
    from policydsl.plan import lower

    checked = check_file(path, sink)
    if checked.model is None or checked.source is None or sink.has_errors:
        return None
    query = sql_query(lower(checked.model, checked.source.text), checked.source, sink)
    if query is None:
        return None
    reasons = query.reasons_tree().sql(dialect=dialect, pretty=True)
    settings = ""
    if dialect == "spark":  # the query's figures are exact only under these settings
        settings = "".join(f"SET {key}={value};\n" for key, value in sql.SPARK_SETTINGS.items()) + "\n"
    return f"{settings}{query.sql(dialect)};\n\n-- reason codes (code, label)\n{reasons};\n"


def sql_query(
    plan: P.Plan,
    source: SourceFile,
    sink: Sink,
    date: datetime.date | None = None,
    passthrough: tuple[str, ...] = (),
    params: Mapping[str, object] | None = None,
    lang: Lang | None = None,
) -> sql.SqlQuery | None:
    """The SQL back end's query for `plan` on `date`, or None with S101 in `sink` naming the construct
    it does not translate and where it stands."""
    try:
        return sql.build(plan, date=date, passthrough=passthrough, params=params, lang=lang)
    except sql.Refused as exc:
        span = None
        if exc.where is not None and 0 < exc.where.line <= len(source.line_starts):
            start = source.line_starts[exc.where.line - 1] + exc.where.col - 1
            end = source.text.find("\n", start)
            span = source.span(start, end if end > start else start + 1)
        sink.report(
            codes.S101, msg("sql.refused", construct=exc.construct), span, hint=msg("sql.refused_hint")
        )
        return None
