"""Which layer may import which: a back end that reads the plan does not import the AST (issue 13).

`FORBIDDEN` is the table: each ported module, and the modules it must not import.  Imports inside
`if TYPE_CHECKING:` name types for annotations only and are not counted: evaluating or emitting
from the AST needs the import at run time.  A back end moving onto the plan adds its row here.
"""

from __future__ import annotations

import ast as pyast
import importlib.util

import pytest

from tests.conftest import ROOT

# What a reader of the plan needs the AST and the checker's symbols for is done by the lowering.
READS_THE_AST = ("policydsl.ast", "policydsl.types", "policydsl.builder", "policydsl.parser")

ASKS_THE_SOLVER = ("policydsl.types", "policydsl.builder", "policydsl.parser", "policydsl.checks.typecheck")

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "policydsl.interpreter": (*READS_THE_AST, "policydsl.checks.typecheck"),
    "policydsl.codegen.python": (*READS_THE_AST, "policydsl.checks.typecheck"),
    "policydsl.codegen.fast": (*READS_THE_AST, "policydsl.checks.typecheck"),
    "policydsl.plan.nodes": (*READS_THE_AST, "policydsl.checks.typecheck", "policydsl.runtime"),
    "policydsl.plan.printer": (*READS_THE_AST, "policydsl.checks.typecheck"),
    # an applicant's path through a diagram: the decision nodes carry plan nodes, asked of the
    # interpreter; no lowering of its own
    "policydsl.render.path": (*READS_THE_AST, "policydsl.checks.typecheck", "policydsl.plan.lower"),
    "policydsl.render.diagram": (*READS_THE_AST, "policydsl.checks.typecheck"),
    # the solver encoding reads the plan; the analyses translate their AST nodes in one place
    # (analysis_base.PlanEncoder), so the checks that only ask the solver need neither the symbols
    "policydsl.smt": (*READS_THE_AST, "policydsl.checks.typecheck", "policydsl.plan.lower"),
    # the analyses keep the AST for spans and language-level checks, not the checker's symbols
    "policydsl.checks.analysis_caps": ASKS_THE_SOLVER,
    "policydsl.checks.analysis_clauses": ASKS_THE_SOLVER,
}


def runtime_imports(source: str, package: str) -> set[str]:
    """Every module `source` imports outside `if TYPE_CHECKING:` blocks (for `from a import b`, both
    `a` and `a.b`, since `b` may be a module)."""
    found: set[str] = set()

    def visit(node: pyast.AST) -> None:
        if isinstance(node, pyast.If) and "TYPE_CHECKING" in pyast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, pyast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, pyast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in pyast.iter_child_nodes(node):
            visit(child)

    visit(pyast.parse(source))
    return found


def _path(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, f"{module} is in FORBIDDEN but does not exist"
    return spec.origin


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_ported_modules_do_not_import_the_ast(module: str) -> None:
    path = _path(module)
    with open(path, encoding="utf-8") as handle:
        imported = runtime_imports(handle.read(), module.rsplit(".", 1)[0])
    bad = sorted(m for m in imported if m in FORBIDDEN[module])
    assert not bad, f"{module} imports {', '.join(bad)} (read the plan instead)"


def test_the_import_scan_sees_every_spelling() -> None:
    """The scan itself: each way of importing the AST is caught, an annotation-only import is not."""
    source = """
from __future__ import annotations
from typing import TYPE_CHECKING
import policydsl.ast
from policydsl import ast
from policydsl.types import FactSym
def f():
    from policydsl.builder import build
if TYPE_CHECKING:
    from policydsl.parser import parse
"""
    found = runtime_imports(source, "policydsl")
    assert {"policydsl.ast", "policydsl.types", "policydsl.builder"} <= found
    assert "policydsl.parser" not in found
    assert "policydsl.ast" in runtime_imports("from . import ast", "policydsl")


def test_every_row_names_a_module_of_the_package() -> None:
    for module in FORBIDDEN:
        assert _path(module).startswith(str(ROOT / "policydsl")), module
