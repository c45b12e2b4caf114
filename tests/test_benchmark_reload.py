"""benchmarks/reload.py --quick end to end for gunicorn: `prodserver reload` under load beside
gunicorn's own SIGHUP, and the table has every column and no failed request on prodserver's side.
Reload speed itself is the benchmark's to report, not asserted."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from django_prodserver.testing.processes import start

#: Starts real servers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

RELOAD_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "reload.py"
COLUMNS = ("reload s min/med/max", "requests", "failed", "retried", "worst s", "p99 reloads ms", "p99 quiet ms")


@pytest.mark.timeout(200)
def test_quick_run_prints_both_sides_and_prodserver_loses_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    argv = [sys.executable, str(RELOAD_PY), "--quick", "--servers", "gunicorn"]
    proc = start(argv, dict(os.environ), tmp_path, tmp_path / "reload.log")
    request.addfinalizer(lambda: proc.stop(timeout=20))  # SIGTERM: reload.py stops its servers by PID
    code = proc.wait(180)
    out = proc.output()
    assert code == 0, out[-3000:]
    table = out.split("=" * 78, 1)[1].strip().splitlines()
    header = table[0]
    for column in COLUMNS:
        assert column in header, header
    rows = {tuple(line.split()[:2]): line.split() for line in table[1:3]}
    assert set(rows) == {("gunicorn", "prodserver"), ("gunicorn", "native")}, table
    ours = rows["gunicorn", "prodserver"]
    requests, failed, stale = int(ours[3]), int(ours[4]), int(ours[9])
    assert requests > 0 and failed == 0 and stale == 0, out[-3000:]
    assert int(rows["gunicorn", "native"][3]) > 0, table
