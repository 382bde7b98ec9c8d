"""SQLite store: schema, migrations and every query of the server (no Flask here)."""
