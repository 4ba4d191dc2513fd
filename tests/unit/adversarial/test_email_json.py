"""The govalidator email check and JSON decoding: linear, and limits named."""

from __future__ import annotations

import json
import time

import pytest

from rekor_py.errors import InvalidRequest
from rekor_py.json_limits import JSONLimitError, loads
from rekor_py.pki.govalidator_email import is_email
from rekor_py.types.go_json import GoJSONError
from rekor_py.types.go_json import loads as go_loads
from rekor_py.types.intoto_statement import statement_index_keys
from tests.unit.adversarial import assert_linear, limits_set


def test_24_labels_take_no_time() -> None:
    # PGP's backtracking regex took 2.7 s here, doubling with each label.
    hostile = "a@" + "a." * 24 + "1"
    start = time.perf_counter()
    assert is_email(hostile) is False
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("make", [lambda n: "a@" + "a." * n + "1", lambda n: '"' + "(" * n + "@x.com",
                                  lambda n: "a" * n + "@" + "-" * n, lambda n: "a." * n + "@b.c"])
def test_hostile_emails_take_linear_time(make: object) -> None:
    assert callable(make)
    assert_linear(lambda n: is_email(make(n)), 20_000)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("dev@example.com", True),
        ("dev@example.com.", True),
        ("a.b@c.d.e", True),
        ("a..b@c.de", False),
        (".a@c.de", False),
        ("a@b", False),
        ("a@b.1", False),  # the top-level label starts and ends with a letter
        ("u@x.a.1b", False),  # ... and holds no dot, so the last dot splits it
        ("u@1-2.b", True),
        ('"quoted name"@example.com', True),
        ('"(\x01"@example.com', True),  # govalidator's pair starts with "(", not a backslash
        ('"\\\x01"@example.com', False),
        ("é@exämple.com", True),
        ("", False),
    ],
)
def test_is_email_like_govalidator(value: str, want: bool) -> None:
    assert is_email(value) is want


def test_a_5000_digit_number_is_refused_as_text() -> None:
    text = '{"n": ' + "1" * 5000 + "}"
    message = ("the length of a JSON number in characters is 5000; the limit is 40 "
               "(setting max_json_number_chars, REKOR_PY_MAX_JSON_NUMBER_CHARS)")
    with pytest.raises(JSONLimitError) as e:
        loads(text)
    assert str(e.value) == message
    with pytest.raises(GoJSONError) as g:
        go_loads(text)
    assert str(g.value) == message
    with pytest.raises(JSONLimitError, match="max_json_number_chars"):
        loads("[1." + "0" * 100 + "]")
    assert loads("[12345678901234567890, -1.5e300]") == [12345678901234567890, -1.5e300]
    assert issubclass(JSONLimitError, ValueError) and not issubclass(JSONLimitError, InvalidRequest)


@pytest.mark.parametrize("depth", [65, 200, 100_000])
def test_nesting_beyond_the_limit_is_refused(depth: int) -> None:
    with pytest.raises(JSONLimitError, match=r"the limit is 64 \(setting max_json_depth"):
        loads("[" * depth + "]" * depth)
    with pytest.raises(GoJSONError, match="max_json_depth"):
        go_loads('{"a":' * depth + "1" + "}" * depth)
    assert loads("[" * 64 + "]" * 64) is not None


def test_the_depth_limit_is_a_setting() -> None:
    with limits_set(max_json_depth=3):
        assert loads('{"a": [[1]]}') == {"a": [[1]]}
        with pytest.raises(JSONLimitError, match="is 4; the limit is 3"):
            loads('{"a": [[[1]]]}')


def test_repeated_keys_cost_what_they_say() -> None:
    # Each repeat of "digest" used to copy the map decoded before it: n repeats
    # over an n-entry map cost n^2.
    def run(n: int) -> None:
        big = json.dumps({f"sha{i}": "ab" for i in range(n)})
        statement = '{"subject":[{"digest":' + big + "}]," + ",".join(['"subject":[{"digest":{}}]'] * n) + "}"
        statement_index_keys(statement.encode(), dsse=True)

    assert_linear(run, 4_000)
