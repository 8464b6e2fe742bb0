"""Retired case ids in compact arrays behave as the set of ids they stand for."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.retired import RetiredIds

DAY = date(2026, 1, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.integers(0, 9)), max_size=60),
       st.integers(0, 10), st.integers(1, 7))
def test_retired_ids_are_the_set_they_stand_for(ids: list[tuple[str, int]], prune_at: int, merge_at: int) -> None:
    store = RetiredIds(merge_at)  # merge often: both the recent set and the sorted arrays are used
    model: dict[str, int] = {}
    for case_id, offset in ids:
        if case_id in model:
            continue  # a case retires once
        store.add(case_id, DAY + timedelta(days=offset))
        model[case_id] = offset
    for copy in (store, pickle.loads(pickle.dumps(store, protocol=5))):
        assert len(copy) == len(model)
        assert all(case_id in copy for case_id in model)
        assert "never-retired-id" not in copy or "never-retired-id" in model
    store.prune(DAY + timedelta(days=prune_at))
    kept = {c for c, offset in model.items() if offset >= prune_at}
    assert len(store) == len(kept)
    assert all((c in store) == (c in kept) for c in model)
