"""``python manage.py prodserver export FORMAT [NAME ...]``: PRODUCTION_PROCESSES as a
Procfile, systemd units, a Compose file or Kubernetes manifests, from the same plans that
``--dry-run`` prints (docs/deploying.md)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.backends.loading import plan_process
from django_prodserver.errors import ConfigError
from django_prodserver.export import FORMATS, instructions, render, render_stdout
from django_prodserver.export.model import ExportModel, ExportProcess, dns_label, export_process, is_secret, order
from django_prodserver.export.platform import CONTAINER_FORMATS, bind, refuse_collectstatic
from django_prodserver.export.probes import ops_port
from django_prodserver.plan import LaunchPlan
from django_prodserver.settings import envfile
from django_prodserver.settings.config import ALLOW_DEV_ENV, ProcessConfig, dev_allowed, load_processes
from django_prodserver.settings.restart import Policy, parse_policy

#: A project name every platform accepts inside its resource names (``NAME-web``, ``NAME-env``).
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$")


class Command(BaseCommand):
    help = "Write PRODUCTION_PROCESSES as a Procfile, systemd units, a Compose file or Kubernetes manifests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", metavar="FORMAT", help="one of: " + ", ".join(FORMATS))
        parser.add_argument("names", nargs="*", default=[], metavar="NAME", help="processes to export (default: all)")
        parser.add_argument("--output", metavar="DIR", help="write files into DIR instead of printing them")
        parser.add_argument("--image", metavar="IMAGE", help="container image (compose, kubernetes)")
        parser.add_argument(
            "--env-file",
            action="append",
            default=[],
            metavar="FILE",
            help=f"dotenv file the exports reference instead of inlining values; repeat for several, the later "
            f"wins (default: ${envfile.ENV_VAR})",
        )
        parser.add_argument(
            "--name",
            metavar="NAME",
            help="project name, the prefix of every exported resource (default: the directory of manage.py)",
        )
        parser.add_argument(
            "--replicas", action="append", default=[], metavar="NAME=N", help="copies of a process (default 1)"
        )
        parser.add_argument("--force", action="store_true", help="write into an output dir that holds other files")
        parser.add_argument(
            "--profiling",
            action="store_true",
            help="kubernetes: also write debug/NAME.profiling.yaml, patches that grant SYS_PTRACE for "
            "prodserver dump/profile (a separate overlay: the base manifests never get it)",
        )

        parser.add_argument(
            "--watchdog",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="systemd: WatchdogSec= on each long-running service (systemd restarts a supervisor that hangs)",
        )
        parser.add_argument(
            "--socket",
            action="store_true",
            help="systemd: a .socket unit holds each web address, so a service restart refuses no connection",
        )

    def handle(self, *args: str, **options: Any) -> None:
        fmt = options["format"]
        if fmt not in FORMATS:
            raise CommandError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
        if options.get("profiling") and fmt != "kubernetes":
            raise CommandError(
                f"--profiling goes with kubernetes only; with {fmt}, run prodserver dump/profile on the host "
                "as root or as the processes' user (docs/how-to/find-out-why-production-is-slow.md)"
            )
        if fmt != "systemd" and (options.get("socket") or options.get("watchdog")):
            raise CommandError(f"--socket and --watchdog go with systemd only, not {fmt}")
        if (options.get("watchdog") or 0) < 0:
            raise CommandError("--watchdog SECONDS must be 0 (off) or more, e.g. --watchdog 30")
        env_paths, env_keys = self.env_files(list(options.get("env_file") or []))
        try:
            processes = load_processes()
        except ConfigError as e:
            raise CommandError(e.message) from None
        names = self.select(processes, list(options.get("names") or []))
        replicas = parse_replicas(options.get("replicas") or [], fmt)
        model = self.build(processes, names, replicas, fmt, env_paths, env_keys, options)
        files = render(fmt, model)
        self.refuse_leaks(processes, names, env_paths, files)
        output = options.get("output")
        if output:
            where = self.write(Path(output), files, bool(options.get("force")))
        else:
            self.stdout.write(render_stdout(fmt, model), ending="")
            where = "stdout"
        for line in [*model.notes, *instructions(fmt, model, where)]:
            self.stderr.write(line)

    # -- inputs --------------------------------------------------------------------------

    def env_files(self, given: list[str]) -> tuple[list[str], frozenset[str]]:
        """Load the dotenv files (later wins, the real environment over all); their paths and names."""
        where = "--env-file" if given else envfile.ENV_VAR
        paths = given or envfile.env_var_paths(os.environ.get(envfile.ENV_VAR, ""))
        if not paths:
            return [], frozenset()
        fulls = [os.path.abspath(p) for p in paths]
        late = [p for p, full in zip(paths, fulls, strict=True) if full not in envfile.loaded]
        try:
            envfile.load_env_files(paths, where=where)
            keys = frozenset(k for full in fulls for k in envfile.read_env_file(full, where))
        except ConfigError as e:
            raise CommandError(e.message) from None
        if late:
            self.stderr.write(
                f"note: settings were read before {', '.join(late)} was loaded, so values settings compute from "
                "the environment did not see it; load it first in manage.py (docs/deploying.md): "
                "from django_prodserver.settings.envfile import load_env_file; load_env_file()"
            )
        return paths, keys

    def select(self, processes: dict[str, ProcessConfig], names: list[str]) -> list[str]:
        available = ", ".join(processes) or "(none)"
        if not processes:
            raise CommandError("PRODUCTION_PROCESSES is empty: nothing to export")
        for name in names:
            if name not in processes:
                raise CommandError(f"no process named {name!r} in PRODUCTION_PROCESSES. Configured: {available}")
        if len(set(names)) != len(names):
            raise CommandError("a process name is given twice")
        return names or list(processes)

    def plan(self, config: ProcessConfig, ctx: LaunchContext) -> tuple[Backend, LaunchPlan]:
        try:
            backend, plan = plan_process(config, ctx)
        except ConfigError as e:
            raise CommandError(e.message) from None
        if backend.kind == "dev" and not dev_allowed():
            raise CommandError(
                f"process {config.name!r} uses {plan.backend!r}, a development server: it does not belong in a "
                f"production export. Pick a production BACKEND, or set {ALLOW_DEV_ENV}=1 to export it anyway"
            )
        return backend, plan

    def build(
        self,
        processes: dict[str, ProcessConfig],
        names: list[str],
        replicas: dict[str, int],
        fmt: str,
        env_paths: list[str],
        env_keys: frozenset[str],
        options: dict[str, Any],
    ) -> ExportModel:
        from django.conf import settings

        from django_prodserver.ops.config import OpsConfig, load_ops_config

        verbosity = int(options.get("verbosity", 1))
        planned = {n: self.plan(processes[n], LaunchContext.from_django(verbosity=verbosity)) for n in names}
        plans = [plan for _, plan in planned.values()]
        try:
            policies: dict[str, Policy] = {
                p.process: parse_policy(p.process, processes[p.process].raw, p.kind) for p in plans
            }
            ops = load_ops_config()
            refuse_collectstatic(fmt, processes, [n for n in names if policies[n].oneshot], names)
        except ConfigError as e:
            raise CommandError(e.message) from None
        check_replicas(replicas, policies, plans)
        notes: list[str] = []
        procs = order(
            [self.exported(fmt, processes[n], *planned[n], policies[n], env_keys, replicas, notes) for n in names]
        )
        slugs = [p.slug for p in procs]
        clash = sorted({s for s in slugs if slugs.count(s) > 1})
        if clash:
            raise CommandError(f"process names {clash} become the same platform name; rename one of them")
        cwd = plans[0].cwd
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "") or settings.SETTINGS_MODULE or ""
        project = ""  # a Procfile names no resource
        if fmt != "procfile" or options.get("name") is not None:
            project, origin = project_name(options.get("name"), cwd)
            notes.insert(0, f"note: project name {project!r} ({origin}): it prefixes every resource name")
        image = options.get("image") or ""
        if fmt in CONTAINER_FORMATS and not image:
            image = f"{project}:latest"
            notes.append(f"note: no --image given: using {image!r} (build it with: docker build -t {image} .)")
        if fmt not in CONTAINER_FORMATS and image:
            notes.append(f"note: --image applies to compose and kubernetes; a {fmt} export runs on the host")
        ops_added = fmt in CONTAINER_FORMATS and ops is None and any(not p.oneshot for p in procs)
        if ops_added:
            ops = OpsConfig(host="127.0.0.1", port=ops_port({p.port for p in procs if p.port}), source="the export")
        manage = os.path.join(cwd, "manage.py")
        if fmt == "systemd" and not os.path.exists(manage):
            notes.append(f"note: {manage} does not exist: ExecStart lines assume the project's manage.py there")
        return ExportModel(
            project=project,
            cwd=cwd,
            python=os.path.abspath(sys.executable),
            manage=manage,
            settings_module=settings_module,
            processes=procs,
            image=image,
            env_files=tuple(reference(p, fmt, options.get("output")) for p in env_paths),
            env_file_keys=env_keys,
            ops=ops if fmt in CONTAINER_FORMATS else None,
            ops_added=ops_added,
            notes=tuple(notes),
            profiling=bool(options.get("profiling")),
            watchdog=float(options.get("watchdog") or 0.0),
            sockets=bool(options.get("socket")),
        )

    def exported(
        self,
        fmt: str,
        config: ProcessConfig,
        backend: Backend,
        plan: LaunchPlan,
        policy: Policy,
        env_keys: frozenset[str],
        replicas: dict[str, int],
        notes: list[str],
    ) -> ExportProcess:
        """One process as the platform will run it: planned again in the platform's environment."""

        def replan(environ: Mapping[str, str], overrides: Mapping[str, str]) -> LaunchPlan:
            ctx = LaunchContext.from_django(environ={**os.environ, **environ}, overrides=overrides)
            return self.plan(config, ctx)[1]

        try:
            bound = bind(fmt, backend, plan, replan)
        except ConfigError as e:
            raise CommandError(e.message) from None
        notes += bound.notes
        return export_process(
            plan,
            policy,
            config.env,
            env_keys,
            replicas.get(config.name, 1),
            reads_port=bound.reads_port,
            extra_args=bound.extra_args,
        )

    # -- outputs -------------------------------------------------------------------------

    def refuse_leaks(
        self,
        processes: dict[str, ProcessConfig],
        names: list[str],
        env_paths: list[str],
        files: list[tuple[str, str]],
    ) -> None:
        """A last guard: no secret value (of ENV or of the env files) may be in any file we write."""
        values = {v for n in names for k, v in processes[n].env.items() if is_secret(k, v)}
        for path in env_paths:
            values |= {v for k, v in envfile.read_env_file(os.path.abspath(path)).items() if is_secret(k, v)}
        values = {v for v in values if len(v) >= 4}
        for name, text in files:
            if any(v in text for v in values):
                raise CommandError(f"refusing to write {name}: it would contain a secret value (please report this)")

    def write(self, out: Path, files: list[tuple[str, str]], force: bool) -> str:
        ours = {out / name for name, _ in files}
        if out.exists() and not out.is_dir():
            raise CommandError(f"--output {out}: exists and is not a directory")
        if out.exists():
            others = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p not in ours)
            if others and not force:
                shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
                raise CommandError(
                    f"--output {out}: the directory holds other files ({shown}); "
                    "choose an empty directory or add --force to write beside them"
                )
        for name, text in files:
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.stdout.write(f"wrote {path}")
        return str(out)


