"""Go encoding/pem semantics: find, decode and encode PEM blocks (no I/O).

Owns the byte-level PEM rules Rekor inherits from Go's pem.Decode and
pem.EncodeToMemory, shared by the formats that armor DER or wire blobs as PEM
(x509 keys and certificates, SSH signatures). Leaves the block types and what
their bytes mean to the format modules.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from rekor_py.pki.base import decode_std_base64

__all__ = ["PemBlock", "decode_pem", "encode_pem"]


@dataclass(frozen=True)
class PemBlock:
    type: str
    headers: tuple[tuple[str, str], ...]
    data: bytes


def _get_line(data: bytes) -> tuple[bytes, bytes]:
    # One line without its LF (and a CR before it), trailing spaces/tabs trimmed.
    i = data.find(b"\n")
    if i < 0:
        return data.rstrip(b" \t"), b""
    line = data[: i - 1] if i > 0 and data[i - 1 : i] == b"\r" else data[:i]
    return line.rstrip(b" \t"), data[i + 1 :]


def decode_pem(data: bytes) -> tuple[PemBlock | None, bytes]:
    """Find the next PEM block like Go's pem.Decode: (block, rest) or (None, data).

    Text before `-----BEGIN` is skipped; a block that looks like PEM but is broken
    is skipped too and the search goes on after its BEGIN line, as Go does.
    """
    while True:
        if data.startswith(b"-----BEGIN "):
            rest = data[len(b"-----BEGIN ") :]
        else:
            i = data.find(b"\n-----BEGIN ")
            if i < 0:
                return None, data
            rest = data[i + len(b"\n-----BEGIN ") :]
        block, after, retry_from = _decode_after_begin(rest)
        if block is not None:
            return block, after
        if retry_from is None:
            return None, data
        # Go's decodeError: retry from just past the rejected BEGIN line; if
        # nothing is found there, the caller gets the original input back.
        found, found_rest = decode_pem(retry_from)
        return (found, found_rest) if found is not None else (None, data)


def _decode_after_begin(rest: bytes) -> tuple[PemBlock | None, bytes, bytes | None]:
    """Parse one block after "-----BEGIN ": (block, rest, None) or (None, b"", retry_from)."""
    type_line, rest = _get_line(rest)
    if not type_line.endswith(b"-----"):
        return None, b"", rest
    type_name = type_line[:-5]
    headers: list[tuple[str, str]] = []
    while True:
        if not rest:
            return None, b"", None  # Go returns (nil, data) here, without a retry
        line, nxt = _get_line(rest)
        if len(line) > 1 and line[0:1] in (b" ", b"\t") and headers:
            key, value = headers[-1]  # RFC 1421 continuation of the previous header
            headers[-1] = (key, value + line.strip().decode("latin-1"))
            rest = nxt
            continue
        colon = line.find(b":")
        if colon < 0:
            break
        headers.append((line[:colon].strip().decode("latin-1"), line[colon + 1 :].strip().decode("latin-1")))
        rest = nxt
    if not headers and rest.startswith(b"-----END "):
        end_index, trailer_index = 0, len(b"-----END ")
    else:
        end_index = rest.find(b"\n-----END ")
        trailer_index = end_index + len(b"\n-----END ")
    if end_index < 0:
        return None, b"", rest
    trailer = rest[trailer_index:]
    if len(trailer) < len(type_name) + 5:
        return None, b"", rest
    end_line, rest_of_end_line = trailer[: len(type_name) + 5], trailer[len(type_name) + 5 :]
    if not end_line.startswith(type_name) or not end_line.endswith(b"-----"):
        return None, b"", rest
    if _get_line(rest_of_end_line)[0]:
        return None, b"", rest  # only whitespace may follow the END line
    body = rest[:end_index].replace(b" ", b"").replace(b"\t", b"")
    decoded = decode_std_base64(body)
    if decoded is None:
        return None, b"", rest
    _, after = _get_line(rest[end_index + len(b"\n-----END ") - 1 :])
    block = PemBlock(type_name.decode("latin-1"), tuple(headers), decoded)
    return block, after, None


def encode_pem(block_type: str, der: bytes) -> bytes:
    """Go's pem.EncodeToMemory without headers: 64-column base64 and a final newline."""
    b64 = base64.b64encode(der)
    lines = b"".join(b64[i : i + 64] + b"\n" for i in range(0, len(b64), 64))
    label = block_type.encode()
    return b"-----BEGIN " + label + b"-----\n" + lines + b"-----END " + label + b"-----\n"
