"""Persistence: the engine and sessions, the ORM models, and the migration runner."""
