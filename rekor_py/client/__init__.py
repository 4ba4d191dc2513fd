"""The rekor-py client: a small Rekor v1 HTTP client and the checks it runs.

http.py talks to the server (stdlib urllib, synchronous); verify.py checks
entries, tree heads and consistency offline with rekor_py's own verifiers;
state.py remembers verified tree heads; proposals.py builds the entries the
client uploads.  The command line lives in rekor_py/cli/ (one module per command).
"""
