"""The declarative configuration file (contract section 4) as pydantic models.

A file is validated whole: one bad field refuses it all, and :func:`load_config`
reports every bad field with its path (``tenants.0.sources.1.scheme``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from neuronx.errors import ConfigError
from neuronx.ingest.signatures import Scheme, decode_secret

__all__ = [
    "Condition",
    "Config",
    "Destination",
    "LimitSpec",
    "Plan",
    "Rep",
    "RetrySettings",
    "Settings",
    "Source",
    "Tenant",
    "load_config",
    "parse_config",
]

_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_HOURS = re.compile(
    r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$"
)
Identifier = Annotated[str, Field(pattern=_IDENTIFIER)]
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "matches",
    "exists",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(_Model):
    max_attempts: int = Field(8, ge=1, le=100)
    base_seconds: float = Field(2, gt=0)
    max_seconds: float = Field(3600, gt=0)


class Settings(_Model):
    timestamp_tolerance_seconds: int = Field(300, ge=1, le=86400)
    idempotency_ttl_seconds: int = Field(86400, ge=60)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    retry: RetrySettings = RetrySettings()
    dead_letter_retention_seconds: int = Field(30 * 86400, ge=3600)


class LimitSpec(_Model):
    limit: int = Field(ge=0)
    period: Literal["day", "month", "year", "lifetime"] = "month"
    soft_ratio: float = Field(0.8, gt=0, le=1)
    on_exceed: Literal["hold", "reject"] = "hold"


class Plan(_Model):
    id: Identifier
    features: dict[str, bool | int] = {}
    limits: dict[str, LimitSpec] = {}


class Override(_Model):
    multiplier: float | None = Field(None, gt=0)
    limit: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> Override:
        if (self.multiplier is None) == (self.limit is None):
            raise ValueError("an override sets exactly one of multiplier or limit")
        return self


class Condition(_Model):
    """``{field: F, OP: VALUE}`` or a combination with ``all``, ``any``, ``not``."""

    field: str | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    gt: int | float | None = None
    gte: int | float | None = None
    lt: int | float | None = None
    lte: int | float | None = None
    contains: Any = None
    matches: str | None = None
    exists: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a condition is a mapping")
        combinators = [k for k in ("all", "any", "not") if k in data]
        operators = [k for k in OPERATORS if k in data]
        if combinators:
            if len(combinators) != 1 or len(data) != 1:
                raise ValueError("all, any and not stand alone in a condition")
        elif "field" not in data or len(operators) != 1 or len(data) != 2:
            raise ValueError("a condition is {field: F, OP: VALUE} with one operator")
        if "matches" in data:
            try:
                re.compile(str(data["matches"]))
            except re.error as exc:
                raise ValueError(f"matches is not a regular expression: {exc}") from exc
        return data


class Source(_Model):
    id: Identifier
    scheme: Scheme
    secrets: list[str] = Field(min_length=1, max_length=2)
    events: list[str] | None = None
    mapping: dict[str, str] = {}
    default_region: str | None = Field(None, pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def _secrets_fit_scheme(self) -> Source:
        for index, secret in enumerate(self.secrets):
            try:
                decode_secret(self.scheme, secret)
            except ValueError as exc:
                raise ValueError(f"secrets.{index}: {exc}") from exc
        return self


class Rep(_Model):
    id: Identifier
    team: str
    weight: int = Field(1, ge=0)
    capacity_per_day: int | None = Field(None, ge=0)
    timezone: str = "UTC"
    working_hours: str | None = None
    available: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None and not _HOURS.match(value):
            raise ValueError("working_hours is HH:MM-HH:MM")
        return value


class ScoringRule(_Model):
    if_: Condition = Field(alias="if")
    points: int
    name: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scoring(_Model):
    rules: list[ScoringRule] = []
    grades: dict[str, int] = {}


class RoutingRule(_Model):
    name: str
    if_: Condition = Field(alias="if")
    team: str
    strategy: Literal["round_robin", "weighted", "load_balanced", "sticky"] = (
        "round_robin"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Fallback(_Model):
    team: str


class Routing(_Model):
    rules: list[RoutingRule] = []
    fallback: Fallback | None = None


class Destination(_Model):
    id: Identifier
    url: str = Field(pattern=r"^https?://")
    secret: str
    events: list[str] = ["lead.routed"]

    @field_validator("secret")
    @classmethod
    def _signing_secret(cls, value: str) -> str:
        decode_secret(Scheme.STANDARD_WEBHOOKS, value)
        return value


class Tenant(_Model):
    id: Identifier
    plan: str | None = None
    api_key: str | None = Field(None, min_length=16)
    overrides: dict[str, Override] = {}
    sources: list[Source] = []
    reps: list[Rep] = []
    scoring: Scoring = Scoring()
    routing: Routing = Routing()
    destinations: list[Destination] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> Tenant:
        for name in ("sources", "reps", "destinations"):
            ids = [item.id for item in getattr(self, name)]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{name} ids repeat")
        return self


class Config(_Model):
    settings: Settings = Settings()
    plans: list[Plan] = []
    tenants: list[Tenant] = []

    @model_validator(mode="after")
    def _references(self) -> Config:
        plan_ids = {plan.id for plan in self.plans}
        for index, tenant in enumerate(self.tenants):
            if tenant.plan is not None and tenant.plan not in plan_ids:
                raise ValueError(f"tenants.{index}.plan: no plan {tenant.plan!r}")
        tenant_ids = [tenant.id for tenant in self.tenants]
        if len(tenant_ids) != len(set(tenant_ids)):
            raise ValueError("tenant ids repeat")
        return self


def parse_config(data: Any) -> Config:
    """Validate a parsed document; raise :class:`ConfigError` listing every bad path."""
    if data is None:
        data = {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = [
            f"{'.'.join(str(part) for part in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("the configuration does not validate", errors) from None


def load_config(path: Path) -> Config:
    """Read and validate a YAML config file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_config(data)
