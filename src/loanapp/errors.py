"""Every way loanapp can fail, as one small exception tree.

    LoanappError                      500  base: an error of ours, with a message and an HTTP status
    ├── NotFoundError                 404
    │   ├── ObjectNotFoundError             a key is missing from the object store
    │   ├── ModelNotFoundError              no version was ever published under a model name
    │   ├── VersionNotFoundError            no version matches a hash (or hash prefix)
    │   ├── NotServedError                  a model or version the predict API does not serve
    │   └── AliasNotFoundError              an alias was never set
    ├── ConflictError                 409
    │   ├── ObjectExistsError               create-only write of a key that exists
    │   ├── PreconditionFailedError         compare-and-swap lost against another writer
    │   ├── AmbiguousVersionError           a hash prefix matches several versions
    │   ├── NothingToRollBackError          an alias has no earlier version
    │   └── PromotionRefusedError           the gate: the candidate is worse, or not comparable
    ├── ArtifactError                 422  the bytes are not a model we will serve
    │   ├── ArtifactIntegrityError          SHA-256 of the bytes differs from the expected one
    │   ├── DamagedVersionError             an alias would move to a version whose bytes are damaged
    │   ├── ArtifactFormatError             not a loanapp artifact: malformed, or over a size limit
    │   ├── IncompatibleArtifactError       trained with another scikit-learn version
    │   ├── UntrustedArtifactError          the serialised model holds types we do not load
    │   ├── ArtifactBehaviourError          reference rows no longer give the recorded answers
    │   └── SignatureError                  not signed by a trusted key, or the signature is wrong
    ├── InvalidInputError             400  a caller's argument is malformed (URI, hash, option)
    │   └── MalformedRequestError           an HTTP body is not JSON, or not of the expected shape
    ├── AuthenticationError           401  a write endpoint was called without the admin token
    │   └── ReadTokenError                  a page was read without LOANAPP_UI_READ_TOKEN
    ├── AdminDisabledError            403  write endpoints are off: no admin token is configured
    ├── CsrfError                     403  a page's write came without the page's CSRF token
    ├── PayloadTooLargeError          413  a body or batch is larger than the configured limit
    ├── UnsupportedEncodingError      415  a body is compressed with an encoding we do not read
    ├── RequestValidationError        422  rows do not match the model's input schema
    ├── MissingReasonError            422  a forced promotion names no reason
    ├── ModelNotReadyError            503  no verified model is loaded yet
    ├── UpstreamUnavailableError      503  the model server cannot be reached or answered wrongly
    ├── CorruptRecordError            500  a registry record in the store cannot be parsed
    └── StoreUnavailableError         503  the object store cannot be reached or written

Each class builds its message from its arguments, so a message is the same wherever it is raised,
and the services map `status_code` (and `headers`) to HTTP in one handler. Text a client chose
(a name, a version, a field, a value) enters a message only through `clip` or `quoted`, which
bound it and escape what an encoder or a log line must not see raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

ECHO_LIMIT: Final = 80
"""Most characters of a client's text repeated in a message (a SHA-256 version id fits)."""


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Client text made safe to repeat in a message, a header or a log line.

    Characters that are not printable (control characters; lone surrogates, which no UTF-8 encoder
    accepts) are escaped as in a Python literal. Text longer than `limit` once escaped is cut
    there and followed by "... (N characters)", N being its whole length.
    """
    shown, cut = _escaped_prefix(text, limit)
    return f"{shown}... ({len(text)} characters)" if cut else shown


def quoted(value: object, limit: int = ECHO_LIMIT) -> str:
    """A client's value for a message: a string in single quotes, anything else as its repr,
    bounded and escaped like `clip` (a cut string reads 'abc'... (4000 characters))."""
    if not isinstance(value, str):
        return clip(repr(value), limit)
    shown, cut = _escaped_prefix(value, limit)
    return f"'{shown}'... ({len(value)} characters)" if cut else f"'{shown}'"


def _escaped_prefix(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` characters of `text`, non-printable ones escaped, and whether it was cut."""
    if len(text) <= limit and text.isprintable():
        return text, False  # the common case, without a loop
    pieces: list[str] = []
    used = 0
    for char in text:  # stops after `limit` characters: a long text costs no more than a short one
        piece = char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        used += len(piece)
        if used > limit:
            return "".join(pieces), True
        pieces.append(piece)
    return "".join(pieces), False


