#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Makes the margin models: one tiny llama model (2 layers, grouped-query
attention, 64 tokens) stored in every weight type Tern reads, each with a
float64 reference on which every greedy step has a wide top-two margin, so
that any correct engine must reproduce its greedy tokens exactly.

For each type T this writes to data/margin/:
  margin-T.gguf        the model, every matrix in T (K-quant and TQ files:
                       ffn_down, whose rows of 32 no 256-element block
                       fits, in Q4_0, as llama.cpp falls back)
  margin-T.logits.f32  the float64 logits (cast to float32) of the prompt
                       and greedy continuation, [n_tokens][64], computed
                       from the weights as this script dequantizes them
and margin.json: the prompt, each type's greedy tokens and their margins.

Blocks are written and read back by the NumPy code below, made from ggml's
layouts as FORMATS.md gives them, not from Tern's code: quality does not
matter, only that the blocks are valid, for the reference is the model as
this code dequantizes it. The
block-32 and float types use embedding 32 (heads of 16: 2 query heads, 1 KV
head; feed-forward 96); K-quants and TQ types need rows of 256 (8 query
heads of 32, 2 KV heads; feed-forward 32).

The weights are random but for three things. The output favours a
successor of each token (a random cycle), so greedy steps have wide
margins; the seed of each shape is the first whose every type keeps every
margin above MIN_MARGIN of the largest |logit|. The residual stream is as
small as real models' (RMS near RESIDUAL_RMS), so RMSNorm's epsilon counts.
And the first head of layer 0 is an attention sink, as real models' heads
often are: every query's score with BOS is SINK_SCORE before quantization
and above 100 in every type, where expf overflows in float, so a softmax
that does not subtract the maximum fails; the sink takes all of the head's
weight, so rounding does not move it.

Run from the tests/ folder with Debian's python3 and python3-numpy, then
measure Tern's tolerances with tools/measure-numerics.py:
  /usr/bin/python3 tools/make-margin-model.py
"""
import importlib.util
import json
import os
import struct

import numpy as np

spec = importlib.util.spec_from_file_location(
    "variant", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-variant-fixtures.py"))
variant = importlib.util.module_from_spec(spec)
spec.loader.exec_module(variant)

STRING, ARRAY, U32, I32, F32 = variant.STRING, variant.ARRAY, variant.U32, 5, variant.F32
N_VOCAB, N_LAYER, N_CTX, N_GREEDY = 64, 2, 64, 32
PROMPT = [1, 17, 42, 5, 33, 60, 8, 25]
MIN_MARGIN = 0.1  # of the largest |logit| of the sequence
SINK_SCORE = 600.0
RESIDUAL_RMS = 0.006  # a mean square 3.6 times RMSNorm's epsilon (1e-5)
BIGRAM_NOISE = 1.0
# bigram: the weight of each token's successor in the output; gain: the
# size of the layers' outputs against the residual stream.
SMALL = {"n_embd": 32, "n_head": 2, "n_head_kv": 1, "n_ff": 96, "bigram": 3.0, "gain": 0.5}
WIDE = {"n_embd": 256, "n_head": 8, "n_head_kv": 2, "n_ff": 32, "bigram": 1.0, "gain": 1.0}
QK_K = 256

# name: (ggml type id, elements per block, bytes per block)
TYPES = {
    "f32": (0, 1, 4), "f16": (1, 1, 2), "bf16": (30, 1, 2),
    "q8_0": (8, 32, 34), "q4_0": (2, 32, 18), "q4_1": (3, 32, 20), "q5_0": (6, 32, 22), "q5_1": (7, 32, 24),
    "q2_k": (10, QK_K, 84), "q3_k": (11, QK_K, 110), "q4_k": (12, QK_K, 144), "q5_k": (13, QK_K, 176),
    "q6_k": (14, QK_K, 210), "tq1_0": (34, QK_K, 54), "tq2_0": (35, QK_K, 66),
}


def f16(x):
    return np.asarray(x, np.float64).astype(np.float16)


def u8(a):
    return np.asarray(a, np.uint8)


# Quantizers: float rows -> blocks [n_blocks][block bytes] (uint8).

def q_f32(x):
    return x.astype("<f4").view(np.uint8).reshape(-1, 4)


def q_f16(x):
    return x.astype("<f2").view(np.uint8).reshape(-1, 2)


def q_bf16(x):
    u = x.astype("<f4").view("<u4").astype(np.uint64)
    h = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    return h.view(np.uint8).reshape(-1, 2)


def symmetric(b, levels):
    """d = (value of largest magnitude) / -levels, as llama.cpp's Q4_0/Q5_0."""
    mx = b[np.arange(len(b)), np.abs(b).argmax(1)]
    d = f16(mx / -levels)
    inv = np.where(d != 0, 1 / np.where(d != 0, d.astype(np.float64), 1), 0)
    return d, np.clip(np.round(b * inv[:, None]) + levels, 0, 2 * levels - 1).astype(np.uint8)


