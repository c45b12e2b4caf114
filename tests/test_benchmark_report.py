"""benchmarks/web.py's verdicts (issue 13 point 2): a miss is MISSED only outside the measured
spread of the per-round ratios, "noise" inside it, and noise rows are the ones that get more rounds."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the benchmarks import their siblings by name
    try:
        import _web_report

        return _web_report
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_a_met_target_is_ok_whatever_the_spread(report: ModuleType) -> None:
    row = report.Row("first 200", [90.0, 200.0, 95.0], [100.0, 100.0, 100.0], "<=", 1.0)
    assert row.ratio == pytest.approx(0.95) and row.verdict() == "ok"


def test_a_miss_inside_the_spread_is_noise_outside_it_missed(report: ModuleType) -> None:
    straddles = report.Row("req/s", [90.0, 105.0, 96.0], [100.0, 100.0, 100.0], ">=", 0.98)
    assert straddles.spread() == (0.9, 1.05) and straddles.verdict() == "noise"
    below = report.Row("req/s", [90.0, 92.0, 91.0], [100.0, 100.0, 100.0], ">=", 0.98)
    assert below.verdict() == "MISSED"


def test_spread_is_paired_quartiles_from_four_rounds(report: ModuleType) -> None:
    row = report.Row("first 200", [1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5, "<=", 1.0)
    assert row.paired() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert row.spread() == (2.0, 4.0)  # quartiles, not min..max
    assert report.Row("info", [1.0], [2.0], "", 0.0).verdict() == "(info)"


def test_only_noise_rows_ask_for_more_rounds(report: ModuleType) -> None:
    def sample(first: float, rps: float) -> object:
        loads = {p: report.Load(rps=rps, errors=0) for p in ("/", "/db/")}
        return report.Sample(first_200=first, pss_kib=1024, rps=loads, cpu_ms={"/": 1.0, "/db/": 1.0})

    samples = {
        "prodserver": [sample(1.2, 95.0), sample(1.2, 101.0), sample(1.2, 96.0)],
        "native": [sample(1.0, 100.0)] * 3,
    }
    assert report.undecided(samples) == ["req/s  /", "req/s  /db/"]  # first 200 is MISSED, not noise


def test_defaults_table_judges_both_views_against_the_servers_own(report: ModuleType) -> None:
    """Out-of-the-box: `/` and `/db/`, each ratio >= 1.00 unless the spread says noise."""

    def sample(root: float, db: float) -> object:
        return report.Sample(0.3, 40 * 1024, {"/": report.Load(root, 0), "/db/": report.Load(db, 0)})

    ours = [sample(110.0, 90.0), sample(105.0, 80.0)]
    native = [sample(100.0, 100.0), sample(100.0, 100.0)]
    rows = report.defaults_rows(ours, native)
    assert [(r.name, r.verdict()) for r in rows] == [("req/s  /", "ok"), ("req/s  /db/", "MISSED")]
    table = report.defaults_table([("waitress", "1 process, 4 threads", "1 process, 4 threads", ours, native)], 2)
    assert ">= 1.00 ok" in table and ">= 1.00 MISSED" in table and "0.80-0.90" in table
