"""From webhook bodies of any shape to the canonical lead."""

from __future__ import annotations

from typing import Any

import pytest

from neuronx.errors import PermanentJobError
from neuronx.leads.normalize import FREE_MAIL, normalize, seniority

CANONICAL = {
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "domain",
    "free_mail",
    "title",
    "seniority",
    "country",
    "employees",
    "industry",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "consent",
    "issues",
}


def lead_of(**data: Any) -> dict[str, Any]:
    """The lead of a flat body that has a valid email plus ``data``."""
    return normalize({"email": "ada@acme.io", **data})


# --- where values are read from ---------------------------------------------------


def test_default_mapping_from_a_standard_webhooks_body() -> None:
    body = {
        "type": "lead.created",
        "data": {
            "email": "ada@acme.io",
            "firstName": "Ada",
            "last_name": "Lovelace",
            "company_name": "Acme",
            "job_title": "CEO",
            "country": "DE",
            "employee_count": 250,
            "industry": "Software",
            "gdpr_consent": True,
        },
    }
    lead = normalize(body)
    assert set(lead) == CANONICAL
    assert lead["email"] == "ada@acme.io"
    assert lead["first_name"] == "Ada"
    assert lead["last_name"] == "Lovelace"
    assert lead["company"] == "Acme"
    assert lead["title"] == "CEO"
    assert lead["seniority"] == "executive"
    assert lead["country"] == "DE"
    assert lead["employees"] == 250
    assert lead["industry"] == "Software"
    assert lead["consent"] is True
    assert lead["issues"] == []


def test_default_mapping_from_a_flat_body() -> None:
    body = {
        "emailAddress": "grace@navy.mil",
        "given_name": "Grace",
        "family_name": "Hopper",
        "organization": "US Navy",
        "jobTitle": "Rear Admiral",
        "countryCode": "US",
    }
    lead = normalize(body)
    assert set(lead) == CANONICAL
    assert lead["email"] == "grace@navy.mil"
    assert (lead["first_name"], lead["last_name"]) == ("Grace", "Hopper")
    assert lead["company"] == "US Navy"
    assert lead["country"] == "US"
    assert lead["phone"] is None


def test_a_non_object_data_key_means_the_body_is_flat() -> None:
    lead = normalize({"data": "ignored", "email": "ada@acme.io"})
    assert lead["email"] == "ada@acme.io"


def test_jmespath_mapping_per_field() -> None:
    body = {
        "contact": {"mail": "Ada@Acme.io", "tel": "+49 30 1234567"},
        "org": {"name": "Acme GmbH", "size": "51-200"},
        "first_name": "Ada",
    }
    mapping = {
        "email": "contact.mail",
        "phone": "contact.tel",
        "company": "org.name",
        "employees": "org.size",
    }
    lead = normalize(body, mapping)
    assert lead["email"] == "ada@acme.io"
    assert lead["phone"] == "+49301234567"
    assert lead["company"] == "Acme GmbH"
    assert lead["employees"] == 51
    # fields the mapping does not name are still read the default way
    assert lead["first_name"] == "Ada"


def test_jmespath_mapping_runs_against_the_whole_body() -> None:
    body = {"type": "lead.created", "data": {"email": "x@acme.io", "e": "y@acme.io"}}
    assert normalize(body, {"email": "data.e"})["email"] == "y@acme.io"
    assert normalize(body, {"email": "data.email"})["email"] == "x@acme.io"


def test_a_mapping_that_finds_nothing_gives_none() -> None:
    lead = normalize({"email": "ada@acme.io", "org": {}}, {"company": "org.name"})
    assert lead["company"] is None


def test_text_is_trimmed_and_whitespace_collapsed() -> None:
    lead = lead_of(first_name="  Ada \n ", company="Acme   Corp", industry="")
    assert lead["first_name"] == "Ada"
    assert lead["company"] == "Acme Corp"
    assert lead["industry"] is None


# --- email ------------------------------------------------------------------------


def test_email_is_lower_cased() -> None:
    assert lead_of(email="Ada.Lovelace@Acme.IO")["email"] == "ada.lovelace@acme.io"
    assert lead_of(email="  ADA@ACME.IO ")["email"] == "ada@acme.io"


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@acme.io", "a b@acme.io"])
def test_invalid_email_is_dropped_with_an_issue(email: str) -> None:
    lead = normalize({"email": email, "phone": "+14155552671"})
    assert lead["email"] is None
    assert "email_invalid" in lead["issues"]
    assert lead["phone"] == "+14155552671"


