#!/usr/bin/env python3
"""Writes the fixtures tests/test_kquants_low.c compares qlm's low-bit
K-quant formats (Q2_K, Q3_K, IQ4_XS, TQ1_0, TQ2_0) against.

Same file format as tests/gen/gen_quant_fixtures.py (read its docstring):
header, f32 input rows, quantized rows, f32 dequantized rows. The oracles:

  - quantized bytes: llama.cpp itself, ggml_quantize_chunk(type, src, dst, 0,
    n_rows, n_cols, NULL) from the libggml-base.so that llama-cpp-python
    ships (no importance matrix: ggml's quantize_row_q2_K_ref / q3_K_ref and
    quantize_iq4_xs's search without weights). gguf-py has no quantizer for
    the K formats or IQ4_XS; for TQ1_0/TQ2_0 it has one, and its bytes are
    checked here to equal libggml's.
  - dequantized values: gguf-py's gguf.quants.dequantize, checked here to
    equal libggml's dequantize_row_* bit for bit (NaN matching NaN).

Rows: gen_quant_fixtures.make_rows' nine cases (random, zeros, tiny, huge,
wide magnitudes, outliers, constant, ties, halves) plus cases aimed at these
formats' searches (see extra_rows). 256 columns: one super-block per row.

Usage: python3 tests/gen/gen_kquant_low_fixtures.py [out_dir]  (repo root)
Needs numpy, gguf and llama-cpp-python (for its libggml-base.so).
Deterministic: a fixed seed, so re-running gives identical files.
"""
import ctypes
import os
import struct
import sys

import numpy as np
from gguf import quants
from gguf.constants import GGMLQuantizationType as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_quant_fixtures as base  # noqa: E402  (its row cases)

SEED = 20250301
N_COLS = base.N_COLS
TYPES = [("q2_k", T.Q2_K, "dequantize_row_q2_K"), ("q3_k", T.Q3_K, "dequantize_row_q3_K"),
         ("iq4_xs", T.IQ4_XS, "dequantize_row_iq4_xs"), ("tq1_0", T.TQ1_0, "dequantize_row_tq1_0"),
         ("tq2_0", T.TQ2_0, "dequantize_row_tq2_0")]


def load_ggml():
    import llama_cpp

    path = os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so")
    lib = ctypes.CDLL(path)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    for _, _, deq in TYPES:
        getattr(lib, deq).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    return lib


def extra_rows(rng):
    """Cases for the sub-block searches: every 16-value sub-block positive
    (Q2_K's min clamps to 0) or negative, sub-block magnitudes spread over
    2^-20..2^20 (small sub-block scales quantize to 0, so their values keep
    the first search's quants), one all-zero sub-block per 32 (the searches'
    amax < 1e-15 path), exact small integers (ternary-friendly: -1, 0, 1
    times a power of two), and a row with a NaN, a +Inf and a -Inf among
    ordinary values plus values near FLT_MAX: ggml's searches then run on
    NaN and Inf, and the bytes follow from its float operations, which ours
    replay (as generated on x86, whose default NaN is negative; the ternary
    formats' lroundf(NaN), unspecified in C, is x86's: a zero weight)."""
    pos = rng.uniform(0.5, 2.0, N_COLS).astype(np.float32)
    neg = -rng.uniform(0.1, 3.0, N_COLS).astype(np.float32)
    spread = rng.standard_normal(N_COLS) * np.repeat(2.0 ** rng.integers(-20, 21, N_COLS // 16), 16)
    holes = rng.standard_normal(N_COLS).astype(np.float32)
    for b in range(0, N_COLS, 32):
        holes[b + 16 * (b // 32 % 2): b + 16 * (b // 32 % 2) + 16] = 0.0
    ternary = (rng.integers(-1, 2, N_COLS) * 0.25).astype(np.float32)
    nonfinite = rng.standard_normal(N_COLS).astype(np.float32)
    nonfinite[[3, 70, 140]] = [np.nan, np.inf, -np.inf]
    nonfinite[200:208] = 3e38  # finite, but their squares and sums overflow
    return [pos, neg, spread.astype(np.float32), holes, ternary, nonfinite]


def ggml_quantize(lib, qtype, data, row_bytes):
    src = np.ascontiguousarray(data, dtype=np.float32)
    dst = np.zeros((data.shape[0], row_bytes), dtype=np.uint8)
    n = lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, dst.ctypes.data, 0, data.shape[0], data.shape[1], None)
    assert n == dst.size, (qtype, n, dst.size)
    return dst


def same_floats(a, b):
    return bool(np.all((a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))))


def write_fixture(path, lib, qtype, deq_name, data):
    n_rows, n_cols = data.shape
    block_size, type_size = quants.GGML_QUANT_SIZES[qtype]
    row_bytes = n_cols // block_size * type_size
    q = ggml_quantize(lib, qtype, data, row_bytes)
    if qtype in (T.TQ1_0, T.TQ2_0):  # gguf-py quantizes these too: both oracles must agree
        finite = np.isfinite(data).all(axis=1)  # (where numpy's NaN -> int8 cast is defined)
        assert np.array_equal(np.asarray(quants.quantize(data[finite], qtype), dtype=np.uint8), q[finite]), qtype
    deq = np.ascontiguousarray(quants.dequantize(q, qtype), dtype=np.float32)
    ggml_deq = np.zeros(data.shape, dtype=np.float32)
    for r in range(n_rows):
        getattr(lib, deq_name)(q[r].ctypes.data, ggml_deq[r].ctypes.data, n_cols)
    assert deq.shape == data.shape and same_floats(deq, ggml_deq), qtype
    with open(path, "wb") as f:
        f.write(b"QLMQ" + struct.pack("<5I", base.VERSION, int(qtype), n_rows, n_cols, row_bytes))
        f.write(data.astype("<f4").tobytes())
        f.write(q.tobytes())
        f.write(deq.astype("<f4").tobytes())
    return os.path.getsize(path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/quant"
    os.makedirs(out_dir, exist_ok=True)
    lib = load_ggml()
    rng = np.random.default_rng(SEED)
    total = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for name, qtype, deq_name in TYPES:
            rows = np.concatenate([base.make_rows(rng, qtype), np.stack(extra_rows(rng))])
            size = write_fixture(os.path.join(out_dir, name + ".bin"), lib, qtype, deq_name, rows)
            print(f"{name}.bin: {size} bytes")
            total += size
    print(f"total: {total} bytes")


if __name__ == "__main__":
    main()
