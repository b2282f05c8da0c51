"""What a module that reads the plan may not use by name: finer than tests/test_layers.py (which
forbids whole modules), for back ends that keep the AST to word things but take their meaning
(ids, titles, exception groups, ties, the validity window) from the plan.  One row per such module."""

from __future__ import annotations

import ast as pyast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "policydsl"

# module -> the names it must not use: a module (`policydsl.interpreter`: importing it or anything
# from it) or one name in a module (`policydsl.ast.position`: `from policydsl.ast import position`
# or `ast.position`).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # The interpreter evaluates the plan it lowered; it lowers no AST node it is handed.
    "policydsl.interpreter": ("policydsl.plan.lower.lower_expr", "policydsl.ast"),
    # Clause ids, titles, exception groups, ties and the validity window come from the plan.
    "policydsl.render.trees": (
        "policydsl.ast.position",
        "policydsl.ast.Header",
        "policydsl.ast.Validity",
        "policydsl.interpreter",
        "policydsl.smt",
        "policydsl.codegen",
    ),
    "policydsl.render.report": (
        "policydsl.ast.position",
        "policydsl.ast.Validity",
        "policydsl.interpreter",
        "policydsl.smt",
        "policydsl.codegen",
    ),
}

# module -> methods it must not call: the AST's own derivations of what the plan says.
FORBIDDEN_CALLS: dict[str, tuple[str, ...]] = {
    "policydsl.render.trees": ("clause_id",),
    "policydsl.render.report": ("clause_id",),
    # The analyses hold AST clauses for their spans; their ids come from the plan (Context.id_of).
    "policydsl.checks.analysis_base": ("clause_id",),
    "policydsl.checks.analysis_caps": ("clause_id",),
    "policydsl.checks.analysis_clauses": ("clause_id",),
    "policydsl.checks.analysis_gaps": ("clause_id",),
    "policydsl.checks.analysis_undetermined": ("clause_id",),
}


def path_of(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def references(module: str) -> set[str]:
    """Every dotted name `module` imports or reaches through an imported module: `policydsl.ast`,
    `policydsl.ast.position` for `from policydsl import ast` then `ast.position`."""
    return references_in(path_of(module).read_text(encoding="utf-8"))


def references_in(source: str) -> set[str]:
    tree = pyast.parse(source)
    aliases: dict[str, str] = {}
    found: set[str] = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Import):
            for a in node.names:
                aliases[a.asname or a.name] = a.name
                found.add(a.name)
        elif isinstance(node, pyast.ImportFrom) and node.module is not None:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                found.add(f"{node.module}.{a.name}")
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Attribute) and isinstance(node.value, pyast.Name):
            base = aliases.get(node.value.id)
            if base is not None:
                found.add(f"{base}.{node.attr}")
    return found


def calls(module: str) -> set[str]:
    return calls_in(path_of(module).read_text(encoding="utf-8"))


def calls_in(source: str) -> set[str]:
    tree = pyast.parse(source)
    return {
        node.func.attr
        for node in pyast.walk(tree)
        if isinstance(node, pyast.Call) and isinstance(node.func, pyast.Attribute)
    }


def violates(name: str, forbidden: str) -> bool:
    return name == forbidden or name.startswith(forbidden + ".")


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_a_ported_module_does_not_reach_past_the_plan(module: str) -> None:
    used = references(module)
    bad = sorted(n for n in used for f in FORBIDDEN[module] if violates(n, f))
    assert not bad, f"{module} uses {bad}; read the plan instead"


@pytest.mark.parametrize("module", sorted(FORBIDDEN_CALLS))
def test_a_ported_module_does_not_call_the_asts_derivations(module: str) -> None:
    bad = sorted(calls(module) & set(FORBIDDEN_CALLS[module]))
    assert not bad, f"{module} calls {bad}; read the plan instead"


def test_the_checker_sees_what_it_forbids() -> None:
    # The mechanism itself: an import and a use through a module alias are both found.
    source = """
from policydsl import ast
from policydsl.interpreter import Interpreter
def f(m: ast.Measure) -> None:
    isinstance(m, ast.Instalment)
    m.clause_id(m.clauses[0])
"""
    refs = references_in(source)
    assert "policydsl.interpreter.Interpreter" in refs
    assert "policydsl.ast.Instalment" in refs
    assert "clause_id" in calls_in(source)
    assert all(path_of(m).is_file() for m in [*FORBIDDEN, *FORBIDDEN_CALLS])
