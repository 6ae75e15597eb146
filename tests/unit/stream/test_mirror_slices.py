"""How the PostgreSQL mirror cuts a batch into parallel COPY slices (pure)."""

import pytest

from lakehouse.stream.postgres_mirror import UpsertOutcome, slice_bounds


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (10, [(0, 10)]),  # a live batch stays one COPY
        (99_999, [(0, 99_999)]),  # two slices only when each gets at least MIN_SLICE_ROWS
        (100_000, [(0, 50_000), (50_000, 50_000)]),
        (500_001, [(0, 250_001), (250_001, 250_000)]),
    ],
)
def test_slices_cover_every_row_once(rows: int, expected: list[tuple[int, int]]) -> None:
    bounds = slice_bounds(rows, slices=2, min_rows=50_000)
    assert bounds == expected
    assert sum(length for _, length in bounds) == rows


def test_more_slices_never_leave_a_row_out_or_an_empty_slice() -> None:
    for rows in range(1, 200):
        bounds = slice_bounds(rows, slices=4, min_rows=7)
        covered = [i for start, length in bounds for i in range(start, start + length)]
        assert covered == list(range(rows))
        assert all(length > 0 for _, length in bounds)


def test_outcomes_of_slices_merge_in_order() -> None:
    merged = UpsertOutcome.merge(
        [UpsertOutcome([("a", "B", "1")], [], [("a", "B", "3")]), UpsertOutcome([], [("a", "B", "2")], [])]
    )
    assert merged == UpsertOutcome([("a", "B", "1")], [("a", "B", "2")], [("a", "B", "3")])
