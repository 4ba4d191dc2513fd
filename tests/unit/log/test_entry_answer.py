"""EntryAnswer.json() writes exactly what the LogEntry model's encoder writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rekor_py.api.models import to_json_body
from rekor_py.log.entries import EntryAnswer

_INT = st.integers(min_value=0, max_value=(1 << 63) - 1)

answers = st.builds(
    EntryAnswer,
    uuid=st.binary(min_size=40, max_size=40).map(bytes.hex),
    body=st.binary(max_size=3000),
    integrated_time=_INT,
    log_id_hex=st.binary(min_size=32, max_size=32).map(bytes.hex),
    log_index=_INT,
    leaf_index=_INT,
    tree_size=_INT,
    root_hash=st.binary(min_size=32, max_size=32),
    # Any text, control characters, quotes, backslashes and non-ASCII included.
    checkpoint=st.text(),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=64),
    signature=st.binary(max_size=80),
    attestation=st.none() | st.binary(max_size=200),
)


@given(answers)
def test_json_is_the_models_json(answer: EntryAnswer) -> None:
    served = answer.json() + b"\n"
    assert served == to_json_body(answer.model())
    (uuid, value), = json.loads(served).items()
    assert uuid == answer.uuid
    assert value["verification"]["inclusionProof"]["checkpoint"] == answer.checkpoint
    assert ("attestation" in value) == bool(answer.attestation)


def test_a_real_checkpoint() -> None:
    answer = EntryAnswer("00" * 40, b'{"kind":"hashedrekord"}', 1_700_000_000, "ab" * 32, 7, 7,
                         8, bytes(32), "rekor.example - 1\n8\nAAAA\n\n\u2014 rekor.example xyz=\n",
                         [bytes(range(32))] * 3, b"\x30\x45", None)
    assert answer.json() + b"\n" == to_json_body(answer.model())
