"""The headless front door: Typer commands over core stages. Never imports textual."""
