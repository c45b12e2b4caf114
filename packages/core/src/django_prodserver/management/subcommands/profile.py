"""``prodserver profile NAME``: sample every process of NAME at once for a while and write one
profile, each process labelled; ``--memory`` for allocation sites instead
(docs/how-to/find-out-why-production-is-slow.md)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

FORMATS = ("speedscope", "flamegraph", "raw")
_EXT = {"speedscope": ".speedscope.json", "raw": ".txt", "flamegraph": ".svg", "memory": ".txt"}


class Command(BaseCommand):
    help = (
        "Sample every process of NAME (master and workers) at once with py-spy for --duration seconds and "
        "write one profile, each process labelled; --memory reports the top allocation sites instead "
        "(memray, or tracemalloc through prodserver's in-process hook). Nothing is restarted."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", metavar="NAME", help="a process of PRODUCTION_PROCESSES")
        parser.add_argument("--pid", type=int, metavar="PID", help="the process tree of PID instead of NAME")
        parser.add_argument("--duration", type=int, default=30, metavar="SECONDS", help="how long to sample (30)")
        parser.add_argument("--rate", type=int, default=100, metavar="HZ", help="samples per second (100)")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="speedscope",
            help="speedscope: one file, one profile per process and thread (default); raw: collapsed stacks, "
            "each starting with the process label; flamegraph: one SVG per process",
        )
        parser.add_argument(
            "--output", metavar="FILE", help="where to write (default: prodserver-profile-NAME-TIME + extension)"
        )
        parser.add_argument("--native", action="store_true", help="include C/C++ frames")
        parser.add_argument("--idle", action="store_true", help="include threads that wait (sleep, I/O, locks)")
        parser.add_argument(
            "--nonblocking",
            action="store_true",
            help="never pause the processes to read a stack (less overhead, some stacks torn)",
        )
        parser.add_argument("--memory", action="store_true", help="top allocation sites instead of CPU samples")
        parser.add_argument(
            "--tracemalloc",
            action="store_true",
            help="with --memory: ask prodserver's in-process hook (tracemalloc) instead of attaching memray",
        )
        parser.add_argument("--top", type=int, default=10, metavar="N", help="lines of the summary (10)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_prodserver.profiling.targets import NoTargets, choose

        if options["duration"] < 1 or options["rate"] < 1:
            raise CommandError("--duration and --rate must be at least 1")
        try:
            targets = choose(options.get("name"), options.get("pid"))
        except NoTargets as e:
            raise CommandError(str(e)) from None
        name = targets[0].name
        kind = "memory" if options["memory"] else options["format"]
        stamp = time.strftime("%Y%m%d-%H%M%S")
        output = Path(options.get("output") or f"prodserver-profile-{name}-{stamp}{_EXT[kind]}")
        try:
            if options["memory"]:
                self.memory(targets, output, options)
            else:
                self.cpu(targets, output, options)
        except RuntimeError as e:
            raise CommandError(str(e)) from None

    def progress(self, what: str, duration: int) -> Any:
        tty = sys.stderr.isatty()
        self.stderr.write(f"{what} for {duration} s ...")

        shown = [0]

        def tick(elapsed: float) -> None:
            seconds = min(int(elapsed), duration)
            if seconds == shown[0]:
                return
            shown[0] = seconds
            if tty:
                self.stderr.write(f"\r  {seconds}/{duration} s", ending="")
            elif seconds % 5 == 0 or seconds == duration:
                self.stderr.write(f"  {seconds}/{duration} s")

        return tick

    def cpu(self, targets: list[Any], output: Path, options: dict[str, Any]) -> None:
        from django_prodserver.profiling import merge, pyspy

        fmt, duration, rate = options["format"], options["duration"], options["rate"]
        what = f"sampling {len(targets)} process{'es' if len(targets) > 1 else ''} of {targets[0].name} at {rate} Hz"
        with tempfile.TemporaryDirectory(prefix="prodserver-profile-") as tmp:
            recordings = pyspy.record(
                targets,
                Path(tmp),
                fmt=fmt,
                duration=duration,
                rate=rate,
                native=options["native"],
                nonblocking=options["nonblocking"],
                idle=options["idle"],
                tick=self.progress(what, duration),
            )
            if sys.stderr.isatty():
                self.stderr.write("")
            good = [r for r in recordings if r.ok]
            for r in recordings:
                if not r.ok:
                    self.stderr.write(f"skipped {r.target.label}: {r.problem}")
            if not good:
                raise RuntimeError("no process could be sampled: " + "; ".join(r.problem for r in recordings))
            parts = [(r.target.label, r.path) for r in good]
            stacks: list[merge.Stack] = []
            written: list[Path] = []
            if fmt == "speedscope":
                doc = merge.speedscope(parts, f"prodserver profile {targets[0].name}")
                output.write_text(json.dumps(doc))
                stacks = merge.speedscope_stacks(doc)
                written.append(output)
            elif fmt == "raw":
                text = merge.raw(parts)
                output.write_text(text)
                stacks = merge.raw_stacks(text)
                written.append(output)
            else:
                for r in good:
                    dest = output.with_name(f"{output.stem}-{r.target.pid}{output.suffix or '.svg'}")
                    shutil.copyfile(r.path, dest)
                    written.append(dest)
        for r in good:
            self.stderr.write(f"  {r.target.label}: {r.samples} samples")
        self.summary(stacks, options["top"])
        for path in written:
            self.stdout.write(f"wrote {path}")
        if fmt == "speedscope":
            self.stdout.write("open it at https://www.speedscope.app (the file stays on your machine)")

    def summary(self, stacks: list[Any], top: int) -> None:
        from django_prodserver.profiling import merge

        total, rows = merge.summary(stacks, top)
        if not total:
            return
        self.stdout.write("where the samples were (own: on top of the stack, total: anywhere in it):")
        self.stdout.write(f"  {'own':>6} {'total':>6}  function")
        for fn, inclusive, own in rows:
            self.stdout.write(f"  {own:5.1f}% {inclusive:5.1f}%  {fn}")

    def memory(self, targets: list[Any], output: Path, options: dict[str, Any]) -> None:
        from django_prodserver.profiling import memory

        duration = options["duration"]
        what = f"tracking allocations of {len(targets)} process(es) of {targets[0].name}"
        reports = memory.profile(
            targets,
            duration=duration,
            top=options["top"],
            tick=self.progress(what, duration),
            tracemalloc=bool(options.get("tracemalloc")),
        )
        if sys.stderr.isatty():
            self.stderr.write("")
        lines: list[str] = []
        for rep in reports:
            lines.append(f"=== {rep.target.label} ({rep.tool})")
            lines.extend(rep.lines if rep.ok else [f"    (nothing: {rep.problem})"])
        text = "\n".join(lines) + "\n"
        output.write_text(text)
        self.stdout.write(text, ending="")
        self.stdout.write(f"wrote {output}")
        if not any(r.ok for r in reports):
            raise RuntimeError("no process could be profiled: " + "; ".join(r.problem for r in reports))
