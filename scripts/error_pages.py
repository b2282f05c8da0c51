"""Rewrite the 提示信息 blocks of the Chinese error pages (docs/errors/zh/<CODE>.md) from what the CLI prints.

Each page shows a small policy (its 示例 block) and, in its 提示信息 block, what `policydsl check` prints
for it, cut down to the diagnostics of the page's code.  `render` is the one function that runs a
snippet through the CLI; tests/test_codes.py uses it to check the pages, and this script to rewrite
them:

    python scripts/error_pages.py             # rewrite the stale blocks
    python scripts/error_pages.py --check     # exit 1 and name the stale pages, write nothing
    python scripts/error_pages.py --lang en   # ask the CLI for English messages (when it has --lang)

`--lang` is passed to the CLI only when the CLI has that option; before the message catalogue, the
CLI prints English and the option is ignored.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import click
from click.testing import CliRunner

from policydsl.commands.cli import main

ROOT = Path(__file__).resolve().parent.parent
ZH_PAGES = ROOT / "docs" / "errors" / "zh"
SNIPPET = "example.policy"

# The command a code comes from, when it is not `check`, and the options its example needs.
COMMANDS: dict[str, list[str]] = {"R101": ["report", "-o", "site"], "S101": ["compile", "--target", "sql"]}
OPTIONS: dict[str, list[str]] = {"P900": ["--timeout-ms", "50"]}
# Codes whose example no small policy reaches (their page shows the message without checking it), and
# the web service's request codes (`policydsl serve`), whose pages show a request and its answer.
UNREACHABLE = frozenset({"P901", "I101", "I102", "I103", "I104", "I105"})
# Codes whose fix cannot be checked in an empty folder: R101's fix names a document that would have to
# be there.
FIX_NOT_CHECKED = frozenset({"R101"})

BLOCK = re.compile(r"^```(policy|policy-bytes)\n(.*?)^```$", re.M | re.S)
_MESSAGE = re.compile(r"^```text\n(.*?)^```$", re.M | re.S)
# the first line of a diagnostic: `file:line:col: severity[CODE]: message` (or `file: …` without a span)
_HEAD = re.compile(r"^\S.*?\[([A-Z][0-9]{3})\]")


@attrs.frozen
class Rendered:
    """What the CLI did with a snippet: its `exit_code` and the `text` of the diagnostics of one code."""

    exit_code: int
    text: str


def has_lang_option(command: str = "check") -> bool:
    """Whether the CLI's `command` takes `--lang` (the message catalogue adds it)."""
    sub = main.commands[command] if isinstance(main, click.Group) else None
    return sub is not None and any("--lang" in param.opts for param in sub.params)


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def diagnostics_of(code: str, output: str) -> str:
    """The diagnostics of `code` in the CLI's text output, each with its source lines, notes and hint."""
    kept: list[str] = []
    keep = False
    for line in output.splitlines():
        head = _HEAD.match(line)
        if head is not None:
            keep = head.group(1) == code
        elif not line.startswith(" "):
            keep = False  # the summary line, or anything else that is not part of a diagnostic
        if keep:
            kept.append(line)
    return "\n".join(kept)


def render(code: str, kind: str, snippet: str, lang: str | None = "zh") -> Rendered:
    """Run `snippet` (a `policy` block, or a `policy-bytes` block written with \\xNN escapes) through
    the command that reports `code`, as example.policy in a folder of its own, and return the exit
    code and what it prints for `code`.  `lang` goes to the CLI only if it has `--lang`."""
    command = COMMANDS.get(code, ["check"])
    args = [*command, *OPTIONS.get(code, [])]
    if lang is not None and has_lang_option(command[0]):
        args += ["--lang", lang]
    data = (
        codecs.escape_decode(snippet.encode("utf-8"))[0]
        if kind == "policy-bytes"
        else snippet.encode("utf-8")
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / SNIPPET).write_bytes(data)
        with _inside(folder):
            result = CliRunner().invoke(main, [*args, SNIPPET])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"{code}: the CLI failed on the snippet") from result.exception
    return Rendered(result.exit_code, diagnostics_of(code, result.output))


def section(page: str, title: str) -> str:
    """The text of the `## title` section of a page, up to the next section."""
    m = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", page, re.M | re.S)
    if m is None:
        raise ValueError(f"no `## {title}` section")
    return m.group(1)


def example(page: str) -> tuple[str, str]:
    """The (kind, text) of the first policy block of the page's 示例 section."""
    found = BLOCK.findall(section(page, "示例"))
    if not found:
        raise ValueError("the 示例 section has no policy block")
    kind, text = found[0]
    return kind, text


def refreshed(code: str, page: str, lang: str | None = "zh") -> str:
    """The page with its 提示信息 block showing what the CLI prints now for its example."""
    if code in UNREACHABLE:
        return page
    message = section(page, "提示信息")
    block = _MESSAGE.search(message)
    if block is None:
        raise ValueError(f"{code}: the 提示信息 section has no ```text block")
    shown = render(code, *example(page), lang=lang).text
    new = message[: block.start(1)] + shown + "\n" + message[block.end(1) :]
    return page.replace(message, new, 1)


@click.command()
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 and name the stale pages.")
@click.option("--lang", default="zh", show_default=True, help="Passed to the CLI when it has --lang.")
@click.argument("codes", nargs=-1)
def rewrite(check_only: bool, lang: str, codes: tuple[str, ...]) -> None:
    """Rewrite the 提示信息 blocks of the Chinese error pages (all of them, or those of CODES)."""
    pages = (
        [ZH_PAGES / f"{c}.md" for c in codes] if codes else sorted(ZH_PAGES.glob("[A-Z][0-9][0-9][0-9].md"))
    )
    stale = []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        new = refreshed(path.stem, text, lang)
        if new != text:
            stale.append(path.stem)
            if not check_only:
                path.write_text(new, encoding="utf-8")
    verb = "stale" if check_only else "rewrote"
    click.echo(f"{verb}: {', '.join(stale)}" if stale else "every page is current")
    sys.exit(1 if check_only and stale else 0)


if __name__ == "__main__":
    rewrite()
