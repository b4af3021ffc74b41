"""From a webhook body of any shape to the canonical lead.

Each canonical field is read with the source's JMESPath ``mapping`` when it
names the field, else from the ``data`` object of a Standard Webhooks style
body (``{"type": ..., "data": {...}}``), else from the body itself, trying a
few common spellings. Values are then normalized: the email with
``email-validator`` (syntax only, no network), the phone to E.164 with
``phonenumbers``, the country to ISO 3166 alpha-2 with ``pycountry``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jmespath
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from neuronx.errors import PermanentJobError

__all__ = ["FREE_MAIL", "normalize", "seniority"]

FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "domain",
    "title",
    "country",
    "employees",
    "industry",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "consent",
)
_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address", "emailAddress"),
    "phone": ("phone", "phone_number", "phoneNumber", "mobile"),
    "first_name": ("first_name", "firstName", "firstname", "given_name"),
    "last_name": ("last_name", "lastName", "lastname", "family_name"),
    "company": ("company", "company_name", "companyName", "organization"),
    "domain": ("domain", "website"),
    "title": ("title", "job_title", "jobTitle"),
    "country": ("country", "country_code", "countryCode"),
    "employees": ("employees", "employee_count", "company_size", "numberOfEmployees"),
    "industry": ("industry",),
    "consent": ("consent", "marketing_consent", "gdpr_consent"),
}
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
        "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "yandex.ru",
        "yandex.com", "mail.ru", "qq.com", "163.com", "126.com", "zoho.com",
        "fastmail.com", "hey.com", "orange.fr", "free.fr", "laposte.net",
        "t-online.de", "libero.it", "btinternet.com",
    }
)  # fmt: skip
# Checked in order: "Vice President" is a vp before "president" makes it an
# executive.
_SENIORITY = (
    ("vp", re.compile(r"\b(vp|svp|evp|vice president)\b")),
    ("executive", re.compile(r"\b(chief|ceo|cto|cfo|coo|cmo|cio|founder|president)\b")),
    ("director", re.compile(r"\b(director|head of|head)\b")),
    ("manager", re.compile(r"\b(manager|lead|supervisor)\b")),
)
_NUMBER = re.compile(r"\d[\d,.\s]*")


def normalize(
    body: Mapping[str, Any],
    mapping: Mapping[str, str] | None = None,
    *,
    default_region: str | None = None,
    require_contact: bool = True,
) -> dict[str, Any]:
    """The canonical lead of a body; raises ``PermanentJobError("no_contact")``.

    Values that do not normalize are dropped and listed under ``issues``
    rather than failing the lead: a bad phone number does not lose a lead
    that has a good email.
    """
    data = body.get("data") if isinstance(body.get("data"), Mapping) else body
    assert isinstance(data, Mapping)
    raw = {name: _read(name, body, data, mapping or {}) for name in FIELDS}
    for name, value in _utm(data).items():
        if raw.get(name) is None:
            raw[name] = value

    issues: list[str] = []
    lead: dict[str, Any] = {}
    lead["email"] = _email(raw["email"], issues)
    lead["country"] = _country(raw["country"], issues)
    # The lead's own country says more about its number than the source does.
    lead["phone"] = _phone(raw["phone"], lead["country"] or default_region, issues)
    if require_contact and lead["email"] is None and lead["phone"] is None:
        raise PermanentJobError("no_contact")

    for name in ("first_name", "last_name", "company", "title", "industry"):
        lead[name] = _text(raw[name])
    lead["domain"] = _domain(lead["email"], raw["domain"])
    lead["free_mail"] = lead["domain"] in FREE_MAIL if lead["domain"] else None
    lead["seniority"] = seniority(lead["title"])
    lead["employees"] = _employees(raw["employees"], issues)
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        lead[name] = _text(raw[name])
    lead["consent"] = _consent(raw["consent"])
    lead["issues"] = issues
    return lead


def seniority(title: str | None) -> str | None:
    if not title:
        return None
    lowered = title.casefold()
    for level, pattern in _SENIORITY:
        if pattern.search(lowered):
            return level
    return "individual"


def _read(
    name: str,
    body: Mapping[str, Any],
    data: Mapping[str, Any],
    mapping: Mapping[str, str],
) -> Any:
    if name in mapping:
        return _compiled(mapping[name]).search(body)
    for alias in _ALIASES.get(name, (name,)):
        if alias in data:
            return data[alias]
    return None


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def _utm(data: Mapping[str, Any]) -> dict[str, Any]:
    nested = data.get("utm")
    if not isinstance(nested, Mapping):
        return {}
    return {
        f"utm_{key}": nested[key]
        for key in ("source", "medium", "campaign", "term", "content")
        if key in nested and data.get(f"utm_{key}") is None
    }


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = " ".join(str(value).split())
    return text[:256] or None


def _email(value: Any, issues: list[str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        issues.append("email_invalid")
        return None
    return str(result.normalized).lower()


def _phone(value: Any, region: str | None, issues: list[str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        issues.append("phone_invalid")
        return None
    if not phonenumbers.is_valid_number(number):
        issues.append("phone_invalid")
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _country(value: Any, issues: list[str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    code = _country_code(text.casefold())
    if code is None:
        issues.append("country_unknown")
    return code


@lru_cache(maxsize=1024)
def _country_code(text: str) -> str | None:
    if text == "uk":
        return "GB"
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def _domain(email: str | None, website: Any) -> str | None:
    if email is not None:
        return email.rpartition("@")[2]
    text = _text(website)
    if text is None:
        return None
    host = re.sub(r"^[a-z]+://", "", text.casefold()).split("/")[0].split(":")[0]
    return host.removeprefix("www.") or None


def _employees(value: Any, issues: list[str]) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    match = _NUMBER.search(str(value))
    if match is None:
        issues.append("employees_unreadable")
        return None
    digits = re.sub(r"[,.\s]", "", match.group(0))
    return int(digits) if digits else None


def _consent(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().casefold()
        if lowered in {"yes", "true", "1", "y", "granted"}:
            return True
        if lowered in {"no", "false", "0", "n", "denied"}:
            return False
    return None
