"""The declarative configuration file: what validates and what is refused, where."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from neuronx.config import Config, load_config, parse_config
from neuronx.errors import ConfigError
from neuronx.ingest.signatures import Scheme

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "neuronx.yaml"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def document(**tenant: Any) -> dict[str, Any]:
    """A small valid document; ``tenant`` replaces fields of its one tenant."""
    base: dict[str, Any] = {
        "plans": [{"id": "starter", "limits": {"leads": {"limit": 1000}}}],
        "tenants": [
            {
                "id": "acme",
                "plan": "starter",
                "sources": [
                    {
                        "id": "forms",
                        "scheme": "standard-webhooks",
                        "secrets": [SW_SECRET],
                    }
                ],
                "reps": [{"id": "alice", "team": "emea", "timezone": "Europe/Berlin"}],
            }
        ],
    }
    base["tenants"][0].update(tenant)
    return base


def refused(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.errors
    return info.value


def paths(error: ConfigError) -> list[str]:
    return [entry.partition(": ")[0] for entry in error.errors]


def rule(condition: Any) -> dict[str, Any]:
    return {"scoring": {"rules": [{"if": condition, "points": 10}]}}


# --- files --------------------------------------------------------------------


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE)
    assert isinstance(config, Config)
    assert [plan.id for plan in config.plans] == ["starter"]
    (tenant,) = config.tenants
    assert tenant.id == "acme"
    assert tenant.plan == "starter"
    assert [(s.id, s.scheme) for s in tenant.sources] == [
        ("forms", Scheme.STANDARD_WEBHOOKS),
        ("stripe", Scheme.STRIPE),
    ]
    assert [rep.id for rep in tenant.reps] == ["alice", "bob", "carol"]
    assert tenant.overrides["leads"].multiplier == 2
    assert config.settings.timestamp_tolerance_seconds == 300


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "neuronx.yaml"
    path.write_text("tenants: [\n  - id: acme\n    plan: {unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_file_with_a_bad_field_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "neuronx.yaml"
    path.write_text("settings:\n  timestamp_tolerance_seconds: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert paths(info.value) == ["settings.timestamp_tolerance_seconds"]


def test_empty_file_is_the_default_config(tmp_path: Path) -> None:
    path = tmp_path / "neuronx.yaml"
    path.write_text("")
    config = load_config(path)
    assert config.tenants == []
    assert config.settings.timestamp_tolerance_seconds == 300


@pytest.mark.parametrize("data", [[], "text", 42])
def test_document_that_is_not_a_mapping_is_refused(data: Any) -> None:
    assert paths(refused(data)) == ["(root)"]


# --- every bad field is reported ----------------------------------------------


def test_every_bad_field_is_listed_with_its_path() -> None:
    data = document(
        sources=[{"id": "forms", "scheme": "webhooks-v9", "secrets": ["x"]}],
        reps=[
            {
                "id": "alice",
                "team": "emea",
                "timezone": "Mars/Olympus_Mons",
                "working_hours": "9 to 5",
            }
        ],
    )
    error = refused(data)
    assert sorted(paths(error)) == [
        "tenants.0.reps.0.timezone",
        "tenants.0.reps.0.working_hours",
        "tenants.0.sources.0.scheme",
    ]
    assert all(": " in entry for entry in error.errors)


def test_valid_document_parses() -> None:
    config = parse_config(document())
    assert config.tenants[0].sources[0].scheme is Scheme.STANDARD_WEBHOOKS


@pytest.mark.parametrize("hours", ["09:00-17:00", "00:00-24:00", "22:00-06:00"])
def test_working_hours_accepted(hours: str) -> None:
    data = document(reps=[{"id": "alice", "team": "emea", "working_hours": hours}])
    assert parse_config(data).tenants[0].reps[0].working_hours == hours


@pytest.mark.parametrize(
    "hours", ["9:00-17:00", "09:00-25:00", "24:00-10:00", "09:60-17:00"]
)
def test_working_hours_refused(hours: str) -> None:
    data = document(reps=[{"id": "alice", "team": "emea", "working_hours": hours}])
    assert paths(refused(data)) == ["tenants.0.reps.0.working_hours"]


# --- unknown keys -------------------------------------------------------------


def test_unknown_top_level_key_is_refused() -> None:
    data = document()
    data["tennants"] = []
    assert paths(refused(data)) == ["tennants"]


def test_unknown_tenant_key_is_refused() -> None:
    assert paths(refused(document(colour="blue"))) == ["tenants.0.colour"]


def test_unknown_source_key_is_refused() -> None:
    data = document()
    data["tenants"][0]["sources"][0]["secret"] = SW_SECRET
    assert paths(refused(data)) == ["tenants.0.sources.0.secret"]


def test_unknown_settings_key_is_refused() -> None:
    data = document()
    data["settings"] = {"retry": {"max_attempts": 3, "jitter": True}}
    assert paths(refused(data)) == ["settings.retry.jitter"]


# --- plans --------------------------------------------------------------------


def test_tenant_naming_a_missing_plan_is_refused() -> None:
    error = refused(document(plan="enterprise"))
    assert any("tenants.0.plan" in entry for entry in error.errors)
    assert any("enterprise" in entry for entry in error.errors)


def test_tenant_without_plan_is_accepted() -> None:
    data = document()
    del data["tenants"][0]["plan"]
    assert parse_config(data).tenants[0].plan is None


def test_plan_is_resolved_against_the_plans_list() -> None:
    data = document(plan="pro")
    data["plans"].append({"id": "pro"})
    assert parse_config(data).tenants[0].plan == "pro"


# --- sources and secrets ------------------------------------------------------


def source(scheme: str, secrets: list[str]) -> dict[str, Any]:
    return {"id": "src", "scheme": scheme, "secrets": secrets}


def test_two_secrets_are_accepted() -> None:
    other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    data = document(sources=[source("standard-webhooks", [SW_SECRET, other])])
    assert parse_config(data).tenants[0].sources[0].secrets == [SW_SECRET, other]


def test_three_secrets_are_refused() -> None:
    data = document(sources=[source("stripe", ["a", "b", "c"])])
    assert paths(refused(data)) == ["tenants.0.sources.0.secrets"]


def test_no_secret_is_refused() -> None:
    data = document(sources=[source("stripe", [])])
    assert paths(refused(data)) == ["tenants.0.sources.0.secrets"]


@pytest.mark.parametrize(
    "secret", ["whsec_not base64!", "whsec_", "whsec_stripe_example_secret"]
)
def test_standard_webhooks_secret_must_be_base64(secret: str) -> None:
    data = document(sources=[source("standard-webhooks", [SW_SECRET, secret])])
    error = refused(data)
    assert paths(error) == ["tenants.0.sources.0"]
    assert "secrets.1" in error.errors[0]


@pytest.mark.parametrize("scheme", ["stripe", "hub-sha256", "slack"])
def test_other_schemes_take_any_secret_text(scheme: str) -> None:
    data = document(sources=[source(scheme, ["whsec_stripe_example_secret"])])
    assert parse_config(data).tenants[0].sources[0].scheme == Scheme(scheme)


def test_destination_secret_must_be_standard_webhooks() -> None:
    destination = {"id": "crm", "url": "https://crm.example/hook", "secret": "plain"}
    data = document(destinations=[destination])
    assert paths(refused(data)) == ["tenants.0.destinations.0.secret"]
    destination["secret"] = SW_SECRET
    assert parse_config(data).tenants[0].destinations[0].secret == SW_SECRET


def test_repeated_source_ids_are_refused() -> None:
    data = document()
    sources = data["tenants"][0]["sources"]
    sources.append(copy.deepcopy(sources[0]))
    refused(data)


# --- conditions ---------------------------------------------------------------


def test_field_with_one_operator_is_a_condition() -> None:
    config = parse_config(document(**rule({"field": "employees", "gte": 1})))
    condition = config.tenants[0].scoring.rules[0].if_
    assert condition.field == "employees"
    assert condition.gte == 1


@pytest.mark.parametrize(
    "condition",
    [
        {"all": [{"field": "country", "in": ["DE", "FR"]}, {"field": "x", "gte": 1}]},
        {"any": [{"field": "x", "exists": True}]},
        {"not": {"field": "x", "eq": None}},
        {"all": [{"any": [{"not": {"field": "title", "matches": "(?i)vp"}}]}]},
        {"field": "x", "eq": 0},
    ],
)
def test_combined_conditions_are_accepted(condition: dict[str, Any]) -> None:
    assert parse_config(document(**rule(condition)))


def test_all_keeps_its_members() -> None:
    condition = {"all": [{"field": "a", "gte": 1}, {"field": "b", "lt": 2}]}
    parsed = parse_config(document(**rule(condition))).tenants[0].scoring.rules[0].if_
    assert parsed.all is not None
    assert [(c.field, c.gte, c.lt) for c in parsed.all] == [
        ("a", 1, None),
        ("b", None, 2),
    ]


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "x"},
        {"field": "x", "gte": 1, "lte": 5},
        {"field": "x", "eq": 1, "ne": 2},
        {"gte": 1},
        {"field": "x", "between": [1, 2]},
        {"field": "x", "matches": "(unclosed"},
        {"field": "x", "matches": "[a-"},
        {"all": [{"field": "x", "gte": 1}], "field": "x"},
        {"all": [], "any": []},
        {},
        "x > 1",
        ["field", "x"],
    ],
)
def test_malformed_condition_is_refused(condition: Any) -> None:
    assert paths(refused(document(**rule(condition)))) == [
        "tenants.0.scoring.rules.0.if"
    ]


def test_bad_regex_is_reported_as_such() -> None:
    error = refused(document(**rule({"field": "x", "matches": "(unclosed"})))
    assert "regular expression" in error.errors[0]


def test_malformed_nested_condition_is_refused_at_its_path() -> None:
    condition = {"all": [{"field": "x", "gte": 1}, {"field": "y"}]}
    data = document(routing={"rules": [{"name": "r", "if": condition, "team": "emea"}]})
    assert paths(refused(data)) == ["tenants.0.routing.rules.0.if.all.1"]


# --- overrides ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "multiplier", "limit"),
    [({"multiplier": 2}, 2.0, None), ({"limit": 5}, None, 5), ({"limit": 0}, None, 0)],
)
def test_override_with_one_of_multiplier_or_limit(
    override: dict[str, Any], multiplier: float | None, limit: int | None
) -> None:
    parsed = parse_config(document(overrides={"leads": override}))
    result = parsed.tenants[0].overrides["leads"]
    assert (result.multiplier, result.limit) == (multiplier, limit)


@pytest.mark.parametrize("override", [{}, {"multiplier": 2, "limit": 5}])
def test_override_needs_exactly_one_of_multiplier_or_limit(
    override: dict[str, Any],
) -> None:
    error = refused(document(overrides={"leads": override}))
    assert paths(error) == ["tenants.0.overrides.leads"]
