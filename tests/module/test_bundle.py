"""TensorBundle files: masked CRC32C, the SSTable index, the data file, corruption detection."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

from flowstone.core import dtypes, errors
from flowstone.module import bundle, checksum, sstable


def test_crc32c_check_value_and_mask():
    assert checksum.crc32c(b"123456789") == 0xE3069283
    assert checksum.crc32c(np.frombuffer(b"123456789", np.uint8)) == 0xE3069283
    c = checksum.crc32c(b"hello")
    assert checksum.unmask(checksum.mask(c)) == c
    assert checksum.mask(0) == 0xA282EAD8
    assert checksum.extend(checksum.crc32c(b"1234"), b"56789") == 0xE3069283


@pytest.mark.parametrize("n", [0, 7, 4096, 300_001])
def test_numpy_fallback_matches(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    expected = checksum.crc32c(data)
    assert checksum._numpy_extend(0xFFFFFFFF, data) ^ 0xFFFFFFFF == expected
    assert checksum._python_extend(0xFFFFFFFF, data[:5000]) ^ 0xFFFFFFFF == checksum.crc32c(data[:5000])


def test_sstable_round_trip_many_blocks(monkeypatch):
    monkeypatch.setattr(sstable, "BLOCK_SIZE", 200)
    items = [(f"key/{i:04d}".encode(), bytes([i % 256]) * (i % 37)) for i in range(500)]
    table = sstable.build_table(items)
    assert table[-8:] == bytes.fromhex("57fb808b247547db")
    assert sstable.read_table(table, "t") == items


def test_sstable_separators():
    assert sstable._separator(b"w/abc", b"z") == b"x"
    assert sstable._separator(b"abc", b"abd") == b"abc"
    assert sstable._successor(b"w/x") == b"x"
    assert sstable._successor(b"\xff\xff") == b"\xff\xff"


def _sample():
    return [
        ("w", np.arange(6, dtype=np.float32).reshape(2, 3), dtypes.float32),
        ("s", np.array([b"ab", b"", b"x" * 300], dtype=object), dtypes.string),
        ("h", np.array([1.5, -2], ml_dtypes.bfloat16), dtypes.bfloat16),
        ("i", np.array(7, np.int64), dtypes.int64),
        ("b", np.array([True, False]), dtypes.bool_),
        ("c", np.array([1 + 2j], np.complex64), dtypes.complex64),
        ("e", np.zeros((0, 3), np.float64), dtypes.float64),
    ]


def test_bundle_round_trip(tmp_path):
    prefix = str(tmp_path / "sub" / "b")
    bundle.write_bundle(prefix, _sample())
    assert sorted(os.listdir(tmp_path / "sub")) == ["b.data-00000-of-00001", "b.index"]
    reader = bundle.BundleReader(prefix)
    for key, value, dtype in _sample():
        got = reader.read(key)
        assert reader.dtype(key) == dtype and reader.shape(key) == list(value.shape)
        assert got.dtype == value.dtype and got.shape == value.shape
        np.testing.assert_array_equal(got, value)
    reader.close()


def test_index_layout_matches_tensorflows(tmp_path):
    # The 246-byte index TF wrote for {w: [2,2] f32, b: [2] f32} (FORMATS.md §2.2), minus the graph.
    prefix = str(tmp_path / "v")
    bundle.write_bundle(prefix, [("w", np.zeros((2, 2), np.float32), dtypes.float32),
                                 ("b", np.zeros(2, np.float32), dtypes.float32)])
    raw = open(prefix + ".index", "rb").read()
    assert raw[:9] == bytes.fromhex("000006" "08011a020801")  # header: num_shards=1, version{producer=1}
    assert raw[-8:] == bytes.fromhex("57fb808b247547db")
    entries = sstable.read_table(raw, "v.index")
    assert [k for k, _ in entries] == [b"", b"b", b"w"]
    assert os.path.getsize(prefix + ".data-00000-of-00001") == 24


def test_string_crc_layout(tmp_path):
    # Lengths as varints, then the masked CRC of the lengths as uint32 LE, then the bytes.
    prefix = str(tmp_path / "s")
    bundle.write_bundle(prefix, [("s", np.array([b"ab", b"c"], dtype=object), dtypes.string)])
    data = open(prefix + ".data-00000-of-00001", "rb").read()
    lengths_crc = checksum.mask(checksum.crc32c(np.array([2, 1], "<u4").tobytes()))
    assert data == b"\x02\x01" + lengths_crc.to_bytes(4, "little") + b"abc"


def test_duplicate_key_rejected(tmp_path):
    writer = bundle.BundleWriter(str(tmp_path / "d"))
    writer.add("k", np.zeros(1, np.float32), dtypes.float32)
    with pytest.raises(errors.InvalidArgumentError, match="duplicate key: k"):
        writer.add("k", np.zeros(1, np.float32), dtypes.float32)
    writer.abort()
    assert os.listdir(tmp_path) == []


def _corrupt(path, offset):
    raw = bytearray(open(path, "rb").read())
    raw[offset] ^= 0xFF
    open(path, "wb").write(bytes(raw))


def test_corrupted_index_reported_with_file_name(tmp_path):
    prefix = str(tmp_path / "c")
    bundle.write_bundle(prefix, _sample())
    _corrupt(prefix + ".index", 20)
    with pytest.raises(errors.DataLossError, match=r"c\.index.*checksum mismatch"):
        bundle.BundleReader(prefix)


def test_corrupted_data_reported_with_file_name(tmp_path):
    prefix = str(tmp_path / "c")
    bundle.write_bundle(prefix, _sample())
    _corrupt(prefix + ".data-00000-of-00001", 3)
    reader = bundle.BundleReader(prefix)
    with pytest.raises(errors.DataLossError, match=r"c\.data-00000-of-00001.*key w.*Checksum does not match"):
        reader.read("w")
    np.testing.assert_array_equal(reader.read("i"), 7)


@pytest.mark.parametrize("which", ["index", "data"])
def test_truncated_files_reported(tmp_path, which):
    prefix = str(tmp_path / "t")
    bundle.write_bundle(prefix, _sample())
    path = prefix + (".index" if which == "index" else ".data-00000-of-00001")
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(errors.DataLossError, match=os.path.basename(path).replace(".", r"\.")):
        reader = bundle.BundleReader(prefix)
        for key, _, _ in _sample():
            reader.read(key)


def test_missing_bundle(tmp_path):
    with pytest.raises(errors.NotFoundError, match="Failed to find any matching files"):
        bundle.BundleReader(str(tmp_path / "nope"))


def test_parallel_read_of_large_tensors(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle, "_PARALLEL_BYTES", 1024)
    values = [(f"v{i}", np.full((64, 64), i, np.float32), dtypes.float32) for i in range(6)]
    bundle.write_bundle(str(tmp_path / "p"), values)
    got = bundle.BundleReader(str(tmp_path / "p")).read_many([k for k, _, _ in values])
    for (_, value, _), array in zip(values, got, strict=True):
        np.testing.assert_array_equal(array, value)
        assert array.ctypes.data % 64 == 0
