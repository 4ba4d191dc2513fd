"""The JCS fast path writes exactly what the rfc8785 reference writes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py import jcs

_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(), st.text(alphabet=st.characters(max_codepoint=0x7F)),
    st.floats(allow_nan=False, allow_infinity=False),
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=25,
)


def _assert_same_as_reference(value: Any) -> None:
    try:
        want = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ValueError):
            jcs.dumps(value)
        return
    assert jcs.dumps(value) == want


@settings(max_examples=600, deadline=None)
@given(_json)
def test_fast_path_equals_reference(value: Any) -> None:
    _assert_same_as_reference(value)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": "\u00e9\n\t\x01\x7f\"\\/"},     # escapes and UTF-8 pass-through
    {"\u20ac": 1, "\U0001f600": 2, "a": 3},       # non-ASCII keys: UTF-16 order
    [2**53, -(2**53)],                            # beyond the exact range
    {"x": 1.0, "y": 1e21},                        # floats: ES6 number form
])
def test_edge_cases_match_reference(value: Any) -> None:
    _assert_same_as_reference(value)
