"""The demo report in a real browser (headless Chromium): the answer is on the first screen,
and nothing on the page is a raw dict, a repr, ``None`` or a table wider than the page.

Runs the demo exactly as README's first command does, with and without the optional
experiments (``--canaries all --replicates 2 --load-levels 1,4``). Skipped where Chromium is
not installed (Debian: ``apt-get install chromium``; .ci/run installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import run_env

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (apt-get install chromium)"
)

DEMO = ["--tiers", "FAST", "BALANCED", "SLOW", "--n", "100", "--corpus", "synthetic",
        "--export", "calibration.yaml", "--no-progress"]  # fmt: skip
EXTRAS = ["--canaries", "all", "--replicates", "2", "--load-levels", "1,4"]
WIDTH, FIRST_SCREEN = 1280, 900
#: Text that betrays a dump: Python reprs and dicts, None, numpy, non-numbers.
RAW = re.compile(r"\{'|'\}|': |\bNone\b|\bTrue\b|\bFalse\b|array\(|<object|Traceback|\bnan\b")

PROBE = """<script>
(function () {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const width = document.documentElement.clientWidth, wide = [];
  for (const t of document.querySelectorAll('table')) {
    const box = t.getBoundingClientRect(), up = t.parentElement;
    if (box.right > width + 1 || (up && up.scrollWidth > up.clientWidth + 1))
      wide.push((up && (up.id || up.className)) || 'table');
  }
  for (const d of document.querySelectorAll('details')) d.open = false;
  const late = [];
  for (const e of document.querySelectorAll('li.tier-verdict, #recommendation'))
    if (e.getBoundingClientRect().bottom > %(first)d) late.push(e.dataset.tier || e.id);
  document.body.dataset.wide = JSON.stringify(wide);
  document.body.dataset.late = JSON.stringify(late);
})();
</script></body>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{FIRST_SCREEN}", *args]  # fmt: skip
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=180,
    )


class _Text(HTMLParser):
    """The page's visible text (scripts and styles left out), and the answer's parts."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.skip = 0
        self.body: dict[str, str] = {}
        self.answer: dict[str, list[str]] = {"tier": [], "recommendation": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "body":
            self.body = {k: v or "" for k, v in a.items()}
        if tag == "span" and a.get("class") == "sentence":
            self._in = "tier"
        if tag == "p" and a.get("id") == "recommendation":
            self._in = "recommendation"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1
        if tag in ("span", "p"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.text.append(data)
            if self._in is not None:
                self.answer[self._in].append(data)


@pytest.fixture(scope="module", params=["demo", "demo+experiments"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp(request.param.replace("+", "_"))
    args = DEMO + (EXTRAS if request.param.endswith("experiments") else [])
    done = subprocess.run(
        [sys.executable, "-m", "calib_async", *args],
        cwd=d, env=run_env(), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return d / "calibration_output" / "report.html"


def test_first_screen_answers_and_no_dump_or_overflow_anywhere(report: Path) -> None:
    probe = report.with_name("probe.html")
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page  # the report itself runs nothing; the probe is the test's
    probe.write_text(page.replace("</body>", PROBE % {"first": FIRST_SCREEN}), encoding="utf-8")
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                   profile=report.parent / "chromium")  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Text()
    parsed.feed(dom.stdout)
    assert json.loads(parsed.body["data-wide"]) == []  # no table wider than its box
    assert json.loads(parsed.body["data-late"]) == []  # verdicts and advice on the first screen
    text = " ".join(" ".join(parsed.text).split())
    assert not RAW.findall(text), sorted(set(RAW.findall(text)))
    sentences = " ".join(parsed.answer["tier"])
    for tier in ("FAST", "BALANCED", "SLOW"):
        sentence = next(s for s in parsed.answer["tier"] if s.startswith(f"{tier}: "))
        assert re.search(r"\d+(\.\d)? % \[\d+(\.\d)?, \d+(\.\d)?\]", sentence), sentence
    assert sentences and re.search(r"\[[^\]]+\]", " ".join(parsed.answer["recommendation"]))
    shot = report.with_name("first-screen.png")
    done = chromium(f"--screenshot={shot}", report.as_uri(), profile=report.parent / "chromium")
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]
