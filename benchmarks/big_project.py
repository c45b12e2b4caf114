"""Write a large Django project (default 40 apps x 20 models, every model in the admin) to a directory.

Start-up cost that grows with the project (model loading, admin autodiscovery, system checks)
hides in the small example; benchmarks/startup_big.py measures prodserver against the native
servers on this one. The project serves ``/`` (a tiny JSON view) and ``/admin/``; its
``web`` process takes BACKEND from ``BIG_WEB_BACKEND`` (default gunicorn).

    python benchmarks/big_project.py DIR [--apps 40] [--models 20]
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

SITE = "bigsite"

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prodserver",
    {apps}
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "bigsite.urls"
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        }},
    }}
]
WSGI_APPLICATION = "bigsite.wsgi.application"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
PRODUCTION_PROCESSES = {{
    "web": {{"BACKEND": os.environ.get("BIG_WEB_BACKEND", "gunicorn"), "OPTIONS": {{"access_log": False}}}},
}}
"""

URLS = """\
from django.contrib import admin
from django.http import JsonResponse
from django.urls import path


def index(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("", index), path("admin/", admin.site.urls)]
"""

WSGI = """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigsite.settings")
application = get_wsgi_application()
"""

ASGI = WSGI.replace("wsgi", "asgi").replace("WSGI", "ASGI")


def model_source(app: str, index: int) -> str:
    """One model: a few common field types, a foreign key to the previous model and an index."""
    name = f"Thing{index:02d}"
    fk = (
        f'    parent = models.ForeignKey("Thing{index - 1:02d}", on_delete=models.CASCADE, '
        f'null=True, blank=True, related_name="children")\n'
        if index
        else ""
    )
    return (
        f"class {name}(models.Model):\n"
        f"    name = models.CharField(max_length=100)\n"
        f"    slug = models.SlugField(unique=True)\n"
        f"    count = models.IntegerField(default=0)\n"
        f"    active = models.BooleanField(default=True)\n"
        f"    created = models.DateTimeField(auto_now_add=True)\n"
        f"    notes = models.TextField(blank=True)\n"
        f"{fk}"
        f"\n"
        f"    class Meta:\n"
        f'        ordering = ["-created"]\n'
        f'        indexes = [models.Index(fields=["name", "count"], name="{app}_{index:02d}_idx")]\n'
        f"\n"
        f"    def __str__(self):\n"
        f"        return self.name\n"
    )


def admin_source(index: int) -> str:
    name = f"Thing{index:02d}"
    extra = '    raw_id_fields = ["parent"]\n' if index else ""
    return (
        f"@admin.register(models.{name})\n"
        f"class {name}Admin(admin.ModelAdmin):\n"
        f'    list_display = ["name", "slug", "count", "active", "created"]\n'
        f'    list_filter = ["active", "created"]\n'
        f'    search_fields = ["name", "slug"]\n'
        f'    prepopulated_fields = {{"slug": ["name"]}}\n'
        f'    readonly_fields = ["created"]\n'
        f"{extra}"
    )


def write_app(root: Path, app: str, models: int) -> None:
    pkg = root / app
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        f"class {app.title()}Config(AppConfig):\n"
        f'    name = "{app}"\n'
        '    default_auto_field = "django.db.models.BigAutoField"\n'
    )
    body = "\n\n".join(model_source(app, i) for i in range(models))
    (pkg / "models.py").write_text(f"from django.db import models\n\n\n{body}")
    admins = "\n\n".join(admin_source(i) for i in range(models))
    (pkg / "admin.py").write_text(f"from django.contrib import admin\n\nfrom . import models\n\n\n{admins}")


def build(root: Path, apps: int = 40, models: int = 20) -> Path:
    """Write the project under ``root`` (created if missing); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    names = [f"app{i:02d}" for i in range(apps)]
    (root / "manage.py").write_text(MANAGE)
    site = root / SITE
    site.mkdir(exist_ok=True)
    (site / "__init__.py").write_text("")
    listed = textwrap.indent("\n".join(f'"{n}",' for n in names), "    ").lstrip()
    (site / "settings.py").write_text(SETTINGS.format(apps=listed))
    (site / "urls.py").write_text(URLS)
    (site / "wsgi.py").write_text(WSGI)
    (site / "asgi.py").write_text(ASGI)
    for name in names:
        write_app(root, name, models)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--apps", type=int, default=40)
    parser.add_argument("--models", type=int, default=20)
    args = parser.parse_args()
    build(args.directory, args.apps, args.models)
    print(f"{args.apps} apps x {args.models} models written to {args.directory}")


if __name__ == "__main__":
    main()
