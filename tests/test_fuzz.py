"""Fuzzing the whole pipeline with hypothesis: generated valid policies go through check, compile
and evaluation on generated applicants; mutated copies of every policy file go through the
command line.  No outcome may be a traceback, a hang or a disagreement.

The budget is small in CI (profile `fuzz-ci`).  For a long campaign set POLICYDSL_FUZZ_EXAMPLES,
for example `POLICYDSL_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py --hypothesis-show-statistics`
(profile `fuzz-campaign`; docs/reliability.md has the figures of the last one).
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import json
import os
import re
import sys
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydsl.api import CompiledEvaluator, PolicyEvaluator
from policydsl.checking.frontend import load_text
from policydsl.checking.model import Model
from policydsl.checking.pipeline import check_text
from policydsl.commands.cli import main
from policydsl.diagnostics import Severity, Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import Inconsistent, run_batch
from policydsl.evaluation.examples import _raw, given_facts, read_examples, run_examples
from policydsl.evaluation.interpreter import Interpreter
from policydsl.messages import Message
from policydsl.plan.lower import lower
from policydsl.syntax.keywords import ROUNDING_MODES, ROUNDING_UNITS
from tests.conftest import DATA, POLICIES
from tests.strategies import GeneratedPolicy, applicants, evaluation_dates, fullwidth, mutations, policies

CAMPAIGN = int(os.environ.get("POLICYDSL_FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "fuzz-ci",
    max_examples=40,
    # the CI profile (tests/conftest.py) draws the same examples on every run: these tests too
    derandomize=os.environ.get("HYPOTHESIS_PROFILE") == "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz-campaign",
    parent=settings.get_profile("fuzz-ci"),
    max_examples=max(CAMPAIGN, 1),
)
# applied per test, so that the other test modules keep hypothesis' defaults
FUZZ = settings.get_profile("fuzz-campaign" if CAMPAIGN else "fuzz-ci")
SEEDS = sorted(POLICIES.glob("*.policy")) + sorted(DATA.rglob("*.policy"))
STATUSES = {rt.DETERMINED, rt.CEILING, rt.UNDETERMINED, rt.INELIGIBLE}

try:
    from policydsl.codegen.python import generate
except ImportError:  # pragma: no cover - the code generator is a later stage
    generate = None  # type: ignore[assignment]


def checked(policy: GeneratedPolicy) -> Model:
    sink = Sink()
    result = check_text("fuzz.policy", policy.text, sink)
    errors = [f"{d.span}: {d.code} {d.message}" for d in sink.diagnostics if d.severity is Severity.ERROR]
    assert result.model is not None and not errors, (errors, policy.text)
    return result.model


def evaluator_of(model: Model, text: str) -> PolicyEvaluator:
    return PolicyEvaluator(lower(model, text))


def rounding_of(policy: GeneratedPolicy) -> rt.Rounding:
    found = re.search(r"^\s*(?:rounding|舍入) (\S+) (\S+)$", policy.text, re.MULTILINE)
    if found is None:
        return rt.Rounding()
    return rt.Rounding(ROUNDING_UNITS[found.group(1)], ROUNDING_MODES[found.group(2)])


def assert_sound(decision: rt.Decision, policy: GeneratedPolicy) -> None:
    """What every decision must satisfy, whatever the policy and the applicant."""
    rounding = rounding_of(policy)
    assert list(decision.measures) == list(policy.measures)
    for result in [*decision.measures.values(), decision.total]:
        measure = result is not decision.total
        assert result.status in STATUSES
        if result.status in (rt.DETERMINED, rt.CEILING):
            assert isinstance(result.amount, Decimal) and result.amount.is_finite()
            with decimal.localcontext(rt.CONTEXT):  # amounts may have more digits than the default 28
                assert rounding(result.amount) == result.amount, (result.measure, result.amount)
        if result.status == rt.INELIGIBLE:
            assert result.amount is None
            assert result.reasons, result.measure
        if result.status == rt.UNDETERMINED and measure:
            assert result.reasons or result.needed, result.measure
    json.dumps(decision.to_dict(), ensure_ascii=False)
    assert isinstance(decision.explain(), str)


# ------------------------------------------------------------------------------ valid policies


@FUZZ
@given(policies())
def test_generated_policies_check_without_errors(policy: GeneratedPolicy) -> None:
    checked(policy)


@FUZZ
@given(st.data())
def test_generated_policies_evaluate_without_surprises(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    model = checked(policy)
    evaluator = evaluator_of(model, policy.text)
    for _ in range(3):
        facts = data.draw(applicants(policy), label="facts")
        day = data.draw(evaluation_dates(policy), label="date")
        explain = data.draw(st.booleans(), label="explain")
        try:
            partial = evaluator.evaluate(facts, day, partial=True, explain=explain)
        except rt.InputError as exc:  # a fact out of its declared bounds, for example
            assert exc.problems
            # every problem with drawn facts has a catalogue id: it can be shown in Chinese
            assert all(p.id for p in exc.details), exc.details
            continue
        assert_sound(partial, policy)
        again = evaluator.evaluate(facts, day, partial=True, explain=explain)
        assert again.to_dict() == partial.to_dict()  # deterministic
        try:
            full = evaluator.evaluate(facts, day, explain=explain)
        except rt.InputError as exc:
            assert all(p.startswith("missing fact") for p in exc.problems), exc.problems
            assert any(m.needed for m in partial.measures.values())
            continue
        assert full.to_dict() == partial.to_dict()
    for result in run_examples(model, policy.text):  # the `test` command's work
        assert all(isinstance(f, Message) and f.render("en") and f.render("zh") for f in result.failures)


def _outcome(run: Callable[[], rt.Decision]) -> dict[str, Any]:
    try:
        return run().to_dict()
    except rt.InputError as exc:
        return {"input error": sorted((p.text, p.id, p.args) for p in exc.details)}


@pytest.mark.skipif(generate is None, reason="no code generator yet")
@FUZZ
@given(st.data())
def test_compiled_evaluators_agree_with_the_interpreter(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    model = checked(policy)
    evaluator = evaluator_of(model, policy.text)
    generated = generate(model, policy.text, "fuzz.policy")
    with watching() as events:
        module = generated.load()
    for _ in range(4):
        facts = data.draw(applicants(policy), label="facts")
        day = data.draw(evaluation_dates(policy), label="date")
        for partial in (True, False):
            expected = _outcome(lambda: evaluator.evaluate(facts, day, partial=partial))  # noqa: B023
            with watching() as more:
                actual = _outcome(lambda: module.evaluate(facts, day, partial=partial))  # noqa: B023
            events.extend(more)
            assert actual == expected, (facts, day, partial)
    # the examples, those extending a base and those setting parameters among them, as applicants
    for facts, params, day in example_inputs(model, policy.text):
        for partial in (True, False):
            with_params = PolicyEvaluator(lower(model, policy.text), params)
            expected = _outcome(lambda: with_params.evaluate(facts, day, partial=partial))  # noqa: B023
            with watching() as more:
                actual = _outcome(
                    lambda: module.evaluate(facts, day, partial=partial, params=params)  # noqa: B023
                )
            events.extend(more)
            assert actual == expected, (facts, params, day, partial)
    assert events == []


def example_inputs(
    model: Model, text: str
) -> list[tuple[dict[str, Any], dict[str, Any], datetime.date | None]]:
    """Each example's facts (its base's with its own in their place), parameter values and day, as
    an applicant's input; an example whose values cannot be worked out is left out."""
    plan = lower(model, text)
    interpreter = Interpreter(plan)
    out = []
    for example in read_examples(model, plan, text).cases:
        try:
            params = {p.fact: _raw(interpreter, p) for p in example.params}
            facts = given_facts(Interpreter(plan, params=params) if params else interpreter, example)
        except rt.InputError:
            continue
        out.append((facts, params, example.day))
    return out


