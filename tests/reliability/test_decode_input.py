"""`mesl codec decode` on files that are not valid payloads: every one ends with exit code 1 or 2 and one line,
never a signal or a hang, and without a large allocation (peak resident memory is compared with decoding a tiny
valid payload). Payloads are forged here from the byte layout of include/mesl/codec/wire.h."""
import os
import random
import struct
import unittest
import zlib

import h5py
import numpy as np

from harness import CliTestCase, mesl, scratch

IDENTITY, QU, SP, MS = 0, 3, 4, 6
FLOAT32 = 0
FLAG_KV = 8
# More memory than the baseline decode may take for a refused input (LibTorch's own start-up varies by a few MB).
RSS_SLACK = 64 << 20


def header(method, shape, d=None, k=0, bits=0, flags=0, dtype=FLOAT32, qu=None, header_len=None, version=1):
    """A payload header with a correct CRC-32, whatever the fields say."""
    rank = len(shape)
    d = int(np.prod(shape)) if d is None else d
    n = 36 + 8 * rank + (8 if method == QU else 0)
    h = bytearray(b"MESL")
    h += bytes([version, method, dtype, rank, bits, flags])
    h += struct.pack("<HI", n if header_len is None else header_len, 0)
    h += struct.pack("<QQ", d, k)
    for s in shape:
        h += struct.pack("<Q", s)
    if method == QU:
        h += struct.pack("<ff", *(qu or (0.0, 1.0)))
    h += struct.pack("<I", zlib.crc32(bytes(h)))
    return bytes(h)


def identity_payload(values):
    values = np.asarray(values, dtype="<f4")
    return header(IDENTITY, list(values.shape)) + values.tobytes()


