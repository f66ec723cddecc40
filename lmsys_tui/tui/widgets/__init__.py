"""Reusable widgets of the TUI (no store access: screens feed them)."""
