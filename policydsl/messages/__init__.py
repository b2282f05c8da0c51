"""The message catalogue: every text a user reads about a policy (diagnostics, findings, hints,
summaries, test results) as an entry of `catalog.toml` with an English and a Chinese text.

A `Message` keeps the entry's id and its arguments, not a rendered string: the language is chosen
when the message is printed (`render(lang)`).  An argument that is itself a word (`what`: fact /
事实) is a `Message` too and is rendered in the same language; a tuple of them is joined as a list.
Code (names, keywords, figures) is passed as plain text and shown as it is in either language.
"""

from __future__ import annotations

import contextvars
import functools
import os
import string
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from importlib import resources
from typing import Literal, Protocol, TypeAlias, Union

import attrs

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

Arg: TypeAlias = Union[str, int, Decimal, "Message", tuple["Arg", ...]]


@functools.cache
def catalog() -> Mapping[str, Mapping[str, str]]:
    """Every entry: id → {"en": text, "zh": text}.  Ids are dotted (`check.keyword_name`)."""
    text = resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    entries: dict[str, Mapping[str, str]] = {}

    def walk(table: Mapping[str, object], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and not ("en" in value and isinstance(value["en"], str)):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, dict):
                entries[prefix + key] = {k: str(v) for k, v in value.items()}

    walk(tomllib.loads(text), "")
    return entries


def placeholders(text: str) -> frozenset[str]:
    """The named placeholders of a catalogue text (`{name}`)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@attrs.frozen
class Message:
    """A catalogue entry `id` with its `args`.  A message with no id is `literal`: text shown as it
    is in every language (a value from the policy, or a message not in the catalogue)."""

    id: str | None
    args: tuple[tuple[str, Arg], ...] = ()
    literal: str = ""

    def render(self, lang: Lang = "en") -> str:
        if self.id is None:
            return self.literal
        entry = catalog()[self.id]
        text = entry.get(lang) or entry["en"]
        return text.format_map({name: _render(value, lang) for name, value in self.args})

    def __str__(self) -> str:
        return self.render("en")

    def jsonable(self) -> dict[str, object]:
        """The id and arguments for machines (`message_id`, `args`): words as their ids."""
        return {name: _json_arg(value) for name, value in self.args}


def msg(id: str, /, **args: Arg) -> Message:
    """The catalogue entry `id` with its arguments; an unknown id fails at once."""
    if id not in catalog():
        raise KeyError(f"no message `{id}` in the catalogue")
    return Message(id, tuple(sorted(args.items())))


def text(value: str) -> Message:
    """Text shown as it is in every language."""
    return Message(None, (), value)


def as_message(value: Message | str) -> Message:
    """A message as it is; a string as text shown as it is (a message not yet in the catalogue)."""
    return text(value) if isinstance(value, str) else value


class ProblemLike(Protocol):
    """runtime.Problem (the runtime imports nothing of policydsl, so it is described here)."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def args(self) -> tuple[tuple[str, object], ...]: ...


def problem_message(problem: ProblemLike) -> Message:
    """A problem with an applicant's facts (runtime.Problem) as a catalogue message; one the
    catalogue does not know is its English text, shown as it is."""
    if not problem.id:
        return text(problem.text)
    args: dict[str, Arg] = {}
    for name, value in problem.args:
        if isinstance(value, str):
            args[name] = value
        elif isinstance(value, tuple):
            args[name] = tuple(str(v) for v in value)
        else:
            args[name] = problem_message(value)  # type: ignore[arg-type]
    return msg(problem.id, **args)


def _render(value: Arg, lang: Lang) -> str:
    if isinstance(value, Message):
        return value.render(lang)
    if isinstance(value, tuple):
        return ("、" if lang == "zh" else ", ").join(_render(v, lang) for v in value)
    return str(value)


def _json_arg(value: Arg) -> object:
    if isinstance(value, Message):
        return value.literal if value.id is None else {"message_id": value.id, "args": value.jsonable()}
    if isinstance(value, tuple):
        return [_json_arg(v) for v in value]
    if isinstance(value, int):
        return value
    return str(value)


def render(message: Message | str | None, lang: Lang = "en") -> str | None:
    if message is None:
        return None
    return message if isinstance(message, str) else message.render(lang)


_CHOSEN: contextvars.ContextVar[Lang | None] = contextvars.ContextVar("lang", default=None)


def choose(lang: str | None) -> None:
    """The language `--lang` chose for this command (None: not chosen)."""
    _CHOSEN.set("zh" if lang == "zh" else "en" if lang == "en" else None)


def choice_scope() -> Callable[[], None]:
    """Start a command with no language chosen; returns what puts the choice back as it was when
    the command ends (so a choice never outlives its command in a process that runs several, e.g.
    tests or an editor's server)."""
    token = _CHOSEN.set(None)
    return lambda: _CHOSEN.reset(token)


def chosen() -> Lang | None:
    """The language `--lang` chose for the command running now (None: none chosen)."""
    return _CHOSEN.get()


def default_lang(chinese_keywords: bool | None = None, environ: Mapping[str, str] | None = None) -> Lang:
    """The language of messages about a file: `--lang` (`choose`); else `POLICYDSL_LANG`; else the
    file's keyword language (`chinese_keywords`, None when unknown); else the locale (`LC_ALL`,
    `LC_MESSAGES`, `LANG` starting with zh); else English."""
    chosen_now = _CHOSEN.get()
    if chosen_now is not None:
        return chosen_now
    env = os.environ if environ is None else environ
    chosen = env.get("POLICYDSL_LANG", "").strip().lower()
    if chosen in LANGS:
        return "zh" if chosen == "zh" else "en"
    if chinese_keywords is not None:
        return "zh" if chinese_keywords else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"
