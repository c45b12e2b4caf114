"""The stdlib load generator of ``prodserver bench`` when wrk is not installed.

``python -m django_prodserver.bench.client HOST PORT PATH SECONDS CONNECTIONS`` runs in its
own process (never the server's): one thread per keep-alive ``http.client`` connection,
bounded in time, and prints one JSON line: answers, errors, seconds, p50/p99 latency.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def run(host: str, port: int, path: str, seconds: float, connections: int) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def client(i: int) -> None:
        conn: http.client.HTTPConnection | None = None
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                latencies[i].append(time.monotonic() - began)
                errors[i] += resp.status >= 400
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 15)
    elapsed = time.monotonic() - started
    every = sorted(x for xs in latencies for x in xs)

    def pct(q: float) -> float:
        return every[min(len(every) - 1, int(q * len(every)))] * 1000 if every else 0.0

    return {"answers": len(every), "errors": sum(errors), "seconds": elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def main(argv: list[str]) -> int:
    host, port, path, seconds, connections = argv
    print(json.dumps(run(host, int(port), path, float(seconds), int(connections))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