class LoanappError(Exception):
    """Base of every error loanapp raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """JSON body for this error: what went wrong, and which kind of error it is."""
        return {"error": self.message, "type": type(self).__name__}

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with this error's response."""
        return {}


class NotFoundError(LoanappError):
    """Something that was asked for does not exist."""

    status_code = 404


class ObjectNotFoundError(NotFoundError):
    """A key is missing from the object store."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} not found in the store")
        self.key = key


class ModelNotFoundError(NotFoundError):
    """No version was ever published under this model name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no model named {quoted(name)} in the store")
        self.name = name


class VersionNotFoundError(NotFoundError):
    """No version of a model matches the given hash or prefix."""

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"model {quoted(name)} has no version {quoted(version)}")
        self.name = name
        self.version = version


class NotServedError(NotFoundError):
    """A request names a model, or a version, other than the one this predict API serves."""

    def __init__(self, name: str, version: str | None, served: str, served_version: str | None):
        asked = quoted(name) + (f" version {quoted(version)}" if version is not None else "")
        serving = quoted(served) + (f" version {served_version}" if served_version else "")
        super().__init__(f"model {asked} is not served here; this predict API serves {serving}")


class AliasNotFoundError(NotFoundError):
    """An alias of a model was never set."""

    def __init__(self, name: str, alias: str) -> None:
        super().__init__(
            f"model {quoted(name)} has no alias {quoted(alias)}; promote a version first"
        )
        self.name = name
        self.alias = alias


class ConflictError(LoanappError):
    """The request conflicts with the current state."""

    status_code = 409


class ObjectExistsError(ConflictError):
    """A create-only write found the key already present."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} already exists")
        self.key = key


class PreconditionFailedError(ConflictError):
    """A compare-and-swap write lost: the object changed since it was read."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} was changed by another writer")
        self.key = key


class AmbiguousVersionError(ConflictError):
    """A hash prefix matches more than one version."""

    def __init__(self, prefix: str, matches: Sequence[str]) -> None:
        listed = ", ".join(sorted(matches))
        super().__init__(f"version prefix {quoted(prefix)} is ambiguous: matches {listed}")
        self.prefix = prefix
        self.matches = list(matches)


class NothingToRollBackError(ConflictError):
    """An alias has no earlier version to go back to."""

    def __init__(self, name: str, alias: str) -> None:
        super().__init__(
            f"alias {alias!r} of model {name!r} has no earlier version to roll back to"
        )
        self.name = name
        self.alias = alias


class PromotionRefusedError(ConflictError):
    """The promotion gate refuses a candidate: its paired CV ROC-AUC is worse than the current
    version's beyond the margin, or the two cannot be compared on the same folds."""

    def __init__(
        self,
        *,
        alias: str,
        candidate: tuple[str, float],
        current: tuple[str, float],
        delta_auc: tuple[float, float, float] | None,
        threshold: float,
        not_comparable: str | None,
    ) -> None:
        (new, new_auc), (old, old_auc) = candidate, current
        figures = (
            f"candidate {new[:12]} has CV ROC-AUC {new_auc:.4f} and {alias} {old[:12]} "
            f"has {old_auc:.4f}"
        )
        if delta_auc is None:
            why = f"cannot be compared on the same folds: {not_comparable}"
        else:
            mean, low, high = delta_auc
            why = (
                f"ΔAUC {mean:+.4f} (95 % CI {low:+.4f} to {high:+.4f}) has its lower bound "
                f"below {threshold}"
            )
        super().__init__(
            f"promotion refused: {figures}, and {why}; use force with a reason to promote anyway"
        )
        self.gate: dict[str, object] = {
            "candidate": new,
            "current": old,
            "delta_auc": None if delta_auc is None else delta_auc[0],
            "delta_auc_ci": None if delta_auc is None else [delta_auc[1], delta_auc[2]],
            "threshold": threshold,
            "why": "not_comparable" if delta_auc is None else "worse",
        }

    def to_dict(self) -> dict[str, object]:
        """The error body, with the gate's figures."""
        return super().to_dict() | {"gate": self.gate}


