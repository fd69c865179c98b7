"""A small name → factory registry, the single way headstart looks things up by name.

Datasets, encoders and (later) heads each own one `Registry`. Names are lowercase and spelled
the same in code, CLI, files and reports. A name may carry a prefix with an argument
(`timm:resnet50`): the prefix is registered once and receives the rest of the name. An entry
written from a paper but differing from it says how in `variant` (reports show it).
"""

from __future__ import annotations

import difflib
import inspect
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from headstart.exceptions import DataError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory with a one-line description for listings."""

    name: str
    factory: Callable[..., T]
    summary: str
    prefix: bool = False
    variant: str = ""  # how it differs from its paper's method; "" when it does not


class Registry(Generic[T]):
    """Maps names (and `prefix:` names) to factories; unknown names fail with suggestions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, summary: str = "", *, prefix: bool = False, variant: str = ""
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register `factory` under `name` (`prefix=True` for `name:<arg>` forms);
        `variant` says how it differs from the paper it is written from, if it does."""
        if name != name.lower():
            raise ValueError(f"{self.kind} names are lowercase; got {name!r}")

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            text = summary or (factory.__doc__ or "").strip().partition("\n")[0]
            self._entries[name] = Entry(name, factory, text, prefix, variant)
            return factory

        return decorate

    def entry(self, name: str) -> tuple[Entry[T], str | None]:
        """The entry for `name` and, for prefixed names, the argument after the colon."""
        if name in self._entries and not self._entries[name].prefix:
            return self._entries[name], None
        head, sep, rest = name.partition(":")
        if sep and head in self._entries and self._entries[head].prefix:
            if not rest:
                raise UnknownNameError(
                    f"{self.kind} {name!r} needs an argument after the colon, e.g. '{head}:<name>'"
                )
            return self._entries[head], rest
        raise UnknownNameError(self._unknown_message(name))

    def create(self, name: str, **kwargs: object) -> T:
        """Build the registered thing called `name`, passing `kwargs` to its factory.

        An option the factory does not take, or a value it rejects (`ValueError`), is a
        `DataError` naming the option and what is accepted.
        """
        entry, argument = self.entry(name)
        self._check_options(name, entry.factory, kwargs)
        try:
            if argument is None:
                return entry.factory(**kwargs)
            return entry.factory(argument, **kwargs)
        except ValueError as error:
            raise DataError(f"{self.kind} {name!r}: {error}") from error

    def _check_options(self, name: str, factory: Callable[..., T], options: dict) -> None:
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # no signature to check against
            return
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return
        accepted = [p for p in parameters if p not in ("self", "name")]
        for key in options:
            if key not in parameters:
                close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise DataError(
                    f"{self.kind} {name!r} has no option {key!r}{hint}; it takes: "
                    f"{', '.join(accepted) or 'no options'}"
                )
            _check_type(self.kind, name, key, options[key], parameters[key].annotation)

    def names(self) -> list[str]:
        """Registered names, prefixes shown as `prefix:<name>`."""
        return [f"{e.name}:<name>" if e.prefix else e.name for e in self._entries.values()]

    def __contains__(self, name: object) -> bool:
        try:
            self.entry(str(name))
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name.lower(), list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(self.names())}."


def _check_type(kind: str, name: str, key: str, value: object, annotation: object) -> None:
    """An option annotated as a plain int, float, bool or str must be given as one: `size=abc`
    is an error naming the option, not a TypeError deep inside the factory."""
    accepted = {"int": numbers.Integral, "float": numbers.Real, "bool": bool, "str": str}
    label = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if label not in accepted or isinstance(value, accepted[label]):
        return
    raise DataError(f"{kind} {name!r}: option {key!r} must be {label}, got {value!r}")
