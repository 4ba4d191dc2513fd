"""govalidator.IsEmail (v0.0.0-20230301143203), which Rekor applies to PGP user IDs and SSH comments.

govalidator's pattern nests quantifiers (`(label\\.)+tld` where a label may
itself hold dots); Go runs it with RE2 in linear time, Python's backtracking
`re` in exponential time.  Here it is evaluated piece by piece, each piece
linear, with the same answers:

- the domain is everything after the last "@" (no domain character is "@"),
  minus one optional final ".";
- `(label\\.)+tld` collapses to `label\\.tld` split at the last dot, since a
  label may hold dots and the top-level label may not;
- the local part is a dot-atom, or a quoted string run as a small NFA.
"""

from __future__ import annotations

import re

__all__ = ["is_email"]

# govalidator's character classes (patterns.go, Email). Go's \d is ASCII only.
_U = "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
_ATEXT = f"a-zA-Z0-9{_U}!#$%&'*+\\-/=?^_`{{|}}~"
_LABEL = re.compile(f"[a-zA-Z0-9{_U}](?:[a-zA-Z0-9{_U}\\-._~]*[a-zA-Z0-9{_U}])?")
_TLD = re.compile(f"[a-zA-Z{_U}](?:[a-zA-Z0-9{_U}\\-_~]*[a-zA-Z{_U}])?")
_DOT_ATOM_CHARS = re.compile(f"[{_ATEXT}.]+")
_QTEXT = re.compile(rf"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\x21\x23-\x5b\x5d-\x7e{_U}]")
_QPAIR_SECOND = re.compile(rf"[\x01-\x09\x0b\x0c\x0d-\x7f{_U}]")


def is_email(s: str) -> bool:
    """Whether govalidator.IsEmail accepts `s`; linear in len(s)."""
    at = s.rfind("@")
    if at < 0:
        return False
    local, domain = s[:at], s[at + 1 :]
    return _is_domain(domain.removesuffix(".")) and _is_local(local)


def _is_domain(domain: str) -> bool:
    # Each pattern has one ambiguous quantifier at most, so `re` matches it in linear time.
    dot = domain.rfind(".")
    return dot >= 0 and _LABEL.fullmatch(domain[:dot]) is not None and _TLD.fullmatch(domain[dot + 1 :]) is not None


def _is_local(local: str) -> bool:
    if _DOT_ATOM_CHARS.fullmatch(local):
        # atext+ ("." atext+)*: no leading, trailing or doubled dot.
        return not (local.startswith(".") or local.endswith(".") or ".." in local)
    return len(local) >= 2 and local[0] == '"' and local[-1] == '"' and _is_quoted_body(local[1:-1])


def _is_quoted_body(body: str) -> bool:
    """`((FWS)? (qtext | "(" c))* (FWS)?` with FWS = `([ \\t]* \\r\\n)? [ \\t]+`, run as an NFA.

    (govalidator writes `\\(` where RFC 5322 has a backslash; we follow it.)
    States: A = a token may start (also the start), E = after "(" of a pair,
    W = in FWS whitespace before any CRLF, R = after CR, N = after CRLF,
    M = in the whitespace after CRLF. Accepting: A, W, M.
    """
    states = {"A"}
    for ch in body:
        nxt: set[str] = set()
        for st in states:
            if st in ("A", "W", "M") and _QTEXT.fullmatch(ch):
                nxt.add("A")
                if ch == "(":
                    nxt.add("E")
            if st == "E" and _QPAIR_SECOND.fullmatch(ch):
                nxt.add("A")
            if st in ("A", "W") and ch in " \t":
                nxt.add("W")
            if st in ("A", "W") and ch == "\r":
                nxt.add("R")
            if st == "R" and ch == "\n":
                nxt.add("N")
            if st in ("N", "M") and ch in " \t":
                nxt.add("M")
        if not nxt:
            return False
        states = nxt
    return bool(states & {"A", "W", "M"})
