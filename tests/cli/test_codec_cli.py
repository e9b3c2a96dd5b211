"""Black-box tests of `mesl codec`, the interface other tools script against: the JSON lines, the HDF5 files, the
raw payload files, and payloads decoded by an independent decoder written from docs/wire-format.md."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

from wire_decoder import Refused, decode

MESL = os.environ.get("MESL", "mesl")

SETTINGS = [
    ["--method", "identity"], ["--method", "fp16"], ["--method", "bf16"],
    ["--method", "qu", "--bits", "3"], ["--method", "qu", "--bits", "11"],
    ["--method", "sp", "--keep", "0.04125"], ["--method", "sp", "--keep", "0.1", "--positions", "kv"],
    ["--method", "rt", "--keep", "0.04125", "--seed", "3"], ["--method", "rt", "--k", "20", "--positions", "kv"],
    ["--method", "ms", "--keep", "0.01", "--bits", "2"], ["--method", "ms", "--keep", "0.05", "--bits", "3",
                                                           "--rounding", "floor"],
    ["--method", "ms", "--keep", "0.1", "--bits", "4", "--scope", "sample"],
    ["--method", "ms", "--keep", "0.1", "--bits", "3", "--sign", "signed", "--dataset", "normal"],
    ["--method", "sp", "--keep", "0.2", "--scope", "sample", "--dataset", "normal"],
]


def mesl(*args, check=True):
    p = subprocess.run([MESL] + list(args), capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"mesl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


class CodecCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mesl-codec-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.input = os.path.join(cls.tmp, "in.h5")
        rng = np.random.default_rng(0)
        with h5py.File(cls.input, "w") as f:
            f["relu"] = np.maximum(rng.standard_normal((4, 16, 8, 8)), 0).astype(np.float32)
            f["normal"] = rng.standard_normal((4, 16, 8, 8)).astype(np.float32)
            f["double"] = rng.standard_normal((3, 7)).astype(np.float64)
            f["ints"] = np.arange(12, dtype=np.int32).reshape(3, 4)

    def roundtrip(self, setting):
        args = list(setting)
        dataset = "relu"
        if "--dataset" in args:
            i = args.index("--dataset")
            dataset = args[i + 1]
            del args[i:i + 2]
        out = os.path.join(self.tmp, "rt.h5")
        p = mesl("codec", "roundtrip", "--input", self.input, "--dataset", dataset, "--output", out, *args)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1)
        facts = json.loads(lines[0])
        with h5py.File(self.input, "r") as f:
            x = f[dataset][:]
        with h5py.File(out, "r") as f:
            x_hat, payload = f["x_hat"][:], bytes(f["payload"][:])
        return facts, x, x_hat, payload, args, dataset

    def test_roundtrip_json_files_and_an_independent_decoder(self):
        for setting in SETTINGS:
            with self.subTest(setting=setting):
                facts, x, x_hat, payload, args, dataset = self.roundtrip(setting)
                for key in ("method", "d", "k", "bits", "payload_bytes", "header_bytes", "bpe", "rel_l2_error",
                            "encode_ms", "decode_ms"):
                    self.assertIn(key, facts)
                self.assertEqual(facts["d"], x.size)
                self.assertEqual(facts["payload_bytes"], len(payload))
                self.assertEqual(x_hat.dtype, np.float32)
                self.assertEqual(x_hat.shape, x.shape)
                err = np.linalg.norm((x - x_hat).astype(np.float64)) / np.linalg.norm(x.astype(np.float64))
                self.assertAlmostEqual(facts["rel_l2_error"], err, places=6)
                mine, _ = decode(payload)
                np.testing.assert_array_equal(mine, x_hat)
                # The exact size formula of docs/wire-format.md.
                d, k = facts["d"], facts["k"]
                body = {"identity": 4 * d, "fp16": 2 * d, "bf16": 2 * d, "qu": (d * facts["bits"] + 7) // 8,
                        "ms": (d * facts["bits"] + 7) // 8 + 4 * k}.get(facts["method"])
                if body is None:
                    body = 8 * k if "kv" in args else (d + 7) // 8 + 4 * k
                self.assertEqual(facts["payload_bytes"], facts["header_bytes"] + body)

    def test_encode_and_decode_files(self):
        for setting in (["--method", "ms", "--keep", "0.02", "--bits", "2"], ["--method", "qu", "--bits", "5"]):
            payload_path = os.path.join(self.tmp, "p.bin")
            facts = json.loads(mesl("codec", "encode", "--input", self.input, "--dataset", "relu", "--output",
                                    payload_path, *setting).stdout)
            raw = open(payload_path, "rb").read()
            self.assertEqual(len(raw), facts["payload_bytes"])
            out = os.path.join(self.tmp, "d.h5")
            decoded = json.loads(mesl("codec", "decode", "--input", payload_path, "--output", out).stdout)
            self.assertEqual(decoded["shape"], [4, 16, 8, 8])
            with h5py.File(out, "r") as f:
                np.testing.assert_array_equal(f["x_hat"][:], decode(raw)[0])
            _, _, _, rt_payload, _, _ = self.roundtrip(setting)
            self.assertEqual(raw, rt_payload)

    def test_other_input_types(self):
        for dataset in ("double", "ints"):
            out = os.path.join(self.tmp, "o.h5")
            facts = json.loads(mesl("codec", "roundtrip", "--input", self.input, "--dataset", dataset, "--output", out,
                                    "--method", "ms", "--keep", "0.5", "--bits", "3", "--sign", "auto").stdout)
            self.assertGreater(facts["d"], 0)

    def test_plan_meets_the_budget_without_exceeding_it(self):
        p = mesl("codec", "plan", "--bpe", "2.32", "--shape", "256,64,32,32")
        rows = [json.loads(line) for line in p.stdout.strip().splitlines()]
        by = {(r["method"], r.get("positions")): r for r in rows}
        d = 256 * 64 * 32 * 32
        self.assertEqual(by[("ms", None)]["k"], d // 100)
        self.assertAlmostEqual(by[("ms", None)]["keep"], 0.01)
        self.assertEqual(by[("sp", "bitmap")]["k"], int(0.04125 * d))
        self.assertEqual(by[("rt", "bitmap")]["k"], int(0.04125 * d))
        self.assertEqual(by[("qu", None)]["bits"], 2)
        self.assertNotIn(("identity", None), by)
        for r in rows:
            self.assertLessEqual(r["bpe"], 2.32 + 1e-9)
        table = mesl("codec", "plan", "--bpe", "4", "--shape", "10,1600", "--format", "table").stdout
        self.assertIn("ms:keep=0.0625,bits=2", table)

    def test_bench_prints_fast_reference_and_copy(self):
        p = mesl("codec", "bench", "--method", "ms", "--keep", "0.01", "--bits", "2", "--shape", "8,16,16,16",
                 "--repeat", "3")
        r = json.loads(p.stdout)
        for key in ("encode_ms", "decode_ms", "copy_ms", "encode_gbps", "encode_vs_copy", "reference",
                    "encode_speedup", "payload_bytes", "rel_l2_error"):
            self.assertIn(key, r)
        self.assertTrue(r["identical"])
        self.assertEqual(r["d"], 8 * 16 * 16 * 16)
        self.assertEqual(r["decode_streaming_bytes"], 16 << 20)

    def test_bench_with_streamed_qu_decoding_still_matches_the_reference(self):
        p = mesl("codec", "bench", "--method", "qu", "--bits", "3", "--shape", "8,16,16,16", "--repeat", "2",
                 "--decode-streaming-bytes", "0")
        r = json.loads(p.stdout)
        self.assertEqual(r["decode_streaming_bytes"], 0)
        self.assertTrue(r["identical"])

    def test_bench_times_rt_training_draws_against_the_reference(self):
        args = ["codec", "bench", "--method", "rt", "--keep", "0.05", "--shape", "8,16,16,16", "--repeat", "2",
                "--threads", "2"]
        evaluation = json.loads(mesl(*args).stdout)
        training = json.loads(mesl(*args, "--training").stdout)
        self.assertFalse(evaluation["training"])
        self.assertTrue(training["training"])
        self.assertTrue(training["identical"])  # the same draw from the fast and the reference implementation
        # The draw sends positions outside the top k in place of some inside it: a larger error than plain top-k.
        self.assertGreater(training["rel_l2_error"], evaluation["rel_l2_error"])

    def test_bad_usage_is_one_line_and_exit_2(self):
        cases = [
            (["codec", "roundtrip", "--dataset", "relu", "--output", "x.h5"], "needs --input"),
            (["codec", "roundtrip", "--input", self.input, "--dataset", "relu", "--output", "x.h5", "--method", "zip"],
             "unknown codec method 'zip'"),
            (["codec", "bench", "--method", "ms", "--keep", "1.5"], "--keep must be a fraction in [0, 1]"),
            (["codec", "bench", "--method", "ms", "--keep", "0.1", "--k", "3"], "exactly one of --keep"),
            (["codec", "bench", "--method", "ms", "--keep", "0.1", "--bits", "9"], "1..8"),
            (["codec", "bench", "--method", "rt", "--keep", "0.1", "--alpha", "2"], "--alpha"),
            (["codec", "plan", "--bpe", "2.32", "--shape", "4,x"], "--shape"),
            (["codec", "bench", "--frobnicate"], "frobnicate"),
            (["codec", "bench", "--method", "qu", "--bits", "2", "--decode-streaming-bytes", "-1"],
             "--decode-streaming-bytes must be >= 0"),
            (["codec", "shrink"], "unknown codec action"),
        ]
        for args, text in cases:
            with self.subTest(args=args):
                p = mesl(*args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith("mesl: error: "))
                self.assertIn(text, lines[0])

    def test_bad_payload_files_exit_1(self):
        good = os.path.join(self.tmp, "good.bin")
        mesl("codec", "encode", "--input", self.input, "--dataset", "relu", "--output", good, "--method", "ms",
             "--keep", "0.1")
        raw = open(good, "rb").read()
        cases = {"empty": b"", "random": bytes(np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8)),
                 "truncated": raw[:-5], "oversized": raw + b"\0", "flipped": raw[:9] + bytes([raw[9] ^ 1]) + raw[10:]}
        for name, data in cases.items():
            with self.subTest(case=name):
                path = os.path.join(self.tmp, name + ".bin")
                open(path, "wb").write(data)
                p = mesl("codec", "decode", "--input", path, "--output", os.path.join(self.tmp, "bad.h5"), check=False)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertIn("payload refused", p.stderr)
                with self.assertRaises(Refused):
                    decode(data)
        p = mesl("codec", "decode", "--input", os.path.join(self.tmp, "missing.bin"), "--output", "x.h5", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.bin", p.stderr)


if __name__ == "__main__":
    unittest.main()
