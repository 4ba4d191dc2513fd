"""How long the write path's CPU step takes per entry kind and signature format.

Each case is one real signed entry (openssl, gpg, ssh-keygen, minisign, and
sigstore-python's DSSE signer), parsed, verified and canonicalized N times
through `rekor_py.types.parse_entry` — what POST /api/v1/log/entries does
before the log is touched.  Figures are per entry, with the ratio to
hashedrekord/P-256 measured in the same run, and to one bare ECDSA P-256
verify with `cryptography` (the floor of any x509 entry).

    python bench/bench_types.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from rekor_py.types import parse_entry  # noqa: E402
from tests.integration.test_entry_kinds import (  # noqa: E402
    dsse_entries,
    minisign_entries,
    pgp_entries,
    ssh_entries,
    x509_entries,
)


def _per_call(fn: Callable[[], Any], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _best_pair(fn: Callable[[], Any], baseline: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best of 3 of (fn, baseline), timed alternately so that load from elsewhere hits both alike."""
    pairs = [(_per_call(fn, repeat), _per_call(baseline, repeat)) for _ in range(3)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=300, help="calls per timing run (default 300)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rekor-py-bench-types-"))
    cases = [e for build in (x509_entries, pgp_entries, ssh_entries, minisign_entries, dsse_entries)
             for e in build(work)]
    key = ec.generate_private_key(ec.SECP256R1())
    sig = key.sign(b"m", ec.ECDSA(hashes.SHA256()))
    public = key.public_key()
    floor = _per_call(lambda: public.verify(sig, b"m", ec.ECDSA(hashes.SHA256())), args.repeat)
    baseline_case = next(c for c in cases if c.name == "hashedrekord-cert")

    def baseline() -> bytes:
        return parse_entry(baseline_case.proposed).canonicalize()

    print(f"{'case':28} {'µs/entry':>9} {'entries/s':>10} {'vs hashedrekord':>16} {'vs ECDSA verify':>16}")
    print(f"{'ECDSA P-256 verify (floor)':28} {floor * 1e6:9.1f} {1 / floor:10.0f}")
    for case in cases:
        per, base = _best_pair(lambda case=case: parse_entry(case.proposed).canonicalize(),
                               baseline, args.repeat)
        print(f"{case.name:28} {per * 1e6:9.1f} {1 / per:10.0f} {per / base:16.2f} {per / floor:16.2f}")
    print("(hashedrekord-cert, the baseline: hashedrekord 0.0.1, a P-256 certificate, sha256)")


if __name__ == "__main__":
    main()
