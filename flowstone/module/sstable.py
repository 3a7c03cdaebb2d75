"""The LevelDB table format that TensorBundle `.index` files use (FORMATS.md §2.2).

A table is data blocks of prefix-compressed, sorted key/value entries, an empty
metaindex block, an index block that maps a separator key to each data block, and a
48-byte footer; every block carries a type byte and a masked CRC32C.
"""

from __future__ import annotations

import struct

from flowstone.core import errors
from flowstone.module.checksum import crc32c, mask, unmask

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_SIZE = 262144
RESTART_INTERVAL = 16


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


class _BlockBuilder:
    def __init__(self):
        self.parts: list[bytes] = []
        self.size = 0
        self.restarts = [0]
        self.count = 0
        self.last_key = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.count % RESTART_INTERVAL == 0:
            if self.count:
                self.restarts.append(self.size)
        else:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        entry = b"".join(
            (_varint(shared), _varint(len(key) - shared), _varint(len(value)), key[shared:], value)
        )
        self.parts.append(entry)
        self.size += len(entry)
        self.count += 1
        self.last_key = key

    def estimated_size(self) -> int:
        return self.size + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        tail = struct.pack(f"<{len(self.restarts)}I", *self.restarts) + struct.pack("<I", len(self.restarts))
        return b"".join(self.parts) + tail


def _separator(last: bytes, following: bytes) -> bytes:
    """A short key k with last <= k < following (LevelDB's FindShortestSeparator)."""
    n = 0
    while n < min(len(last), len(following)) and last[n] == following[n]:
        n += 1
    if n < min(len(last), len(following)) and last[n] < 0xFF and last[n] + 1 < following[n]:
        return last[:n] + bytes([last[n] + 1])
    return last


def _successor(key: bytes) -> bytes:
    """A short key >= key (LevelDB's FindShortSuccessor)."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


def build_table(items) -> bytes:
    """The bytes of a table holding `items`, (key bytes, value bytes) pairs in increasing key order."""
    out = bytearray()

    def write_block(contents: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(contents))
        trailer = b"\x00" + struct.pack("<I", mask(crc32c(contents + b"\x00")))
        out.extend(contents)
        out.extend(trailer)
        return handle

    index = _BlockBuilder()
    block = _BlockBuilder()
    pending = None  # (last key of the block just written, its handle)
    for key, value in items:
        if pending is not None:
            index.add(_separator(pending[0], key), pending[1])
            pending = None
        block.add(key, value)
        if block.estimated_size() >= BLOCK_SIZE:
            pending = (block.last_key, write_block(block.finish()))
            block = _BlockBuilder()
    if block.count:
        pending = (block.last_key, write_block(block.finish()))
    if pending is not None:
        index.add(_successor(pending[0]), pending[1])
    metaindex_handle = write_block(_BlockBuilder().finish())
    index_handle = write_block(index.finish())
    footer = metaindex_handle + index_handle
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", MAGIC)
    out.extend(footer)
    return bytes(out)


def _block_entries(block: bytes, filename: str):
    if len(block) < 4:
        raise errors.DataLossError(None, None, f"corrupted block in {filename}: too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    if end < 0:
        raise errors.DataLossError(None, None, f"corrupted block in {filename}: bad restart array")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _read_varint(block, pos)
        unshared, pos = _read_varint(block, pos)
        length, pos = _read_varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise errors.DataLossError(None, None, f"corrupted block entry in {filename}")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def _read_block(data: bytes, handle: bytes, filename: str) -> tuple[bytes, bytes]:
    offset, pos = _read_varint(handle, 0)
    size, pos = _read_varint(handle, pos)
    if offset + size + 5 > len(data):
        raise errors.DataLossError(
            None, None, f"truncated table {filename}: block at {offset}+{size} past the end ({len(data)} bytes)"
        )
    contents = data[offset : offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    actual = crc32c(data[offset : offset + size + 1])
    if unmask(stored) != actual:
        raise errors.DataLossError(
            None,
            None,
            f"block checksum mismatch in {filename}: stored {unmask(stored):#010x}, computed "
            f"{actual:#010x} (block at offset {offset})",
        )
    if kind != 0:
        raise errors.DataLossError(None, None, f"{filename}: compressed blocks (type {kind}) are not supported")
    return contents, handle[pos:]


def read_table(data: bytes, filename: str) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a table, checking every block's checksum."""
    if len(data) < FOOTER_SIZE:
        raise errors.DataLossError(
            None, None, f"{filename} is not a valid table: {len(data)} bytes, shorter than its footer (truncated?)"
        )
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, 40)
    if magic != MAGIC:
        raise errors.DataLossError(
            None, None, f"{filename} is not a valid table (bad magic number): truncated or not an index file"
        )
    try:
        _, pos = _read_varint(footer, 0)
        _, pos = _read_varint(footer, pos)
        index_handle = footer[pos:40]
        index, _ = _read_block(data, index_handle, filename)
        items = []
        for _, handle in _block_entries(index, filename):
            block, _ = _read_block(data, handle, filename)
            items.extend(_block_entries(block, filename))
    except (IndexError, ValueError, struct.error) as e:
        raise errors.DataLossError(None, None, f"corrupted table {filename}: {e}") from None
    return items
