"""Pure rules shared by every layer: no telegram, no database sessions."""
