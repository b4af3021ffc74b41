"""Routing as data: ordered rules, strategies, rep constraints, and the why.

:func:`decide` is pure: it takes the lead, the tenant's routing rules, the
reps with what they were assigned today, the rotation state and the time,
and returns the decision with its explanation and the rotation state to
store. The caller persists it in the same transaction that assigns the lead,
under a per-tenant lock, so rotations stay exact with many workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from neuronx.leads.conditions import describe, evaluate

__all__ = ["Decision", "Rep", "RotationState", "decide", "local_day"]

UNASSIGNED = "unassigned"


@dataclass(frozen=True, slots=True)
class Rep:
    id: str
    team: str
    weight: int = 1
    capacity_per_day: int | None = None
    timezone: str = "UTC"
    working_hours: str | None = None
    available: bool = True
    assigned_today: int = 0


@dataclass
class RotationState:
    """Per team: the last rep a round robin chose, and smooth-weighted counters."""

    last: dict[str, str] = field(default_factory=dict)
    weights: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RotationState:
        data = data or {}
        return cls(
            dict(data.get("last", {})),
            {k: dict(v) for k, v in data.get("weights", {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {"last": self.last, "weights": self.weights}


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str | None
    team: str | None
    strategy: str
    assigned_to: str | None
    explanation: list[str]


def local_day(rep: Rep, now: datetime) -> str:
    """The rep's calendar day at ``now``: capacity resets at the rep's midnight."""
    return now.astimezone(ZoneInfo(rep.timezone)).date().isoformat()


def decide(
    lead: Mapping[str, Any],
    routing: Mapping[str, Any],
    reps: Sequence[Rep],
    state: RotationState,
    now: datetime,
    *,
    current_owner: str | None = None,
    account_owner: str | Callable[[], str | None] | None = None,
) -> Decision:
    """Choose a rep for ``lead``; ``state`` is updated in place when a rotation moves.

    ``current_owner`` is the owner of the lead this one merged into: it is
    kept while eligible. ``account_owner`` owns another lead of the same
    company domain, for the ``sticky`` strategy; it may be a function, called
    only when a sticky rule is reached, so other strategies cost no look-up.
    """
    explanation: list[str] = []
    by_id = {rep.id: rep for rep in reps}

    if current_owner is not None:
        owner = by_id.get(current_owner)
        reason = _ineligible(owner, now) if owner else "no longer a rep"
        if reason is None and owner is not None:
            explanation.append(f"kept current owner {current_owner} (repeat lead)")
            return Decision(None, owner.team, "existing_owner", owner.id, explanation)
        explanation.append(f"current owner {current_owner} not kept: {reason}")

    rule_name, team, strategy = None, None, "round_robin"
    for index, rule in enumerate(routing.get("rules", [])):
        name = rule.get("name") or f"rule {index + 1}"
        if evaluate(rule["if"], lead):
            explanation.append(f"rule {name} matched: {describe(rule['if'])}")
            rule_name, team, strategy = (
                name,
                rule["team"],
                rule.get("strategy", "round_robin"),
            )
            break
        explanation.append(f"rule {name} did not match: {describe(rule['if'])}")
    else:
        explanation.append("no rule matched")

    if team is not None:
        chosen = _assign(team, strategy, reps, state, now, explanation, account_owner)
        if chosen is not None:
            return Decision(rule_name, team, strategy, chosen, explanation)
        explanation.append(f"team {team} has nobody eligible")

    fallback = (routing.get("fallback") or {}).get("team")
    if fallback is not None and fallback != team:
        explanation.append(f"falling back to team {fallback}")
        chosen = _assign(fallback, "round_robin", reps, state, now, explanation, None)
        if chosen is not None:
            return Decision(rule_name, fallback, "round_robin", chosen, explanation)
        explanation.append(f"team {fallback} has nobody eligible")
    explanation.append("left unassigned")
    return Decision(rule_name, None, UNASSIGNED, None, explanation)


def _assign(
    team: str,
    strategy: str,
    reps: Sequence[Rep],
    state: RotationState,
    now: datetime,
    explanation: list[str],
    account_owner: str | Callable[[], str | None] | None,
) -> str | None:
    members = sorted((rep for rep in reps if rep.team == team), key=lambda rep: rep.id)
    eligible = []
    for rep in members:
        reason = _ineligible(rep, now)
        if reason is None:
            eligible.append(rep)
        else:
            explanation.append(f"skipped {rep.id}: {reason}")
    if not eligible:
        return None

    if strategy == "sticky":
        owner_id = account_owner() if callable(account_owner) else account_owner
        owner = next((rep for rep in eligible if rep.id == owner_id), None)
        if owner is not None:
            explanation.append(f"assigned to {owner.id}: owns the account")
            return owner.id
        explanation.append("no eligible account owner; rotating instead")
        strategy = "round_robin"
    if strategy == "weighted":
        return _weighted(team, eligible, state, explanation)
    if strategy == "load_balanced":
        chosen = min(eligible, key=lambda rep: (rep.assigned_today, rep.id))
        explanation.append(
            f"assigned to {chosen.id}: fewest leads today ({chosen.assigned_today})"
        )
        return chosen.id
    return _round_robin(team, members, eligible, state, explanation)


def _round_robin(
    team: str,
    members: list[Rep],
    eligible: list[Rep],
    state: RotationState,
    explanation: list[str],
) -> str:
    order = [rep.id for rep in members]
    allowed = {rep.id for rep in eligible}
    last = state.last.get(team)
    start = order.index(last) + 1 if last in order else 0
    for step in range(len(order)):
        candidate = order[(start + step) % len(order)]
        if candidate in allowed:
            state.last[team] = candidate
            explanation.append(f"assigned to {candidate}: next in round robin")
            return candidate
    raise AssertionError("an eligible rep is always a member")


def _weighted(
    team: str, eligible: list[Rep], state: RotationState, explanation: list[str]
) -> str | None:
    """Smooth weighted round robin: exact shares, evenly interleaved."""
    weighted = [rep for rep in eligible if rep.weight > 0]
    if not weighted:
        explanation.append(f"every eligible rep of team {team} has weight 0")
        return None
    current = state.weights.setdefault(team, {})
    total = sum(rep.weight for rep in weighted)
    for rep in weighted:
        current[rep.id] = current.get(rep.id, 0) + rep.weight
    chosen = max(weighted, key=lambda rep: (current[rep.id], -weighted.index(rep)))
    current[chosen.id] -= total
    share = f"weight {chosen.weight} of {total}"
    explanation.append(f"assigned to {chosen.id}: weighted rotation ({share})")
    return chosen.id


def _ineligible(rep: Rep | None, now: datetime) -> str | None:
    """Why ``rep`` cannot take a lead now, or None when it can."""
    if rep is None:
        return "unknown rep"
    if not rep.available:
        return "not available"
    if not _within_hours(rep, now):
        return f"outside working hours {rep.working_hours} {rep.timezone}"
    if rep.capacity_per_day is not None and rep.assigned_today >= rep.capacity_per_day:
        return f"at capacity ({rep.assigned_today}/{rep.capacity_per_day} today)"
    return None


def _within_hours(rep: Rep, now: datetime) -> bool:
    if not rep.working_hours or rep.working_hours == "00:00-24:00":
        return True
    start_text, end_text = rep.working_hours.split("-")
    local = now.astimezone(ZoneInfo(rep.timezone)).time()
    start = _clock(start_text)
    if end_text == "24:00":
        return local >= start
    end = _clock(end_text)
    if start <= end:
        return start <= local < end
    # A shift past midnight, such as 22:00-06:00.
    return local >= start or local < end


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