def check_replicas(replicas: dict[str, int], policies: dict[str, Policy], plans: list[LaunchPlan]) -> None:
    for name, count in replicas.items():
        if name not in policies:
            raise CommandError(f"--replicas {name}={count}: {name!r} is not one of the exported processes")
        plan = next(p for p in plans if p.process == name)
        if policies[name].oneshot:
            raise CommandError(f"--replicas {name}={count}: {name!r} is a one-shot release step; it runs once")
        if plan.kind == "scheduler" and count > 1:
            raise CommandError(
                f"--replicas {name}={count}: {name!r} is a scheduler ({plan.backend}); two copies send every "
                "scheduled task twice. Keep it at 1"
            )


def project_name(given: str | None, cwd: str) -> tuple[str, str]:
    """``(name, where it came from)``: ``--name``, else the directory that holds manage.py. Not the
    settings package (``config`` in many templates): that name is the same across projects."""
    if given is not None:
        if not _NAME.match(given):
            raise CommandError(
                f"--name {given!r}: use 1-30 lowercase letters, digits and '-', starting and ending with a letter "
                f"or digit (every platform accepts it in resource names), e.g. --name {dns_label(given)[:30]}"
            )
        return given, "--name"
    folder = cwd if os.path.exists(os.path.join(cwd, "manage.py")) else None
    if folder is None and os.path.basename(sys.argv[0]) == "manage.py":
        folder = os.path.dirname(os.path.abspath(sys.argv[0]))
    if folder is None:
        raise CommandError(
            f"cannot tell the project's name: no manage.py in {cwd}. Give it: --name NAME (lowercase letters, "
            "digits and '-')"
        )
    name = dns_label(os.path.basename(folder))[:30].strip("-")
    if not _NAME.match(name):
        raise CommandError(f"the directory of manage.py, {folder}, gives no usable name: give one with --name NAME")
    return name, f"the directory of manage.py, {folder}; --name NAME chooses another"


def parse_replicas(items: list[str], fmt: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, count = item.partition("=")
        if not sep or not name or not count.strip().isdigit():
            raise CommandError(f"--replicas {item!r}: expected NAME=N with N a whole number, e.g. --replicas web=3")
        out[name] = int(count)
    if out and fmt not in CONTAINER_FORMATS:
        raise CommandError(
            f"--replicas applies to compose and kubernetes; a {fmt} export runs one copy of each process "
            "(scale with the platform: e.g. heroku ps:scale web=3, or more systemd hosts)"
        )
    return out


def reference(path: str, fmt: str, output: str | None) -> str:
    """How a format names an env file: absolute for systemd, relative to the compose file."""
    if fmt == "systemd":
        return os.path.abspath(path)
    if fmt == "compose":
        return os.path.relpath(os.path.abspath(path), os.path.abspath(output or os.getcwd()))
    return path
