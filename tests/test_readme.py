"""The README's examples work as written: the Python snippet runs and the tour policy checks."""

from __future__ import annotations

import contextlib
import io
import os
import re

from policydsl.checking.pipeline import check_text
from policydsl.diagnostics import Sink
from policydsl.evaluation.examples import run_examples
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", README, re.S)
    assert found, f"README has no {language} block"
    return found.group(1)


def test_python_snippet_prints_what_it_says() -> None:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block("python"), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert "产业集群试点（cluster_pilot） [第八条(三)]: 最高 46.4万元" in out.getvalue()
    assert out.getvalue().rstrip().endswith("464000.00")


def test_tour_policy_checks_and_its_example_passes() -> None:
    sink = Sink()
    checked = check_text("README.policy", block("policy"), sink)
    assert checked.model is not None and not sink.has_errors, sink.diagnostics
    results = run_examples(checked.model, block("policy"))
    assert [r.failures for r in results] == [()]
