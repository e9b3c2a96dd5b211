"""plot.py: the figures are written, one set per group with --by, and curves are labelled apart."""
import os
import unittest

from meslfiles import TempDirTest, run_in_process, write_run  # first: finds analysis/

import plot
from mesllabel import run_labels
from meslrun import load_run

STEMS = ("acc_vs_epoch", "loss_vs_epoch", "acc_vs_bytes", "acc_vs_link")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Plot(TempDirTest):
    def setUp(self):
        super().setUp()
        self.runs = [
            write_run(self.path("base2.h5"), [0.5, 0.7, 0.8]),
            write_run(self.path("ms2.h5"), [0.5, 0.72, 0.79], fwd_mb=[7, 14, 21], method="ms"),
            write_run(self.path("ms8.h5"), [0.6, 0.8], fwd_mb=[2, 4], method="ms", cut=8, cut_preset="deep"),
        ]
        self.out = self.path("figures")

    def assert_file(self, path, signature):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as stream:
            head = stream.read(len(signature))
        self.assertEqual(head, signature, path)
        self.assertGreater(os.path.getsize(path), 1000, path)

    def test_png_and_pdf_files(self):
        status, out, err = run_in_process(plot, self.runs + ["--out", self.out, "--pdf", "--bytes", "fwd+bwd"])
        self.assertEqual(status, 0, err)
        expected = [os.path.join(self.out, f"{stem}.{ext}") for stem in STEMS for ext in ("png", "pdf")]
        self.assertEqual(out.split(), expected)  # prints what it wrote
        for path in expected:
            self.assert_file(path, PNG_SIGNATURE if path.endswith(".png") else b"%PDF")
        self.assertEqual(sorted(os.listdir(self.out)), sorted(os.path.basename(p) for p in expected))

    def test_one_set_per_cut(self):
        base8 = write_run(self.path("base8.h5"), [0.7, 0.9], cut=8, cut_preset="deep")
        # Cut 8 comes first on the command line; the figure sets still go shallow to deep.
        status, out, err = run_in_process(plot, [base8] + self.runs + ["--out", self.out, "--by", "cut", "--logx"])
        self.assertEqual(status, 0, err)
        expected = [os.path.join(self.out, f"{stem}_cut-{cut}.png") for cut in (2, 8) for stem in STEMS]
        self.assertEqual(out.split(), expected)
        for path in expected:
            self.assert_file(path, PNG_SIGNATURE)

    def test_runs_without_epochs_are_left_out(self):
        empty = write_run(self.path("empty.h5"), [], method="sp")
        status, out, err = run_in_process(plot, [self.runs[0], empty, "--out", self.out])
        self.assertEqual(status, 0, err)
        self.assertIn(f"{empty} has no epochs yet; left out", err)
        self.assertEqual(len(out.split()), 4)
        status, _, err = run_in_process(plot, [empty, "--out", self.out])
        self.assertEqual(status, 1)
        self.assertIn("nothing to plot", err)

    def test_a_codec_setting_keeps_its_colour(self):
        runs = [load_run(p) for p in self.runs]
        palette = {runs[0].codec: 0, runs[1].codec: 1}
        self.assertEqual(plot.color_slots(runs[1:], palette), [1, 2])  # two MS runs in one figure: apart
        self.assertEqual(plot.color_slots([runs[2]], palette), [1])    # MS alone at another cut: its own colour
        self.assertEqual(plot.color_slots([runs[2], runs[0]], palette), [1, 0])

    def test_labels_tell_runs_apart(self):
        runs = [load_run(p) for p in self.runs]
        self.assertEqual(run_labels(runs), ["identity, cut=2 (shallow)", "ms 2.32 bpe, cut=2 (shallow)",
                                            "ms 2.32 bpe, cut=8 (deep)"])
        self.assertEqual(run_labels(runs[:2], ignore=("cut",)), ["identity", "ms 2.32 bpe"])
        # Same method and cut, different settings: the varying setting shows.
        other = load_run(write_run(self.path("ms2b.h5"), [0.5], method="ms",
                                   extra_attrs={"codec": "ms:keep=0.02,bits=2,rounding=round,sign=nonneg,"
                                                         "scope=batch", "bpe": 2.64}))
        self.assertEqual(run_labels([runs[1], other]), ["ms keep=0.01 2.32 bpe", "ms keep=0.02 2.64 bpe"])
        # Identical settings: the file name tells them apart.
        twin = load_run(write_run(self.path("twin.h5"), [0.5, 0.6], method="ms"))
        self.assertEqual(run_labels([runs[1], twin]), ["ms 2.32 bpe [ms2.h5]", "ms 2.32 bpe [twin.h5]"])


if __name__ == "__main__":
    unittest.main()
