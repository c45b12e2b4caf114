"""The contract suites' check of JSON log lines (``testing.jsonlogs.parse_json_lines``): every
line must be one JSON object of the schema, and every line that is not is named."""

from __future__ import annotations

import json

import pytest

from django_prodserver.logs.formatter import timestamp
from django_prodserver.logs.schema import ACCESS, TASK
from django_prodserver.testing.jsonlogs import parse_json_lines, schema_problems

GOOD = {
    "timestamp": timestamp(0.0),
    "level": "info",
    "logger": "myserver",
    "message": "listening",
    "process": "web",
    "pid": 42,
}
ACCESS_LINE = {
    **GOOD,
    "logger": "prodserver.access",
    **{f: "x" for f in ACCESS},
    "http.status": 200,
}

TASK_LINE = {
    **GOOD,
    "logger": "prodserver.tasks",
    **{f: "x" for f in TASK},
    "task.status": "succeeded",
    "task.retries": 0,
    "task.duration_ms": 1.5,
}
STARTED_LINE = {k: v for k, v in {**TASK_LINE, "task.status": "started"}.items() if k != "task.duration_ms"}


def test_lines_of_the_schema_pass() -> None:
    lines = [GOOD, ACCESS_LINE, TASK_LINE, STARTED_LINE]
    text = json.dumps(GOOD) + "\n\n" + "\n".join(json.dumps(line) for line in lines[1:]) + "\n"
    assert parse_json_lines(text, "web") == lines


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({**GOOD, "level": "INFO"}, "level 'INFO' is not one of"),
        ({**GOOD, "level": "warn"}, "level 'warn' is not one of"),
        ({k: v for k, v in GOOD.items() if k != "logger"}, "'logger' missing"),
        ({**GOOD, "timestamp": "2026-12-02 13:36:03"}, "is not RFC 3339 UTC"),
        ({**GOOD, "pid": "42"}, "pid '42' is not an integer"),
        ({**GOOD, "pid": True}, "pid True is not an integer"),
        ({**GOOD, "message": None}, "message None is not a string"),
        ({**GOOD, "process": "worker"}, "process 'worker', expected 'web'"),
        ({**ACCESS_LINE, "http.status": "200"}, "http.status '200' is not an integer"),
        ({k: v for k, v in ACCESS_LINE.items() if k != "request_id"}, "access line without 'request_id'"),
        ([GOOD], "a JSON list, not an object"),
        ({k: v for k, v in TASK_LINE.items() if k != "task.queue"}, "task line without 'task.queue'"),
        ({k: v for k, v in TASK_LINE.items() if k != "task.duration_ms"}, "task line without 'task.duration_ms'"),
        ({**TASK_LINE, "task.status": "ok"}, "task.status 'ok' is not one of"),
        ({**TASK_LINE, "task.retries": "0"}, "task.retries '0' is not an integer"),
        ({**TASK_LINE, "task.duration_ms": "1.5"}, "task.duration_ms '1.5' is not a number"),
        ({**TASK_LINE, "task.id": ""}, "task.id '' is not a non-empty string"),
    ],
)
def test_each_break_of_the_schema_is_named(line: object, problem: str) -> None:
    assert any(problem in p for p in schema_problems(line, "web")), schema_problems(line, "web")


def test_every_bad_line_is_named_with_its_number() -> None:
    text = "\n".join([json.dumps(GOOD), '{"level": "info", "message": "cut', "Listening at: http://127.0.0.1"])
    with pytest.raises(AssertionError) as info:
        parse_json_lines(text, "web")
    message = str(info.value)
    assert "2 of the output's lines" in message
    assert "line 2 is not JSON" in message and "line 3 is not JSON" in message and "line 1 is" not in message
