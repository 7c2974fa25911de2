"""The parallel dump's per-session buffer: bounded, in order, and the writer blocks when it is full."""

from __future__ import annotations

import os
import threading
import time

from agent.backup.bounded_part import BoundedPart


def test_a_writer_ahead_of_the_reader_blocks_once_the_buffer_and_the_pipe_are_full():
    read_fd, write_fd = os.pipe()
    part = BoundedPart(os.fdopen(read_fd, "rb", buffering=0), limit=256 << 10, name="t")
    written = 0
    block = bytes(range(256)) * 256  # 64 KiB

    def write() -> None:
        nonlocal written
        with os.fdopen(write_fd, "wb", buffering=0) as pipe:
            for _ in range(200):  # 12.5 MiB: far more than the buffer and the pipe hold
                pipe.write(block)
                written += len(block)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.5)
    assert part.started.is_set()
    assert written < 4 << 20  # held back: the buffer (256 KiB) plus the pipe (64 KiB - 1 MiB), not 12.5 MiB
    assert part.peak_bytes <= (256 << 10) + (1 << 20)  # at most the limit plus one read
    received = b"".join(part.chunks())
    writer.join()
    assert received == block * 200
    assert part.longest_hold > 0.3  # it was held while nobody read
    part.close()
