"""Errors that say what was found, what was expected, and what to type instead."""

from __future__ import annotations


class ProdserverError(Exception):
    """Base class of every error django-prodserver raises on purpose."""


class ConfigError(ProdserverError):
    """A setting is wrong: carries the exact key path, the problem and the fix."""

    #: The id of an error raised without one (a bad option); backends' own get their namespace.
    DEFAULT_ID = "prodserver.E002"

    def __init__(self, where: str, problem: str, fix: str = "", *, check_id: str = DEFAULT_ID) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        self.check_id = check_id
        super().__init__(self.message)

    @property
    def problem_text(self) -> str:
        """The message without the fix (system checks show the fix as their HINT)."""
        return f"{self.where}: {self.problem}."

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.problem}"
        return f"{text}. Fix: {self.fix}." if self.fix else f"{text}."


class BackendNotFound(ConfigError):
    """The BACKEND names nothing installed."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(where, problem, fix, check_id="prodserver.E003")
