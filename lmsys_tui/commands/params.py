"""Option groups: a block of parameters that several commands take, declared once.

A command lists its own parameters in its signature as usual and names the groups it also
takes (groups are declared in `commands/options.py`):

    @handled
    @takes(QUERIES, EMBEDDING_SPACE, EMBEDDING_WORK, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
    def embed(*, params: Params) -> None: ...

`takes` appends the groups' parameters (with their Annotated Typer types, help and defaults)
to the signature Typer reads (`__signature__`, `__annotations__`), so `--help` and parsing see
one flat command, and hands every parsed value, the command's own included, to the function
as `params`: a mapping by parameter name (what `Options.from_params` reads, as `locals()` did
before) that also allows `params.db_path`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Group:
    """Named keyword parameters, in the order `--help` lists them."""

    parameters: tuple[inspect.Parameter, ...]


def group(**fields: tuple[Any, Any]) -> Group:
    """A group from `name=(Annotated type, default)` pairs."""
    return Group(
        tuple(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=value)
            for name, (kind, value) in fields.items()
        )
    )


class Params(dict[str, Any]):
    """A command's parsed parameters by name, its own and its groups'."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def takes(*groups: Group) -> Callable[[F], F]:
    """Add the groups' parameters to the decorated command (see the module docstring).

    The command declares a keyword-only `params: Params`, which Typer never sees.
    """

    def decorate(func: F) -> F:
        own = [
            p for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.name != "params"
        ]  # fmt: skip
        added = [p for g in groups for p in g.parameters]
        names = [p.name for p in own]

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            return func(**{n: values[n] for n in names}, params=Params(values))

        everything = [*own, *added]
        command.__signature__ = inspect.Signature(everything, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in everything}
        return command  # type: ignore[return-value]

    return decorate
