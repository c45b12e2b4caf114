"""What each platform changes about a process: the bind of published processes, health checks
over HTTP, one-shots that cannot reach the others, resource names, several env files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_prodserver.backends.registry import installed_backends

#: The line of docs/deploying.md's Dockerfile that the refusal shows.
DOCKERFILE_COLLECTSTATIC = "RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput"

needs_flower = pytest.mark.skipif("flower" not in installed_backends(), reason="django-prodserver-flower is missing")

MIGRATE = {"BACKEND": "command", "ARGS": ["migrate", "--noinput"]}
STATIC = {"BACKEND": "command", "ARGS": ["collectstatic", "--noinput"]}
WEB = {"BACKEND": "gunicorn"}
#: The test project without django.contrib.staticfiles has no collectstatic command.
STATIC_APPS = {
    "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.staticfiles", "django_prodserver"],
    "STATIC_URL": "/static/",
}
FLOWER = {"BACKEND": "flower", "APP": "django_prodserver.testing.project.tasks:app"}


@pytest.fixture(autouse=True)
def _no_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("PORT", "WEB_CONCURRENCY", "PRODSERVER_OPS_PORT", "PRODSERVER_OPS_HOST", "PRODSERVER_ENV_FILE"):
        monkeypatch.delenv(key, raising=False)


def export(processes: dict[str, Any], *args: str, **settings: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    named = args if any(a.startswith("--name") for a in args) else (*args, "--name", "shop")
    with override_settings(PRODUCTION_PROCESSES=processes, **settings):
        call_command("prodserver", "export", *named, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def load(text: str) -> list[Any]:
    ruamel = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (TEST_DEPS)")
    return list(ruamel.YAML(typ="safe").load_all(text))


# -- 1. collectstatic and the health check ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["compose", "kubernetes", "procfile"])
def test_a_collectstatic_one_shot_is_refused_where_it_runs_apart(fmt: str) -> None:
    with pytest.raises(CommandError) as caught:
        export({"migrate": MIGRATE, "static": STATIC, "web": WEB}, fmt, **STATIC_APPS)
    message = str(caught.value)
    assert message.startswith("PRODUCTION_PROCESSES['static']: runs collectstatic as a one-shot")
    assert "never reach the web process" in message and "every page answers 500" in message
    assert DOCKERFILE_COLLECTSTATIC in message
    assert f"python manage.py prodserver export {fmt} migrate web" in message


def test_collectstatic_stays_a_one_shot_where_it_shares_the_disk_or_uploads() -> None:
    procs = {"static": STATIC, "web": WEB}
    units, _ = export(procs, "systemd", **STATIC_APPS)  # the same host: STATIC_ROOT is the web unit's too
    assert "shop-static.service" in units
    remote = {"staticfiles": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    text, _ = export(procs, "compose", STORAGES={"default": remote["staticfiles"], **remote}, **STATIC_APPS)
    assert "static:" in text  # a remote storage: the one-shot uploads where every container reads


def test_the_web_health_check_asks_readiness_over_http_not_a_tcp_connect() -> None:
    compose, err = export({"migrate": MIGRATE, "web": WEB}, "compose")
    (doc,) = load(compose)
    web = doc["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "manage.py", "prodserver", "probe", "--ready", "web"]
    assert web["environment"]["PRODSERVER_OPS_PORT"] == "9191" and "socket" not in compose
    assert "PRODSERVER_OPS_PORT" not in doc["services"]["migrate"]["environment"]
    assert "PRODSERVER_OPS_PORT=9191" in err and "/readyz/web: a real request through the app" in err
    manifests, err = export({"web": WEB}, "kubernetes")
    container = next(d for d in load(manifests) if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    (c,) = container["containers"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz/web", "port": "ops"}
    assert "tcpSocket" not in manifests and {"name": "PRODSERVER_OPS_HOST", "value": "0.0.0.0"} in c["env"]


def test_the_ops_port_the_export_picks_is_not_a_published_one() -> None:
    compose, _ = export({"web": {**WEB, "OPTIONS": {"port": 9191}}}, "compose")
    (doc,) = load(compose)
    assert doc["services"]["web"]["environment"]["PRODSERVER_OPS_PORT"] == "9192"


# -- 2. Procfile under honcho ----------------------------------------------------------------------


def test_procfile_keeps_release_and_its_hint_runs_the_release_once_then_the_rest(tmp_path: Path) -> None:
    _, err = export({"migrate": MIGRATE, "web": WEB, "api": WEB}, "procfile", "--output", str(tmp_path))
    assert (tmp_path / "Procfile").read_text().splitlines()[0] == "release: python manage.py prodserver migrate"
    procfile = tmp_path / "Procfile"
    assert f"  honcho -f {procfile} run python manage.py prodserver migrate\n" in err
    assert f"  honcho -f {procfile} start web api\n" in err
    assert "\n  honcho start\n" not in err


def test_procfile_warns_when_port_in_options_defeats_the_platforms_port() -> None:
    _, err = export({"web": {**WEB, "OPTIONS": {"port": 8001}}}, "procfile")
    assert "warning: PRODUCTION_PROCESSES['web']['OPTIONS']['port'] is 8001: it wins over the platform's $PORT" in err
    assert "Fix: remove 'port'" in err
    _, plain = export({"web": WEB}, "procfile")
    assert "warning" not in plain


# -- 3. published monitors bind every interface ---------------------------------------------------


@needs_flower
@pytest.mark.parametrize("fmt", ["compose", "kubernetes"])
def test_flower_is_bound_to_every_interface_of_its_container(fmt: str) -> None:
    text, err = export({"web": WEB, "flower": FLOWER}, fmt)
    docs = load(text)
    if fmt == "compose":
        flower = docs[0]["services"]["flower"]
        command, env = flower["command"], flower["environment"]
        assert flower["ports"] == ["5555:5555"] and "PORT" not in env
    else:
        pod = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "shop-flower")
        (c,) = pod["spec"]["template"]["spec"]["containers"]
        command, env = c["command"], {e["name"]: e for e in c["env"]}
        assert {"name": "http", "containerPort": 5555, "protocol": "TCP"} in c["ports"] and "PORT" not in env
    assert command == ["python", "manage.py", "prodserver", "flower", "--set", "host=0.0.0.0"]
    out = io.StringIO()
    with override_settings(PRODUCTION_PROCESSES={"web": WEB, "flower": FLOWER}):
        call_command("prodserver", *command[3:], "--dry-run", stdout=out)  # the exported command, planned
    assert "--address=0.0.0.0 --port=5555" in out.getvalue()
    assert "'flower' (flower) binds 127.0.0.1 by default and does not take its address from PORT" in err
    assert "warning: 'flower': flower listens on 0.0.0.0 without authentication" in err
    assert "remove 'host'" not in err


@needs_flower
def test_flower_with_auth_is_opened_without_the_auth_warning() -> None:
    flower = {**FLOWER, "ENV": {"FLOWER_BASIC_AUTH": "ops:pw-flower-1"}}
    text, err = export({"flower": flower}, "compose")
    assert "--set" in text and "without authentication" not in err and "pw-flower-1" not in text + err


@pytest.mark.parametrize("fmt", ["compose", "kubernetes"])
@pytest.mark.parametrize(
    "entry", [{**WEB, "OPTIONS": {"host": "127.0.0.1"}}, {**FLOWER, "OPTIONS": {"host": "127.0.0.1"}}]
)
def test_a_pinned_loopback_host_is_refused_in_containers_with_the_fix(fmt: str, entry: dict[str, Any]) -> None:
    if entry["BACKEND"] not in installed_backends():
        pytest.skip(f"{entry['BACKEND']} is not installed")
    with pytest.raises(CommandError) as caught:
        export({"p": entry}, fmt)
    assert str(caught.value) == (
        f"PRODUCTION_PROCESSES['p']['OPTIONS']['host']: '127.0.0.1' binds one interface: inside a {fmt} container "
        f"nothing outside reaches it, though the export publishes port {5555 if 'APP' in entry else 8000} (health "
        "checks inside the container would still pass). Fix: remove 'host' (the export then binds every interface "
        "of the container) or write '0.0.0.0'."
    )
    export({"p": entry}, "systemd")  # the same host: loopback is reachable there


@needs_flower
def test_procfile_says_flower_does_not_read_port() -> None:
    _, err = export({"web": WEB, "flower": FLOWER}, "procfile")
    assert "warning: 'flower' (flower) does not read $PORT: it listens on 127.0.0.1:5555" in err
    assert "'web'" not in err.split("warning:", 1)[1]


# -- 4. names and env files -----------------------------------------------------------------------


def test_the_project_name_is_the_directory_of_manage_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "Acme_Shop"
    project.mkdir()
    (project / "manage.py").write_text("")
    monkeypatch.chdir(project)
    out = io.StringIO()
    err = io.StringIO()
    with override_settings(PRODUCTION_PROCESSES={"web": WEB}):
        call_command("prodserver", "export", "kubernetes", stdout=out, stderr=err)
    assert "name: acme-shop-web" in out.getvalue() and "name: django-prodserver" not in out.getvalue()
    assert f"note: project name 'acme-shop' (the directory of manage.py, {project}" in err.getvalue()
    monkeypatch.chdir(tmp_path)
    with override_settings(PRODUCTION_PROCESSES={"web": WEB}):
        with pytest.raises(CommandError, match=r"no manage.py in .*Give it: --name NAME"):
            call_command("prodserver", "export", "compose", stdout=out, stderr=err)


@pytest.mark.parametrize("name", ["Shop", "-shop", "shop_1", "a" * 31, ""])
def test_a_name_platforms_refuse_is_refused_with_one_they_take(name: str) -> None:
    with pytest.raises(CommandError, match=r"--name .*: use 1-30 lowercase letters, digits and '-'"):
        export({"web": WEB}, "compose", f"--name={name}")


def test_several_env_files_are_all_referenced_the_later_winning(tmp_path: Path) -> None:
    pytest.importorskip("dotenv", reason="python-dotenv is core's [dotenv] extra")
    django_env, pg_env = tmp_path / ".django", tmp_path / ".postgres"
    django_env.write_text("SHOP_A=django\nSHOP_ONLY_DJANGO=1\n")
    pg_env.write_text("SHOP_A=postgres\nPOSTGRES_PASSWORD=pg-secret-44\n")
    files = ["--env-file", str(django_env), "--env-file", str(pg_env)]
    try:
        compose, _ = export({"web": WEB}, "compose", "--output", str(tmp_path / "c"), *files)
        import os

        assert os.environ["SHOP_A"] == "postgres"  # the later file wins, as on every platform
    finally:
        for key in ("SHOP_A", "SHOP_ONLY_DJANGO", "POSTGRES_PASSWORD"):
            os.environ.pop(key, None)
    (doc,) = load((tmp_path / "c" / "compose.yaml").read_text())
    assert doc["services"]["web"]["env_file"] == ["../.django", "../.postgres"]
    units, _ = export({"web": WEB}, "systemd", *files)
    assert f"EnvironmentFile={django_env}\nEnvironmentFile={pg_env}\n" in units
    manifests, err = export({"web": WEB}, "kubernetes", *files)
    (c,) = next(d for d in load(manifests) if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"]
    assert c["envFrom"] == [{"secretRef": {"name": "shop-env-django"}}, {"secretRef": {"name": "shop-env-postgres"}}]
    assert f"kubectl create secret generic shop-env-postgres --from-env-file={pg_env}" in err
    assert "pg-secret-44" not in compose + units + manifests + err


def test_manage_py_loads_every_env_file_of_the_command_line(tmp_path: Path) -> None:
    """What manage.py's ``load_env_file()`` does before settings: every file, the later winning
    over the earlier, the real environment over both; ``PRODSERVER_ENV_FILE`` takes several too."""
    pytest.importorskip("dotenv", reason="python-dotenv is core's [dotenv] extra")
    from django_prodserver.settings import envfile

    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("A=first\nB=first\nC=first\n")
    second.write_text("A=second\nB=second\n")
    env = {"C": "real"}
    argv = ["prodserver", "export", "compose", "--env-file", str(first), f"--env-file={second}"]
    assert sorted(envfile.load_env_file(environ=env, argv=argv)) == ["A", "B"]
    assert env == {"A": "second", "B": "second", "C": "real"}
    env = {envfile.ENV_VAR: f"{first}:{second}"}
    envfile.load_env_file(environ=env, argv=[])
    assert (env["A"], env["C"]) == ("second", "first")
