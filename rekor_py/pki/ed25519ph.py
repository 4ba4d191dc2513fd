"""Ed25519ph verification (RFC 8032 §5.1, phflag = 1, empty context) over a given digest.

hashedrekord signs a digest, not a message, so an Ed25519 key must be checked
with the prehashed variant: PH(M) is the SHA-512 digest the client supplied.
Python `cryptography` has no Ed25519ph and libsodium cannot take a precomputed
digest, so the curve arithmetic lives here, in pure Python. It is verification
only (public data, so constant time does not matter) and is slow-ish (a few ms).

Owns: point decoding/encoding, the group law, `verify_ed25519ph`.
Leaves to others: key parsing (pki/x509.py), policy (types/hashedrekord).
"""

from __future__ import annotations

import hashlib

__all__ = ["Ed25519phError", "verify_ed25519ph"]

# RFC 8032 §5.1: the field prime, the curve constant d, the group order L.
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_L = 2**252 + 27742317777372353535851937790883648493
# sqrt(-1) mod p, used when the first square-root candidate is off by a sign.
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

# dom2(phflag=1, context="") (RFC 8032 §2): it separates Ed25519ph signatures
# from pure Ed25519 ones, so a signature of one kind never verifies as the other.
_DOM2_PH = b"SigEd25519 no Ed25519 collisions" + bytes([1, 0])

# A point in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z.
_Point = tuple[int, int, int, int]

_IDENTITY: _Point = (0, 1, 1, 0)


class Ed25519phError(ValueError):
    """The key or signature is malformed, or the signature does not verify."""


def _point_add(p: _Point, q: _Point) -> _Point:
    # RFC 8032 §5.1.4, the unified addition law (also valid for doubling).
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = b - a, dd - c, dd + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _scalar_mult(k: int, p: _Point) -> _Point:
    # Double-and-add, low bit first. Variable time is fine: inputs are public.
    q = _IDENTITY
    while k > 0:
        if k & 1:
            q = _point_add(q, p)
        p = _point_add(p, p)
        k >>= 1
    return q


def _recover_x(y: int, sign: int) -> int | None:
    # RFC 8032 §5.1.3 step 2-4: x^2 = (y^2 - 1) / (d y^2 + 1).
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == u:
        pass
    elif vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    else:
        return None  # not a square: no point has this y
    if x == 0 and sign == 1:
        return None  # -0 is not a canonical encoding
    if x & 1 != sign:
        x = _P - x
    return x


def _decode_point(s: bytes) -> _Point | None:
    """RFC 8032 §5.1.3, strict: 32 bytes, y < p, and the point must exist."""
    if len(s) != 32:
        return None
    n = int.from_bytes(s, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= _P:
        return None  # non-canonical y
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def _encode_point(p: _Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, -1, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _base_point() -> _Point:
    # B has y = 4/5 and positive (even) x (RFC 8032 §5.1).
    point = _decode_point((4 * pow(5, -1, _P) % _P).to_bytes(32, "little"))
    assert point is not None
    return point


_BASE = _base_point()


def _challenge(r_bytes: bytes, a_bytes: bytes, digest: bytes) -> int:
    # k = SHA-512(dom2(1, "") || R || A || PH(M)) mod L (RFC 8032 §5.1.7 step 2).
    return int.from_bytes(hashlib.sha512(_DOM2_PH + r_bytes + a_bytes + digest).digest(), "little") % _L


def verify_ed25519ph(public_key: bytes, signature: bytes, digest: bytes) -> None:
    """Verify an Ed25519ph signature over `digest` = SHA-512(M).

    Requires a 32-byte public key, a 64-byte signature and a 64-byte digest.
    Raises Ed25519phError on any malformed input or a signature that does not verify.
    Like Go's crypto/ed25519 it checks [S]B - [k]A == R by comparing encodings
    (cofactorless), so a non-canonical R never verifies; unlike Go it also rejects
    a non-canonical A (see the report in the change that added this module).
    """
    if len(digest) != 64:
        raise Ed25519phError("ed25519: expected SHA-512 digest")
    if len(public_key) != 32:
        raise Ed25519phError("ed25519: bad public key length")
    if len(signature) != 64:
        raise Ed25519phError("ed25519: invalid signature")  # Go's wording for any bad length
    a = _decode_point(public_key)
    if a is None:
        raise Ed25519phError("ed25519: invalid public key")
    r_bytes, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= _L:
        # S must be reduced, or (R, S + L) would be a second valid signature.
        raise Ed25519phError("ed25519: invalid signature")
    k = _challenge(r_bytes, public_key, digest)
    neg_a = ((_P - a[0]) % _P, a[1], a[2], (_P - a[3]) % _P)
    r_check = _point_add(_scalar_mult(s, _BASE), _scalar_mult(k, neg_a))
    if _encode_point(r_check) != r_bytes:
        raise Ed25519phError("ed25519: invalid signature")


def _sign_ed25519ph(seed: bytes, digest: bytes) -> tuple[bytes, bytes]:
    """Test helper: (public key, Ed25519ph signature) for a 32-byte seed (RFC 8032 §5.1.6).

    Not constant time; never use it with a secret that matters.
    """
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8  # clamp: clear the 3 low bits and bit 255
    a |= 1 << 254
    pub = _encode_point(_scalar_mult(a, _BASE))
    r = int.from_bytes(hashlib.sha512(_DOM2_PH + h[32:] + digest).digest(), "little") % _L
    r_bytes = _encode_point(_scalar_mult(r, _BASE))
    s = (r + _challenge(r_bytes, pub, digest) * a) % _L
    return pub, r_bytes + s.to_bytes(32, "little")
