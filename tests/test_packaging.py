"""The project's promises about itself: README's commands are the ones CI runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_the_two_commands():
    demo, tests = _readme_commands()
    assert "service-circle demo" in demo
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _readme_commands()
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in lines


def test_console_script_and_packages_are_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["service-circle"] == "service_circle.cli:main"
    assert "pandana" in " ".join(meta["project"]["optional-dependencies"]["bench"])
    assert meta["tool"]["setuptools"]["packages"]["find"]["include"] == ["service_circle*", "api*"]
