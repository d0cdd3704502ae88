#!/usr/bin/env python3
"""Writes the quantization fixtures tests/test_types.c compares qlm against.

The oracle is gguf-py (the `gguf` PyPI package, gguf/quants.py), whose
quantizers reproduce ggml's reference quantizers bit for bit. For each type in
TYPES one file tests/fixtures/quant/<name>.bin is written, all little-endian:

    offset  size              field
    0       4                 magic b"QLMQ"
    4       4   u32           version (1)
    8       4   u32           ggml type id (F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7,
                              Q8_0 = 8, BF16 = 30, MXFP4 = 39)
    12      4   u32           n_rows
    16      4   u32           n_cols (values per row, a multiple of the block size)
    20      4   u32           row_bytes (bytes of one quantized row)
    24      4*n_rows*n_cols   f32 input values, row-major
    ..      n_rows*row_bytes  gguf.quants.quantize(input, type) bytes
    ..      4*n_rows*n_cols   f32 gguf.quants.dequantize(those bytes, type)

Rows (see make_rows): 0 random normal, 1 all zeros, 2 tiny (~1e-30), 3 huge
(6e4-ish for F16 with its overflow boundaries, ~1e30 otherwise; F16/BF16 also
get Inf and quiet NaNs), 4 mixed signs over a wide range of magnitudes, 5 one
outlier per block, 6 a constant row, 7 per-block ties of largest magnitude
between +a and -a (and equal max/min spacing for Q4_1), 8 values exactly on
rounding ties (see halves_row; for MXFP4 also block maxima one ulp below a
power of two, where floor(log2f(amax)) depends on log2f's rounding).

IQ4_NL, whose quantizer gguf-py lacks, is written by gen_quant_fixtures_ggml.py
from llama.cpp's own library, over the same rows.

Usage: python3 tests/gen/gen_quant_fixtures.py [out_dir]   (run from repo root)
Deterministic: a fixed seed, so re-running gives identical files.
"""
import os
import struct
import sys

import numpy as np
from gguf.constants import GGMLQuantizationType as T
from gguf import quants

SEED = 20240611
N_COLS = 256
VERSION = 1
# New types go at the end: the rows come from one random stream, so the
# earlier files stay byte for byte the same.
TYPES = [("f16", T.F16), ("bf16", T.BF16), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q8_0", T.Q8_0),
         ("q5_0", T.Q5_0), ("q5_1", T.Q5_1), ("mxfp4", T.MXFP4)]


def f32_from_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def huge_row(rng, qtype):
    if qtype == T.F16:
        # Around the binary16 overflow threshold: 65504 is the largest half,
        # 65520 is the midpoint to 2^16 and rounds (ties-to-even) to Inf.
        row = rng.uniform(3e4, 6e4, N_COLS) * rng.choice([-1.0, 1.0], N_COLS)
        special = [65504.0, -65504.0, 65519.99, 65520.0, -65520.0, 1e5, 2.0**-24, 2.0**-25,
                   3 * 2.0**-26, -0.0]
        row[: len(special)] = special
    else:
        row = rng.uniform(1e29, 1e30, N_COLS) * rng.choice([-1.0, 1.0], N_COLS)
    row = row.astype(np.float32)
    if qtype == T.BF16:
        row[0] = np.finfo(np.float32).max  # rounds up to Inf in bfloat16
        row[1] = f32_from_bits([0x7F7F8000])[0]  # exact tie between two bf16 values
    if qtype in (T.F16, T.BF16):
        # Non-finite values: only quiet NaNs, whose conversion all
        # implementations (numpy, F16C, ggml) agree on.
        row[-4:] = f32_from_bits([0x7F800000, 0xFF800000, 0x7FC00000, 0xFFD00000])
    return row


