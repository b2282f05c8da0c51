"""Read, parse, build and check a policy file: the one entry point every command starts from."""

from __future__ import annotations

from pathlib import Path

import attrs

from policydsl import ast
from policydsl.builder import build
from policydsl.diagnostics import Sink
from policydsl.parser import MAX_BYTES, decode, parse
from policydsl.source import SourceFile


@attrs.frozen
class Loaded:
    """A file after the front end: its `source` (None if unreadable) and `policy` (None when it did
    not parse)."""

    source: SourceFile | None
    policy: ast.Policy | None


def load_text(name: str, text: str, sink: Sink) -> Loaded:
    """Parse and build text already in memory."""
    source = SourceFile(name, text)
    parsed = parse(source, sink)
    if parsed is None:
        return Loaded(source, None)
    return Loaded(source, build(source, *parsed, sink))


def load_bytes(name: str, data: bytes, sink: Sink) -> Loaded:
    source = decode(name, data, sink)
    if source is None:
        return Loaded(None, None)
    return load_text(name, source.text, sink)


def read_limited(path: str | Path, limit: int) -> bytes:
    """The bytes of a file, but no more than `limit` + 1 of them: enough to tell that it is too long
    without reading all of a huge file (or forever, from a device such as /dev/zero)."""
    with open(path, "rb") as handle:
        return handle.read(limit + 1)


def load_file(path: str | Path, sink: Sink) -> Loaded:
    """Read a file from disk; a missing or unreadable file is a diagnostic, not an exception."""
    name = str(path)
    try:
        data = read_limited(path, MAX_BYTES)
    except OSError as exc:
        sink.report("E004", f"cannot read `{name}`: {exc.strerror or exc}", None)
        return Loaded(None, None)
    return load_bytes(name, data, sink)
