"""The delivery engine: a repeating tick claims due subscriptions into an outbox; a sender drains it."""
