"""Procfile (Heroku, Dokku, honcho, foreman): one line per process, one-shots as ``release:``.

A Procfile has one ``release`` line, so several one-shots become one prodserver command that
runs them in order, each exiting 0 before the next (no shell, no ``&&``). Heroku and Dokku run
that line before each deploy; honcho and foreman know no release phase and would run it as one
more long-running process, stopping the whole formation when it exits, so the local hint runs
the release command once and then starts the other lines by name."""

from __future__ import annotations

import os
import re
import shlex

from django_prodserver.export.model import ExportModel

_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def key(name: str) -> str:
    """The Procfile process type of a process name."""
    return _NAME.sub("-", name)


def release_argv(model: ExportModel) -> list[str]:
    return ["python", "manage.py", "prodserver", *[p.name for p in model.releases]]


def render(model: ExportModel) -> list[tuple[str, str]]:
    lines: list[str] = []
    if model.releases:
        lines.append("release: " + shlex.join(release_argv(model)))
    for proc in model.services:
        lines.append(f"{key(proc.name)}: " + shlex.join(proc.argv()))
    return [("Procfile", "\n".join(lines) + "\n")]


def local_commands(model: ExportModel, where: str) -> list[list[str]]:
    """The honcho command lines that run this Procfile locally as printed: the release steps
    once (``honcho run``), then every other line (``honcho start NAME ...``)."""
    base = ["honcho"]
    if where != "stdout":
        base += ["-f", os.path.abspath(os.path.join(where, "Procfile"))]
    out = []
    if model.releases:
        out.append([*base, "run", *release_argv(model)])
    if model.services:
        out.append([*base, "start", *[key(p.name) for p in model.services]])
    return out


def instructions(model: ExportModel, where: str) -> list[str]:
    saved = "stdout (save it as Procfile beside manage.py)" if where == "stdout" else where
    out = [f"Procfile: {saved}."]
    if model.releases:
        out.append(
            "Heroku and Dokku run the release: line before each deploy. honcho and foreman have no release "
            "phase: they would run it as a process and stop every process when it exits. Run it locally, "
            f"from {model.cwd} (each line runs in honcho's working directory), with:"
        )
    else:
        out.append(f"Run it locally, from {model.cwd} (each line runs in honcho's working directory), with:")
    out += ["  " + shlex.join(argv) for argv in local_commands(model, where)]
    if len(model.env_files) == 1:
        out.append(
            f"The environment file is not copied in: set PRODSERVER_ENV_FILE={model.env_files[0]} where the "
            "processes run (loaded before settings, see docs/deploying.md), or use the platform's config vars."
        )
    elif model.env_files:
        joined = os.pathsep.join(model.env_files)
        out.append(
            f"The environment files are not copied in: set PRODSERVER_ENV_FILE={joined} where the processes run "
            f"(several files separated by {os.pathsep!r}, the later wins), or use the platform's config vars."
        )
    secrets = sorted({k for p in model.processes for k in p.secret_env})
    if secrets:
        out.append("Set these secrets as the platform's config vars, not in files: " + ", ".join(secrets))
    return out
