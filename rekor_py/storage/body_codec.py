"""How an entry's canonical body is stored in `entries.body`: raw, or deflated.

PostgreSQL compresses only values over ~2 KB, and its compressors (pglz, lz4)
have no entropy coding, so they get little out of the hex and base64 that make
up most of a body.  Deflate does (hex and base64 use 4 and 6 of each byte's 8
bits), and a preset dictionary of the canonical bodies' JSON structure saves
the keys and the fixed prefixes that a lone ~600-byte body cannot reference
within itself: a synthetic hashedrekord body of 557 B stores in ~266 B, a
Fulcio-shaped one of 1,724 B in ~1,100 B (bench/README.md, "Storage").

Stored forms, told apart by the first byte:

- `{`: the canonical body as is.  Every canonical body is a JSON object, so
  every row written before this format existed reads as this form, and so does
  a body that deflate would not make shorter.
- 0x01: the body deflated (RFC 1951, no zlib header or checksum: the entry's
  leaf hash is the body's checksum) with the preset dictionary `_DICTIONARY_1`.

The dictionary of a form can never change once rows use it: a new dictionary
is a new first byte, and decode_body keeps reading the old ones.
"""

from __future__ import annotations

import base64
import zlib

from rekor_py.errors import StorageError

__all__ = ["RAW", "ZLIB_DICT_1", "decode_body", "encode_body"]

RAW = ord("{")
ZLIB_DICT_1 = 0x01

# Raw deflate.  Inflating takes any window up to 32 KiB, so the compressor's
# window is its own choice: 4 KiB holds the dictionary and a typical body, and
# with memLevel 6 the compressor's state is ~50 KB instead of ~260 KB.  That
# matters in a verification worker, whose heap otherwise shrinks and regrows
# around every body (page faults doubled the cost of deflating there).
_WBITS = -15
_DEFLATE_WBITS = -12
_MEM_LEVEL = 6
# Level 9 costs no more than 6 on bodies this small and is a few bytes smaller.
_LEVEL = 9
# What inflating a row may produce, far above the 64 KiB that log/prepare.py lets
# a body be: bounded work even for a corrupt row.
_MAX_BODY = 1 << 20


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Skeletons of the canonical bodies of each kind and version (keys in JCS order,
# values emptied), and the fixed starts of their base64 values: PEM armour as
# the v1 kinds store it (base64 of the PEM text), a P-256 public key's DER
# prefix, a DER certificate's and an ECDSA signature's first bytes.  Deflate
# references nearer bytes more cheaply, so the commonest shape comes last.
# FROZEN: rows depend on these exact bytes (tests/unit/storage pins their hash).
_DICTIONARY_1 = "".join([
    '{"apiVersion":"0.0.2","kind":"intoto","spec":{"content":{"envelope":{"payloadType":'
    '"application/vnd.in-toto+json","signatures":[{"publicKey":"',
    _b64("-----BEGIN PUBLIC KEY-----\n"), '","sig":""}]},"hash":{"algorithm":"sha256",'
    '"value":""},"payloadHash":{"algorithm":"sha256","value":""}}}}',
    '{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256",'
    '"value":""},"payloadHash":{"algorithm":"sha256","value":""},"signatures":[{"signature":'
    '"","verifier":"', _b64("-----BEGIN PUBLIC KEY-----\n"), '"}]}}',
    '{"apiVersion":"0.0.1","kind":"rekord","spec":{"data":{"hash":{"algorithm":"sha256",'
    '"value":""}},"signature":{"content":"', _b64("-----BEGIN PGP SIGNATURE-----\n\n"),
    '","format":"pgp","publicKey":{"content":"',
    _b64("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"), '"}}}}',
    '{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":'
    '{"algorithm":"SHA2_256","digest":""},"signature":{"content":"MEUCI","verifier":'
    '{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{"rawBytes":"MIIC"}}}}}}',
    '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":'
    '"sha256","value":""}},"signature":{"content":"MEUCI","publicKey":{"content":"',
    _b64("-----BEGIN CERTIFICATE-----\nMIIC")[:-4], '"}}}}',
    '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":'
    '"sha256","value":""}},"signature":{"content":"MEUCI","publicKey":{"content":"',
    _b64("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"), '"}}}}',
]).encode()


def encode_body(body: bytes) -> bytes:
    """The stored form of a canonical body: deflated when that is shorter and the
    body is a JSON object (starts with `{`), else as is."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _DEFLATE_WBITS, _MEM_LEVEL,
                                  zdict=_DICTIONARY_1)
    deflated = compressor.compress(body) + compressor.flush()
    if body[:1] == b"{" and len(deflated) + 1 >= len(body):
        return body
    # A body not starting with `{` is always deflated, so that its stored form can
    # never be mistaken for another (no canonical body is one, but this costs nothing).
    return bytes((ZLIB_DICT_1,)) + deflated


def decode_body(stored: bytes) -> bytes:
    """The canonical body from its stored form.  Raises StorageError for a form
    this code does not know or a stream that does not inflate whole (a corrupt row)."""
    marker = stored[:1]
    if marker == b"{":
        return stored
    if marker != bytes((ZLIB_DICT_1,)):
        raise StorageError(f"stored body has unknown format byte {stored[:1].hex() or 'none'}")
    inflater = zlib.decompressobj(_WBITS, zdict=_DICTIONARY_1)
    try:
        body = inflater.decompress(stored[1:], _MAX_BODY)
    except zlib.error as e:
        raise StorageError(f"stored body does not inflate: {e}") from e
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise StorageError("stored body is truncated or has trailing bytes")
    return body
