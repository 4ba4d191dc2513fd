"""Go encoding/pem semantics: find, decode and encode PEM blocks (no I/O).

Owns the byte-level PEM rules Rekor inherits from Go's pem.Decode and
pem.EncodeToMemory, shared by the formats that armor DER or wire blobs as PEM
(x509 keys and certificates, SSH signatures). Leaves the block types and what
their bytes mean to the format modules.

The search is Go's current one (since the fix for quadratic decoding of
invalid input): take the first END line, parse the block of the last BEGIN
line before it, and on any fault move on past that END.  Every END line is
tried once, positions index the one input buffer (no copies of the rest per
line), and nothing recurses, so the work is linear in the input.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from rekor_py import limits
from rekor_py.pki.base import InputLimitError, decode_std_base64

__all__ = ["PemBlock", "decode_pem", "encode_pem"]

_BEGIN = b"-----BEGIN "
_END = b"\n-----END "
_DASHES = b"-----"


@dataclass(frozen=True)
class PemBlock:
    type: str
    headers: tuple[tuple[str, str], ...]
    data: bytes


def _line_at(data: bytes, pos: int) -> tuple[bytes, int]:
    """Go's getLine at `pos`: (the line without LF/CR and trailing blanks, where the next line starts)."""
    end = len(data)
    i = data.find(b"\n", pos, end)
    if i < 0:
        return data[pos:end].rstrip(b" \t"), end
    line_end = i - 1 if i > pos and data[i - 1] == 0x0D else i
    return data[pos:line_end].rstrip(b" \t"), i + 1


def decode_pem(data: bytes) -> tuple[PemBlock | None, bytes]:
    """Find the next PEM block like Go's pem.Decode: (block, rest) or (None, data).

    Text before `-----BEGIN` is skipped; a block that looks like PEM but is
    broken is skipped too, as Go does.  Raises InputLimitError when a block
    carries more header lines than `max_pem_headers`.
    """
    start = 0
    while True:
        end_index = data.find(_END, start)
        if end_index < 0:
            return None, data
        next_start = end_index + len(_END)
        begin = data.rfind(_BEGIN, start, end_index)
        if begin < 0 or (begin > start and data[begin - 1] != 0x0A):
            start = next_start
            continue
        block, after = _block_at(data, begin + len(_BEGIN), end_index)
        if block is not None:
            return block, data[after:]
        if after < 0:
            return None, data  # Go: the input ran out inside the headers
        start = next_start


def _block_at(data: bytes, pos: int, end_index: int) -> tuple[PemBlock | None, int]:
    """The block whose type line starts at `pos`, the first END line at `end_index`.

    (block, where the rest starts), or (None, 0) to try the next END line,
    or (None, -1) when Go gives up on the whole input.
    """
    type_line, pos = _line_at(data, pos)
    if not type_line.endswith(_DASHES):
        return None, 0
    type_name = type_line[: -len(_DASHES)]
    headers: dict[str, str] = {}  # Go keeps a map: a repeated key keeps its last value
    header_lines, max_headers = 0, limits.current().max_pem_headers
    while True:
        if pos >= len(data):
            return None, -1
        line, next_pos = _line_at(data, pos)
        colon = line.find(b":")
        if colon < 0:
            break
        headers[line[:colon].strip().decode("latin-1")] = line[colon + 1 :].strip().decode("latin-1")
        header_lines += 1
        if header_lines > max_headers:
            raise InputLimitError(
                limits.limit_error_message("max_pem_headers", header_lines, max_headers,
                                           "the number of PEM header lines"))
        pos = next_pos
    if end_index < pos:
        # The first END line was read as a header (or is the type line's own
        # newline): with headers there must be a newline before END.
        if header_lines or end_index + 1 != pos:
            return None, 0
        body_end, trailer = pos, pos + len(_END) - 1
    else:
        body_end, trailer = end_index, end_index + len(_END)
    trailer_end = trailer + len(type_name) + len(_DASHES)
    if trailer_end > len(data):
        return None, 0
    if data[trailer:trailer_end] != type_name + _DASHES:
        return None, 0
    rest_of_line, after = _line_at(data, trailer_end)
    if rest_of_line:
        return None, 0  # only whitespace may follow the END line
    decoded = b""
    if body_end > pos:
        body = data[pos:body_end].replace(b" ", b"").replace(b"\t", b"")
        found = decode_std_base64(body)
        if found is None:
            return None, 0
        decoded = found
    return PemBlock(type_name.decode("latin-1"), tuple(headers.items()), decoded), after


def encode_pem(block_type: str, der: bytes) -> bytes:
    """Go's pem.EncodeToMemory without headers: 64-column base64 and a final newline."""
    b64 = base64.b64encode(der)
    lines = b"".join(b64[i : i + 64] + b"\n" for i in range(0, len(b64), 64))
    label = block_type.encode()
    return b"-----BEGIN " + label + b"-----\n" + lines + b"-----END " + label + b"-----\n"
