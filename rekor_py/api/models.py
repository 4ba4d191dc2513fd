"""The JSON bodies of the Rekor v1 HTTP API, as pydantic models.

Responses: field order is the order of the bytes served (and Rekor's), a field
absent from Rekor's answer is excluded rather than null (`attestation`), and one
that Rekor sends as null stays (`inactiveShards`).  `to_json` writes any of them,
or lists of them, the way Rekor's Go encoder does: compact, UTF-8, no HTML escaping.

Requests: `SearchIndex` (POST /api/v1/index/retrieve) and `SearchLogQuery` (POST
/api/v1/log/entries/retrieve) check the schema of Rekor's OpenAPI document;
`request_error` turns the first failure into the 422 (or 400) go-openapi would
answer, with its wording, which the clients and tests rely on.  Proposed
entries (`SearchLogQuery.entries`, POST /api/v1/log/entries) are not modelled
here: their kinds parse them like Go's encoding/json (duplicate keys, case-
insensitive names, exact integer ranges: rekor_py/types/go_json.py), which
pydantic's JSON model cannot express.

This module imports nothing of ours but errors.py: log/ (entries, service)
builds its answers with these models without depending on the HTTP layer.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_json

from rekor_py.errors import InvalidRequest, RekorError, UnprocessableEntity

__all__ = [
    "Attestation",
    "ConsistencyProof",
    "Error",
    "InactiveShard",
    "InclusionProof",
    "LogEntry",
    "LogEntryAnon",
    "LogInfo",
    "SearchIndex",
    "SearchIndexPublicKey",
    "SearchLogQuery",
    "Verification",
    "parse_request",
    "to_json_body",
]


def _is_none(value: object) -> bool:
    return value is None


# ---- responses ------------------------------------------------------------------------


class InclusionProof(BaseModel):
    checkpoint: str
    hashes: list[str]
    logIndex: int
    rootHash: str
    treeSize: int


class Verification(BaseModel):
    inclusionProof: InclusionProof
    signedEntryTimestamp: str


class Attestation(BaseModel):
    data: str


class LogEntryAnon(BaseModel):
    """The value under the entry's UUID (Rekor's LogEntryAnon)."""

    body: str
    integratedTime: int
    logID: str
    logIndex: int
    verification: Verification
    # Only intoto entries whose payload was kept have one; Rekor omits the key otherwise.
    attestation: Attestation | None = Field(default=None, exclude_if=_is_none)


class LogEntry(RootModel[dict[str, LogEntryAnon]]):
    """`{uuid: LogEntryAnon}`: one key, the 80-hex entry ID."""

    @property
    def uuid(self) -> str:
        return next(iter(self.root))

    # A LogEntry reads like the one-key dict it is served as (`next(iter(entry))`).
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.root)

    def __getitem__(self, uuid: str) -> LogEntryAnon:
        return self.root[uuid]


class InactiveShard(BaseModel):
    rootHash: str
    signedTreeHead: str
    treeID: str
    treeSize: int


class LogInfo(BaseModel):
    # Rekor sends null, not [], when the log has no inactive shards.
    inactiveShards: list[InactiveShard] | None = None
    rootHash: str
    signedTreeHead: str
    treeID: str
    treeSize: int


class ConsistencyProof(BaseModel):
    hashes: list[str]
    rootHash: str


class Error(BaseModel):
    """Rekor's error body."""

    code: int
    message: str

    @field_validator("message")
    @classmethod
    def _encodable(cls, value: str) -> str:
        # A message may quote client text, and JSON can carry lone surrogates
        # ("\ud800"), which UTF-8 cannot: escape them rather than fail the answer.
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode()
        return value


def to_json_body(data: Any) -> bytes:
    """A response body: models, lists and dicts of them, or plain JSON values, then "\\n"."""
    return to_json(data) + b"\n"


# ---- requests -------------------------------------------------------------------------

# An error whose message is the whole client message, not a "<field> in body" phrase.
_WHOLE = "rekor_whole_message"
# A schema error Rekor answers with 400 rather than 422 (a value its JSON decoder refuses).
_BAD_REQUEST = "rekor_bad_request"

_MAX_QUERIES = 10
# Rekor's hash pattern plus sha384 (a deliberate difference: README, "Search").
HASH_PATTERN = ("^(sha512:)?[0-9a-fA-F]{128}$|^(sha384:)?[0-9a-fA-F]{96}$|"
                "^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$")
# The same, for fullmatch (Python's "$" also matches before a final newline).
_HASH_RE = re.compile(HASH_PATTERN.replace("^", "").replace("$", ""))
# go-openapi's strfmt email is net/mail.ParseAddress; we accept the plain
# addr-spec only (no display name), which is what the index stores.
_EMAIL_RE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_MAX_EMAIL = 254
# The publicKey.format enum of Rekor's SearchIndex schema.
PKIFormat = Literal["pgp", "x509", "minisign", "ssh", "tuf"]


