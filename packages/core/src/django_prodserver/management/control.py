"""What the control subcommands share (``prodserver status|restart|stop|start|logs``): finding
the supervisor's socket, asking it, and turning what goes wrong into a CommandError (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandError

#: Exit code when the supervisor cannot be asked (none running, permission, configuration);
#: ``status`` exits 1 when it answered that something is not up.
NO_ANSWER = 2


def socket_path() -> str:
    from django_prodserver.control.config import SETTING, load_control_path
    from django_prodserver.errors import ConfigError

    try:
        path = load_control_path()
    except ConfigError as e:
        raise CommandError(e.message, returncode=NO_ANSWER) from None
    if path is None:
        raise CommandError(
            f"the control socket is off ({SETTING} = False): no supervisor answers here", returncode=NO_ANSWER
        )
    return path


def ask(message: dict[str, Any]) -> dict[str, Any]:
    """One request to this project's supervisor; its answer when ``ok``, else a CommandError."""
    from django_prodserver.control.client import ControlError, request

    try:
        answer = request(socket_path(), message)
    except ControlError as e:
        raise CommandError(str(e), returncode=NO_ANSWER) from None
    if not answer.get("ok"):
        raise CommandError(str(answer.get("error") or answer), returncode=NO_ANSWER)
    return answer


def follow(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The answer to ``message``, then what the supervisor sends after it (``logs --follow``)."""
    from django_prodserver.control.client import ControlError, stream

    try:
        for n, answer in enumerate(stream(socket_path(), message)):
            if n == 0 and not answer.get("ok"):
                raise CommandError(str(answer.get("error") or answer), returncode=NO_ANSWER)
            yield answer
    except ControlError as e:
        raise CommandError(str(e), returncode=NO_ANSWER) from None