def affine(b, top):
    lo, hi = b.min(1), b.max(1)
    d, m = f16((hi - lo) / top), f16(lo)
    inv = np.where(d != 0, 1 / np.where(d != 0, d.astype(np.float64), 1), 0)
    q = np.clip(np.round((b - m.astype(np.float64)[:, None]) * inv[:, None]), 0, top).astype(np.uint8)
    return d, m, q


def nibbles(q):
    return u8(q[:, :16] | (q[:, 16:] << 4))


def high_bits(q):
    bits = ((q >> 4) & 1).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    return bits.sum(1).astype("<u4").view(np.uint8).reshape(-1, 4)


def q_q8_0(x):
    b = x.reshape(-1, 32)
    d = f16(np.abs(b).max(1) / 127)
    inv = np.where(d != 0, 1 / np.where(d != 0, d.astype(np.float64), 1), 0)
    q = np.clip(np.round(b * inv[:, None]), -127, 127).astype(np.int8)
    return np.hstack([d.view(np.uint8).reshape(-1, 2), q.view(np.uint8)])


def q_q4_0(x):
    d, q = symmetric(x.reshape(-1, 32), 8)
    return np.hstack([d.view(np.uint8).reshape(-1, 2), nibbles(q)])


def q_q4_1(x):
    d, m, q = affine(x.reshape(-1, 32), 15)
    return np.hstack([d.view(np.uint8).reshape(-1, 2), m.view(np.uint8).reshape(-1, 2), nibbles(q)])


def q_q5_0(x):
    d, q = symmetric(x.reshape(-1, 32), 16)
    return np.hstack([d.view(np.uint8).reshape(-1, 2), high_bits(q), nibbles(q & 15)])


def q_q5_1(x):
    d, m, q = affine(x.reshape(-1, 32), 31)
    return np.hstack([d.view(np.uint8).reshape(-1, 2), m.view(np.uint8).reshape(-1, 2), high_bits(q),
                      nibbles(q & 15)])


def sub_scales(s, bits):
    """Sub-block scales s >= 0 [n][k] as a super-block scale d and integers of @bits bits."""
    top = (1 << bits) - 1
    d = f16(s.max(1) / top)
    inv = np.where(d != 0, 1 / np.where(d != 0, d.astype(np.float64), 1), 0)
    return d, np.clip(np.round(s * inv[:, None]), 0, top).astype(np.int64)


def divide(x, step):
    return np.where(step != 0, x / np.where(step != 0, step, 1), 0)


def k_positions():
    """For element i of a 256 block of Q2_K/Q3_K/Q6_K/TQ2_0: h, g, l."""
    i = np.arange(QK_K)
    return i // 128, (i % 128) // 32, i % 32


