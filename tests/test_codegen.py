"""The Python generator: golden modules, determinism, formatting, standalone use and escaping."""

from __future__ import annotations

import ast as pyast
import datetime
import decimal
import inspect
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import policydsl
from policydsl.api import CompiledEvaluator, compile_policy
from policydsl.checking.pipeline import check_file, check_text
from policydsl.codegen import support
from policydsl.codegen.python import GeneratedModule, Namer, PythonGenerator, generate
from policydsl.codegen.writer import CodeWriter, Seq, literal, width
from policydsl.commands.cli import main
from policydsl.diagnostics import Sink
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import Constraint
from policydsl.evaluation.interpreter import Interpreter
from policydsl.plan import nodes as P
from tests.conftest import DATA, ROOT, golden
from tests.strategies import GeneratedPolicy, policies

CODEGEN = DATA / "codegen"
SOURCES = sorted(CODEGEN.glob("*.policy"))
ALL = SOURCES + sorted((ROOT / "policies").glob("*.policy"))


def generated(path: Path) -> GeneratedModule:
    sink = Sink()
    checked = check_file(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path, sink)
    assert checked.model is not None and checked.source is not None and not sink.has_errors
    return generate(checked.model, checked.source.text, checked.source.name)


def module_source(path: Path) -> str:
    return generated(path).source()


RUNTIME_MARK = "# ... the text of policydsl/evaluation/runtime.py, inlined here ...\n"
SUPPORT_MARK = "# ... the text of policydsl/codegen/support.py, inlined here ...\n"


def policy_part(module: GeneratedModule) -> str:
    """The generated module with the inlined runtime and support elided: its header, imports and the
    policy's own code (the inlined texts change on their own schedule; the test below checks they
    are inlined whole)."""
    source = module.source()
    for body, mark in ((module.runtime_body(), RUNTIME_MARK), (module.support_body(), SUPPORT_MARK)):
        body = body.rstrip("\n") + "\n"
        assert source.count(body) == 1
        source = source.replace(body, mark)
    return source


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_golden_module(path: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated module's own part (header, imports, the policy's code)."""
    monkeypatch.chdir(ROOT)
    golden(path.with_suffix(".py"), policy_part(generated(path)), update_golden)


def test_golden_modules_hold_no_inlined_runtime() -> None:
    """The goldens stop at the policy's code, so a change of the runtime or support churns none."""
    for path in SOURCES:
        text = path.with_suffix(".py").read_text(encoding="utf-8")
        assert RUNTIME_MARK in text and SUPPORT_MARK in text, path.name
        assert "def run_measure(" not in text and "def combine_total(" not in text, path.name


def test_runtime_is_inlined_whole() -> None:
    """runtime.py and codegen/support.py are inlined whole after their docstrings and imports (the
    imports merged into the module's one import block), the runtime first."""
    source = generated(CODEGEN / "constructs.policy").source()
    bodies = []
    for part in ("evaluation/runtime.py", "codegen/support.py"):
        text = (ROOT / "policydsl" / part).read_text(encoding="utf-8")
        tree = pyast.parse(text)
        last_import = max(
            n.end_lineno or 0 for n in tree.body if isinstance(n, pyast.Import | pyast.ImportFrom)
        )
        body = "".join(text.splitlines(keepends=True)[last_import:]).strip("\n")
        assert source.count(body) == 1, part
        bodies.append(source.index(body))
    assert bodies[0] < bodies[1] < source.index("class Unset(Exception):") + 1
    module = pyast.parse(source)
    imports = [n for n in module.body if isinstance(n, pyast.Import | pyast.ImportFrom)]
    first_other = next(i for i, n in enumerate(module.body[1:], 1) if n not in imports)
    assert all(module.body.index(n) < first_other for n in imports), "every import at the top"
    assert not any(isinstance(n, pyast.ImportFrom) and n.module == "policydsl" for n in imports)


def test_generation_is_deterministic_across_processes() -> None:
    """Same input, same bytes: twice in one process and under different hash seeds."""
    path = CODEGEN / "constructs.policy"
    first = module_source(path)
    assert module_source(path) == first
    script = (
        "import sys; from tests.test_codegen import module_source; from pathlib import Path;"
        "sys.stdout.buffer.write(module_source(Path(sys.argv[1])).encode())"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)], cwd=ROOT, env=env, capture_output=True, check=True
        )
        outputs.append(done.stdout.decode())
    assert outputs[0] == outputs[1] == first


