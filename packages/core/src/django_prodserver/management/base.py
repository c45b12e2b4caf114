"""Shared machinery of ``prodserver`` (and its upstream aliases ``server``/``worker``)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.backends.loading import load_backend, plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings.config import ALLOW_DEV_ENV, SUBCOMMANDS, ProcessConfig, dev_allowed, load_processes

#: Printed under the errors when the checks before a start fail.
SKIP_HINT = (
    "{command} ran these system checks before starting. Fix them (python manage.py check lists them all), "
    'silence one with SILENCED_SYSTEM_CHECKS = ["<id>"] in settings, or start without the checks by '
    "adding --skip-checks to the same command (python manage.py {command} {names} --skip-checks)"
)


class NativeArgsParser(CommandParser):
    """A CommandParser that keeps everything after ``--`` as native server arguments, and
    hands ``prodserver <subcommand> ...`` to that subcommand's own parser."""

    #: Subcommand words this parser dispatches (empty for ``devserver`` and the aliases).
    subcommand_names: frozenset[str] = frozenset()

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        if argv and argv[0] in self.subcommand_names:
            from django_prodserver.management import subcommands

            command = subcommands.load(argv[0])
            # From the command line, a usage error prints usage and exits 2 (no traceback).
            command._called_from_command_line = self.called_from_command_line  # type: ignore[attr-defined]
            sub = command.create_parser(self.prog, argv[0])
            ns = sub.parse_args(argv[1:], namespace)
            ns.prodserver_subcommand = argv[0]
            return ns
        native: list[str] = []
        if "--" in argv:
            cut = argv.index("--")
            argv, native = argv[:cut], argv[cut + 1 :]
        ns = super().parse_args(argv, namespace)
        ns.native_args = list(ns.native_args or []) + native
        return ns


def parse_sets(values: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, str]]:
    """``--set workers=3`` (every selected process) or ``--set web.workers=3`` (one)."""
    out: dict[str, dict[str, str]] = {n: {} for n in names}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--set {item!r}: expected option=value, e.g. --set workers=4")
        target, dot, option = key.rpartition(".")
        if dot:
            if target not in out:
                raise CommandError(
                    f"--set {item!r}: {target!r} is not one of the processes being started ({', '.join(names)})"
                )
            out[target][option] = value
        else:
            for name in names:
                out[name][key] = value
    return out


