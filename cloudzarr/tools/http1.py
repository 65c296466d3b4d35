"""Just enough HTTP/1.1 framing for a proxy that acts per request on a keep-alive connection.

A fault proxy must know where one request ends and the next begins, and where a response ends,
to fail one request and leave the next on the same connection alone. This reads a message head
(start line and headers) and its body framed by ``Content-Length``, ``Transfer-Encoding:
chunked`` or (responses only) the end of the connection, and keeps the raw bytes so that what
is forwarded is exactly what was received.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

#: Longest head accepted; a client or server sending more is broken, not slow.
MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """A peer sent something that is not HTTP/1.1 framing this module understands."""


@dataclass
class Message:
    """One HTTP/1.1 request or response as read off the wire."""

    start_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: The body exactly as received (chunked framing included).
    raw_body: bytes = b""
    #: The body ran to the end of the connection (no length given): the connection is done.
    close_delimited: bool = field(default=False)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def method(self) -> str:
        """The request method (requests only)."""
        return self.start_line.split(" ", 1)[0].upper()

    @property
    def target(self) -> str:
        """The request target, path and query (requests only)."""
        parts = self.start_line.split(" ")
        return parts[1] if len(parts) > 1 else ""

    @property
    def status(self) -> int:
        """The status code (responses only)."""
        try:
            return int(self.start_line.split(" ")[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {self.start_line!r}") from None

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another exchange after this message."""
        if self.close_delimited:
            return False
        connection = (self.header("Connection") or "").lower()
        if "close" in connection:
            return False
        if self.start_line.upper().startswith("HTTP/1.0") or self.start_line.upper().endswith(
            "HTTP/1.0"
        ):
            return "keep-alive" in connection
        return True

    def head_bytes(self, *, drop: frozenset[str] = frozenset()) -> bytes:
        """The head as sent on the wire, leaving out headers named in ``drop`` (lower case)."""
        lines = [self.start_line] + [f"{k}: {v}" for k, v in self.headers if k.lower() not in drop]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def raw(self) -> bytes:
        """Head and body as received."""
        return self.head_bytes() + self.raw_body


async def read_head(reader: asyncio.StreamReader) -> Message | None:
    """The next message head on ``reader``; None at a clean end of stream before any byte."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("connection closed inside a message head") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("message head too long") from exc
    if len(head) > MAX_HEAD:
        raise ProtocolError("message head too long")
    lines = head[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return Message(lines[0], headers)


async def read_body(
    reader: asyncio.StreamReader, message: Message, *, response_to: str | None = None
) -> None:
    """Read ``message``'s body into it.

    Parameters
    ----------
    reader
        Where the body comes from.
    message
        A head from :func:`read_head`.
    response_to
        For a response, the method of its request (a HEAD answer has no body); None for a
        request.
    """
    if response_to is not None:
        status = message.status
        if response_to == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return
    encoding = (message.header("Transfer-Encoding") or "").lower()
    if "chunked" in encoding:
        await _read_chunked(reader, message)
        return
    length = message.header("Content-Length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise ProtocolError(f"bad Content-Length {length!r}") from None
        try:
            message.body = message.raw_body = await reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("connection closed inside a body") from exc
        return
    if response_to is not None:
        message.body = message.raw_body = await reader.read()
        message.close_delimited = True


async def _read_chunked(reader: asyncio.StreamReader, message: Message) -> None:
    raw = bytearray()
    body = bytearray()
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            raw += line
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line {line!r}") from None
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = await reader.readuntil(b"\r\n")
                    raw += trailer
                    if trailer == b"\r\n":
                        break
                break
            chunk = await reader.readexactly(size + 2)
            raw += chunk
            body += chunk[:-2]
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("connection closed inside a chunked body") from exc
    message.raw_body = bytes(raw)
    message.body = bytes(body)


def response(
    status: int, reason: str, body: bytes, headers: list[tuple[str, str]], *, head_only: bool
) -> bytes:
    """A complete keep-alive response; ``head_only`` leaves the body out (answer to HEAD)."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
