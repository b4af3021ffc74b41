"""Retry policies: a value that turns an attempt number into a decision."""

from __future__ import annotations

import random
from dataclasses import dataclass

from neuronx.config import RetrySettings

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, for at most ``max_attempts`` tries.

    The delay after attempt ``n`` (1-based) is drawn uniformly from
    ``[d/2, d]`` where ``d = min(max_seconds, base_seconds * 2**(n-1))``: the
    half that stays keeps the backoff growing, the random half keeps many
    failing jobs from retrying in lockstep.
    """

    max_attempts: int = 8
    base_seconds: float = 2.0
    max_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(settings.max_attempts, settings.base_seconds, settings.max_seconds)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after ``attempt``; the smallest is half of it."""
        exponent = min(attempt - 1, 62)
        return float(min(self.max_seconds, self.base_seconds * 2**exponent))

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when none is left."""
        if attempt >= self.max_attempts:
            return None
        ceiling = self.ceiling(attempt)
        return (rng or random).uniform(ceiling / 2, ceiling)
