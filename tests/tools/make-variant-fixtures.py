#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Makes the architecture-variant test models and their reference logits.

The fixture models are all plain llama. From kjv-tiny-f32.gguf this writes
two one-layer models with tied output embeddings:
  qwen2-tiny.gguf       qwen2: NEOX RoPE and Q/K/V biases (random, seeded)
  llama3-tiny.gguf      llama with Llama 3 style rope_freqs and base 500000
and, for each, NAME.logits.f32: float64 NumPy logits (cast to float32) of
the first 64 prompt tokens of the kjv-tiny-f32 reference. Run from the
tests/ folder with Debian's python3 and python3-numpy:
  /usr/bin/python3 tools/make-variant-fixtures.py
"""
import json
import struct

import numpy as np

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY, U32, F32 = 8, 9, 4, 6


def read_gguf(path):
    b = open(path, "rb").read()
    pos = 24
    n_tensors, n_kv = struct.unpack_from("<QQ", b, 8)

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n]
        pos += n
        return s

    def value(t):
        if t == STRING:
            return string()
        if t == ARRAY:
            et, n = take("<I"), take("<Q")
            return (et, [value(et) for _ in range(n)])
        return take(SCALAR[t])

    kv = []
    for _ in range(n_kv):
        k = string().decode()
        t = take("<I")
        kv.append((k, t, value(t)))
    tensors = {}
    infos = []
    for _ in range(n_tensors):
        name = string().decode()
        ne = [take("<Q") for _ in range(take("<I"))]
        typ, off = take("<I"), take("<Q")
        assert typ == 0, "F32 models only"
        infos.append((name, ne, off))
    start = (pos + 31) // 32 * 32
    for name, ne, off in infos:
        count = int(np.prod(ne))
        tensors[name] = np.frombuffer(b, np.float32, count, start + off).reshape(list(reversed(ne))).copy()
    return kv, tensors


def write_gguf(path, kv, tensors):
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
            out += struct.pack(SCALAR[t], v)

    for k, t, v in kv:
        out += struct.pack("<Q", len(k)) + k.encode() + struct.pack("<I", t)
        put_value(t, v)
    data = bytearray()
    for name, a in tensors.items():
        ne = list(reversed(a.shape))
        out += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", 0, len(data))
        data += a.astype(np.float32).tobytes()
        data += b"\0" * ((-len(data)) % 32)
    out += b"\0" * ((-len(out)) % 32)
    open(path, "wb").write(bytes(out) + bytes(data))


def forward(kv, W, toks):
    """Float64 forward pass of a llama/qwen2 model, straight from the definitions."""
    get = {k: v for k, _, v in kv}
    arch = get["general.architecture"].decode()
    dim, n_layer = get[arch + ".embedding_length"], get[arch + ".block_count"]
    n_head, n_head_kv = get[arch + ".attention.head_count"], get[arch + ".attention.head_count_kv"]
    eps, base = get[arch + ".attention.layer_norm_rms_epsilon"], get.get(arch + ".rope.freq_base", 10000.0)
    hd, neox, T = dim // n_head, arch == "qwen2", len(toks)
    W = {k: v.astype(np.float64) for k, v in W.items()}
    freqs = base ** (-np.arange(0, hd, 2) / hd)
    if "rope_freqs.weight" in W:
        freqs = freqs / W["rope_freqs.weight"]
    ang = np.arange(T)[:, None] * freqs[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):
        if neox:
            x0, x1 = x[..., :hd // 2], x[..., hd // 2:]
            return np.concatenate([x0 * c - x1 * s, x0 * s + x1 * c], -1)
        o = np.empty_like(x)
        o[..., 0::2] = x[..., 0::2] * c - x[..., 1::2] * s
        o[..., 1::2] = x[..., 0::2] * s + x[..., 1::2] * c
        return o

    x = W["token_embd.weight"][toks]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(n_layer):
        p = f"blk.{l}."
        h = rms(x, W[p + "attn_norm.weight"])
        q = h @ W[p + "attn_q.weight"].T + W.get(p + "attn_q.bias", 0)
        k = h @ W[p + "attn_k.weight"].T + W.get(p + "attn_k.bias", 0)
        v = (h @ W[p + "attn_v.weight"].T + W.get(p + "attn_v.bias", 0)).reshape(T, n_head_kv, hd)
        q, k = rope(q.reshape(T, n_head, hd)), rope(k.reshape(T, n_head_kv, hd))
        o = np.zeros((T, n_head, hd))
        for hh in range(n_head):
            kh = hh // (n_head // n_head_kv)
            a = q[:, hh] @ k[:, kh].T / np.sqrt(hd) + mask
            a = np.exp(a - a.max(-1, keepdims=True))
            o[:, hh] = (a / a.sum(-1, keepdims=True)) @ v[:, kh]
        x = x + o.reshape(T, dim) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"])
        g, u = h @ W[p + "ffn_gate.weight"].T, h @ W[p + "ffn_up.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
    return rms(x, W["output_norm.weight"]) @ W.get("output.weight", W["token_embd.weight"]).T


def one_layer_tied(kv, tensors, arch, extra_kv):
    out_kv = []
    for k, t, v in kv:
        if k.startswith("llama."):
            k = arch + k[len("llama"):]
        if k == "general.architecture":
            v = arch.encode()
        if k == arch + ".block_count":
            v = 1
        out_kv.append((k, t, v))
    out_kv += extra_kv
    kept = {n: a for n, a in tensors.items() if n != "output.weight" and not (n.startswith("blk.") and not n.startswith("blk.0."))}
    return out_kv, kept


def main():
    kv, tensors = read_gguf("data/models/kjv-tiny-f32.gguf")
    toks = json.load(open("data/reference/kjv-tiny-f32.json"))["prompt_tokens"][:64]
    rng = np.random.default_rng(20261123)

    qkv, qt = one_layer_tied(kv, tensors, "qwen2", [])
    for name, rows in (("attn_q", 256), ("attn_k", 64), ("attn_v", 64)):
        qt["blk.0." + name + ".bias"] = rng.normal(0, 0.5, rows).astype(np.float32)

    lkv, lt = one_layer_tied(kv, tensors, "llama", [])
    lkv = [(k, t, 500000.0 if k == "llama.rope.freq_base" else v) for k, t, v in lkv]
    if not any(k == "llama.rope.freq_base" for k, _, _ in lkv):
        lkv.append(("llama.rope.freq_base", F32, 500000.0))
    # Llama 3's shape of factors: 1 for high frequencies, up to 8 for low ones.
    lt["rope_freqs.weight"] = np.linspace(1.0, 8.0, 16).astype(np.float32)

    for name, vkv, vt in (("qwen2-tiny", qkv, qt), ("llama3-tiny", lkv, lt)):
        write_gguf(f"data/models-variant/{name}.gguf", vkv, vt)
        forward(vkv, vt, toks).astype(np.float32).tofile(f"data/models-variant/{name}.logits.f32")
    json.dump(toks, open("data/models-variant/tokens.json", "w"))


if __name__ == "__main__":
    main()
