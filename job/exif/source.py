"""Cached ranged reads under a byte budget, so parsers can ask for any offset and S3 sees few GETs."""

from __future__ import annotations

from collections.abc import Callable

RangeReader = Callable[[int, int], bytes]  # returns bytes [start, end); fewer at end of object
BLOCK = 64 * 1024


class BudgetExceeded(Exception):
    """The parser needed more bytes than the configured bound."""


class Source:
    """Reads whole 64 KiB blocks on demand and keeps them; `bytes_read` counts every fetched byte."""

    def __init__(self, read: RangeReader, size: int | None, max_bytes: int) -> None:
        self._read = read
        self.size = size
        self.max_bytes = max_bytes
        self.bytes_read = 0
        self.reads = 0
        self._blocks: dict[int, bytes] = {}
        self._eof_block: int | None = None  # first block index known to be past the end

    def _fetch(self, first: int, last: int) -> None:
        """Fetch blocks first..last (inclusive) in one ranged read."""
        start = first * BLOCK
        end = (last + 1) * BLOCK
        if self.size is not None:
            end = min(end, self.size)
        if end <= start:
            self._eof_block = first if self._eof_block is None else min(self._eof_block, first)
            return
        if self.bytes_read + (end - start) > self.max_bytes:
            raise BudgetExceeded(f"needs more than max_bytes={self.max_bytes} bytes to find the metadata")
        data = self._read(start, end)
        self.reads += 1
        self.bytes_read += len(data)
        for i in range(first, last + 1):
            piece = data[(i - first) * BLOCK : (i - first + 1) * BLOCK]
            self._blocks[i] = piece
            if len(piece) < BLOCK:
                self._eof_block = i + 1 if self._eof_block is None else min(self._eof_block, i + 1)
                break

    def get(self, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length), shorter only at the end of the object."""
        if length <= 0 or offset < 0:
            return b""
        if self.size is not None:
            length = min(length, self.size - offset)
            if length <= 0:
                return b""
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        if self._eof_block is not None:
            last = min(last, self._eof_block - 1)
        run_start = None
        for i in range(first, last + 2):
            if i <= last and i not in self._blocks:
                run_start = i if run_start is None else run_start
            elif run_start is not None:
                self._fetch(run_start, i - 1)
                run_start = None
        if first == last:
            block = self._blocks.get(first, b"")
            return block[offset - first * BLOCK : offset - first * BLOCK + length]
        data = b"".join(self._blocks.get(i, b"") for i in range(first, last + 1))
        return data[offset - first * BLOCK : offset - first * BLOCK + length]
