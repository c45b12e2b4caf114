"""Running several processes at once: plans and settings become supervised children.

``supervise`` and ``describe_policy`` are what the ``prodserver`` command calls; the machinery
lives in :mod:`django_prodserver.launch.supervisor` (loop, children, output, signals, policy)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

from django_prodserver.errors import ConfigError
from django_prodserver.launch.runner import child_environ
from django_prodserver.logs import PROCESS_ENV
from django_prodserver.masking import mask
from django_prodserver.plan import LaunchPlan

#: Set in an in-process child's environment: the supervisor already said what starts where.
SUPERVISED_ENV = "PRODSERVER_SUPERVISED"


def what_starts(plan: LaunchPlan) -> str:
    """``gunicorn on http://127.0.0.1:8000/`` (or just the backend for workers): the one line
    a normal start prints per process."""
    if plan.listen:
        return f"{plan.backend} on {plan.listen}" + (f" ({plan.listen_why})" if plan.listen_why else "")
    url = plan.ready.http_url
    return f"{plan.backend} on {url}" if url else plan.backend


def json_logs(plans: list[LaunchPlan]) -> bool:
    """The supervisor writes JSON lines when any of its processes does (log_format json)."""
    return any(p.options.get("log_format") == "json" for p in plans)


if TYPE_CHECKING:
    # The supervisor and the ops runtime are imported where they run: a single process
    # started without the ops endpoint (the common start) needs neither.
    from django_prodserver.control.server import ControlServer
    from django_prodserver.launch.supervisor import ChildSpec, Policy
    from django_prodserver.launch.supervisor.sdnotify import Notifier
    from django_prodserver.ops.config import OpsConfig
    from django_prodserver.ops.runtime import OpsRuntime


def ops_config() -> OpsConfig | None:
    """The ops endpoint's settings (None when off); a mistake is a CommandError naming the key."""
    from django_prodserver.ops.config import load_ops_config

    try:
        return load_ops_config()
    except ConfigError as e:
        raise CommandError(e.message) from None


