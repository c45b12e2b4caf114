"""The field names of prodserver's JSON log lines and what each is called elsewhere.

One table drives the docs (docs/logging.md) and the tests: ``REQUIRED`` on every line,
``ACCESS`` on access lines, ``TASK`` on task lines, and each field's name in OpenTelemetry,
ECS, GCP and Datadog."""

from __future__ import annotations

#: Fields every JSON line has.
REQUIRED = ("timestamp", "level", "logger", "message", "process", "pid")
#: Fields an access line adds.
ACCESS = (
    "http.method",
    "http.path",
    "http.status",
    "http.duration_ms",
    "http.bytes",
    "client.address",
    "http.user_agent",
    "request_id",
)
#: The logger of task lines (one per task start and end, every worker family).
TASK_LOGGER = "prodserver.tasks"
#: Fields every task line has; ``task.duration_ms`` is on every line but a start's.
TASK = ("task.id", "task.name", "task.queue", "task.status", "task.retries", "task.duration_ms")
#: The values of ``task.status`` (and of the ``outcome`` label of ``prodserver_tasks_total``).
TASK_STATUSES = ("started", "succeeded", "failed", "retried")

#: our name -> (OpenTelemetry, ECS, GCP Cloud Logging, Datadog)
MAPPING: dict[str, tuple[str, str, str, str]] = {
    "timestamp": ("Timestamp", "@timestamp", "timestamp", "timestamp"),
    "level": ("SeverityText", "log.level", "severity", "status"),
    "logger": ("InstrumentationScope.name", "log.logger", "logging.googleapis.com/sourceLocation", "logger.name"),
    "message": ("Body", "message", "message", "message"),
    "process": ("service.instance.id (resource)", "service.name", "labels.process", "service"),
    "pid": ("process.pid (resource)", "process.pid", "labels.pid", "process.pid"),
    "exc_info": ("exception.stacktrace", "error.stack_trace", "stack_trace (in message)", "error.stack"),
    "http.method": ("http.request.method", "http.request.method", "httpRequest.requestMethod", "http.method"),
    "http.path": ("url.path", "url.path", "httpRequest.requestUrl", "http.url_details.path"),
    "http.status": ("http.response.status_code", "http.response.status_code", "httpRequest.status", "http.status_code"),
    "http.duration_ms": (
        "http.server.request.duration (s)",
        "event.duration (ns)",
        "httpRequest.latency",
        "duration (ns)",
    ),
    "http.bytes": (
        "http.response.body.size",
        "http.response.body.bytes",
        "httpRequest.responseSize",
        "network.bytes_written",
    ),
    "client.address": ("client.address", "client.address", "httpRequest.remoteIp", "network.client.ip"),
    "http.user_agent": ("user_agent.original", "user_agent.original", "httpRequest.userAgent", "http.useragent"),
    "request_id": ("http.request.header.x-request-id", "http.request.id", "labels.request_id", "http.request_id"),
    "task.id": ("messaging.message.id", "event.id", "labels.task_id", "task.id"),
    "task.name": ("messaging.operation.name", "event.action", "labels.task_name", "task.name"),
    "task.queue": ("messaging.destination.name", "labels.queue", "labels.task_queue", "task.queue"),
    "task.status": ("task.status (attribute)", "event.outcome", "labels.task_status", "task.status"),
    "task.retries": ("task.retries (attribute)", "labels.retries", "labels.task_retries", "task.retries"),
    "task.duration_ms": ("task.duration (s)", "event.duration (ns)", "labels.task_duration_ms", "duration (ns)"),
}

#: Python level name -> our ``level`` (lower case, the same words as the log_level option).
LEVELS = {"CRITICAL": "critical", "ERROR": "error", "WARNING": "warning", "INFO": "info", "DEBUG": "debug"}


def markdown_table() -> str:
    """The mapping as the Markdown table docs/logging.md shows."""
    rows = ["| prodserver | OpenTelemetry | ECS | GCP Cloud Logging | Datadog |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{ours}` | " + " | ".join(f"`{n}`" for n in names) + " |" for ours, names in MAPPING.items()]
    return "\n".join(rows)
