"""PEM and base64: Go's answers, in linear time, with no recursion."""

from __future__ import annotations

import random
import re
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.pki.base import (
    InputLimitError,
    decode_std_base64,
    decode_url_base64,
    is_padded_std_base64,
)
from rekor_py.pki.pem import decode_pem
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types.dsse.v0_0_1 import _SIG_PATTERN
from tests.unit.adversarial import assert_linear, limits_set
from tests.unit.pki import spki_pem

KEY_PEM = spki_pem(ec.generate_private_key(ec.SECP256R1()))


def test_937_kib_of_header_lines_is_refused_fast_naming_the_limit() -> None:
    # Each header line used to copy the rest of the input: 5.9 s for this size.
    text = b"-----BEGIN PUBLIC KEY-----\n" + b"Comment: x\n" * 88_000 + b"AAAA\n-----END PUBLIC KEY-----\n"
    assert len(text) > 937 * 1024
    start = time.perf_counter()
    with pytest.raises(InputLimitError) as e:
        decode_pem(text)
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == ("the number of PEM header lines is 65; the limit is 64 "
                            "(setting max_pem_headers, REKOR_PY_MAX_PEM_HEADERS)")


def test_a_key_over_max_key_bytes_is_refused_before_pem_decoding() -> None:
    text = b"x" * 600_000 + KEY_PEM
    with pytest.raises(InputLimitError) as e:
        X509PublicKey.from_bytes(text)
    assert str(e.value) == ("the public key size in bytes is 600178; the limit is 262144 "
                            "(setting max_key_bytes, REKOR_PY_MAX_KEY_BYTES)")


def test_headers_within_the_limit_are_kept_like_go() -> None:
    body = KEY_PEM.split(b"\n", 1)[1]
    text = b"-----BEGIN PUBLIC KEY-----\nA: 1\nB: 2\nA: 3\n" + body
    block, rest = decode_pem(text)
    assert block is not None and block.headers == (("A", "3"), ("B", "2")) and rest == b""
    with limits_set(max_pem_headers=2), pytest.raises(InputLimitError, match="max_pem_headers"):
        decode_pem(text)


@pytest.mark.parametrize("count", [1_200, 50_000])
def test_broken_begin_lines_do_not_recurse(count: int) -> None:
    # 1,200 broken BEGIN lines were a RecursionError (a 500): Go skips them.
    text = b"-----BEGIN X\n" * count + KEY_PEM
    block, rest = decode_pem(text)
    assert block is not None and block.type == "PUBLIC KEY" and rest == b""
    assert X509PublicKey.from_bytes(KEY_PEM).canonical_value() == KEY_PEM


@pytest.mark.parametrize(
    "unit",
    [
        b"-----BEGIN X\n",  # BEGIN lines that are not type lines
        b"-----BEGIN X-----\n",  # BEGIN lines without an END
        b"-----BEGIN a:b-----\nk: v\n-----END a-----\n",  # header lines, then a wrong END
        b"-----BEGIN X-----\nAA!A\n-----END X-----\n",  # bodies that are not base64
        b"-----BEGIN X-----\nAAAA\n-----END Y-----\n",  # mismatched END types
    ],
)
def test_broken_blocks_take_linear_time(unit: bytes) -> None:
    def run(n: int) -> None:
        assert decode_pem(unit * n) == (None, unit * n)

    assert_linear(run, 20_000)


def test_end_lines_that_read_as_headers_meet_the_header_limit() -> None:
    # Every BEGIN would re-read all the following lines as headers (quadratic in Go too).
    unit = b"-----BEGIN a:b-----\n-----END a:b-----\n"

    def run(n: int) -> None:
        with pytest.raises(InputLimitError, match="max_pem_headers"):
            decode_pem(unit * n)

    assert_linear(run, 20_000)


def test_begin_lines_before_a_valid_block_take_linear_time() -> None:
    assert_linear(lambda n: decode_pem(b"-----BEGIN X-----\n" * n + KEY_PEM)[0], 50_000)


def test_the_last_begin_before_the_first_end_is_the_block() -> None:
    # Go's current rule: an earlier unterminated BEGIN line does not swallow the block.
    text = b"-----BEGIN PUBLIC KEY-----\nnot base64 !\n" + KEY_PEM
    block, _ = decode_pem(text)
    assert block is not None and block.type == "PUBLIC KEY" and len(block.data) == 91


def test_an_empty_block_decodes_like_go() -> None:
    block, rest = decode_pem(b"-----BEGIN X-----\n-----END X-----\nafter")
    assert block is not None and block.data == b"" and rest == b"after"


def test_std_base64_of_32_mib_is_linear_and_needs_no_regex() -> None:
    start = time.perf_counter()
    assert decode_std_base64(b"QUJD" * (8 << 20)) == b"ABC" * (8 << 20)
    assert decode_std_base64(b"QUJD" * (8 << 20) + b"QQ=") is None
    assert decode_std_base64(b"QUJD" * (8 << 20) + b"!AAA") is None
    assert time.perf_counter() - start < 5.0
    assert_linear(lambda n: decode_std_base64(b"QUJD\n" * n), 1 << 20)


@pytest.mark.parametrize(
    ("text", "std", "url"),
    [
        (b"", b"", b""),
        (b"-_-_", None, b"\xfb\xff\xbf"),
        (b"+/+/", b"\xfb\xff\xbf", None),
        (b"QQ\r\n==", b"A", b"A"),
        (b"QQ=\n=", b"A", b"A"),
        (b"QQ", None, None),
        (b"Q===", None, None),
        (b"====", None, None),
        (b"QQ==QQ==", None, None),
        (b"QQ=A", None, None),
        (b"QUJD QUJD", None, None),
    ],
)
def test_base64_like_go(text: bytes, std: bytes | None, url: bytes | None) -> None:
    assert decode_std_base64(text) == std
    assert decode_url_base64(text) == url


def test_the_schema_base64_check_matches_the_schema_pattern() -> None:
    # dsse's signatures[].signature pattern, evaluated without `re` (whose
    # repeated group keeps backtracking state per quantum of a large body).
    pattern = re.compile(_SIG_PATTERN[1:-1])
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice("AB+/=\n") for _ in range(rng.randint(0, 9)))
        assert (bool(text) and is_padded_std_base64(text)) == bool(pattern.fullmatch(text)), text
    assert_linear(lambda n: is_padded_std_base64("QUJD" * n), 1 << 20)
