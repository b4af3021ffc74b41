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
            **_tenant_paths(),
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


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_PAGE = [
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "Page size",
    ),
    _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
]
_BAD_PAGE = {"400": _problem("Bad limit or cursor", "invalid_request")}


def _get(
    summary: str, params: list[dict[str, Any]], ok: dict[str, Any]
) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": _BEARER,
        "parameters": [_TENANT, *params],
        "responses": {"200": ok, **_AUTH_ERRORS},
    }


def _tenant_paths() -> dict[str, Any]:
    tenant = "/v1/tenants/{tenant_id}"
    replayed = _json("The ids put back on their queues", "Replayed")
    return {
        f"{tenant}/leads": {
            "get": {
                **_get(
                    "A page of leads, oldest first",
                    [
                        _query(
                            "assigned_to", {"type": "string"}, "Only this rep's leads"
                        ),
                        _query(
                            "status",
                            {
                                "type": "string",
                                "enum": ["new", "scored", "routed", "unassigned"],
                            },
                            "Only leads in this state",
                        ),
                        *_PAGE,
                    ],
                    _json("A page", "LeadPage"),
                ),
            }
        },
        f"{tenant}/leads/{{lead_id}}": {
            "get": _get(
                "One canonical lead", [_path("lead_id")], _json("The lead", "Lead")
            )
        },
        f"{tenant}/routing/simulate": {
            "post": {
                "summary": "The routing decision for a lead body, assigning nothing",
                "security": _BEARER,
                "parameters": [_TENANT],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json("The decision", "Simulation"),
                    "400": _problem("Body is not a JSON object", "invalid_request"),
                    **_AUTH_ERRORS,
                },
            }
        },
        f"{tenant}/audit": {
            "get": _get(
                "The append-only audit log", _PAGE, _json("A page", "AuditPage")
            )
        },
        f"{tenant}/dead-letters": {
            "get": _get(
                "Dead letters, oldest first",
                [_query("queue", {"type": "string"}, "Only this queue"), *_PAGE],
                _json("A page", "DeadLetterPage"),
            )
        },
        f"{tenant}/dead-letters/replay": {
            "post": {
                "summary": "Replay every dead letter, or those of one queue",
                "security": _BEARER,
                "parameters": [_TENANT],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"queue": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"200": replayed, **_AUTH_ERRORS},
            }
        },
        f"{tenant}/dead-letters/{{dead_letter_id}}": {
            "get": _get(
                "One dead letter with each attempt's error",
                [_path("dead_letter_id")],
                _json("The dead letter", "DeadLetter"),
            )
        },
        f"{tenant}/dead-letters/{{dead_letter_id}}/replay": {
            "post": {
                "summary": "Put one dead letter back on its queue, attempts reset",
                "security": _BEARER,
                "parameters": [_TENANT, _path("dead_letter_id")],
                "responses": {"200": replayed, **_AUTH_ERRORS},
            }
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


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{item}"},
            },
            "next_cursor": {"type": ["string", "null"]},
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
        "Lead": {
            "type": "object",
            "required": ["lead_id", "score", "grade", "assigned_to", "routing"],
            "properties": {
                "lead_id": {"type": "string"},
                "email": nullable_string,
                "phone": nullable_string,
                "score": {"type": ["integer", "null"]},
                "grade": nullable_string,
                "status": {"type": "string"},
                "assigned_to": nullable_string,
                "team": nullable_string,
                "routing": {
                    "type": ["object", "null"],
                    "properties": {
                        "rule": nullable_string,
                        "strategy": {"type": "string"},
                        "explanation": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
            "additionalProperties": True,
        },
        "LeadPage": _page("Lead"),
        "Simulation": {
            "type": "object",
            "required": [
                "score",
                "grade",
                "rule",
                "team",
                "strategy",
                "assigned_to",
                "explanation",
            ],
            "properties": {
                "score": {"type": "integer"},
                "grade": nullable_string,
                "rule": nullable_string,
                "team": nullable_string,
                "strategy": {"type": "string"},
                "assigned_to": nullable_string,
                "explanation": {"type": "array", "items": {"type": "string"}},
            },
        },
        "AuditEntry": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"},
                "action": {"type": "string"},
                "subject": nullable_string,
                "detail": {"type": "object"},
            },
        },
        "AuditPage": _page("AuditEntry"),
        "DeadLetter": {
            "type": "object",
            "required": ["id", "queue", "event_id", "attempts", "dead_at"],
            "properties": {
                "id": {"type": "integer"},
                "queue": {"type": "string"},
                "task": {"type": "string"},
                "tenant_id": nullable_string,
                "event_id": nullable_string,
                "attempts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "at": {"type": "string", "format": "date-time"},
                            "error": {"type": "string"},
                        },
                    },
                },
                "dead_at": {"type": "string", "format": "date-time"},
                "traceparent": nullable_string,
            },
        },
        "DeadLetterPage": _page("DeadLetter"),
        "Replayed": {
            "type": "object",
            "properties": {"replayed": {"type": "array", "items": {"type": "integer"}}},
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
