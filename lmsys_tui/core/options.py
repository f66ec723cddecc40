"""Options that build both doors: a stage's dataclass owns its defaults, checks and argv.

A stage's options are a dataclass deriving from `Options` whose command-line fields are
declared with `option(...)`: the flag (by default `--field-name`; the Typer parameter has the
field's name), or `positional=True`, and the bounds or choices a value must meet. Fields
declared plainly are for the API only and never reach a command line. From that declaration:

- `validate()` raises a one-line UsageError naming the flag; `check()` adds rules across fields.
  It runs when the object is made, so an options object that exists is valid (API callers
  included);
- `to_argv()` gives the headless arguments: positionals first, then the flags whose value is not
  the default (bools as `--x` / `--no-x`), so a command line shows only what was chosen;
- `from_params(params)` builds the options from a command's parsed parameters
  (a Typer command passes its `locals()`; the parity test passes a Click context's params);
- `from_form(values)` builds them from loosely typed TUI form values: text as
  typed ("1,000"), "" or None for the default.

A Typer command takes each default from the class (`= KMeansParams.n_clusters`), so no default
is written twice, and its help text stays beside its parameter.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Self

from lmsys_tui.errors import UsageError

_KEY = "lmsys_tui.option"


@dataclass(frozen=True)
class Spec:
    """How one field appears on the command line, and what its value must be."""

    flag: str = ""  # "--n-clusters", or a positional's name ("RUN_ID"); "" until resolved
    positional: bool = False
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    below: float | None = None  # exclusive upper bound
    choices: tuple[str, ...] = ()
    lower: bool = False  # the value is case-insensitive: stored lower-cased
    none: Any = None  # how None is written when None is not the default (--min-samples 0)
    missing: str | None = None  # a required value: the error when it is empty


def option(
    default: Any = None,
    flag: str | None = None,
    *,
    positional: bool = False,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    choices: tuple[str, ...] = (),
    lower: bool = False,
    none: Any = None,
    missing: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line option (see the module docstring)."""
    spec = Spec(
        flag=flag or "",
        positional=positional,
        minimum=minimum,
        above=above,
        below=below,
        choices=choices,
        lower=lower,
        none=none,
        missing=missing,
    )
    return field(default=default, metadata={_KEY: spec})


@dataclass(frozen=True)
class _Slot:
    """One field of an options class, as the functions below need it."""

    name: str
    spec: Spec | None  # None: not on the command line
    base: type  # the value's type without None: int, float, str, bool, Path, list, or Options
    default: Any


