"""What /proc says about a child's process tree: state, CPU, memory, TCP connections (Linux).

Read by the ops endpoint from outside the children, so no worker library needs to cooperate.
Every reader returns an empty or neutral answer where /proc is missing or a process is gone."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_ESTABLISHED = "01"
_LISTEN = "0A"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return raw.rsplit(")", 1)[-1].split()


def state(pid: int) -> str:
    """One-letter scheduler state (R, S, D, T, t, Z, ...) or "" when the process is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else ""


def parent(pid: int) -> int:
    """The parent pid, or 0 when the process is gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else 0


def command(pid: int) -> str:
    """The command line, space-joined ("" when gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def _children_by_parent() -> dict[int, list[int]]:
    """Every process' children, by parent pid (one pass over /proc; empty where it is missing)."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    return parents


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, in pid order."""
    return sorted(_children_by_parent().get(pid, ()))


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, parents before their children (one pass over /proc).

    The one process-tree walker: ops, the supervisor, the test kit and the benchmarks use it."""
    parents = _children_by_parent()
    out = [pid]
    i = 0
    while i < len(out):
        out.extend(parents.get(out[i], ()))
        i += 1
    return out


def cpu_seconds(pids: Iterable[int], *, reaped: bool = False) -> float:
    """User + system CPU time of these processes, in seconds; with ``reaped``, also that of the
    children they waited for (a worker recycled by max_requests is gone, its CPU was spent)."""
    total = 0
    last = 15 if reaped else 13  # utime, stime (, cutime, cstime)
    for pid in pids:
        fields = _stat_fields(pid)
        if fields and len(fields) >= last:
            total += sum(int(x) for x in fields[11:last])
    return total / _CLK_TCK


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident set size of these processes, summed (shared pages counted per process)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """Inodes of the sockets these processes hold open."""
    out: set[int] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(int(target[8:-1]))
    return out


def _decode(hex_addr: str) -> tuple[str, int]:
    """``0100007F:18EB`` (/proc/net/tcp, host byte order words) -> ("127.0.0.1", 6379)."""
    addr, port = hex_addr.split(":")
    raw = bytes.fromhex(addr)
    # The kernel prints each 32-bit word in host order; turn every word back into network order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if _little_endian() else raw
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    host = socket.inet_ntop(family, words)
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host, int(port, 16)


def _little_endian() -> bool:
    import sys

    return sys.byteorder == "little"


def _tcp_rows(proc: str, state: str) -> Iterator[list[str]]:
    """Rows of ``<proc>/net/tcp`` and ``tcp6`` in TCP ``state``, split into fields (inode: [9])."""
    for name in ("tcp", "tcp6"):
        try:
            with open(f"{proc}/net/{name}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == state:
                yield parts


def listener_rows(port: int) -> list[list[str]]:
    """The /proc/net/tcp{,6} rows (split into fields: inode [9], ``tx:rx`` queues [4]) of every
    TCP listener of ``port`` in our network namespace."""
    return [parts for parts in _tcp_rows("/proc", _LISTEN) if _decode(parts[1])[1] == port]


def listening(port: int) -> dict[int, str]:
    """Sockets listening on TCP ``port`` in our network namespace: inode -> the address it holds."""
    return {int(parts[9]): _decode(parts[1])[0] for parts in listener_rows(port)}


def holders(inodes: set[int]) -> list[int]:
    """Pids (of those we may look into) holding any of these sockets open, lowest first."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    return sorted(int(e) for e in entries if e.isdigit() and socket_inodes([int(e)]) & inodes)


def established(pid: int, inodes: set[int]) -> set[tuple[str, int]]:
    """Remote ``(host, port)`` of ESTABLISHED TCP connections whose socket is in ``inodes``.

    /proc/<pid>/net/tcp lists the whole network namespace; the inodes pick this tree's."""
    if not inodes:
        return set()
    return {_decode(parts[2]) for parts in _tcp_rows(f"/proc/{pid}", _ESTABLISHED) if int(parts[9]) in inodes}


def resolve(host: str, port: int) -> set[tuple[str, int]]:
    """Every address ``host:port`` may connect to (``localhost`` is 127.0.0.1 and ::1)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return {(host, port)}
    return {(str(info[4][0]), port) for info in infos}


def pids() -> list[int]:
    """Every process we can see, lowest pid first."""
    try:
        return sorted(int(e) for e in os.listdir("/proc") if e.isdigit())
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with (what exec gave it; later changes it made to
    its own ``os.environ`` do not show); empty when gone or not ours to read."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def argv(pid: int) -> list[str]:
    """The command line as a list ("[]" when gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0") if part] if raw else []


def cwd(pid: int) -> str:
    """The working directory of ``pid`` ("" when gone or not ours to read)."""
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def ptrace_scope() -> int | None:
    """``kernel.yama.ptrace_scope`` (0 classic, 1 descendants only, 2 admin only, 3 never);
    None where Yama is not in the kernel."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


#: Capability bit of CAP_SYS_PTRACE (linux/capability.h).
CAP_SYS_PTRACE = 19


def has_capability(bit: int) -> bool | None:
    """Whether this process holds capability ``bit`` in its effective set (None: unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def owner(pid: int) -> int | None:
    """The uid owning ``pid`` (None when gone)."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