def tie_row(rng):
    row = rng.uniform(-1.0, 1.0, N_COLS).astype(np.float32)
    for b in range(0, N_COLS, 32):
        a = np.float32(rng.uniform(1.5, 3.0))
        i, j = rng.choice(32, 2, replace=False)
        # Alternate which sign comes first so "first of equal magnitudes wins"
        # is exercised in both directions.
        s = 1.0 if (b // 32) % 2 == 0 else -1.0
        row[b + min(i, j)] = s * a
        row[b + max(i, j)] = -s * a
    return row


def halves_row(rng, qtype):
    """Values that land exactly on rounding ties: each block is s * pattern
    with s a power of two, so the scale (and 1/scale) is exact and x/d hits
    k + 0.5 exactly (Q8_0 rounds those away from zero, Q4_* upwards). F16 and
    BF16 get the midpoints between adjacent representable values."""
    blocks = []
    for b in range(N_COLS // 32):
        s = 2.0 ** int(rng.integers(-6, 7))
        k = np.arange(32, dtype=np.float64)
        if qtype == T.Q8_0:
            blk = np.concatenate([[127.0, -127.0], (k[:30] - 15) + 0.5])
        elif qtype == T.Q4_0:  # max is -8s, so d = s exactly
            blk = np.concatenate([[-8.0], (k[:31] % 15) - 7.5])
        elif qtype == T.Q4_1:  # min 0, max 15: d = s exactly
            blk = np.concatenate([[0.0, 15.0], (k[:30] % 15) + 0.5])
        elif qtype == T.Q5_0:  # max is -16s, so d = s exactly
            blk = np.concatenate([[-16.0], (k[:31] % 31) - 15.5])
        elif qtype == T.Q5_1:  # min 0, max 31: d = s exactly
            blk = np.concatenate([[0.0, 31.0], (k[:30] % 31) + 0.5])
        elif qtype == T.MXFP4:
            blk = mxfp4_ties(b, k)
        elif qtype == T.IQ4_NL:  # midpoints of the table: ties once the scale is 1
            kv = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float64)
            blk = np.concatenate([[-127.0], ((kv[:-1] + kv[1:]) / 2)[k[:31].astype(int) % 15]])
        elif qtype == T.F16:  # 11-bit significand: odd multiples of 2^-11 tie
            blk = 1.0 + (2 * k + 1) * 2.0**-11
        else:  # BF16, 8-bit significand
            blk = 1.0 + (2 * k + 1) * 2.0**-8
        sign = -1.0 if b % 2 else 1.0
        blocks.append(sign * s * blk)
    return np.concatenate(blocks).astype(np.float32)


def mxfp4_ties(b, k):
    """Midpoints between adjacent E2M1 values (kvalues 0 1 2 3 4 6 8 12, in
    units of d), both signs; the block max 10 puts amax in [8, 16) so that
    d = 2^(e - 128) is exactly the block's power-of-two factor. Odd blocks
    instead end with the float just below 16 (b % 4 == 1) or just below 8
    (b % 4 == 3, the rest clipped under it), their amax: floor(log2f(amax))
    is then 3 or 2 (resp. 2 or 1) depending on how log2f rounds."""
    mids = np.array([0.5, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0])
    blk = np.concatenate([[10.0, -10.0], mids[k[:30].astype(int) % 7] * np.where(k[:30] % 2 == 0, 1.0, -1.0)])
    if b % 2 == 1:
        edge = 16.0 if b % 4 == 1 else 8.0
        blk = np.clip(blk, -7.0, 7.0) if edge == 8.0 else blk  # keep the edge value the max
        blk[31] = np.nextafter(np.float32(edge), np.float32(0))
    return blk


def make_rows(rng, qtype):
    rows = [
        rng.standard_normal(N_COLS).astype(np.float32),
        np.zeros(N_COLS, np.float32),
        (rng.uniform(0.1, 1.0, N_COLS) * rng.choice([-1.0, 1.0], N_COLS) * 1e-30).astype(np.float32),
        huge_row(rng, qtype),
        (rng.choice([-1.0, 1.0], N_COLS) * 10.0 ** rng.uniform(-8, 4, N_COLS)).astype(np.float32),
    ]
    outlier = (rng.standard_normal(N_COLS) * 0.02).astype(np.float32)
    outlier[rng.integers(0, 32, N_COLS // 32) + np.arange(0, N_COLS, 32)] = 37.5
    rows.append(outlier)
    rows.append(np.full(N_COLS, -0.3712, np.float32))
    rows.append(tie_row(rng))
    rows.append(halves_row(rng, qtype))
    return np.stack(rows)


def write_fixture(path, qtype, data):
    q = quants.quantize(data, qtype)
    if qtype == T.F16:  # gguf-py returns an f16 array for F16, bytes otherwise
        q = q.view(np.uint8)
    q = np.ascontiguousarray(q, dtype=np.uint8)
    deq = np.ascontiguousarray(quants.dequantize(q, qtype), dtype=np.float32)
    n_rows, n_cols = data.shape
    row_bytes = q.shape[-1]
    assert deq.shape == data.shape and q.shape == (n_rows, row_bytes)
    with open(path, "wb") as f:
        f.write(b"QLMQ" + struct.pack("<5I", VERSION, int(qtype), n_rows, n_cols, row_bytes))
        f.write(data.astype("<f4").tobytes())
        f.write(q.tobytes())
        f.write(deq.astype("<f4").tobytes())
    return os.path.getsize(path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/quant"
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    total = 0
    with np.errstate(over="ignore", invalid="ignore"):  # Inf/NaN rows are on purpose
        for name, qtype in TYPES:
            size = write_fixture(os.path.join(out_dir, name + ".bin"), qtype, make_rows(rng, qtype))
            print(f"{name}.bin: {size} bytes")
            total += size
    print(f"total: {total} bytes")


if __name__ == "__main__":
    main()
