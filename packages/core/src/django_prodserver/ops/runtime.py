"""The ops endpoint's life inside the supervisor: bind first, watch every child, answer probes.

:class:`OpsRuntime` is what :class:`~django_prodserver.launch.supervisor.Supervisor` calls at each event
(``started``, ``exited``, ``stopping``, ``failed``, output chunks); it owns the HTTP thread, one
checker thread per long-running process and the metrics directories."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from django_prodserver.ops.config import CHILD_ENV, OpsConfig
from django_prodserver.ops.depth import DepthSampler
from django_prodserver.ops.watch import Facts, Watch
from django_prodserver.plan import QueueDepth, ReadyProbe

#: The environment variable prometheus-client's multiprocess mode reads in each child.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds ``close()`` waits for each ops thread (a readiness request may be in flight).
REQUEST_JOIN = 4.0
#: Seconds without a turn of the supervisor's loop (it turns at least once a second) before
#: /livez fails: a loop that stopped turning reads no output and hears no signal.
LOOP_LIMIT = 5.0


@dataclass(frozen=True)
class Watched:
    """What the runtime needs to know about one process before it starts."""

    name: str
    kind: str
    probe: ReadyProbe | None
    service: bool
    #: How /metrics reads this worker's queue depth (None: not reported).
    depth: QueueDepth | None = None


class OpsRuntime:
    """Health, readiness and metrics of a set of supervised processes, on one HTTP port."""

    def __init__(
        self,
        config: OpsConfig,
        processes: Sequence[Watched],
        bind: Callable[[OpsConfig, OpsRuntime], ThreadingHTTPServer],
    ) -> None:
        """``bind`` is ``ops.server.bind``: the HTTP side reads this runtime, never the reverse."""
        self.config = config
        self.watches = {p.name: Watch(p.name, p.kind, p.probe, service=p.service) for p in processes}
        self.depths = {p.name: DepthSampler(p.depth) for p in processes if p.depth is not None}
        self.failed = False
        self.draining = False
        self.started_at = time.monotonic()
        #: When the supervisor's loop last turned, and the output lines it dropped so far.
        self.ticked_at = self.started_at
        self.dropped: Mapping[str, int] = {"stdout": 0, "stderr": 0}
        #: Recycles by (process, reason): max_lifetime, max_memory.
        self.recycles: dict[tuple[str, str], int] = {}
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        self.metrics_dir = tempfile.mkdtemp(prefix="prodserver-metrics-") if self.metrics_on() else ""
        try:
            self.server = bind(config, self)  # raises ConfigError naming the setting: nothing started yet
        except BaseException:
            self._remove_metrics_dir()
            raise

    def metrics_on(self) -> bool:
        """Metrics configured and prometheus-client installed. Not imported here: a forked child
        must import it only once its PROMETHEUS_MULTIPROC_DIR is set (the mode is chosen at import)."""
        import importlib.util

        if not self.config.metrics:
            return False
        try:
            return importlib.util.find_spec("prometheus_client") is not None
        except (ImportError, ValueError):  # sys.modules entry set to None: as if not installed
            return False

    # -- environment of the children -------------------------------------------------

    def child_env(self, name: str) -> Mapping[str, str]:
        """Variables every child gets: no second endpoint, its own metrics directory."""
        env = {CHILD_ENV: "1"}
        if self.metrics_dir:
            path = os.path.join(self.metrics_dir, name)
            os.makedirs(path, exist_ok=True)
            env[MULTIPROC_ENV] = path
        return env

    def metrics_dirs(self) -> dict[str, str]:
        if not self.metrics_dir:
            return {}
        return {name: os.path.join(self.metrics_dir, name) for name in self.watches}

    # -- life ----------------------------------------------------------------------

    def start(self) -> None:
        """Serve and watch (threads). Called after the first child started, so that a forked
        first child never inherits our threads."""
        if self._threads:
            return
        thread = threading.Thread(target=self.server.serve_forever, name="prodserver-ops-http", daemon=True)
        thread.start()
        self._threads.append(thread)
        for watch in self.watches.values():
            if watch.service:
                t = threading.Thread(target=self._check_loop, args=(watch,), name=f"prodserver-ops-{watch.name}")
                t.daemon = True
                t.start()
                self._threads.append(t)

    def close(self) -> None:
        self._halt.set()
        if self._threads:
            self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=REQUEST_JOIN)
        self._remove_metrics_dir()

    def _remove_metrics_dir(self) -> None:
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _check_loop(self, watch: Watch) -> None:
        while not self._halt.is_set():
            try:
                delay = watch.check()
            except Exception as e:  # a bug here must not take the endpoint down: report as not ready
                with watch.lock:
                    watch.ready = False
                    watch.why = f"readiness check failed: {type(e).__name__}: {e}"
                delay = 1.0
            self._halt.wait(delay)

    # -- supervisor events (main thread) ----------------------------------------------

    def output_reader(self, name: str) -> Callable[[bytes], None] | None:
        """Who reads ``name``'s output as it passes (its watch, waiting for the ready log line)."""
        watch = self.watches.get(name)
        if watch is None or not watch.probe.log_line:
            return None
        return watch.output

    def started(self, name: str, pid: int) -> None:
        if name in self.watches:
            self.watches[name].started(pid)
        self.start()

    def recycled(self, name: str, reason: str) -> None:
        """A recycling limit (``max_lifetime``, ``max_memory``) replaced ``name``: counted for /metrics."""
        key = (name, reason)
        self.recycles[key] = self.recycles.get(key, 0) + 1

    def handed_over(self, name: str, pid: int) -> None:
        """A reload's new generation took over ``name``: watch its pid; it said it is ready."""
        if name in self.watches:
            self.watches[name].handed_over(pid)

    def in_fork(self) -> None:
        """In a forked child: it must not hold the endpoint's port."""
        self.server.socket.close()

    def exited(self, name: str, code: int) -> None:
        if name in self.watches:
            self.watches[name].exited(code)

    def held(self, name: str, why: str) -> None:
        """Left stopped after a configuration exit: its readiness says why until it starts again."""
        if name in self.watches:
            self.watches[name].held(why)

    def stopping(self) -> None:
        """A stop was requested: readiness is 503 from now on, before any child hears of it."""
        self.draining = True
        for watch in self.watches.values():
            watch.drain()

    def tick(self, dropped: Mapping[str, int]) -> None:
        """The supervisor's loop turned (liveness), with its dropped-lines counts (metrics)."""
        self.ticked_at = time.monotonic()
        self.dropped = dict(dropped)

    def fail(self) -> None:
        """The supervisor gave up (a child dead beyond its restart policy): liveness is 503."""
        self.failed = True

    # -- answers (HTTP thread) --------------------------------------------------------

    def facts(self) -> list[Facts]:
        now = time.monotonic()
        return [w.facts(now) for w in self.watches.values()]

    def live(self) -> tuple[bool, dict[str, object]]:
        now = time.monotonic()
        facts = [f for f in self.facts() if f.service]
        stuck = [f.name for f in facts if f.stopped_for > self.config.stopped_limit]
        still = now - self.ticked_at
        ok = not self.failed and not stuck and still <= LOOP_LIMIT
        if self.failed:
            why = "a process is dead beyond its restart policy"
        elif still > LOOP_LIMIT:
            why = f"the supervisor's loop has not turned for {still:.1f}s (output, signals and exits wait)"
        elif stuck:
            why = f"stopped (SIGSTOP) longer than {self.config.stopped_limit:g}s: {', '.join(stuck)}"
        else:
            why = "draining: still alive" if self.draining else "alive"
        return ok, {
            "live": ok,
            "detail": why,
            "loop_seconds": round(still, 3),
            "processes": {f.name: f.as_json(now) for f in facts},
        }

    def readiness(self, name: str) -> bool | None:
        """Whether ``name`` is ready now (the supervisor's control socket asks); None if unknown."""
        return next((f.ready for f in self.facts() if f.name == name), None)

    def ready(self, name: str | None = None) -> tuple[bool, dict[str, object]] | None:
        now = time.monotonic()
        facts = [f for f in self.facts() if f.service and (name is None or f.name == name)]
        if name is not None and not facts:
            return None
        ok = bool(facts) and not self.draining and all(f.ready for f in facts)
        why = "draining: a stop was requested" if self.draining else ("ready" if ok else "not ready")
        if name is not None and not ok and not self.draining:
            why = f"not ready: {facts[0].why}"  # one process: say why (a configuration exit, the broker...)
        return ok, {"ready": ok, "detail": why, "processes": {f.name: f.as_json(now) for f in facts}}

    def startup(self) -> tuple[bool, dict[str, object]]:
        now = time.monotonic()
        facts = [f for f in self.facts() if f.service]
        ok = bool(facts) and all(f.ever_ready for f in facts)
        return ok, {"started": ok, "processes": {f.name: f.as_json(now) for f in facts}}
