"""collector.outbox: a worker's messages reach the parent whole and in order, the sender is not held up by a
parent that does not read, within a bound, and a pipe that breaks is reported, not lost."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from collector.outbox import Outbox


def test_messages_arrive_whole_and_in_order_and_close_writes_everything() -> None:
    recv, send = multiprocessing.Pipe(duplex=False)
    out = Outbox(send)
    sent = [("batch", list(range(i, i + 50))) for i in range(300)] + [("done", None)]
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend(recv.recv() for _ in sent))
    reader.start()
    for message in sent:
        out.send(message)
    out.close()
    reader.join(timeout=10)
    assert got == sent  # what Connection.recv reads: Outbox pickles as Connection.send does


def test_the_sender_goes_on_while_the_parent_reads_nothing_and_waits_past_the_bound() -> None:
    recv, send = multiprocessing.Pipe(duplex=False)
    big = b"x" * (256 << 10)  # 4 of them fill the kernel's 1 MiB pipe at most
    out = Outbox(send, limit=4 << 20)
    started = time.monotonic()
    for _ in range(12):  # 3 MiB past the pipe: held in the outbox, the caller does not block
        out.send(big)
    assert time.monotonic() - started < 5
    blocked = threading.Event()

    def over_the_bound() -> None:
        for _ in range(40):  # 10 MiB more: past the 4 MiB bound, send waits for the reader
            out.send(big)
        blocked.set()

    writer = threading.Thread(target=over_the_bound)
    writer.start()
    assert not blocked.wait(0.5)  # held back: nobody reads
    received = [recv.recv() for _ in range(52)]  # reading lets it through
    writer.join(timeout=10)
    assert blocked.is_set() and all(r == big for r in received)
    out.close()


def test_a_broken_pipe_is_raised_by_the_next_send_or_by_close() -> None:
    recv, send = multiprocessing.Pipe(duplex=False)
    recv.close()  # the parent is gone
    out = Outbox(send)
    out.send(("batch", [1]))
    with pytest.raises(OSError):
        for _ in range(100):
            out.send(("batch", [1]))
            time.sleep(0.01)
        out.close()
