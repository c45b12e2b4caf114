"""What an in-process host needs beyond its server's own argv, as one JSON environment variable.

A backend lists in ``Backend.host_options`` the options its host acts on itself (the drain,
copies, recycling): the plan carries their resolved values in ``PRODSERVER_HOST_PLAN`` and their
spellings stay out of the argv, which then holds only the server's own flags. The host reads the
values back typed with :meth:`HostPlan.from_environ`; no second parser reads the argv.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from django_prodserver.backends.argv import FlagSpec
    from django_prodserver.backends.options import Option
    from django_prodserver.plan import OptionTable

#: The environment variable that carries the plan to the host (shown by ``--dry-run``).
HOST_PLAN_ENV = "PRODSERVER_HOST_PLAN"

T = TypeVar("T")
D = TypeVar("D")


class HostPlanError(ValueError):
    """``PRODSERVER_HOST_PLAN`` is not what prodserver writes; the message says what is wrong."""


@dataclass(frozen=True)
class HostPlan:
    """Option values for a host, by option name.

    The host reads them back typed, by the type of each default::

        plan = HostPlan.from_environ()
        drain_delay = plan.get("drain_delay", 0.0)  # a float; 0.0 when not planned
    """

    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(cls, opts: OptionTable, names: Iterable[str]) -> HostPlan:
        """The resolved values of ``names`` (an option the table lacks is left out)."""
        return cls({name: opts[name] for name in names if name in opts.values})

    def dumps(self) -> str:
        return json.dumps(dict(self.values), sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> HostPlan:
        try:
            values = json.loads(text)
        except ValueError as e:
            raise HostPlanError(f"{HOST_PLAN_ENV} is not JSON ({e}): {text!r}") from None
        if not isinstance(values, dict):
            raise HostPlanError(f"{HOST_PLAN_ENV} must be a JSON object of option values, found {text!r}")
        return cls(values)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HostPlan:
        """The plan in the environment; empty (every value its default) when it is not set."""
        text = (os.environ if environ is None else environ).get(HOST_PLAN_ENV, "")
        return cls.loads(text) if text.strip() else cls()

    def read(self, cls: type[D], **given: Any) -> D:
        """A dataclass ``cls`` from ``given`` and, for each other field with a default, the
        planned value (typed by that default, see :meth:`get`)."""
        planned = {
            f.name: self.get(f.name, f.default)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name not in given and f.default is not dataclasses.MISSING
        }
        return cls(**given, **planned)

    def get(self, name: str, default: T) -> T:
        """``name``'s value, of the type of ``default`` (an int is a float too); ``default`` when
        the plan has no value for it (a ``None`` default takes any value). Any other type is a
        :class:`HostPlanError` naming it."""
        value = self.values.get(name)
        if value is None or default is None:
            return cast("T", value) if value is not None else default
        kind = type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return cast("T", float(value))
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        raise HostPlanError(
            f"{HOST_PLAN_ENV}[{name!r}] is {value!r} ({type(value).__name__}), expected {kind.__name__}"
        )


def host_flags(options: Sequence[Option], names: Iterable[str], spec: FlagSpec) -> frozenset[str]:
    """The canonical native spellings (``flag``/``switch``) of the options ``names``."""
    wanted = set(names)
    found: set[str] = set()
    for opt in options:
        if opt.name in wanted:
            for spelling in (opt.native_name(), *(opt.switch or ())):
                if spelling and " " not in spelling:
                    found.add(spec.canonical(spelling))
    return frozenset(found)


def without_flags(argv: Sequence[str], flags: frozenset[str], spec: FlagSpec) -> list[str]:
    """``argv`` without the flags ``flags`` (and their values): the host plan carries them."""
    from django_prodserver.backends.argv import flatten, parse

    return flatten(a for a in parse(argv, spec) if a.flag is None or a.flag not in flags)