class DecodeBadInput(CliTestCase):
    @classmethod
    def setUpClass(cls):
        # A real ms payload, encoded by the product itself, for truncations.
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="decode-input-", dir=os.environ.get("MESL_TMP"))
        x = np.maximum(np.random.default_rng(7).standard_normal((8, 16, 5, 5)), 0).astype(np.float32)
        with h5py.File(os.path.join(cls.dir, "x.h5"), "w") as f:
            f["x"] = x
        cls.ms_path = os.path.join(cls.dir, "ms.bin")
        r = mesl("codec", "encode", "--method", "ms", "--keep", "0.1", "--bits", "2", "--input",
                 os.path.join(cls.dir, "x.h5"), "--dataset", "x", "--output", cls.ms_path)
        assert r.returncode == 0, str(r)
        with open(cls.ms_path, "rb") as f:
            cls.ms = f.read()
        # The baseline: decoding a tiny valid payload.
        tiny = os.path.join(cls.dir, "tiny.bin")
        with open(tiny, "wb") as f:
            f.write(identity_payload([1.0, 2.0, 3.0]))
        r = mesl("codec", "decode", "--input", tiny, "--output", os.path.join(cls.dir, "tiny.h5"))
        assert r.returncode == 0, str(r)
        cls.baseline_rss = r.peak_rss

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def decode(self, data, *extra, code=1, texts=()):
        d = scratch(self, "decode")
        path = os.path.join(d, "in.bin")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(d, "out.h5")
        r = mesl("codec", "decode", "--input", path, "--output", out, *extra, timeout=60)
        self.assert_clean_failure(r, code, *texts)
        self.assertLess(r.peak_rss, self.baseline_rss + RSS_SLACK,
                        f"peak RSS {r.peak_rss >> 20} MB, baseline {self.baseline_rss >> 20} MB:\n{r}")
        self.assertFalse(os.path.exists(out), "a refused payload must not leave an output file")
        return r

    def test_valid_payload_decodes(self):
        # The forged layout is the product's: a valid forged payload decodes to its values.
        d = scratch(self, "valid")
        with open(os.path.join(d, "p.bin"), "wb") as f:
            f.write(identity_payload([[1.5, -2.0], [0.0, 4.25]]))
        r = mesl("codec", "decode", "--input", os.path.join(d, "p.bin"), "--output", os.path.join(d, "x.h5"))
        self.assertEqual(r.returncode, 0, str(r))
        with h5py.File(os.path.join(d, "x.h5"), "r") as f:
            np.testing.assert_array_equal(f["x_hat"][:], [[1.5, -2.0], [0.0, 4.25]])

    def test_empty_file(self):
        self.decode(b"", texts=("truncated: 0 bytes",))

    def test_random_bytes(self):
        rng = random.Random(11)
        for size in (1, 35, 36, 37, 100, 4096, 100000):
            with self.subTest(size=size):
                self.decode(bytes(rng.getrandbits(8) for _ in range(size)), texts=("payload refused",))

    def test_random_bytes_after_the_magic(self):
        rng = random.Random(12)
        for size in (4, 40, 1000):
            with self.subTest(size=size):
                self.decode(b"MESL" + bytes(rng.getrandbits(8) for _ in range(size)), texts=("payload refused",))

    def test_truncated_payloads(self):
        n = len(self.ms)
        for cut in (1, 20, 35, 36, 50, n // 2, n - 4, n - 1):
            with self.subTest(cut=cut):
                self.decode(self.ms[:cut], texts=("truncated",))

    def test_oversized_payload(self):
        self.decode(self.ms + b"\0", texts=("oversized",))

    def test_corrupt_header(self):
        bad = bytearray(self.ms)
        bad[17] ^= 0x40  # a bit of d
        self.decode(bytes(bad), texts=("checksum",))

    def test_lying_sizes(self):
        body = np.arange(6, dtype="<f4").tobytes()
        cases = {
            "shape product": (header(IDENTITY, [2, 3], d=7) + body, "product"),
            "body shorter than d": (header(IDENTITY, [1000]) + body, "truncated"),
            "body longer than d": (header(IDENTITY, [2]) + body, "oversized"),
            "header length field": (header(IDENTITY, [2, 3], header_len=60) + body, "header length"),
            "k above d": (header(SP, [6], k=9, flags=FLAG_KV) + body, "larger than"),
            "unknown codec": (header(9, [2, 3]) + body, "unknown codec"),
            "future version": (header(IDENTITY, [2, 3], version=2) + body, "version 2"),
            "qu range overflows": (header(QU, [6], bits=8, qu=(-3e38, 3e38)) + bytes(6), "qu range"),
        }
        for name, (data, text) in cases.items():
            with self.subTest(name):
                self.decode(data, texts=(text,))

    def test_huge_claimed_element_counts(self):
        cases = {
            "2^62 elements": header(IDENTITY, [1 << 62]),
            "2^40 x 2^40": header(IDENTITY, [1 << 40, 1 << 40], d=0),
            "2^20 x 2^20": header(IDENTITY, [1 << 20, 1 << 20]),
            "d = 2^64 - 1": header(IDENTITY, [3], d=(1 << 64) - 1),
        }
        for name, data in cases.items():
            with self.subTest(name):
                self.decode(data, texts=("limit",))
        # At the limit (2^28 elements, 1 GiB as float32) but without the body: refused before any allocation.
        self.decode(header(IDENTITY, [1 << 28]) + bytes(64), texts=("truncated",))
        self.decode(header(MS, [1 << 28], k=0, bits=2), texts=("truncated",))

    def test_element_limit_is_enforced(self):
        # A kv payload with k = 0 is legitimately tiny for any d: --max-elements bounds what it may expand to.
        data = header(SP, [1 << 26], k=0, flags=FLAG_KV)
        self.assertEqual(len(data), 44)
        self.decode(data, "--max-elements", "1000000", texts=("67108864 elements", "limit of 1000000"))
        self.decode(data, "--max-elements", "-1", code=2, texts=("--max-elements must be >= 0",))

    def test_directory(self):
        d = scratch(self, "dir")
        r = mesl("codec", "decode", "--input", d, "--output", os.path.join(d, "out.h5"))
        self.assert_clean_failure(r, 2, d, "is a directory")

    def test_missing_file(self):
        d = scratch(self, "missing")
        r = mesl("codec", "decode", "--input", os.path.join(d, "nope.bin"), "--output", os.path.join(d, "o.h5"))
        self.assert_clean_failure(r, 2, "nope.bin", "No such file")

    def test_unwritable_output(self):
        d = scratch(self, "unwritable")
        r = mesl("codec", "decode", "--input", self.ms_path, "--output", os.path.join(d, "no", "such", "x.h5"))
        self.assertIn(r.returncode, (1, 2), str(r))
        self.assert_clean_failure(r, r.returncode, os.path.join(d, "no", "such", "x.h5"))


if __name__ == "__main__":
    unittest.main()
