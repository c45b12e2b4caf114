"""Describe a click command's flags (aliases, switches, --no-x negations) as a FlagSpec."""

from __future__ import annotations

from typing import Any

from django_prodserver.argv import FlagSpec


def click_flag_spec(command: Any) -> FlagSpec:
    """Read every option of ``command`` so native args replace configured ones, never pile up."""
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
