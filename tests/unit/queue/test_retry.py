"""Retry policy: jittered, capped exponential backoff for a bounded number of tries."""

from __future__ import annotations

import random

import pytest

from neuronx.config import RetrySettings
from neuronx.queue.retry import RetryPolicy


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_seconds, policy.max_seconds) == (
        8,
        2.0,
        3600.0,
    )


def test_ceiling_doubles_from_base_and_caps() -> None:
    policy = RetryPolicy(max_attempts=20, base_seconds=2, max_seconds=100)
    ceilings = [policy.ceiling(n) for n in range(1, 10)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 100.0, 100.0, 100.0]
    assert all(isinstance(value, float) for value in ceilings)


def test_ceiling_of_a_huge_attempt_is_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10_000, base_seconds=1, max_seconds=3600)
    assert policy.ceiling(5000) == 3600.0


@pytest.mark.parametrize("attempt", range(1, 8))
def test_delay_within_half_ceiling_and_ceiling(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=2, max_seconds=60)
    rng = random.Random(attempt)
    ceiling = policy.ceiling(attempt)
    for _ in range(200):
        delay = policy.delay(attempt, rng=rng)
        assert delay is not None
        assert ceiling / 2 <= delay <= ceiling


def test_delay_spreads_over_the_range() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=10, max_seconds=3600)
    rng = random.Random(7)
    delays = [policy.delay(1, rng=rng) for _ in range(500)]
    values = [delay for delay in delays if delay is not None]
    assert len(values) == 500
    assert min(values) < 5.5
    assert max(values) > 9.5
    assert len(set(values)) > 400


def test_delay_without_rng_uses_the_module_random() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=4, max_seconds=60)
    delay = policy.delay(2)
    assert delay is not None
    assert 4.0 <= delay <= 8.0


@pytest.mark.parametrize("attempt", [5, 6, 100])
def test_no_delay_at_or_after_max_attempts(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1, max_seconds=10)
    assert policy.delay(attempt, rng=random.Random(0)) is None


def test_the_last_retry_is_before_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1, max_seconds=10)
    assert policy.delay(4, rng=random.Random(0)) is not None


def test_a_single_attempt_never_retries() -> None:
    assert RetryPolicy(max_attempts=1).delay(1) is None


def test_deterministic_with_a_seeded_random() -> None:
    policy = RetryPolicy()
    first = [policy.delay(n, rng=random.Random(42)) for n in range(1, 8)]
    second = [policy.delay(n, rng=random.Random(42)) for n in range(1, 8)]
    assert first == second
    other = [policy.delay(n, rng=random.Random(43)) for n in range(1, 8)]
    assert first != other


def test_deterministic_sequence_from_one_rng() -> None:
    policy = RetryPolicy()
    rng_a, rng_b = random.Random(5), random.Random(5)
    assert [policy.delay(n, rng=rng_a) for n in range(1, 8)] == [
        policy.delay(n, rng=rng_b) for n in range(1, 8)
    ]


def test_from_settings() -> None:
    settings = RetrySettings(max_attempts=3, base_seconds=0.5, max_seconds=5)
    policy = RetryPolicy.from_settings(settings)
    assert policy == RetryPolicy(max_attempts=3, base_seconds=0.5, max_seconds=5.0)
    assert policy.ceiling(1) == 0.5
    assert policy.delay(3) is None


def test_from_default_settings() -> None:
    assert RetryPolicy.from_settings(RetrySettings()) == RetryPolicy()
