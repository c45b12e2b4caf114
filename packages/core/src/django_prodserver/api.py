"""The public API for backend authors: every name a backend package may import from core.

Names are loaded on first use (a host imports only what it touches); anything not here is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from django_prodserver.backends.loading import load_backend as load_backend
    from django_prodserver.backends.loading import plan_process as plan_process
    from django_prodserver.backends.native import bind_reader as bind_reader
    from django_prodserver.backends.options import WEB_OPTIONS as WEB_OPTIONS
    from django_prodserver.backends.options import WORKER_OPTIONS as WORKER_OPTIONS
    from django_prodserver.backends.options import Option as Option
    from django_prodserver.backends.options import OptionTable as OptionTable
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
    from django_prodserver.launch import runner as runner
    from django_prodserver.launch.copies import Copies as Copies
    from django_prodserver.launch.copies import bind_tcp as bind_tcp
    from django_prodserver.launch.copies import bind_unix as bind_unix
    from django_prodserver.launch.runner import child_environ as child_environ
    from django_prodserver.launch.supervision import sets_for as sets_for
    from django_prodserver.launch.supervision import supervise as supervise
    from django_prodserver.launch.supervisor import ChildSpec as ChildSpec
    from django_prodserver.launch.supervisor import Supervisor as Supervisor
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
    from django_prodserver.ops.address import from_params as from_params
    from django_prodserver.ops.address import from_url as from_url
    from django_prodserver.plan import LaunchPlan as LaunchPlan
    from django_prodserver.plan import ReadyProbe as ReadyProbe
    from django_prodserver.plan import mask as mask
    from django_prodserver.preflight import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
    from django_prodserver.preflight import bounded as bounded
    from django_prodserver.preflight import reason as reason
    from django_prodserver.preflight import timeout_of as timeout_of
    from django_prodserver.preflight import unreachable as unreachable
    from django_prodserver.served import layers as layers
    from django_prodserver.served import websockets as websockets
    from django_prodserver.served.turnaway import TurnAway as TurnAway
    from django_prodserver.served.turnaway import duplicates as duplicates
    from django_prodserver.served.turnaway import hold as hold
    from django_prodserver.served.turnaway import listeners_in as listeners_in
    from django_prodserver.settings.config import ProcessConfig as ProcessConfig
    from django_prodserver.settings.config import get_processes_setting as get_processes_setting
    from django_prodserver.settings.config import load_process as load_process
    from django_prodserver.settings.config import where as where

# name -> (module, is_submodule): where each public name lives today.
_WHERE: dict[str, tuple[str, bool]] = {
    "FlagSpec": ("django_prodserver.backends.argv", False),
    "click_env_names": ("django_prodserver.backends.argv", False),
    "click_flag_spec": ("django_prodserver.backends.argv", False),
    "flatten": ("django_prodserver.backends.argv", False),
    "merge": ("django_prodserver.backends.argv", False),
    "parse": ("django_prodserver.backends.argv", False),
    "Backend": ("django_prodserver.backends.base", False),
    "Capability": ("django_prodserver.backends.base", False),
    "Kind": ("django_prodserver.backends.base", False),
    "LaunchContext": ("django_prodserver.backends.base", False),
    "WebBackend": ("django_prodserver.backends.base", False),
    "WorkerBackend": ("django_prodserver.backends.base", False),
    "load_backend": ("django_prodserver.backends.loading", False),
    "plan_process": ("django_prodserver.backends.loading", False),
    "bind_reader": ("django_prodserver.backends.native", False),
    "Option": ("django_prodserver.backends.options", False),
    "OptionTable": ("django_prodserver.backends.options", False),
    "WEB_OPTIONS": ("django_prodserver.backends.options", False),
    "WORKER_OPTIONS": ("django_prodserver.backends.options", False),
    "one_per_cpu": ("django_prodserver.backends.options", False),
    "request_deadline": ("django_prodserver.backends.options", False),
    "scaled": ("django_prodserver.backends.options", False),
    "value_map": ("django_prodserver.backends.options", False),
    "resolve_backend": ("django_prodserver.backends.registry", False),
    "Drain": ("django_prodserver.drain", False),
    "Phase": ("django_prodserver.drain", False),
    "Step": ("django_prodserver.drain", False),
    "backlog_of": ("django_prodserver.drain", False),
    "listen_backlog": ("django_prodserver.drain", False),
    "BackendNotFound": ("django_prodserver.errors", False),
    "ConfigError": ("django_prodserver.errors", False),
    "runner": ("django_prodserver.launch", True),
    "Copies": ("django_prodserver.launch.copies", False),
    "bind_tcp": ("django_prodserver.launch.copies", False),
    "bind_unix": ("django_prodserver.launch.copies", False),
    "child_environ": ("django_prodserver.launch.runner", False),
    "sets_for": ("django_prodserver.launch.supervision", False),
    "supervise": ("django_prodserver.launch.supervision", False),
    "ChildSpec": ("django_prodserver.launch.supervisor", False),
    "Supervisor": ("django_prodserver.launch.supervisor", False),
    "Decision": ("django_prodserver.launch.supervisor.policies", False),
    "ExitPolicy": ("django_prodserver.launch.supervisor.policies", False),
    "RestartRequests": ("django_prodserver.launch.supervisor.policies", False),
    "Wait": ("django_prodserver.launch.supervisor.policies", False),
    "SERVER_LOGGING_FILE": ("django_prodserver.logs", False),
    "CountingBody": ("django_prodserver.logs.access", False),
    "json_program": ("django_prodserver.logs.run", False),
    "configure_from_env": ("django_prodserver.logs.setup", False),
    "formatter": ("django_prodserver.logs.setup", False),
    "json_enabled": ("django_prodserver.logs.setup", False),
    "jsonify": ("django_prodserver.logs.setup", False),
    "ProcessCommand": ("django_prodserver.management.base", False),
    "from_params": ("django_prodserver.ops.address", False),
    "from_url": ("django_prodserver.ops.address", False),
    "LaunchPlan": ("django_prodserver.plan", False),
    "ReadyProbe": ("django_prodserver.plan", False),
    "mask": ("django_prodserver.plan", False),
    "DEFAULT_TIMEOUT": ("django_prodserver.preflight", False),
    "bounded": ("django_prodserver.preflight", False),
    "reason": ("django_prodserver.preflight", False),
    "timeout_of": ("django_prodserver.preflight", False),
    "unreachable": ("django_prodserver.preflight", False),
    "layers": ("django_prodserver.served", True),
    "websockets": ("django_prodserver.served", True),
    "TurnAway": ("django_prodserver.served.turnaway", False),
    "duplicates": ("django_prodserver.served.turnaway", False),
    "hold": ("django_prodserver.served.turnaway", False),
    "listeners_in": ("django_prodserver.served.turnaway", False),
    "ProcessConfig": ("django_prodserver.settings.config", False),
    "get_processes_setting": ("django_prodserver.settings.config", False),
    "load_process": ("django_prodserver.settings.config", False),
    "where": ("django_prodserver.settings.config", False),
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "SERVER_LOGGING_FILE",
    "WEB_OPTIONS",
    "WORKER_OPTIONS",
    "Backend",
    "BackendNotFound",
    "Capability",
    "ChildSpec",
    "ConfigError",
    "Copies",
    "CountingBody",
    "Decision",
    "Drain",
    "ExitPolicy",
    "FlagSpec",
    "Kind",
    "LaunchContext",
    "LaunchPlan",
    "Option",
    "OptionTable",
    "Phase",
    "ProcessCommand",
    "ProcessConfig",
    "ReadyProbe",
    "RestartRequests",
    "Step",
    "Supervisor",
    "TurnAway",
    "Wait",
    "WebBackend",
    "WorkerBackend",
    "backlog_of",
    "bind_reader",
    "bind_tcp",
    "bind_unix",
    "bounded",
    "child_environ",
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
    "json_enabled",
    "json_program",
    "jsonify",
    "layers",
    "listen_backlog",
    "listeners_in",
    "load_backend",
    "load_process",
    "mask",
    "merge",
    "one_per_cpu",
    "parse",
    "plan_process",
    "reason",
    "request_deadline",
    "resolve_backend",
    "runner",
    "scaled",
    "sets_for",
    "supervise",
    "timeout_of",
    "unreachable",
    "value_map",
    "websockets",
    "where",
]


def __getattr__(name: str) -> Any:
    """Import the module that holds ``name`` on first use and return the name."""
    try:
        module, is_submodule = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'django_prodserver.api' has no attribute {name!r}") from None
    if is_submodule:
        value: Any = importlib.import_module(f"{module}.{name}")
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
