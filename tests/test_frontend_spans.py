"""The front end's output, pinned: for every policy in the repository, every ```policy block of the
docs, and a stored corpus of generated, mutated and edge-case files, the AST with every node's span
(offsets, lines, columns: `Node` equality ignores spans, so they are walked here explicitly) and
every diagnostic of parse, build and type-check hash to what tests/data/frontend_spans.json records.

The record was made by the front end that ran Lark's `propagate_positions` and walked its tree
afterwards; the faster front end that builds the AST during the parse must give byte-identical
output. `pytest --update-golden` rewrites the digests (for an intended change of output; look at
what changed first) and draws the generated corpus when the file is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from policydsl.checking.frontend import load_bytes
from policydsl.checking.typecheck import check_types
from policydsl.diagnostics import Sink
from policydsl.syntax import ast
from tests.conftest import ROOT

RECORD = Path(__file__).resolve().parent / "data" / "frontend_spans.json"
_FENCE = re.compile(r"^```(policy(?:-error)?)([^\n]*)\n(.*?)^```$", re.M | re.S)


def dump(name: str, data: bytes) -> str:
    """Every diagnostic and every AST node with its span, one a line (no recursion: deep trees)."""
    sink = Sink()
    loaded = load_bytes(name, data, sink)
    if loaded.policy is not None:
        check_types(loaded.policy, sink)
    lines = [repr(d) + f" data={d.data!r} fix={d.fix!r}" for d in sink.diagnostics]
    stack: list[tuple[str, Any]] = [("", loaded.policy)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, ast.Node):
            plain = []
            children = []
            for field in attrs.fields(type(value)):
                if field.name == "span":
                    continue
                item = getattr(value, field.name)
                if isinstance(item, ast.Node | tuple | list):
                    children.append((f"{path}.{field.name}", item))
                else:
                    plain.append(f"{field.name}={item!r}")
            lines.append(f"{path} {type(value).__name__} {value.span!r} {' '.join(plain)}")
            stack.extend(reversed(children))
        elif isinstance(value, tuple | list):
            lines.append(f"{path} {type(value).__name__} len={len(value)}")
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
        else:
            lines.append(f"{path} {value!r}")
    return "\n".join(lines)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _repository_inputs() -> list[tuple[str, bytes]]:
    found = [
        (str(path.relative_to(ROOT)), path.read_bytes())
        for folder in (ROOT / "policies", ROOT / "tests" / "data")
        for path in sorted(folder.rglob("*.policy"))
    ]
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for i, m in enumerate(_FENCE.finditer(page.read_text(encoding="utf-8"))):
            found.append((f"{page.relative_to(ROOT)}#{i}", m.group(3).encode("utf-8")))
    return found


def _edge_cases() -> list[str]:
    """Files that reach the limits and the rarer paths of the front end."""
    from benchmarks.parse_bench import generate

    return [
        "",
        "# only a comment\n",
        generate(3),
        'fact x "x": money\nassume ' + "not " * 120 + "x > 1万\n",
        'fact x "x": money\nassume x > ' + "1万 + " * 150 + "1万\n",
        'fact x "x": money\nassume ' + "(" * 150 + "x" + ")" * 150 + " > 1万\n",
        'fact x "x": money\nassume ((x)) > ((1万)) and ((((x > 1万))))\n',
        'policy "t\x1b[2J" {}\nmeasure m "a\u202eb" cite "c\x07" { award 1万 }\n',
        'fact ｘ "全角": money\nassume ｘ ＞ ５０万  # ＞\n',
        "measure m { award 1万 if 营业收入 > 1万 }\nmeasure m { award 2万 }\nmeasure (",
        'policy "a" {}\npolicy "b" { issuer "x" issuer "y" }\nexample "e" on 2021-02-30 { given { } }\n',
        'fact x "x": money\nassume x > 1e400万\nassume x > 1.123456789012345678901万\n',
        "measure m { award 50 万 }\nmeasure n { award 1,000元 }\nmeasure p { awrd 1万 }\n",
    ]


def _generated_inputs() -> list[str]:
    """Drawn once (under --update-golden when the record is missing) and stored with the record."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.strategies import mutations, policies

    texts: list[str] = []

    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        policy = data.draw(policies())
        texts.append(policy.text)
        mutated = data.draw(mutations(policy.text))
        texts.append(mutated.decode("utf-8", errors="surrogateescape"))

    draw()
    return texts


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stored_inputs(update: bool) -> list[tuple[str, bytes]]:
    record = json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.exists() else {}
    texts = record.get("inputs")
    if texts is None:
        if not update:
            pytest.fail(f"{RECORD.relative_to(ROOT)} is missing; run pytest --update-golden")
        texts = _edge_cases() + _generated_inputs()
    return [(f"stored#{i}", text.encode("utf-8", errors="surrogateescape")) for i, text in enumerate(texts)]


def test_front_end_output_is_pinned(update_golden: bool) -> None:
    stored = _stored_inputs(update_golden)
    inputs = _repository_inputs() + stored
    actual = {_digest(data): _digest(dump("t.policy", data).encode("utf-8")) for _, data in inputs}
    if update_golden:
        texts = [data.decode("utf-8", errors="surrogateescape") for _, data in stored]
        # one input a line, as written where it is valid UTF-8 (mutated files may hold stray bytes)
        rows = ",\n".join(json.dumps(t, ensure_ascii=not _is_text(t)) for t in texts)
        digests = json.dumps(dict(sorted(actual.items())), indent=0)
        RECORD.write_text(f'{{"inputs": [\n{rows}\n],\n"digests": {digests}}}\n', encoding="utf-8")
        return
    recorded: dict[str, str] = json.loads(RECORD.read_text(encoding="utf-8"))["digests"]
    # a repository file edited since the record was made has no recorded output to compare with
    known = [(name, data) for name, data in inputs if _digest(data) in recorded]
    assert len(known) >= 0.8 * len(inputs), "the record is stale: most inputs changed (--update-golden)"
    differing = [name for name, data in known if actual[_digest(data)] != recorded[_digest(data)]]
    assert not differing, f"front-end output changed for {differing[:10]}"


def test_the_corpus_reaches_the_rarer_paths(update_golden: bool) -> None:
    outputs = "\n".join(dump("t.policy", data) for _, data in _stored_inputs(update_golden))
    for code in ("E001", "E005", "E006", "E102", "W211"):
        assert f"code='{code}'" in outputs, code
    assert "Negate" in outputs and "Table" in outputs and "Band" in outputs


def test_the_parse_builds_no_lark_tree_to_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AST is built as the parser reduces: Lark trees are made only for the operator and
    comparison words the builder reads (`add_op`, `cmp_sym`…), not one per reduction, and Lark's
    position propagation (a wrapper around every reduction) is off."""
    import lark

    from benchmarks.parse_bench import generate

    made: list[str] = []
    original = lark.Tree.__init__

    def counting(self: lark.Tree[Any], data: str, children: list[Any], meta: Any = None) -> None:
        made.append(data)
        original(self, data, children, meta)

    text = generate(20)
    sink = Sink()
    monkeypatch.setattr(lark.Tree, "__init__", counting)
    loaded = load_bytes("t.policy", text.encode("utf-8"), sink)
    assert loaded.policy is not None and not sink.has_errors
    assert set(made) <= {"add_op", "mul_op", "cmp_sym", "prefix_word", "postfix_word"}, set(made)
    from policydsl.syntax import parser as P

    assert not P._building_parser().options.propagate_positions
