"""One typed settings object: where the store lives and which defaults apply.

`LMSYS_TUI_HOME` moves the whole home (tests point it at a temp dir and never touch the user's
real `~/.lmsys-tui`). API keys are read from the environment only, never stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

HOME_ENV = "LMSYS_TUI_HOME"
DEFAULT_HOME = Path("~/.lmsys-tui")

PROVIDER_KEY_ENV = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "groq": "GROQ_API_KEY",
}


def home_dir() -> Path:
    raw = os.environ.get(HOME_ENV)
    return Path(raw).expanduser() if raw else DEFAULT_HOME.expanduser()


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=home_dir)
    db_path: Path | None = None
    chroma_path: Path | None = None

    @property
    def db(self) -> Path:
        return self.db_path or self.home / "queries.db"

    @property
    def chroma(self) -> Path:
        return self.chroma_path or self.home / "chroma"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"


def load_settings(
    db_path: Path | str | None = None, chroma_path: Path | str | None = None
) -> Settings:
    return Settings(
        db_path=Path(db_path).expanduser() if db_path else None,
        chroma_path=Path(chroma_path).expanduser() if chroma_path else None,
    )


def provider_key(provider: str) -> str | None:
    env = PROVIDER_KEY_ENV.get(provider)
    return os.environ.get(env) if env else None
