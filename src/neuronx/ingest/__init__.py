"""Inbound webhooks: signature verification, idempotency and the durable commit."""
