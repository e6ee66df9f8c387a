"""README's two commands are what CI runs, verbatim; the first installs runtime deps only."""

from __future__ import annotations

import re

from helpers import TESTS

ROOT = TESTS.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.DOTALL)


def test_ci_runs_the_readme_commands_verbatim() -> None:
    first, second = readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert first in ci_lines and second in ci_lines
    assert ci_lines.index(first) < ci_lines.index(second)
    assert "pip install -e . &&" in first and "[test" not in first and "calibrate_noise" in first
    assert "pip install -e '.[test,ray]'" in second and second.endswith("python -m pytest -q")
