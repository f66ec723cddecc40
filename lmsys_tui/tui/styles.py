"""Where the `.tcss` files are, from a source checkout and from an installed wheel.

`styles/` sits at the repository root, beside the package, and the wheel force-includes it as
`lmsys_tui/styles`. Textual resolves a relative `CSS_PATH` against the module's folder, which is
right in neither case, so the App asks for absolute paths here. The App loads every stylesheet
itself: Textual 8.2 does not load the `CSS_PATH` of the screen `get_default_screen` returns.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def styles_dir() -> Path:
    """The installed copy wins; the checkout's top-level folder is the fallback."""
    for candidate in (_PACKAGE / "styles", _PACKAGE.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(f"lmsys-tui styles not found beside {_PACKAGE}")


def stylesheets() -> list[Path]:
    """Every `.tcss` file, `app.tcss` first (later files may refine its rules)."""
    return sorted(styles_dir().glob("*.tcss"), key=lambda p: (p.name != "app.tcss", p.name))