def q_q2_k(x):
    b = x.reshape(-1, QK_K)
    sb = b.reshape(-1, 16, 16)
    m = np.maximum(0, -sb.min(2))
    d, sc = sub_scales((sb.max(2) + m) / 3, 4)
    dmin, mq = sub_scales(m, 4)
    step = d.astype(np.float64)[:, None] * sc
    off = dmin.astype(np.float64)[:, None] * mq
    q = np.clip(np.round(divide(sb + off[:, :, None], step[:, :, None])), 0, 3).astype(np.uint8).reshape(-1, QK_K)
    h, g, l = k_positions()
    qs = np.zeros((len(b), 64), np.uint8)
    for gg in range(4):
        sel = g == gg
        np.bitwise_or.at(qs, (slice(None), 32 * h[sel] + l[sel]), q[:, sel] << (2 * gg))
    scales = u8(sc | (mq << 4))
    return np.hstack([scales, qs, d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2)])


def q_q3_k(x):
    b = x.reshape(-1, QK_K)
    sb = b.reshape(-1, 16, 16)
    d, sq = sub_scales(np.abs(sb).max(2) / 4, 5)  # 0..31, stored + 32
    step = d.astype(np.float64)[:, None] * sq
    q = np.clip(np.round(divide(sb, step[:, :, None])), -4, 3).astype(np.int64).reshape(-1, QK_K)
    h, g, l = k_positions()
    low = np.where(q >= 0, q, q + 4).astype(np.uint8)
    qs = np.zeros((len(b), 64), np.uint8)
    hmask = np.zeros((len(b), 32), np.uint8)
    for gg in range(4):
        sel = g == gg
        np.bitwise_or.at(qs, (slice(None), 32 * h[sel] + l[sel]), low[:, sel] << (2 * gg))
        np.bitwise_or.at(hmask, (slice(None), l[sel]), ((q[:, sel] >= 0) << (4 * h[sel] + gg)).astype(np.uint8))
    s6 = sq + 32
    scales = np.zeros((len(b), 12), np.int64)
    for k in range(16):
        scales[:, k % 8] |= (s6[:, k] & 15) << (4 * (k // 8))
        scales[:, 8 + k % 4] |= (s6[:, k] >> 4) << (2 * (k // 4))
    return np.hstack([hmask, qs, u8(scales), d.view(np.uint8).reshape(-1, 2)])


def k_scales_pack(sc, mq):
    """Q4_K/Q5_K: eight 6-bit scales and mins in 12 bytes."""
    s = np.zeros((len(sc), 12), np.int64)
    for j in range(4):
        s[:, j] = sc[:, j] | ((sc[:, j + 4] >> 4) << 6)
        s[:, j + 4] = mq[:, j] | ((mq[:, j + 4] >> 4) << 6)
        s[:, j + 8] = (sc[:, j + 4] & 15) | ((mq[:, j + 4] & 15) << 4)
    return u8(s)


def q_k_affine(x, top):
    b = x.reshape(-1, QK_K)
    sb = b.reshape(-1, 8, 32)
    m = np.maximum(0, -sb.min(2))
    d, sc = sub_scales((sb.max(2) + m) / top, 6)
    dmin, mq = sub_scales(m, 6)
    step = d.astype(np.float64)[:, None] * sc
    off = dmin.astype(np.float64)[:, None] * mq
    q = np.clip(np.round(divide(sb + off[:, :, None], step[:, :, None])), 0, top).astype(np.uint8).reshape(-1, QK_K)
    head = np.hstack([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), k_scales_pack(sc, mq)])
    return head, q


def q_q4_k(x):
    head, q = q_k_affine(x, 15)
    qs = np.hstack([q[:, 64 * c:64 * c + 32] | (q[:, 64 * c + 32:64 * c + 64] << 4) for c in range(4)])
    return np.hstack([head, u8(qs)])


def q_q5_k(x):
    head, q = q_k_affine(x, 31)
    lo, hb = q & 15, q >> 4
    qs = np.hstack([lo[:, 64 * c:64 * c + 32] | (lo[:, 64 * c + 32:64 * c + 64] << 4) for c in range(4)])
    qh = np.zeros((len(q), 32), np.uint8)
    for i in range(QK_K):
        c, r = i // 64, i % 64
        qh[:, r % 32] |= hb[:, i] << (2 * c + (r >= 32))
    return np.hstack([head, qh, u8(qs)])


def q_q6_k(x):
    b = x.reshape(-1, QK_K)
    sb = b.reshape(-1, 16, 16)
    d, sc = sub_scales(np.abs(sb).max(2) / 32, 7)
    step = d.astype(np.float64)[:, None] * sc
    q = (np.clip(np.round(divide(sb, step[:, :, None])), -32, 31) + 32).astype(np.uint8).reshape(-1, QK_K)
    h, g, l = k_positions()
    ql = np.zeros((len(b), 128), np.uint8)
    qh = np.zeros((len(b), 64), np.uint8)
    for gg in range(4):
        sel = g == gg
        idx = 64 * h[sel] + 32 * (gg % 2) + l[sel]
        np.bitwise_or.at(ql, (slice(None), idx), (q[:, sel] & 15) << (4 * (gg // 2)))
        np.bitwise_or.at(qh, (slice(None), 32 * h[sel] + l[sel]), (q[:, sel] >> 4) << (2 * gg))
    return np.hstack([ql, qh, u8(sc.astype(np.int8).view(np.uint8)), d.view(np.uint8).reshape(-1, 2)])


def ternary(x):
    """BitNet b1.58's rounding (d = mean |x|): llama.cpp's (d = max |x|) would zero most of a random row."""
    b = x.reshape(-1, QK_K)
    d = f16(np.abs(b).mean(1))
    return d, (np.clip(np.round(divide(b, d.astype(np.float64)[:, None])), -1, 1) + 1).astype(np.int64)


def pack_trits(t):
    """Five trits (t0 most significant) per byte, stored as ceil(v * 256 / 243)."""
    v = sum(t[..., n] * 3 ** (4 - n) for n in range(5))
    return u8((v * 256 + 242) // 243)


def q_tq1_0(x):
    d, t = ternary(x)
    n = len(t)
    qs0 = pack_trits(np.stack([t[:, m + 32 * np.arange(5)] for m in range(32)], 1))
    qs1 = pack_trits(np.stack([t[:, 160 + m + 16 * np.arange(5)] for m in range(16)], 1))
    qh = pack_trits(np.stack([np.hstack([t[:, 240 + j + 4 * np.arange(4)], np.zeros((n, 1), np.int64)])
                              for j in range(4)], 1))
    return np.hstack([qs0, qs1, qh, d.view(np.uint8).reshape(-1, 2)])


def q_tq2_0(x):
    d, t = ternary(x)
    h, g, l = k_positions()
    qs = np.zeros((len(t), 64), np.uint8)
    for gg in range(4):
        sel = g == gg
        np.bitwise_or.at(qs, (slice(None), 32 * h[sel] + l[sel]), (t[:, sel] << (2 * gg)).astype(np.uint8))
    return np.hstack([qs, d.view(np.uint8).reshape(-1, 2)])


QUANTIZE = {"f32": q_f32, "f16": q_f16, "bf16": q_bf16, "q8_0": q_q8_0, "q4_0": q_q4_0, "q4_1": q_q4_1,
            "q5_0": q_q5_0, "q5_1": q_q5_1, "q2_k": q_q2_k, "q3_k": q_q3_k, "q4_k": q_q4_k, "q5_k": q_q5_k,
            "q6_k": q_q6_k, "tq1_0": q_tq1_0, "tq2_0": q_tq2_0}


# Dequantizers: blocks [n_blocks][block bytes] -> float64 [n_blocks][block elements], element by
# element from the formulas in FORMATS.md.

def half(blk, at):
    return blk[:, at:at + 2].copy().view("<f2").astype(np.float64)[:, 0]


def dq_f32(blk):
    return blk.copy().view("<f4").astype(np.float64)


def dq_f16(blk):
    return blk.copy().view("<f2").astype(np.float64)


def dq_bf16(blk):
    return (blk.copy().view("<u2").astype("<u4") << 16).view("<f4").astype(np.float64)


def low_high(qs):
    """Q4_0 .. Q5_1 nibbles: element j < 16 from the low nibble of byte j, j + 16 from the high."""
    return np.hstack([qs & 15, qs >> 4]).astype(np.float64)


def fifth_bits(blk, at):
    qh = blk[:, at:at + 4].copy().view("<u4")[:, 0].astype(np.int64)
    return ((qh[:, None] >> np.arange(32)) & 1).astype(np.float64)


def dq_q8_0(blk):
    return half(blk, 0)[:, None] * blk[:, 2:].view(np.int8)


def dq_q4_0(blk):
    return (low_high(blk[:, 2:]) - 8) * half(blk, 0)[:, None]


def dq_q4_1(blk):
    return low_high(blk[:, 4:]) * half(blk, 0)[:, None] + half(blk, 2)[:, None]


def dq_q5_0(blk):
    return (low_high(blk[:, 6:]) + 16 * fifth_bits(blk, 2) - 16) * half(blk, 0)[:, None]


def dq_q5_1(blk):
    return (low_high(blk[:, 8:]) + 16 * fifth_bits(blk, 4)) * half(blk, 0)[:, None] + half(blk, 2)[:, None]


def dq_q2_k(blk):
    scales, qs, d, dmin = blk[:, :16].astype(np.int64), blk[:, 16:80].astype(np.int64), half(blk, 80), half(blk, 82)
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        h, g, l, s = i // 128, (i % 128) // 32, i % 32, scales[:, i // 16]
        q = (qs[:, 32 * h + l] >> (2 * g)) & 3
        out[:, i] = d * (s & 15) * q - dmin * (s >> 4)
    return out


def dq_q3_k(blk):
    hmask, qs, scales, d = (blk[:, :32].astype(np.int64), blk[:, 32:96].astype(np.int64),
                            blk[:, 96:108].astype(np.int64), half(blk, 108))
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        h, g, l, k = i // 128, (i % 128) // 32, i % 32, i // 16
        q = ((qs[:, 32 * h + l] >> (2 * g)) & 3) - np.where((hmask[:, l] >> (4 * h + g)) & 1, 0, 4)
        lo = scales[:, k] & 15 if k < 8 else scales[:, k - 8] >> 4
        hi = (scales[:, 8 + k % 4] >> (2 * (k // 4))) & 3
        out[:, i] = d * ((lo | hi << 4) - 32) * q
    return out


def scale_min(scales, j):
    if j < 4:
        return scales[:, j] & 63, scales[:, j + 4] & 63
    return ((scales[:, j + 4] & 15) | (scales[:, j - 4] >> 6) << 4,
            (scales[:, j + 4] >> 4) | (scales[:, j] >> 6) << 4)


def dq_q4_k(blk):
    d, dmin, scales, qs = half(blk, 0), half(blk, 2), blk[:, 4:16].astype(np.int64), blk[:, 16:].astype(np.int64)
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        c, r = i // 64, i % 64
        q = qs[:, 32 * c + r] & 15 if r < 32 else qs[:, 32 * c + r - 32] >> 4
        sc, m = scale_min(scales, i // 32)
        out[:, i] = d * sc * q - dmin * m
    return out


def dq_q5_k(blk):
    d, dmin, scales = half(blk, 0), half(blk, 2), blk[:, 4:16].astype(np.int64)
    qh, qs = blk[:, 16:48].astype(np.int64), blk[:, 48:].astype(np.int64)
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        c, r = i // 64, i % 64
        lo = qs[:, 32 * c + r] & 15 if r < 32 else qs[:, 32 * c + r - 32] >> 4
        hb = (qh[:, r % 32] >> (2 * c + (r >= 32))) & 1
        sc, m = scale_min(scales, i // 32)
        out[:, i] = d * sc * (lo + 16 * hb) - dmin * m
    return out


def dq_q6_k(blk):
    ql, qh = blk[:, :128].astype(np.int64), blk[:, 128:192].astype(np.int64)
    scales, d = blk[:, 192:208].view(np.int8).astype(np.int64), half(blk, 208)
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        h, g, l = i // 128, (i % 128) // 32, i % 32
        byte = ql[:, 64 * h + l] if g in (0, 2) else ql[:, 64 * h + 32 + l]
        lo = byte & 15 if g < 2 else byte >> 4
        hi = (qh[:, 32 * h + l] >> (2 * g)) & 3
        out[:, i] = d * scales[:, i // 16] * ((lo | hi << 4) - 32)
    return out


def trit(b, n):
    q = (b * 3 ** n) & 255
    return (q * 3) >> 8


def dq_tq1_0(blk):
    qs, qh, d = blk[:, :48].astype(np.int64), blk[:, 48:52].astype(np.int64), half(blk, 52)
    t = np.empty((len(blk), QK_K), np.int64)
    for n in range(5):
        for m in range(32):
            t[:, m + 32 * n] = trit(qs[:, m], n)
        for m in range(16):
            t[:, 160 + m + 16 * n] = trit(qs[:, 32 + m], n)
    for n in range(4):
        for j in range(4):
            t[:, 240 + j + 4 * n] = trit(qh[:, j], n)
    return (t - 1) * d[:, None]


def dq_tq2_0(blk):
    qs, d = blk[:, :64].astype(np.int64), half(blk, 64)
    out = np.empty((len(blk), QK_K))
    for i in range(QK_K):
        h, g, l = i // 128, (i % 128) // 32, i % 32
        out[:, i] = (((qs[:, 32 * h + l] >> (2 * g)) & 3) - 1) * d
    return out


DEQUANTIZE = {"f32": dq_f32, "f16": dq_f16, "bf16": dq_bf16, "q8_0": dq_q8_0, "q4_0": dq_q4_0, "q4_1": dq_q4_1,
              "q5_0": dq_q5_0, "q5_1": dq_q5_1, "q2_k": dq_q2_k, "q3_k": dq_q3_k, "q4_k": dq_q4_k,
              "q5_k": dq_q5_k, "q6_k": dq_q6_k, "tq1_0": dq_tq1_0, "tq2_0": dq_tq2_0}


def store(t, w):
    """@w in type @t: the tensor's bytes and its values as Tern will read them."""
    blk = QUANTIZE[t](np.ascontiguousarray(w, np.float64).reshape(-1))
    assert blk.shape[1] == TYPES[t][2]
    return blk.tobytes(), DEQUANTIZE[t](blk).reshape(w.shape)


def shape_of(t):
    return WIDE if TYPES[t][1] == QK_K else SMALL


def weights(shape, rng):
    """Random float weights of a model of @shape, as GGUF names them ([rows][columns])."""
    e, nh, nkv, ff = shape["n_embd"], shape["n_head"], shape["n_head_kv"], shape["n_ff"]
    hd = e // nh
    # Every embedding shares a direction c, and only BOS's has a direction
    # u: the sink head below reads them.
    c, u = np.linalg.qr(rng.normal(0, 1, (e, 2)))[0].T
    embd = rng.normal(0, 1, (N_VOCAB, e))
    embd -= np.outer(embd @ c, c) + np.outer(embd @ u, u)
    embd *= np.sqrt(e) / np.linalg.norm(embd, axis=1, keepdims=True)
    embd += np.sqrt(e) * c
    embd[1] += np.sqrt(e) * u
    # The output favours one successor of each token (a random cyclic order
    # of the tokens after </s>), on top of random weights.
    order = 3 + rng.permutation(N_VOCAB - 3)
    succ = np.arange(N_VOCAB)
    succ[order] = np.roll(order, -1)
    out = rng.normal(0, BIGRAM_NOISE / np.sqrt(e), (N_VOCAB, e))
    out[succ[3:]] += shape["bigram"] * embd[3:] / np.sqrt(e)
    # A residual stream as small as real models' (RMS near RESIDUAL_RMS), so
    # that RMSNorm's epsilon counts.
    w = {"token_embd.weight": embd * RESIDUAL_RMS,
         "output_norm.weight": rng.uniform(0.8, 1.2, e),
         "output.weight": out}
    for layer in range(N_LAYER):
        p = "blk.%d." % layer
        w[p + "attn_norm.weight"] = rng.uniform(0.8, 1.2, e)
        w[p + "ffn_norm.weight"] = rng.uniform(0.8, 1.2, e)
        w[p + "attn_q.weight"] = rng.normal(0, 1 / np.sqrt(e), (e, e))
        w[p + "attn_k.weight"] = rng.normal(0, 1 / np.sqrt(e), (nkv * hd, e))
        w[p + "attn_v.weight"] = rng.normal(0, 1 / np.sqrt(e), (nkv * hd, e))
        w[p + "attn_output.weight"] = rng.normal(0, RESIDUAL_RMS * shape["gain"] / np.sqrt(e), (e, e))
        w[p + "ffn_gate.weight"] = rng.normal(0, 1 / np.sqrt(e), (ff, e))
        w[p + "ffn_up.weight"] = rng.normal(0, 1 / np.sqrt(e), (ff, e))
        w[p + "ffn_down.weight"] = rng.normal(0, RESIDUAL_RMS * shape["gain"] / np.sqrt(ff), (e, ff))
    # The first head of layer 0 is an attention sink: the last pair of its
    # query and key dimensions (which RoPE hardly turns) makes every query's
    # score with BOS large (main scales it to SINK_SCORE); its other
    # dimensions stay random.
    w["blk.0.attn_q.weight"][hd - 2] = c / np.sqrt(e)
    w["blk.0.attn_k.weight"][hd - 2] = u / np.sqrt(e)
    return w


def metadata(shape, name):
    tokens = [b"<unk>", b"<s>", b"</s>"] + [("\u2581t%02d" % i).encode() for i in range(3, N_VOCAB)]
    return [
        ("general.architecture", STRING, b"llama"),
        ("general.name", STRING, name.encode()),
        ("llama.context_length", U32, N_CTX),
        ("llama.embedding_length", U32, shape["n_embd"]),
        ("llama.block_count", U32, N_LAYER),
        ("llama.feed_forward_length", U32, shape["n_ff"]),
        ("llama.attention.head_count", U32, shape["n_head"]),
        ("llama.attention.head_count_kv", U32, shape["n_head_kv"]),
        ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("llama.rope.freq_base", F32, 10000.0),
        ("tokenizer.ggml.model", STRING, b"llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.scores", ARRAY, (F32, [-float(i) for i in range(N_VOCAB)])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3] + [1] * (N_VOCAB - 3))),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
    ]


def write_gguf(path, kv, tensors):
    """tensors: name -> (ggml type id, [rows, columns] or [n], bytes)."""
    out = bytearray(b"GGUF") + struct.pack("<IQQ", 3, len(tensors), len(kv))

    def put_value(t, v):
        nonlocal out
        if t == STRING:
            out += struct.pack("<Q", len(v)) + v
        elif t == ARRAY:
            et, items = v
            out += struct.pack("<IQ", et, len(items))
            for x in items:
                put_value(et, x)
        else:
            out += struct.pack(variant.SCALAR[t], v)

    for k, t, v in kv:
        out += struct.pack("<Q", len(k)) + k.encode() + struct.pack("<I", t)
        put_value(t, v)
    data = bytearray()
    for name, (typ, shape, raw) in tensors.items():
        ne = list(reversed(shape))
        out += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", typ, len(data))
        data += raw
        data += b"\0" * ((-len(data)) % 32)
    out += b"\0" * ((-len(out)) % 32)
    with open(path, "wb") as f:
        f.write(bytes(out) + bytes(data))


def quantized_model(t, w):
    """The GGUF tensors of @w stored in type @t, and the weights Tern reads."""
    tensors, values = {}, {}
    for name, a in w.items():
        typ = t
        if a.ndim == 1:
            typ = "f32"
        elif a.shape[1] % TYPES[t][1]:
            typ = "q4_0"
        raw, values[name] = store(typ, a)
        tensors[name] = (TYPES[typ][0], list(a.shape), raw)
    return tensors, values


def greedy(kv, w, prompt):
    toks, margins = list(prompt), []
    for _ in range(N_GREEDY):
        logits = variant.forward(kv, w, np.array(toks))[-1]
        top = np.sort(logits)
        margins.append(float(top[-1] - top[-2]))
        toks.append(int(np.argmax(logits)))
    return toks[len(prompt):], margins


def rope(x, hd):
    """x [T][hd] rotated to positions 0..T-1 (llama's pairs of neighbours, base 10000)."""
    ang = np.arange(len(x))[:, None] * 10000.0 ** (-np.arange(0, hd, 2) / hd)[None, :]
    c, s = np.cos(ang), np.sin(ang)
    o = np.empty_like(x)
    o[:, 0::2] = x[:, 0::2] * c - x[:, 1::2] * s
    o[:, 1::2] = x[:, 0::2] * s + x[:, 1::2] * c
    return o


def sink_scores(w, shape, toks):
    """The sink head's attention scores [query][key] (its KV head is the first); @toks starts with BOS."""
    hd = shape["n_embd"] // shape["n_head"]
    x = w["token_embd.weight"][toks]
    g = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w["blk.0.attn_norm.weight"]
    q = rope(g @ w["blk.0.attn_q.weight"][:hd].T, hd)
    k = rope(g @ w["blk.0.attn_k.weight"][:hd].T, hd)
    return q @ k.T / np.sqrt(hd)


def scale_sink(w, shape, toks):
    """Scales the sink's query row so that every query's score with BOS is at least SINK_SCORE."""
    row = w["blk.0.attn_q.weight"][shape["n_embd"] // shape["n_head"] - 2]
    with_sink = sink_scores(w, shape, toks)[:, 0]
    saved = row.copy()
    row[:] = 0
    rest = sink_scores(w, shape, toks)[:, 0]
    row[:] = saved * ((SINK_SCORE - rest) / (with_sink - rest)).max()


def sink(w, shape, toks):
    """The smallest score with BOS, and the largest with any other key."""
    s = sink_scores(w, shape, toks)
    i, j = np.tril_indices(len(toks))
    return s[:, 0].min(), s[i[j > 0], j[j > 0]].max()


def search(shape, prompt):
    """The models of @shape from the first seed whose greedy margins in every type are at least
    MIN_MARGIN of the largest |logit|."""
    for seed in range(1000):
        w = weights(shape, np.random.default_rng(seed))
        scale_sink(w, shape, prompt)
        found = {}
        for t in TYPES:
            if shape_of(t) is not shape:
                continue
            tensors, values = quantized_model(t, w)
            kv = metadata(shape, "margin-" + t)
            toks, margins = greedy(kv, values, prompt)
            logits = variant.forward(kv, values, np.array(prompt + toks))
            if min(margins) < MIN_MARGIN * np.abs(logits).max():
                print("seed %d: %s margin %.3f of %.1f" % (seed, t, min(margins), np.abs(logits).max()))
                break
            found[t] = (kv, tensors, values, toks, margins, logits)
        else:
            return seed, found
    raise SystemExit("no seed found")


def main():
    os.makedirs("data/margin", exist_ok=True)
    ref = {"about": "Margin models made by tools/make-margin-model.py: the prompt, and for each weight type "
                    "the float64 greedy continuation, its top-two margins, the largest |logit|, and two attention "
                    "scores of the sink head (layer 0, head 0): the smallest with BOS, the largest with another key",
           "n_vocab": N_VOCAB, "prompt": PROMPT, "seeds": {}, "types": {}}
    for name, shape in (("small", SMALL), ("wide", WIDE)):
        seed, found = search(shape, PROMPT)
        ref["seeds"][name] = seed
        for t, (kv, tensors, values, toks, margins, logits) in found.items():
            write_gguf("data/margin/margin-%s.gguf" % t, kv, tensors)
            logits.astype("<f4").tofile("data/margin/margin-%s.logits.f32" % t)
            to_bos, other = sink(values, shape, PROMPT + toks)
            ref["types"][t] = {"greedy": toks, "margins": [round(m, 4) for m in margins],
                               "max_abs_logit": round(float(np.abs(logits).max()), 3),
                               "sink_scores": [round(float(to_bos), 2), round(float(other), 2)]}
            print("%-6s min margin %.3f of %.1f, sink scores %.1f, %.1f" %
                  (t, min(margins), np.abs(logits).max(), to_bos, other))
    with open("data/margin/margin.json", "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
