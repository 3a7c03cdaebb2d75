"""TensorBundle: TensorFlow's variable storage (`<prefix>.index` + `<prefix>.data-00000-of-00001`).

The index is an SSTable (flowstone/module/sstable.py) mapping "" to a BundleHeaderProto
and each tensor key to a BundleEntryProto (dtype, shape, offset, size, masked CRC32C);
the data file holds the tensors' bytes back to back. Both files are written under
temporary names and renamed into place, data first, so a reader never sees an index
whose data is missing or incomplete. Format: FORMATS.md §2.
"""

from __future__ import annotations

import os
import struct
import uuid

import numpy as np

from flowstone.core import dtypes, errors
from flowstone.module import sstable
from flowstone.module.checksum import combine, crc32c, extend, mask, unmask
from flowstone.protos import tensor_bundle_pb2

_STRING = dtypes.string.as_datatype_enum


def data_path(prefix: str, shard: int = 0, num_shards: int = 1) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def index_path(prefix: str) -> str:
    return f"{prefix}.index"


def _encode_strings(array: np.ndarray) -> tuple[list[bytes], int]:
    """DT_STRING layout: varint lengths, masked CRC of the lengths, then the bytes."""
    items = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1)]
    lengths = b"".join(sstable._varint(len(v)) for v in items)
    fixed = b"".join(
        struct.pack("<I", len(v)) if len(v) <= 0xFFFFFFFF else struct.pack("<Q", len(v)) for v in items
    )
    length_crc = crc32c(fixed)
    checksum = struct.pack("<I", mask(length_crc))
    body = b"".join(items)
    entry_crc = extend(extend(length_crc, checksum), body)
    return [lengths, checksum, body], entry_crc


def _decode_strings(buf: bytes, count: int, where: str) -> np.ndarray:
    lengths = []
    pos = 0
    try:
        for _ in range(count):
            n, pos = sstable._read_varint(buf, pos)
            lengths.append(n)
    except IndexError:
        raise errors.DataLossError(None, None, f"{where}: truncated string lengths") from None
    pos += 4
    out = np.empty(count, dtype=object)
    for i, n in enumerate(lengths):
        out[i] = bytes(buf[pos : pos + n])
        pos += n
    if pos != len(buf):
        raise errors.DataLossError(None, None, f"{where}: string data does not match its size")
    return out


def _string_crc(buf: bytes, count: int) -> int:
    lengths, pos = [], 0
    for _ in range(count):
        n, pos = sstable._read_varint(buf, pos)
        lengths.append(n)
    fixed = b"".join(struct.pack("<I", n) if n <= 0xFFFFFFFF else struct.pack("<Q", n) for n in lengths)
    return extend(crc32c(fixed), buf[pos:])


class BundleWriter:
    """Writes tensors to `<prefix>.data-00000-of-00001` and their index to `<prefix>.index`."""

    def __init__(self, prefix: str):
        self._prefix = prefix
        directory = os.path.dirname(prefix)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._suffix = f".tempstate{uuid.uuid4().hex}"
        self._data_tmp = data_path(prefix) + self._suffix
        self._file = open(self._data_tmp, "wb")
        self._offset = 0
        self._entries: dict[str, tensor_bundle_pb2.BundleEntryProto] = {}

    def add(self, key: str, value: np.ndarray, dtype: dtypes.DType) -> None:
        """Appends one tensor (a NumPy array of `dtype`'s NumPy type, object of bytes for strings)."""
        if key in self._entries:
            raise errors.InvalidArgumentError(None, None, f"Adding duplicate key: {key}")
        value = np.asarray(value)
        entry = tensor_bundle_pb2.BundleEntryProto(dtype=dtype.as_datatype_enum)
        for d in value.shape:
            entry.shape.dim.add(size=int(d))
        if dtype.as_datatype_enum == _STRING:
            parts, crc = _encode_strings(value)
        else:
            if dtype.as_numpy_dtype is None:
                raise errors.InvalidArgumentError(None, None, f"Cannot save a {dtype.name} tensor ({key})")
            array = np.ascontiguousarray(value, dtype=dtype.as_numpy_dtype)
            if array.dtype.byteorder == ">":
                array = array.astype(array.dtype.newbyteorder("<"))
            data = array.reshape(-1).view(np.uint8) if array.size else np.empty(0, np.uint8)
            parts, crc = [data], crc32c(data)
        size = sum(p.nbytes if isinstance(p, np.ndarray) else len(p) for p in parts)
        for part in parts:
            self._file.write(part)
        entry.offset, entry.size, entry.crc32c = self._offset, size, mask(crc)
        self._offset += size
        self._entries[key] = entry

    def finish(self) -> None:
        """Writes the index and moves both files into place (data first)."""
        self._file.close()
        header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
        header.version.producer = 1
        items = [(b"", header.SerializeToString())]
        for key in sorted(self._entries, key=lambda k: k.encode("utf-8")):
            items.append((key.encode("utf-8"), self._entries[key].SerializeToString()))
        index_tmp = index_path(self._prefix) + self._suffix
        with open(index_tmp, "wb") as f:
            f.write(sstable.build_table(items))
        os.replace(self._data_tmp, data_path(self._prefix))
        os.replace(index_tmp, index_path(self._prefix))

    def abort(self) -> None:
        self._file.close()
        for path in (self._data_tmp, index_path(self._prefix) + self._suffix):
            if os.path.exists(path):
                os.remove(path)


