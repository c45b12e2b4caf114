"""benchmarks/web.py end to end on one server, one short round: it warms each side up unmeasured
before round 1 (the first start reads the server's files into the page cache for both), measures
both sides and prints the A/B table. Performance itself is the benchmark's to report, not asserted."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from django_prodserver.testing.processes import start

#: Starts real servers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

WEB_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "web.py"


@pytest.mark.timeout(150)
def test_one_round_warms_up_each_side_then_prints_the_table(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    argv = [sys.executable, str(WEB_PY), "--backends", "waitress", "--rounds", "1", "--max-rounds", "1"]
    argv += ["--duration", "0.3", "--skip-defaults", "--client", "python", "--var-dir", str(tmp_path)]
    proc = start(argv, dict(os.environ), tmp_path, tmp_path / "web.log")
    request.addfinalizer(lambda: proc.stop(timeout=15))  # SIGTERM: web.py kills its servers' groups
    code = proc.wait(120)
    out = proc.output()
    assert code == 0, out[-3000:]
    warm = out.index("waitress: one unmeasured start of each side first")
    first = out.index("waitress round 1 prodserver first 200")
    assert warm < first and "waitress round 1 native     first 200" in out, out
    table = out.split("=" * 78, 1)[1]
    for row in ("time to first 200 (ms)", "req/s  /  ", "req/s  /db/", "idle PSS (MiB)", "server CPU ms/req"):
        assert row in table, table
