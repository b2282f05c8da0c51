"""The diagram and report commands as a user runs them: outputs, exit codes, messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from policydsl.commands.cli import main
from policydsl.render.diagram import PATH_COLOR
from tests.conftest import DATA

PLATFORM = str(DATA / "diagrams" / "platform.policy")
FACTS = str(DATA / "diagrams" / "platform.facts.json")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_the_overview_is_drawn_by_default(tmp_path: Path) -> None:
    out = tmp_path / "overview.dot"
    code, text = invoke("diagram", PLATFORM, "-o", str(out))
    assert code == 0, text
    dot = out.read_text(encoding="utf-8")
    assert dot.startswith("digraph overview {")
    assert '"measure.platform_award"' in dot


def test_one_measure(tmp_path: Path) -> None:
    out = tmp_path / "t.dot"
    code, text = invoke("diagram", PLATFORM, "--measure", "center", "-o", str(out))
    assert code == 0, text
    assert out.read_text(encoding="utf-8").startswith("digraph center {")


@needs_dot
def test_all_into_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "all"
    code, text = invoke("diagram", PLATFORM, "--all", "-o", str(out))
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == [
        "center.svg",
        "overview.svg",
        "pilot.svg",
        "platform_award.svg",
    ]
    assert "wrote 4 diagrams" in text


def test_facts_highlight_the_path(tmp_path: Path) -> None:
    out = tmp_path / "t.dot"
    code, text = invoke(
        "diagram",
        PLATFORM,
        "--measure",
        "platform_award",
        "--facts",
        FACTS,
        "--date",
        "2022-01-01",
        "-o",
        str(out),
    )
    assert code == 0, text
    dot = out.read_text(encoding="utf-8")
    assert f'color="{PATH_COLOR}"' in dot
    assert "本申请人：最高 1515万元" in dot
    assert "粗线：本申请人的路径" in dot


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--measure", "nope", "-o", "x.svg"], "no measure `nope`"),
        (["-o", "x.gif"], "cannot tell the format"),
        (["--all", "--measure", "center", "-o", "d"], "either --measure NAME or --all"),
        (["--all", "-o", "x.svg"], "--all writes into a folder"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a.startswith(("x.", "d")) else a for a in args]
    code, text = invoke("diagram", PLATFORM, *args)
    assert code == 2
    assert message in text


def test_bad_facts_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "f.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    code, text = invoke("diagram", PLATFORM, "--facts", str(bad), "-o", str(tmp_path / "x.dot"))
    assert code == 2
    assert "must be a JSON object" in text
    bad.write_text(json.dumps({"investment": "lots"}), encoding="utf-8")
    code, text = invoke("diagram", PLATFORM, "--facts", str(bad), "-o", str(tmp_path / "x.dot"))
    assert code == 2
    assert "the facts cannot be used" in text


def test_a_policy_with_errors_exits_1_with_its_diagnostics(tmp_path: Path) -> None:
    policy = tmp_path / "bad.policy"
    policy.write_text("measure m { award 1万 if nonsense }\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["diagram", str(policy), "-o", str(tmp_path / "x.dot")])
    assert result.exit_code == 1
    assert "bad.policy:1:25: error[E101]: unknown name `nonsense`" in result.output
    assert not (tmp_path / "x.dot").exists()


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, text = invoke("diagram", str(tmp_path / "none.policy"), "-o", str(tmp_path / "x.dot"))
    assert code == 2
    assert "does not exist" in text


@needs_dot
def test_report_writes_the_site(tmp_path: Path) -> None:
    out = tmp_path / "site"
    code, text = invoke("report", PLATFORM, "--sources", str(DATA / "report"), "-o", str(out))
    assert code == 0, text
    assert (out / "index.html").is_file() and (out / "platform.html").is_file()
    assert "第五条 对列入省级重点支持的平台" in (out / "platform.html").read_text(encoding="utf-8")


def test_report_with_a_broken_policy_exits_1_but_writes_its_page(tmp_path: Path) -> None:
    policy = tmp_path / "bad.policy"
    policy.write_text("measure m { award 1万 if nonsense }\n", encoding="utf-8")
    out = tmp_path / "site"
    code, text = invoke("report", str(policy), "-o", str(out))
    assert code == 1
    assert "has errors" in text
    assert "unknown name `nonsense`" in (out / "bad.html").read_text(encoding="utf-8")


def test_report_usage_errors(tmp_path: Path) -> None:
    code, text = invoke("report", PLATFORM, "--sources", str(tmp_path / "none"), "-o", str(tmp_path / "s"))
    assert code == 2
    assert "does not exist" in text
