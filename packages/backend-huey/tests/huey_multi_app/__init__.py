"""A Django app with a django-huey task on a named queue (the contract's touch)."""