# --- phone ------------------------------------------------------------------------


def test_international_phone_to_e164() -> None:
    assert lead_of(phone="+1 (415) 555-2671")["phone"] == "+14155552671"
    assert lead_of(phone="+44 20 7946 0958")["phone"] == "+442079460958"


def test_national_phone_with_default_region() -> None:
    lead = normalize({"phone": "020 7946 0958"}, default_region="GB")
    assert lead["phone"] == "+442079460958"
    assert lead["issues"] == []


def test_national_phone_with_region_from_the_country() -> None:
    lead = normalize({"phone": "030 1234567", "country": "Germany"})
    assert lead["phone"] == "+49301234567"
    assert lead["country"] == "DE"


def test_national_phone_without_any_region_is_dropped() -> None:
    lead = lead_of(phone="030 1234567")
    assert lead["phone"] is None
    assert "phone_invalid" in lead["issues"]


@pytest.mark.parametrize("phone", ["12", "not a phone", "+1 555", "+49 000"])
def test_invalid_phone_is_dropped_with_an_issue(phone: str) -> None:
    lead = lead_of(phone=phone)
    assert lead["phone"] is None
    assert "phone_invalid" in lead["issues"]


def test_bad_phone_with_a_good_email_keeps_the_lead() -> None:
    lead = normalize({"email": "ada@acme.io", "phone": "12345"})
    assert lead["email"] == "ada@acme.io"
    assert lead["phone"] is None
    assert lead["issues"] == ["phone_invalid"]


# --- country ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("FRA", "FR"),
        ("France", "FR"),
        ("United States", "US"),
        ("USA", "US"),
        ("UK", "GB"),
        ("uk", "GB"),
        ("GB", "GB"),
        ("United Kingdom", "GB"),
    ],
)
def test_country_to_alpha_2(value: str, code: str) -> None:
    lead = lead_of(country=value)
    assert lead["country"] == code
    assert lead["issues"] == []


@pytest.mark.parametrize("value", ["Narnia", "XX", "Atlantis"])
def test_unknown_country(value: str) -> None:
    lead = lead_of(country=value)
    assert lead["country"] is None
    assert "country_unknown" in lead["issues"]


def test_no_country_is_not_an_issue() -> None:
    lead = lead_of()
    assert lead["country"] is None
    assert lead["issues"] == []


# --- domain and free mail ---------------------------------------------------------


def test_domain_from_email_on_free_mail() -> None:
    lead = lead_of(email="someone@gmail.com")
    assert lead["domain"] == "gmail.com"
    assert lead["free_mail"] is True


def test_domain_from_email_on_a_company_domain() -> None:
    lead = lead_of(email="Ada@Acme.IO")
    assert lead["domain"] == "acme.io"
    assert lead["free_mail"] is False


def test_email_domain_wins_over_the_website() -> None:
    lead = lead_of(website="https://www.other.example")
    assert lead["domain"] == "acme.io"


@pytest.mark.parametrize(
    "website",
    [
        "https://www.acme.io/about",
        "http://acme.io:8080/",
        "acme.io",
        "WWW.ACME.IO",
    ],
)
def test_domain_from_website_when_no_email(website: str) -> None:
    lead = normalize({"phone": "+14155552671", "website": website})
    assert lead["domain"] == "acme.io"
    assert lead["free_mail"] is False


def test_no_domain_means_free_mail_unknown() -> None:
    lead = normalize({"phone": "+14155552671"})
    assert lead["domain"] is None
    assert lead["free_mail"] is None


def test_free_mail_list_has_the_usual_providers() -> None:
    assert {"gmail.com", "outlook.com", "yahoo.com", "gmx.de"} <= FREE_MAIL
    assert "acme.io" not in FREE_MAIL


# --- seniority --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "executive"),
        ("Chief Revenue Officer", "executive"),
        ("Co-Founder", "executive"),
        ("VP Sales", "vp"),
        ("SVP Engineering", "vp"),
        ("Head of Growth", "director"),
        ("Director of Sales", "director"),
        ("Sales Manager", "manager"),
        ("Team Lead", "manager"),
        ("Engineer", "individual"),
        ("Account Executive", "individual"),
        (None, None),
        ("", None),
    ],
)
def test_seniority_from_title(title: str | None, level: str | None) -> None:
    assert seniority(title) == level


