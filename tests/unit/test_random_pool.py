"""The envelope's randomness pool: each byte handed out once, and never shared with a forked child."""

from __future__ import annotations

import os

from pipeline.core.crypto.random_pool import RandomPool


def test_slices_never_repeat_across_blocks_and_consumed_bytes_are_wiped():
    pool = RandomPool(block_bytes=64)
    slices = [pool.take(size) for size in (12, 32, 44, 12, 100, 7) * 20]
    assert [len(s) for s in slices] == [12, 32, 44, 12, 100, 7] * 20
    assert len(set(slices)) == len(slices)
    assert not any(pool._block[: pool._offset])  # what was handed out is zeroed in the block


def test_a_forked_child_draws_its_own_bytes():
    pool = RandomPool()
    pool.take(8)  # the parent holds a block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next bytes and leave at once
        os.write(write, pool.take(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    parent = pool.take(16)
    assert len(child) == 16 and child != parent