class MissingReasonError(LoanappError):
    """A promotion was forced past the gate without saying why."""

    status_code = 422

    def __init__(self) -> None:
        super().__init__("a forced promotion needs a reason: give a non-empty 'reason'")


class ArtifactError(LoanappError):
    """The bytes are not a model artifact that loanapp will serve."""

    status_code = 422


class ArtifactIntegrityError(ArtifactError):
    """The SHA-256 of the bytes is not the one they were registered under."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"artifact integrity check failed: expected sha256 {expected}, got sha256 {actual}; "
            "nothing was loaded"
        )
        self.expected = expected
        self.actual = actual


class DamagedVersionError(ArtifactError):
    """A promotion or rollback targets a version whose stored bytes no longer hash to it.

    `actual` is what the stored bytes hash to (None if they are missing); a rollback also lists
    the versions of the alias's history that are still intact, to choose from instead.
    """

    def __init__(
        self,
        action: Literal["promote", "rollback"],
        alias: str,
        version: str,
        actual: str | None,
        intact: Sequence[str] | None = None,
    ) -> None:
        if action == "promote":
            refused = f"cannot promote {version} to {alias!r}"
        else:
            refused = f"cannot roll back {alias!r} to {version}"
        found = "are missing from the store" if actual is None else f"hash to {actual}"
        message = f"{refused}: its stored bytes {found}"
        if intact is not None:
            message += f"; versions still intact: {', '.join(intact) or 'none'}"
        super().__init__(message)
        self.version = version
        self.actual = actual
        self.intact = list(intact or ())


class ArtifactFormatError(ArtifactError):
    """The bytes are not a loanapp artifact: a member is malformed, or inflates past a limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a valid loanapp artifact: {reason}")
        self.reason = reason


class IncompatibleArtifactError(ArtifactError):
    """The artifact was trained with a library version other than the one installed."""

    def __init__(self, library: str, trained_with: str, installed: str) -> None:
        super().__init__(
            f"artifact was trained with {library} {trained_with} but {library} {installed} is "
            f"installed; load it where {library}=={trained_with} is installed, or retrain it"
        )
        self.library = library
        self.trained_with = trained_with
        self.installed = installed


class UntrustedArtifactError(ArtifactError):
    """The serialised model contains types outside loanapp's allow-list."""

    def __init__(self, types: Sequence[str]) -> None:
        super().__init__(
            "artifact contains types that loanapp does not load: " + ", ".join(sorted(types))
        )
        self.types = list(types)


class ArtifactBehaviourError(ArtifactError):
    """The loaded model does not reproduce the probabilities recorded for its reference rows."""

    def __init__(self, max_difference: float, tolerance: float) -> None:
        super().__init__(
            "loaded model does not reproduce its reference rows: largest probability difference "
            f"{max_difference:.3g} exceeds tolerance {tolerance:.3g}"
        )
        self.max_difference = max_difference
        self.tolerance = tolerance


class SignatureError(ArtifactError):
    """A version has no valid signature by a trusted key, or a signature is not valid."""

    def __init__(self, version: str, reason: str) -> None:
        super().__init__(f"version {version} is not signed by a trusted key: {reason}")
        self.version = version
        self.reason = reason


class InvalidInputError(LoanappError):
    """A caller's argument is malformed."""

    status_code = 400


