"""An empty gunicorn config: passed with ``-c`` so ./gunicorn.conf.py is only read when asked."""
