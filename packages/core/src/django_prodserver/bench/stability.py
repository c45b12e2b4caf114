"""Is a ranking real or noise? Pure functions over repeated rounds of requests/s.

Two choices are told apart when, of every pair of one round of each, the faster one wins at
least :data:`WINS` of them (ties count half): with 2 or 3 rounds each that is every pair, with
more, one slow round (another program on the machine) is forgiven. One round each cannot tell
anything, and a median gain under :data:`MIN_GAIN` is noise whatever the rounds say.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: A gain of the median below this is reported as noise even when the rounds do not overlap.
MIN_GAIN = 0.03
#: Share of pairs of rounds the faster choice must win to be faster beyond noise.
WINS = 0.9


@dataclass(frozen=True)
class Spread:
    """The rounds of one choice: median, slowest and fastest round, and how many."""

    median: float
    low: float
    high: float
    rounds: int

    def text(self, unit: str = "") -> str:
        """``1380/s (1300-1420, 4 rounds)``."""
        if self.rounds < 2:
            return f"{self.median:.0f}{unit} (1 round)"
        return f"{self.median:.0f}{unit} ({self.low:.0f}-{self.high:.0f}, {self.rounds} rounds)"


def spread(samples: Sequence[float]) -> Spread:
    """The :class:`Spread` of ``samples`` (all zeros when there are none)."""
    if not samples:
        return Spread(0.0, 0.0, 0.0, 0)
    return Spread(statistics.median(samples), min(samples), max(samples), len(samples))


def wins(faster: Sequence[float], slower: Sequence[float]) -> float:
    """The share of pairs (one round of each) that ``faster`` wins, ties counting half."""
    pairs = [(a > b) + 0.5 * (a == b) for a in faster for b in slower]
    return sum(pairs) / len(pairs) if pairs else 0.0


def separated(faster: Sequence[float], slower: Sequence[float]) -> bool:
    """True when ``faster`` is faster beyond noise: two rounds or more each, at least
    :data:`WINS` of the pairs of rounds won, and a median gain of at least :data:`MIN_GAIN`."""
    if len(faster) < 2 or len(slower) < 2:
        return False
    a, b = spread(faster), spread(slower)
    return wins(faster, slower) >= WINS and b.median > 0 and a.median / b.median - 1 >= MIN_GAIN


@dataclass(frozen=True)
class Verdict:
    """The ranking of several choices by median, and whether its first place is real."""

    order: tuple[str, ...]  # best first
    stable: bool  # the first is faster than the second beyond noise (or it is alone)
    tied: tuple[str, ...]  # the first and every choice within noise of it
    text: str

    @property
    def best(self) -> str:
        return self.order[0] if self.order else ""


def verdict(samples: Mapping[str, Sequence[float]]) -> Verdict:
    """Rank ``samples`` (choice -> requests/s of each round) and say whether the ranking holds.

    >>> verdict({"granian": [900, 950, 1000], "gunicorn": [500, 520, 510]}).text
    'granian is faster than gunicorn beyond noise (950/s vs 510/s, faster in 100% of pairs of rounds)'
    >>> verdict({"granian": [900, 1000], "gunicorn": [950, 980]}).text
    'gunicorn and granian within noise (gunicorn 965/s (950-980, 2 rounds), granian 950/s (900-1000, 2 rounds))'
    """
    ranked = sorted(samples, key=lambda k: spread(samples[k]).median, reverse=True)
    if not ranked:
        return Verdict((), False, (), "nothing measured")
    first = ranked[0]
    if len(ranked) == 1:
        return Verdict((first,), True, (first,), f"{first} is the only choice measured")
    tied = tuple([first, *[k for k in ranked[1:] if not separated(samples[first], samples[k])]])
    second = ranked[1]
    a, b = spread(samples[first]), spread(samples[second])
    if len(tied) == 1:
        text = (
            f"{first} is faster than {second} beyond noise "
            f"({a.median:.0f}/s vs {b.median:.0f}/s, faster in {wins(samples[first], samples[second]):.0%} "
            "of pairs of rounds)"
        )
        return Verdict(tuple(ranked), True, tied, text)
    if min(len(samples[k]) for k in tied) < 2:
        text = (
            f"{first} ahead of {second} ({a.median:.0f}/s vs {b.median:.0f}/s), but one round each "
            "is too few to tell a gain from noise"
        )
    else:
        each = ", ".join(f"{k} {spread(samples[k]).text('/s')}" for k in tied)
        text = f"{' and '.join(tied)} within noise ({each})"
    return Verdict(tuple(ranked), False, tied, text)
