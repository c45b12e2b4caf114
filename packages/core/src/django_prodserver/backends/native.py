"""Native flags in ARGS and after ``--`` read back into option values: what runs is what is shown.

Every option declaration knows the native flags that set it: its ``flag``/``switch`` (one value,
one option) and its ``reads`` (a composite flag such as gunicorn's ``--bind HOST:PORT``, whose
value sets several options). :func:`read_native` turns one layer of native arguments into option
values; :func:`adopt_native` applies ARGS and ``--`` to an option table with the documented
precedence, so the plan, ``--dry-run``, the banner, exports and the argv built from them agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django_prodserver.backends.argv import Arg, FlagSpec, flatten, parse
from django_prodserver.backends.options import Option
from django_prodserver.errors import ConfigError
from django_prodserver.plan import OptionTable

#: A composite flag's reader: its value as written -> the options it sets (raw text or values).
Reader = Callable[[str], Mapping[str, Any]]

#: The check id of an OPTIONS value that a native flag in ARGS contradicts.
CONFLICT_ID = "prodserver.E021"
ARGS_SOURCE = "settings ARGS"
CLI_SOURCE = "command line --"


def bind_reader(default_port: int | None = None) -> Reader:
    """A reader for ``HOST:PORT`` binds (``[::1]:8000``, ``:8000``, ``unix:PATH``, ``tcp://HOST:PORT``):
    ``{"host": ..., "port": ...}`` or ``{"socket": PATH}``; a bind without a port gets
    ``default_port`` (gunicorn's 8000), a file descriptor bind (``fd://3``) sets nothing."""

    def read(text: str) -> Mapping[str, Any]:
        text = text.strip()
        if text.startswith("unix:"):
            return {"socket": text[len("unix:") :]}
        if text.startswith("fd://"):
            return {}
        text = text.removeprefix("tcp://")
        port: str | None = None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host = text  # a bare name, or an IPv6 address without brackets (no port)
        found: dict[str, Any] = {"host": host or "0.0.0.0"}
        if port:
            found["port"] = port
        elif default_port is not None:
            found["port"] = default_port
        return found

    return read


@dataclass(frozen=True)
class NativeValue:
    """One option's value as a native flag gives it."""

    option: str
    value: Any
    #: The canonical flag (what a later layer replaces) and the tokens as written.
    flag: str
    given: str
    source: str


def _readers(options: Sequence[Option], spec: FlagSpec) -> dict[str, list[tuple[Option, Reader | None]]]:
    """canonical flag -> the options it sets, with the reader of a composite (None: the value is
    this option's own)."""
    found: dict[str, list[tuple[Option, Reader | None]]] = {}
    for opt in options:
        spellings = [opt.native_name(), *((opt.switch or ("", ""))[:2])]
        for spelling in spellings:
            if spelling and " " not in spelling:
                found.setdefault(spec.canonical(spelling), []).append((opt, None))
        for flag, reader in opt.reads:
            found.setdefault(spec.canonical(flag), []).append((opt, reader))
    return found


def _spelling_and_text(arg: Arg, spec: FlagSpec) -> tuple[str, str | None]:
    """``("--bind", "0.0.0.0:8111")`` for ``--bind=0.0.0.0:8111``, ``-b 0.0.0.0:8111`` or ``-c8``;
    ``("", "0.0.0.0:8000")`` for a positional argument (what a ``reads`` entry with flag ``""`` reads)."""
    first = arg.tokens[0]
    if arg.flag is None:
        return "", first
    if first.startswith("--") and "=" in first:
        spelling, text = first.split("=", 1)
        return spelling, text
    if spec.joined_short(first):
        return first[:2], first[2:]
    return first, (" ".join(arg.tokens[1:]) if len(arg.tokens) > 1 else None)


def _coerce(opt: Option, raw: Any, where: str) -> Any:
    """A native value in the option's type. Choices compare case-insensitively (``-l INFO``); a
    choice the server knows and prodserver does not (``--log-level trace``) is kept as written."""
    if not isinstance(raw, str):
        return opt.validate(raw, where)
    if opt.convert is None and (opt.kind == "choice" or (opt.kind == "str" and opt.choices)):
        lowered = {c.lower(): c for c in opt.choices}
        return lowered.get(raw.lower(), raw)
    return opt.from_native(raw, where)


def _same(opt: Option | None, a: Any, b: Any) -> bool:
    """Equal values, or values the server spells alike (``warning`` and ``info`` are both ``-v 1``)."""
    if a == b:
        return True
    if opt is None or a is None or b is None:
        return False
    try:
        return opt.native_value(a) == opt.native_value(b)
    except (KeyError, ValueError, TypeError):
        return False


def read_native(
    options: Sequence[Option], spec: FlagSpec, argv: Sequence[str], *, source: str, where: str
) -> dict[str, NativeValue]:
    """The option values the native arguments ``argv`` set (the last occurrence of a flag wins,
    as it does in argparse and click). A value that cannot be the option's type is a
    :class:`ConfigError` naming ``where`` and the flag: the server would run something else."""
    readers = _readers(options, spec)
    found: dict[str, NativeValue] = {}
    for arg in parse(argv, spec):
        entries = readers.get(arg.flag or "")
        if not entries:
            continue
        spelling, text = _spelling_and_text(arg, spec)
        given = " ".join(arg.tokens)
        composite: dict[int, Mapping[str, Any]] = {}
        for opt, reader in entries:
            if reader is not None:
                values = composite.setdefault(id(reader), reader(text or ""))
                if opt.name not in values:
                    continue
                raw: Any = values[opt.name]
            elif opt.switch is not None or opt.kind == "bool":
                off = spelling in spec.negations or (opt.switch is not None and spelling == opt.switch[1])
                raw = not off
            elif text is None:
                continue  # a flag without its value: the server reports it
            else:
                raw = text
            value = _coerce(opt, raw, f"{where} {given!r}")
            where_from = f"{source} {spelling}" if spelling else source
            found[opt.name] = NativeValue(opt.name, value, arg.flag or spelling, given, where_from)
    return found


@dataclass(frozen=True)
class Adopted:
    """An option table with the native values written in, and the ARGS to pass on."""

    options: OptionTable
    #: ARGS without the flags a ``--set`` overrides (the command line beats ARGS).
    args: tuple[str, ...]
    #: What was left out of ARGS, and why (for ``--dry-run``).
    dropped: tuple[str, ...] = ()


def adopt_native(
    opts: OptionTable,
    options: Sequence[Option],
    spec: FlagSpec,
    args: Sequence[str],
    cli: Sequence[str],
    *,
    args_where: str,
    options_where: Callable[[str], str],
) -> Adopted:
    """Apply ARGS, then native arguments after ``--``, to ``opts`` with the precedence
    defaults < environment < OPTIONS < ARGS < ``--set`` < ``--``.

    ARGS that contradict OPTIONS are a :class:`ConfigError` (``prodserver.E021``) naming both
    values: one of them is a mistake, and the server would silently run the ARGS value."""
    from_args = read_native(options, spec, args, source=ARGS_SOURCE, where=args_where)
    from_cli = read_native(options, spec, cli, source=CLI_SOURCE, where="native arguments after --")
    declared = {o.name: o for o in options}
    overridden: set[str] = set()
    dropped: list[str] = []
    for name, native in from_args.items():
        current = opts.values.get(name)
        source = current.source if current is not None else "default"
        if source == "command line --set":
            overridden.add(native.flag)
            dropped.append(f"{native.given} (--set {name} wins)")
            continue
        if source == "settings OPTIONS":
            if current is not None and not _same(declared.get(name), current.value, native.value):
                raise ConfigError(
                    options_where(name),
                    f"is {current.value!r} but ARGS {native.given!r} sets {name} to {native.value!r} (the server "
                    f"would run {native.value!r}, not what OPTIONS says)",
                    f"keep one: remove {name!r} from OPTIONS or {native.given!r} from ARGS",
                    check_id=CONFLICT_ID,
                )
            continue
        opts = opts.with_value(name, native.value, native.source)
    for name, native in from_cli.items():
        opts = opts.with_value(name, native.value, native.source)
    # A positional that a declaration reads leaves ARGS: the backend renders it from the plan
    # (merging cannot replace a positional, so keeping it would pass two).
    positionals = {n.given for n in from_args.values() if n.flag == ""}
    kept = flatten(
        a
        for a in parse(args, spec)
        if (a.flag is None and a.tokens[0] not in positionals) or (a.flag is not None and a.flag not in overridden)
    )
    return Adopted(opts, tuple(kept), tuple(dict.fromkeys(dropped)))
