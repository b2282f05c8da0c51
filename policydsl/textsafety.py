"""Characters that must never reach a terminal, a log or a diagram raw, and the one function that
shows them as visible escapes."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (ESC starts terminal sequences: ESC [2K erases a line, OSC 0 sets
# the window title, OSC 52 writes the clipboard; CR returns to the start of the line), and the
# bidirectional formatting characters that make text display in another order than it reads
# (U+202A–202E, U+2066–2069, the marks U+200E/200F and U+061C).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")
"""Every character `visible` escapes (newline included; tab is left alone)."""
UNSAFE_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
"""What a policy's text may not hold: as UNSAFE, but a newline (written `\\n`) is allowed."""


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"<U+{ord(c):04X}>"


def visible(text: str, *, newlines: bool = False) -> str:
    """`text` with every control and bidi character written as a visible escape (`\\x1b`,
    `<U+202E>`); with `newlines`, line breaks are kept (multi-line output) and only the rest escaped."""
    if newlines:
        return "\n".join(UNSAFE.sub(_escape, line) for line in text.split("\n"))
    return UNSAFE.sub(_escape, text)


_JSON_RAW = re.compile(f"[\x7f-\x9f{_BIDI}]")


def json_safe(text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False) with the characters JSON leaves raw but a
    terminal acts on (DEL, C1 controls, bidi overrides) written as `\\uXXXX` escapes: the same data,
    nothing a terminal interprets.  (json.dumps already escapes C0 controls, ESC included.)"""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
