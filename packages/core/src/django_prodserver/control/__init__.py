"""The supervisor's control socket: where it listens (``config``), the JSON-lines protocol
(``protocol``), the listener inside the supervisor's loop (``server``) and the client the
``prodserver status|restart|stop|start|logs`` commands use (``client``).

docs/reference/control.md documents the protocol."""
