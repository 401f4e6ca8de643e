"""The course as data: its schema and loader, the safety phrases, and the search index.

Nothing here imports telegram or the database.
"""
