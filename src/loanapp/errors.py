"""Every way loanapp can fail, as one small exception tree.

    LoanappError                      500  base: an error of ours, with a message and an HTTP status
    ├── NotFoundError                 404
    │   ├── ObjectNotFoundError             a key is missing from the object store
    │   ├── ModelNotFoundError              no version was ever published under a model name
    │   ├── VersionNotFoundError            no version matches a hash (or hash prefix)
    │   └── AliasNotFoundError              an alias was never set
    ├── ConflictError                 409
    │   ├── ObjectExistsError               create-only write of a key that exists
    │   ├── PreconditionFailedError         compare-and-swap lost against another writer
    │   ├── AmbiguousVersionError           a hash prefix matches several versions
    │   └── NothingToRollBackError          an alias has no earlier version
    ├── ArtifactError                 422  the bytes are not a model we will serve
    │   ├── ArtifactIntegrityError          SHA-256 of the bytes differs from the expected one
    │   ├── DamagedVersionError             an alias would move to a version whose bytes are damaged
    │   ├── ArtifactFormatError             not a loanapp artifact: malformed, or over a size limit
    │   ├── IncompatibleArtifactError       trained with another scikit-learn version
    │   ├── UntrustedArtifactError          the serialised model holds types we do not load
    │   └── ArtifactBehaviourError          reference rows no longer give the recorded answers
    ├── InvalidInputError             400  a caller's argument is malformed (URI, hash, option)
    │   └── MalformedRequestError           an HTTP body is not JSON, or not of the expected shape
    ├── AuthenticationError           401  a write endpoint was called without the admin token
    ├── AdminDisabledError            403  write endpoints are off: no admin token is configured
    ├── PayloadTooLargeError          413  a body or batch is larger than the configured limit
    ├── RequestValidationError        422  rows do not match the model's input schema
    ├── ModelNotReadyError            503  no verified model is loaded yet
    ├── UpstreamUnavailableError      503  the model server cannot be reached or answered wrongly
    ├── CorruptRecordError            500  a registry record in the store cannot be parsed
    └── StoreUnavailableError         503  the object store cannot be reached or written

Each class builds its message from its arguments, so a message is the same wherever it is raised,
and the services map `status_code` to HTTP in one handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal


class LoanappError(Exception):
    """Base of every error loanapp raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """JSON body for this error: what went wrong, and which kind of error it is."""
        return {"error": self.message, "type": type(self).__name__}


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
        super().__init__(f"no model named {name!r} in the store")
        self.name = name


class VersionNotFoundError(NotFoundError):
    """No version of a model matches the given hash or prefix."""

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"model {name!r} has no version {version!r}")
        self.name = name
        self.version = version


class AliasNotFoundError(NotFoundError):
    """An alias of a model was never set."""

    def __init__(self, name: str, alias: str) -> None:
        super().__init__(f"model {name!r} has no alias {alias!r}; promote a version first")
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
        super().__init__(f"version prefix {prefix!r} is ambiguous: matches {listed}")
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


class AdminDisabledError(LoanappError):
    """Write endpoints are disabled because no admin token is configured."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "write endpoints are disabled: set LOANAPP_ADMIN_TOKEN on the model server to use them"
        )


class PayloadTooLargeError(LoanappError):
    """A request body or batch exceeds the configured limit."""

    status_code = 413

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} is {size}, more than the limit of {limit}")
        self.size = size
        self.limit = limit


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
