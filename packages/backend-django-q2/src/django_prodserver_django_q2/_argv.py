"""Reading qcluster's own argv: the one flag that must act before Django sets up."""

from __future__ import annotations

from collections.abc import Sequence


def cluster_name_from_argv(argv: Sequence[str]) -> str | None:
    """``-n NAME`` / ``--name NAME`` / ``--name=NAME``: qcluster sets Q_CLUSTER_NAME from it
    inside ``handle()``, after django-q2 already read its config; we set it before."""
    for i, tok in enumerate(argv):
        if tok.startswith("--name="):
            return tok.split("=", 1)[1]
        if tok in ("-n", "--name") and i + 1 < len(argv):
            return argv[i + 1]
    return None
