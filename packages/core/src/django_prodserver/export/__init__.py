"""Export PRODUCTION_PROCESSES to a platform's files: Procfile, systemd, Compose, Kubernetes.

Pure functions from an :class:`~.model.ExportModel` (built from the LaunchPlans) to text;
``python manage.py prodserver export FORMAT`` is the command around them."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from django_prodserver.export import compose, kubernetes, procfile, systemd
from django_prodserver.export.model import ExportModel, ExportProcess

FORMATS: dict[str, ModuleType] = {
    "procfile": procfile,
    "systemd": systemd,
    "compose": compose,
    "kubernetes": kubernetes,
}


def render(fmt: str, model: ExportModel) -> list[tuple[str, str]]:
    """(relative file name, text) for every file of format ``fmt``."""
    renderer: Callable[[ExportModel], list[tuple[str, str]]] = FORMATS[fmt].render
    return renderer(model)


def render_stdout(fmt: str, model: ExportModel) -> str:
    """Everything as one text: a YAML stream for Kubernetes, named sections for systemd."""
    if fmt == "kubernetes":
        return kubernetes.render_stream(model)
    files = render(fmt, model)
    if len(files) == 1:
        return files[0][1]
    return "\n".join(f"### {name}\n{text}" for name, text in files)


def instructions(fmt: str, model: ExportModel, where: str) -> list[str]:
    result: list[str] = FORMATS[fmt].instructions(model, where)
    return result


__all__ = ["FORMATS", "ExportModel", "ExportProcess", "instructions", "render", "render_stdout"]
