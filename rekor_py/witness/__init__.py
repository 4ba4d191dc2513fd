"""Witnessing (c2sp.org/tlog-witness, tlog-cosignature, tlog-policy): the formats,
the log's side (asking witnesses to cosign its checkpoints) and a witness."""
