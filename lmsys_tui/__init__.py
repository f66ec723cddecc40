"""lmsys-tui: explore how people use LLMs from their chat logs.

Kept empty on purpose: every entry point imports only what it needs, so `--help` stays fast.
"""

__version__ = "0.1.0"
