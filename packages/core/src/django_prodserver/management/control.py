"""What the control subcommands share (``prodserver status|restart|stop|start|logs``): finding
the supervisor's socket, asking it, and turning what goes wrong into a CommandError (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandError

#: Exit code when the supervisor cannot be asked (none running, permission, configuration);
#: ``status`` exits 1 when it answered that something is not up.
NO_ANSWER = 2


def socket_paths() -> tuple[str, list[str]]:
    """Where to look (for messages) and this project's control sockets: the configured path, or
    the default socket of each supervisor of this project (``web`` and ``worker`` run as two
    services have one each)."""
    from django_prodserver.control.config import SETTING, control_paths
    from django_prodserver.errors import ConfigError

    try:
        found = control_paths()
    except ConfigError as e:
        raise CommandError(e.message, returncode=NO_ANSWER) from None
    if found is None:
        raise CommandError(
            f"the control socket is off ({SETTING} = False): no supervisor answers here", returncode=NO_ANSWER
        )
    return found


def _no_answer(where: str) -> CommandError:
    from django_prodserver.control.client import START_HINT

    return CommandError(
        f"nothing is running here under the prodserver supervisor (no answer on {where}); {START_HINT}",
        returncode=NO_ANSWER,
    )


def _answers(message: dict[str, Any], timeout: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``message`` to each supervisor that answers, in turn, with its path; a CommandError when
    none does (or one cannot be asked: permission, a broken answer)."""
    from django_prodserver.control.client import ControlError, NotRunning, request

    where, paths = socket_paths()
    any_answer = False
    for path in paths:
        try:
            answer = request(path, message) if timeout is None else request(path, message, timeout)
        except NotRunning as e:
            if len(paths) == 1:
                raise CommandError(str(e), returncode=NO_ANSWER) from None
            continue  # a killed supervisor's socket file: the next start replaces it
        except ControlError as e:
            raise CommandError(str(e), returncode=NO_ANSWER) from None
        any_answer = True
        yield path, answer
    if not any_answer:
        raise _no_answer(where)


def _merged(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Several supervisors' ``status`` as one: every row, up only when all are."""
    if len(answers) == 1:
        return answers[0]
    return {
        "ok": all(a.get("ok") for a in answers),
        "supervisors": [a.get("supervisor") for a in answers],
        "processes": [row for a in answers for row in a.get("processes") or []],
        "all_up": all(a.get("all_up") for a in answers),
    }


def _for_name(message: dict[str, Any], timeout: float | None = None) -> tuple[str, dict[str, Any]]:
    """The first supervisor that runs ``message['name']`` and its answer; otherwise the error
    names every process that does run here."""
    known: list[str] = []
    last: dict[str, Any] = {}
    for path, answer in _answers(message, timeout):
        if answer.get("ok"):
            return path, answer
        last = answer
        known += [k for k in answer.get("known") or [] if k not in known]
    if known and message.get("name"):
        raise CommandError(
            f"no process named {message['name']!r} here; known: {', '.join(known)}", returncode=NO_ANSWER
        )
    raise CommandError(str(last.get("error") or last), returncode=NO_ANSWER)


def ask(message: dict[str, Any]) -> dict[str, Any]:
    """One request to this project's supervisor(s); the answer when ``ok``, else a CommandError.
    A request naming a process goes to the supervisor that runs it; ``status`` asks them all."""
    if "name" in message:
        return _for_name(message)[1]
    answers = [answer for _, answer in _answers(message)]
    for answer in answers:
        if not answer.get("ok"):
            raise CommandError(str(answer.get("error") or answer), returncode=NO_ANSWER)
    return _merged(answers)


def _path_of(name: str) -> str:
    """The socket of the supervisor that runs ``name`` (the only one, when there is one)."""
    _, paths = socket_paths()
    if len(paths) == 1:
        return paths[0]
    known: list[str] = []
    for path, answer in _answers({"command": "status"}):
        names = [row.get("name") for row in answer.get("processes") or []]
        if name in names:
            return path
        known += [n for n in names if isinstance(n, str) and n not in known]
    raise CommandError(f"no process named {name!r} here; known: {', '.join(known)}", returncode=NO_ANSWER)


def follow(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The answer to ``message``, then what the supervisor sends after it (``logs --follow``)."""
    from django_prodserver.control.client import ControlError, stream

    where, paths = socket_paths()
    if not paths:
        raise _no_answer(where)
    path = _path_of(str(message.get("name") or ""))
    try:
        for n, answer in enumerate(stream(path, message)):
            if n == 0 and not answer.get("ok"):
                raise CommandError(str(answer.get("error") or answer), returncode=NO_ANSWER)
            yield answer
    except ControlError as e:
        raise CommandError(str(e), returncode=NO_ANSWER) from None


def reload(name: str | None, timeout: float) -> list[dict[str, Any]]:
    """Ask for a reload (of ``name``, or of everything every supervisor here runs) and wait for
    the answers: each says per process whether its new generation took over."""
    if name:
        path = _path_of(name)
        from django_prodserver.control.client import ControlError, request

        try:
            return [request(path, {"command": "reload", "name": name}, timeout)]
        except ControlError as e:
            raise CommandError(str(e), returncode=NO_ANSWER) from None
    return [answer for _, answer in _answers({"command": "reload"}, timeout)]
