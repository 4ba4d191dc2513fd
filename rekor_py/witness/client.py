"""The log's side of c2sp.org/tlog-witness: one witness, asked to cosign checkpoints.

`WitnessClient.cosign` sends `old <size>`, the consistency proof from the size
the witness last cosigned for this origin, a blank line and the checkpoint.
The client remembers that size per origin; it starts at 0, and a 409 with
`text/x.tlog.size` tells the witness's real size (a witness whose state is
older or newer than ours, or a first contact), after which the request is
sent once more with the right proof.  Any other outcome is a WitnessError that
says what happened; the caller (publisher.py) decides what that means for the
checkpoint (fail-open or fail-closed).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

import aiohttp

from rekor_py.log.checkpoint import CheckpointError
from rekor_py.witness.cosignature import Cosigned
from rekor_py.witness.policy import WitnessSpec

__all__ = ["ProofSource", "WitnessClient", "WitnessError"]

# The consistency proof from an old size to the checkpoint's size.
ProofSource = Callable[[int], Awaitable[list[bytes]]]

_SIZE_TYPE = "text/x.tlog.size"
_MAX_ANSWER = 64 * 1024


class WitnessError(Exception):
    """A witness did not cosign; `kind` is one of: down, timeout, refused, fork,
    ahead, bad-cosignature."""

    def __init__(self, witness: str, kind: str, detail: str) -> None:
        super().__init__(f"witness {witness}: {kind}: {detail}")
        self.witness = witness
        self.kind = kind


class WitnessClient:
    def __init__(self, spec: WitnessSpec, session: aiohttp.ClientSession,
                 timeout_s: float = 5.0) -> None:
        if not spec.url:
            raise ValueError(f"witness {spec.name} has no URL in the policy")
        self.spec = spec
        self._url = spec.url.rstrip("/") + "/add-checkpoint"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sizes: dict[str, int] = {}  # origin -> the size it last cosigned

    def known_size(self, origin: str) -> int:
        return self._sizes.get(origin, 0)

    async def cosign(self, note: str, origin: str, body: bytes, size: int,
                     proof: ProofSource) -> Cosigned:
        """The witness's verified cosignature of the checkpoint `note` (body `body`,
        tree size `size`).  Raises WitnessError."""
        for _ in range(2):  # once more after a 409 that tells the witness's size
            old = self._sizes.get(origin, 0)
            if old > size:
                raise WitnessError(self.spec.name, "ahead",
                                   f"it cosigned size {old} of {origin!r}, beyond {size}: "
                                   "the log is behind what it showed before")
            hashes = await proof(old) if 0 < old < size else []
            request = (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n"
                                                for h in hashes) + "\n" + note)
            status, content_type, answer = await self._post(request)
            if status == 200:
                cosigned = self._verified(answer, body)
                self._sizes[origin] = size
                return cosigned
            if status == 409 and content_type == _SIZE_TYPE:
                self._sizes[origin] = _size(answer, self.spec.name)
                continue
            if status == 409:
                raise WitnessError(self.spec.name, "fork",
                                   f"it holds another tree at size {old}: {answer[:200]!r}")
            raise WitnessError(self.spec.name, "refused", f"HTTP {status}: {answer[:200]!r}")
        raise WitnessError(self.spec.name, "refused", "its size changed again after a 409")

    async def _post(self, body: str) -> tuple[int, str, str]:
        try:
            async with self._session.post(self._url, data=body.encode(),
                                          timeout=self._timeout) as r:
                # The whole answer, however it arrives, up to a cap.
                raw = bytearray()
                async for chunk in r.content.iter_chunked(16 * 1024):
                    raw += chunk
                    if len(raw) > _MAX_ANSWER:
                        raise WitnessError(self.spec.name, "refused", "answer too large")
                return r.status, r.content_type, raw.decode(errors="replace")
        except TimeoutError as e:
            raise WitnessError(self.spec.name, "timeout", "no answer in time") from e
        except aiohttp.ClientError as e:
            raise WitnessError(self.spec.name, "down", str(e) or type(e).__name__) from e

    def _verified(self, answer: str, body: bytes) -> Cosigned:
        try:
            found = self.spec.verifier.find(answer, body)
        except CheckpointError as e:
            raise WitnessError(self.spec.name, "bad-cosignature", str(e)) from e
        if found is None:
            raise WitnessError(self.spec.name, "bad-cosignature",
                               "its answer holds no cosignature by its key")
        return found


def _size(answer: str, witness: str) -> int:
    text = answer.strip()
    if not text.isdigit() or len(text) > 20:
        raise WitnessError(witness, "refused", f"a 409 with a bad size {answer[:40]!r}")
    return int(text)
