"""Scoring as data: points per matching rule, grades by thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neuronx.leads.conditions import describe, evaluate

__all__ = ["Scored", "grade_for", "score"]


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    grade: str | None
    fired: list[dict[str, Any]] = field(default_factory=list)


def score(fields: Mapping[str, Any], scoring: Mapping[str, Any]) -> Scored:
    """Add the points of every rule whose condition holds; grade the total."""
    total = 0
    fired: list[dict[str, Any]] = []
    for index, rule in enumerate(scoring.get("rules", [])):
        if evaluate(rule["if"], fields):
            total += int(rule["points"])
            fired.append(
                {
                    "rule": rule.get("name") or f"rule {index + 1}",
                    "points": int(rule["points"]),
                    "condition": describe(rule["if"]),
                }
            )
    return Scored(total, grade_for(total, scoring.get("grades", {})), fired)


def grade_for(total: int, grades: Mapping[str, int]) -> str | None:
    """The grade with the highest threshold the score reaches, if any."""
    reached = [
        (threshold, name) for name, threshold in grades.items() if total >= threshold
    ]
    return max(reached)[1] if reached else None
