"""How the dispatcher splits claimed messages into send tasks."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.messaging.outbox import SEND_CHUNK, SIDE_BY_SIDE, chunks


def test_a_few_messages_get_a_task_each_so_a_slow_provider_is_waited_on_side_by_side() -> None:
    ids = [uuid.uuid4() for _ in range(2 * SIDE_BY_SIDE - 1)]
    assert chunks(ids) == [[str(i)] for i in ids]


def test_a_backlog_goes_in_full_chunks() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    sizes = [len(chunk) for chunk in chunks(ids)]
    assert sizes == [SEND_CHUNK] * 50


@given(st.integers(min_value=0, max_value=3000))
def test_every_message_once_in_order_in_bounded_chunks(count: int) -> None:
    ids = [uuid.UUID(int=n) for n in range(count)]
    split = chunks(ids)
    assert [m for chunk in split for m in chunk] == [str(i) for i in ids]
    assert all(1 <= len(chunk) <= SEND_CHUNK for chunk in split)
    assert len(split) >= min(count, SIDE_BY_SIDE)
