"""`rekor-py witness`: a witness's HTTP side, c2sp.org/tlog-witness add-checkpoint.

    POST <prefix>/add-checkpoint
    old <size>\\n  <up to 63 base64 hashes, one a line>  \\n  <signed checkpoint>

Answers, in the spec's order of checks:
- 400 a body that does not parse, or old > the checkpoint's size;
- 404 an origin not in the witness's log list; 403 no valid signature by a
  key trusted for that origin (signatures by unknown keys are ignored);
- 409 `text/x.tlog.size` with the size it last cosigned, when `old` differs;
  409 too for another root at the size it cosigned;
- 422 a consistency proof that does not verify, any proof with old = 0, or a
  size-0 checkpoint whose root is not the empty tree's;
- 200 its cosignature line, only after the new state is committed (store.py).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from rekor_py import merkle
from rekor_py.log.c2sp import NoteVerifier, verify_c2sp_checkpoint
from rekor_py.log.checkpoint import CheckpointError, parse_checkpoint
from rekor_py.witness.cosignature import CosignatureSigner
from rekor_py.witness.store import Stored, WitnessStore

__all__ = ["WITNESS", "Witness", "witness_app"]

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024
_MAX_PROOF = 63
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")


class _Refused(Exception):
    def __init__(self, status: int, text: str, content_type: str = "text/plain") -> None:
        super().__init__(text)
        self.status, self.text, self.content_type = status, text, content_type


@dataclass
class Witness:
    signer: CosignatureSigner
    logs: dict[str, list[NoteVerifier]]  # origin -> the keys trusted for it
    store: WitnessStore

    async def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for a valid request; raises _Refused."""
        old, proof, note = _parse(body)
        try:
            signed = parse_checkpoint(note)
        except CheckpointError as e:
            raise _Refused(400, f"not a checkpoint: {e}\n") from None
        cp = signed.checkpoint
        keys = self.logs.get(cp.origin)
        if keys is None:
            raise _Refused(404, f"unknown log {cp.origin[:200]!r}\n")
        if not _signed_by_any(note, keys):
            raise _Refused(403, "no valid signature by a key trusted for this log\n")
        if old > cp.size:
            raise _Refused(400, f"old size {old} is larger than the checkpoint's {cp.size}\n")
        if old == 0 and proof:
            raise _Refused(422, "a consistency proof from size 0 must be empty\n")
        if cp.size == 0 and cp.root_hash != merkle.EMPTY_ROOT:
            raise _Refused(422, "an empty tree's root is SHA-256 of nothing\n")

        async def check(stored: Stored) -> None:
            if cp.size == stored.size:
                if cp.root_hash != stored.root_hash:
                    raise _Refused(409, f"another tree at size {cp.size}: a fork\n")
                return
            if old == 0:
                return  # first contact (or a log cosigned at 0): nothing to prove from
            try:
                merkle.verify_consistency(old, cp.size, proof, stored.root_hash, cp.root_hash)
            except ValueError as e:
                raise _Refused(422, f"the consistency proof does not verify: {e}\n") from None

        done = await self.store.advance(cp.origin, old, cp.size, cp.root_hash, note, check)
        if not done.done:
            raise _Refused(409, f"{done.stored.size}\n", "text/x.tlog.size")
        return self.signer.cosign(cp.body())


def _parse(body: bytes) -> tuple[int, list[bytes], str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, "the body is not UTF-8\n") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise _Refused(400, "no empty line before the checkpoint\n")
    lines = head.split("\n")
    m = _OLD_LINE.fullmatch(lines[0])
    if not m:
        raise _Refused(400, "the first line must be `old <size>`\n")
    if len(lines) - 1 > _MAX_PROOF:
        raise _Refused(400, f"more than {_MAX_PROOF} proof lines\n")
    proof = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused(400, "a proof line is not base64\n") from None
        if len(h) != merkle.HASH_SIZE:
            raise _Refused(400, "a proof line is not a 32-byte hash\n")
        proof.append(h)
    return int(m[1]), proof, note


def _signed_by_any(note: str, keys: Sequence[NoteVerifier]) -> bool:
    for key in keys:
        try:
            verify_c2sp_checkpoint(note, [key])
            return True
        except CheckpointError:
            continue
    return False


WITNESS = web.AppKey("witness", Witness)


async def _handle(request: web.Request) -> web.Response:
    # The whole body, however it arrives (a request split across packets included);
    # aiohttp refuses more than client_max_size (the app's) with 413.
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, text=f"the body is larger than {_MAX_BODY} bytes\n")
    try:
        line = await request.app[WITNESS].add_checkpoint(body)
    except _Refused as e:
        if e.status >= 409:
            log.info("add-checkpoint refused (%d): %s", e.status, e.text.strip()[:200])
        return web.Response(status=e.status, text=e.text, content_type=e.content_type)
    return web.Response(text=line, content_type="text/plain")


def witness_app(witness: Witness, prefix: str = "") -> web.Application:
    app = web.Application(client_max_size=_MAX_BODY)
    app[WITNESS] = witness
    app.router.add_post(prefix.rstrip("/") + "/add-checkpoint", _handle)
    return app


def log_keys(logs: Sequence[tuple[NoteVerifier, str | None]]) -> dict[str, list[NoteVerifier]]:
    """The policy's `log` lines by origin (a vkey's name is its log's origin)."""
    out: dict[str, list[NoteVerifier]] = {}
    for key, _url in logs:
        out.setdefault(key.name, []).append(key)
    return out