@pytest.mark.parametrize("title", ["Vice President", "Vice President, Marketing"])
def test_vice_president_is_vp(title: str) -> None:
    # "vice president" is one of the vp titles: not a chief executive.
    assert seniority(title) == "vp"


def test_seniority_is_set_on_the_lead() -> None:
    assert lead_of(title="VP Sales")["seniority"] == "vp"
    assert lead_of()["seniority"] is None


# --- employees --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (250, 250),
        (0, 0),
        (1200.0, 1200),
        ("1,200", 1200),
        ("250", 250),
        ("201-500", 201),
        ("201 - 500", 201),
        ("500+", 500),
        ("about 40 people", 40),
        (None, None),
        (True, None),
        (-3, None),
    ],
)
def test_employees(value: object, count: int | None) -> None:
    lead = lead_of(employees=value)
    assert lead["employees"] == count
    assert lead["issues"] == []


def test_unreadable_employees_is_an_issue() -> None:
    lead = lead_of(employees="n/a")
    assert lead["employees"] is None
    assert lead["issues"] == ["employees_unreadable"]


# --- utm --------------------------------------------------------------------------

UTM = {
    "source": "google",
    "medium": "cpc",
    "campaign": "spring",
    "term": "crm",
    "content": "ad-1",
}


def test_utm_flat() -> None:
    lead = lead_of(**{f"utm_{key}": value for key, value in UTM.items()})
    assert {key: lead[f"utm_{key}"] for key in UTM} == UTM


def test_utm_nested() -> None:
    lead = lead_of(utm=UTM)
    assert {key: lead[f"utm_{key}"] for key in UTM} == UTM


def test_utm_nested_in_standard_webhooks_data() -> None:
    body = {"type": "lead.created", "data": {"email": "a@acme.io", "utm": UTM}}
    assert normalize(body)["utm_campaign"] == "spring"


def test_utm_flat_wins_over_nested() -> None:
    lead = lead_of(utm_source="newsletter", utm={"source": "google", "medium": "cpc"})
    assert lead["utm_source"] == "newsletter"
    assert lead["utm_medium"] == "cpc"


def test_utm_mapping_wins_over_nested() -> None:
    # The module docstring: a field the mapping names is read with the mapping.
    body = {"email": "a@acme.io", "src": "partner", "utm": {"source": "google"}}
    lead = normalize(body, {"utm_source": "src"})
    assert lead["utm_source"] == "partner"


def test_no_utm() -> None:
    lead = lead_of()
    assert all(lead[f"utm_{key}"] is None for key in UTM)


# --- consent ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "consent"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("Yes", True),
        (" YES ", True),
        ("y", True),
        ("true", True),
        ("granted", True),
        ("no", False),
        ("No", False),
        ("false", False),
        ("denied", False),
        ("maybe", None),
        (None, None),
    ],
)
def test_consent(value: object, consent: bool | None) -> None:
    assert lead_of(consent=value)["consent"] is consent


def test_consent_aliases() -> None:
    assert lead_of(marketing_consent="yes")["consent"] is True


# --- contact required ---------------------------------------------------------------


def test_neither_email_nor_phone_is_permanent() -> None:
    with pytest.raises(PermanentJobError) as raised:
        normalize({"type": "lead.created", "data": {"first_name": "Ada"}})
    assert raised.value.reason == "no_contact"


def test_only_invalid_contacts_is_permanent() -> None:
    with pytest.raises(PermanentJobError) as raised:
        normalize({"email": "nope", "phone": "12"})
    assert raised.value.reason == "no_contact"


def test_contact_not_required() -> None:
    lead = normalize({"first_name": "Ada", "country": "FR"}, require_contact=False)
    assert lead["email"] is None
    assert lead["phone"] is None
    assert lead["first_name"] == "Ada"
    assert lead["country"] == "FR"
    assert set(lead) == CANONICAL


def test_phone_alone_is_enough_contact() -> None:
    lead = normalize({"mobile": "+33 1 42 68 53 00"})
    assert lead["phone"] == "+33142685300"
    assert lead["email"] is None
