"""Request bodies as the services read them: bounded however they are framed, gzip inflated."""

from __future__ import annotations

import zlib
from typing import IO, Final

from flask import Request

from loanapp.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    UnsupportedEncodingError,
    clip,
)

READ_STEP: Final = 64 * 1024


def read_body(incoming: Request) -> bytes:
    """The request body, gzip-inflated if it says so, never more than the app's limit.

    MAX_CONTENT_LENGTH bounds the body as sent, however it is framed (Content-Length or chunked),
    and again once inflated: PayloadTooLargeError (413) past it, UnsupportedEncodingError (415)
    for a Content-Encoding other than gzip, MalformedRequestError (400) for a broken body.

    A body cut short is never taken for a whole one. With a Content-Length, the count tells. A
    chunked body has no count, and granian ends its stream where the chunked framing breaks or the
    client goes away, without an error. What was read then reaches its parser incomplete, and
    every body the services take ends with a mark of its own that a cut loses: a JSON object or
    list its closing bracket, gzip its trailer, an artifact (a zip) its central directory.
    """
    limit = incoming.max_content_length
    # Read before the encoding is judged: a 415 sent while the client is still sending would
    # reach it as a reset connection, not as an answer it can read.
    data = _read_sent_body(incoming, limit)
    encoding = incoming.environ.get("HTTP_CONTENT_ENCODING")
    gzipped = encoding is not None and _is_gzipped(encoding)
    return _inflated(data, limit) if gzipped else data


def _is_gzipped(header: str) -> bool:
    """Whether a Content-Encoding header says gzip; UnsupportedEncodingError for anything else."""
    codings = [coding.strip().lower() for coding in header.split(",")]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return False
    if codings in (["gzip"], ["x-gzip"]):
        return True
    raise UnsupportedEncodingError(header)


def _read_sent_body(incoming: Request, limit: int | None) -> bytes:
    """The body as sent, at most `limit` bytes, whether framed by Content-Length or chunked."""
    length = incoming.content_length
    stream: IO[bytes] = incoming.environ["wsgi.input"]
    if length is not None:
        if limit is not None and length > limit:
            raise PayloadTooLargeError("request body in bytes", length, limit)
        data = _read_up_to(stream, length)
        if len(data) < length:
            # The client closed its side early. The server takes that for the end of the body,
            # and a truncated body that happens to be valid JSON would be answered.
            raise MalformedRequestError(
                f"the body ended after {len(data)} of the {length} bytes its Content-Length gave"
            )
        return data
    if not incoming.environ.get("wsgi.input_terminated"):
        return b""  # no length, and a server that does not end the stream: nothing is safe to read
    # A chunked body, ended by the server. Werkzeug would stop at the limit and drop the rest
    # silently, so the body is read here, one byte past the limit to tell "at" from "over".
    chunks: list[bytes] = []
    size = 0
    while chunk := _read_chunk(
        stream, READ_STEP if limit is None else min(READ_STEP, limit + 1 - size)
    ):
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise PayloadTooLargeError("request body in bytes", None, limit)
    return b"".join(chunks)


def _read_up_to(stream: IO[bytes], length: int) -> bytes:
    """`length` bytes of the WSGI input, or fewer if it ends first.

    From the server's stream itself: werkzeug's wrapping of it cost more than parsing the JSON
    of a one-row request. A read may return less than asked while more is on its way.
    """
    chunks: list[bytes] = []
    size = 0
    while size < length and (chunk := _read_chunk(stream, length - size)):
        chunks.append(chunk)
        size += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_chunk(stream: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes of the WSGI input; a broken chunked framing is the client's error."""
    try:
        return stream.read(size)
    except Exception as exc:
        # A server whose reader reports a broken framing raises its own types (gunicorn's
        # InvalidChunkSize, NoMoreData, ...); they are translated here, once, not left to be 500s.
        reason = clip(str(exc) or type(exc).__name__)
        raise MalformedRequestError(f"the request body could not be read: {reason}") from exc


def _inflated(data: bytes, limit: int | None) -> bytes:
    """A gzip body inflated, stopping one byte past `limit`: a bomb is never inflated whole."""
    pieces: list[bytes] = []
    size = 0
    while data:  # gzip allows several members one after another
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
        budget = 0 if limit is None else limit + 1 - size  # 0: no bound
        try:
            piece = inflater.decompress(data, budget)
        except zlib.error as exc:
            raise MalformedRequestError(f"body is not valid gzip ({exc})") from exc
        pieces.append(piece)
        size += len(piece)
        if limit is not None and size > limit:
            raise PayloadTooLargeError("gzip-inflated request body in bytes", None, limit)
        if not inflater.eof:
            raise MalformedRequestError("body is not valid gzip (it ends in the middle)")
        data = inflater.unused_data
    return b"".join(pieces)
