"""The analysis scripts on files from short real runs of `mesl train` and `mesl errors` (not hand-made ones):
what they print and write must be what the files hold."""
import csv
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

MESL = os.environ["MESL"]
ANALYSIS = os.environ["MESL_ANALYSIS_DIR"]
PY = "/usr/bin/python3"
TRAIN = ["--topology", "local", "--clients", "2", "--model", "cnn", "--dataset", "synthetic", "--synthetic-train",
         "512", "--synthetic-test", "256", "--batch-size", "32", "--epochs", "3", "--threads", "1", "--quiet"]
CODECS = {"identity": ["--codec", "identity"], "ms": ["--codec", "ms", "--keep", "0.01", "--bits", "2"],
          "sp": ["--codec", "sp", "--keep", "0.04125"]}


def script(name, *args):
    p = subprocess.run([PY, os.path.join(ANALYSIS, name + ".py")] + list(args), capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"{name}.py failed: {p.stderr}")
    return p.stdout


class RealRuns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mesl-real-runs-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.runs = {}
        for name, codec in CODECS.items():
            path = os.path.join(cls.dir, name + ".h5")
            subprocess.run([MESL, "train"] + TRAIN + codec + ["--output", path], check=True, capture_output=True)
            cls.runs[name] = path
        cls.errors = os.path.join(cls.dir, "errors.h5")
        subprocess.run([MESL, "errors", "--dataset", "synthetic", "--synthetic-train", "512", "--synthetic-test",
                        "256", "--bpe", "2.32,4", "--train-steps", "20", "--batches", "2", "--batch-size", "32",
                        "--threads", "1", "--output", cls.errors], check=True, capture_output=True)

    def epochs(self, name):
        with h5py.File(self.runs[name], "r") as f:
            return {k: f["epochs"][k][:] for k in f["epochs"]}

    def test_summary_reports_what_the_files_hold(self):
        out = os.path.join(self.dir, "summary.csv")
        script("summary", *self.runs.values(), "--csv", out)
        rows = {r["method"]: r for r in csv.DictReader(open(out))}
        self.assertEqual(set(rows), set(CODECS))
        for name in CODECS:
            e = self.epochs(name)
            self.assertAlmostEqual(float(rows[name]["final_acc1"]), e["test_acc1"][-1], places=9)
            self.assertAlmostEqual(float(rows[name]["best_acc1"]), e["test_acc1"].max(), places=9)
            self.assertEqual(int(float(rows[name]["fwd_bytes"])), int(e["fwd_bytes"][-1]))

    def test_traffic_factor_is_the_ratio_of_bytes_to_the_baseline_target(self):
        out = os.path.join(self.dir, "traffic.csv")
        base = self.epochs("identity")
        target = float(base["test_acc1"].max())
        script("traffic", *self.runs.values(), "--csv", out)
        rows = {r["method"]: r for r in csv.DictReader(open(out))}

        def bytes_to_target(name):
            e = self.epochs(name)
            hits = np.nonzero(e["test_acc1"] >= target - 1e-9)[0]
            return None if len(hits) == 0 else int(e["fwd_bytes"][hits[0]])

        base_bytes = bytes_to_target("identity")
        for name in CODECS:
            mine = bytes_to_target(name)
            factor = rows[name]["factor"]
            if mine is None:
                self.assertEqual(factor, "INF")
            else:
                self.assertAlmostEqual(float(factor), base_bytes / mine, places=6)
        self.assertAlmostEqual(float(rows["identity"]["factor"]), 1.0)

    def test_plot_and_errors_draw_from_real_files(self):
        plots = os.path.join(self.dir, "plots")
        script("plot", *self.runs.values(), "--out", plots)
        pngs = [n for n in os.listdir(plots) if n.endswith(".png")]
        self.assertGreaterEqual(len(pngs), 4)
        self.assertTrue(all(os.path.getsize(os.path.join(plots, n)) > 1000 for n in pngs))
        text = script("errors", self.errors, "--out", plots)
        with h5py.File(self.errors, "r") as f:
            methods = [m.decode() if isinstance(m, bytes) else m for m in f["errors/method"][:]]
            errors = f["errors/rel_error"][:]
            budgets = f["errors/budget"][:]
        ms = [e for m, e, b in zip(methods, errors, budgets) if m == "ms" and abs(b - 2.32) < 1e-9][0]
        self.assertIn(f"{ms:.4f}"[:5], text)
        self.assertIn("2.32 bpe:", text)


if __name__ == "__main__":
    unittest.main()
