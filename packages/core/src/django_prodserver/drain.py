"""Helpers for the drain phase backends run after SIGTERM: is anyone still waiting to be served?"""

from __future__ import annotations

import socket
import struct

# struct tcp_info: 8 bytes of u8 fields, then u32 rto, ato, snd_mss, rcv_mss, unacked...
# For a listening socket Linux reports the accept-queue length in tcpi_unacked.
_TCPI_UNACKED_OFFSET = 24


def accept_queue_length(sock: socket.socket) -> int | None:
    """Connections waiting in a TCP listener's accept queue (None where the OS cannot say).

    A drain that stops listening while this is non-zero resets those connections."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(raw) < _TCPI_UNACKED_OFFSET + 4:
        return None
    return int(struct.unpack_from("I", raw, _TCPI_UNACKED_OFFSET)[0])
