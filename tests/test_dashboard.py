"""The dashboard end to end: a running CDC task, ``binlake dashboard`` as its own process, and the page as a
real headless Chromium renders it (its JavaScript fetches the API and draws the charts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import Binlake
from tests.helpers import (
    SAMPLE_ENV,
    create_cdc_task,
    execute,
    next_line,
    read_lines,
    samples,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import statistics, wait_for

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/install.sh installs Debian's chromium package)"
)


class Dom(HTMLParser):
    """Elements by id, table rows by data-table, and every element's attributes and text, from --dump-dom."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.text_by_id: dict[str, str] = {}
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.rows: dict[str, dict[str, str]] = {}
        self._open: list[tuple[str, dict[str, str]]] = []
        self._row: str | None = None
        self._field: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.elements.append((tag, found))
        if "id" in found:
            self.by_id[found["id"]] = found
            self.text_by_id[found["id"]] = ""
        if tag == "tr" and "data-table" in found:
            self._row = found["data-table"]
            self.rows[self._row] = {}
        if tag == "td" and self._row and "data-field" in found:
            self._field = found["data-field"]
        if tag not in VOID:
            self._open.append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._field = None
        if any(open_tag == tag for open_tag, _ in self._open):
            while self._open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for _tag, attrs in self._open:
            if "id" in attrs:
                self.text_by_id[attrs["id"]] += data
        if self._row and self._field:
            self.rows[self._row][self._field] = data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in wanted.items())]


def render(url: str, profile: Path) -> Dom:
    """The page's DOM after Chromium ran its scripts for 5 s of virtual time (network fetches are real)."""
    done = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--virtual-time-budget=5000", "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return Dom(done.stdout)


def screenshot(url: str, profile: Path, path: Path) -> None:
    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--virtual-time-budget=5000", "--window-size=1280,1600", f"--screenshot={path}", url,
        ],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.mark.usefixtures("cdc_target")
def test_dashboard_shows_a_running_task_and_updates(binlake: Binlake, admin, database: str, tmp_path: Path) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.items (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE `{db}`.notes (id INT PRIMARY KEY)",
        f"INSERT INTO `{db}`.items SELECT seq, seq FROM `{db}`.seq_1_to_2000",
    )
    create_cdc_task(binlake, "dash", db)
    start_detached(binlake, "dash", env=SAMPLE_ENV)
    wait_streaming(binlake, "dash")
    execute(admin, f"INSERT INTO `{db}`.items SELECT 5000 + seq, 0 FROM `{db}`.seq_1_to_300")
    wait_caught_up(binlake, "dash", admin)
    wait_for(lambda: len(samples(binlake.state_dir, "dash")["CPUUtilization"]) >= 4, what="metric samples")

    server = binlake.spawn("dashboard", "--port", "0", "--target", "CDCLatencySource<30")
    try:
        banner = next_line(read_lines(server), lambda line: "Dashboard: http://" in line, "dashboard URL")
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", banner).group(1) + "?task=dash&refresh=0.5"

        first = render(url, tmp_path / "chromium")
        assert first.text_by_id["error"] == ""
        assert int(first.by_id["updated-at"]["data-refreshes"]) >= 2  # it refreshed by itself
        assert first.find("tr", data_task="dash")
        assert first.text_by_id["task-name"] == "dash" and first.text_by_id["task-status"] == "running"
        assert set(first.rows) == {f"{db}.items", f"{db}.notes"}
        assert first.rows[f"{db}.items"]["FullLoadRows"] == "2,000"
        assert first.rows[f"{db}.items"]["Inserts"] == "300"
        for chart in ("chart-latency", "chart-throughput", "chart-cpu", "chart-memory"):
            assert int(first.by_id[chart]["data-points"]) >= 4, chart
        throughput = first.find("polyline", data_metric="CDCThroughputRowsTarget")
        assert len(throughput) == 1 and int(throughput[0]["data-count"]) >= 4
        assert len(throughput[0]["points"].split()) == int(throughput[0]["data-count"])
        thresholds = {a["data-metric"] for a in first.find("line", **{"class": "threshold"})}
        assert thresholds == {
            "CDCLatencySource",
            "CDCLatencyTarget",
            "FullLoadThroughputRowsSource",
            "CPUUtilization",
        }
        assert "CDCLatencySource < 30" in first.text_by_id["chart-latency"]

        execute(admin, f"INSERT INTO `{db}`.items SELECT 9000 + seq, 0 FROM `{db}`.seq_1_to_45")
        wait_caught_up(binlake, "dash", admin)
        assert statistics(binlake.state_dir, "dash")["items"]["inserts"] == 345
        points = int(first.by_id["chart-cpu"]["data-points"])
        wait_for(lambda: len(samples(binlake.state_dir, "dash")["CPUUtilization"]) > points, what="a new sample")
        second = render(url, tmp_path / "chromium")
        if os.environ.get("BINLAKE_DASHBOARD_SCREENSHOT"):  # a picture for a human reviewer
            screenshot(url, tmp_path / "chromium", Path(os.environ["BINLAKE_DASHBOARD_SCREENSHOT"]))
        assert second.rows[f"{db}.items"]["Inserts"] == "345"
        assert int(second.by_id["chart-cpu"]["data-points"]) > points
        stop(binlake, "dash")
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.usefixtures("cdc_target")
def test_target_labels_at_the_same_value_do_not_overlap(binlake: Binlake, database: str, tmp_path: Path) -> None:
    """The guide's targets put CDCLatencySource and CDCLatencyTarget both at < 60: two labels, one line apart."""
    create_cdc_task(binlake, "quiet", database)
    server = binlake.spawn("dashboard", "--port", "0")
    try:
        banner = next_line(read_lines(server), lambda line: "Dashboard: http://" in line, "dashboard URL")
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", banner).group(1) + "?task=quiet&refresh=0.5"
        dom = render(url, tmp_path / "chromium")
    finally:
        server.terminate()
        server.wait(10)
    lines = {a["data-metric"]: float(a["y1"]) for a in dom.find("line", **{"class": "threshold"})}
    labels = {a["data-metric"]: float(a["y"]) for a in dom.find("text", **{"class": "threshold-label"})}
    assert lines["CDCLatencySource"] == lines["CDCLatencyTarget"]  # the same target value
    assert abs(labels["CDCLatencySource"] - labels["CDCLatencyTarget"]) >= 10  # 10 px text, apart
