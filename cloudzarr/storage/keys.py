"""Validation of store keys and prefixes.

A key is a relative, ``/``-separated path. Every store validates every key it is handed through
these functions, so a hostile or mistaken key (``../x``, ``/etc/passwd``, ``a//b``) is refused the
same way on every backend, before any I/O.
"""

from __future__ import annotations

from cloudzarr.errors import InvalidKeyError

_FORBIDDEN_CHARS = ("\\", "\x00")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid store key, else raise.

    Parameters
    ----------
    key
        A relative ``/``-separated path such as ``"group/array/c/0/0"``.

    Raises
    ------
    InvalidKeyError
        If the key is empty, absolute, has an empty, ``.`` or ``..`` segment, a trailing slash,
        a backslash or a NUL character.
    """
    if not isinstance(key, str):
        raise InvalidKeyError(f"store key must be a str, got {type(key).__name__}: {key!r}")
    if key == "":
        raise InvalidKeyError("store key must not be empty")
    _check_path(key, what="key")
    return key


def normalize_prefix(prefix: str) -> str:
    """Validate a listing or deletion prefix and return it without a trailing slash.

    ``""`` (the store root) is valid. ``"a"`` and ``"a/"`` name the same prefix.

    Raises
    ------
    InvalidKeyError
        If the prefix is absolute or contains an invalid segment.
    """
    if not isinstance(prefix, str):
        raise InvalidKeyError(f"store prefix must be a str, got {type(prefix).__name__}")
    if prefix.startswith("/"):
        # Checked before stripping: "/" alone would otherwise become "" (the whole store).
        raise InvalidKeyError(f"store prefix {prefix!r} is absolute; prefixes are relative paths")
    stripped = prefix[:-1] if prefix.endswith("/") else prefix
    if stripped:
        _check_path(stripped, what="prefix", original=prefix)
    return stripped


def join_key(prefix: str, key: str) -> str:
    """Join a normalized prefix and a relative key with one ``/``."""
    if not prefix:
        return key
    if not key:
        return prefix
    return f"{prefix}/{key}"


def _check_path(path: str, *, what: str, original: str | None = None) -> None:
    shown = original if original is not None else path
    for ch in _FORBIDDEN_CHARS:
        if ch in path:
            raise InvalidKeyError(f"store {what} {shown!r} contains a forbidden character {ch!r}")
    if path.startswith("/"):
        raise InvalidKeyError(f"store {what} {shown!r} is absolute; keys are relative paths")
    for segment in path.split("/"):
        if segment == "":
            raise InvalidKeyError(f"store {what} {shown!r} has an empty path segment")
        if segment in (".", ".."):
            raise InvalidKeyError(f"store {what} {shown!r} has a {segment!r} path segment")
