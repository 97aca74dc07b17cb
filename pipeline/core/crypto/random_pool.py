"""Operating-system randomness for keys, salts and nonces, drawn from ``os.urandom`` a block at a time.

Why: every ``os.urandom`` call is a system call that releases the GIL; in a worker whose processing
thread shares the GIL with its event loop, each release can hand the interpreter to the other thread
for a switch interval. An envelope needs a data key, a salt and nonces per record, so the worker drew
randomness several times per record; here it reads 4 KiB at once and hands out slices.

The bytes are the kernel's CSPRNG output, unchanged. Each byte is handed out once (the slice given out
is zeroed in the block, so consumed key material does not linger), the pool is thread-safe, and a forked
child process starts with an empty pool: parent and child never share bytes.
"""

from __future__ import annotations

import os
import threading

BLOCK_BYTES = 4096


class RandomPool:
    """Slices of ``os.urandom`` blocks, each byte given out once."""

    def __init__(self, block_bytes: int = BLOCK_BYTES) -> None:
        self._block_bytes = block_bytes
        self._block = bytearray()
        self._offset = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def take(self, size: int) -> bytes:
        """``size`` fresh random bytes."""
        with self._lock:
            end = self._offset + size
            if end > len(self._block):
                self._block = bytearray(os.urandom(max(self._block_bytes, size)))
                self._offset, end = 0, size
            out = bytes(self._block[self._offset : end])
            self._block[self._offset : end] = bytes(size)
            self._offset = end
            return out

    def _forget(self) -> None:
        # A fork taken while another thread held the lock would leave the child's copy locked forever.
        self._lock = threading.Lock()
        self._block = bytearray()
        self._offset = 0


#: The process's pool (a child made by fork starts its own).
POOL = RandomPool()
