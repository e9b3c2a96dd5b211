"""Bad input to every script: a one-line message on stderr, the exit status (1 for data errors, 2 for usage errors)
and never a traceback. The scripts run as real programs with /usr/bin/python3, except where only the message of
an in-process call is checked."""
import os
import unittest

from meslfiles import TempDirTest, run_in_process, run_program, write_errors, write_run  # first: finds analysis/

import h5py

import plot
import summary

SCRIPTS = ("summary.py", "traffic.py", "plot.py", "errors.py")


class BadInput(TempDirTest):
    def setUp(self):
        super().setUp()
        self.text_file = self.path("notes.txt")
        with open(self.text_file, "w") as stream:
            stream.write("not HDF5\n")
        self.foreign = self.path("foreign.h5")  # valid HDF5, but no mesl attributes or groups
        with h5py.File(self.foreign, "w") as f:
            f.attrs["creator"] = "someone else"
            f.create_group("epochs")
        self.truncated = self.path("truncated.h5")
        run = write_run(self.path("run.h5"), [0.5])
        with open(run, "rb") as source, open(self.truncated, "wb") as target:
            target.write(source.read()[:4096])

    def assert_fails(self, script, args, status, message):
        result = run_program(script, list(args) + (["--out", self.path("out")] if script in ("plot.py", "errors.py")
                                                   else []))
        self.assertEqual(result.returncode, status, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(lines[-1], f"{script}: error: {message}")
        if status == 1:
            self.assertEqual(len(lines), 1, result.stderr)  # exactly one line
        self.assertEqual(result.stdout, "")

    def test_missing_file(self):
        missing = self.path("missing.h5")
        for script in SCRIPTS:
            with self.subTest(script=script):
                self.assert_fails(script, [missing], 1, f"{missing}: no such file")

    def test_not_an_hdf5_file(self):
        for script in SCRIPTS:
            with self.subTest(script=script):
                self.assert_fails(script, [self.text_file], 1, f"{self.text_file}: not an HDF5 file")

    def test_hdf5_file_without_mesl_attributes(self):
        run_message = (f"{self.foreign}: not a mesl run file (no 'method' attribute at the root; give the HDF5 "
                       f"files that `mesl train` writes)")
        for script in ("summary.py", "traffic.py", "plot.py"):
            with self.subTest(script=script):
                self.assert_fails(script, [self.foreign], 1, run_message)
        self.assert_fails("errors.py", [self.foreign], 1,
                          f"{self.foreign}: not a `mesl errors` file (no /errors group)")

    def test_truncated_file(self):
        result = run_program("summary.py", [self.truncated])
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)
        self.assertTrue(result.stderr.startswith(f"summary.py: error: {self.truncated}: "), result.stderr)

    def test_no_file_matches_the_pattern(self):
        pattern = os.path.join(self.dir, "nothing*.h5")
        self.assert_fails("traffic.py", [pattern], 1, f"no files match {pattern!r}")

    def test_file_of_the_other_kind(self):
        errors_file = write_errors(self.path("errors.h5"), [("ms", "ms", 2.32, 2.32, 1, 0.1, 0.0, 9.0)])
        run_file = write_run(self.path("run2.h5"), [0.5])
        self.assert_fails("summary.py", [errors_file], 1,
                          f"{errors_file}: is a `mesl errors` file, not a run file (read it with errors.py)")
        self.assert_fails("errors.py", [run_file], 1, f"{run_file}: is a mesl run file, not a `mesl errors` file "
                                                      f"(read it with summary.py, plot.py or traffic.py)")

    def test_usage_errors_exit_2(self):
        run_file = write_run(self.path("run3.h5"), [0.5])
        self.assert_fails("summary.py", [], 2, "the following arguments are required: FILE")
        self.assert_fails("traffic.py", [run_file, "--target", "80"], 2,
                          "argument --target: 80 is not in (0, 1] (give a fraction such as 0.8, not a percentage)")
        self.assert_fails("plot.py", [run_file, "--bytes", "some"], 2,
                          "argument --bytes: invalid choice: 'some' (choose from 'fwd', 'fwd+bwd', 'all')")

    def test_outputs_that_cannot_be_written(self):
        run_file = write_run(self.path("run4.h5"), [0.5])
        status, _, err = run_in_process(plot, [run_file, "--out", self.text_file])
        self.assertEqual(status, 1)
        self.assertEqual(err, f"plot.py: error: --out {self.text_file}: exists and is not a directory "
                              f"(give a folder for the figures)\n")
        csv_path = self.path(os.path.join("no", "such", "dir", "s.csv"))
        status, _, err = run_in_process(summary, [run_file, "--csv", csv_path])
        self.assertEqual(status, 1)
        self.assertEqual(err, f"summary.py: error: {csv_path}: No such file or directory\n")

    def test_help_works(self):
        for script in SCRIPTS:
            with self.subTest(script=script):
                result = run_program(script, ["--help"])
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(f"usage: {script}", result.stdout)
                self.assertIn("examples:", result.stdout)


if __name__ == "__main__":
    unittest.main()