class MalformedRequestError(InvalidInputError):
    """An HTTP request body is not JSON, or not of the shape the endpoint takes."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed request: {reason}")
        self.reason = reason


class AuthenticationError(LoanappError):
    """A write endpoint was called without a valid `Authorization: Bearer` admin token."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("this endpoint needs 'Authorization: Bearer <LOANAPP_ADMIN_TOKEN>'")


class ReadTokenError(AuthenticationError):
    """A dashboard page or the fleet view was read without the configured read token."""

    def __init__(self) -> None:
        LoanappError.__init__(
            self,
            "this page needs LOANAPP_UI_READ_TOKEN: as the password of HTTP Basic (any user "
            "name) or as 'Authorization: Bearer <token>'",
        )

    def headers(self) -> dict[str, str]:
        """Ask a browser for the token (its Basic prompt), once per tab."""
        return {"WWW-Authenticate": 'Basic realm="loanapp dashboard", charset="UTF-8"'}


class CsrfError(LoanappError):
    """A write from the dashboard lacked the CSRF token of the page it came from."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "the X-CSRF-Token header is missing or does not match this page's cookie; "
            "reload the page and try again"
        )


class AdminDisabledError(LoanappError):
    """Write endpoints are disabled because no admin token is configured."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "write endpoints are disabled: set LOANAPP_ADMIN_TOKEN on the model server to use them"
        )


class PayloadTooLargeError(LoanappError):
    """A request body or batch exceeds the configured limit; `size` is None when unknown (a
    streamed body is not read past the limit)."""

    status_code = 413

    def __init__(self, what: str, size: int | None, limit: int) -> None:
        amount = "more" if size is None else f"{size}, more"
        super().__init__(f"{what} is {amount} than the limit of {limit}")
        self.size = size
        self.limit = limit


class UnsupportedEncodingError(LoanappError):
    """A request body is compressed with a Content-Encoding the service does not read."""

    status_code = 415
    accepted = ("gzip",)

    def __init__(self, encoding: str) -> None:
        super().__init__(
            f"Content-Encoding {quoted(encoding)} is not supported; send the body uncompressed "
            "or with Content-Encoding: gzip"
        )
        self.encoding = encoding

    def headers(self) -> dict[str, str]:
        """The encodings that are accepted, as RFC 9110 asks of a 415 for a Content-Encoding."""
        return {"Accept-Encoding": ", ".join(self.accepted)}


class RequestValidationError(LoanappError):
    """Rows do not match the input schema; `problems` lists each one by row and field."""

    status_code = 422

    def __init__(self, problems: Sequence[dict[str, object]]) -> None:
        count = len(problems)
        first = problems[0]
        where = ", ".join(f"{key} {first[key]}" for key in ("row", "field") if key in first)
        super().__init__(
            f"{count} invalid value{'s' if count != 1 else ''} in the request; "
            f"first: {where}: {first['problem']}"
        )
        self.problems = list(problems)

    def to_dict(self) -> dict[str, object]:
        """The error body, with every problem listed."""
        return super().to_dict() | {"problems": self.problems}


class ModelNotReadyError(LoanappError):
    """No verified model is loaded yet, so nothing can be predicted."""

    status_code = 503
    retry_after_seconds = 2

    def __init__(self, detail: str) -> None:
        super().__init__(f"no model is loaded yet: {detail}")
        self.detail = detail

    def headers(self) -> dict[str, str]:
        """When to ask again."""
        return {"Retry-After": str(self.retry_after_seconds)}


class UpstreamUnavailableError(LoanappError):
    """The model server cannot be reached, or answered with an error."""

    status_code = 503

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"model server at {url} is unavailable: {reason}")
        self.url = url
        self.reason = reason


class CorruptRecordError(LoanappError):
    """A registry record in the store cannot be parsed."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"store record {key!r} is malformed: {reason}")
        self.key = key


class StoreUnavailableError(LoanappError):
    """The object store cannot be reached or written."""

    status_code = 503

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"model store {store} is unavailable: {reason}")
        self.store = store
        self.reason = reason
