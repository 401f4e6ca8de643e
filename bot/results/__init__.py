"""What services return: plain frozen dataclasses, one module per feature.

Views render these and services build them; nothing here runs a query, so a view never loads
sqlalchemy through the types it uses.
"""
