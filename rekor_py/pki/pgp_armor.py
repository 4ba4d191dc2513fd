"""OpenPGP ASCII armor (RFC 4880 §6.2) as ProtonMail go-crypto v1.4.1 reads and writes it.

Owns: finding and decoding one armored block the way go-crypto's
`armor.Decode` does (lenient: no CRC check, the `=` line or an `-----END`
line ends the body), and writing the exact armor Rekor stores: a blank line
after the BEGIN line, no headers, 64-column base64, `=` + CRC-24, and the END
line with no trailing newline.

Leaves to others: what the decoded bytes mean (pgp_packets and the packet
modules it uses), which block types a caller accepts (pgp).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from rekor_py.pki.base import decode_std_base64

__all__ = ["ArmorBlock", "crc24", "decode_armor", "encode_armor"]

_BEGIN = b"-----BEGIN "
_END = b"-----END "
_EOL = b"-----"
# go-crypto reads lines through a 100-byte bufio.Reader and refuses body lines
# longer than 96 bytes ("armor invalid").
_MAX_BODY_LINE = 96
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=]*")


@dataclass(frozen=True)
class ArmorBlock:
    """A decoded block. go-crypto decodes the body lazily, so a broken body
    yields the bytes before the fault and then `error` (Go's text)."""

    type: str
    body: bytes
    error: str | None = None


def crc24(data: bytes) -> int:
    """The CRC-24 of RFC 4880 §6.1 (init 0xB704CE, poly 0x1864CFB)."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def encode_armor(block_type: str, data: bytes) -> bytes:
    """go-crypto armor.Encode with no headers: the bytes Rekor stores (no final newline)."""
    b64 = base64.b64encode(data)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    checksum = base64.b64encode(crc24(data).to_bytes(3, "big"))
    label = block_type.encode()
    return b"".join(
        [_BEGIN, label, b"-----\n\n", lines, b"\n=", checksum, b"\n", _END, label, _EOL]
    )


def _lines(data: bytes) -> list[bytes]:
    # bufio.Reader.ReadLine: split on LF, drop one CR before it.
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def decode_armor(data: bytes) -> ArmorBlock | None:
    """The first armored block, like go-crypto armor.Decode; None where Decode errs.

    Decode itself only fails when no BEGIN line (followed by headers and a
    blank line) is found; a body that is not valid base64 is reported in
    `error`, as Go reports it later, when the body is read.
    """
    lines = _lines(data)
    i = 0
    while True:
        # Skip to a BEGIN line.
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if len(line) > len(_BEGIN) + len(_EOL) and line.startswith(_BEGIN):
                break
        else:
            return None
        block_type = line[len(_BEGIN) : len(line) - len(_EOL)]
        # Headers run until a blank line; a line without ':' restarts the search.
        while i < len(lines):
            header = lines[i].strip()
            i += 1
            if not header:
                body, error = _decode_body(lines[i:])
                return ArmorBlock(block_type.decode("utf-8", "replace"), body, error)
            if b":" not in header:
                break
        else:
            return None  # EOF inside the headers


def _decode_body(lines: list[bytes]) -> tuple[bytes, str | None]:
    text = bytearray()
    for raw in lines:
        line = raw.strip()
        if line.startswith(_END) or (len(line) == 5 and line[:1] == b"="):
            break
        if len(line) > _MAX_BODY_LINE:
            body, error = _go_b64decode(bytes(text))
            return body, error or "openpgp: invalid data: armor invalid"
        text += line
    return _go_b64decode(bytes(text))


def _go_b64decode(text: bytes) -> tuple[bytes, str | None]:
    """Go's base64.NewDecoder(StdEncoding): (decoded bytes before any fault, Go's error text)."""
    decoded = decode_std_base64(text)  # the armor's lines come without CR or LF
    if decoded is not None:
        return decoded, None
    match = _B64_CHARS.match(text)
    bad = match.end() if match else 0
    pad = text.find(b"=", 0, bad)
    if pad >= 0:
        return _prefix(text, pad), f"illegal base64 data at input byte {pad}"
    if bad < len(text):
        return _prefix(text, bad), f"illegal base64 data at input byte {bad}"
    return _prefix(text, len(text)), "unexpected EOF"  # a final quantum without padding


def _prefix(text: bytes, fault: int) -> bytes:
    whole = fault - fault % 4
    return base64.b64decode(text[:whole]) if whole else b""
