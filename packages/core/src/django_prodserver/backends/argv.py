"""Native command-line arguments: normalise upstream ARGS forms and merge without piling up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FlagSpec:
    """What a backend's CLI looks like, enough to tell flags, values and duplicates apart.

    ``aliases`` maps every spelling to one canonical name (``{"-w": "--workers"}``);
    ``switches`` are flags that take no value; ``negations`` map ``--no-x`` to ``--x``.
    """

    aliases: Mapping[str, str] = field(default_factory=dict)
    switches: frozenset[str] = frozenset()
    negations: Mapping[str, str] = field(default_factory=dict)
    #: Flags that take every following value up to the next flag (``-Q a b``).
    multi: frozenset[str] = frozenset()
    #: Style used when converting an upstream ARGS dict: ``--key=value`` or ``--key value``.
    joined: bool = True

    def canonical(self, flag: str) -> str:
        flag = self.aliases.get(flag, flag)
        return self.negations.get(flag, flag)

    def joined_short(self, token: str) -> bool:
        """True for a short flag with its value attached (``-c8``, ``-w4``), as argparse and
        click read it: a known one-letter spelling that takes a value, followed by more text."""
        if token.startswith("--") or len(token) <= 2 or token in self.aliases:
            return False
        return token[:2] in self.aliases and self.takes_value(token[:2])

    def takes_value(self, flag: str) -> bool:
        canon = self.aliases.get(flag, flag)
        return canon not in self.switches and canon not in self.negations and flag not in self.switches


def click_flag_spec(command: Any) -> FlagSpec:
    """Describe a click command's options (aliases, switches, ``--no-x`` negations) as a FlagSpec,
    for servers whose CLI is click (uvicorn, granian): read from the installed version, not guessed."""
    aliases: dict[str, str] = {}
    switches: set[str] = set()
    negations: dict[str, str] = {}
    for param in command.params:
        opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
        if not opts or param.param_type_name != "option":
            continue
        canonical = next((o for o in opts if o.startswith("--")), opts[0])
        for spelling in opts:
            aliases[spelling] = canonical
        if getattr(param, "is_flag", False):
            switches.add(canonical)
            for negative in getattr(param, "secondary_opts", []):
                negations[negative] = canonical
    return FlagSpec(aliases=aliases, switches=frozenset(switches), negations=negations, joined=False)


def click_env_names(command: Any, prefix: str) -> frozenset[str]:
    """The environment variables a click command reads: ``<PREFIX>_<OPTION>`` for each option
    under ``auto_envvar_prefix``, and every ``envvar=`` it names (``UVICORN_APP``)."""
    names: set[str] = set()
    for param in command.params:
        explicit = param.envvar
        names.update([explicit] if isinstance(explicit, str) else list(explicit or ()))
        if param.param_type_name == "option" and param.name and getattr(param, "allow_from_autoenv", True):
            names.add(f"{prefix}_{param.name.upper()}")
    return frozenset(names)


@dataclass(frozen=True)
class Arg:
    """One parsed argument: a flag with its tokens, or a positional (``flag`` is None)."""

    flag: str | None
    tokens: tuple[str, ...]


def parse(argv: Sequence[str], spec: FlagSpec) -> list[Arg]:
    """Split argv into flags (with their values) and positionals."""
    args: list[Arg] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-") and tok != "-" and not _is_number(tok):
            if "=" in tok and tok.startswith("--"):
                flag = tok.split("=", 1)[0]
                args.append(Arg(spec.canonical(flag), (tok,)))
            elif spec.joined_short(tok):
                args.append(Arg(spec.canonical(tok[:2]), (tok,)))  # ``-c8``: the value is attached
            elif spec.canonical(tok) in spec.multi:
                values = []
                while i + 1 < len(argv) and not _looks_like_flag(argv[i + 1]):
                    values.append(argv[i + 1])
                    i += 1
                args.append(Arg(spec.canonical(tok), (tok, *values)))
            elif spec.takes_value(tok) and i + 1 < len(argv) and not _looks_like_flag(argv[i + 1]):
                args.append(Arg(spec.canonical(tok), (tok, argv[i + 1])))
                i += 1
            else:
                args.append(Arg(spec.canonical(tok), (tok,)))
        else:
            args.append(Arg(None, (tok,)))
        i += 1
    return args


def merge(base: Sequence[str], *layers: Sequence[str], spec: FlagSpec) -> list[str]:
    """Apply override layers to ``base``: a flag given in a later layer replaces every
    earlier occurrence of the same flag (by canonical name) instead of piling up."""
    result = parse(base, spec)
    for layer in layers:
        parsed = parse(layer, spec)
        given = {a.flag for a in parsed if a.flag is not None}
        result = [a for a in result if a.flag is None or a.flag not in given] + parsed
    return flatten(result)


def flatten(args: Iterable[Arg]) -> list[str]:
    return [tok for a in args for tok in a.tokens]


def _looks_like_flag(tok: str) -> bool:
    return tok.startswith("-") and tok != "-" and not _is_number(tok)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True
