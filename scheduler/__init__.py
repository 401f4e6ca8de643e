"""The delivery engine: a repeating tick claims who is due into an outbox; a sender drains it."""
