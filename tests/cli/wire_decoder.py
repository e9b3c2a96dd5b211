"""An independent decoder of the mesl payload format, written from docs/wire-format.md alone (numpy only).
The CLI tests decode payloads made by `mesl codec encode` with it and compare with mesl's own decoder."""
import struct
import zlib

import numpy as np

DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: None}  # bfloat16 has no numpy type: returned as float32
METHODS = {0: "identity", 1: "fp16", 2: "bf16", 3: "qu", 4: "sp", 5: "rt", 6: "ms"}


class Refused(Exception):
    pass


def unpack_codes(buf, n, bits):
    """n codes of `bits` bits from an LSB-first stream."""
    stream = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")[: n * bits]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    weights = (1 << np.arange(bits, dtype=np.int64))
    return (stream.reshape(n, bits).astype(np.int64) * weights).sum(axis=1)


def decode(payload):
    if len(payload) < 36 or payload[:4] != b"MESL":
        raise Refused("not a payload")
    version, method, dtype, rank, bits, flags, hlen, reserved = struct.unpack_from("<BBBBBBHI", payload, 4)
    if version != 1 or method not in METHODS or rank > 8:
        raise Refused("unsupported header")
    s = 2 if METHODS[method] == "qu" else 0
    if hlen != 36 + 8 * rank + 4 * s or len(payload) < hlen:
        raise Refused("bad header length")
    if zlib.crc32(payload[: hlen - 4]) != struct.unpack_from("<I", payload, hlen - 4)[0]:
        raise Refused("checksum")
    d, k = struct.unpack_from("<QQ", payload, 16)
    shape = list(struct.unpack_from(f"<{rank}Q", payload, 32))
    if int(np.prod(shape, dtype=np.int64)) != d:
        raise Refused("shape")
    name = METHODS[method]
    signed, sample, kv = bool(flags & 1), bool(flags & 4), bool(flags & 8)
    units = shape[0] if sample else 1
    kept = units * k
    body = payload[hlen:]
    if name == "identity":
        size = 4 * d
    elif name in ("fp16", "bf16"):
        size = 2 * d
    elif name == "qu":
        size = (d * bits + 7) // 8
    elif name == "ms":
        size = (d * bits + 7) // 8 + 4 * kept
    else:
        size = 8 * kept if kv else (d + 7) // 8 + 4 * kept
    if len(body) != size:
        raise Refused("size")
    if name == "identity":
        x = np.frombuffer(body, dtype="<f4", count=d).astype(np.float32)
    elif name == "fp16":
        x = np.frombuffer(body, dtype="<f2", count=d).astype(np.float32)
    elif name == "bf16":
        raw = np.frombuffer(body, dtype="<u2", count=d).astype(np.uint32) << 16
        x = raw.view(np.float32)
    elif name == "qu":
        lo, hi = struct.unpack_from("<ff", payload, 32 + 8 * rank)
        codes = unpack_codes(body, d, bits)
        step = np.float32(np.float32(hi) - np.float32(lo)) / np.float32((1 << bits) - 1)
        x = np.float32(lo) + codes.astype(np.float32) * np.float32(step)
    elif name in ("sp", "rt") and kv:
        idx = np.frombuffer(body, dtype="<u4", count=kept).astype(np.int64)
        vals = np.frombuffer(body, dtype="<f4", count=kept, offset=4 * kept)
        x = np.zeros(d, dtype=np.float32)
        x[idx] = vals
    else:
        b = bits if name == "ms" else 1
        nbytes = (d * b + 7) // 8
        codes = unpack_codes(body[:nbytes], d, b).reshape(units, d // units if units else 0)
        vals = np.frombuffer(body, dtype="<f4", count=kept, offset=nbytes).reshape(units, k)
        reserved_code = (1 << b) - 1
        levels = ((1 << (b - 1)) - 1) if signed else reserved_code
        x = np.zeros(codes.shape, dtype=np.float32)
        for u in range(units):
            mask = codes[u] == reserved_code
            if mask.sum() != k:
                raise Refused("mask count")
            t = np.float32(np.abs(vals[u]).min()) if (name == "ms" and k > 0) else np.float32(0)
            mag = codes[u] & (levels if signed else reserved_code)
            v = (mag.astype(np.float32) * t) / np.float32(levels)
            if signed:
                v = np.where(codes[u] >> (b - 1) & 1, -v, v)
            v[mask] = vals[u]
            x[u] = v
        x = x.reshape(-1)
    return x.reshape(shape), np.dtype(DTYPES[dtype] or np.float32)
