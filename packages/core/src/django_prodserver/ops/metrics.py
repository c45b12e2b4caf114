"""``/metrics``: per-process gauges from the supervisor plus each web process' request metrics.

Needs prometheus-client (``django-prodserver-core[metrics]``); importing this module without it
raises ImportError, which the endpoint turns into 501. Request metrics come from the children's
multiprocess files, one directory per process name, each sample labelled ``process=<name>``."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from django_prodserver.ops import procfs
from django_prodserver.ops.depth import samples

if TYPE_CHECKING:
    from django_prodserver.ops.runtime import OpsRuntime

CONTENT_TYPE = CONTENT_TYPE_LATEST


class SupervisorCollector:
    """up, restarts, uptime, ready, CPU, RSS and last exit code of every supervised process, and
    the output lines the supervisor dropped."""

    def __init__(self, runtime: OpsRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        labels = ["process"]
        up = GaugeMetricFamily("prodserver_process_up", "1 while the process runs.", labels=labels)
        ready = GaugeMetricFamily("prodserver_process_ready", "1 while the process is ready.", labels=labels)
        restarts = CounterMetricFamily(
            "prodserver_process_restarts", "Restarts by the supervisor since it started.", labels=labels
        )
        uptime = GaugeMetricFamily("prodserver_process_uptime_seconds", "Seconds since the last start.", labels=labels)
        cpu = CounterMetricFamily(
            "prodserver_process_cpu_seconds", "User+system CPU of the process tree (since its start).", labels=labels
        )
        rss = GaugeMetricFamily(
            "prodserver_process_resident_memory_bytes", "Resident memory of the process tree.", labels=labels
        )
        last = GaugeMetricFamily(
            "prodserver_process_last_exit_code", "Exit code of the last exit (128+n: signal n).", labels=labels
        )
        for f in self.runtime.facts():
            pids = procfs.tree(f.pid) if f.alive and f.pid else []
            up.add_metric([f.name], 1.0 if f.alive else 0.0)
            ready.add_metric([f.name], 1.0 if f.ready else 0.0)
            restarts.add_metric([f.name], float(f.restarts))
            uptime.add_metric([f.name], now - f.started_at if f.alive else 0.0)
            cpu.add_metric([f.name], procfs.cpu_seconds(pids))
            rss.add_metric([f.name], float(procfs.rss_bytes(pids)))
            if f.last_exit_code is not None:
                last.add_metric([f.name], float(f.last_exit_code))
        dropped = CounterMetricFamily(
            "prodserver_log_lines_dropped",
            "Output lines the supervisor dropped because its stdout/stderr was not read fast enough.",
            labels=["stream"],
        )
        for stream, count in sorted(self.runtime.dropped.items()):
            dropped.add_metric([stream], float(count))
        recycles = CounterMetricFamily(
            "prodserver_worker_recycles",
            "Processes replaced by a new generation because they reached a recycling limit.",
            labels=["process", "reason"],
        )
        for (process, reason), count in sorted(self.runtime.recycles.items()):
            recycles.add_metric([process, reason], float(count))
        yield from (up, ready, restarts, uptime, cpu, rss, last, dropped, recycles)


class ChildrenCollector:
    """The children's own metrics (request counters, histograms), merged per process directory."""

    def __init__(self, runtime: OpsRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for name, path in self.runtime.metrics_dirs().items():
            files = glob.glob(os.path.join(path, "*.db"))
            if not files:
                continue
            forget_dead(path, files)
            files = glob.glob(os.path.join(path, "*.db"))
            for metric in MultiProcessCollector.merge(files, accumulate=True):  # type: ignore[no-untyped-call]
                merged = families.get(metric.name)
                if merged is None:
                    merged = families[metric.name] = Metric(metric.name, metric.documentation, metric.type)
                for s in metric.samples:
                    merged.samples.append(s._replace(labels={"process": name, **s.labels}))
        yield from families.values()


class QueueCollector:
    """``prodserver_queue_depth{process, queue}``: tasks waiting, read from each worker's broker now."""

    def __init__(self, runtime: OpsRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        if not self.runtime.depths:
            return
        depth = GaugeMetricFamily(
            "prodserver_queue_depth", "Tasks waiting in the queue (read from the broker at scrape time).",
            labels=["process", "queue"],
        )  # fmt: skip
        for process, queue, count in samples(self.runtime.depths):
            depth.add_metric([process, queue], float(count))
        yield depth


def forget_dead(path: str, files: Iterable[str]) -> None:
    """``mark_process_dead`` for every PID whose files are there but whose process is gone
    (a recycled or crashed worker): its live gauges must not be summed any more."""
    pids: set[int] = set()
    for file in files:
        stem = os.path.basename(file)[:-3]
        tail = stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    for pid in pids:
        if not procfs.state(pid) or procfs.state(pid) == "Z":
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def render(runtime: OpsRuntime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SupervisorCollector(runtime))  # type: ignore[arg-type]
    registry.register(ChildrenCollector(runtime))  # type: ignore[arg-type]
    registry.register(QueueCollector(runtime))  # type: ignore[arg-type]
    out: Any = generate_latest(registry)
    return bytes(out)
