"""Small NumPy references for convolution and pooling (NHWC / NDHWC, loops over windows)."""

from __future__ import annotations

import itertools

import numpy as np


def same_pads(size, window, stride, dilation=1):
    effective = (window - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pads_for(x_spatial, k_spatial, strides, dilations, padding):
    if padding == "VALID":
        return [(0, 0)] * len(x_spatial)
    if padding == "SAME":
        return [
            same_pads(s, k, st, d)
            for s, k, st, d in zip(x_spatial, k_spatial, strides, dilations, strict=False)
        ]
    return [tuple(p) for p in padding]  # explicit (before, after) per spatial dim


def conv(x, w, strides=None, padding="VALID", dilations=None, groups=1):
    """Channels-last N-D convolution; `w` is `[*k, in // groups, out]`."""
    n = x.ndim - 2
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads = pads_for(x.shape[1:-1], w.shape[:n], strides, dilations, padding)
    x = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    eff = [(k - 1) * d + 1 for k, d in zip(w.shape[:n], dilations, strict=False)]
    out_sp = [(s - e) // st + 1 for s, e, st in zip(x.shape[1:-1], eff, strides, strict=False)]
    cin, cout = w.shape[n], w.shape[n + 1]
    per_group = cout // groups
    out = np.zeros([x.shape[0]] + out_sp + [cout], dtype=np.result_type(x, w))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        sl = tuple(
            slice(p * st, p * st + e, d)
            for p, st, e, d in zip(pos, strides, eff, dilations, strict=False)
        )
        patch = x[(slice(None),) + sl]
        for g in range(groups):
            pg = patch[..., g * cin : (g + 1) * cin]
            wg = w[..., g * per_group : (g + 1) * per_group]
            out[(slice(None),) + pos + (slice(g * per_group, (g + 1) * per_group),)] = np.tensordot(
                pg, wg, axes=(list(range(1, n + 2)), list(range(n + 1)))
            )
    return out


def depthwise(x, w, strides=None, padding="VALID", dilations=None):
    """`w` is `[kh, kw, in, multiplier]`; output channel c * multiplier + m."""
    kh, kw, cin, mult = w.shape
    outs = [
        conv(x[..., c : c + 1], w[:, :, c : c + 1, :], strides, padding, dilations)
        for c in range(cin)
    ]
    return np.concatenate(outs, axis=-1)


def pool(x, ksize, strides, padding, kind):
    """Channels-last N-D pooling; SAME average pooling counts only real elements."""
    n = x.ndim - 2
    pads = pads_for(x.shape[1:-1], ksize, strides, [1] * n, padding)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    ones = np.pad(np.ones(x.shape), [(0, 0)] + pads + [(0, 0)])
    out_sp = [(s - k) // st + 1 for s, k, st in zip(xp.shape[1:-1], ksize, strides, strict=False)]
    out = np.zeros([x.shape[0]] + out_sp + [x.shape[-1]])
    for pos in itertools.product(*[range(o) for o in out_sp]):
        sl = (slice(None),) + tuple(
            slice(p * st, p * st + k) for p, st, k in zip(pos, strides, ksize, strict=False)
        )
        axes = tuple(range(1, n + 1))
        if kind == "max":
            out[(slice(None),) + pos] = xp[sl].max(axis=axes)
        else:
            out[(slice(None),) + pos] = xp[sl].sum(axis=axes) / ones[sl].sum(axis=axes)
    return out.astype(x.dtype)


def transpose_of(fn, in_shape, dy):
    """`J^T dy` for a linear NumPy function `fn` of an input of shape `in_shape`."""
    size = int(np.prod(in_shape))
    grad = np.zeros(size)
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        grad[i] = np.sum(fn(e.reshape(in_shape)) * dy)
    return grad.reshape(in_shape)
