"""The Textual front door. Imported only when `lmsys-tui` runs without `--headless`."""
