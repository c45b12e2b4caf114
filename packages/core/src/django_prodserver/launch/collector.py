"""Python's cyclic garbage collector paused while a start builds its heap, frozen once it serves.

A Django start allocates tens of thousands of long-lived objects, and CPython's collector
traverses them again at every full collection as they pile up: on the example project 122
collections took ~65 ms of waitress' ~300 ms to its first request, and found 722 objects of
garbage. From the moment prodserver is imported in a process that is a start (``manage.py
prodserver ...``, or the upstream ``server``/``worker``) until it hands over to the server, the
collector is off; then ``gc.freeze()`` moves the start's objects out of the collector's sight
(no later collection traverses or writes them, which also keeps forked workers' pages shared,
as the ``gc.freeze`` docs advise for pre-fork servers) and the collector runs as usual.

Every path out of a start that goes on running resumes it: the in-process hand-over
(``launch.runner.run``), the supervisor, and the command's non-start modes (``--list``,
``--list-options``, ``--schema``, subcommands); an exec starts a new interpreter with its own
collector, and ``--dry-run`` prints and exits. If another app's command answers to the word,
``ProdserverConfig.ready`` resumes at once. ``PRODSERVER_GC_PAUSE=0`` turns the pause off; a
collector the user turned off stays off. (Its boolean words are ``backends.options``' own,
written out here: this module is imported by every process that imports prodserver.)
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping, Sequence

#: Set to 0/false/no/off to leave the collector alone during a start.
PAUSE_ENV = "PRODSERVER_GC_PAUSE"
#: The management commands whose run is a start (``devserver`` reloads: not paused).
START_COMMANDS = frozenset({"prodserver", "server", "worker"})

_paused = False


def is_start(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """True when this process' command line starts processes through one of our commands."""
    if environ.get(PAUSE_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return len(argv) > 1 and argv[1] in START_COMMANDS


def pause_for_start(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Turn the collector off if this process is a start and the collector is on; True if paused."""
    global _paused
    if _paused or not gc.isenabled():
        return False
    if not is_start(sys.argv if argv is None else argv, os.environ if environ is None else environ):
        return False
    gc.disable()
    _paused = True
    return True


def resume(freeze: bool = True) -> None:
    """Turn the collector back on if :func:`pause_for_start` turned it off (else do nothing).

    ``freeze``: first move every object the start made to the permanent generation, for a
    process that now serves (or forks) with them; False where the process goes on to do other
    work that leaves its own garbage (``--list``, a subcommand)."""
    global _paused
    if not _paused:
        return
    _paused = False
    if freeze:
        gc.freeze()
    gc.enable()


def paused() -> bool:
    """Whether the collector is off because of :func:`pause_for_start`."""
    return _paused