def ruff() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(found).exists():
        pytest.skip("ruff is not installed")
    return found


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_generated_module_is_formatted(path: Path, tmp_path: Path) -> None:
    target = tmp_path / "evaluator.py"
    target.write_text(module_source(path), encoding="utf-8")
    done = subprocess.run(
        [ruff(), "format", "--check", "--isolated", "--line-length", "110", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# Long conditions as the formatter breaks them: at the operators that bind least (`and` before `>=`,
# `or` before `and`, `if`/`else` before all), one operand per line.  A schedule's `year_no(d) >= 1
# and year_no(d) <= 3` was broken before `<=` once its line ran long.
FORMATTER_BREAKS = [
    "if year_no(fund_rent_first_paid, date) >= D_1 and year_no(fund_rent_first_paid, date) <= D_3:",
    "if amount_of_the_first_clause >= threshold_number_one or amount_of_the_second_clause <= limit_two:",
    "if first_condition_name_is_long and second_condition_name_is_long or third_condition_long_x:",
    "value = first_operand_of_a_sum + second_operand_of_a_sum if the_condition_holds else the_other_one",
    "if aaaaaaaaaaaaaaaaaaaa >= bbbbbbbbbbbbbbbbbbbbbb and ccccccccccccccccccccc and dddddddddddd <= eeeeee:",
]


def test_long_conditions_and_strings_are_laid_out_as_the_formatter_does(tmp_path: Path) -> None:
    writer = CodeWriter(level=5)
    for text in FORMATTER_BREAKS:
        writer.line(text)
        if text.endswith(":"):
            with writer.indent():
                writer.line("pass")
    # a description too long for its line in a tuple (a schedule's row holding a table)
    row = "第1至4年：按 阳光体育后备人才基地（四年有效周期内） { 浙江省阳光体育后备人才基地: 1万, " * 2
    writer.display("rows = ", Seq([literal("第5年：2万"), literal(row), literal("x" * 200)]))
    nested = "".join(f"{'    ' * i}if x{i}:\n" for i in range(5))
    target = tmp_path / "laid.py"
    target.write_text(nested + "\n".join(writer.lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [ruff(), "format", "--diff", "--isolated", "--line-length", "110", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert max(width(line) for line in writer.lines) <= 110
    assert pyast.parse(target.read_text(encoding="utf-8"))


STANDALONE = """
import json, sys, datetime
from decimal import Decimal
# -I -S: no site-packages, no user paths; the module's own folder and the standard library only
sys.path[:] = [sys.argv[3]] + [p for p in sys.path if "site-packages" not in p]
import evaluator
facts = json.loads(sys.argv[1], parse_float=Decimal)
decision = evaluator.evaluate(facts, datetime.date.fromisoformat(sys.argv[2]), partial=True)
outside = sorted(
    name for name in sys.modules
    if name.split(".")[0] not in sys.stdlib_module_names and name not in ("__main__", "evaluator")
)
print(json.dumps({"decision": decision.to_dict(), "outside": outside}, ensure_ascii=False))
"""


def run_standalone(folder: Path, facts: dict[str, object], date: str, hook: str = "") -> dict[str, object]:
    script = folder / "run.py"
    script.write_text(hook + STANDALONE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(script), json.dumps(facts), date, str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_standalone_module_needs_only_the_standard_library(tmp_path: Path) -> None:
    path = ROOT / "policies" / "jiangmen_special_fund.policy"
    if not path.exists():
        path = CODEGEN / "constructs.policy"
    (tmp_path / "evaluator.py").write_text(module_source(path), encoding="utf-8")
    facts = json.loads((ROOT / "policies" / "samples" / f"{path.stem}.json").read_text(encoding="utf-8"))
    facts.pop("id", None)
    out = run_standalone(tmp_path, facts, "2021-06-01")
    assert out["outside"] == []
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None
    expected = Interpreter(checked.model, checked.source.text).evaluate(
        facts, datetime.date(2021, 6, 1), partial=True
    )
    assert out["decision"] == json.loads(json.dumps(expected.to_dict(), ensure_ascii=False))


AUDIT = """
import sys, os
EVENTS = []
WATCH = ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "socket.",
         "os.remove", "os.rename", "shutil.", "ctypes.", "webbrowser.")
def hook(event, args):
    if event.startswith(WATCH):
        EVENTS.append(event)
        raise RuntimeError("blocked " + event)
sys.addaudithook(hook)
os.system = lambda *a: EVENTS.append("os.system") or 1
import atexit
atexit.register(lambda: EVENTS and (sys.stderr.write(repr(EVENTS)), sys.stderr.flush(), os._exit(3)))
"""


def test_hostile_policy_compiles_escaped_and_runs_nothing_else(tmp_path: Path) -> None:
    path = CODEGEN / "hostile.policy"
    source = module_source(path)
    tree = pyast.parse(source)  # one module, valid Python, whatever the policy's strings hold
    calls = {
        node.func.id
        for node in pyast.walk(tree)
        if isinstance(node, pyast.Call) and isinstance(node.func, pyast.Name)
    }
    assert not calls & {"__import__", "eval", "exec", "compile", "open", "system"}
    imported = {a.name for n in pyast.walk(tree) if isinstance(n, pyast.Import) for a in n.names}
    imported |= {n.module for n in pyast.walk(tree) if isinstance(n, pyast.ImportFrom) and n.module}
    assert imported == {
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "collections.abc",
        "operator",
        "re",
        "typing",
        "unicodedata",
    }
    assert not [n for n in pyast.walk(tree) if isinstance(n, pyast.Attribute) and n.attr == "system"]
    for line in source.splitlines()[:3]:
        assert "coding" not in line
    (tmp_path / "evaluator.py").write_text(source, encoding="utf-8")
    facts = {
        "class": "1000000",
        "import": True,
        "print": 3,
        "need": False,
        "更": True,
        "更新": True,
        "投资额": "10",
    }
    out = run_standalone(tmp_path, facts, "2022-01-01", AUDIT)
    assert out["outside"] == []
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None and checked.source is not None
    expected = Interpreter(checked.model, checked.source.text).evaluate(
        facts, datetime.date(2022, 1, 1), partial=True
    )
    assert out["decision"] == json.loads(json.dumps(expected.to_dict(), ensure_ascii=False))
    titles = [m["label"] for m in out["decision"]["measures"]]  # type: ignore[index]
    assert titles[0] == "ｌａｍｂｄａ  аdmin (Cyrillic а)"


def test_hostile_names_become_safe_identifiers() -> None:
    sink = Sink()
    checked = check_file(CODEGEN / "hostile.policy", sink)
    assert checked.model is not None and checked.source is not None
    generator = PythonGenerator(checked.model, checked.source.text, "hostile.policy")
    generator.generate()
    fields = {name: ident for (space, name), ident in generator.namer.given.items() if space == "fact"}
    assert fields["class"] == "class_" and fields["import"] == "import_"
    for name, ident in fields.items():
        assert ident.isidentifier() and ident.isascii(), name
        assert not keyword.iskeyword(ident) and not ident.startswith("__")
        assert ident not in dir(__builtins__) if isinstance(__builtins__, dict) else True
    assert len(set(fields.values())) == len(fields)
    assert fields["更"] != fields["更新"]


def test_namer_mangles_and_keeps_names_unique() -> None:
    namer = Namer(frozenset({"evaluate"}))
    assert namer.get("fact", "investment", "investment") == "investment"
    assert namer.get("fact", "investment", "investment") == "investment"
    assert namer.get("fact", "evaluate", "evaluate") == "evaluate_"
    assert namer.get("fact", "list", "list") == "list_"
    temp_like = namer.get("fact", "v1", "v1")  # generated code names its temporaries v1, c1_…
    assert temp_like.startswith("v1_") and temp_like != "v1_"
    assert namer.safe("__class__", "fact_9") == "class"
    assert namer.safe("投资额", "fact_3") == "fact_3"
    assert namer.get("measure", "x", "list") == "list_2"


@given(st.text())
def test_literals_round_trip_and_stay_on_one_line(text: str) -> None:
    lit = literal(text)
    assert pyast.literal_eval(lit) == text
    assert "\n" not in lit and "\r" not in lit and '"' not in lit[1:-1]
    assert lit.startswith('"') and lit.endswith('"')


def test_writer_lays_out_like_the_formatter() -> None:
    w = CodeWriter()
    w.call("x = f(", ["1", "2"])
    w.call("y = g(", ["'" + "a" * 60 + "'", "'" + "b" * 60 + "'"])
    w.display("Z = ", Seq(["1"]))
    assert w.getvalue() == textwrap.dedent(
        f"""\
        x = f(1, 2)
        y = g(
            '{"a" * 60}',
            '{"b" * 60}',
        )
        Z = (1,)
        """
    )
    assert width("中文ab") == 6


def test_every_plan_expression_class_is_compiled() -> None:
    """The generator's `expr` has a case for every expression of the plan (mypy checks the same
    through its `assert_never`); a class added to the plan without one fails here."""
    tree = pyast.parse(textwrap.dedent(inspect.getsource(PythonGenerator.expr)))
    cased = {
        node.cls.attr
        for node in pyast.walk(tree)
        if isinstance(node, pyast.MatchClass) and isinstance(node.cls, pyast.Attribute)
    }
    missing = [cls.__name__ for cls in P.EXPR_CLASSES if cls.__name__ not in cased]
    assert P.EXPR_CLASSES
    assert missing == []


def test_load_returns_the_compiled_evaluator_cached() -> None:
    path = CODEGEN / "constructs.policy"
    evaluator = policydsl.load(path)
    assert isinstance(evaluator, CompiledEvaluator)
    assert policydsl.load(path) is evaluator
    assert evaluator.measures[0] == "center"
    decision = evaluator.evaluate(
        {
            "applicant": "enterprise",
            "established": "2019-01-01",
            "investment": "300万",
            "center_level": "national",
        },
        datetime.date(2022, 6, 1),
        partial=True,
    )
    assert decision.measures["center"].amount == Decimal("1500000.00")
    with pytest.raises(policydsl.InputError, match="no such fact"):
        evaluator.evaluate({"nonsense": 1}, datetime.date(2022, 6, 1), strict=True)
    constraints = {c.measure: c for c in evaluator.constraints()}
    assert constraints["platform"].quota == 30
    assert constraints["platform"].rank is not None
    assert constraints["platform"].rank({"revenue": "5万"}) == Decimal(50000)
    assert constraints["voucher"].group_cap == Decimal(1000000)
    assert constraints["voucher"].allocate == "proportional"


def test_compile_command_writes_a_module(tmp_path: Path) -> None:
    target = tmp_path / "out" / "evaluator.py"
    result = CliRunner().invoke(main, ["compile", str(CODEGEN / "constructs.policy"), "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert "generated from constructs.policy by policydsl — do not edit" in text
    assert "def evaluate(" in text and "class Facts:" in text
    stdout = CliRunner().invoke(main, ["compile", str(CODEGEN / "constructs.policy")])
    assert stdout.output == text


def test_compile_command_reports_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy"
    bad.write_text('policy "x" { }\nmeasure m { award 5万 if nothing }\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["compile", str(bad), "-o", str(tmp_path / "e.py")])
    assert result.exit_code == 1
    assert "unknown name `nothing`" in result.output
    assert not (tmp_path / "e.py").exists()


def test_eval_interpret_flag_gives_the_same_decision(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps(
            {
                "applicant": "enterprise",
                "established": "2019-01-01",
                "investment": "300万",
                "center_level": "national",
                "other_funding": 0,
            }
        ),
        encoding="utf-8",
    )
    args = [
        "eval",
        str(CODEGEN / "constructs.policy"),
        "--facts",
        str(facts),
        "--date",
        "2022-06-01",
        "--partial",
        "--format",
        "json",
    ]
    compiled = CliRunner().invoke(main, args)
    interpreted = CliRunner().invoke(main, [*args, "--interpret"])
    assert compiled.exit_code == interpreted.exit_code == 0
    assert json.loads(compiled.output) == json.loads(interpreted.output)
    assert json.loads(compiled.output)["measures"][0]["amount"] == "1500000.00"


@pytest.mark.parametrize(
    "csv_path",
    sorted(p for p in (ROOT / "policies" / "samples").glob("*.csv") if not p.stem.endswith("_population")),
    ids=lambda p: p.stem,
)
def test_batch_compiled_and_interpreted_write_the_same_file(csv_path: Path, tmp_path: Path) -> None:
    policy = ROOT / "policies" / f"{csv_path.stem}.policy"
    outputs = []
    for extra in ([], ["--interpret"]):
        target = tmp_path / f"out{len(outputs)}.csv"
        args = [
            "eval",
            str(policy),
            "--batch",
            str(csv_path),
            "-o",
            str(target),
            "--date",
            "2022-06-01",
            "--engine",
            "python",  # the compiled module and the interpreter, not the SQL query
            *extra,
        ]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        outputs.append(target.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") > 2


NO_MEASURES = """\
policy "空政策" {
  issuer "测试机关"
  issued 2021-05-16
  valid from issued lasting 3年
}

kind enterprise "企业"
"""


# a published amount of several terms, as a requirement, an amount, a cap and a condition: the fast
# path once wrote each on one line far past the width
LONG_FORMULA = (
    "min(50% * investment, 30% * revenue) + max(20% * investment - 1000万, 10% * revenue - 500万)"
    " + 10% * investment"
)
LONG_FORMULAS = f"""\
policy "长公式" {{
  issued 2021-05-16
}}
fact investment "项目总投资": money >= 0
fact revenue "年度营业收入": money >= 0
fact employees "从业人员": count 人 >= 0
measure combined "综合奖励" {{
  require {LONG_FORMULA} >= 100万 "规模"
  award ceiling {LONG_FORMULA} cap {LONG_FORMULA} - 10万 if {LONG_FORMULA} >= 200万 and employees >= 10人
}}
"""

# an assumption that reads no fact and a quota ranked by a figure once left `need` and `f` unused;
# `true or ...` was written as it is (ruff: SIM222)
NO_FACT_READ = """\
policy "无事实" {
  issued 2021-05-16
}
fact investment "项目总投资": money >= 0
assume 1万 >= 0万 "常数"
measure m "措施" {
  award ceiling 10% * investment if true or investment >= 1万
  quota 3 rank 0
}
"""

# Bands and tables of two rows: each an `if`/`else` giving one value in each branch, which the lint
# rules want as one conditional expression (SIM108) on both paths.
TWO_ROWS = """\
policy "两档" {
  issuer "测试机关"
  issued 2021-05-16
  valid from issued lasting 3年
}
enum level { national "国家级", provincial "省级" }
fact revenue "营业收入": money >= 0
fact grade "认定级别": level
fact area "用地面积": count 亩 >= 0
measure two_rows "两档奖励" { award band revenue { 超过 100万: 5万, otherwise: 1万 } }
measure two_bounded "两档有界" { award band revenue { 超过 100万: 5万, 不超过 100万: 1万 } }
measure by_level "按级别" { award by grade { national: 5万, otherwise: 1万 } }
measure per_mu "按亩" { award area * band area { 不满 100亩: 100元/亩, otherwise: 200元/亩 } }
example "两档" on 2022-01-01 {
  given { revenue: 200万, grade: provincial, area: 150.5亩 }
  expect two_rows = 5万
  expect two_bounded = 5万
  expect by_level = 1万
  expect per_mu = 30100元
}
"""

# an assumption with a long text and label, and a total cap over measures of long names: each was once
# written on one line past the width (ruff: E501)
LONG_NAMES = """\
policy "长名称" {
  issued 2021-05-16
}
fact revenue "年度营业收入": money >= 0
assume revenue >= 0 and revenue <= 100000万 "年度营业收入不为负数且不超过一千亿亿元"
measure industrial_internet_platform_subsidy "平台补贴" { award 10万 }
measure industrial_internet_benchmark_subsidy "标杆补贴" { award 20万 }
measure industrial_internet_talent_training_subsidy "人才补贴" { award 30万 }
total_cap 50万 over {
  industrial_internet_platform_subsidy, industrial_internet_benchmark_subsidy,
  industrial_internet_talent_training_subsidy
}
"""


# ratios worked out to 60 digits (2:3, 1:7) were named by every digit, past the line's width
RATIOS = """\
policy "比例" {
  issued 2021-05-16
}
fact investment "投资额": money >= 0
fact rate "比率": percent
measure shares "按比例" {
  award 10万 if min(8.5%, 3.4%) < (2:3) - (2:2) and rate < (1:3)
  award 30% * investment * (1:7) if rate >= 10%
}
"""


# neighbouring rows of one value (a band, a schedule by year): the module wrote two `elif`s with the
# same body, which ruff refuses (SIM114), and drafters merged the text's rows to get past it
EQUAL_ROWS = """policy "同值相邻" { rounding fen half_up }
fact x "金额": money >= 0
fact since_day "认定日期": date
measure banded "分档" {
  award band x { 不满 100万: 1万, 不满 200万: 2万, 不满 300万: 2万, otherwise: 3万 } + 1% * x
}
measure yearly "逐年" {
  award schedule since_day { years 1: 40%, years 2: 30%, years 3: 30% } * x
}
example "150万" on 2024-06-01 {
  given { x: 150万, since_day: 2023-03-01 }
  expect banded = 3.5万
  expect yearly = 45万
}
example "250万" on 2025-06-01 {
  given { x: 250万, since_day: 2023-03-01 }
  expect banded = 4.5万
  expect yearly = 75万
}
"""


LINTED = sorted((ROOT / "policies").glob("*.policy")) + SOURCES


def write_modules(folder: Path) -> list[Path]:
    """The generated modules of the bundled policies, the golden sources and a few small policies,
    written to `folder`."""
    paths = []
    empty = folder / "no_measures.policy"
    empty.write_text(NO_MEASURES, encoding="utf-8")
    long = folder / "long_formulas.policy"
    long.write_text(LONG_FORMULAS, encoding="utf-8")
    constant = folder / "no_fact_read.policy"
    constant.write_text(NO_FACT_READ, encoding="utf-8")
    two_rows = folder / "two_rows.policy"
    two_rows.write_text(TWO_ROWS, encoding="utf-8")
    names = folder / "long_names.policy"
    names.write_text(LONG_NAMES, encoding="utf-8")
    ratios = folder / "ratios.policy"
    ratios.write_text(RATIOS, encoding="utf-8")
    equal = folder / "equal_rows.policy"
    equal.write_text(EQUAL_ROWS, encoding="utf-8")
    for path in [*LINTED, empty, long, constant, two_rows, names, ratios, equal]:
        target = folder / f"{path.stem}.py"
        target.write_text(module_source(path), encoding="utf-8")
        paths.append(target)
    return paths


def test_generated_modules_pass_the_project_lint_rules(tmp_path: Path) -> None:
    """Generated modules pass `ruff check` under the project's own rules (pyproject.toml) and `ruff
    format --check`, so that a developer can read them as ordinary code: no file-wide `noqa` hides a
    finding."""
    paths = write_modules(tmp_path)
    for path in paths:
        assert "# ruff: noqa" not in path.read_text(encoding="utf-8")
    done = subprocess.run(
        [ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # and they are laid out as the formatter would lay them out, the small policies' too (but for the
    # long formulas: the writer breaks a formula nested in brackets within the width, not yet where
    # the formatter would)
    formatted = [path for path in paths if path.stem != "long_formulas"]
    done = subprocess.run(
        [ruff(), "format", "--check", "--isolated", "--line-length", "110", *map(str, formatted)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_modules_type_check_strictly(tmp_path: Path) -> None:
    """Generated modules pass `mypy --strict` with no blanket `# type: ignore`, and `evaluate`, the
    entry point, says what it does in a docstring."""
    pytest.importorskip("mypy")
    (tmp_path / "modules").mkdir()
    paths = write_modules(tmp_path / "modules")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "# type: ignore\n" not in text and "# mypy:" not in text
        tree = pyast.parse(text)
        evaluate = next(n for n in tree.body if isinstance(n, pyast.FunctionDef) and n.name == "evaluate")
        assert pyast.get_docstring(evaluate), path.name
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.11"]
    command += ["--cache-dir", str(tmp_path / "cache"), "--config-file", "", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


LINT_RULES = ["--select", "E501"]


@settings(max_examples=int(os.environ.get("LINT_EXAMPLES", "15")), deadline=None)
@given(policy=policies())
def test_generated_policies_compile_to_modules_that_pass_the_lint_rules(
    policy: GeneratedPolicy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever formulas a policy writes (long ones included, see strategies.long_money), no line of
    its module is left past the width.  Other rules are checked on the bundled policies and the
    examples of write_modules only: the odd policies drawn here still break some (`0 >= x`, `True or
    ...` among exceptions without conditions, a funding limit on an award left unset)."""
    sink = Sink()
    checked = check_text("fuzz.policy", policy.text, sink)
    assert checked.model is not None and checked.source is not None
    target = tmp_path_factory.mktemp("lint") / "evaluator.py"
    target.write_text(generate(checked.model, checked.source.text, "fuzz.policy").source(), encoding="utf-8")
    done = subprocess.run(
        [ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), *LINT_RULES, str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr + policy.text


def test_a_long_formula_evaluates_alike_on_both_paths(tmp_path: Path) -> None:
    """The long formulas laid out over several lines still mean what they say: the fast path's amount
    is the full path's and the interpreter's."""
    path = tmp_path / "long_formulas.policy"
    path.write_text(LONG_FORMULAS, encoding="utf-8")
    evaluator = generated(path).load()
    sink = Sink()
    checked = check_file(path, sink)
    assert checked.model is not None
    assert checked.source is not None
    interpreter = Interpreter(checked.model, checked.source.text)
    for investment, revenue in ((Decimal(80_000_000), Decimal(50_000_000)), (Decimal(9_000_000), Decimal(0))):
        facts = {"investment": investment, "revenue": revenue, "employees": 12}
        fast = evaluator.evaluate(facts)
        full = evaluator.decide(facts, None, False, True, None)
        assert fast.amounts == {k: (m.status, m.amount) for k, m in full.measures.items()}
        assert full.to_dict() == interpreter.evaluate(facts).to_dict()


EXPRESSIONS = st.recursive(
    st.sampled_from(["a", "D_0_50", "fact_with_a_long_name", '"文本 (a, b)"', "None"]),
    lambda inner: st.one_of(
        st.builds(
            lambda x, op, y: f"{x} {op} {y}", inner, st.sampled_from(["+", "-", "*", ">=", "and"]), inner
        ),
        st.builds(lambda x: f"({x})", inner),
        st.builds(
            lambda f, xs: f"{f}({', '.join(xs)})",
            st.sampled_from(["min", "max"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        st.builds(lambda xs: f"({', '.join(xs)},)", st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda x, y, z: f"{x} if {y} else {z}", inner, inner, inner),
    ),
    max_leaves=30,
)


@given(EXPRESSIONS, st.integers(min_value=10, max_value=100))
def test_a_long_expression_laid_out_keeps_its_meaning(code: str, room: int) -> None:
    """Any expression the writer lays out over several lines (alone, or as a statement too long for
    its line) parses to the same tree."""
    from policydsl.codegen.writer import lay_expression

    try:
        pyast.parse(code, mode="eval")
    except SyntaxError:
        assume(False)  # `a if b if c else d else e`, which no generator writes
    lines = lay_expression(code, room)
    wrapped = "(\n" + "\n".join(lines) + "\n)"
    assert pyast.dump(pyast.parse(wrapped, mode="eval")) == pyast.dump(pyast.parse(code, mode="eval"))
    writer = CodeWriter(level=1)
    writer.line(f"value = {code}")
    laid = "\n".join(line[4:] for line in writer.lines)
    assert pyast.dump(pyast.parse(laid)) == pyast.dump(pyast.parse(f"value = {code}"))


def test_an_argument_laid_out_leaves_room_for_its_comma() -> None:
    """An argument laid out inside its call's brackets is followed by a comma; it was laid out to
    the full width, so the comma took its line one column past it (a fuzzed policy, 111 > 110)."""
    from policydsl.codegen.writer import lay_expression, width

    inner = "progressive(output_37, ((None, D_653, D_690000), (D_653, None, D_290000)))"
    room = width(inner) + 4  # the argument fits exactly, its comma does not
    lines = lay_expression(f"max(D_10174, {inner})", room)
    assert all(width(line) <= room for line in lines), lines


NEGATION_CASES = ["a is b", "a in (b, 1)", "a == b", "a < b", "a == b and a is b", "(a)", "a != b"]
NEGATION_CASES += ["(a) == (b)", "a is (b)", "((a)) in ((b, 'in'))", "a == (b == a)", "(a == b) == a"]


@given(
    st.sampled_from(NEGATION_CASES),
    st.one_of(st.decimals(allow_nan=True), st.booleans(), st.text(max_size=2)),
    st.one_of(st.decimals(allow_nan=False), st.booleans(), st.text(max_size=2)),
)
def test_negated_is_not(test: str, a: object, b: object) -> None:
    """`negated(t)` means `not (t)` whatever the operands (a NaN included)."""
    from policydsl.codegen.writer import negated

    def run(code: str) -> object:
        try:
            return eval(code, {}, {"a": a, "b": b})
        except Exception as exc:
            return type(exc)

    assert run(negated(test)) == run(f"not ({test})")


@given(st.text(max_size=300), st.integers(min_value=8, max_value=120))
@example("0000000\x1f0", 8)  # a wrapped comment lost a character str.strip() takes for white space
@example("第八条　规定 full-width\u3000spaces kept", 12)
def test_long_strings_split_into_literals_that_fit(text: str, room: int) -> None:
    from policydsl.codegen.writer import split_literal, wrap_comment

    pieces = split_literal(text, room)
    assert "".join(pyast.literal_eval(p) for p in pieces) == text
    assert all(width(p) <= room or len(pyast.literal_eval(p)) == 1 for p in pieces)
    line = text.replace("\n", " ").strip()
    wrapped = wrap_comment(line, room)
    assert all(width(part) <= room or len(part) == 1 for part in wrapped)
    assert "".join(wrapped).replace(" ", "") == line.replace(" ", "")


def test_a_policy_without_measures_compiles_to_a_module_that_runs(tmp_path: Path) -> None:
    """A validity window and no measure once left the fast path an `if` with an empty body."""
    path = tmp_path / "empty.policy"
    path.write_text(NO_MEASURES, encoding="utf-8")
    module = generated(path)
    pyast.parse(module.source())
    evaluator = module.load()
    for day in (datetime.date(2022, 1, 1), datetime.date(2030, 1, 1)):
        decision = evaluator.evaluate({}, day)
        assert (
            decision.amounts == {}
            and decision.to_dict() == evaluator.decide({}, day, False, True, None).to_dict()
        )


LONG_CONDITIONS = """
policy "长条件" { issuer "x" }
kind enterprise "企业"
kind intermediary "中介"
fact registered_in_the_district_x "注册地和财政收入在区内": bool
fact another_yes_or_no_fact_given "另一条件": bool
eligibility {
  require applicant != enterprise
    or registered_in_the_district_x "企业须在区内" cite "一"
  require applicant == enterprise
    and another_yes_or_no_fact_given
    or registered_in_the_district_x "另一条件" cite "一"
}
measure award_with_a_name "奖励" cite "一" { award 1万 }
"""


def test_long_three_valued_conditions_stay_formatted(tmp_path: Path) -> None:
    # `or`/`and` over facts that may be missing become `True if … else None if … else False`; with long
    # names that no longer fits the line, and the module must still be laid out as ruff would
    path = tmp_path / "long.policy"
    path.write_text(LONG_CONDITIONS, encoding="utf-8")
    target = tmp_path / "evaluator.py"
    target.write_text(module_source(path), encoding="utf-8")
    done = subprocess.run(
        [ruff(), "format", "--check", "--isolated", "--line-length", "110", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    evaluator = policydsl.load(path)
    long_fact = "registered_in_the_district_x"
    outside = evaluator.evaluate(
        {"applicant": "enterprise", long_fact: False, "another_yes_or_no_fact_given": False}
    )
    assert outside.eligibility_failures == [
        "未满足：企业须在区内（申报主体：企业；注册地和财政收入在区内：否）[一]",
        "未满足：另一条件（另一条件：否；申报主体：企业；注册地和财政收入在区内：否）[一]",
    ]
    inside = evaluator.evaluate({"applicant": "enterprise", long_fact: True})
    assert inside.total.amount == Decimal("10000")


# ------------------------------------------------------------------------------ the full path as data


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_full_path_is_data_with_a_source_line_per_entry(path: Path) -> None:
    """The full path is plan data plus runtime calls: no function per clause; per measure one
    function writing out its requirements and one `measure_spec(...)` entry its function hands to
    run_measure; a `file:line` comment above each measure, requirement and clause entry (the reader
    of a generated module finds every entry's source line)."""
    sink = Sink()
    checked = check_file(path.relative_to(ROOT), sink)
    assert checked.model is not None and checked.source is not None
    plan = PythonGenerator(checked.model, checked.source.text, checked.source.name).plan
    policy = generated(path).policy
    lines = policy.splitlines()
    specs = [i for i, line in enumerate(lines) if line.endswith(": MeasureSpec = measure_spec(")]
    functions = [line for line in lines if line.startswith("def measure_")]
    assert len(specs) == len(functions) == len(plan.measures)
    assert policy.count("return run_measure(") == len(plan.measures)
    assert not any(line.startswith("def ") and "Outcome" in line for line in lines)  # no clause function
    name = path.name
    for i, line in enumerate(lines):
        entry = line.strip()
        if entry.endswith("measure_spec(") or entry.startswith("clause("):
            above = [x.strip() for x in lines[max(0, i - 4) : i] if x.strip().startswith("#")]
            assert any(c.startswith(f"# {name}:") for c in above), (i, line)
    comments = {line.strip() for line in lines}
    for gate in [*plan.eligibility, *(g for m in plan.measures for g in m.gates)]:
        assert gate.where is not None
        assert any(c.startswith(f"# {name}:{gate.where.line}  ") for c in comments), gate.text


FACTS_ST = st.dictionaries(
    st.sampled_from(["a", "b"]),
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3).map(Decimal)),
    max_size=2,
)


@given(FACTS_ST, st.booleans(), st.sampled_from(["==", "!=", ">=", ">", "<=", "<"]))
def test_inline_condition_tests_agree_with_truth(facts: dict[str, object], negate: bool, op: str) -> None:
    """The evaluator of measure data works out a clause's common tests (a fact; a fact compared with a
    figure) inline for speed; each form must give what support.truth and a compiled function give,
    and record the same missing facts."""
    from policydsl.codegen import support
    from policydsl.evaluation.runtime import Rounding

    rounding = Rounding("fen", "half_up")

    def compiled(f: dict[str, object], p: object, date: object, need: set[str]) -> object:
        value = f.get("b")
        if value is None:
            need.add("b")
            return None
        return support.COMPARE[op](value, Decimal(1))

    values = {k: v for k, v in facts.items() if v is not None}
    bools = {k: v for k, v in values.items() if isinstance(v, bool)}
    numbers = {k: v for k, v in values.items() if isinstance(v, Decimal)}
    for f, test in ((bools, "a"), (numbers, ("b", op, Decimal(1))), (numbers, compiled)):
        truth_need: set[str] = set()
        holds, _ = support.truth(test, "text", f, {}, None, truth_need)  # type: ignore[arg-type]
        expected = None if holds is None else (not holds if negate else holds)
        pays = support.amount(Decimal(1), "1", (), False)
        condition = ((test, "text", negate, (), ("text", None, (), False)),)
        clause = support.clause("c", "award", "C", None, "head", pays, condition, "text")  # type: ignore[arg-type]
        spec = support.measure_spec(("m", "M", None, ()), (clause,), "none")
        needed = {"a": "a", "b": "b"}
        result = support.run_measure(spec, f, {}, None, set(), {}, [], False, needed, rounding)
        if expected is True:
            assert (result.status, result.amount) == ("determined", Decimal(1))
            assert result.conditions == {"c": True}
        elif expected is False:
            assert (result.status, result.reasons) == ("ineligible", ["未满足任何给予条件：text"])
            assert result.conditions == {"c": False}
        else:
            assert result.status == "undetermined"
            assert list(result.needed or []) == sorted(truth_need)


def _unset(f: object, p: object, date: object, need: set[str]) -> object:
    from policydsl.codegen import support

    raise support.Unset("未定")


def _invalid(f: object, p: object, date: object, need: set[str]) -> object:
    import decimal

    raise decimal.InvalidOperation


def _reads_b(f: dict[str, object], p: object, date: object, need: set[str]) -> object:
    value = f.get("b")
    if value is None:
        need.add("b")
    return value


@given(
    st.sampled_from(
        [
            Decimal("1.005"),
            Decimal("1E+70"),
            (Decimal("0.5"), "b"),
            (Decimal("1E+58"), "b"),
            _reads_b,
            _unset,
            _invalid,
        ]
    ),
    st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal("2.5"), Decimal(3000)])),
    st.sampled_from([(), ((Decimal(1), "1元"),), ((Decimal(5000), "5000元"), (Decimal(2), "2元"))]),
    st.booleans(),
    st.booleans(),
    st.integers(1, 2),
)
def test_plain_amounts_written_out_agree_with_the_general_clause(
    figure: object, b: Decimal | None, caps: object, ceiling: bool, explain: bool, count: int
) -> None:
    """run_measure works out a clause whose amount is plain (a figure, caps that are figures; no
    steps, floor or offset) itself instead of calling _applies; on every kind of figure, cap,
    missing fact and failure, with or without explanations, it must give what _applies gives, and
    record the same facts."""
    import decimal

    from policydsl.codegen import support
    from policydsl.evaluation.runtime import CONTEXT, Rounding

    rounding = Rounding("fen", "half_up")
    used = (("b", "B", "number", None, ()),)
    f: dict[str, object] = {"a": True} if b is None else {"a": True, "b": b}
    results = []
    for plain in (True, False):
        pays = support.amount(figure, "figure", used, ceiling, caps)  # type: ignore[arg-type]
        assert pays[9] is True
        pays = (*pays[:9], plain)
        unmet = ("a holds", None, (), False)  # a failing condition's reason: its words alone
        conditions = (("a", "a holds", False, (("a", "A", "bool", None, ()),), unmet),)
        clauses = tuple(
            support.clause(f"c{i}", "award", f"C{i}", None, f"head {i}", pays, conditions, "a holds")  # type: ignore[arg-type]
            for i in range(count)
        )
        spec = support.measure_spec(("m", "M", None, ()), clauses, "none")
        need: set[str] = set()
        with decimal.localcontext(CONTEXT):
            result = support.run_measure(spec, f, {}, None, need, {}, [], explain, {"b": "b"}, rounding)
        results.append((result, need))
    assert results[0] == results[1]


def _b_at_least_one(f: dict[str, object], p: object, date: object, need: set[str]) -> object:
    value = f.get("b")
    if value is None:
        need.add("b")
        return None
    return value >= 1  # type: ignore[operator]


@given(
    st.sampled_from(
        [
            Decimal("1.005"),
            Decimal("1E+70"),
            (Decimal("0.5"), "b"),
            (Decimal("1E+58"), "b"),
            _reads_b,
            _unset,
            _invalid,
        ]
    ),
    st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal("2.5"), Decimal(3000)])),
    st.sampled_from([(), ((Decimal(1), "1元"),), ((Decimal(5000), "5000元"), (Decimal(2), "2元"))]),
    st.lists(
        st.tuples(
            st.sampled_from(["a", ("b", ">=", Decimal(1)), _b_at_least_one, _unset, _invalid]), st.booleans()
        ),
        max_size=2,
    ),
    st.sampled_from([None, True, False]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_the_simple_path_of_a_measure_agrees_with_the_general_one(
    figure: object,
    b: Decimal | None,
    caps: object,
    tests: list[tuple[object, bool]],
    a: bool | None,
    ceiling: bool,
    explain: bool,
    undecided: bool,
) -> None:
    """run_measure settles a measure of one award clause whose amount is plain, with nothing else to
    settle (measure_spec's last field), on a path of its own; on every kind of condition (a yes/no
    fact, a comparison, a function, one that is unset or fails, negated or not), figure, cap, missing
    fact and failure, with or without explanations and undecided requirements, it must give what the
    general path gives, and record the same facts."""
    import decimal

    from policydsl.codegen import support
    from policydsl.evaluation.runtime import CONTEXT, Rounding

    rounding = Rounding("fen", "half_up")
    used = (("b", "B", "number", None, ()),)
    f: dict[str, object] = {} if b is None else {"b": b}
    if a is not None:
        f["a"] = a
    pays = support.amount(figure, "figure", used, ceiling, caps)  # type: ignore[arg-type]
    conditions = tuple(
        (test, f"cond {i}", negated, (("a", "A", "bool", None, ()),), (f"cond {i} holds", None, (), False))
        for i, (test, negated) in enumerate(tests)
    )
    clause = support.clause("c", "award", "C", None, "head", pays, conditions, "conds")  # type: ignore[arg-type]
    spec = support.measure_spec(("m", "M", None, ()), (clause,), "none")
    assert spec[10] is True
    results = []
    for each in (spec, (*spec[:10], False)):
        need: set[str] = set()
        unknown = ["未定的要求"] if undecided else []
        with decimal.localcontext(CONTEXT):
            result = support.run_measure(
                each, f, {}, None, need, {}, unknown, explain, {"a": "a", "b": "b"}, rounding
            )  # type: ignore[arg-type]
        results.append((result, need))
    assert results[0] == results[1]


def test_only_a_single_plain_award_takes_the_simple_path() -> None:
    """measure_spec marks simple only a measure of one award clause with a plain amount and nothing
    else to settle: a bonus, a second clause, an amount that is not plain, a funding limit, an
    instalment, a preference, a selection or an exception take the general path (a figure that is a
    function is plain: see support.amount)."""
    from policydsl.codegen import support

    plain = support.amount(Decimal(1), "1元", (), False)
    award = support.clause("c", "award", "C", None, "head", plain)
    head = ("m", "M", None, ())
    assert support.measure_spec(head, (award,), "none")[10] is True
    stage = support.stage("s", "S", "a", "a", None)
    floor = (Decimal(1), "1元")
    others = [
        support.measure_spec(head, (support.clause("c", "bonus", "C", None, "head", plain),), "none"),
        support.measure_spec(head, (award, award), "none"),
        support.measure_spec(
            head,
            (
                support.clause(
                    "c", "award", "C", None, "h", support.amount(Decimal(2), "2元", (), False, floor=floor)
                ),
            ),
            "none",
        ),
        support.measure_spec(head, (award,), "none", funding=((Decimal(1), Decimal(0), "t"),)),
        support.measure_spec(head, (award,), "none", stages=(stage,)),
        support.measure_spec(head, (award,), "none", preferences=(("a", "a", "note"),)),
        support.measure_spec(head, (award,), "none", selection="quota"),
        support.measure_spec(head, (award,), "none", general=True),
    ]
    assert [spec[10] for spec in others] == [False] * len(others)


def test_measure_result_is_the_class_s() -> None:
    """support.measure_result sets a MeasureResult's fields one by one instead of calling the class:
    the result must equal the class's, with every field set (a field added to the class and not to
    measure_result would be unset, and reading it would fail)."""
    import dataclasses

    from policydsl.codegen import support

    made = support.measure_result(
        ("m", "M", "第一条", ("cash",)), rt.DETERMINED, ["r"], {"m.require.1": True}
    )
    assert made == rt.MeasureResult(
        "m", "M", "第一条", rt.DETERMINED, None, ("cash",), ["r"], conditions={"m.require.1": True}
    )
    for field in dataclasses.fields(rt.MeasureResult):
        getattr(made, field.name)
    assert (
        made.to_dict()
        == rt.MeasureResult(
            "m", "M", "第一条", rt.DETERMINED, None, ("cash",), ["r"], conditions={"m.require.1": True}
        ).to_dict()
    )


_STATUSES = [rt.DETERMINED, rt.CEILING, rt.UNDETERMINED, rt.INELIGIBLE]


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.tuples(
            st.sampled_from(_STATUSES),
            st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal("1.005"), Decimal("9E+59")])),
        ),
        max_size=5,
    ),
    st.sampled_from([("yuan", "half_up"), ("jiao", "down"), ("fen", "half_even")]),
)
def test_the_plain_total_agrees_with_the_general_combination(
    amounts: dict[str, tuple[str, Decimal | None]], rounding: tuple[str, str]
) -> None:
    """support.plain_total (a policy without combination rules, total caps, other documents or
    floors) gives what runtime.combine_total gives with none of them: statuses, amounts, the named
    pairs, an overflow."""
    from policydsl.codegen import support

    labels = {n: f"措施{n.upper()}" for n in "abcde"}
    rule = rt.Rounding(*rounding)
    with decimal.localcontext(rt.CONTEXT):
        general = support.combine(amounts, [], [], rule, labels=labels)
        plain = support.plain_total(amounts, rule, support.pair_texts(labels))
    assert plain == general


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_a_failed_yes_no_or_enumeration_requirement_reads_its_reason_from_a_table(path: Path) -> None:
    """The reasons worked out when the module is loaded are runtime.unmet's for each value, and the
    module looks them up only for requirements on one yes/no or enumeration fact."""
    from policydsl.codegen import support

    module = generated(path)
    names = re.findall(r"^(UNMET_\d+)_TEXTS = unmet_texts\(\1\)$", module.policy, re.M)
    evaluator = module.load()
    for name in names:
        data = getattr(evaluator, name)
        ((shape, fact, _, kind, _, members, *_),) = data[2]
        assert (shape, kind) in (("is", "bool"), ("in", "enum"))
        values = [True, False] if shape == "is" else [key for key, _ in members]
        for value in [*values, None]:
            text = rt.UNMET + rt.unmet(data, {fact: value}, None)
            assert getattr(evaluator, name + "_TEXTS")[value] == text
            assert support.unmet_texts(data)[value] == text


def test_the_optional_parts_of_a_total_are_passed_by_name() -> None:
    """`floors`, `others` and `labels` of runtime.combine_total and support.combine are keyword-only,
    so no caller (the generated module, the interpreter, the API) passes `None, (), labels` by place."""
    from policydsl.codegen import support

    for func in (rt.combine_total, support.combine):
        params = inspect.signature(func).parameters
        assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in ("floors", "others", "labels"))


# A ranking by a parameter the text leaves unset: the generated module once let Unset out of the
# rank (and so out of the batch) where the interpreter ranks the applicant as not known.  Only such a
# rank is guarded: one that cannot be unset is generated without a `try`.
UNSET_RANK = """\
policy "排序待定" { issuer "测试" issued 2022-01-01 }
fact revenue "营业收入": money >= 0
fact score "得分": number
param weight "排序权重": number = unset
measure open_rank "排序待定" {
  award 1万
  quota 1 rank weight * revenue
}
measure plain_rank "按收入排序" {
  award 2万
  quota 1 rank revenue
}
measure c "乙" { award ceiling 50% * revenue }
pot p "资金池" 100万 each_year over { c } allocate ranked by weight * score
"""


def test_a_rank_by_an_unset_parameter_ranks_as_not_known(tmp_path: Path) -> None:
    path = tmp_path / "unset_rank.policy"
    path.write_text(UNSET_RANK, encoding="utf-8")
    facts = {"revenue": "5万", "score": "3"}
    ranks = []
    for compiled in (False, True):
        evaluator, sink = compile_policy(path, compiled=compiled)
        assert evaluator is not None, [d.message for d in sink.diagnostics]
        ranks.append(
            {
                (c.measure if isinstance(c, Constraint) else c.name): c.rank(facts)
                for c in evaluator.constraints()
                if c.rank is not None
            }
        )
    interpreted, generated_ranks = ranks
    assert generated_ranks == interpreted
    assert generated_ranks["open_rank"] is None
    assert generated_ranks["plain_rank"] == Decimal(50000)
    assert generated_ranks["p"] is None
    source = module_source(path)
    bodies = {
        name: re.split(r"\n(?=\S)", source.split(f"def {name}(", 1)[1])[0]
        for name in ("rank_open_rank", "rank_plain_rank", "rank_pot_p")
    }
    assert "except Unset" in bodies["rank_open_rank"] and "except Unset" in bodies["rank_pot_p"]
    assert "except Unset" not in bodies["rank_plain_rank"]


# A measure's (status, amount) as a total may meet it: every status, amounts of various places and signs
MEASURE_OUTCOMES = st.one_of(
    st.just((rt.INELIGIBLE, None)),
    st.tuples(
        st.sampled_from([rt.DETERMINED, rt.CEILING, rt.UNDETERMINED]),
        st.one_of(
            st.none(),
            st.decimals(min_value=-1_000_000, max_value=10**12, places=2, allow_nan=False),
            st.sampled_from(
                [Decimal("0"), Decimal("0.005"), Decimal("1E+6"), Decimal("-0.004"), Decimal("3.1")]
            ),
        ),
    ),
)


NAMES = ("a", "b", "c", "d")


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.fixed_dictionaries({name: MEASURE_OUTCOMES for name in NAMES}),
    combines=st.lists(
        st.tuples(st.sampled_from(["added", "added/all"]), st.lists(st.sampled_from(NAMES), unique=True)),
        max_size=3,
    ),
    rounding=st.builds(
        rt.Rounding, st.sampled_from(["yuan", "jiao", "fen"]), st.sampled_from(["half_up", "down"])
    ),
)
def test_the_lean_total_is_the_total_of_the_combination_rules(
    amounts: rt.Amounts, combines: list[tuple[str, list[str]]], rounding: rt.Rounding
) -> None:
    """support.added_figures (a generated total_figures, what a batch writing only statuses and
    amounts reads) gives the status and amount of the total later_total works out, places included,
    whatever each measure's outcome and whichever pairs the rules that add measures up declare."""
    with decimal.localcontext(support.FAST_CONTEXT):
        total = support.combine(amounts, combines, [], rounding, labels={n: n for n in NAMES})
        status, amount = support.added_figures(amounts, rounding, support.RuleSets(combines))
    written = None if amount is None else format(amount, "f")
    assert (status, written) == (total.status, None if total.amount is None else format(total.amount, "f"))
