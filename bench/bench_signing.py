"""Signing throughput: a key in memory (FileKey) against the same kind of key in SoftHSM2.

Makes a SoftHSM2 token in a temporary folder (tests/tools/softhsm.py: the keys are
generated inside it by pkcs11-tool, non-extractable), opens its P-256 and Ed25519
keys through their pkcs11: URIs as the server does, and times `sign` on a
SET-sized message (about 300 bytes) for each key, file and token alternately, for
--rounds rounds of --seconds each; prints signatures/s per round, the median, and
the machine's load average before and after.  Each signature of the last round is
verified, so a fast wrong answer fails.

    python3 bench/bench_signing.py [--seconds 1] [--rounds 3] [--threads 1]

--threads N signs from N threads at once (the token serializes its session: see
rekor_py/keys/pkcs11.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402

from rekor_py.config import Settings  # noqa: E402
from rekor_py.keys import open_uri_key  # noqa: E402
from rekor_py.log.signer import FileKey, LogVerifier, Signer  # noqa: E402
from tests.tools.softhsm import softhsm_token  # noqa: E402

MESSAGE = b'{"body":"' + b"A" * 260 + b'","integratedTime":1700000000,"logIndex":1}'


def rate(key: Signer, seconds: float, threads: int) -> float:
    """Signatures per second over `seconds`, from `threads` threads."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            key.sign(MESSAGE)
            n += 1
        counts[slot] = n

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    hsm = softhsm_token()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-signing-")))
    keys: dict[str, Signer] = {
        "P-256 file": FileKey(ec.generate_private_key(ec.SECP256R1())),
        "P-256 SoftHSM2": open_uri_key(hsm.uri("log-p256"), settings, "bench"),
        "Ed25519 file": FileKey(ed25519.Ed25519PrivateKey.generate()),
        "Ed25519 SoftHSM2": open_uri_key(hsm.uri("note-ed25519"), settings, "bench"),
    }
    for key in keys.values():
        LogVerifier(key.public_key).verify(key.sign(MESSAGE), MESSAGE)

    print(f"cores: {os.cpu_count()}, load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{args.rounds} rounds of {args.seconds:g} s, {args.threads} thread(s), "
          f"message {len(MESSAGE)} bytes, keys alternating")
    figures: dict[str, list[float]] = {name: [] for name in keys}
    for _ in range(args.rounds):
        for name, key in keys.items():  # file, token, file, token: alternately
            figures[name].append(rate(key, args.seconds, args.threads))
    print(f"{'key':<18} {'median sig/s':>12}   rounds")
    for name, values in figures.items():
        rounds = " ".join(f"{v:,.0f}" for v in values)
        print(f"{name:<18} {statistics.median(values):>12,.0f}   {rounds}")
    for kind in ("P-256", "Ed25519"):
        ratio = (statistics.median(figures[f"{kind} file"])
                 / statistics.median(figures[f"{kind} SoftHSM2"]))
        print(f"{kind}: the file key signs {ratio:.1f}x as fast as SoftHSM2")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for key in keys.values():
        LogVerifier(key.public_key).verify(key.sign(MESSAGE), MESSAGE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
