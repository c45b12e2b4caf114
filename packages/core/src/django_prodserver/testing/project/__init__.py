"""A tiny Django project shipped with the contract suite, so a third party needs no project."""
