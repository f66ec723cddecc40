"""SQLite (SQLModel) is the source of truth; this package holds its tables and connections."""