@cache
def _slots(cls: type) -> tuple[_Slot, ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is not None and not spec.flag:
            name = f.name.upper() if spec.positional else "--" + f.name.replace("_", "-")
            spec = replace(spec, flag=name)
        out.append(_Slot(f.name, spec, _base(hints[f.name]), _default(f)))
    return tuple(out)


def _base(hint: Any) -> type:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(hint)
    return typing.cast(type, origin if origin is not None else hint)


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


class Options:
    """Base of every stage's options dataclass (subclasses are `@dataclass`es)."""

    def __post_init__(self) -> None:
        self.validate()

    def check(self) -> None:
        """Rules across fields; a subclass overrides it (called after the per-field checks)."""

    def validate(self) -> None:
        for slot in _slots(type(self)):  # a nested Options checked itself when it was made
            if slot.spec is not None:
                _check(slot.spec, getattr(self, slot.name))
        self.check()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_argv(self) -> list[str]:
        """The headless arguments that give these options: positionals, then non-defaults."""
        return argv(self)

    def _argv(self) -> Iterator[tuple[bool, list[str]]]:
        for slot in _slots(type(self)):
            value, spec = getattr(self, slot.name), slot.spec
            if isinstance(value, Options):
                yield from value._argv()
            elif spec is not None and spec.positional:
                yield True, [_spell(value)]
            elif spec is not None and value != slot.default:
                yield False, _flag(spec, value)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """The options a command's parsed parameters give (other parameters are ignored)."""
        values: dict[str, Any] = {}
        for slot in _slots(cls):
            if issubclass(slot.base, Options):
                values[slot.name] = slot.base.from_params(params)
            elif slot.spec is not None and slot.name in params:
                values[slot.name] = _normal(slot, params[slot.name])
        return cls(**values)

    @classmethod
    def from_form(cls, values: Mapping[str, Any]) -> Self:
        """The options a TUI form's values give: text is parsed, "" and None mean the default.
        A name that is not a command-line field is a programming error (KeyError)."""
        slots = {s.name: s for s in _slots(cls) if s.spec is not None}
        given: dict[str, Any] = {}
        for name, raw in values.items():
            slot = slots[name]
            text = raw.strip() if isinstance(raw, str) else raw
            if text is None or text == "":
                continue  # the default (validate() says so if the value is required)
            given[name] = _normal(slot, _parse(slot, text) if isinstance(text, str) else text)
        return cls(**given)


def argv(*options: Options) -> list[str]:
    """The arguments of several option objects that make up one command: positionals first."""
    parts = [p for o in options for p in o._argv()]
    return [a for positional in (True, False) for p, args in parts if p is positional for a in args]


def _flag(spec: Spec, value: Any) -> list[str]:
    if value is None:
        if spec.none is None:
            raise ValueError(f"{spec.flag} cannot be left out on the command line")
        return [spec.flag, _spell(spec.none)]
    if isinstance(value, bool):
        return [spec.flag if value else "--no-" + spec.flag.removeprefix("--")]
    if isinstance(value, list | tuple):
        return [a for v in value for a in (spec.flag, _spell(v))]
    return [spec.flag, _spell(value)]


def _spell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _normal(slot: _Slot, value: Any) -> Any:
    """One spelling per value: lower-cased choices, None for the `none` stand-in, lists."""
    spec = slot.spec
    if spec is not None and spec.none is not None and value == spec.none:
        return None
    if slot.base is list:
        return list(value) if value else slot.default
    if spec is not None and spec.lower and isinstance(value, str):
        return value.lower()
    return value


def _parse(slot: _Slot, text: str) -> Any:
    """A form's text as the field's type (a bad number names the flag)."""
    flag, base = slot.spec.flag if slot.spec else slot.name, slot.base
    try:
        if base is int:
            return int(text.replace(",", "").replace("_", ""))
        if base is float:
            return float(text.replace(",", "").replace("_", ""))
        if base is list:
            return [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        kind = "a number" if base is float else "a whole number"
        raise UsageError(f"{flag} must be {kind}, not {text!r}") from None
    if base is bool:
        if text.lower() not in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            raise UsageError(f"{flag} must be yes or no, not {text!r}")
        return text.lower() in ("true", "yes", "on", "1")
    if base is Path:
        return Path(text).expanduser()
    return text


def _check(spec: Spec, value: Any) -> None:
    flag = spec.flag
    if value is None or value == "":
        if spec.missing:
            raise UsageError(spec.missing)
        return
    if spec.choices and value not in spec.choices:
        raise UsageError(f"{flag} must be one of {', '.join(spec.choices)}, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if spec.above is not None and spec.below is not None:
        if not spec.above < value < spec.below:
            raise UsageError(f"{flag} must be between {spec.above:g} and {spec.below:g}")
    elif spec.above is not None and value <= spec.above:
        bound = "a positive number" if spec.above == 0 else f"above {spec.above:g}"
        raise UsageError(f"{flag} must be {bound}")
    elif spec.minimum is not None and value < spec.minimum:
        if spec.minimum == 1:
            raise UsageError(f"{flag} must be a positive number")
        if spec.minimum == 0:
            raise UsageError(f"{flag} must not be negative")
        raise UsageError(f"{flag} must be at least {spec.minimum:g}")


@dataclass(frozen=True)
class RunArg(Options):
    """The clustering run a command works on: its first argument."""

    run_id: str = option("", positional=True, missing="choose a clustering run")
