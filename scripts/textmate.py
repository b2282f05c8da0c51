"""Write editors/vscode/syntaxes/policy.tmLanguage.json from the keyword table and the lexer's terminals.

    python scripts/textmate.py            # rewrite the grammar
    python scripts/textmate.py --check    # exit 1 when the committed grammar is out of date

The words come from policydsl/syntax/keywords.py and the terminals from policydsl/syntax/highlight.py
(which a test keeps equal to the grammar's), so the editor, the review site and the parser read a file
the same way.  tests/test_textmate.py runs the check and the grammar's tests.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from policydsl.syntax import highlight as H
from policydsl.syntax.keywords import (
    ALLOCATIONS,
    APPLICANT_FACT,
    COMBINE_MODES,
    KEYWORDS,
    PAYMENT_FORMS,
    POSTFIX_WORDS,
    POT_ALLOCATIONS,
    PREFIX_WORDS,
    ROUNDING_MODES,
    ROUNDING_UNITS,
    SYMBOLS,
    TYPE_NAMES,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "editors" / "vscode" / "syntaxes" / "policy.tmLanguage.json"

# What each kind of declared name is called in TextMate's scope names (themes colour these).
DECLARED = {
    "kind": "entity.name.type.kind",
    "unit": "entity.name.type.unit",
    "enum": "entity.name.type.enum",
    "fact": "variable.other.fact",
    "param": "variable.other.constant.param",
    "measure": "entity.name.function.measure",
    "pot": "entity.name.function.pot",
    "combine": "entity.name.function.combine",
    "acknowledge": "entity.name.function.acknowledge",
}


def oniguruma(pattern: str) -> str:
    """Python's `\\uXXXX` as Oniguruma's `\\x{XXXX}`; the rest of the terminals' syntax is common to both."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern)


def widened(pattern: str, *literals: str) -> str:
    """A number or date pattern that also reads the full-width forms the parser folds (`５０％`,
    `２０２１－０５－１６`): each of `literals`, as the pattern writes it, becomes a class of both forms.
    Oniguruma's `\\d` reads full-width digits already."""
    for literal in literals:
        ascii = literal.lstrip("\\")
        pattern = pattern.replace(literal, f"[{re.escape(ascii)}{chr(ord(ascii) + 0xFEE0)}]")
    return oniguruma(pattern)


def _both(names: Any) -> set[str]:
    return {w for n in names for w in KEYWORDS[n]}


def grammar() -> dict[str, Any]:
    everything = {w for pair in KEYWORDS.values() for w in pair}
    declaring = _both(H.DECLARING)
    constants = _both(H.CONSTANTS)
    word_operators = _both(H.WORD_OPERATORS)
    keywords = everything - declaring - constants - word_operators
    statutory = set(PREFIX_WORDS) | set(POSTFIX_WORDS)
    vocabulary = set(APPLICANT_FACT).union(
        PAYMENT_FORMS, ROUNDING_UNITS, ROUNDING_MODES, COMBINE_MODES, ALLOCATIONS, POT_ALLOCATIONS
    ) - (everything | set(TYPE_NAMES))
    full_width = {chr(cp): chr(ascii) for cp, ascii in H.FULLWIDTH.items()}
    punctuation = [*H.PUNCTUATION, *(w for w, a in full_width.items() if a in H.PUNCTUATION)]
    operators = [*SYMBOLS, *H.ARITHMETIC, *(w for w, a in full_width.items() if a in "<>=!+-*/")]

    def word(words: Any) -> str:
        return oniguruma(H.word(sorted(words)))

    name = oniguruma(H.NAME)
    string = oniguruma(H.STRING)
    clause = word(KEYWORDS["award"] + KEYWORDS["bonus"])
    repository: dict[str, Any] = {
        "comment": {"name": "comment.line.number-sign.policy", "match": H.COMMENT},
        "citation": {
            "comment": 'the article a clause rests on, as the policy writes it: cite "三(二)1"',
            "match": f"({word(KEYWORDS['cite'])})\\s+({string})",
            "captures": {
                "1": {"name": "keyword.other.cite.policy"},
                "2": {"name": "string.other.citation.policy"},
            },
        },
        "string": {
            "name": "string.quoted.double.policy",
            "match": string,
        },
        "date": {
            "name": "constant.numeric.date.policy",
            "match": widened(f"(?:{H.DATE})|(?:{H.PARTIAL_DATE})", "-", "\\*"),
        },
        "number": {
            "patterns": [
                {"name": "constant.numeric.ratio.policy", "match": widened(H.RATIO, ":", "\\.")},
                {
                    "comment": "50万  1.5亿  200000元  50%  3个百分点  5万/家: the unit is a capture",
                    "name": "constant.numeric.policy",
                    "match": widened(H.QUANTITY, "%", "\\.", "\\/"),
                    "captures": {
                        "3": {"name": "constant.numeric.multiplier.policy"},
                        "4": {"name": "keyword.other.unit.policy"},
                        "5": {"name": "keyword.other.unit.policy"},
                    },
                },
            ]
        },
        "clause-name": {
            "comment": "award national: …  the clause's own name",
            "match": f"({clause})\\s+({name})(?=\\s*(?:{string}\\s*)?[:：])",
            "captures": {"1": {"name": "keyword.control.policy"}, "2": {"name": "entity.name.label.policy"}},
        },
        "declaration": {
            "patterns": [
                {
                    "match": f"({word(KEYWORDS[kind])})(?:\\s+({name}))?",
                    "captures": {"1": {"name": "storage.type.policy"}, "2": {"name": f"{scope}.policy"}},
                }
                for kind, scope in DECLARED.items()
            ]
        },
        "keyword": {
            "patterns": [
                {"name": "keyword.operator.statutory.policy", "match": word(statutory)},
                {"name": "constant.language.boolean.policy", "match": word(constants)},
                {"name": "keyword.operator.word.policy", "match": word(word_operators)},
                {"name": "storage.type.policy", "match": word(declaring)},
                {"name": "keyword.control.policy", "match": word(keywords)},
                {"name": "support.type.policy", "match": word(TYPE_NAMES)},
                {"name": "support.constant.policy", "match": word(vocabulary)},
            ]
        },
        "name": {"name": "variable.other.policy", "match": name},
        "operator": {"name": "keyword.operator.policy", "match": H.alternatives(operators)},
        "punctuation": {"name": "punctuation.separator.policy", "match": H.alternatives(punctuation)},
        "invalid": {"name": "invalid.illegal.policy", "match": "\\S"},
    }
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "policydsl",
        "scopeName": "source.policy",
        "fileTypes": ["policy"],
        "comment": "Generated by scripts/textmate.py from policydsl/syntax/keywords.py; do not edit.",
        "patterns": [{"include": f"#{rule}"} for rule in repository],
        "repository": repository,
    }


def text() -> str:
    return json.dumps(grammar(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text():
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/textmate.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