class _Request(BaseModel):
    # strict: JSON types are not coerced (a number is not a string), as in Go;
    # unknown fields are ignored, as go-swagger's decoder does.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class SearchIndexPublicKey(_Request):
    format: PKIFormat
    # `format: byte`: standard base64.  Absent or empty is an empty key (which won't
    # parse); bad base64 is 400, as Go's decoder refuses it before any validation.
    content: bytes = b""

    @field_validator("format", mode="before")
    @classmethod
    def _format_required(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("missing", "null")  # Go: null is the zero value
        return value

    @field_validator("content", mode="before")
    @classmethod
    def _base64(cls, value: Any) -> bytes:
        if value is None:
            return b""
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "not a string")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PydanticCustomError(_BAD_REQUEST,
                                      "publicKey.content in body must be base64") from None


class SearchIndex(_Request):
    """Field order is the order of Rekor's checks: the first failure is reported."""

    operator: Literal["and", "or"] = "or"
    hash: str | None = None
    publicKey: SearchIndexPublicKey | None = None
    email: str | None = None
    subject: Annotated[str, Field(min_length=1, max_length=512)] | None = None

    @field_validator("operator", mode="before")
    @classmethod
    def _default_operator(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise PydanticCustomError("string_type", "not a string")
        return value or "or"  # Rekor's default

    @field_validator("hash", "email")
    @classmethod
    def _empty_is_absent(cls, value: str | None) -> str | None:
        return value or None  # Go's zero value: "" is not validated

    @field_validator("hash")
    @classmethod
    def _hash_pattern(cls, value: str | None) -> str | None:
        if value is not None and not _HASH_RE.fullmatch(value):
            raise PydanticCustomError(_WHOLE, "hash in body should match '{pattern}'",
                                      {"pattern": HASH_PATTERN})
        return value

    @field_validator("email")
    @classmethod
    def _email_format(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > _MAX_EMAIL or not _EMAIL_RE.fullmatch(value)):
            raise PydanticCustomError(_WHOLE, 'email in body must be of type email: "{value}"',
                                      {"value": value[:100]})
        return value


class SearchLogQuery(_Request):
    # Entry IDs are checked by log.entries.parse_entry_id (400 "invalid entryID"), and
    # proposed entries by their kind's Go-compatible parser: neither is modelled here.
    entryUUIDs: Annotated[list[Any], Field(max_length=_MAX_QUERIES)] | None = None
    logIndexes: Annotated[list[Annotated[int, Field(ge=0)]],
                          Field(max_length=_MAX_QUERIES)] | None = None
    entries: Annotated[list[Any], Field(max_length=_MAX_QUERIES)] | None = None

    @model_validator(mode="after")
    def _at_most_ten_in_all(self) -> SearchLogQuery:
        total = sum(len(v or ()) for v in (self.entryUUIDs, self.logIndexes, self.entries))
        if total > _MAX_QUERIES:
            raise PydanticCustomError(_WHOLE, "more than max allowed {limit} entries in request",
                                      {"limit": _MAX_QUERIES})
        return self


# go-openapi's phrase for each pydantic error type: "<field> in body <phrase>".
_PHRASES = {
    "missing": "is required",
    "string_type": "must be of type string",
    "int_type": "must be of type integer",
    "list_type": "must be of type array",
    "model_type": "must be of type object",
    "dict_type": "must be of type object",
    "string_too_short": "should be at least {min_length} chars long",
    "string_too_long": "should be at most {max_length} chars long",
    "too_long": "should have at most {max_length} items",
    "greater_than_equal": "should be greater than or equal to {ge}",
    "literal_error": "should be one of [{expected}]",
}


def _message(model: type[BaseModel], error: Any) -> str:
    """go-openapi's wording for one pydantic error (the one place they are mapped)."""
    kind, loc, ctx = error["type"], error["loc"], dict(error.get("ctx") or {})
    if kind in (_WHOLE, _BAD_REQUEST):
        return str(error["msg"])
    if not loc and kind == "model_type":
        return f"body must be a {model.__name__} object"
    if kind == "literal_error":  # pydantic lists them as "'a', 'b' or 'c'"
        ctx["expected"] = " ".join(re.findall(r"'([^']*)'", ctx["expected"]))
    phrase = _PHRASES.get(kind)
    if phrase is None:  # a constraint not in the table: pydantic's own words
        phrase = str(error["msg"])[:1].lower() + str(error["msg"])[1:]
    return f"{'.'.join(str(part) for part in loc)} in body {phrase.format(**ctx)}"


M = TypeVar("M", bound=BaseModel)


def parse_request(model: type[M], body: Any) -> M:
    """`body` (parsed JSON) as `model`; raises the 422/400 Rekor answers for the first fault."""
    try:
        return model.model_validate(body)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        error: type[RekorError] = (InvalidRequest if first["type"] == _BAD_REQUEST
                                   else UnprocessableEntity)
        raise error(_message(model, first)) from None
