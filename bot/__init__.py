"""Trauma-informed practice micro-learning bot for Telegram."""
