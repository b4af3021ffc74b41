"""The OpenAPI 3.1 description of the routes this build serves.

Written out rather than generated, so it states the contract's status codes
and error codes; a test checks that it names exactly the routes the
application serves.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from neuronx import __version__


def _problem(description: str, *codes: str) -> dict[str, Any]:
    return {
        "description": f"{description} (code: {', '.join(codes)})",
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}
            }
        },
    }


def _json(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}
        },
    }


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_TENANT = {
    "name": "tenant_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
_AUTH_ERRORS = {
    "401": _problem("No bearer token", "unauthorized"),
    "404": _problem(
        "Unknown tenant, another tenant's key, or unknown object", "not_found"
    ),
}


@cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NeuronX",
            "version": __version__,
            "description": "Signed lead ingestion: verify, queue, route, deliver.",
        },
        "paths": {
            "/v1/hooks/{tenant_id}/{source_id}": {"post": _hook_operation()},
            "/v1/tenants/{tenant_id}/events/{event_id}": {
                "get": {
                    "summary": "An event's processing status",
                    "security": _BEARER,
                    "parameters": [_TENANT, _path("event_id")],
                    "responses": {"200": _json("The event", "Event"), **_AUTH_ERRORS},
                }
            },
            "/v1/tenants/{tenant_id}/sources/{source_id}/secrets/rotate": {
                "post": {
                    "summary": "Add a signing secret; the old one keeps a grace period",
                    "security": _BEARER,
                    "parameters": [_TENANT, _path("source_id")],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "grace_seconds": {
                                            "type": "integer",
                                            "minimum": 0,
                                            "maximum": 2592000,
                                            "default": 86400,
                                        }
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": _json("The new secret, shown once", "Rotation"),
                        "400": _problem("Bad grace period", "invalid_request"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/healthz": {"get": _plain("The process is alive")},
            "/readyz": {
                "get": {
                    **_plain("The store is reachable"),
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": _problem("The store is unreachable", "unavailable"),
                    },
                }
            },
            "/metrics": {"get": _plain("Prometheus metrics, text exposition format")},
            "/openapi.json": {"get": _plain("This document")},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _plain(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [],
        "responses": {"200": {"description": "OK"}},
    }


def _hook_operation() -> dict[str, Any]:
    return {
        "summary": "Receive a signed webhook",
        "description": (
            "Verifies the signature of the source's scheme on the raw body, refuses "
            "replays and duplicates, and answers 202 only once the event is committed."
        ),
        "security": [],
        "parameters": [_TENANT, _path("source_id")],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {}}},
        },
        "responses": {
            "202": _json("Stored durably; will be processed", "Admission"),
            "200": _json("Same idempotency key seen within the TTL", "Admission"),
            "400": _problem(
                "Signature good, body not a JSON object", "malformed_payload"
            ),
            "401": _problem(
                "Signature missing or invalid, or timestamp out of tolerance",
                "signature_missing",
                "signature_invalid",
                "timestamp_out_of_tolerance",
            ),
            "403": _problem(
                "Event type outside the source's scope", "event_not_allowed"
            ),
            "404": _problem("Unknown tenant or source", "unknown_source"),
            "413": _problem("Body over max_body_bytes", "payload_too_large"),
            "503": _problem("The store cannot commit", "unavailable"),
        },
    }


def _schemas() -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    return {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Admission": {
            "type": "object",
            "required": ["event_id", "status"],
            "properties": {
                "event_id": {"type": "string"},
                "status": {"type": "string", "enum": ["accepted", "held", "duplicate"]},
                "trace_id": {"type": "string"},
            },
        },
        "Event": {
            "type": "object",
            "required": [
                "event_id",
                "status",
                "attempts",
                "lead_id",
                "trace_id",
                "last_error",
            ],
            "properties": {
                "event_id": {"type": "string"},
                "source_id": {"type": "string"},
                "type": nullable_string,
                "status": {
                    "type": "string",
                    "enum": ["accepted", "processing", "done", "held", "dead"],
                },
                "attempts": {"type": "integer"},
                "lead_id": nullable_string,
                "trace_id": {"type": "string"},
                "last_error": nullable_string,
                "received_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "Rotation": {
            "type": "object",
            "required": ["secret", "previous_expires_at"],
            "properties": {
                "secret": {"type": "string"},
                "previous_expires_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                },
            },
        },
    }
