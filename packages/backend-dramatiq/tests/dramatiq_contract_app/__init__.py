"""A Django app whose tasks module the worker autodiscovers (the contract's touch as an actor)."""
