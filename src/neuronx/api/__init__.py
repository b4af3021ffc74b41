"""The HTTP API: inbound webhooks, tenant and operator routes, health, metrics."""

from neuronx.api.app import create_app

__all__ = ["create_app"]
