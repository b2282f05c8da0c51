"""Read, parse, build and check a policy file: the one entry point every command starts from."""

from __future__ import annotations

import os
import stat
import sys
import weakref
from pathlib import Path
from typing import IO

import attrs

from policydsl import codes
from policydsl.diagnostics import Sink
from policydsl.messages import msg
from policydsl.source import SourceFile
from policydsl.syntax import ast
from policydsl.syntax.builder import build
from policydsl.syntax.parser import MAX_BYTES, decode, parse

STDIN, STDIN_NAME = "-", "<stdin>"
# The limit itself is parser.MAX_BYTES (docs/language.md says why 1 MiB).
TOO_LARGE_HINT = msg("read.split_file")


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
    """The bytes of a file (or of standard input, `-`), but no more than `limit` + 1 of them: enough
    to tell that it is too long without reading all of a huge file (or forever, from a device such as
    /dev/zero)."""
    return read_input(path, limit)[0]


def read_input(path: str | Path, limit: int) -> tuple[bytes, int | None]:
    """At most `limit` + 1 bytes of a file or of standard input (`-`), and the file's real size when
    it is a regular file (taken from the file system, not by reading it all)."""
    if is_stdin(path):
        return read_stdin(limit), None
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read(limit + 1)
    return data, info.st_size if stat.S_ISREG(info.st_mode) else None


# What was read from standard input, per stream: a command that reads its input again (to show the
# lines of its errors, say) sees the same text instead of an empty stream.
_stdin_read: weakref.WeakKeyDictionary[IO[bytes], bytes] = weakref.WeakKeyDictionary()


def read_stdin(limit: int) -> bytes:
    """At most `limit` + 1 bytes of standard input, read once per process (and per stream)."""
    stream = sys.stdin.buffer
    if stream not in _stdin_read:
        _stdin_read[stream] = stream.read(limit + 1)
    return _stdin_read[stream][: limit + 1]


def is_stdin(path: str | Path) -> bool:
    return str(path) == STDIN


def display_name(path: str | Path) -> str:
    """How diagnostics name an input: its path, or `<stdin>`."""
    return STDIN_NAME if is_stdin(path) else str(path)


def read_file(path: str | Path, sink: Sink) -> bytes | None:
    """A policy file's bytes (standard input for `-`); None, with a diagnostic, when it cannot be
    read or is larger than MAX_BYTES."""
    name = display_name(path)
    try:
        data, size = read_input(path, MAX_BYTES)
    except OSError as exc:
        sink.report(codes.E004, msg("read.cannot_read", name=name, reason=str(exc.strerror or exc)), None)
        return None
    if len(data) > MAX_BYTES:
        limit = msg("read.limit_bytes", n=f"{MAX_BYTES:,}")
        message = (
            msg("read.file_too_large", size=f"{size:,}", limit=limit)
            if size is not None and size > MAX_BYTES
            else msg("read.input_too_large", size=f"{MAX_BYTES:,}", limit=limit)
        )
        sink.report(codes.E005, message, SourceFile(name, "").span(0, 0), hint=TOO_LARGE_HINT)
        return None
    return data


def load_file(path: str | Path, sink: Sink) -> Loaded:
    """Read a file from disk (standard input for `-`, named `<stdin>`); a missing or unreadable file
    is a diagnostic, not an exception."""
    data = read_file(path, sink)
    if data is None:
        return Loaded(None, None)
    return load_bytes(display_name(path), data, sink)
