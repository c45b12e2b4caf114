"""celery's command lines (celery 5.7 ``--help``): global options, worker and beat; checked against click."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django_prodserver.api import FlagSpec

#: ``celery`` global options (``python -m celery --help``, celery 5.7): they must come
#: before the subcommand, so the plan moves them there even when given in ARGS or after ``--``.
GLOBAL_ALIASES: Mapping[str, str] = {
    "-A": "--app",
    "--app": "--app",
    "-b": "--broker",
    "--broker": "--broker",
    "--result-backend": "--result-backend",
    "--loader": "--loader",
    "--config": "--config",
    "--workdir": "--workdir",
    "-C": "--no-color",
    "--no-color": "--no-color",
    "-q": "--quiet",
    "--quiet": "--quiet",
    "--version": "--version",
    "--skip-checks": "--skip-checks",
}
GLOBAL_SWITCHES = frozenset({"--no-color", "--quiet", "--version", "--skip-checks"})


def cli_flags(aliases: Mapping[str, str], switches: frozenset[str], *, joined: bool = True) -> FlagSpec:
    """The subcommand's flags plus celery's global ones, as one FlagSpec."""
    return FlagSpec(aliases={**GLOBAL_ALIASES, **aliases}, switches=switches | GLOBAL_SWITCHES, joined=joined)


#: (every spelling, takes no value) per option; the last ``--`` spelling is canonical.
WORKER_CLI: Sequence[tuple[tuple[str, ...], bool]] = (
    (("-n", "--hostname"), False),
    (("-D", "--detach"), True),
    (("-S", "--statedb"), False),
    (("-l", "--loglevel"), False),
    (("-O", "--optimization"), False),
    (("--prefetch-multiplier",), False),
    (("--disable-prefetch",), True),
    (("-c", "--concurrency"), False),
    (("-P", "--pool"), False),
    (("-E", "--task-events", "--events"), True),
    (("--time-limit",), False),
    (("--soft-time-limit",), False),
    (("--max-tasks-per-child",), False),
    (("--pool-start-method",), False),
    (("--max-memory-per-child",), False),
    (("--purge", "--discard"), True),
    (("-Q", "--queues"), False),
    (("-X", "--exclude-queues"), False),
    (("-I", "--include"), False),
    (("--without-gossip",), True),
    (("--without-mingle",), True),
    (("--without-heartbeat",), True),
    (("--heartbeat-interval",), False),
    (("--autoscale",), False),
    (("-B", "--beat"), True),
    (("-s", "--schedule-filename", "--schedule"), False),
    (("--scheduler",), False),
    (("-f", "--logfile"), False),
    (("--pidfile",), False),
    (("--uid",), False),
    (("--gid",), False),
    (("--umask",), False),
    (("--executable",), False),
)

BEAT_CLI: Sequence[tuple[tuple[str, ...], bool]] = (
    (("--detach",), True),
    (("-s", "--schedule"), False),
    (("-S", "--scheduler"), False),
    (("--max-interval",), False),
    (("--enable-remote-control",), True),
    (("-n", "--hostname"), False),
    (("-l", "--loglevel"), False),
    (("-f", "--logfile"), False),
    (("--pidfile",), False),
    (("--uid",), False),
    (("--gid",), False),
    (("--umask",), False),
    (("--executable",), False),
)


def canonical(spellings: tuple[str, ...]) -> str:
    """The first long spelling (``--task-events`` for ``-E/--task-events/--events``)."""
    return next(s for s in spellings if s.startswith("--"))


def spec(table: Sequence[tuple[tuple[str, ...], bool]], negations: dict[str, str] | None = None) -> FlagSpec:
    aliases = {s: canonical(spellings) for spellings, _ in table for s in spellings}
    switches = frozenset(canonical(spellings) for spellings, switch in table if switch)
    base = cli_flags(aliases, switches)
    return FlagSpec(aliases=base.aliases, switches=base.switches, negations=negations or {})


WORKER_FLAGS = spec(WORKER_CLI)
BEAT_FLAGS = spec(BEAT_CLI, {"--no-enable-remote-control": "--enable-remote-control"})
