"""Procfile (Heroku, Dokku, honcho, foreman): one line per process, one-shots as ``release:``.

A Procfile has one ``release`` line, so several one-shots become one prodserver command that
runs them in order, each exiting 0 before the next (no shell, no ``&&``)."""

from __future__ import annotations

import re
import shlex

from django_prodserver.export.model import ExportModel

_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def render(model: ExportModel) -> list[tuple[str, str]]:
    lines: list[str] = []
    if model.releases:
        names = [p.name for p in model.releases]
        lines.append("release: " + shlex.join(["python", "manage.py", "prodserver", *names]))
    for proc in model.services:
        key = _NAME.sub("-", proc.name)
        lines.append(f"{key}: " + shlex.join(proc.argv()))
    return [("Procfile", "\n".join(lines) + "\n")]


def instructions(model: ExportModel, where: str) -> list[str]:
    out = [f"Procfile: {where}. Run it locally with `honcho start` (it sets PORT for each line)."]
    if model.env_file:
        out.append(
            f"The environment file is not copied in: set PRODSERVER_ENV_FILE={model.env_file} where the "
            "processes run (loaded before settings, see docs/deploying.md), or use the platform's config vars."
        )
    secrets = sorted({k for p in model.processes for k in p.secret_env})
    if secrets:
        out.append("Set these secrets as the platform's config vars, not in files: " + ", ".join(secrets))
    return out
