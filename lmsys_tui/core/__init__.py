"""The engine: plain functions over the store. Never imports textual."""
