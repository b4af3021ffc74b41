"""The open routes: the OpenAPI document, health, readiness, metrics, and misses."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from starlette.routing import Route

from neuronx.api import create_app
from tests.support import LiveServer, signed_headers

HOOK_TEMPLATE = "/v1/hooks/{tenant_id}/{source_id}"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def served_routes(server: LiveServer) -> dict[str, set[str]]:
    """Each path template the application serves, with its methods (no HEAD)."""
    routes: dict[str, set[str]] = {}
    for route in create_app(server.state).routes:
        assert isinstance(route, Route), route
        methods = {m.lower() for m in route.methods or set()} - {"head"}
        routes.setdefault(route.path, set()).update(methods)
    return routes


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict), ref
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(refs(value))
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in refs(item)]
    return []


def structural_errors(document: dict[str, Any]) -> list[str]:
    """What an OpenAPI 3.1 validator would reject, for the parts this API uses."""
    errors: list[str] = []
    if not str(document.get("openapi", "")).startswith("3.1."):
        errors.append("openapi is not 3.1.x")
    info = document.get("info")
    if not isinstance(info, dict) or not {"title", "version"} <= set(info):
        errors.append("info needs title and version")
    schemes = document.get("components", {}).get("securitySchemes", {})
    for path, item in document.get("paths", {}).items():
        if not path.startswith("/"):
            errors.append(f"{path}: does not start with /")
        templated = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            if method not in HTTP_METHODS:
                errors.append(f"{where}: not an HTTP method")
                continue
            responses = operation.get("responses")
            if not isinstance(responses, dict) or not responses:
                errors.append(f"{where}: no responses")
                responses = {}
            for status, response in responses.items():
                if not re.fullmatch(r"[1-5](\d\d|XX)|default", status):
                    errors.append(f"{where}: bad status key {status!r}")
                if "$ref" not in response and "description" not in response:
                    errors.append(f"{where} {status}: no description")
            declared = {
                p["name"]
                for p in operation.get("parameters", [])
                if p.get("in") == "path"
            }
            if declared != templated:
                errors.append(f"{where}: path parameters {declared} != {templated}")
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "path"
                    and parameter.get("required") is not True
                ):
                    errors.append(f"{where}: path parameter not required")
            for requirement in operation.get("security", []):
                for name in requirement:
                    if name not in schemes:
                        errors.append(f"{where}: unknown security scheme {name}")
    for ref in refs(document):
        try:
            resolve(document, ref)
        except AssertionError as exc:
            errors.append(str(exc))
    return errors


def test_openapi_document_is_valid_and_complete(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert structural_errors(document) == []

    # It names exactly the routes the application serves, with their methods.
    documented = {
        path: {method for method in item if method in HTTP_METHODS} - {"head"}
        for path, item in document["paths"].items()
    }

    assert documented == served_routes(server)


def metric_lines(server: LiveServer, name: str) -> list[str]:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [line for line in response.text.splitlines() if line.startswith(name)]


def test_health_readiness_and_metrics_by_route_template(server: LiveServer) -> None:
    health = httpx.get(f"{server.url}/healthz")
    ready = httpx.get(f"{server.url}/readyz")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert health.json()["status"] == "ok"
    assert ready.json()["status"] == "ready"

    body = json.dumps({"type": "lead.created", "data": {"email": "a@example.com"}})
    accepted = httpx.post(
        server.hook("forms"),
        content=body.encode(),
        headers=signed_headers("forms", body.encode()),
    )
    assert accepted.status_code == 202
    stray = httpx.get(f"{server.url}/no/such/route-7f3a9c")
    assert stray.status_code == 404

    text = httpx.get(f"{server.url}/metrics").text
    assert "# TYPE http_server_request_duration_seconds histogram" in text
    buckets = metric_lines(server, "http_server_request_duration_seconds_bucket{")
    hook_buckets = [
        line
        for line in buckets
        if f'route="{HOOK_TEMPLATE}"' in line
        and 'method="POST"' in line
        and 'status="202"' in line
    ]
    assert hook_buckets, buckets
    assert any('le="+Inf"' in line for line in hook_buckets)
    # Raw paths never become label values.
    assert "/v1/hooks/acme/forms" not in text
    assert "route-7f3a9c" not in text


def test_unknown_route_and_wrong_method_are_problems(server: LiveServer) -> None:
    for path in ("/nope", "/v1/tenants", "/v1/hooks/acme"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "not_found"
        assert problem["status"] == 404
        assert {"type", "title", "status", "code"} <= set(problem)

    cases = [
        ("GET", server.hook("forms"), "POST"),
        ("DELETE", f"{server.url}/v1/tenants/acme/events/evt_x", "GET"),
        ("POST", f"{server.url}/healthz", "GET"),
    ]
    for method, url, allowed in cases:
        response = httpx.request(method, url)
        assert response.status_code == 405, (method, url)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 405
        assert problem["code"] == "method_not_allowed"
        assert {"type", "title", "status", "code"} <= set(problem)
        assert allowed in response.headers["allow"]
