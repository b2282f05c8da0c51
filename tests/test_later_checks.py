"""An explained decision of a generated module works out each measure's checks (the conditions its
JSON lists) the first time they are read: they must be the ones the interpreter lists, whatever the
caller's decimal context when they are read and whatever was done to the decision in between."""

from __future__ import annotations

import copy
import datetime
import decimal
import json
from pathlib import Path
from typing import Any

import pytest

import policydsl
from policydsl.api import compile_policy
from policydsl.evaluation import runtime as rt
from tests.conftest import POLICIES
from tests.test_policies import SAMPLE_DATES

SAMPLES = POLICIES / "samples"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))


def _variants(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample, and the sample with each yes/no fact turned round (gates and clauses that fail)."""
    return [facts, *({**facts, k: not v} for k, v in facts.items() if isinstance(v, bool))]


@pytest.mark.parametrize("name", NAMES)
def test_the_checks_read_later_are_the_interpreters(name: str) -> None:
    interpreted, _ = compile_policy(POLICIES / f"{name}.policy", compiled=False)
    assert interpreted is not None
    compiled = policydsl.load(POLICIES / f"{name}.policy")
    facts = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    day = SAMPLE_DATES[name] or datetime.date(2024, 1, 1)
    for given in _variants(facts):
        try:
            reference = interpreted.evaluate(dict(given), day, partial=True)
        except rt.InputError:  # a variant the policy's assumptions rule out
            with pytest.raises(rt.InputError):
                compiled.evaluate(dict(given), day, partial=True)
            continue
        decision = compiled.evaluate(dict(given), day, partial=True)
        # read in a caller's context in which any arithmetic of the evaluator's would fail
        tiny = decimal.Context(prec=1, Emax=1, Emin=-1, traps=[decimal.Inexact, decimal.Overflow])
        with decimal.localcontext(tiny):
            later = {m: list(r.checks) for m, r in decision.measures.items()}
        expected = {m: list(r.checks) for m, r in reference.measures.items()}
        assert later == expected
        assert decision.to_dict() == reference.to_dict()


def test_the_checks_are_worked_out_once_and_equal_to_a_list() -> None:
    module = policydsl.load(POLICIES / "jiangmen_special_fund.policy")
    facts = json.loads((SAMPLES / "jiangmen_special_fund.json").read_text(encoding="utf-8"))
    decision = module.evaluate({**facts, "good_credit": False}, datetime.date(2022, 6, 1), partial=True)
    result = next(iter(decision.measures.values()))
    checks = result.checks
    assert type(checks) is not list  # not worked out yet
    first = list(checks)
    assert first and checks == first and first == checks and checks[0] is first[0]
    assert checks[:2] == first[:2] and len(checks) == len(first)
    assert checks == copy.copy(checks) and checks != tuple(first)
    assert any(c["value"] is False and "信用" in c["text"] for c in first)


def test_a_decision_without_explanation_lists_no_checks(tmp_path: Path) -> None:
    module = policydsl.load(POLICIES / "jiangmen_special_fund.policy")
    facts = json.loads((SAMPLES / "jiangmen_special_fund.json").read_text(encoding="utf-8"))
    decision = module.evaluate(facts, datetime.date(2022, 6, 1), explain=False, partial=True)
    assert all(list(r.checks) == [] for r in decision.measures.values())
