"""The export model and renderers, pure: YAML that parses back, secrets never written, and the
timing chain (stop budget < platform kill timeout, with a margin) for every installed backend."""

from __future__ import annotations

import importlib.util
import signal
import sys
from typing import Any

import pytest
from django.test import override_settings

from django_prodserver.backends.loading import plan_process
from django_prodserver.backends.registry import installed_backends
from django_prodserver.errors import ConfigError
from django_prodserver.export import compose, kubernetes, procfile, systemd, yaml
from django_prodserver.export.model import KILL_MARGIN, ExportModel, export_process, is_secret, order
from django_prodserver.settings import envfile
from django_prodserver.settings.config import load_process
from django_prodserver.settings.restart import parse_policy
from django_prodserver.testing.helpers import project_context

#: What some backends need in settings before they plan (the contract suites set the same).
BACKEND_SETTINGS: dict[str, Any] = {
    "DRAMATIQ_BROKER": {"BROKER": "dramatiq.brokers.redis.RedisBroker", "OPTIONS": {"url": "redis://127.0.0.1:6379/0"}},
    "RQ_QUEUES": {"default": {"URL": "redis://127.0.0.1:6379/0"}},
    "HUEY": {
        "huey_class": "huey.RedisHuey",
        "name": "proj",
        "immediate": False,
        "connection": {"url": "redis://127.0.0.1:6379/0"},
    },
    # "tasks" plans the worker of TASKS' backend (Django's default, immediate, has none).
    "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
}
#: Apps some backends require; only those installed (the core-only matrix has none of them).
EXTRA_APPS = [a for a in ("daphne", "django_rq", "django_extensions") if importlib.util.find_spec(a)]
EXTRA_APPS += ["huey.contrib.djhuey"] if importlib.util.find_spec("huey") else []


def entry_for(name: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"BACKEND": name, **extra}
    if name.startswith("celery") or name == "flower":
        entry["APP"] = "proj.celery:app"
    if name == "command":
        entry["ARGS"] = ["migrate", "--noinput"]
    return entry


def model_of(*procs: Any, **changes: Any) -> ExportModel:
    values: dict[str, Any] = {
        "project": "proj",
        "cwd": "/srv/app",
        "python": "/srv/venv/bin/python",
        "manage": "/srv/app/manage.py",
        "settings_module": "proj.settings",
        "processes": order(procs),
        "image": "registry.example/proj:1.2",
    }
    values.update(changes)
    return ExportModel(**values)


def exported(name: str, entry: dict[str, Any], replicas: int = 1) -> Any:
    config = load_process(name, entry)
    backend, plan = plan_process(config, project_context())
    return export_process(plan, parse_policy(name, entry, backend.kind), config.env, frozenset(), replicas)


@pytest.mark.parametrize(
    "value",
    ["yes", "No", "on", "null", "~", "8000:8000", "1", "1.5", "", "a: b", "-c", "${X:?}", "é ü", "#x", "*a", "'q'"],
)
def test_yaml_scalars_read_back_as_the_same_string(value: str) -> None:
    ruamel = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (TEST_DEPS)")
    doc = {"k": value, value or "empty": [value, {"n": value}], "nested": {"list": [{"a": 1, "b": [value]}]}}
    loaded = ruamel.YAML(typ="safe").load(yaml.dump(doc))
    assert loaded == doc


def test_yaml_keeps_numbers_booleans_and_empty_containers() -> None:
    ruamel = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (TEST_DEPS)")
    doc = {"i": 3, "f": 2.5, "t": True, "n": None, "d": {}, "l": [], "ll": [[1, 2], ["x"]]}
    assert ruamel.YAML(typ="safe").load(yaml.dump(doc)) == doc


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("API_TOKEN", "abc", True),
        ("DJANGO_SECRET_KEY", "abc", True),
        ("DB_PASSWORD", "abc", True),
        ("STRIPE_KEY", "abc", True),
        ("DATABASE_URL", "postgres://app:pw@db/app", True),
        ("DATABASE_URL", "postgres://db/app", False),
        ("DJANGO_LOG_LEVEL", "info", False),
    ],
)
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert is_secret(name, value) is secret


def installed_production_backends() -> list[str]:
    return sorted(n for n, b in installed_backends().items())


