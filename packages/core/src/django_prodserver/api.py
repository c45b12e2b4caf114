"""The public API for backend authors: every name a backend package may import from core.

``from django_prodserver.api import WebBackend, Option, LaunchPlan``. Names are grouped below as
docs/writing-a-backend.md presents them; each is loaded on first use (a host imports only what
it touches). Anything not here is internal and may change in any release (docs/stability.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; the names are grouped in GROUPS below
    from django_prodserver.backends.argv import FlagSpec as FlagSpec
    from django_prodserver.backends.argv import click_env_names as click_env_names
    from django_prodserver.backends.argv import click_flag_spec as click_flag_spec
    from django_prodserver.backends.argv import flatten as flatten
    from django_prodserver.backends.argv import merge as merge
    from django_prodserver.backends.argv import parse as parse
    from django_prodserver.backends.base import Backend as Backend
    from django_prodserver.backends.base import Capability as Capability
    from django_prodserver.backends.base import Kind as Kind
    from django_prodserver.backends.base import LaunchContext as LaunchContext
    from django_prodserver.backends.base import WebBackend as WebBackend
    from django_prodserver.backends.base import WorkerBackend as WorkerBackend
    from django_prodserver.backends.hostplan import HOST_PLAN_ENV as HOST_PLAN_ENV
    from django_prodserver.backends.hostplan import HostPlan as HostPlan
    from django_prodserver.backends.loading import load_backend as load_backend
    from django_prodserver.backends.loading import plan_process as plan_process
    from django_prodserver.backends.native import bind_reader as bind_reader
    from django_prodserver.backends.options import WEB_OPTIONS as WEB_OPTIONS
    from django_prodserver.backends.options import WORKER_OPTIONS as WORKER_OPTIONS
    from django_prodserver.backends.options import Option as Option
    from django_prodserver.backends.options import one_per_cpu as one_per_cpu
    from django_prodserver.backends.options import request_deadline as request_deadline
    from django_prodserver.backends.options import scaled as scaled
    from django_prodserver.backends.options import value_map as value_map
    from django_prodserver.backends.registry import resolve_backend as resolve_backend
    from django_prodserver.drain import Drain as Drain
    from django_prodserver.drain import Phase as Phase
    from django_prodserver.drain import Step as Step
    from django_prodserver.drain import backlog_of as backlog_of
    from django_prodserver.drain import listen_backlog as listen_backlog
    from django_prodserver.errors import BackendNotFound as BackendNotFound
    from django_prodserver.errors import ConfigError as ConfigError
    from django_prodserver.handover import LISTEN_FD_ENV as LISTEN_FD_ENV
    from django_prodserver.handover import HandoverError as HandoverError
    from django_prodserver.handover import announce_ready as announce_ready
    from django_prodserver.handover import listen_fd as listen_fd
    from django_prodserver.handover import listen_socket as listen_socket
    from django_prodserver.launch.runner import child_environ as child_environ
    from django_prodserver.launch.runner import run as run_plan
    from django_prodserver.launch.supervision import sets_for as sets_for
    from django_prodserver.launch.supervision import supervise as supervise
    from django_prodserver.launch.supervisor import ChildSpec as ChildSpec
    from django_prodserver.launch.supervisor import Supervisor as Supervisor
    from django_prodserver.launch.supervisor.listeners import bind_tcp as bind_tcp
    from django_prodserver.launch.supervisor.listeners import bind_unix as bind_unix
    from django_prodserver.launch.supervisor.listeners import run_copies as run_copies
    from django_prodserver.launch.supervisor.policies import Decision as Decision
    from django_prodserver.launch.supervisor.policies import ExitPolicy as ExitPolicy
    from django_prodserver.launch.supervisor.policies import RestartRequests as RestartRequests
    from django_prodserver.launch.supervisor.policies import Wait as Wait
    from django_prodserver.logs import SERVER_LOGGING_FILE as SERVER_LOGGING_FILE
    from django_prodserver.logs.access import CountingBody as CountingBody
    from django_prodserver.logs.run import json_program as json_program
    from django_prodserver.logs.setup import configure_from_env as configure_from_env
    from django_prodserver.logs.setup import formatter as formatter
    from django_prodserver.logs.setup import json_enabled as json_enabled
    from django_prodserver.logs.setup import jsonify as jsonify
    from django_prodserver.management.base import ProcessCommand as ProcessCommand
    from django_prodserver.masking import mask as mask
    from django_prodserver.ops.address import from_params as from_params
    from django_prodserver.ops.address import from_url as from_url
    from django_prodserver.ops.address import host_port as host_port
    from django_prodserver.ops.procfs import children as child_pids
    from django_prodserver.plan import LaunchPlan as LaunchPlan
    from django_prodserver.plan import OptionTable as OptionTable
    from django_prodserver.plan import QueueDepth as QueueDepth
    from django_prodserver.plan import ReadyProbe as ReadyProbe
    from django_prodserver.preflight import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
    from django_prodserver.preflight import bounded as bounded
    from django_prodserver.preflight import reason as reason
    from django_prodserver.preflight import timeout_of as timeout_of
    from django_prodserver.preflight import unreachable as unreachable
    from django_prodserver.served.layers import preload as preload_layers
    from django_prodserver.served.turnaway import TurnAway as TurnAway
    from django_prodserver.served.turnaway import duplicates as duplicates
    from django_prodserver.served.turnaway import hold as hold
    from django_prodserver.served.turnaway import listeners_in as listeners_in
    from django_prodserver.served.websockets import require_uvicorn_library as require_uvicorn_library
    from django_prodserver.settings.config import ProcessConfig as ProcessConfig
    from django_prodserver.settings.config import get_processes_setting as get_processes_setting
    from django_prodserver.settings.config import load_process as load_process
    from django_prodserver.settings.config import where as where
    from django_prodserver.tasks import TaskEvents as TaskEvents
    from django_prodserver.tasks import task_events as task_events

#: Each group of names with what it is for (docs/writing-a-backend.md has one section each):
#: name -> "module:attribute" inside django_prodserver, where the name lives today.
GROUPS: dict[str, dict[str, str]] = {
    # The class a backend package defines and what its planning is given.
    "Declaring a backend": {
        "Backend": "backends.base:Backend",
        "WebBackend": "backends.base:WebBackend",
        "WorkerBackend": "backends.base:WorkerBackend",
        "Kind": "backends.base:Kind",
        "Capability": "backends.base:Capability",
        "LaunchContext": "backends.base:LaunchContext",
        "ProcessConfig": "settings.config:ProcessConfig",
        "ConfigError": "errors:ConfigError",
        "where": "settings.config:where",
    },
    # Declared once per backend: validation, defaults, native flag, docs and ``--dry-run``.
    "Options": {
        "Option": "backends.options:Option",
        "OptionTable": "plan:OptionTable",
        "WEB_OPTIONS": "backends.options:WEB_OPTIONS",
        "WORKER_OPTIONS": "backends.options:WORKER_OPTIONS",
        "one_per_cpu": "backends.options:one_per_cpu",
        "request_deadline": "backends.options:request_deadline",
        "value_map": "backends.options:value_map",
        "scaled": "backends.options:scaled",
    },
    # The server's own command line: how it spells flags, and merging the user's ``ARGS``.
    "Native flags": {
        "FlagSpec": "backends.argv:FlagSpec",
        "click_flag_spec": "backends.argv:click_flag_spec",
        "click_env_names": "backends.argv:click_env_names",
        "bind_reader": "backends.native:bind_reader",
        "parse": "backends.argv:parse",
        "merge": "backends.argv:merge",
        "flatten": "backends.argv:flatten",
    },
    # What ``plan()`` returns: everything that would run, computed without starting anything.
    "The plan": {
        "LaunchPlan": "plan:LaunchPlan",
        "ReadyProbe": "plan:ReadyProbe",
        "mask": "masking:mask",
        "host_port": "ops.address:host_port",
    },
    # Bounded checks with side effects just before a real start (is the broker there?).
    "Preflight": {
        "bounded": "preflight:bounded",
        "unreachable": "preflight:unreachable",
        "reason": "preflight:reason",
        "timeout_of": "preflight:timeout_of",
        "DEFAULT_TIMEOUT": "preflight:DEFAULT_TIMEOUT",
        "from_url": "ops.address:from_url",
        "from_params": "ops.address:from_params",
    },
    # What a ``host.py`` uses when prodserver runs the server in its own process.
    "Hosting in-process": {
        "HostPlan": "backends.hostplan:HostPlan",
        "HOST_PLAN_ENV": "backends.hostplan:HOST_PLAN_ENV",
        "preload_layers": "served.layers:preload",
        "require_uvicorn_library": "served.websockets:require_uvicorn_library",
        "bind_tcp": "launch.supervisor.listeners:bind_tcp",
        "bind_unix": "launch.supervisor.listeners:bind_unix",
        "run_copies": "launch.supervisor.listeners:run_copies",
    },
    # A reload: serve on the socket the supervisor owns, and say when this generation is ready.
    "Reloading": {
        "listen_socket": "handover:listen_socket",
        "listen_fd": "handover:listen_fd",
        "announce_ready": "handover:announce_ready",
        "LISTEN_FD_ENV": "handover:LISTEN_FD_ENV",
        "HandoverError": "handover:HandoverError",
    },
    # One drain after SIGTERM for every server: a host feeds it and acts on its steps.
    "Draining": {
        "Drain": "drain:Drain",
        "Phase": "drain:Phase",
        "Step": "drain:Step",
        "backlog_of": "drain:backlog_of",
        "listen_backlog": "drain:listen_backlog",
        "TurnAway": "served.turnaway:TurnAway",
        "duplicates": "served.turnaway:duplicates",
        "hold": "served.turnaway:hold",
        "listeners_in": "served.turnaway:listeners_in",
        "child_pids": "ops.procfs:children",
    },
    # One log schema for every server and worker (``log_format: json``).
    "JSON logs": {
        "SERVER_LOGGING_FILE": "logs:SERVER_LOGGING_FILE",
        "configure_from_env": "logs.setup:configure_from_env",
        "json_enabled": "logs.setup:json_enabled",
        "formatter": "logs.setup:formatter",
        "jsonify": "logs.setup:jsonify",
        "json_program": "logs.run:json_program",
        "CountingBody": "logs.access:CountingBody",
    },
    # What a worker reports per task (log line + metrics), and how /metrics reads its queues.
    "Task telemetry": {
        "task_events": "tasks:task_events",
        "TaskEvents": "tasks:TaskEvents",
        "QueueDepth": "plan:QueueDepth",
    },
    # For a management command like ``devserver``: settings to plans to a supervisor.
    "Commands that start processes": {
        "ProcessCommand": "management.base:ProcessCommand",
        "get_processes_setting": "settings.config:get_processes_setting",
        "load_process": "settings.config:load_process",
        "resolve_backend": "backends.registry:resolve_backend",
        "BackendNotFound": "errors:BackendNotFound",
        "load_backend": "backends.loading:load_backend",
        "plan_process": "backends.loading:plan_process",
        "sets_for": "launch.supervision:sets_for",
        "supervise": "launch.supervision:supervise",
        "run_plan": "launch.runner:run",
        "child_environ": "launch.runner:child_environ",
        "Supervisor": "launch.supervisor:Supervisor",
        "ChildSpec": "launch.supervisor:ChildSpec",
        "ExitPolicy": "launch.supervisor.policies:ExitPolicy",
        "Decision": "launch.supervisor.policies:Decision",
        "Wait": "launch.supervisor.policies:Wait",
        "RestartRequests": "launch.supervisor.policies:RestartRequests",
    },
}
_WHERE = {name: where for names in GROUPS.values() for name, where in names.items()}

#: Every name of GROUPS, spelled out for type checkers and editors.
__all__ = [
    "DEFAULT_TIMEOUT",
    "HOST_PLAN_ENV",
    "LISTEN_FD_ENV",
    "SERVER_LOGGING_FILE",
    "WEB_OPTIONS",
    "WORKER_OPTIONS",
    "Backend",
    "BackendNotFound",
    "Capability",
    "ChildSpec",
    "ConfigError",
    "CountingBody",
    "Decision",
    "Drain",
    "ExitPolicy",
    "FlagSpec",
    "HandoverError",
    "HostPlan",
    "Kind",
    "LaunchContext",
    "LaunchPlan",
    "Option",
    "OptionTable",
    "Phase",
    "ProcessCommand",
    "ProcessConfig",
    "QueueDepth",
    "ReadyProbe",
    "RestartRequests",
    "Step",
    "Supervisor",
    "TaskEvents",
    "TurnAway",
    "Wait",
    "WebBackend",
    "WorkerBackend",
    "announce_ready",
    "backlog_of",
    "bind_reader",
    "bind_tcp",
    "bind_unix",
    "bounded",
    "child_environ",
    "child_pids",
    "click_env_names",
    "click_flag_spec",
    "configure_from_env",
    "duplicates",
    "flatten",
    "formatter",
    "from_params",
    "from_url",
    "get_processes_setting",
    "hold",
    "host_port",
    "json_enabled",
    "json_program",
    "jsonify",
    "listen_backlog",
    "listen_fd",
    "listen_socket",
    "listeners_in",
    "load_backend",
    "load_process",
    "mask",
    "merge",
    "one_per_cpu",
    "parse",
    "plan_process",
    "preload_layers",
    "reason",
    "request_deadline",
    "require_uvicorn_library",
    "resolve_backend",
    "run_copies",
    "run_plan",
    "scaled",
    "sets_for",
    "supervise",
    "task_events",
    "timeout_of",
    "unreachable",
    "value_map",
    "where",
]


def __getattr__(name: str) -> Any:
    """Import the module that holds ``name`` on first use and return the name."""
    try:
        module, attr = _WHERE[name].split(":")
    except KeyError:
        raise AttributeError(f"module 'django_prodserver.api' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"django_prodserver.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