def supervised_for_ops(plan: LaunchPlan | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True when one process must still run under the supervisor: the ops endpoint is on, this
    is not already a child of a supervisor that serves it, and the process is long-running (a
    one-shot such as ``prodserver migrate``, run in a pod that serves the port, must not bind it)."""
    from django_prodserver.ops.config import CHILD_ENV

    env = os.environ if environ is None else environ
    if env.get(CHILD_ENV) or ops_config() is None:
        return False
    if plan is not None:
        try:
            return not policies([plan])[plan.process].oneshot
        except ConfigError as e:
            raise CommandError(e.message) from None
    return True


def supervised_for_systemd(plan: LaunchPlan, environ: Mapping[str, str] | None = None) -> bool:
    """True when one long-running process must run under the supervisor for systemd: as a
    ``Type=notify`` service (READY, reload, watchdog) or on an activated socket."""
    env = os.environ if environ is None else environ
    activated = env.get("LISTEN_PID", "").strip() == str(os.getpid()) and bool(env.get("LISTEN_FDS"))
    if not (env.get("NOTIFY_SOCKET") or activated):
        return False
    try:
        return not policies([plan])[plan.process].oneshot
    except ConfigError as e:
        raise CommandError(e.message) from None


def policies(plans: list[LaunchPlan], entries: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Policy]:
    """Each process' RESTART/ONESHOT policy from its settings entry (ConfigError if wrong)."""
    from django_prodserver.launch.supervisor import parse_policy

    if entries is None:
        from django_prodserver.settings.config import get_processes_setting

        entries = get_processes_setting()
    return {p.process: parse_policy(p.process, entries.get(p.process) or {}, p.kind) for p in plans}


def sets_for(name: str, sets: list[str]) -> list[str]:
    """The ``--set`` items that apply to ``name``, spelled for a command that starts only it."""
    out: list[str] = []
    for item in sets:
        key, _, value = item.partition("=")
        target, dot, option = key.rpartition(".")
        if not dot:
            out.append(item)
        elif target == name:
            out.append(f"{option}={value}")
    return out


def child_argv(plan: LaunchPlan, options: Mapping[str, Any]) -> list[str]:
    """What the supervisor runs for one plan.

    An in-process plan (gunicorn) is not hosted inside the supervisor: the child re-runs
    ``python -m django prodserver NAME`` so it does its own in-process launch, drain included."""
    if not plan.in_process:
        return plan.command
    argv = [sys.executable, "-m", "django", "prodserver", plan.process, "--skip-checks"]
    argv += ["--verbosity", str(options.get("verbosity", 1))]
    for flag in ("no_color", "force_color", "traceback"):
        if options.get(flag):
            argv.append("--" + flag.replace("_", "-"))
    for item in sets_for(plan.process, list(options.get("set") or [])):
        argv += ["--set", item]
    return argv


def child_env(plan: LaunchPlan, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment. An in-process re-run gets ours (so it plans exactly as we did)
    plus what it needs to start: settings module, import path, unbuffered output."""
    environ = dict(os.environ if base is None else base)
    if not plan.in_process:
        return child_environ(plan, environ)
    for key in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH"):
        if plan.env.get(key):
            environ[key] = plan.env[key]
    environ["PYTHONUNBUFFERED"] = "1"
    environ[PROCESS_ENV] = plan.process  # at exec, so /proc/<pid>/environ shows it (prodserver dump)
    environ[SUPERVISED_ENV] = "1"  # its start line and notes were ours to print
    return environ


def child_specs(plans: list[LaunchPlan], options: Mapping[str, Any], policy: Mapping[str, Policy]) -> list[ChildSpec]:
    from django_prodserver.backends.options import parse_size
    from django_prodserver.launch.supervisor import ChildSpec

    return [
        ChildSpec(
            name=p.process,
            argv=child_argv(p, options),
            env=child_env(p),
            cwd=p.cwd,
            stop_signal=p.stop_signal,
            signal_group=p.signal_group,
            graceful_timeout=p.graceful_timeout,
            policy=policy[p.process],
            what=what_starts(p),
            backend=p.backend,
            announces=p.in_process,
            max_lifetime=float(p.options.get("max_lifetime") or 0.0),
            max_memory=parse_size(p.options.get("max_memory") or 0),
            binds=p.kind in ("web", "monitor")
            and bool(p.options.get("socket") or isinstance(p.options.get("port"), int)),
            single=p.kind == "scheduler",
            ready_line=p.ready.log_line or "",
        )
        for p in plans
    ]


def own_listeners(
    plans: list[LaunchPlan],
    specs: list[ChildSpec],
    policy: Mapping[str, Policy],
    activated: Sequence[socket.socket] = (),
) -> list[ChildSpec]:
    """Bind the address of each web process whose host serves on an inherited socket, here and
    once: every start of it (a restart, a reload's next generation) inherits the one socket,
    so the address never closes while prodserver runs. A socket systemd passed us (``activated``)
    for that address is used instead of binding: the children get a copy, and the original stays
    open until we exit, so even our own stop is a handover (the queue is systemd's: nothing is
    turned away, the next start serves it). A port we cannot bind, or an activated socket no
    process serves, is a CommandError."""
    from django_prodserver.handover import LISTEN_FD_ENV, OWNER_ENV, owner_value
    from django_prodserver.launch.supervisor import activation
    from django_prodserver.launch.supervisor.listeners import bind_tcp, bind_unix

    by_name = {p.process: p for p in plans}
    unused = list(activated)
    out: list[ChildSpec] = []
    for spec in specs:
        plan = by_name.get(spec.name)
        if plan is None or not plan.inherits_listener or policy[plan.process].oneshot:
            out.append(spec)
            continue
        opts = plan.options
        backlog = opts.get("backlog")
        backlog = backlog if isinstance(backlog, int) and backlog > 0 else 2048
        path, port = opts.get("socket"), opts.get("port")
        host = str(opts.get("host") or "127.0.0.1")
        given = [s for s in unused if activation.matches(s, host, port if isinstance(port, int) else None, path)]
        owner: socket.socket | None = None
        try:
            if given:
                owner = given[0]
                unused.remove(owner)
                sock = owner.dup()
            elif path:
                sock = bind_unix(str(path), backlog)
            elif isinstance(port, int):
                sock = bind_tcp(host, port, backlog)
            else:
                out.append(spec)
                continue
        except OSError as e:
            where = path or f"{opts.get('host')}:{port}"
            raise CommandError(
                f"{plan.process!r} cannot listen on {where}: {e.strerror or e}; give it another port: "
                f"--set {plan.process}.port=PORT"
            ) from None
        env = {**spec.env, LISTEN_FD_ENV: str(sock.fileno()), OWNER_ENV: owner_value(owner or sock)}
        out.append(replace(spec, env=env, inherit=(sock,), binds=False))
    if unused:
        raise CommandError(unmatched_activation(unused, plans))
    return out


def unmatched_activation(unused: Sequence[socket.socket], plans: list[LaunchPlan]) -> str:
    """Why systemd's socket serves nothing here, and what each process listens on instead."""
    from django_prodserver.launch.supervisor.activation import address

    def where(plan: LaunchPlan) -> str:
        opts = plan.options
        if opts.get("socket"):
            place = f"unix socket {opts['socket']}"
        elif isinstance(opts.get("port"), int):
            place = f"{opts.get('host') or '127.0.0.1'}:{opts['port']}"
        else:
            place = "no address"
        takes = "" if plan.inherits_listener else f" ({plan.backend} cannot serve on a passed socket)"
        return f"{plan.process!r} on {place}{takes}"

    addrs = ", ".join(address(s) for s in unused)
    return (
        f"systemd passed a listening socket for {addrs} (socket activation, LISTEN_FDS) but no process "
        f"here serves that address: {'; '.join(where(p) for p in plans) or 'no processes'}. Make ListenStream= in "
        "the .socket unit the web process' address, or set the process' host and port to the socket's: "
        "--set NAME.host=HOST --set NAME.port=PORT"
    )


def describe_policy(plans: list[LaunchPlan], options: Mapping[str, Any] | None = None) -> str:
    """The supervisor policy that --dry-run prints for several processes."""
    from django_prodserver.launch.supervisor.child import EXIT_GRACE

    options = options or {}
    try:
        policy = policies(plans)
    except ConfigError as e:
        raise CommandError(e.message) from None
    oneshots = [p.process for p in plans if policy[p.process].oneshot]
    services = [p.process for p in plans if not policy[p.process].oneshot]
    lines = [f"supervisor: {len(plans)} processes as children of this one, in the foreground"]
    order = "start together: " + ", ".join(services) if services else "nothing long-running"
    if oneshots:
        order = "run once, in order, each must exit 0: " + ", ".join(oneshots) + "; then " + order
    lines.append(f"  order: {order}")
    for plan in plans:
        lines.append(f"  process {plan.process!r}: {policy[plan.process].describe()}")
        if plan.in_process:
            lines.append("    runs as: " + " ".join(shlex.quote(mask(a)) for a in child_argv(plan, options)))
        whom = "its process group" if plan.signal_group else "its main process only"
        lines.append(
            f"    stop: {signal.Signals(plan.stop_signal).name} to {whom}; "
            f"SIGKILL to its process group after {plan.graceful_timeout + EXIT_GRACE:g}s "
            f"(graceful timeout {plan.graceful_timeout:g}s + {EXIT_GRACE:g}s to exit)"
        )
    from django_prodserver.ops.config import describe as describe_ops

    lines.append("  " + describe_ops(ops_config()))
    from django_prodserver.launch.supervisor.signals import FORWARD

    forwarded = ", ".join(signal.Signals(s).name for s in FORWARD)
    lines += [
        "  signals: SIGTERM/SIGINT stop every process gracefully (SIGTERM again changes nothing), "
        f"a second SIGINT or SIGQUIT kills them all; {forwarded} are forwarded once to each main process",
        (
            "  output: JSON lines, not prefixed (the 'process' field names the process)"
            if json_logs(plans)
            else "  output: each line prefixed with the process name"
            + (" (off: --no-prefix)" if options.get("no_prefix") else "")
        )
        + "; children's stdout and stderr go to ours",
        "  exit code: the failing process' (128+n if killed by signal n); 78 after any stop once a process "
        "exited 78 (EX_CONFIG, not retried); 0 after a requested clean stop",
    ]
    return "\n".join(lines)


def alone_policy(name: str, policy: Policy) -> Policy:
    """One process beside the ops endpoint behaves as if alone: it is not restarted (its exit is
    prodserver's exit, for the orchestrator to act on) unless its entry sets RESTART."""
    from django_prodserver.settings.config import get_processes_setting

    entry = get_processes_setting().get(name) or {}
    return policy if "RESTART" in entry else replace(policy, restart="never")


def control_server(names: Sequence[str] = ()) -> ControlServer | None:
    """The control socket, listening (None when PRODSERVER_CONTROL is False); a second supervisor
    of the same project, or a path we must not use, is a CommandError that says so."""
    from django_prodserver.control.config import load_control_path
    from django_prodserver.control.server import ControlServer

    try:
        path = load_control_path(create=True, names=names)
        return ControlServer(path) if path is not None else None
    except ConfigError as e:
        raise CommandError(e.message) from None


def refuse_leftovers(
    plans: list[LaunchPlan],
    policy: Mapping[str, Policy],
    config: OpsConfig | None,
    activated: Sequence[socket.socket] = (),
) -> None:
    """A port one of the processes (or the ops endpoint) binds is held already, most often by
    the children of a killed earlier run: say which pids, and what to type; start nothing. A
    port systemd holds for us (``activated``) is not a leftover."""
    from django_prodserver.launch.supervisor.activation import matches
    from django_prodserver.launch.supervisor.leftovers import check

    binds = [
        (repr(p.process), str(p.options.get("host") or ""), port, f"give it another port: --set {p.process}.port=PORT")
        for p in plans
        if isinstance(port := p.options.get("port"), int)
        and not p.options.get("socket")
        and not policy[p.process].oneshot
        and not any(matches(s, str(p.options.get("host") or "127.0.0.1"), port, None) for s in activated)
    ]
    if config is not None:
        binds.append(("the ops endpoint", config.host, config.port, f"pick another port in {config.source}"))
    problems = check(binds)
    if problems:
        raise CommandError("\n".join(problems))


def supervise(plans: list[LaunchPlan], options: dict[str, Any], first_run: Callable[[], object] | None = None) -> int:
    """Start every plan as a child and supervise it until stopped; returns the exit code.

    ``first_run`` (one plan, ops endpoint on): the child's first start is a fork of this process
    that runs it (the plan as if alone: no second Django setup); restarts spawn the child argv."""
    from django_prodserver.launch import collector
    from django_prodserver.launch.supervisor import activation, sdnotify

    # systemd's notify socket and activated sockets are ours alone: no child sees the variables.
    notifier = sdnotify.Notifier.from_environ(os.environ)
    activated = activation.activated(os.environ)
    sdnotify.strip(os.environ)
    activation.strip(os.environ)
    collector.resume()  # the supervisor runs for as long as its children (and forks the first)
    try:
        policy = policies(plans)
        if first_run is not None and len(plans) == 1:
            policy = {plans[0].process: alone_policy(plans[0].process, policy[plans[0].process])}
        specs = child_specs(plans, options, policy)
    except ConfigError as e:
        raise CommandError(e.message) from None
    config = ops_config()
    refuse_leftovers(plans, policy, config, activated)
    control = control_server([p.process for p in plans])  # before any child: a second supervisor here stops now
    try:
        specs = own_listeners(plans, specs, policy, activated)
        return _supervise(plans, options, first_run, specs, policy, config, control, notifier)
    finally:
        for spec in specs:
            for sock in spec.inherit:
                sock.close()
        for sock in activated:
            sock.close()
        if control is not None:
            control.close()
        if notifier is not None:
            notifier.close()


def _supervise(
    plans: list[LaunchPlan],
    options: dict[str, Any],
    first_run: Callable[[], object] | None,
    specs: list[ChildSpec],
    policy: Mapping[str, Policy],
    config: OpsConfig | None,
    control: ControlServer | None,
    notifier: Notifier | None = None,
) -> int:
    runtime: OpsRuntime | None = None
    if config is not None:
        from django_prodserver.ops.runtime import OpsRuntime, Watched
        from django_prodserver.ops.server import bind

        watched = [
            Watched(p.process, p.kind, p.ready, service=not policy[p.process].oneshot, depth=p.queue_depth)
            for p in plans
        ]
        try:
            runtime = OpsRuntime(config, watched, bind)  # binds now: a busy port stops us before any child
        except ConfigError as e:
            raise CommandError(e.message) from None
        specs = [replace(s, env={**s.env, **runtime.child_env(s.name)}) for s in specs]
    if first_run is not None and len(specs) == 1:
        from django.db import connections

        connections.close_all()  # a forked child must not share the parent's database sockets
        specs = [replace(specs[0], first_run=first_run)]
    no_color = bool(options.get("no_color"))
    force = bool(options.get("force_color"))
    colour = (force or (not no_color and os.isatty(1)), force or (not no_color and os.isatty(2)))
    from django_prodserver.launch.supervisor import Supervisor

    sys.stdout.flush()
    sys.stderr.flush()
    supervisor = Supervisor(
        specs,
        prefix=not options.get("no_prefix") and len(plans) > 1,  # one process: its lines as they are
        colour=colour,
        verbosity=int(options.get("verbosity", 1)),
        json_logs=json_logs(plans),
        hooks=runtime,
        control=control,
        reload_on_hup=True,
    )
    if notifier is not None:  # the top-level supervisor only: it is the service systemd sees
        from django_prodserver.launch.supervisor.sdnotify import Herald

        supervisor.systemd = Herald(notifier)
    if runtime is None:
        return supervisor.run()
    if int(options.get("verbosity", 1)) >= 1:
        supervisor._say(f"ops endpoint on http://{config.host}:{config.port} (/livez /readyz /startupz /metrics)")  # type: ignore[union-attr]
    try:
        return supervisor.run()
    finally:
        runtime.close()


def describe_single_ops(plan: LaunchPlan | None = None) -> str:
    """What ``--dry-run`` of one process says about the ops endpoint."""
    from django_prodserver.ops.config import describe as describe_ops

    config = ops_config()
    if config is None:
        return describe_ops(None)
    from django_prodserver.ops.config import CHILD_ENV

    if os.environ.get(CHILD_ENV):
        return "ops endpoint: served by the parent prodserver supervisor"
    if plan is not None and not supervised_for_ops(plan):
        return "ops endpoint: not started for a one-shot process (it would hold the port a server needs)"
    return (
        describe_ops(config) + "\n  the process runs as the one child of a prodserver supervisor, which serves the "
        "endpoint beside it (forwards signals, turns readiness 503 at SIGTERM; no restart unless RESTART is set)"
    )