@pytest.mark.parametrize("name", installed_production_backends())
@pytest.mark.parametrize("options", [{}, {"graceful_timeout": 50, "drain_delay": 5}])
def test_timing_chain_for_every_installed_backend(name: str, options: dict[str, Any]) -> None:
    """Stop budget (drain + graceful) < every platform's kill timeout, by KILL_MARGIN at least,
    and each format writes the backend's own stop signal and that timeout."""
    with override_settings(**BACKEND_SETTINGS):
        backend_cls = installed_backends()[name].load()
        declared = {o.name for o in backend_cls.options}
        opts = {k: v for k, v in options.items() if k in declared}
        try:
            with override_settings(INSTALLED_APPS=[*EXTRA_APPS, "django.contrib.contenttypes", "django_prodserver"]):
                proc = exported("p", entry_for(name, OPTIONS=opts))
        except ConfigError as e:
            pytest.fail(f"{name} does not plan with its documented settings: {e.message}")
    config = load_process("p", entry_for(name, OPTIONS=opts))
    drain = float(opts.get("drain_delay", 2.0 if "drain_delay" in declared else 0.0))
    graceful = float(opts.get("graceful_timeout", 25.0 if "graceful_timeout" in declared else 0.0))
    assert proc.drain_delay == drain
    assert proc.stop_budget >= drain + graceful, (name, proc)
    assert proc.kill_timeout >= proc.stop_budget + KILL_MARGIN, (name, proc)
    assert config.name == proc.name
    model = model_of(proc)
    unit = dict(systemd.render(model))[f"proj-{proc.slug}.service"]
    assert f"TimeoutStopSec={proc.kill_timeout}\n" in unit
    assert f"KillSignal={proc.stop_signal}\n" in unit and "KillMode=mixed\n" in unit
    svc = compose.document(model)["services"][proc.slug]
    assert svc["stop_grace_period"] == f"{proc.kill_timeout}s" and svc["stop_signal"] == proc.stop_signal
    pods = [d["spec"]["template"]["spec"] for _, d in kubernetes.documents(model) if d["kind"] in ("Job", "Deployment")]
    assert [p["terminationGracePeriodSeconds"] for p in pods] == [proc.kill_timeout]
    assert signal.Signals[proc.stop_signal]


def test_switching_backend_never_changes_an_exported_command() -> None:
    """Every web backend installed: the Procfile is byte-identical, and so is each format's command."""
    webs = sorted(n for n, b in installed_backends().items() if b.load().kind == "web")
    seen = set()
    for name in webs:
        model = model_of(exported("web", entry_for(name)))
        unit = dict(systemd.render(model))["proj-web.service"]
        seen.add(
            (
                procfile.render(model)[0][1],
                next(line for line in unit.splitlines() if line.startswith("ExecStart=")),
                tuple(compose.document(model)["services"]["web"]["command"]),
                tuple(kubernetes.container(model, model.processes[0])["command"]),
            )
        )
    assert webs and len(seen) == 1, seen


def test_defaults_fit_kubernetes_default_grace_period() -> None:
    """drain 2 s + graceful 25 s + margin 3 s = 30 s, Kubernetes' own default: nothing to change."""
    proc = exported("web", entry_for("gunicorn"))
    assert (proc.drain_delay, proc.stop_budget, proc.kill_timeout) == (2.0, 27.0, 30)


def test_secrets_become_references_and_their_values_appear_nowhere() -> None:
    env = {"API_TOKEN": "tok-abcdef-123", "CACHE_URL": "redis://:pw-xyz-987@cache:6379/0", "LEVEL": "info"}
    proc = exported("web", entry_for("gunicorn", ENV=env))
    assert proc.secret_env == ("API_TOKEN", "CACHE_URL") and proc.env == (("LEVEL", "info"),)
    model = model_of(proc)
    texts = [t for r in (procfile, systemd, compose, kubernetes) for _, t in r.render(model)]
    for text in texts:
        assert "tok-abcdef-123" not in text and "pw-xyz-987" not in text
    container = kubernetes.container(model, proc)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs == {k: {"name": "proj-secrets", "key": k} for k in ("API_TOKEN", "CACHE_URL")}
    assert {"name": "LEVEL", "value": "info"} in container["env"]
    assert kubernetes.secret_commands(model) == [
        'kubectl create secret generic proj-secrets --from-literal=API_TOKEN="$API_TOKEN" '
        '--from-literal=CACHE_URL="$CACHE_URL"'
    ]
    assert compose.document(model)["services"]["web"]["environment"]["API_TOKEN"].startswith("${API_TOKEN:?")


def test_variables_of_the_env_file_are_referenced_not_copied() -> None:
    config = load_process("web", entry_for("gunicorn", ENV={"LEVEL": "info", "API_TOKEN": "x"}))
    _, plan = plan_process(config, project_context())
    proc = export_process(plan, parse_policy("web", {}, "web"), config.env, frozenset({"LEVEL", "API_TOKEN"}), 1)
    assert proc.env == () and proc.secret_env == ()
    model = model_of(proc, env_files=("/etc/proj.env",), env_file_keys=frozenset({"LEVEL", "API_TOKEN"}))
    assert "EnvironmentFile=/etc/proj.env\n" in dict(systemd.render(model))["proj-web.service"]
    assert compose.document(model)["services"]["web"]["env_file"] == ["/etc/proj.env"]
    assert kubernetes.container(model, proc)["envFrom"] == [{"secretRef": {"name": "proj-env"}}]


