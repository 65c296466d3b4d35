"""The sync face of the async core, declared once.

Every public coroutine, async iterator, property and plain method of an async class gets a sync
twin on its face class, made here from the async definition: the same name, parameters and
docstring (so ``help()`` and ``inspect.signature`` show the real API), with the coroutine run on
cloudzarr's loop (:func:`cloudzarr.sync.sync`) and async nodes in the result turned into their sync
faces. A face class writes by hand only what differs (dunder methods, a property that is a
coroutine on the async side, a setter); anything else it would write is generated.

The top-level functions get the same treatment through :func:`sync_function`.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ClassVar

from cloudzarr.sync import sync

__all__ = ["SyncFace", "public_members", "sync_function", "to_sync"]

#: Async class -> its sync face, filled in as face classes are declared.
_FACES: dict[type, type] = {}

#: Rewrites of annotation text from the async API to the sync one.
_ANNOTATION_REWRITES = (
    (re.compile(r"\bAsyncIterator\["), "Iterator["),
    (re.compile(r"\bAsync(Group|Array)\b"), r"\1"),
)


def to_sync(value: Any) -> Any:
    """``value`` with every async node in it (also inside tuples, lists and dict values) replaced
    by its sync face."""
    face = _FACES.get(type(value))
    if face is not None:
        return face(value)
    # Exact types only: a subclass (a named tuple, an info mapping) is a value of its own.
    kind = type(value)
    if kind is tuple:
        return tuple(to_sync(v) for v in value)
    if kind is list:
        return [to_sync(v) for v in value]
    if kind is dict:
        return {k: to_sync(v) for k, v in value.items()}
    return value


def _sync_annotation(annotation: Any) -> Any:
    if not isinstance(annotation, str):
        return annotation
    for pattern, replacement in _ANNOTATION_REWRITES:
        annotation = pattern.sub(replacement, annotation)
    return annotation


def _sync_signature(func: Callable[..., Any], *, drop_first: bool = False) -> inspect.Signature:
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    if drop_first:
        params = params[1:]
    params = [p.replace(annotation=_sync_annotation(p.annotation)) for p in params]
    return signature.replace(
        parameters=params, return_annotation=_sync_annotation(signature.return_annotation)
    )


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


def _run(result: Any) -> Any:
    """Finish what an async call returned: await a coroutine, drain an async iterator."""
    if inspect.iscoroutine(result):
        return to_sync(sync(result))
    if inspect.isasyncgen(result) or isinstance(result, AsyncIterator):
        return iter(to_sync(sync(_collect(result))))
    return to_sync(result)


def _dress(wrapper: Callable[..., Any], original: Callable[..., Any]) -> None:
    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = original.__qualname__.replace("Async", "", 1)
    wrapper.__doc__ = original.__doc__
    wrapper.__signature__ = _sync_signature(original)  # type: ignore[attr-defined]
    wrapper.__wrapped_async__ = original  # type: ignore[attr-defined]


def sync_function[**P](func: Callable[P, Coroutine[Any, Any, Any]]) -> Callable[P, Any]:
    """The sync twin of a top-level coroutine function (same name, parameters, docstring)."""

    @functools.wraps(func)
    def twin(*args: Any, **kwargs: Any) -> Any:
        return _run(func(*args, **kwargs))

    del twin.__wrapped__  # inspect would show the async signature
    _dress(twin, func)
    twin.__module__ = "cloudzarr.api.synchronous"
    return twin


def public_members(cls: type) -> dict[str, Any]:
    """The public attributes of ``cls`` and its bases (nearest definition wins)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        for name, member in vars(klass).items():
            if not name.startswith("_"):
                found[name] = member
    return found


def _method_twin(name: str, member: Callable[..., Any], attr: str) -> Callable[..., Any]:
    def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _run(getattr(getattr(self, attr), name)(*args, **kwargs))

    _dress(twin, member)
    return twin


def _classmethod_twin(name: str, member: classmethod[Any, Any, Any]) -> classmethod[Any, Any, Any]:
    func = member.__func__

    def twin(cls: Any, *args: Any, **kwargs: Any) -> Any:
        async_class = cls._async_class
        return _run(getattr(async_class, name)(*args, **kwargs))

    _dress(twin, func)
    return classmethod(twin)


def _property_twin(name: str, member: property, attr: str) -> property:
    def getter(self: Any) -> Any:
        return to_sync(getattr(getattr(self, attr), name))

    getter.__name__ = name
    return property(getter, doc=member.__doc__)


def _coroutine_property(name: str, member: Callable[..., Any], attr: str) -> property:
    def getter(self: Any) -> Any:
        return _run(getattr(getattr(self, attr), name)())

    getter.__name__ = name
    return property(getter, doc=member.__doc__)


class SyncFace:
    """Base of the sync classes: generates the twins of an async class's public API.

    A subclass is declared as ``class Group(SyncFace, wraps=AsyncGroup, attr="_async_group")``;
    ``as_properties`` names coroutines whose twin is a property (zarr-python's
    ``Array.nchunks_initialized``). Names the subclass defines itself are left alone.
    """

    _async_class: ClassVar[type]
    _async_attr: ClassVar[str]

    def __init_subclass__(
        cls, *, wraps: type, attr: str, as_properties: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls._async_class = wraps
        cls._async_attr = attr
        _FACES[wraps] = cls
        own = {
            name for klass in cls.__mro__ if klass not in (SyncFace, object) for name in vars(klass)
        }
        for name, member in public_members(wraps).items():
            if name in own:
                continue
            twin = _twin(name, member, attr, as_property=name in as_properties)
            if twin is not None:
                setattr(cls, name, twin)

    def __getattr__(self, name: str) -> Any:
        # Reached only for names the class does not have: the async object's public instance
        # attributes (``metadata``). The generated twins are invisible to a type checker, so
        # this also makes them type as Any.
        if name.startswith("_"):
            raise AttributeError(name)
        return to_sync(getattr(object.__getattribute__(self, self._async_attr), name))


def _twin(name: str, member: Any, attr: str, *, as_property: bool) -> Any:
    if isinstance(member, classmethod):
        return _classmethod_twin(name, member)
    if isinstance(member, staticmethod):
        return member
    if isinstance(member, property):
        return _property_twin(name, member, attr)
    if callable(member) and not isinstance(member, type):
        if as_property:
            return _coroutine_property(name, member, attr)
        return _method_twin(name, member, attr)
    return None
