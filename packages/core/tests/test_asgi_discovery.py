"""A stock project's ASGI app is found beside WSGI_APPLICATION; nothing found keeps the old error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from django_prodserver.backends.asgi_discovery import asgi_beside_wsgi, sibling_module
from django_prodserver.backends.base import LaunchContext, WebBackend
from django_prodserver.backends.options import WEB_OPTIONS, Option
from django_prodserver.errors import ConfigError
from django_prodserver.plan import OptionTable
from django_prodserver.settings.config import load_process


class AsgiServer(WebBackend):
    """The smallest ASGI server a third party could write: loads ``app_path`` and nothing else."""

    name = "asgi-server"
    module = "asgi_server"
    capabilities = frozenset({"http", "asgi"})
    options: ClassVar[tuple[Option, ...]] = (WEB_OPTIONS["interface"].declare(default="asgi"),)

    def build_args(self, opts: OptionTable, ctx: LaunchContext) -> list[str]:
        return [self.app_path(opts, ctx)]


def stock_layout(root: Path, *, with_asgi: bool) -> Path:
    """What `django-admin startproject site` writes, as far as discovery cares."""
    package = root / "site_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "wsgi.py").write_text("application = None\n")
    if with_asgi:
        (package / "asgi.py").write_text("raise RuntimeError('planning must not import the asgi module')\n")
    return root


def plan_of(root: Path, entry: dict[str, Any], **ctx: Any) -> Any:
    values: dict[str, Any] = {"environ": {}, "cwd": str(root), "wsgi_application": "site_pkg.wsgi.application"}
    values.update(ctx)
    return AsgiServer(load_process("web", {"BACKEND": "asgi-server", **entry})).plan(LaunchContext(**values))


def test_sibling_module_of_dotted_and_colon_forms() -> None:
    assert sibling_module("mysite.wsgi.application") == "mysite.asgi"
    assert sibling_module("mysite.wsgi:application") == "mysite.asgi"
    assert sibling_module("config.wsgi.application") == "config.asgi"
    assert sibling_module("wsgi.application") == "asgi"
    assert sibling_module("asgi.application") is None and sibling_module("application") is None


def test_stock_project_serves_the_asgi_module_beside_wsgi_and_says_so(tmp_path: Path) -> None:
    root = stock_layout(tmp_path, with_asgi=True)
    plan = plan_of(root, {})
    assert plan.args == ("site_pkg.asgi:application",)
    note = "site_pkg.asgi:application from the asgi module beside settings.WSGI_APPLICATION"
    assert any(note in n for n in plan.notes)
    assert "site_pkg.asgi" not in sys.modules  # found, never imported


def test_asgi_application_setting_and_app_win_without_a_note(tmp_path: Path) -> None:
    root = stock_layout(tmp_path, with_asgi=True)
    plan = plan_of(root, {}, asgi_application="site_pkg.routing.application")
    assert plan.args == ("site_pkg.routing:application",) and not plan.notes
    plan = plan_of(root, {"APP": "other.asgi:app"})
    assert plan.args == ("other.asgi:app",) and not plan.notes


def test_wsgi_interface_never_looks_for_asgi(tmp_path: Path) -> None:
    root = stock_layout(tmp_path, with_asgi=True)
    plan = plan_of(root, {"OPTIONS": {"interface": "wsgi"}})
    assert plan.args == ("site_pkg.wsgi:application",) and not plan.notes


def test_nothing_beside_wsgi_gives_the_old_error(tmp_path: Path) -> None:
    root = stock_layout(tmp_path, with_asgi=False)
    with pytest.raises(ConfigError, match=r"no APP given and settings.ASGI_APPLICATION is not set"):
        plan_of(root, {})
    with pytest.raises(ConfigError, match=r"no APP given and settings.ASGI_APPLICATION is not set"):
        plan_of(root, {}, wsgi_application=None)
    assert asgi_beside_wsgi("site_pkg.wsgi.application", (str(root),)) is None
