"""Fuzzing: generated arch strings and data values never crash the parser/loader with anything but HarnessError."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import HarnessError
from spaces.nb201 import OPS, NB201Space, format_arch, parse_arch

token = st.one_of(st.sampled_from(OPS), st.text(min_size=0, max_size=12))
edge = st.builds(lambda op, j: f"{op}~{j}", token, st.integers(-2, 5))
group = st.lists(edge, min_size=0, max_size=4).map(lambda es: "|" + "|".join(es) + "|")
arch_like = st.lists(group, min_size=0, max_size=5).map("+".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(arch_like, st.text(max_size=80)))
def test_parse_arch_only_raises_harness_error(text):
    try:
        code = parse_arch(text)
    except HarnessError as e:
        assert "\n" not in str(e)
        return
    # whatever parses must be a valid code that formats back to an equivalent string
    assert code.shape == (6,) and code.min() >= 0 and code.max() < len(OPS)
    assert parse_arch(format_arch(code)).tolist() == code.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-3, 8), min_size=0, max_size=9))
def test_codes_out_of_range_are_refused(code):
    space = NB201Space()
    valid = len(code) == 6 and all(0 <= c < 5 for c in code)
    try:
        row = space.index(np.array([code]))
        assert valid and 0 <= int(row[0]) < space.size
    except HarnessError:
        assert not valid
