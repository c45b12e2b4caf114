"""Launch: start what a plan says, one process (``runner``) or several (``supervision`` and
``supervisor/``, which also runs copies of one server sharing its socket)."""
