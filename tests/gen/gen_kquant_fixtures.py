#!/usr/bin/env python3
"""Writes the K-quant fixtures tests/test_kquants.c compares qlm against:
tests/fixtures/quant/{q4_k,q5_k,q6_k}.bin, in the file format of
gen_quant_fixtures.py (see its docstring; version 1, ggml type ids Q4_K = 12,
Q5_K = 13, Q6_K = 14).

Oracles: gguf-py has no K-quant quantizers, so the quantized bytes come from
llama.cpp itself, libggml-base.so of the llama-cpp-python package, through
ggml_quantize_chunk with no importance matrix (which is
quantize_row_q*_K_ref; the script checks that the two agree). The
dequantized values are gguf-py's gguf.quants.dequantize of those bytes, and
the script checks that libggml's dequantize_row_q*_K gives the same bits.

Rows (N_COLS values, two super-blocks each): the row cases of
gen_quant_fixtures.py (random normal, zeros, tiny ~1e-30, huge ~1e30, mixed
magnitudes, outliers, constant, ties of largest magnitude) plus cases for the
K-quants' own paths: values on a coarse binary grid (exact rounding ties in
the scale searches), sub-blocks of very different magnitudes (small
sub-blocks get a 6-bit scale of 0, whose quants keep the search's values),
all positive (the minimum clamps to 0), all negative, and F16-edge scales
(the super-block scale is subnormal or rounds to 0 in F16).

Usage: python3 tests/gen/gen_kquant_fixtures.py [out_dir]   (run from the repo root)
Needs: pip install gguf llama-cpp-python. Deterministic (fixed seed).
"""
import ctypes
import os
import struct
import sys

import numpy as np
from gguf import quants
from gguf.constants import GGMLQuantizationType as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_quant_fixtures import tie_row  # noqa: E402  (the shared row case)

SEED = 20250301
QK_K = 256
N_COLS = 2 * QK_K
VERSION = 1
# name, gguf type, ggml type id, block bytes, ggml function suffix
TYPES = [("q4_k", T.Q4_K, 12, 144, "q4_K"), ("q5_k", T.Q5_K, 13, 176, "q5_K"), ("q6_k", T.Q6_K, 14, 210, "q6_K")]


def load_ggml():
    import llama_cpp

    path = os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so")
    lib = ctypes.CDLL(path)
    f32p, vp, i64 = ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_int64
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, f32p, vp, i64, i64, i64, f32p]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    for _, _, _, _, sfx in TYPES:
        getattr(lib, "quantize_row_%s_ref" % sfx).argtypes = [f32p, vp, i64]
        getattr(lib, "dequantize_row_%s" % sfx).argtypes = [vp, f32p, i64]
    return lib


