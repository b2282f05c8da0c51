"""The Python API: `policydsl.load` compiles a policy once per content, safely from many threads, and
`evaluate` reports bad input as InputError whatever the caller's decimal context."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import shutil
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import policydsl
from policydsl import api
from policydsl.evaluation import runtime as rt
from tests.conftest import POLICIES

SEEDS = sorted(POLICIES.glob("*.policy"))
JIANGMEN = POLICIES / "jiangmen_special_fund.policy"
DATE = datetime.date(2022, 6, 1)


def sample(policy: Path) -> dict[str, Any]:
    facts = json.loads((POLICIES / "samples" / f"{policy.stem}.json").read_text(encoding="utf-8"))
    return dict(facts[0] if isinstance(facts, list) else facts)


def test_concurrent_first_loads_compile_once_and_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "p.policy"
    shutil.copy(JIANGMEN, policy)
    builds: list[object] = []
    build = api.build

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(api, "build", counted)
    results: list[object] = []
    errors: list[BaseException] = []

    def first_load() -> None:
        try:
            results.append(policydsl.load(policy))
        except BaseException as exc:  # pragma: no cover - what the test guards against
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=first_load) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(builds) == 1
    assert len({id(r) for r in results}) == 1


def test_concurrent_loads_of_generated_modules_keep_sys_modules_consistent() -> None:
    # two evaluators of one policy loaded at once: neither removes the other's module entry
    checked = policydsl.checking.pipeline.check_file(JIANGMEN, policydsl.diagnostics.Sink())
    generated = api.build(checked).generated
    errors: list[BaseException] = []

    def load_module() -> None:
        try:
            generated.load()
        except BaseException as exc:  # pragma: no cover - what the test guards against
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=load_module) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_load_sees_a_change_that_keeps_the_modification_time(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    text = JIANGMEN.read_text(encoding="utf-8")
    policy.write_text(text, encoding="utf-8")
    stat = policy.stat()
    before = policydsl.load(policy)
    assert policydsl.load(policy) is before
    title = next(line for line in text.splitlines() if line.startswith("policy"))
    policy.write_text(text.replace(title, title.replace('"', '"改', 1), 1), encoding="utf-8")
    os.utime(policy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = policydsl.load(policy)
    assert after is not before
    assert "改" in after.module.TITLE and "改" not in before.module.TITLE  # type: ignore[attr-defined]


@pytest.mark.parametrize("interpreted", [False, True], ids=["compiled", "interpreter"])
@pytest.mark.parametrize("date", [datetime.datetime(2022, 6, 1, 9, 30), "2022-06-01", 20220601])
def test_a_date_that_is_not_a_date_is_an_input_error(date: object, interpreted: bool) -> None:
    evaluator = api.compile_policy(JIANGMEN)[0] if interpreted else policydsl.load(JIANGMEN)
    assert evaluator is not None
    with pytest.raises(rt.InputError, match="evaluation date"):
        evaluator.evaluate(sample(JIANGMEN), date)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", SEEDS, ids=lambda p: p.stem)
def test_the_callers_decimal_context_changes_nothing(policy: Path) -> None:
    evaluator = policydsl.load(policy)
    facts = sample(policy)
    expected = evaluator.evaluate(facts, DATE, partial=True).to_dict()
    traps = [decimal.Overflow, decimal.Inexact, decimal.Rounded]
    tiny = decimal.Context(prec=3, Emax=5, Emin=-5, traps=traps)
    with decimal.localcontext(tiny):
        for date in (DATE, None):
            decision = evaluator.evaluate(facts, date, partial=True)
            if date is not None:
                assert decision.to_dict() == expected
                assert isinstance(decision.total.amount, Decimal | type(None))


# A fact whose check computes (a bare percentage above 1 is shown as `… would be N%`), a parameter
# and a large amount: every check of a given value runs in the evaluator's own decimal context.
WIDE = """\
policy "大额" { issuer "测试" issued 2022-01-01 }
fact investment "投资": money >= 0
fact share "比例": percent
param rate "比例": percent = 30%
measure m "措施" {
  award rate * investment * share
}
"""
TINY = decimal.Context(
    prec=5, Emax=5, Emin=-5, traps=[decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero]
)


@pytest.mark.parametrize("interpreted", [False, True], ids=["compiled", "interpreter"])
@pytest.mark.parametrize(
    "facts",
    [
        {"investment": Decimal(1), "share": Decimal("1e30")},
        {"investment": "1元", "share": "1e30"},
        {"investment": "1e30万", "share": "1e30"},
    ],
    ids=["typed", "text", "text-large"],
)
def test_fact_checks_ignore_a_callers_small_decimal_context(
    tmp_path: Path, facts: dict[str, Any], interpreted: bool
) -> None:
    path = tmp_path / "wide.policy"
    path.write_text(WIDE, encoding="utf-8")
    evaluator = api.compile_policy(path)[0] if interpreted else policydsl.load(path)
    assert evaluator is not None
    with decimal.localcontext(TINY), pytest.raises(rt.InputError, match="a percentage is a fraction"):
        evaluator.evaluate(facts, DATE)
    with decimal.localcontext(TINY), pytest.raises(rt.InputError, match="a percentage is a fraction"):
        evaluator.evaluate(facts, DATE, partial=True)


@pytest.mark.parametrize("interpreted", [False, True], ids=["compiled", "interpreter"])
def test_large_amounts_read_later_in_a_callers_small_decimal_context(
    tmp_path: Path, interpreted: bool
) -> None:
    path = tmp_path / "wide.policy"
    path.write_text(WIDE, encoding="utf-8")
    evaluator = api.compile_policy(path)[0] if interpreted else policydsl.load(path)
    assert evaluator is not None
    facts = {"investment": Decimal("1e30"), "share": Decimal("0.5")}
    expected = evaluator.evaluate(facts, DATE).to_dict()
    with decimal.localcontext(TINY):
        decision = evaluator.evaluate(facts, DATE)
    with decimal.localcontext(TINY):  # read later, still under the caller's context
        assert decision.total.amount == Decimal("1.5e29")
        assert "1500000000000000000000亿元" in decision.explain()
        assert decision.to_dict() == expected


def test_a_parameter_value_is_checked_in_the_evaluators_context(tmp_path: Path) -> None:
    path = tmp_path / "wide.policy"
    path.write_text(WIDE, encoding="utf-8")
    with decimal.localcontext(TINY), pytest.raises(rt.InputError, match="a percentage is a fraction"):
        api.compile_policy(path, {"rate": "1e30"})


def test_parse_fact_ignores_a_callers_small_decimal_context() -> None:
    # what batch evaluation calls for group keys and the interpreter for parameter values
    spec = rt.FactSpec("share", "比例", "percent")
    with decimal.localcontext(TINY), pytest.raises(ValueError, match="a percentage is a fraction"):
        rt.parse_fact(spec, "1e30")
