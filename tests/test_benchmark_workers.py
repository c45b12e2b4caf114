"""benchmarks/workers.py's pure parts: its options, the task records it reads numbers from, the
ratio/spread report, and the line that skips a family whose backend is not installed. The
benchmark run itself (real workers, real brokers) is the script's to report, not asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def workers() -> ModuleType:
    before = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location("bench_workers", BENCHMARKS / "workers.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path[:] = before  # it puts benchmarks/ first, for its siblings


def test_defaults_and_every_option(workers: ModuleType) -> None:
    args = workers.parse_args([])
    assert args.families == ["celery", "rq", "dramatiq", "django-q2", "django-tasks", "huey"]
    assert (args.rounds, args.max_rounds, args.tasks, args.no_install) == (3, 5, 200, False)
    args = workers.parse_args(["--families", "rq, huey", "--rounds", "7", "--tasks", "50", "--no-install"])
    assert args.families == ["rq", "huey"] and args.rounds == args.max_rounds == 7
    assert (args.tasks, args.no_install) == (50, True)


@pytest.mark.parametrize("argv", [["--families", "celery,nope"], ["--rounds", "0"], ["--tasks", "0"]])
def test_bad_options_are_refused(workers: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        workers.parse_args(argv)
    assert exit_.value.code == 2
    assert "nope" in capsys.readouterr().err or argv[0] != "--families"


def test_huey_runs_its_own_cli_with_the_same_concurrency(workers: ModuleType, tmp_path: Path) -> None:
    huey = workers.FAMILIES["huey"]
    argv = huey.native({}, tmp_path, 3)
    assert argv[1:] == ["-m", "django", "run_huey", "-w", "3", "-k", "thread"]
    assert huey.process("q", 3) == {"BACKEND": "huey", "OPTIONS": {"concurrency": 3, "pool": "thread"}}


def test_a_family_without_its_backend_is_skipped_with_a_line(workers: ModuleType) -> None:
    huey = workers.FAMILIES["huey"]
    line = workers.skip_line(huey, {"rq", "celery-worker"}, importable=True)
    assert line == "huey: skipped, backend 'huey' is not installed (pip install django-prodserver-huey)"
    assert "'huey' is not importable" in workers.skip_line(huey, {"huey"}, importable=False)
    assert workers.skip_line(huey, {"huey"}, importable=True) is None


def test_records_give_rates_and_latencies(workers: ModuleType) -> None:
    # noop: 10 tasks, one every 0.1 s, each 0.05 s long; lat: started 5 and 15 ms after enqueue.
    lines = [f"noop {t:.6f} {t:.6f} {t + 0.05:.6f}" for t in (100 + i / 10 for i in range(10))]
    lines += ["lat 200.000 200.005 200.006", "lat 201.000 201.015 201.016", "term 300.0 300.1 started", "io 1 2"]
    records = workers.Records.parse("\n".join(lines) + "\n")
    assert records.count("noop") == 10 and records.count("io") == 0 and records.started == {"term"}
    # The first 10% (one task) is start-up: 9 tasks from 100.1 to 100.95.
    assert records.rate("noop") == pytest.approx(9 / 0.85)
    assert records.latencies_ms("lat") == pytest.approx([5.0, 15.0])
    assert workers.percentile([5.0, 15.0], 50) == pytest.approx(10.0)
    assert workers.percentile(list(range(101)), 99) == pytest.approx(99.0)


def sample(workers: ModuleType, rate: float, rss: float) -> object:
    return workers.Sample(
        noop_rate=rate, io_rate=rate, rss_mib=rss, pss_mib=rss / 2, p50_ms=5.0, p99_ms=9.0, term_s=1.5
    )


def test_report_marks_misses_outside_the_spread_and_noise_inside(workers: ModuleType) -> None:
    samples = {
        "prodserver": [sample(workers, r, 101.0) for r in (90.0, 105.0, 96.0)],
        "native": [sample(workers, 100.0, 100.0) for _ in range(3)],
    }
    verdicts = {row.name: row.verdict() for row in workers.rows(samples)}
    assert verdicts["tasks/s  no-op"] == "noise"  # 0.96, but one round gave 1.05
    assert verdicts["idle RSS (MiB)"] == "MISSED"  # 1.01 in every round
    assert verdicts["SIGTERM -> exit (s)"] == "(info)"
    assert workers.undecided(samples) == ["tasks/s  no-op", "tasks/s  10 ms I/O"]
    text = workers.table("rq", "concurrency 2", samples)
    assert "tasks/s  no-op" in text and "0.96   0.90-1.05  >= 0.98 noise" in text
    assert "<= 1.00 MISSED" in text
    md = workers.summary([("rq", "concurrency 2", samples)])
    head, rule, row = md.splitlines()
    assert head.count("|") == rule.count("|") == row.count("|")
    assert (
        row.startswith("| rq | concurrency 2 | 3 | 0.96 (0.90-1.05) |")
        and "1.01 (1.01-1.01) MISSED | 1.01 (1.01-1.01) | 1.00" in row
    )
    samples["prodserver"] = [sample(workers, 100.0, 100.2) for _ in range(3)]
    rss = next(r for r in workers.rows(samples) if r.name == "idle RSS (MiB)")
    assert rss.verdict() == "MISSED" and workers.ratio_text(rss) == ("1.002", "1.002-1.002")  # not "1.00"
