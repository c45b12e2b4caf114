"""Before a start: is a port a process will bind already held (the leftovers of a killed run)?
Names the pids and commands holding it, and what to type."""

from __future__ import annotations

from collections.abc import Sequence

from django_prodserver.ops import procfs

#: Addresses that take the port on every interface.
WILDCARD = ("0.0.0.0", "::", "")
#: Longest command shown per holder.
SHOWN = 100


def overlaps(ours: str, theirs: str, port: int) -> bool:
    """True when a listener on ``theirs`` keeps us from binding ``ours`` (same port)."""
    if ours in WILDCARD or theirs in WILDCARD:
        return True
    return theirs in {host for host, _ in procfs.resolve(ours.strip("[]"), port)}


def held(what: str, host: str, port: int, other: str) -> str | None:
    """What holds ``host:port`` that ``what`` is about to bind, said for a user; None if free.
    ``other`` says how to pick another port instead."""
    inodes = {inode for inode, addr in procfs.listening(port).items() if overlaps(host, addr, port)}
    if not inodes:
        return None
    where = f"{host or '0.0.0.0'}:{port}"
    pids = procfs.holders(inodes)
    if not pids:
        return (
            f"cannot start {what}: {where} is already in use by a process this user cannot see (another "
            f"user's?). Find it with: ss -ltnp 'sport = :{port}' (as root), or {other}"
        )
    roots = [p for p in pids if procfs.parent(p) not in pids]  # its workers go with the master
    lines = [f"cannot start {what}: {where} is already in use, held by:"]
    for pid in pids:
        cmd = procfs.command(pid)
        lines.append(f"  pid {pid}: {cmd[:SHOWN] + ('...' if len(cmd) > SHOWN else '')}")
    kill = " ".join(map(str, roots))
    lines += [
        "Probably left over from an earlier run that was killed. To stop it gracefully, type:",
        f"  kill {kill}",
        f"(kill -9 {kill} if it is still there after its graceful timeout), or {other}",
    ]
    return "\n".join(lines)


def check(binds: Sequence[tuple[str, str, int, str]]) -> list[str]:
    """The messages for every ``(name, host, port, other)`` already held; empty when all are free."""
    return [msg for name, host, port, other in binds if port and (msg := held(name, host, port, other))]
