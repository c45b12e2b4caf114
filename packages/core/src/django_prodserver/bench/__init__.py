"""``prodserver bench``: the user's own project under each installed web server, measured.

Loopback only, bounded in time, every started server stopped; the load generator is wrk when
installed, else a stdlib client in its own process (never the server's).
"""

from __future__ import annotations
