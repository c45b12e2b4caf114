"""log_format: option resolution, what a JSON plan hands the child, the formatter's schema,
the stray-output wrapper, request ids, and the docs table (no processes started here)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from django_prodserver.logs import SERVER_LOGGING_FILE, schema
from django_prodserver.logs.formatter import JsonFormatter, timestamp
from django_prodserver.logs.requestid import RequestIdFilter, accept, request_id
from django_prodserver.logs.setup import server_dictconfig
from django_prodserver.logs.streams import JsonLines
from django_prodserver.settings.config import ProcessConfig
from django_prodserver.testing.helpers import project_context
from django_prodserver_gunicorn import GunicornBackend

DOCS = Path(__file__).resolve().parents[3] / "docs" / "logging.md"


def plan(options: dict[str, Any], **ctx: Any) -> Any:
    config = ProcessConfig(name="web", backend="gunicorn", options=options)
    return GunicornBackend(config).plan(project_context(**ctx))


def test_text_is_the_default_and_changes_nothing() -> None:
    text = plan({})
    assert text.options["log_format"] == "text"
    assert "PRODSERVER_LOG_FORMAT" not in text.env and "PRODSERVER_APP_LAYERS" not in text.env
    assert "--access-logfile" in text.args and "--logger-class" not in text.args


def test_json_plan_hands_the_child_format_process_and_layers() -> None:
    p = plan({"log_format": "json"})
    assert p.env["PRODSERVER_LOG_FORMAT"] == "json" and p.env["PRODSERVER_PROCESS"] == "web"
    assert p.env["PRODSERVER_APP_LAYERS"] == (
        "django_prodserver.logs.access:access_layer,django_prodserver.logs.requestid:request_id_layer"
    )
    assert p.args[0] == "django_prodserver.served.wsgi:application"
    assert "--access-logfile" not in p.args  # the layer writes the access line
    assert "django_prodserver_gunicorn.jsonlog.JsonLogger" in p.args
    no_access = plan({"log_format": "json", "access_log": False})
    assert no_access.env["PRODSERVER_APP_LAYERS"] == "django_prodserver.logs.requestid:request_id_layer"


def test_project_default_from_environment_and_settings(settings: Any) -> None:
    assert plan({}, environ={"PRODSERVER_LOG_FORMAT": "json"}).options["log_format"] == "json"
    settings.PRODSERVER_LOG_FORMAT = "json"
    assert plan({}).options["log_format"] == "json"
    assert plan({"log_format": "text"}).options["log_format"] == "text"
    settings.PRODSERVER_REQUEST_ID_HEADER = "X-Correlation-ID"
    assert plan({}).env["PRODSERVER_REQUEST_ID_HEADER"] == "X-Correlation-ID"


def test_an_inherited_json_variable_does_not_beat_options_text() -> None:
    p = plan({"log_format": "text"}, environ={"PRODSERVER_LOG_FORMAT": "json"})
    assert p.env["PRODSERVER_LOG_FORMAT"] == "text"


def test_a_bad_value_names_the_key() -> None:
    from django_prodserver.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        plan({"log_format": "xml"})
    assert "log_format" in str(e.value) and "'json'" in str(e.value)


def test_missing_library_is_a_clear_error_with_the_pip_line() -> None:
    code = (
        "import sys; sys.modules['pythonjsonlogger'] = None\n"
        "from django_prodserver.logs.formatter import require_library\n"
        'require_library(\'PRODUCTION_PROCESSES["web"]["OPTIONS"]["log_format"]\')\n'
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert 'pip install "django-prodserver-core[json-logs]"' in out.stderr
    assert "log_format" in out.stderr


def record(**extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("app.views", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    rec.created = 1764682563.1239
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_formatter_writes_the_schema() -> None:
    out = json.loads(JsonFormatter(process="web").format(record(**{"http.status": 200})))
    assert out["timestamp"] == "2025-12-02T13:36:03.123Z"
    assert (out["level"], out["logger"], out["message"], out["process"]) == ("warning", "app.views", "hello you", "web")
    assert isinstance(out["pid"], int) and out["http.status"] == 200
    try:
        raise ValueError("bad")
    except ValueError:
        rec = record()
        rec.exc_info = sys.exc_info()
    line = JsonFormatter(process="web").format(rec)
    assert "\n" not in line and "ValueError: bad" in json.loads(line)["exc_info"]


def test_timestamps_are_rfc3339_utc_milliseconds() -> None:
    assert timestamp(0.0) == "1970-01-01T00:00:00.000Z"


def test_request_id_filter_and_acceptance() -> None:
    token = request_id.set("abc-123")
    try:
        rec = record()
        assert RequestIdFilter().filter(rec) and rec.request_id == "abc-123"
    finally:
        request_id.reset(token)
    assert accept("ok-id") == "ok-id"
    assert len(accept("x" * 500)) == 32 and len(accept("bad\nid")) == 32 and len(accept(None)) == 32


def test_stray_lines_become_json_and_json_passes_through() -> None:
    buf = io.StringIO()
    stream = JsonLines(buf, "stderr", "web")  # type: ignore[arg-type]
    stream.write('{"already": "json"}\nWarm shut')
    stream.write("down\n\n")
    first, second = buf.getvalue().splitlines()
    assert json.loads(first) == {"already": "json"}
    wrapped = json.loads(second)
    assert (wrapped["message"], wrapped["logger"], wrapped["process"]) == ("Warm shutdown", "stderr", "web")


def test_server_logging_file_is_the_generated_config() -> None:
    shipped = json.loads(Path(SERVER_LOGGING_FILE).read_text())
    assert shipped == server_dictconfig({name: h for name, h in _shipped_loggers(shipped).items()})
    assert "root" not in shipped  # the project's own root handlers stay


def _shipped_loggers(config: dict[str, Any]) -> dict[str, str]:
    return {name: spec["handlers"][0] for name, spec in config["loggers"].items()}


def test_docs_table_is_the_schema_mapping() -> None:
    assert schema.markdown_table() in DOCS.read_text()


def test_configured_header_name_in_and_out_wsgi_and_asgi(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from django_prodserver.logs.requestid import request_id_layer

    monkeypatch.setenv("PRODSERVER_REQUEST_ID_HEADER", "X-Correlation-ID")
    seen: list[str] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(request_id.get())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    got: list[list[tuple[str, str]]] = []
    app = request_id_layer(wsgi_app, "wsgi")
    app({"HTTP_X_CORRELATION_ID": "corr-1"}, lambda status, headers, exc=None: got.append(headers))
    assert seen == ["corr-1"] and ("X-Correlation-ID", "corr-1") in got[0]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(request_id.get())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"x-correlation-id", b"corr-2")]}
    asyncio.run(request_id_layer(asgi_app, "asgi")(scope, None, send))
    assert seen[-1] == "corr-2" and (b"X-Correlation-ID", b"corr-2") in sent[0]["headers"]
    assert request_id.get() == "corr-1"  # the ASGI request's id did not leak into this context