def test_release_steps_run_first_on_every_platform() -> None:
    migrate = exported("migrate", entry_for("command"))
    static = exported("static", {"BACKEND": "command", "ARGS": ["check"], "ONESHOT": True})
    web = exported("web", entry_for("gunicorn"), replicas=3)
    model = model_of(web, migrate, static)
    assert [p.name for p in model.processes] == ["migrate", "static", "web"]
    (_, text), *_ = procfile.render(model)
    assert text.splitlines()[0] == "release: python manage.py prodserver migrate static"
    units = dict(systemd.render(model))
    assert "Requires=proj-migrate.service proj-static.service\n" in units["proj-web.service"]
    assert "Type=oneshot\nRemainAfterExit=yes\n" in units["proj-migrate.service"]
    assert "After=network-online.target proj-migrate.service\n" in units["proj-static.service"]
    services = compose.document(model)["services"]
    assert services["web"]["depends_on"] == {
        n: {"condition": "service_completed_successfully"} for n in ("migrate", "static")
    }
    assert services["web"]["deploy"] == {"replicas": 3} and services["migrate"]["restart"] == "no"
    kinds = [(d["kind"], d["metadata"]["name"]) for _, d in kubernetes.documents(model)]
    job = kubernetes.job_name(model, migrate)
    assert kinds[:2] == [("Job", job), ("Job", kubernetes.job_name(model, static))]
    assert ("Deployment", "proj-web") in kinds and ("Service", "proj-web") in kinds
    assert job != kubernetes.job_name(model_of(web, migrate, image="registry.example/proj:1.3"), migrate)


def test_two_web_services_on_one_port_do_not_fight_for_the_host_port() -> None:
    web = exported("web", entry_for("gunicorn"))
    api = exported("api", entry_for("gunicorn"))
    services = compose.document(model_of(web, api))["services"]
    assert (services["web"]["ports"], services["api"]["ports"]) == (["8000:8000"], ["8000"])


def test_env_file_is_loaded_with_the_real_environment_winning(tmp_path: Any) -> None:
    pytest.importorskip("dotenv", reason="python-dotenv is core's [dotenv] extra")
    path = tmp_path / ".env"
    path.write_text('A=from-file\nB="quoted # not a comment"\nexport C=3\n')
    env = {"A": "real", envfile.ENV_VAR: str(path)}
    assert envfile.load_env_file(environ=env, argv=[]) == ["B", "C"]
    assert (env["A"], env["B"], env["C"]) == ("real", "quoted # not a comment", "3")
    assert envfile.load_env_file(environ={}, argv=[]) == []
    other = tmp_path / "other.env"
    other.write_text("A=other\n")
    for argv in (["prodserver", "export", "systemd", "--env-file", str(other)], [f"--env-file={other}"]):
        env = {envfile.ENV_VAR: str(path)}
        assert envfile.load_env_file(environ=env, argv=argv) == ["A"] and env["A"] == "other"
    assert envfile.env_file_argument(["web", "--", "--env-file", "x"]) is None


def test_env_file_errors_say_what_to_type(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        envfile.load_env_file(str(tmp_path / "missing.env"), environ={}, argv=[])
    monkeypatch.setitem(sys.modules, "dotenv", None)
    with pytest.raises(ConfigError, match=r'pip install "django-prodserver-core\[dotenv\]"'):
        envfile.load_env_file(environ={envfile.ENV_VAR: str(tmp_path / "x.env")}, argv=[])


def test_systemd_services_notify_reload_and_hold_their_socket() -> None:
    """Type=notify (READY once serving), ExecReload to the supervisor's SIGHUP, WatchdogSec= and
    a .socket unit for the web address on request; one-shots and workers get no socket."""
    web = exported("web", entry_for("gunicorn", OPTIONS={"host": "127.0.0.1", "port": 8123}))
    worker = exported("worker", entry_for("command", ARGS=["check"], ONESHOT=False))
    migrate = exported("migrate", entry_for("command"))
    assert web.listen == "127.0.0.1:8123" and worker.listen == ""
    plain = dict(systemd.render(model_of(web, worker, migrate)))
    assert "Type=notify\nNotifyAccess=main\n" in plain["proj-web.service"]
    assert "ExecReload=/bin/kill -HUP $MAINPID\n" in plain["proj-web.service"]
    assert "WatchdogSec" not in plain["proj-web.service"] and "proj-web.socket" not in plain
    assert "ExecReload" not in plain["proj-migrate.service"] and "Type=oneshot\n" in plain["proj-migrate.service"]
    units = dict(systemd.render(model_of(web, worker, migrate, watchdog=30.0, sockets=True)))
    assert "WatchdogSec=30\n" in units["proj-web.service"] and "WatchdogSec=30\n" in units["proj-worker.service"]
    assert "Requires=proj-migrate.service proj-web.socket\n" in units["proj-web.service"]
    assert "ListenStream=127.0.0.1:8123\nService=proj-web.service\n" in units["proj-web.socket"]
    assert "proj-worker.socket" not in units
    assert "Wants=proj-web.socket proj-migrate.service" in units["proj.target"]