@pytest.mark.skipif(generate is None, reason="no code generator yet")
@FUZZ
@given(data=st.data())
def test_batches_agree_between_the_interpreter_and_the_generated_module(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A batch runs the limits across applicants (quotas, those whose selection a fact records among
    them, group caps, pots): the interpreter and the generated module write the same file and find
    the same inconsistent quotas."""
    policy = data.draw(policies(), label="policy")
    model = checked(policy)
    plan = lower(model, policy.text)
    interpreted = PolicyEvaluator(plan)
    compiled = CompiledEvaluator(plan, generate(model, policy.text, "fuzz.policy"))
    rows = data.draw(st.lists(applicants(policy, complete=True), min_size=1, max_size=6), label="rows")
    day = data.draw(evaluation_dates(policy), label="date")
    folder = tmp_path_factory.mktemp("batch")
    source = folder / "in.jsonl"
    source.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows), encoding="utf-8"
    )
    written = []
    for evaluator in (interpreted, compiled):
        target = folder / f"out{len(written)}.jsonl"
        found: list[Inconsistent] = []
        try:
            counts = run_batch(
                evaluator,
                evaluator.measures,
                source,
                target,
                day,
                evaluator.constraints(),
                inconsistent=found,
            )
        except rt.InputError as exc:  # a group cap or pot the policy leaves unset: one error, no rows
            written.append(("input error", sorted(exc.problems)))
            continue
        written.append((counts, found, target.read_text(encoding="utf-8")))
    assert written[0] == written[1]


@pytest.mark.skipif(generate is None, reason="no code generator yet")
@FUZZ
@given(st.data())
def test_the_fast_path_of_generated_evaluators_decides_as_the_full_path(data: st.DataObject) -> None:
    """Complete applicants given as typed values take the compiled evaluator's fast path; whatever it
    decides, the full path decides alike (it may leave any applicant to the full path)."""
    policy = data.draw(policies(), label="policy")
    module = generate(checked(policy), policy.text, "fuzz.policy").load()
    for _ in range(4):
        raw = data.draw(applicants(policy, complete=True), label="facts")
        day = data.draw(evaluation_dates(policy), label="date")
        try:
            facts = module.parse_facts(module.FACT_SPECS, raw)
        except rt.InputError:
            continue  # a value outside its bounds: no typed applicant to give
        fast = module.fast_amounts(facts, day)
        # whole figures as ints and keys that name no fact, as callers give them: the same path
        loose = {k: int(v) if _whole(v) and data.draw(st.booleans()) else v for k, v in facts.items()}
        loose.update(data.draw(st.dictionaries(st.sampled_from(["id", "编号", "note"]), st.just("x"))))
        loose_fast = module.fast_amounts(loose, day)
        assert (loose_fast is None) == (fast is None), loose
        if fast is None:
            continue
        full = module.decide(facts, day, True, False, None)
        assert fast[0] == full.amounts, (facts, day)
        assert loose_fast is not None and loose_fast[0] == full.amounts, (loose, day)
        decision = module.evaluate(facts, day)
        assert decision.path == "fast"
        assert decision.total.to_dict() == full.total.to_dict()
        assert decision.to_dict() == module.decide(facts, day, True, True, None).to_dict()
        loose_decision = module.evaluate(loose, day)
        assert loose_decision.path == "fast" and loose_decision.ignored_keys == (
            ("note",) if "note" in loose else ()
        )
        assert loose_decision.to_dict() == module.decide(loose, day, True, True, None).to_dict()


def _whole(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()


# ------------------------------------------------------------------------------ the other stages


@FUZZ
@given(policies(), st.sampled_from([1, 200]))
def test_the_analysis_of_generated_policies_never_fails(policy: GeneratedPolicy, timeout_ms: int) -> None:
    from policydsl.analysis.run import Options, analyse

    result = analyse(checked(policy), policy.text, Options(timeout_ms=timeout_ms))
    assert all(d.span is not None for d in result.findings), [
        d.message for d in result.findings if d.span is None
    ]
    if result.stats.undecided:  # a query the solver could not decide is a finding, never a silent pass
        assert any(d.code == "P900" for d in result.findings)


@FUZZ
@given(policies())
def test_formatting_a_generated_policy_keeps_its_meaning(policy: GeneratedPolicy) -> None:
    from policydsl.syntax.fmt import format_source

    formatted = format_source("fuzz.policy", policy.text, Sink())
    assert formatted is not None
    before = load_text("fuzz.policy", policy.text, Sink()).policy
    after = load_text("fuzz.policy", formatted, Sink()).policy
    assert after == before
    assert format_source("fuzz.policy", formatted, Sink()) == formatted


@FUZZ
@given(policies())
def test_generated_policies_can_be_drawn(policy: GeneratedPolicy) -> None:
    from policydsl.render.graphviz import dot_source
    from policydsl.render.trees import measure_tree, overview

    plan = lower(checked(policy), policy.text)
    assert "digraph" in dot_source(overview(plan))
    for measure in plan.measures:
        assert "digraph" in dot_source(measure_tree(plan, measure))


# A source document with articles, headings and items numbered both ways, for the review page's
# citation links.
SOURCE_DOCUMENT = (DATA / "report" / "platform.txt").read_text(encoding="utf-8") + (
    "\n第一千条 附则。\n（二〇二三）\n三、其他\n1. 说明\n"
)


@FUZZ
@given(policies())
def test_generated_policies_get_a_review_page(policy: GeneratedPolicy) -> None:
    from policydsl.render.report import PolicyPage

    page = PolicyPage(Path("fuzz.policy"), None, checked(policy), [], SOURCE_DOCUMENT, "fuzz.txt").render()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


# ------------------------------------------------------------------------------ generated code

# Modules the generated evaluator may import, and events it must never cause.
ALLOWED_IMPORTS = {
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "collections.abc",
    "operator",
    "re",
    "typing",
    "unicodedata",
    "__future__",
}
FORBIDDEN_EVENTS = (
    "os.",
    "subprocess.",
    "socket.",
    "shutil.",
    "ctypes.",
    "open",
    "builtins.input",
    "webbrowser",
)
_watch: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("watch", default=None)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    seen = _watch.get()
    if seen is None:
        return
    if event.startswith(FORBIDDEN_EVENTS) and event != "os.listdir":
        seen.append(f"{event} {args!r}"[:200])
    elif (
        event == "import"
        and args
        and str(args[0]).split(".")[0] not in {m.split(".")[0] for m in ALLOWED_IMPORTS}
    ):
        seen.append(f"import {args[0]}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records while watching


class watching:
    """Record the audited events that generated code must never cause, while the block runs."""

    def __enter__(self) -> list[str]:
        self.events: list[str] = []
        self.token = _watch.set(self.events)
        return self.events

    def __exit__(self, *exc: object) -> None:
        _watch.reset(self.token)


def static_problems(source: str) -> list[str]:
    """What a generated module must not contain: imports outside the standard library set, calls of
    eval/exec/compile/open/__import__, attribute access to `system`, a coding line."""
    import ast as pyast

    tree = pyast.parse(source)
    problems: list[str] = []
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Import):
            problems += [f"import {a.name}" for a in node.names if a.name not in ALLOWED_IMPORTS]
        elif isinstance(node, pyast.ImportFrom) and node.module not in ALLOWED_IMPORTS:
            problems.append(f"from {node.module} import")
        elif isinstance(node, pyast.Call) and isinstance(node.func, pyast.Name):
            if node.func.id in {"__import__", "eval", "exec", "compile", "open", "breakpoint", "input"}:
                problems.append(f"call of {node.func.id}")
        elif isinstance(node, pyast.Attribute) and node.attr in {
            "system",
            "popen",
            "__subclasses__",
            "__globals__",
        }:
            problems.append(f"attribute {node.attr}")
    if any("coding" in line for line in source.splitlines()[:2]):
        problems.append("a coding line")
    return problems


@pytest.mark.skipif(generate is None, reason="no code generator yet")
@FUZZ
@given(policies())
def test_generated_modules_are_valid_python_that_runs_nothing_else(policy: GeneratedPolicy) -> None:
    module = generate(checked(policy), policy.text, "fuzz.policy")
    source = module.source()
    compile(source, "evaluator.py", "exec")
    assert static_problems(source) == []
    namespace = types.ModuleType("fuzz_evaluator")
    sys.modules[namespace.__name__] = namespace
    try:
        with watching() as events:
            exec(compile(source, "evaluator.py", "exec"), namespace.__dict__)
            try:
                namespace.evaluate({}, policy.valid_from or datetime.date(2022, 1, 1), partial=True)
            except namespace.InputError as exc:  # a drawn `assume` may be false whatever the facts
                assert all("assumption" in p for p in exc.problems), exc.problems
    finally:
        del sys.modules[namespace.__name__]
    assert events == []


# ------------------------------------------------------------------------------ mutated files

_POSITIONED = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|info)\[[A-Z]\d{3}\]: "
)


def assert_clean_cli(result: Any, path: Path) -> None:
    """The command ended by itself with 0 or 1, and every error it printed has a position."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{path}: {type(result.exception).__name__}") from result.exception
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.output.startswith("["):  # --format json: every error has a location too
        for item in json.loads(result.output):
            assert item["severity"] != "error" or item["location"] is not None, item
    for line in result.output.splitlines():
        if re.search(r"\berror\[[A-Z]\d{3}\]", line) and not line.startswith(" "):
            match = _POSITIONED.match(line)
            assert match is not None and match.group("file") == str(path), line


