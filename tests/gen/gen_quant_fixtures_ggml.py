#!/usr/bin/env python3
"""Writes tests/fixtures/quant/iq4_nl.bin from llama.cpp's own quantizer.

gguf-py dequantizes IQ4_NL but cannot quantize it, so the oracle for the
bytes is ggml itself: libggml-base.so from the llama-cpp-python wheel
(`pip install llama-cpp-python`), called with ctypes. ggml_quantize_chunk
without an importance matrix runs quantize_iq4_nl, what llama-quantize
writes into IQ4_NL files. The dequantized floats come from gguf-py and are
checked against ggml's dequantize_row_iq4_nl.

Same file format and rows as gen_quant_fixtures.py (make_rows, from a fresh
random stream with the same seed). Also cross-checks, without writing
anything, that ggml's Q5_0 / Q5_1 / MXFP4 reference quantizers and
dequantizers give exactly gguf-py's bytes and floats on those rows (the
fixtures of those types come from gguf-py).

Usage: python3 tests/gen/gen_quant_fixtures_ggml.py [out_dir]   (from the repo root)
"""
import ctypes
import os
import struct
import sys

import numpy as np
from gguf.constants import GGMLQuantizationType as T
from gguf import quants

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_quant_fixtures as gq  # noqa: E402


def load_ggml():
    import llama_cpp

    lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    fp = ctypes.POINTER(ctypes.c_float)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, fp, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64, fp]
    for name in ("dequantize_row_iq4_nl", "dequantize_row_q5_0", "dequantize_row_q5_1", "dequantize_row_mxfp4"):
        getattr(lib, name).restype = None
        getattr(lib, name).argtypes = [ctypes.c_void_p, fp, ctypes.c_int64]
    for name in ("quantize_row_q5_0_ref", "quantize_row_q5_1_ref", "quantize_row_mxfp4_ref"):
        getattr(lib, name).restype = None
        getattr(lib, name).argtypes = [fp, ctypes.c_void_p, ctypes.c_int64]
    return lib


def f32_ptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def ggml_quantize(lib, data, qtype):
    n_rows, n_cols = data.shape
    row_bytes = n_cols // 32 * gq_type_size(qtype)
    out = np.zeros((n_rows, row_bytes), np.uint8)
    src = np.ascontiguousarray(data, np.float32)
    size = lib.ggml_quantize_chunk(int(qtype), f32_ptr(src), out.ctypes.data, 0, n_rows, n_cols, None)
    assert size == out.size, (size, out.size)
    return out


def ggml_row_ref(lib, name, data, qtype):
    """quantize_row_<type>_ref over each row (the *_ref quantizers)."""
    n_rows, n_cols = data.shape
    out = np.zeros((n_rows, n_cols // 32 * gq_type_size(qtype)), np.uint8)
    for r in range(n_rows):
        src = np.ascontiguousarray(data[r], np.float32)
        getattr(lib, name)(f32_ptr(src), out[r].ctypes.data, n_cols)
    return out


def ggml_dequantize(lib, name, q, n_cols):
    out = np.zeros((q.shape[0], n_cols), np.float32)
    for r in range(q.shape[0]):
        row = np.ascontiguousarray(q[r])
        getattr(lib, name)(row.ctypes.data, f32_ptr(out[r]), n_cols)
    return out


def gq_type_size(qtype):
    from gguf.constants import GGML_QUANT_SIZES

    block, size = GGML_QUANT_SIZES[qtype]
    assert block == 32
    return size


def same_floats(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return bool(np.all((a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))))


def write(path, qtype, data, q, deq):
    n_rows, n_cols = data.shape
    with open(path, "wb") as f:
        f.write(b"QLMQ" + struct.pack("<5I", gq.VERSION, int(qtype), n_rows, n_cols, q.shape[1]))
        f.write(data.astype("<f4").tobytes())
        f.write(np.ascontiguousarray(q, np.uint8).tobytes())
        f.write(deq.astype("<f4").tobytes())
    return os.path.getsize(path)


def cross_check(lib):
    """ggml and gguf-py agree on the rows of the gguf-py fixtures."""
    for qtype, qname, dname in ((T.Q5_0, "quantize_row_q5_0_ref", "dequantize_row_q5_0"),
                                (T.Q5_1, "quantize_row_q5_1_ref", "dequantize_row_q5_1"),
                                (T.MXFP4, "quantize_row_mxfp4_ref", "dequantize_row_mxfp4")):
        data = gq.make_rows(np.random.default_rng(gq.SEED + 7), qtype)
        want = np.ascontiguousarray(quants.quantize(data, qtype), np.uint8)
        got = ggml_row_ref(lib, qname, data, qtype)
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{qtype.name}: ggml and gguf-py bytes differ at {bad[:5].tolist()}"
        assert same_floats(ggml_dequantize(lib, dname, want, data.shape[1]), quants.dequantize(want, qtype)), qtype
        print(f"{qtype.name}: ggml == gguf-py ({want.size} bytes)")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/quant"
    lib = load_ggml()
    with np.errstate(over="ignore", invalid="ignore"):
        cross_check(lib)
        data = gq.make_rows(np.random.default_rng(gq.SEED), T.IQ4_NL)
        q = ggml_quantize(lib, data, T.IQ4_NL)
        deq = np.ascontiguousarray(quants.dequantize(q, T.IQ4_NL), np.float32)
        assert same_floats(deq, ggml_dequantize(lib, "dequantize_row_iq4_nl", q, data.shape[1]))
    size = write(os.path.join(out_dir, "iq4_nl.bin"), T.IQ4_NL, data, q, deq)
    print(f"iq4_nl.bin: {size} bytes")


if __name__ == "__main__":
    main()
