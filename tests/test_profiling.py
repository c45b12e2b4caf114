"""``prodserver dump`` and ``prodserver profile`` against a real gunicorn master and its workers:
the stuck view is in the dump, the CPU-burning view dominates the profile, memray finds the
allocation site; and where nothing can be looked into, the command says why."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from django_prodserver.ops import procfs
from django_prodserver.profiling import merge
from django_prodserver.profiling.access import explain, tool
from django_prodserver.profiling.targets import _prodserver_names
from django_prodserver.testing.plugin import ProcessStarter
from django_prodserver.testing.processes import http_get, project_environ, run_django, wait_for_output

#: A name no other test's process carries (other test runs may share this machine).
NAME = "spyweb"
#: No drain delay (each server stops in a second), no recycling (a worker asked must live on).
WEB = {
    "BACKEND": "gunicorn",
    "OPTIONS": {"workers": 2, "timeout": 60, "graceful_timeout": 1, "drain_delay": 0, "max_requests": 0},
}


def _requests(port: int, path: str, *, count: int, seconds: float, threads: int = 1) -> threading.Event:
    """Send up to ``count`` GETs of ``path`` per thread for at most ``seconds``, in the
    background; the returned event stops them early."""
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        for _ in range(count):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                http_get(port, path, timeout=30)
            except OSError:
                stop.wait(0.1)

    for _ in range(threads):
        threading.Thread(target=loop, daemon=True).start()
    return stop


def _skip_unless_attached(out: str) -> None:
    if "cannot attach" in out or "is not installed" in out:
        pytest.skip(f"py-spy cannot look into processes here: {out.strip().splitlines()[-1]}")


def _web(prodserver_process: ProcessStarter, workers: int = 2, hook: bool = False) -> tuple[int, dict[str, str]]:
    entry = {**WEB, "OPTIONS": {**WEB["OPTIONS"], "workers": workers}}
    # The memory hook's request files go to the temporary directory: the test's own, on both sides.
    tmp = {"TMPDIR": str(prodserver_process.workdir), **({"PRODSERVER_PROFILE_HOOK": "1"} if hook else {})}
    live = prodserver_process(entry, name=NAME, extra_env=tmp)
    assert live.port is not None
    env = project_environ({NAME: entry}, prodserver_process.workdir, extra=tmp)
    return live.port, env


@pytest.mark.live
@pytest.mark.timeout(90)
def test_dump_shows_the_stuck_view_in_a_worker(prodserver_process: ProcessStarter) -> None:
    port, env = _web(prodserver_process)
    stop = _requests(port, "/slow/?seconds=20&say=1", count=1, seconds=25)
    try:
        wait_for_output(prodserver_process.started[0].process, "slow request running", timeout=20)
        done = run_django(env, prodserver_process.workdir, "prodserver", "dump", NAME, timeout=60)
        out = done.stdout + done.stderr
        _skip_unless_attached(out)
        assert done.returncode == 0, out
        assert f"=== {NAME} master" in out and f"=== {NAME} worker" in out, out
        assert out.count(f"=== {NAME} worker") == 2, out
        assert "slow (django_prodserver/testing/project/views.py" in out, out
        assert "prodserver-profile-hook" not in out, out  # the memory hook is off unless asked for
        # --native: C frames too (the sleep is in the interpreter's time module)
        worker = next(p for p in out.split("=== ")[1:] if "slow (" in p).split(":")[0].split()[-1]
        native = run_django(env, prodserver_process.workdir, "prodserver", "dump", "--pid", worker, "--native")
        assert native.returncode == 0, native.stdout + native.stderr
        assert "slow (django_prodserver/testing/project/views.py" in native.stdout, native.stdout
    finally:
        stop.set()


@pytest.mark.live
@pytest.mark.timeout(90)
def test_profile_finds_the_function_that_burns_cpu(prodserver_process: ProcessStarter) -> None:
    port, env = _web(prodserver_process)
    output = prodserver_process.workdir / "web.speedscope.json"
    # Bounded loopback load: two clients, each at most 300 requests or 12 seconds.
    stop = _requests(port, "/burn/?seconds=0.05", count=300, seconds=12, threads=2)
    raw = prodserver_process.workdir / "web.txt"
    try:
        done = run_django(
            env,
            prodserver_process.workdir,
            *("prodserver", "profile", NAME, "--duration", "2", "--rate", "50", "--output", str(output)),
            timeout=60,
        )
        collapsed = run_django(
            env,
            prodserver_process.workdir,
            *("prodserver", "profile", NAME, "--duration", "1", "--format", "raw", "--output", str(raw)),
            timeout=60,
        )
    finally:
        stop.set()
    out = done.stdout + done.stderr
    _skip_unless_attached(out)
    assert done.returncode == 0, out
    assert "sampling 3 processes of spyweb at 50 Hz for 2 s" in out, out
    doc = json.loads(output.read_text())
    names = [p["name"] for p in doc["profiles"]]
    assert any(n.startswith(f"{NAME} worker") for n in names), names
    assert not any("prodserver-profile-hook" in n for n in names), names
    stacks = merge.speedscope_stacks(doc)
    total = sum(count for _, count in stacks)
    burning = sum(count for frames, count in stacks if any(f.startswith("burn_cpu (") for f in frames))
    assert total > 0 and burning / total > 0.5, (burning, total, out)
    # The summary names it first.
    first = out.split("function\n", 1)[1].splitlines()[0]
    assert "burn_cpu (" in first or "<genexpr> (" in first, out
    # raw: collapsed stacks of py-spy, each starting with its process' label
    assert collapsed.returncode == 0, collapsed.stdout + collapsed.stderr
    lines = raw.read_text().splitlines()
    assert lines and all(line.startswith(f"{NAME} ") for line in lines), lines[:3]
    assert any(line.startswith(f"{NAME} worker") and ";burn_cpu (" in line for line in lines), lines[:5]


@pytest.mark.live
@pytest.mark.timeout(90)
def test_memory_profile_names_the_allocation_site(prodserver_process: ProcessStarter) -> None:
    if tool("memray") is None:
        pytest.skip("memray is not installed (the [profile] extra)")
    port, env = _web(prodserver_process, workers=1)
    # One worker, aimed at by --pid: every attach runs gdb, which costs seconds on a busy machine.
    (worker,) = procfs.children(prodserver_process.started[0].pid)
    stop = _requests(port, "/hoard/?kib=256", count=3000, seconds=40, threads=2)
    began = time.monotonic()
    output = prodserver_process.workdir / "memory.txt"
    try:
        done = run_django(
            env,
            prodserver_process.workdir,
            *("prodserver", "profile", "--memory", "--pid", str(worker), "--duration", "2", "--top", "5"),
            *("--output", str(output)),
            timeout=80,
        )
    finally:
        stop.set()
    out = done.stdout + done.stderr
    _skip_unless_attached(out)
    assert done.returncode == 0, out
    assert f"=== {NAME} {worker} (memray)" in out and "top sites by bytes allocated" in out, out
    assert output.read_text().startswith(f"=== {NAME} {worker}"), output.read_text()
    # The view's allocation is the top site of the worker that served it.
    assert "hoard_bytes:" in out.split("\n")[2], (out, time.monotonic() - began)


def test_unknown_and_stopped_names_say_what_there_is(tmp_path: Path) -> None:
    env = project_environ({"web": WEB, "worker": {"BACKEND": "celery-worker", "APP": "x:app"}}, tmp_path)
    unknown = run_django(env, tmp_path, "prodserver", "dump", "nosuch")
    assert unknown.returncode != 0
    assert "'nosuch' is not in PRODUCTION_PROCESSES; configured: web, worker" in unknown.stderr, unknown.stderr
    stopped = run_django(env, tmp_path, "prodserver", "profile", "worker", "--duration", "1")
    assert stopped.returncode != 0
    assert "'worker' is not running on this machine" in stopped.stderr and "running now:" in stopped.stderr
    gone = run_django(env, tmp_path, "prodserver", "dump", "--pid", "999999999")
    assert gone.returncode != 0 and "no process 999999999 is running" in gone.stderr, gone.stderr


def test_errors_are_explained() -> None:
    import os

    assert "is not a Python process" in explain(1, "Error: Failed to find python version from target process")
    assert "has exited" in explain(999999999, "anything")
    said = explain(os.getpid(), "Error: Operation not permitted (os error 1)")
    assert said.startswith(f"cannot attach to pid {os.getpid()}:") and "SYS_PTRACE" in said


def test_process_names_from_a_command_line() -> None:
    assert _prodserver_names(["python", "manage.py", "prodserver", "web", "--skip-checks"]) == ["web"]
    assert _prodserver_names(["python", "-m", "django", "prodserver", "--set", "web.workers=2", "web"]) == ["web"]
    assert _prodserver_names(["python", "manage.py", "prodserver", "dump", "web"]) == ["dump", "web"]
    assert _prodserver_names(["gunicorn", "app:application"]) is None


def test_raw_profiles_merge_with_process_labels(tmp_path: Path) -> None:
    a, b = tmp_path / "1.txt", tmp_path / "2.txt"
    a.write_text("main (a.py:1);work (a.py:5) 30\nmain (a.py:1) 10\n")
    b.write_text("main (b.py:1);burn_cpu (b.py:9) 60\n")
    text = merge.raw([("web master 1", a), ("web worker 2", b)])
    assert text.splitlines()[0] == "web master 1;main (a.py:1);work (a.py:5) 30"
    total, rows = merge.summary(merge.raw_stacks(text))
    assert total == 100 and rows[0] == ("burn_cpu (b.py:9)", 60.0, 60.0)
    assert not any(name.startswith("web ") for name, _, _ in rows), rows  # labels are no functions


def test_speedscope_profiles_merge_with_process_labels(tmp_path: Path) -> None:
    def doc(fn: str) -> dict[str, object]:
        return {
            "shared": {
                "frames": [{"name": "main", "file": "m.py", "line": 1}, {"name": fn, "file": "m.py", "line": 2}]
            },
            "profiles": [{"type": "sampled", "name": "Thread 1", "samples": [[0, 1], [0]], "weights": [3, 1]}],
        }

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(doc("one")))
    b.write_text(json.dumps(doc("two")))
    merged = merge.speedscope([("web master 1", a), ("web worker 2", b)], "t")
    assert [p["name"] for p in merged["profiles"]] == ["web master 1: Thread 1", "web worker 2: Thread 1"]
    assert merged["profiles"][1]["samples"] == [[2, 3], [2]]
    assert ("main (m.py:1)", "two (m.py:2)") in [s for s, _ in merge.speedscope_stacks(merged)]


def test_kubernetes_grants_ptrace_only_in_the_debug_overlay(tmp_path: Path) -> None:
    env = project_environ({"web": WEB}, tmp_path)
    plain = run_django(
        env, tmp_path, "prodserver", "export", "kubernetes", "--name", "shop", "--output", str(tmp_path / "plain")
    )
    assert plain.returncode == 0, plain.stderr
    out = tmp_path / "k8s"
    debug = run_django(
        env, tmp_path, "prodserver", "export", "kubernetes", "--name", "shop", "--profiling", "--output", str(out)
    )
    assert debug.returncode == 0, debug.stderr
    base = sorted(p.name for p in out.glob("*.yaml"))
    assert base == sorted(p.name for p in (tmp_path / "plain").glob("*.yaml"))
    assert not any("SYS_PTRACE" in p.read_text() for p in [*out.glob("*.yaml"), *(tmp_path / "plain").rglob("*")])
    patch = (out / "debug" / "web.profiling.yaml").read_text()
    assert "SYS_PTRACE" in patch and "name: web" in patch, patch
    assert "--profile=sysadmin" in debug.stderr and "--patch-file" in debug.stderr, debug.stderr
    refused = run_django(env, tmp_path, "prodserver", "export", "compose", "--profiling")
    assert refused.returncode != 0 and "--profiling goes with kubernetes only" in refused.stderr


@pytest.mark.live
@pytest.mark.timeout(90)
def test_tracemalloc_hook_answers_without_ptrace(prodserver_process: ProcessStarter) -> None:
    port, env = _web(prodserver_process, workers=1, hook=True)
    stop = _requests(port, "/hoard/?kib=256", count=3000, seconds=30, threads=1)
    try:
        done = run_django(
            env,
            prodserver_process.workdir,
            *("prodserver", "profile", "--memory", "--tracemalloc", NAME, "--duration", "2", "--top", "3"),
            "--output",
            str(prodserver_process.workdir / "memory.txt"),
            timeout=60,
        )
    finally:
        stop.set()
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    worker = next(part for part in out.split("=== ")[1:] if " worker " in part.splitlines()[0])
    assert "(tracemalloc)" in worker and "top sites by growth of live memory" in worker, out
    assert "django_prodserver/testing/project/views.py" in worker.splitlines()[2], out


@pytest.mark.live
@pytest.mark.timeout(60)
def test_a_process_without_the_hook_is_said_so_at_once(prodserver_process: ProcessStarter) -> None:
    import sys

    from django_prodserver.testing.processes import start

    workdir = prodserver_process.workdir
    other = prodserver_process.adopt(
        start([sys.executable, "-c", "import time; time.sleep(60)"], {}, workdir, workdir / "other.log")
    )
    env = project_environ({NAME: WEB}, workdir, extra={"TMPDIR": str(workdir)})
    began = time.monotonic()
    done = run_django(env, workdir, "prodserver", "profile", "--memory", "--tracemalloc", "--pid", str(other.pid))
    assert done.returncode != 0 and f"no answer from pid {other.pid}" in done.stderr, done.stderr
    assert time.monotonic() - began < 30, "waited for a hook that is not there"


@pytest.mark.live
@pytest.mark.timeout(60)
def test_without_py_spy_it_says_what_to_install(prodserver_process: ProcessStarter, tmp_path: Path) -> None:
    """The same virtualenv seen through an interpreter with no py-spy beside it or on PATH (a
    project that installed prodserver without the ``[profile]`` extra): dump says what to type."""
    import os
    import sys

    venv = Path(sys.prefix)
    bare = tmp_path / "bare"
    (bare / "bin").mkdir(parents=True)
    (bare / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    (bare / "lib").symlink_to(venv / "lib")
    (bare / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text())
    _, env = _web(prodserver_process, workers=1)
    env = {**env, "PATH": os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and not tool_in(p))}
    import subprocess

    argv = [str(bare / "bin" / "python"), "-m", "django", "prodserver", "dump", NAME]
    done = subprocess.run(argv, env=env, cwd=prodserver_process.workdir, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout
    assert 'py-spy is not installed in this environment: pip install "django-prodserver[profile]"' in done.stderr


def tool_in(directory: str) -> bool:
    return Path(directory, "py-spy").exists()