class ProcessCommand(BaseCommand):
    """Start configured processes. Subclasses may restrict which backend kinds they accept."""

    help = "Start production processes configured in settings.PRODUCTION_PROCESSES."
    #: Backend kinds this command starts (None = all).
    allowed_kinds: frozenset[str] | None = None
    #: Backend kinds refused unless the environment variable ``ALLOW_DEV_ENV`` is true: development
    #: servers (kind ``dev``) do not belong in a production process (``devserver`` clears this).
    refuse_kinds: frozenset[str] = frozenset({"dev"})
    command_name = "prodserver"
    #: True for ``prodserver`` itself: ``prodserver probe|export|bench ...`` dispatch.
    has_subcommands = False

    def get_version(self) -> str:
        """``--version``: prodserver's version and each installed backend distribution's (not Django's)."""
        from django_prodserver.backends.registry import installed_versions

        return installed_versions()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:  # read the installed distributions only when --version is given
            if isinstance(action, argparse._VersionAction):
                action.__class__ = _LazyVersion
                action.version = None
                action.command = self  # type: ignore[attr-defined]
        parser.__class__ = NativeArgsParser
        if self.has_subcommands:
            assert isinstance(parser, NativeArgsParser)
            parser.subcommand_names = SUBCOMMANDS
            words = ", ".join(sorted(parser.subcommand_names))
            parser.description = f"{parser.description or self.help} Subcommands: {words} (prodserver WORD --help)."
        return parser

    #: The processes this run starts, when named on the command line (their checks run first).
    _starting: frozenset[str] | None = None

    def execute(self, *args: Any, **options: Any) -> Any:
        """Run a subcommand when the parser found one, else start processes."""
        from django_prodserver.launch import collector

        name = options.pop("prodserver_subcommand", None)
        if name:
            collector.resume(freeze=False)  # a probe, an export or a bench: not a start
            from django_prodserver.management import subcommands

            return subcommands.load(name).execute(*args, **options)
        names = [*args, *(options.get("names") or [])]
        if any(options.get(k) for k in ("list", "list_options", "schema")):
            collector.resume(freeze=False)
            # They only describe, and --list shows what is wrong with each process itself: a
            # failing check must not hide the table that helps fix it.
            options["skip_checks"] = True
        starts = not any(options.get(k) for k in ("all", "list", "list_options", "schema"))
        self._starting = frozenset(names) if names and starts else None
        return super().execute(*args, **options)

    def check(self, *args: Any, **kwargs: Any) -> None:
        """Django's system checks before a start (or --dry-run), without the two whose cost grows
        with the project and whose verdict the code alone decides (see :mod:`.startchecks`)."""
        from django.core.management.base import SystemCheckError

        from django_prodserver.checks import only_processes
        from django_prodserver.management.startchecks import start_checks_only

        with start_checks_only(), only_processes(self._starting):
            try:
                super().check(*args, **kwargs)
            except SystemCheckError as e:
                names = " ".join(sorted(self._starting)) if self._starting else "..."
                raise SystemCheckError(f"{e}\n{SKIP_HINT.format(command=self.command_name, names=names)}") from None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="process names (default: 'web')")
        parser.add_argument("--all", action="store_true", help="start every configured process")
        parser.add_argument("--list", action="store_true", help="list configured processes and installed backends")
        parser.add_argument("--dry-run", action="store_true", help="print the resolved plan and exit")
        parser.add_argument(
            "--list-options",
            action="store_true",
            help="print each backend's options (type, default, native flag, reason); with NAMEs, theirs",
        )
        parser.add_argument(
            "--schema", action="store_true", help="print a JSON Schema of PRODUCTION_PROCESSES for editors"
        )
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="OPTION=VALUE",
            help="override a uniform option (NAME.OPTION=VALUE for one process)",
        )
        parser.add_argument(
            "--no-prefix",
            action="store_true",
            help="with several processes, do not prefix each output line with the process name",
        )
        parser.add_argument("--native-arg", action="append", dest="native_args", default=[], help=argparse.SUPPRESS)
        parser.epilog = "Arguments after -- are passed to the server untouched and win over settings."

    def handle(self, *args: str, **options: Any) -> None:
        names = [*args, *(options.get("names") or [])]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            try:
                processes = load_processes()
            except ConfigError as e:
                raise CommandError(e.message) from None
            if options["list"]:
                self.list_processes(processes)
                return
            if options.get("list_options"):
                self.list_options(processes, names)
                return
            if options.get("schema"):
                self.print_schema()
                return
            selected = self.select(processes, names, options["all"])
            plans = self.make_plans(processes, selected, options)
        for w in caught:
            if issubclass(w.category, DeprecationWarning):
                self.stderr.write(self.style.WARNING(f"DeprecationWarning: {w.message}"))
        if options["dry_run"]:
            for _, plan in plans:
                self.stdout.write(plan.describe())
            if len(plans) > 1:
                self.stdout.write(self.describe_supervision([p for _, p in plans], options))
            else:
                from django_prodserver.launch.supervision import describe_single_ops

                self.stdout.write(describe_single_ops(plans[0][1]))
            return
        self.start(plans, options)

    # -- selection and planning --------------------------------------------------------

    def select(self, processes: dict[str, ProcessConfig], names: list[str], all_: bool) -> list[str]:
        available = ", ".join(processes) or "(none)"
        if all_:
            if names:
                raise CommandError("give process names or --all, not both")
            if not processes:
                raise CommandError("PRODUCTION_PROCESSES is empty: nothing to start")
            return list(processes)
        if not names:
            if "web" in processes:
                return ["web"]
            raise CommandError(
                f"no process name given and none is called 'web'. Configured: {available}. "
                f"Type: python manage.py {self.command_name} NAME"
            )
        for name in names:
            if name not in processes:
                raise CommandError(f"no process named {name!r} in PRODUCTION_PROCESSES. Configured: {available}")
        if len(set(names)) != len(names):
            raise CommandError("a process name is given twice")
        return names

    def make_plans(
        self, processes: dict[str, ProcessConfig], names: list[str], options: dict[str, Any]
    ) -> list[tuple[Backend, LaunchPlan]]:
        native = tuple(options.get("native_args") or ())
        if native and len(names) > 1:
            raise CommandError("native arguments after -- apply to one process: name exactly one")
        sets = parse_sets(options.get("set") or [], names)
        pythonpath = (options["pythonpath"],) if options.get("pythonpath") else ()
        plans = []
        for name in names:
            ctx = LaunchContext.from_django(
                overrides=sets[name],
                native_args=native,
                pythonpath=pythonpath,
                verbosity=options.get("verbosity", 1),
                companions=tuple(n for n in names if n != name),
            )
            try:
                backend, plan = plan_process(processes[name], ctx)
            except ConfigError as e:
                raise CommandError(e.message) from None
            if self.allowed_kinds is not None and backend.kind not in self.allowed_kinds:
                raise CommandError(
                    f"process {name!r} uses a {backend.kind} backend ({plan.backend}); "
                    f"start it with: python manage.py prodserver {name}"
                )
            if backend.kind in self.refuse_kinds and not dev_allowed():
                raise CommandError(
                    f"process {name!r} uses {plan.backend!r}, a {backend.kind} backend (a development server), "
                    f"which {self.command_name} refuses in production. For local work type: "
                    f"python manage.py devserver {name}. "
                    f"To run it here anyway, set {ALLOW_DEV_ENV}=1 in the environment"
                )
            plans.append((backend, plan))
        return plans

    # -- output ------------------------------------------------------------------------

    def list_processes(self, processes: dict[str, ProcessConfig]) -> None:
        from django_prodserver.backends.registry import installed_backends

        rows = [("NAME", "KIND", "BACKEND", "DISTRIBUTION", "VERSION")]
        for name, config in processes.items():
            try:
                backend, resolved = load_backend(config)
                rows.append((name, backend.kind, resolved.name, resolved.distribution, resolved.version))
            except ConfigError as e:
                rows.append((name, "?", config.backend, f"error: {e.problem}", ""))
        self.stdout.write(_table(rows))
        self.stdout.write("")
        inst = [("INSTALLED BACKEND", "DISTRIBUTION", "VERSION")]
        inst += [(b.name, b.distribution, b.version) for b in installed_backends().values()]
        self.stdout.write(_table(inst))

    def list_options(self, processes: dict[str, ProcessConfig], names: list[str]) -> None:
        from django_prodserver.describe import option_rows

        if names:
            targets = [(n, load_backend(processes[n])[0].__class__) for n in self.select(processes, names, False)]
        else:
            targets = list(self.loadable_backends().items())
        for label, cls in targets:
            self.stdout.write(f"{label} ({cls.name}, {cls.kind}):")
            rows = [("OPTION", "TYPE", "DEFAULT", "NATIVE", "MEANING"), *option_rows(cls)]
            self.stdout.write(_table(rows))
            self.stdout.write("")

    def print_schema(self) -> None:
        import json

        from django_prodserver.describe import json_schema

        self.stdout.write(json.dumps(json_schema(self.loadable_backends()), indent=2, default=str))

    def loadable_backends(self) -> dict[str, type[Backend]]:
        """Installed backends that import; a broken one is reported, not fatal."""
        from django_prodserver.backends.registry import installed_backends

        loaded: dict[str, type[Backend]] = {}
        for item in installed_backends().values():
            try:
                loaded[item.name] = item.load()
            except Exception as e:  # a third party's import error must not hide the others
                self.stderr.write(f"backend {item.name!r} from {item.distribution} failed to import: {e}")
        return loaded

    def describe_supervision(self, plans: list[LaunchPlan], options: dict[str, Any] | None = None) -> str:
        from django_prodserver.launch.supervision import describe_policy

        return describe_policy(plans, options)

    # -- starting ----------------------------------------------------------------------

    def start(self, plans: list[tuple[Backend, LaunchPlan]], options: dict[str, Any]) -> None:
        from django_prodserver.launch import runner
        from django_prodserver.launch.supervision import SUPERVISED_ENV, what_starts

        verbosity = options.get("verbosity", 1)
        supervised = os.environ.get(SUPERVISED_ENV) == "1"  # the supervisor said it all already
        for plan in (p for _, p in plans):  # notes belong to --dry-run and -v 2, warnings always
            for note in plan.notes:
                if not supervised and (verbosity >= 2 or note.startswith("WARNING")):
                    self.stderr.write(self.style.WARNING(f"[{plan.process}] note: {note}"))
            for warning in plan.warnings if not supervised else ():
                self.stderr.write(self.style.WARNING(f"[{plan.process}] warning: {warning}"))
            for line in plan.announcements if verbosity >= 1 and not supervised else ():
                self.stderr.write(_own_line(plan, line, f"[{plan.process}] {line}"))
        for backend, plan in plans:
            try:
                backend.preflight(plan)
            except ConfigError as e:
                raise CommandError(f"cannot start {plan.process!r}: {e.message}") from None
        from django_prodserver.launch.supervision import supervise, supervised_for_ops, supervised_for_systemd

        alone = len(plans) == 1 and not supervised_for_systemd(plans[0][1])
        if alone and not supervised_for_ops(plans[0][1]):
            backend, plan = plans[0]
            if verbosity >= 1 and not supervised:
                self.stderr.write(_starting_line(plan, what_starts(plan)))
            runner.run(plan, backend)
        from functools import partial

        # One process beside the ops endpoint: its first start is a fork that runs it as planned here.
        first_run = partial(runner.run, plans[0][1], plans[0][0]) if len(plans) == 1 else None
        sys.exit(supervise([p for _, p in plans], options, first_run))


class _LazyVersion(argparse._VersionAction):
    """``--version`` that asks the command for its text when given, not at every parse."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        text = self.command.get_version()  # type: ignore[attr-defined]
        parser._print_message(text + "\n", sys.stdout)  # as written: the help formatter would rewrap the lines
        parser.exit()


def _starting_line(plan: LaunchPlan, what: str) -> str:
    """``prodserver: starting 'web': gunicorn on http://...`` (a JSON line in JSON mode)."""
    text = f"starting {plan.process!r}: {what}"
    return _own_line(plan, text, f"prodserver: {text}")


def _own_line(plan: LaunchPlan, message: str, text: str) -> str:
    """``text``, or ``message`` as one JSON line when the process logs JSON."""
    if plan.options.get("log_format") == "json":
        from django_prodserver.launch.supervisor.output import json_line

        return json_line(message, process=plan.process).decode().rstrip("\n")
    return text


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows)
