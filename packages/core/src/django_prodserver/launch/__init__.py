"""Launch: start what a plan says, one process (``runner``) or several (``supervision`` and
``supervisor/``), with forked ``copies`` for servers that have no workers of their own."""
