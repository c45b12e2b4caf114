"""PRODSERVER_PROFILE_REQUESTS on real servers: one WSGI (gunicorn), one ASGI (uvicorn).

A real request with the token gets a profile naming the view; a request without it, or with a
wrong one, gets the app's normal response and no profile is written; an empty token refuses to
start, naming the key."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from django_prodserver.testing.processes import http_get, prodserver_argv, project_environ

#: Starts real servers: excluded from `python3 dev.py test --fast`.
pytestmark = pytest.mark.live

TOKEN = "t0ken-for-the-profile-tests-0123456789"
HEADER = "X-Prodserver-Profile"


def _normal(resp: object) -> None:
    assert resp.status == 200, resp.body[:500]  # type: ignore[attr-defined]
    assert resp.json()["ok"] is True  # type: ignore[attr-defined]
    assert "x-prodserver-profile-file" not in resp.headers  # type: ignore[attr-defined]


@pytest.mark.timeout(90)
def test_gunicorn_answers_with_the_profile_of_a_request_with_the_token(prodserver_process, tmp_path: Path) -> None:
    live = prodserver_process(
        "gunicorn",
        {"workers": 1},
        settings={"PRODSERVER_PROFILE_REQUESTS": True},
        extra_env={"PRODSERVER_PROFILE_TOKEN": TOKEN},
    )
    path = "/slow/?seconds=0.05"
    _normal(http_get(live.port, path))
    _normal(http_get(live.port, path, headers={HEADER: TOKEN[:-1] + "X"}))
    _normal(http_get(live.port, path, headers={HEADER: ""}))

    resp = http_get(live.port, path, headers={HEADER: TOKEN})
    assert resp.status == 200
    assert resp.headers["x-prodserver-profile-status"] == "200 OK"
    assert resp.headers["content-type"].startswith("text/html"), resp.headers  # pyinstrument's report
    text = resp.body.decode()
    # pyinstrument's frames are "function\u0000file\u0000line": the view function is in it.
    assert "pyinstrument" in text and '"slow\\u0000' in text and "project/views.py" in text, text[-2000:]
    assert TOKEN not in live.output()


@pytest.mark.timeout(90)
def test_uvicorn_stores_the_profile_and_answers_normally(prodserver_process, tmp_path: Path) -> None:
    store = tmp_path / "profiles"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    live = prodserver_process(
        "uvicorn",
        {"interface": "asgi", "workers": 1},
        settings={"PRODSERVER_PROFILE_REQUESTS": {"TOKEN_FILE": str(token_file), "DIR": str(store)}},
    )
    path = "/block/?seconds=0.05"
    _normal(http_get(live.port, path))
    _normal(http_get(live.port, path, headers={HEADER: "wrong-" + TOKEN}))
    assert list(store.iterdir()) == []

    resp = http_get(live.port, path, headers={HEADER: TOKEN})
    assert resp.status == 200 and resp.json()["blocked"] == 0.05  # the app's own response
    name = resp.headers["x-prodserver-profile-file"]
    assert [p.name for p in store.iterdir()] == [name]
    stored = store / name
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert name.endswith(".html") and '"block\\u0000' in stored.read_text()


@pytest.mark.timeout(60)
def test_an_empty_token_refuses_to_start_naming_the_key(tmp_path: Path) -> None:
    env = project_environ(
        {"web": {"BACKEND": "gunicorn", "OPTIONS": {"host": "127.0.0.1", "port": 1}}},
        tmp_path,
        settings={"PRODSERVER_PROFILE_REQUESTS": {"TOKEN_ENV": "MY_PROFILE_TOKEN"}},
        extra={"MY_PROFILE_TOKEN": ""},
    )
    argv = prodserver_argv("web")
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "MY_PROFILE_TOKEN" in done.stderr and "PRODSERVER_PROFILE_REQUESTS['TOKEN_ENV']" in done.stderr, done.stderr


def test_profiles_are_speedscope_json_without_pyinstrument(tmp_path: Path) -> None:
    """The cProfile fallback, in a Python where pyinstrument cannot be imported."""
    code = (
        "import sys; sys.modules['pyinstrument'] = None\n"
        "from django_prodserver.served._profilers import session_factory\n"
        "s = session_factory('wsgi')()\n"
        "def known_view():\n"
        "    return sum(i * i for i in range(20000))\n"
        "s.start(); known_view(); s.stop()\n"
        "sys.stdout.buffer.write(s.render('GET /'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=30, env=dict(os.environ)
    )
    doc = json.loads(out.stdout)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = [f["name"] for f in doc["shared"]["frames"]]
    assert any(n.startswith("known_view ") for n in names), names
    profile = doc["profiles"][0]
    assert len(profile["samples"]) == len(profile["weights"]) > 0
