"""Messages built from a client's text: bounded, escaped, and the same short text as before."""

from __future__ import annotations

import orjson
import pytest

from loanapp.errors import (
    ECHO_LIMIT,
    AliasNotFoundError,
    AmbiguousVersionError,
    ModelNotFoundError,
    PayloadTooLargeError,
    UnsupportedEncodingError,
    VersionNotFoundError,
    clip,
    quoted,
)

LONG = "v" * 4000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("funded_amnt", "funded_amnt"),
        ("Café ünïcode", "Café ünïcode"),
        ("\ud800", "\\ud800"),
        ("a\nb\x00c\u2028", "a\\nb\\x00c\\u2028"),
        ("x" * ECHO_LIMIT, "x" * ECHO_LIMIT),
        ("x" * (ECHO_LIMIT + 1), "x" * ECHO_LIMIT + f"... ({ECHO_LIMIT + 1} characters)"),
        (LONG, "v" * ECHO_LIMIT + "... (4000 characters)"),
        ("\x00" * 4000, "\\x00" * (ECHO_LIMIT // 4) + "... (4000 characters)"),
    ],
)
def test_clip_escapes_what_is_not_printable_and_bounds_the_length(text, expected) -> None:
    shown = clip(text)
    assert shown == expected
    orjson.dumps(shown)  # always encodable: no lone surrogate survives


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("term_99", "'term_99'"),
        ("\udfff", "'\\udfff'"),
        (LONG, "'" + "v" * ECHO_LIMIT + "'... (4000 characters)"),
        (16100.5, "16100.5"),
        (10**200, "1" + "0" * (ECHO_LIMIT - 1) + "... (201 characters)"),
        (None, "None"),
    ],
)
def test_quoted_strings_are_in_quotes_and_other_values_are_their_repr(value, expected) -> None:
    assert quoted(value) == expected


@pytest.mark.parametrize(
    "error",
    [
        VersionNotFoundError("loan", LONG),
        ModelNotFoundError(LONG),
        AliasNotFoundError("loan", LONG),
        AmbiguousVersionError(LONG, ["a" * 64, "b" * 64]),
        UnsupportedEncodingError(LONG),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_built_from_a_client_text_never_repeat_it_whole(error) -> None:
    assert "v" * ECHO_LIMIT + "'... (4000 characters)" in error.message
    assert "v" * (ECHO_LIMIT + 1) not in error.message


def test_a_version_id_is_shown_whole_and_a_longer_one_clipped() -> None:
    version = "a" * 64  # a full SHA-256 fits in the limit, and reads as before
    assert (
        VersionNotFoundError("loan", version).message == f"model 'loan' has no version '{version}'"
    )
    assert VersionNotFoundError("loan", version * 2).message == (
        f"model 'loan' has no version '{(version * 2)[:ECHO_LIMIT]}'... (128 characters)"
    )


def test_a_streamed_body_over_the_limit_has_no_size_in_its_message() -> None:
    assert PayloadTooLargeError("request body in bytes", None, 100).message == (
        "request body in bytes is more than the limit of 100"
    )
    assert PayloadTooLargeError("batch size in rows", 60, 50).message == (
        "batch size in rows is 60, more than the limit of 50"
    )


def test_an_unsupported_encoding_names_the_accepted_one() -> None:
    error = UnsupportedEncodingError("br")
    assert error.status_code == 415
    assert error.message == (
        "Content-Encoding 'br' is not supported; send the body uncompressed or with "
        "Content-Encoding: gzip"
    )
    assert error.headers() == {"Accept-Encoding": "gzip"}
