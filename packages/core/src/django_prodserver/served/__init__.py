"""Entry modules a server loads when prodserver wraps the app in layers (see ``serving``).

Like a project's own ``mysite/wsgi.py``, importing ``served.wsgi`` or ``served.asgi`` builds the
app; a real module attribute works with every server's loader (hypercorn ``eval``s the name in
the module's globals, which a PEP 562 ``__getattr__`` cannot answer)."""
