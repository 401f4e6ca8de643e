"""Use cases: each public method is one transaction, and returns plain dataclasses, never ORM rows.

Services never import telegram. Result types that views use live in modules without queries.
"""
