#!/usr/bin/env python
"""Django's command-line utility for the example project."""

import os
import sys

from django_prodserver.settings.envfile import load_env_file

if __name__ == "__main__":
    load_env_file()  # --env-file FILE or PRODSERVER_ENV_FILE, before settings are read (docs/deploying.md)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
