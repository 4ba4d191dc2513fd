"""The monitor's witness check (`rekor-py monitor --witness-policy FILE`): a
checkpoint is accepted only with valid cosignatures (c2sp.org/tlog-cosignature)
from a quorum of the policy's witnesses (c2sp.org/tlog-policy)."""

from __future__ import annotations

from rekor_py.log.checkpoint import CheckpointError
from rekor_py.witness.policy import WitnessPolicy

__all__ = ["NotWitnessed", "check_witnesses"]


class NotWitnessed(Exception):
    """The checkpoint lacks its witness quorum, or carries a bad cosignature."""

    def __init__(self, reason: str, checkpoint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.checkpoint = checkpoint

    def evidence(self) -> str:
        return f"NOT WITNESSED: {self.reason}\n--- checkpoint ---\n{self.checkpoint}"


def check_witnesses(policy: WitnessPolicy, text: str, body: bytes) -> list[str]:
    """The policy names of the witnesses whose cosignature of `body` is in the note
    `text`; raises NotWitnessed without a quorum or for a cosignature that does
    not verify (a line with a policy witness's name and key ID)."""
    names = []
    for spec in policy.witnesses.values():
        try:
            if spec.verifier.find(text, body) is not None:
                names.append(spec.name)
        except CheckpointError as e:
            raise NotWitnessed(f"witness {spec.name}: {e}", text) from e
    if not policy.satisfied(names):
        raise NotWitnessed(f"the policy's quorum {policy.quorum!r} is not met: cosigned by "
                           f"{', '.join(names) or 'no witness'}", text)
    return names
