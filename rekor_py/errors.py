"""The RekorError tree: every failure a client can be told about.

Each class carries an HTTP status and a fixed message that is safe to show a
client; `detail` adds the specific reason (never a stack trace or SQL).  Only
api/problems.py turns these into responses, as Rekor's `{"code", "message"}`.
Client faults are 4xx, our faults 5xx.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DatabaseUnavailable",
    "EntryNotFound",
    "InvalidEntry",
    "InvalidProofRequest",
    "InvalidRequest",
    "LogFull",
    "LogIndexConflict",
    "PayloadTooLarge",
    "ReadOnly",
    "RekorError",
    "SigningError",
    "StorageError",
    "UnprocessableEntity",
]


class RekorError(Exception):
    """Base: `status` and a client-safe `message`, optionally refined by `detail`."""

    status = 500
    message = "internal server error"
    # Seconds for a Retry-After header, for faults a retry can outlast (503s).
    retry_after: int | None = None

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.message)
        self.detail = detail

    @property
    def client_message(self) -> str:
        return self.detail if self.detail else self.message


# ---- client faults -------------------------------------------------------------------


class InvalidRequest(RekorError):
    status = 400
    message = "bad request"


class InvalidEntry(InvalidRequest):
    """A proposed entry that does not parse, verify or pass policy (Rekor: 400)."""

    message = "error processing entry"

    def __init__(self, detail: str | None = None) -> None:
        # Rekor prefixes every entry failure this way; clients show it verbatim.
        super().__init__(f"error processing entry: {detail}" if detail else None)


class InvalidProofRequest(InvalidRequest):
    message = "invalid proof request"


class UnprocessableEntity(RekorError):
    """Schema-level failures Rekor answers with 422 (unknown kind, bad parameter)."""

    status = 422
    message = "unprocessable entity"


class EntryNotFound(RekorError):
    status = 404
    message = "entry not found"


class ConflictError(RekorError):
    """A duplicate entry: 409 with the existing entry's location."""

    status = 409
    message = "an equivalent entry already exists in the transparency log"

    def __init__(self, entry_id: str, location: str) -> None:
        super().__init__(f"{self.message} with UUID {entry_id}")
        self.entry_id = entry_id
        self.location = location


class LogIndexConflict(RekorError):
    """A duplicate entry in the Rekor v2 API: 409 with the index that holds it, in
    the `x-log-index` header (as rekor-tiles answers)."""

    status = 409
    message = "an equivalent entry already exists in the transparency log"

    def __init__(self, log_index: int) -> None:
        super().__init__(f"{self.message} at index {log_index}")
        self.log_index = log_index


class PayloadTooLarge(RekorError):
    status = 413
    message = "Request Entity Too Large"


class ReadOnly(RekorError):
    status = 405
    message = "this log server is read-only"


# ---- our faults ----------------------------------------------------------------------


class StorageError(RekorError):
    status = 500
    message = "storage error"


class SigningError(RekorError):
    status = 500
    message = "signing error"


class LogFull(RekorError):
    """The pending queue is full: come back later (503 with Retry-After)."""

    status = 503
    message = "the log is busy, retry later"
    retry_after = 1


class DatabaseUnavailable(StorageError):
    """PostgreSQL cannot be reached now (down, restarting, in recovery): 503 with Retry-After."""

    status = 503
    message = "the log's database is unavailable, retry later"
    retry_after = 1


class WitnessQuorumPending(RekorError):
    """Fail-closed witnessing: the entry is logged, but no checkpoint holding it got
    its witness quorum in time; the client retries and gets 409 with the entry."""

    status = 503
    message = "the entry is logged but not yet cosigned by the witness quorum; retry later"
    retry_after = 1