def _text(path: Path) -> str | None:
    """A seed file's text, or None for the test files that are not UTF-8 text on purpose."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.strip() and "\x00" not in text else None


SEED_TEXTS = [t for t in map(_text, SEEDS) if t is not None]
# the real policies are few but long; drawn half of the time so that the small test files do not
# crowd them out
POLICY_TEXTS = [t for t in map(_text, sorted(POLICIES.glob("*.policy"))) if t is not None]


@settings(FUZZ, max_examples=FUZZ.max_examples * 4)  # a mutant takes a few milliseconds
@given(st.data())
def test_mutated_policy_files_give_diagnostics_not_tracebacks(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    seed = data.draw(st.one_of(st.sampled_from(POLICY_TEXTS), st.sampled_from(SEED_TEXTS)), label="seed")
    raw = data.draw(mutations(seed), label="bytes")
    folder = tmp_path_factory.mktemp("mutant")
    path = folder / "mutant.policy"
    path.write_bytes(raw)
    runner = CliRunner()
    facts = folder / "facts.json"
    facts.write_text("{}", encoding="utf-8")
    named = re.search(rb'source\s+"([A-Za-z0-9_.-]+\.txt)"', raw)
    if named is not None:  # the source document it names, so that `report` links its citations
        (folder / named.group(1).decode()).write_text(SOURCE_DOCUMENT, encoding="utf-8")
    commands = {
        "check": ["check", str(path)],
        "check-json": ["check", "--format", "json", str(path)],
        "test": ["test", str(path)],
        "eval": ["eval", str(path), "--facts", str(facts), "--partial", "--date", "2022-06-01"],
        "fmt": ["fmt", "--check", str(path)],
        "compile": ["compile", str(path), "-o", str(folder / "evaluator.py")],
        "diagram": ["diagram", str(path), "-o", str(folder / "overview.dot")],
        "report": ["report", str(path), "-o", str(folder / "site")],
    }
    command = data.draw(st.sampled_from(sorted(commands)), label="command")
    assert_clean_cli(runner.invoke(main, commands[command]), path)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: str(p.relative_to(POLICIES.parent)))
def test_a_file_typed_in_full_width_forms_reads_as_the_half_width_file(path: Path) -> None:
    text = _text(path)
    if text is None:
        pytest.skip("empty, binary or not UTF-8 on purpose")
    plain, wide = Sink(), Sink()
    before = load_text("p.policy", text, plain).policy
    after = load_text("p.policy", fullwidth(text), wide).policy
    assert after == before and _spans(after) == _spans(before)  # the same tree, at the same positions
    assert {d.code for d in wide.diagnostics} - {d.code for d in plain.diagnostics} <= {"W211"}
    assert {d.code for d in wide.diagnostics if d.severity is Severity.ERROR} == {
        d.code for d in plain.diagnostics if d.severity is Severity.ERROR
    }


# ------------------------------------------------------------------------------ found by fuzzing

# Each once made the compiled evaluator disagree with the interpreter.
REGRESSIONS = [
    # `if a > b is False` chains in Python: a comparison as the left side of `and` needs brackets
    ('require (1 > 2) and (1 < 2) "条件"\n  award 1万', {}),
    ('require (x > 1万) and (x < 2万) "条件"\n  award 1万', {"x": "5万"}),
    ('require (x > 1万) or (x < 2万) "条件"\n  award 1万', {"x": "5千"}),
    ('require (x > 1万) or (x < 2万) "条件"\n  award 1万', {}),
    # blank text is not given, in the compiled evaluator's fast path too
    ("award 1万 if true or t == t", {"t": ""}),
    ("award 1万 if true or t == t", {"t": "  "}),
]


@pytest.mark.skipif(generate is None, reason="no code generator yet")
@pytest.mark.parametrize(("body", "facts"), REGRESSIONS)
def test_found_by_fuzzing_compiled_and_interpreted_agree(body: str, facts: dict[str, Any]) -> None:
    text = f'fact x "x": money >= 0\nfact t "t": text\nmeasure m {{\n  {body}\n}}\n'
    sink = Sink()
    result = check_text("regression.policy", text, sink)
    assert result.model is not None and not sink.has_errors
    evaluator = evaluator_of(result.model, text)
    module = generate(result.model, text, "regression.policy").load()
    day = datetime.date(2022, 6, 1)
    assert _outcome(lambda: module.evaluate(facts, day, partial=True)) == _outcome(
        lambda: evaluator.evaluate(facts, day, partial=True)
    )


# A kind named with a CJK compatibility ideograph (豈 U+F900, 更 U+F901), given as declared: the
# interpreter read the input in NFKC form (豈 U+8C48) and refused it, the generated module took it.
@pytest.mark.skipif(generate is None, reason="no code generator yet")
@pytest.mark.parametrize("given", ["\uf900", "\u8c48", ["\uf900", "rate"], "\uf900;rate", "豈豈"])
def test_a_kind_with_a_compatibility_character_is_read_alike(given: Any) -> None:
    text = 'kind \uf900 "a"\nkind rate "b"\nmeasure m {\n  applicants \uf900\n  award 1万\n}\n'
    sink = Sink()
    result = check_text("kinds.policy", text, sink)
    assert result.model is not None and not sink.has_errors
    evaluator = evaluator_of(result.model, text)
    module = generate(result.model, text, "kinds.policy").load()
    day = datetime.date(2022, 6, 1)
    facts = {"applicant": given}
    expected = _outcome(lambda: evaluator.evaluate(facts, day))
    assert _outcome(lambda: module.evaluate(facts, day)) == expected
    if given != "豈豈":
        assert expected["measures"][0]["amount"] == "10000.00"


# ------------------------------------------------------------------------------ full-width forms


def _spans(node: object) -> list[tuple[int, int]]:
    """The positions of every node of a tree, in a fixed order (equality of nodes ignores them)."""
    from policydsl.syntax import ast

    found: list[tuple[int, int]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            found.append((item.span.start, item.span.end))
            for field in item.__attrs_attrs__:
                stack.append(getattr(item, field.name))
        elif isinstance(item, tuple):
            stack.extend(item)
    return found


HALF = (
    'policy "全角" { issued 2021-01-01 }\n'
    'enum level "级别" { national "国家级", provincial "省级" }\n'
    'fact rate "完成率": percent\nfact lv "级别": level\nfact x "投资": money >= 0\n'
    'measure m "措施（一）" {\n'
    "  award base: 30% * x cap 1000万 if (rate 达到 60%) and lv in [national, provincial]\n"
    "}\n"
)


def _diagnostics(text: str) -> tuple[object, list[tuple[str, str, str | None]]]:
    sink = Sink()
    policy = load_text("w.policy", text, sink).policy
    return policy, [(d.code, d.message, d.hint) for d in sink.diagnostics]


def test_full_width_punctuation_reads_as_half_width_without_a_word() -> None:
    wide = HALF.replace("(rate", "（rate").replace("60%)", "60%）").replace(", provincial]", "， provincial]")
    wide = wide.replace("base:", "base：")
    before, _ = _diagnostics(HALF)
    after, found = _diagnostics(wide)
    assert after == before and _spans(after) == _spans(before)
    assert found == []


def test_full_width_digits_and_percent_read_as_half_width_with_a_warning() -> None:
    wide = HALF.replace("60%", "６０％").replace("1000万", "１０００万")
    before, _ = _diagnostics(HALF)
    after, found = _diagnostics(wide)
    assert after == before and _spans(after) == _spans(before)
    assert [(code, message) for code, message, _ in found] == [
        ("W211", "full-width `１０００` is read as `1000`"),
        ("W211", "full-width `６０％` is read as `60%`"),
    ]


def test_full_width_inside_texts_is_kept_as_written() -> None:
    policy, found = _diagnostics('fact x "投资５０％，（一）": money\n')
    assert found == []
    from policydsl.syntax import ast

    assert isinstance(policy, ast.Policy)
    assert policy.of(ast.FactDecl)[0].label == "投资５０％，（一）"


def test_a_full_width_hash_starts_a_comment_and_says_so() -> None:
    _, found = _diagnostics("fact x: money ＃ 注释\n")
    assert ("W211", "full-width `＃` is read as `#`") in [(c, m) for c, m, _ in found]


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        (HALF.replace(", provincial]", "、provincial]"), "separate items with `,`"),
        (HALF.replace('"措施（一）"', "“措施（一）”"), 'write text in straight quotes: `"…"`'),
        (
            HALF.replace("provincial]\n", "provincial]。\n"),
            "an item ends at the end of its line; no `。` is needed",
        ),
        (HALF.replace("award base", "award\u00a0base"), "this is a no-break space; type a plain space"),
        (HALF.replace("award base", "award\u200bbase"), "delete the invisible zero-width space"),
    ],
    ids=["dunhao", "curly-quotes", "juhao", "no-break-space", "zero-width-space"],
)
def test_ambiguous_marks_are_refused_with_the_half_width_form(written: str, hint: str) -> None:
    policy, found = _diagnostics(written)
    assert policy is None
    assert len(found) == 1, found
    code, message, given_hint = found[0]
    assert code == "E003" and message.startswith("unexpected character") and given_hint == hint
