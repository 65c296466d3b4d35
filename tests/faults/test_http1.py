"""The proxy's HTTP/1.1 framing: where one message ends and the next begins on a connection."""

from __future__ import annotations

import asyncio

import pytest

from cloudzarr.tools.http1 import ProtocolError, read_body, read_head, response


def reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    if eof:
        stream.feed_eof()
    return stream


async def test_two_requests_on_one_connection_with_length_and_chunked_bodies() -> None:
    wire = (
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
        b"POST /b/k?uploads HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        b"GET /b/k HTTP/1.1\r\n\r\n"
    )
    stream = reader(wire)
    first = await read_head(stream)
    assert first is not None
    await read_body(stream, first)
    assert (first.method, first.target, first.body) == ("PUT", "/b/k", b"hello")
    assert first.header("expect") == "100-continue"
    assert b"Expect" not in first.head_bytes(drop=frozenset({"expect"}))
    second = await read_head(stream)
    assert second is not None
    await read_body(stream, second)
    assert second.body == b"abcde"
    assert second.raw_body.endswith(b"0\r\nX-Trailer: t\r\n\r\n")
    third = await read_head(stream)
    assert third is not None
    await read_body(stream, third)
    assert (third.method, third.body, third.keep_alive) == ("GET", b"", True)
    assert await read_head(stream) is None  # a clean end between messages


async def test_response_bodies_by_status_method_and_connection_end() -> None:
    head_answer = reader(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    )
    answer = await read_head(head_answer)
    assert answer is not None
    await read_body(head_answer, answer, response_to="HEAD")  # no body follows a HEAD answer
    assert answer.body == b"" and answer.status == 200
    following = await read_head(head_answer)
    assert following is not None and following.status == 204

    to_eof = reader(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    answer = await read_head(to_eof)
    assert answer is not None
    await read_body(to_eof, answer, response_to="GET")
    assert (answer.body, answer.close_delimited, answer.keep_alive) == (b"all of it", True, False)


async def test_broken_framing_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="inside a message head"):
        await read_head(reader(b"GET / HTTP/1.1\r\nHost"))
    short = reader(b"PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    message = await read_head(short)
    assert message is not None
    with pytest.raises(ProtocolError, match="inside a body"):
        await read_body(short, message)
    with pytest.raises(ProtocolError, match="bad header"):
        await read_head(reader(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"))


def test_made_up_response_is_complete() -> None:
    made = response(
        503, "Slow Down", b"<Error/>", [("Content-Type", "application/xml")], head_only=False
    )
    assert made.startswith(b"HTTP/1.1 503 Slow Down\r\nContent-Length: 8\r\n")
    assert made.endswith(b"\r\n\r\n<Error/>")
    assert response(503, "Slow Down", b"<Error/>", [], head_only=True).endswith(b"\r\n\r\n")
