"""A batch's progress on standard error: a bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Never, TextIO

from tqdm import tqdm

from policydsl.messages import Lang, default_lang, msg

# Without a terminal (a log, CI, a pipe), a plain line this often: often enough to show a long batch
# is alive, rarely enough that a short one prints nothing.
EVERY_SECONDS = 10.0
# How often an engine that runs a query at a time (DuckDB, Spark) is asked how far it is.
POLL_SECONDS = 0.5
# How a progress choice is written: `auto` (a bar on a terminal, plain lines otherwise), `on` (the
# same, and a last line even when the batch was quick), `off`.
MODES = ("auto", "on", "off")


class Progress:
    """Rows done against a `total` (None: not known), shown on `stream`: a tqdm bar when the stream
    is a terminal, else a plain line every `every` seconds (and a last one when `closing_line`).
    `lang` words the lines."""

    def __init__(
        self,
        total: int | None,
        stream: TextIO,
        *,
        every: float | None = None,
        closing_line: bool = False,
        lang: Lang | None = None,
    ) -> None:
        self.total = total
        self.stream = stream
        self.every = EVERY_SECONDS if every is None else every
        self.closing_line = closing_line
        self.lang: Lang = lang or default_lang()
        self.done = 0
        self.started = time.monotonic()
        self.shown = self.started
        self.lines = 0
        self.bar: tqdm[Never] | None = None
        if _is_terminal(stream):
            self.bar = tqdm(
                total=total,
                unit=" " + msg("batch.progress.bar").render(self.lang),
                file=stream,
                dynamic_ncols=True,
                leave=True,
            )

    def advance(self, count: int = 1) -> None:
        """`count` more units done."""
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        if now - self.shown >= self.every:
            self.shown = now
            self._line(now)

    def reach(self, done: int) -> None:
        """`done` units done in all (an engine that reports a position, not steps)."""
        if done > self.done:
            self.advance(done - self.done)

    def set_total(self, total: int) -> None:
        """The total, once known (an engine that counts the rows after reading them)."""
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.closing_line or self.lines:
            self._line(time.monotonic(), last=True)

    def _line(self, now: float, last: bool = False) -> None:
        elapsed = now - self.started
        shown_elapsed = tqdm.format_interval(elapsed)
        if self.total and not last:
            left = elapsed * (self.total - self.done) / self.done if self.done else None
            text = msg(
                "batch.progress.line",
                done=self.done,
                total=self.total,
                percent=f"{100 * self.done / self.total:.0f}",
                elapsed=shown_elapsed,
                left="?" if left is None else tqdm.format_interval(left),
            )
        elif last:
            text = msg("batch.progress.done", done=self.done, elapsed=shown_elapsed)
        else:
            text = msg("batch.progress.count", done=self.done, elapsed=shown_elapsed)
        self.stream.write(text.render(self.lang) + "\n")
        self.stream.flush()
        self.lines += 1


@contextlib.contextmanager
def polled(
    progress: Progress | None, fraction: Callable[[], float | None], start: float, end: float
) -> Iterator[None]:
    """While the block runs (one engine query, a step of the batch from `start` to `end`, fractions
    of the whole), a thread asks `fraction()` how far the query is (None: not known) every
    POLL_SECONDS and moves `progress` to match; nothing without a progress or a total."""
    if progress is None or not progress.total:
        yield
        return
    total = progress.total
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_SECONDS):
            try:
                done = fraction()
            except Exception:  # a query that ends as it is asked: no figure this time
                done = None
            if done is not None:
                progress.reach(int(total * (start + (end - start) * min(max(done, 0.0), 1.0))))

    watcher = threading.Thread(target=watch, name="policydsl-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        progress.reach(int(total * end))


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def progress_for(mode: str, total: int | None, *, lang: Lang | None = None) -> Progress | None:
    """The progress `mode` (MODES) asks for on standard error; None when off."""
    if mode == "off":
        return None
    return Progress(total, sys.stderr, closing_line=mode == "on", lang=lang)


def count_lines(path: Path, chunk: int = 1 << 20) -> int:
    """The number of line breaks in a file (read in binary chunks: about a second a gigabyte), the
    cheap total of a CSV or JSON Lines batch."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")  # a last line without a break is a line
