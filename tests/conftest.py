"""Shared test fixtures and the --update-golden switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests derandomized (the same cases every run, so a submission never fails on a
# case no one has seen); a developer's run explores new cases each time.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
POLICIES = ROOT / "policies"
# the day each bundled population (policies/samples/*_population.csv) is evaluated on, inside its
# policy's validity: simulate's, the batch engines' and their differential tests'
POPULATION_DATES = {
    "shenzhen_industrial_internet_plan": "2022-06-01",
    "shandong_platforms": "2019-06-01",
    "jiangmen_special_fund": "2022-06-01",
    "shenzhen_consulting_diagnosis": "2023-03-01",
    "baoan_industrial_internet": "2022-06-01",
    "liuhe_key_industries": "2023-06-01",
    "lucheng_open_economy": "2020-06-01",
    "lucheng_modern_services": "2020-06-01",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output (only when the change is intended)",
    )


@pytest.fixture(autouse=True)
def _no_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages default to the file's keyword language, else the locale: tests run without one."""
    for name in ("POLICYDSL_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _language_choice_restored() -> Iterator[None]:
    """No test may leave a message language chosen (`--lang` run in-process, `messages.choose`):
    later tests' messages would silently change language.  The choice is put back, then the test
    that left it fails."""
    from policydsl.messages import choice_scope, chosen

    before = chosen()
    yield
    after = chosen()
    if after != before:
        choice_scope()  # back to no choice for the next test
        pytest.fail(f"the test left the message language chosen ({before!r} -> {after!r})")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def golden(path: Path, actual: str, update: bool) -> None:
    """Compare `actual` with the golden file at `path`, or rewrite it under --update-golden."""
    if update or not path.exists():
        if not update:
            pytest.fail(f"golden file {path.relative_to(ROOT)} is missing; run pytest --update-golden")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"output differs from {path.relative_to(ROOT)} (pytest --update-golden to accept)"
    )
