"""A Django app whose tasks module the consumer autodiscovers (the contract's touch as a huey task)."""
