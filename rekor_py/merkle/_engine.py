"""The one importer of the compiled engine (``rekor_py._merkle``): constants,
argument checks, and the table that turns a C status into a Python exception.

Everything here is private to the rekor_py.merkle package; no cdata leaves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rekor_py._merkle import ffi, lib
from rekor_py.log.tile_path import TILE_WIDTH as _WIRE_TILE_WIDTH

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Failure",
    "LeafHashes",
    "ProofError",
    "U64_LIMIT",
    "check",
    "check_hash",
    "check_u64",
    "digest",
    "ffi",
    "joined_hashes",
    "lib",
    "proof_bytes",
    "proof_hash",
    "scratch",
    "split",
    "status_error",
]

HASH_SIZE: int = lib.MERKLE_HASH_SIZE
TILE_HEIGHT: int = lib.MERKLE_TILE_HEIGHT
TILE_WIDTH: int = lib.MERKLE_TILE_WIDTH
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
U64_LIMIT = 1 << 64

# The C engine and the tile-path syntax must agree on what a full tile is.
assert TILE_WIDTH == _WIRE_TILE_WIDTH

# Scratch buffers the C code fills completely before we read them: skip zeroing.
scratch = ffi.new_allocator(should_clear_after_alloc=False)


class ProofError(ValueError):
    """A proof did not verify; the message says what did not match."""


# ---- argument checks -----------------------------------------------------------------


def check_u64(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < U64_LIMIT:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


def check_hash(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


LeafHashes = bytes | Sequence[bytes]
"""Leaf hashes as a sequence of 32-byte values, or packed: concatenated in one bytes."""


def joined_hashes(name: str, values: LeafHashes) -> bytes:
    """One C buffer of 32-byte hashes, from a packed bytes or a checked sequence."""
    if isinstance(values, bytes):
        if len(values) % HASH_SIZE:
            raise ValueError(f"packed {name} must be a multiple of {HASH_SIZE} bytes, "
                             f"got {len(values)}")
        return values
    joined = b"".join(values)
    if len(joined) != HASH_SIZE * len(values) or set(map(len, values)) - {HASH_SIZE}:
        bad = next(i for i, v in enumerate(values) if len(v) != HASH_SIZE)
        raise ValueError(f"{name}[{bad}] must be {HASH_SIZE} bytes, got {len(values[bad])}")
    return joined


def split(buf: bytes) -> list[bytes]:
    return [buf[i : i + HASH_SIZE] for i in range(0, len(buf), HASH_SIZE)]


def proof_hash(name: str, value: bytes) -> bytes:
    """check_hash for a verifier's inputs: a bad hash is a proof that fails."""
    try:
        return check_hash(name, value)
    except ValueError as e:
        raise ProofError(str(e)) from None


def proof_bytes(proof: Sequence[bytes]) -> bytes:
    for i, h in enumerate(proof):
        proof_hash(f"proof[{i}]", h)
    return b"".join(proof)


def digest(out: object) -> bytes:
    """The 32 bytes of a C output buffer."""
    return bytes(ffi.buffer(out, HASH_SIZE))


def hex_of(out: object) -> str:
    return digest(out).hex()


# ---- C status -> exception -------------------------------------------------------------


def _message(status: int) -> str:
    return str(ffi.string(lib.merkle_strerror(status)).decode())


def check(status: int, what: str) -> None:
    """Raise ValueError("<what>: <C message>") for any status but MERKLE_OK."""
    if status != lib.MERKLE_OK:
        raise ValueError(f"{what}: {_message(status)}")


def subtree_message(start: int, end: int) -> str:
    if start > end:
        why = "start is after end"
    else:
        ceil = 1 << (end - start - 1).bit_length()
        why = f"start must be 0 or a multiple of {ceil}"
    return f"[{start}, {end}) is not a valid subtree: {why}"


@dataclass
class Failure:
    """What a failed call was about: the arguments its error message names.

    `kind` is "inclusion", "consistency", "subtree inclusion" or "subtree
    consistency"; `want` recomputes the expected proof length (only on that error);
    `expected` and `calc` are the roots given and the C buffers of those computed,
    in the order root/root1, root2.
    """

    kind: str
    index: int | None = None
    size: int | None = None
    size1: int | None = None
    size2: int | None = None
    start: int | None = None
    end: int | None = None
    proof_len: int = 0
    want: Callable[[], int] | None = None
    expected: tuple[bytes, ...] = ()
    calc: tuple[object, ...] = field(default_factory=tuple)

    @property
    def subtree(self) -> bool:
        return self.start is not None


def _mismatch(which: str, calc: object, expected: bytes) -> str:
    return f"calculated {which} {hex_of(calc)} does not match expected {which} {expected.hex()}"


def _index(f: Failure) -> str:
    if f.subtree:
        return f"index {f.index} is not in the subtree [{f.start}, {f.end})"
    return f"index {f.index} is not below tree size {f.size}"


def _size(f: Failure) -> str:
    if f.subtree:
        return f"subtree end {f.end} is beyond tree size {f.size}"
    return f"size1 {f.size1} is greater than size2 {f.size2}"


def _proof_length(f: Failure) -> str:
    want = f.want() if f.want is not None else "?"
    return f"{f.kind} proof has {f.proof_len} hashes, want {want}"


def _root(f: Failure) -> str:
    if f.kind == "consistency":  # same sizes, so nothing was calculated
        return (f"trees of equal size {f.size1} have different roots "
                f"{f.expected[0].hex()} and {f.expected[1].hex()}")
    return _mismatch("root", f.calc[0], f.expected[0])


def _empty_root(f: Failure) -> str:
    return (f"root1 of the empty subtree [{f.start}, {f.end}) must be EMPTY_ROOT "
            f"{EMPTY_ROOT.hex()}, got {f.expected[0].hex()}")


# The one table of what each status means, worded with the call's own arguments.
_STATUS_MESSAGES: dict[int, Callable[[Failure], str]] = {
    lib.MERKLE_E_INDEX: _index,
    lib.MERKLE_E_SIZE: _size,
    lib.MERKLE_E_SUBTREE: lambda f: subtree_message(f.start or 0, f.end or 0),
    lib.MERKLE_E_PROOF_LENGTH: _proof_length,
    lib.MERKLE_E_ROOT_MISMATCH: _root,
    lib.MERKLE_E_ROOT1_MISMATCH: lambda f: _mismatch("root1", f.calc[0], f.expected[0]),
    lib.MERKLE_E_ROOT2_MISMATCH: lambda f: _mismatch("root2", f.calc[1], f.expected[1]),
    lib.MERKLE_E_EMPTY_ROOT: _empty_root,
}


def status_error(status: int, failure: Failure, error: type[ValueError] = ProofError
                 ) -> ValueError | None:
    """The exception a C status stands for (None for MERKLE_OK): a verifier raises
    ProofError, a planner ValueError, with the same wording."""
    if status == lib.MERKLE_OK:
        return None
    explain = _STATUS_MESSAGES.get(status)
    return error(explain(failure) if explain is not None else _message(status))
