"""errors.py: the table of relative errors per method and budget, the ranking, and the bar chart."""
import os
import unittest

from meslfiles import TempDirTest, run_in_process, table_dict, tables, write_errors  # first: finds analysis/

import errors

# (method, spec, budget, bpe, k, rel_error, rel_error_std, payload_bytes)
ROWS = [
    ("qu", "qu:bits=2", 2.32, 2.0, 0, 0.2, 0.02, 1568.0),
    ("sp", "sp:keep=0.04125,positions=bitmap", 2.32, 2.32, 258, 0.3, 0.01, 1819.0),
    ("ms", "ms:keep=0.01,bits=2", 2.32, 2.32, 62, 0.1, 0.01, 1819.0),
    ("rt", "rt:keep=0.04125,positions=bitmap", 2.32, 2.32, 258, 0.45, 0.03, 1819.0),
    ("ms", "ms:keep=0.05,bits=3", 4.6, 4.6, 313, 0.04, 0.004, 3605.0),
    ("qu", "qu:bits=4", 4.6, 4.0, 0, 0.04, 0.002, 3144.0),
    ("sp", "sp:keep=0.1,positions=bitmap", 4.6, 4.2, 627, 0.2, 0.01, 3293.0),
    ("fp16", "fp16", 16.0, 16.0, 0, 0.00012, 0.00001, 12544.0),
]


class Errors(TempDirTest):
    def run_errors(self, *args):
        status, out, err = run_in_process(errors, list(args) + ["--out", self.path("charts")])
        self.assertEqual(status, 0, err)
        return out

    def test_table_of_errors_and_bits(self):
        path = write_errors(self.path("errors.h5"), ROWS)
        out = self.run_errors(path)
        self.assertTrue(out.startswith(f"{path}: model cnn, dataset fashion-mnist, cut 2 (32x14x14), 512 samples"))
        error_table = table_dict(out, which=0)
        self.assertEqual(list(error_table), ["fp16", "qu", "sp", "ms", "rt"])  # the paper's order
        self.assertEqual(list(error_table["ms"]), ["method", "2.32 bpe", "4.6 bpe", "16 bpe"])
        self.assertEqual(error_table["ms"]["2.32 bpe"], "0.1000")
        self.assertEqual(error_table["rt"]["2.32 bpe"], "0.4500")
        self.assertEqual(error_table["rt"]["4.6 bpe"], "-")          # no RT row at that budget
        self.assertEqual(error_table["fp16"]["16 bpe"], "1.200e-04")  # small errors stay visible
        bits = table_dict(out, which=1)
        self.assertEqual(bits["qu"]["2.32 bpe"], "2")
        self.assertEqual(bits["sp"]["4.6 bpe"], "4.2")

    def test_ranking_per_budget(self):
        out = self.run_errors(write_errors(self.path("errors.h5"), ROWS))
        self.assertIn("2.32 bpe: ms < qu < sp < rt\n", out)
        self.assertIn("4.6 bpe: qu = ms < sp\n", out)  # equal errors are ties
        self.assertIn("16 bpe: fp16\n", out)

    def test_chart_files(self):
        path = write_errors(self.path("errs.h5"), ROWS, vlen=False)  # fixed-length strings read the same
        status, out, err = run_in_process(errors, [path, "--out", self.path("charts"), "--pdf", "--logy"])
        self.assertEqual(status, 0, err)
        self.assertIn("2.32 bpe: ms < qu < sp < rt", out)
        for extension, signature in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
            chart = os.path.join(self.path("charts"), f"errors_errs.{extension}")
            self.assertIn(f"wrote {chart}", out)
            with open(chart, "rb") as stream:
                self.assertEqual(stream.read(4), signature)
            self.assertGreater(os.path.getsize(chart), 1000)

    def test_several_settings_of_one_method_are_kept_apart(self):
        rows = ROWS[:4] + [("sp", "sp:keep=0.00906,positions=kv", 2.32, 0.58, 57, 0.5, 0.02, 454.0)]
        out = self.run_errors(write_errors(self.path("errors.h5"), rows))
        table = table_dict(out)
        self.assertEqual(table["sp:keep=0.04125,positions=bitmap"]["2.32 bpe"], "0.3000")
        self.assertEqual(table["sp:keep=0.00906,positions=kv"]["2.32 bpe"], "0.5000")
        self.assertIn("2.32 bpe: ms < qu < sp:keep=0.04125,positions=bitmap < rt < sp:keep=0.00906,positions=kv",
                      out)

    def test_two_files_give_two_reports(self):
        first = write_errors(self.path("a.h5"), ROWS[:4], cut=2)
        second = write_errors(self.path("b.h5"), [("ms", "ms", 2.32, 2.32, 1, 0.2, 0.0, 9.0),
                                                  ("sp", "sp", 2.32, 2.32, 1, 0.1, 0.0, 9.0)], cut=8)
        out = self.run_errors(first, second)
        self.assertEqual(len(tables(out)), 4)  # errors and bits for each file
        self.assertIn("2.32 bpe: sp < ms\n", out)
        self.assertIn(f"{second}: model cnn, dataset fashion-mnist, cut 8", out)
        self.assertEqual(sorted(os.listdir(self.path("charts"))), ["errors_a.png", "errors_b.png"])

    def test_empty_errors_table_is_an_error(self):
        path = write_errors(self.path("empty.h5"), [])
        status, _, err = run_in_process(errors, [path, "--out", self.path("charts")])
        self.assertEqual(status, 1)
        self.assertEqual(err.strip(), f"errors.py: error: {path}: /errors has no rows")


if __name__ == "__main__":
    unittest.main()