def f32p(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def ggml_quantize(lib, data, type_id, block_bytes, sfx):
    n_rows, n_cols = data.shape
    src = np.ascontiguousarray(data, dtype=np.float32)
    out = np.zeros((n_rows, n_cols // QK_K * block_bytes), np.uint8)
    size = lib.ggml_quantize_chunk(type_id, f32p(src), out.ctypes.data, 0, n_rows, n_cols, None)
    assert size == out.size, (size, out.size)
    ref = np.zeros_like(out)
    getattr(lib, "quantize_row_%s_ref" % sfx)(f32p(src), ref.ctypes.data, src.size)
    assert np.array_equal(out, ref), "ggml_quantize_chunk and quantize_row_%s_ref disagree" % sfx
    return out


def ggml_dequantize(lib, q, n, sfx):
    out = np.zeros(n, np.float32)
    getattr(lib, "dequantize_row_%s" % sfx)(q.ctypes.data, f32p(out), n)
    return out


def grid_row(rng):
    # Multiples of 2^-3 in [-4, 4] scaled by a power of two per sub-block:
    # many x * iscale products land exactly on .5 (ties to even).
    row = rng.integers(-32, 33, N_COLS).astype(np.float64) / 8.0
    row *= np.repeat(2.0 ** rng.integers(-4, 5, N_COLS // 32), 32)
    return row.astype(np.float32)


def subscale_row(rng):
    # Each sub-block of 16 its own magnitude, 1e-6 .. 1e3: the small ones get
    # a quantized sub-block scale of 0.
    mags = 10.0 ** rng.integers(-6, 4, N_COLS // 16)
    return (rng.standard_normal(N_COLS) * np.repeat(mags, 16)).astype(np.float32)


def f16_edge_row(rng):
    # Super-block 0 at ~1e-7 (d = max_scale / 63 is an F16 subnormal),
    # super-block 1 at ~1e-9 (d rounds to 0 in F16).
    a = rng.uniform(-1.0, 1.0, QK_K) * 1e-7
    b = rng.uniform(-1.0, 1.0, QK_K) * 1e-9
    return np.concatenate([a, b]).astype(np.float32)


def make_rows(rng):
    rows = [
        rng.standard_normal(N_COLS).astype(np.float32),
        np.zeros(N_COLS, np.float32),
        (rng.uniform(0.1, 1.0, N_COLS) * rng.choice([-1.0, 1.0], N_COLS) * 1e-30).astype(np.float32),
        (rng.uniform(1e29, 1e30, N_COLS) * rng.choice([-1.0, 1.0], N_COLS)).astype(np.float32),
        (rng.choice([-1.0, 1.0], N_COLS) * 10.0 ** rng.uniform(-8, 4, N_COLS)).astype(np.float32),
    ]
    outlier = (rng.standard_normal(N_COLS) * 0.02).astype(np.float32)
    outlier[rng.integers(0, 32, N_COLS // 32) + np.arange(0, N_COLS, 32)] = 37.5
    rows.append(outlier)
    rows.append(np.full(N_COLS, -0.3712, np.float32))
    rows.append(np.concatenate([tie_row(rng), tie_row(rng)]))  # tie_row gives 256 values
    rows.append(grid_row(rng))
    rows.append(subscale_row(rng))
    rows.append(rng.uniform(0.5, 2.0, N_COLS).astype(np.float32))
    rows.append(-rng.uniform(0.5, 2.0, N_COLS).astype(np.float32))
    rows.append(f16_edge_row(rng))
    rows.append((rng.standard_normal(N_COLS) * 3.0 + 1.0).astype(np.float32))
    return np.stack(rows)


def same_bits(a, b):
    """Equal, or NaN in both places (the sign of an Inf*0 NaN is the
    hardware's, not the format's)."""
    return np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
        np.where(np.isnan(a), 0, a).view(np.uint32), np.where(np.isnan(b), 0, b).view(np.uint32))


def write_fixture(path, lib, qtype, type_id, block_bytes, sfx, data):
    q = ggml_quantize(lib, data, type_id, block_bytes, sfx)
    deq = np.ascontiguousarray(quants.dequantize(q, qtype), dtype=np.float32)
    assert deq.shape == data.shape
    for r in range(data.shape[0]):
        assert same_bits(deq[r], ggml_dequantize(lib, q[r], data.shape[1], sfx)), \
            "%s row %d: gguf-py and libggml dequantize differently" % (sfx, r)
    n_rows, n_cols = data.shape
    with open(path, "wb") as f:
        f.write(b"QLMQ" + struct.pack("<5I", VERSION, type_id, n_rows, n_cols, q.shape[1]))
        f.write(data.astype("<f4").tobytes())
        f.write(q.tobytes())
        f.write(deq.astype("<f4").tobytes())
    return os.path.getsize(path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/quant"
    os.makedirs(out_dir, exist_ok=True)
    lib = load_ggml()
    rng = np.random.default_rng(SEED)
    with np.errstate(over="ignore", invalid="ignore"):  # the huge row overflows on purpose
        for name, qtype, type_id, block_bytes, sfx in TYPES:
            assert int(qtype) == type_id
            size = write_fixture(os.path.join(out_dir, name + ".bin"), lib, qtype, type_id, block_bytes, sfx,
                                 make_rows(rng))
            print(f"{name}.bin: {size} bytes")


if __name__ == "__main__":
    main()
