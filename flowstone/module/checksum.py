"""Masked CRC32C, the checksum of TensorBundle files, SSTable blocks and TFRecords.

`google-crc32c` (hardware CRC instructions) does the work when it is installed;
otherwise a NumPy version runs many lanes of the byte-table loop side by side and
joins the lanes' checksums with the GF(2) shift operators of the polynomial.
"""

from __future__ import annotations

import numpy as np

_POLY = 0x82F63B78  # Castagnoli, reflected
_MASK_DELTA = 0xA282EAD8
_M32 = 0xFFFFFFFF


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()
_TABLE_LIST = _TABLE.tolist()


def _python_extend(state: int, data) -> int:
    table = _TABLE_LIST
    for byte in bytes(data):
        state = table[(state ^ byte) & 0xFF] ^ (state >> 8)
    return state


# A linear operator on 32-bit CRC states, stored as four 256-entry tables (one per byte of
# the state), so that applying it to many states is four lookups.
def _apply(op: np.ndarray, x: np.ndarray) -> np.ndarray:
    return op[0][x & 0xFF] ^ op[1][(x >> 8) & 0xFF] ^ op[2][(x >> 16) & 0xFF] ^ op[3][x >> 24]


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    return _apply(outer, inner)


def _one_zero_byte() -> np.ndarray:
    basis = np.arange(256, dtype=np.uint32)[None, :] << (np.arange(4, dtype=np.uint32)[:, None] * 8)
    return _TABLE[basis & 0xFF] ^ (basis >> 8)


_ZERO_BYTE = _one_zero_byte()


def _zeros_operator(n: int) -> np.ndarray:
    """The operator that feeds n zero bytes, by repeated squaring."""
    result = None
    power = _ZERO_BYTE
    while n:
        if n & 1:
            result = power if result is None else _compose(power, result)
        n >>= 1
        if n:
            power = _compose(power, power)
    return result


def _numpy_extend(state: int, data) -> int:
    buf = np.frombuffer(data, dtype=np.uint8)
    lanes = 1 << 14
    width = buf.size // lanes
    if width < 16:
        return _python_extend(state, data)
    body = buf[: lanes * width].reshape(lanes, width).T.copy()
    states = np.zeros(lanes, dtype=np.uint32)
    for column in body:
        states = _TABLE[(states ^ column) & 0xFF] ^ (states >> 8)
    shift = _zeros_operator(width)
    while states.size > 1:
        states = _apply(shift, states[0::2]) ^ states[1::2]
        shift = _compose(shift, shift)
    state = int(states[0] ^ _apply(shift, np.array([state], dtype=np.uint32))[0])
    return _python_extend(state, buf[lanes * width :].tobytes())


try:
    import google_crc32c as _fast

    if _fast.implementation != "c":
        _fast = None
except ImportError:  # pragma: no cover - depends on the environment
    _fast = None


def _load_native():
    """google-crc32c's bundled C library, called on buffers directly (its Python API wants bytes)."""
    if _fast is None:
        return None
    try:
        import ctypes
        import glob
        import os

        libs = os.path.join(os.path.dirname(os.path.dirname(_fast.__file__)), "google_crc32c.libs")
        candidates = glob.glob(os.path.join(libs, "libcrc32c*.so*"))
        if not candidates:
            return None
        lib = ctypes.CDLL(candidates[0])
        fn = lib.crc32c_extend
        fn.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
        fn.restype = ctypes.c_uint32
        return fn
    except (OSError, AttributeError):
        return None


_native = _load_native()


def extend(crc: int, data) -> int:
    """The CRC32C of (the bytes whose CRC32C is `crc`) followed by `data` (any buffer)."""
    if _native is not None and isinstance(data, np.ndarray) and data.flags.c_contiguous:
        return _native(crc, data.ctypes.data, data.nbytes)
    if _fast is not None:
        return _fast.extend(crc, data if isinstance(data, bytes) else bytes(data))
    return _numpy_extend(crc ^ _M32, data) ^ _M32


def combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """The CRC32C of A followed by B, from crc(A), crc(B) and len(B) (to check chunks read apart)."""
    if length_b == 0:
        return crc_a
    op = _zeros_operator(length_b)
    return int(_apply(op, np.array([crc_a], dtype=np.uint32))[0]) ^ crc_b


def crc32c(data) -> int:
    """CRC32C (Castagnoli) of a bytes-like object."""
    return extend(0, data)


def mask(crc: int) -> int:
    """TensorFlow's masked form of a CRC, stored so that CRCs of CRCs stay distinct."""
    return ((((crc >> 15) | (crc << 17)) & _M32) + _MASK_DELTA) & _M32


def unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & _M32
    return ((rot >> 17) | (rot << 15)) & _M32


def masked_crc32c(data) -> int:
    return mask(crc32c(data))
