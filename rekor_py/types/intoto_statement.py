"""In-toto statement payloads -> the digest index keys Rekor derives from them
(docs/rekor-compat.md#index-keys).

Rekor reads a payload of type `application/vnd.in-toto+json` with Go's
encoding/json into small structs and indexes `<alg>:<digest>` for every
subject digest, then for every material digest:

- intoto 0.0.1 and 0.0.2 read materials through in-toto-golang's typed
  SLSA 0.2 `ProvenanceStatement`, so any field of the wrong type anywhere in
  that statement (a non-RFC 3339 `metadata.buildStartedOn`, a numeric
  `buildType`) drops the material keys (`slsa02_material_keys`);
- dsse reads `predicate.materials[].digest` from any predicate
  (`predicate_material_keys`).

If the subject list does not decode, Rekor adds no statement keys at all.
Go iterates a digest map in random order; we emit each map's keys sorted by
algorithm so the output is deterministic. Keys are returned as sent; the
entry types lowercase them. Owns nothing else: which payloads are in-toto,
and the other index keys, are the entry types' concern.
"""

from __future__ import annotations

from typing import Any

from rekor_py.types.go_json import (
    ANY,
    BOOL,
    RAW,
    STRING,
    TIME,
    GoJSONError,
    ListOf,
    MapOf,
    Struct,
    loads,
    unmarshal,
)

__all__ = ["IN_TOTO_PAYLOAD_TYPE", "statement_index_keys"]

# in_toto.PayloadType in in-toto-golang.
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

_DIGEST_SET = MapOf(STRING, "common.DigestSet")
_DIGESTED = Struct("struct", (("digest", _DIGEST_SET),))

# Rekor's indexKeyExtract (intoto) and, for dsse, the same plus predicate as json.RawMessage.
_SUBJECTS = Struct("intoto.indexKeyExtract", (("subject", ListOf(_DIGESTED, "[]struct { Digest map[string]string }")),))
_SUBJECTS_AND_PREDICATE = Struct("dsse.indexKeyExtract", _SUBJECTS.fields + (("predicate", RAW),))
_MATERIALS = Struct("dsse.materialsExtract",
                    (("materials", ListOf(_DIGESTED, "[]struct { Digest map[string]string }")),))

# in_toto.ProvenanceStatement: StatementHeader + slsa v0.2 ProvenancePredicate.
_SLSA02_MATERIAL = Struct("common.ProvenanceMaterial", (("uri", STRING), ("digest", _DIGEST_SET)))
_SLSA02_PREDICATE = Struct(
    "v02.ProvenancePredicate",
    (
        ("builder", Struct("common.ProvenanceBuilder", (("id", STRING),))),
        ("buildType", STRING),
        (
            "invocation",
            Struct(
                "v02.ProvenanceInvocation",
                (
                    (
                        "configSource",
                        Struct("v02.ConfigSource", (("uri", STRING), ("digest", _DIGEST_SET), ("entryPoint", STRING))),
                    ),
                    ("parameters", ANY),
                    ("environment", ANY),
                ),
            ),
        ),
        ("buildConfig", ANY),
        (
            "metadata",
            Struct(
                "v02.ProvenanceMetadata",
                (
                    ("buildInvocationID", STRING),
                    ("buildStartedOn", TIME),
                    ("buildFinishedOn", TIME),
                    (
                        "completeness",
                        Struct(
                            "v02.ProvenanceComplete",
                            (("parameters", BOOL), ("environment", BOOL), ("materials", BOOL)),
                        ),
                    ),
                    ("reproducible", BOOL),
                ),
                pointer=True,
            ),
        ),
        ("materials", ListOf(_SLSA02_MATERIAL, "[]common.ProvenanceMaterial")),
    ),
)
_SLSA02_STATEMENT = Struct(
    "in_toto.ProvenanceStatement",
    (
        ("_type", STRING),
        ("predicateType", STRING),
        ("subject",
         ListOf(Struct("in_toto.Subject", (("name", STRING), ("digest", _DIGEST_SET))),
                "[]in_toto.Subject")),
        ("predicate", _SLSA02_PREDICATE),
    ),
)


def statement_index_keys(payload: bytes, *, dsse: bool) -> list[str]:
    """`<alg>:<digest>` for each subject digest, then each material digest; [] if unreadable.

    `dsse` picks the dsse kind's materials rule; False is intoto's (SLSA 0.2 only).
    """
    try:
        # Go keeps invalid UTF-8 inside strings as U+FFFD; outside them it is a syntax error either way.
        parsed = loads(payload.decode("utf-8", "replace"))
    except GoJSONError:
        return []
    decoded, error = unmarshal(_SUBJECTS_AND_PREDICATE if dsse else _SUBJECTS, parsed)
    if error is not None:
        return []
    keys = _digest_keys(decoded.get("subject"))
    if dsse:
        keys += _predicate_material_keys(decoded.get("predicate"))
    else:
        keys += _slsa02_material_keys(parsed)
    return keys


def _digest_keys(items: list[dict[str, Any]] | None) -> list[str]:
    keys: list[str] = []
    for item in items or []:
        digests = item.get("digest") or {}
        keys += [f"{alg}:{digests[alg]}" for alg in sorted(digests)]
    return keys


def _predicate_material_keys(raw: tuple[Any] | None) -> list[str]:
    if raw is None:
        return []  # no predicate key at all: Rekor skips the materials step
    materials, error = unmarshal(_MATERIALS, raw[0])
    if error is not None or materials is None:
        return []
    return _digest_keys(materials.get("materials"))


def _slsa02_material_keys(parsed: Any) -> list[str]:
    statement, error = unmarshal(_SLSA02_STATEMENT, parsed)
    if error is not None or statement is None:
        return []
    return _digest_keys(statement["predicate"].get("materials"))