def write_bundle(prefix: str, tensors) -> None:
    """Writes `tensors`, an iterable of (key, numpy value, DType), as one bundle."""
    writer = BundleWriter(prefix)
    try:
        for key, value, dtype in tensors:
            writer.add(key, value, dtype)
    except BaseException:
        writer.abort()
        raise
    writer.finish()


def _not_found(prefix: str):
    return errors.NotFoundError(
        None,
        None,
        f"Unsuccessful TensorSliceReader constructor: Failed to find any matching files for {prefix}",
    )


def exists(prefix: str) -> bool:
    return os.path.isfile(index_path(prefix))


class BundleReader:
    """Reads a bundle's index at construction and tensors on demand, checking their CRCs."""

    def __init__(self, prefix: str):
        prefix = os.fspath(prefix)
        self.prefix = prefix
        path = index_path(prefix)
        if not os.path.isfile(path):
            raise _not_found(prefix)
        with open(path, "rb") as f:
            raw = f.read()
        self.entries: dict[str, tensor_bundle_pb2.BundleEntryProto] = {}
        header = None
        try:
            for key, value in sstable.read_table(raw, path):
                if key == b"":
                    header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                else:
                    self.entries[key.decode("utf-8")] = tensor_bundle_pb2.BundleEntryProto.FromString(value)
        except errors.DataLossError as e:
            raise errors.DataLossError(
                None,
                None,
                f"Unable to read file ({path}). Perhaps the file is corrupt or was produced by a newer "
                f"version of TensorFlow with format changes: {e.message}",
            ) from None
        except Exception as e:  # a protobuf decode error inside a block whose CRC matched
            raise errors.DataLossError(None, None, f"Unable to read file ({path}): {e}") from None
        if header is None:
            raise errors.DataLossError(None, None, f"Unable to read file ({path}): no bundle header")
        self.num_shards = max(header.num_shards, 1)
        self.big_endian = header.endianness == tensor_bundle_pb2.BundleHeaderProto.BIG
        self._files: dict[int, object] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def dtype(self, key: str) -> dtypes.DType:
        return dtypes.as_dtype(self.entries[key].dtype)

    def shape(self, key: str) -> list[int]:
        return [d.size for d in self.entries[key].shape.dim]

    def _file(self, shard: int):
        f = self._files.get(shard)
        if f is None:
            path = data_path(self.prefix, shard, self.num_shards)
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                raise errors.NotFoundError(None, None, f"Data file {path} of the checkpoint is missing") from None
            self._files[shard] = f
        return f

    def read(self, key: str) -> np.ndarray:
        """The tensor stored under `key`, as a NumPy array."""
        return self.read_many([key])[0]

    def read_many(self, keys) -> list[np.ndarray]:
        """The tensors stored under `keys`; large ones are read and checked on several threads."""
        entries = []
        for key in keys:
            entry = self.entries.get(key)
            if entry is None:
                raise errors.NotFoundError(None, None, f"Key {key} not found in checkpoint")
            if entry.slices:
                raise errors.UnimplementedError(
                    None, None, f"{key} is stored in slices (a TF1 partitioned variable); it cannot be read whole"
                )
            entries.append((key, entry))
        total = sum(e.size for _, e in entries)
        if total < _PARALLEL_BYTES:
            return [self._read_entry(key, entry) for key, entry in entries]
        # Preads and CRCs release the GIL: read every tensor in chunks on several threads, then
        # join the chunks' CRCs. Strings (small, variable-length) are read whole.
        out: list = [None] * len(entries)
        buffers, tasks = {}, []
        for i, (_, entry) in enumerate(entries):
            if entry.dtype == _STRING:
                tasks.append((i, None, 0, 0))
                continue
            buffers[i] = _aligned_bytes(entry.size)
            for start in range(0, max(entry.size, 1), _CHUNK):
                tasks.append((i, buffers[i], start, min(_CHUNK, entry.size - start)))
        with _pool() as pool:
            results = list(pool.map(lambda t: self._read_chunk(entries, *t), tasks))
        crcs: dict[int, int] = {}
        for (i, buf, _, length), result in zip(tasks, results, strict=True):
            if buf is None:
                out[i] = result
            else:
                crcs[i] = result if i not in crcs else combine(crcs[i], result, length)
        for i, buf in buffers.items():
            out[i] = self._finish(*entries[i], buf, crcs[i])
        return out

    def _read_chunk(self, entries, i, buf, start, length):
        key, entry = entries[i]
        if buf is None:
            return self._read_entry(key, entry)
        view = buf[start : start + length]
        # Touching the pages first is much cheaper than letting the read fault them in.
        view.fill(0)
        self._pread(key, entry, view, start)
        return crc32c(view)

    def _pread(self, key, entry, view, start) -> None:
        f = self._file(entry.shard_id)
        want = view.nbytes
        got = os.preadv(f.fileno(), [view], entry.offset + start) if want else 0
        while 0 < got < want:  # short reads are legal; keep going until EOF
            more = os.preadv(f.fileno(), [view[got:]], entry.offset + start + got)
            if more == 0:
                break
            got += more
        if got != want:
            path = data_path(self.prefix, entry.shard_id, self.num_shards)
            raise errors.DataLossError(
                None,
                None,
                f"{path} is truncated: {key} needs {entry.size} bytes at offset {entry.offset}, "
                f"only {start + got} are there",
            )

    def _read_entry(self, key, entry) -> np.ndarray:
        buf = _aligned_bytes(entry.size)
        self._pread(key, entry, buf, 0)
        if entry.dtype == _STRING:
            return self._finish(key, entry, buf, None)
        return self._finish(key, entry, buf, crc32c(buf))

    def _finish(self, key, entry, buf, actual) -> np.ndarray:
        path = data_path(self.prefix, entry.shard_id, self.num_shards)
        shape = tuple(d.size for d in entry.shape.dim)
        count = int(np.prod(shape, dtype=np.int64))
        where = f"TensorBundle at {self.prefix} shard {entry.shard_id} ({path}), key {key}"
        if entry.dtype == _STRING:
            try:
                actual = _string_crc(bytes(buf), count)
            except IndexError:
                actual = None
        if actual != unmask(entry.crc32c):
            raise errors.DataLossError(
                None,
                None,
                f"{where} ({entry.size} bytes): Checksum does not match: stored {unmask(entry.crc32c)} vs. "
                f"calculated on the restored bytes {actual}",
            )
        if entry.dtype == _STRING:
            return _decode_strings(bytes(buf), count, where).reshape(shape)
        np_dtype = np.dtype(dtypes.as_dtype(entry.dtype).as_numpy_dtype)
        if self.big_endian:
            return buf.view(np_dtype.newbyteorder(">")).astype(np_dtype).reshape(shape)
        return buf.view(np_dtype).reshape(shape)


_PARALLEL_BYTES = 8 << 20
_CHUNK = 4 << 20
_ALIGN = 64


def _aligned_bytes(n: int) -> np.ndarray:
    """A 64-byte-aligned uint8 buffer: XLA takes aligned host arrays without an extra copy."""
    raw = np.empty(n + _ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % _ALIGN
    return raw[start : start + n]


def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
