"""The compiled bookkeeping of the memory recorded launches read (``kernels/recording.py``),
against a model that keeps every byte in a Python set, and the span of arrays against NumPy's."""

import numpy as np
from hypothesis import given, settings, strategies as st

from srcad.kernels.recording import add_read, extent_of, reads_overlap

spans = st.tuples(st.integers(0, 60), st.integers(0, 12)).map(lambda s: (s[0], s[0] + s[1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(spans, max_size=25), st.lists(spans, min_size=1, max_size=10))
def test_ranges_read_answer_as_a_set_of_bytes_would(added, queries):
    ranges, count, model = np.zeros((4, 2), dtype=np.int64), 0, set()
    for start, end in added:
        new_count = add_read(ranges, count, start, end)
        if new_count == -1:  # no room: nothing changed; the tape then grows the array and adds again
            assert count + 1 > ranges.shape[0]
            bigger = np.zeros((2 * ranges.shape[0], 2), dtype=np.int64)
            bigger[:count] = ranges[:count]
            ranges = bigger
            new_count = add_read(ranges, count, start, end)
        count = new_count
        model.update(range(start, end))
        rows = ranges[:count]
        assert all(rows[j, 1] < rows[j + 1, 0] for j in range(count - 1))  # sorted, disjoint, not touching
        assert all(rows[j, 0] <= rows[j, 1] for j in range(count))
        assert {b for s, e in rows for b in range(s, e)} == model
    for start, end in queries:
        assert reads_overlap(ranges, count, start, end) == bool(model & set(range(start, end)))


def test_extents_of_views_match_numpys_byte_bounds():
    base = np.zeros((5, 6, 4))
    for view in (base, base[1], base[::-1], base[:, ::-2, 1:], base.T, base[2:3, 0:0], base[..., 3], base[::2, ::-1].T):
        low, high = np.lib.array_utils.byte_bounds(view)
        assert extent_of(view) == ((low, high) if view.size else (view.ctypes.data, view.ctypes.data))
