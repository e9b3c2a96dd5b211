"""An HDF5 output path that cannot be written stops the run during start-up: one line naming the path, no start or
training line, no file left at the path, and under mpirun the message once and every rank gone."""
import os
import unittest

from harness import SMALL, CliTestCase, mesl, mpirun, scratch


class OutputPaths(CliTestCase):
    """Paths that cannot become an HDF5 file, and what a run refused for one must look like."""

    def bad_paths(self):
        d = scratch(self, "output")
        a_file = os.path.join(d, "plain-file")
        with open(a_file, "w") as f:
            f.write("not a directory\n")
        a_dir = os.path.join(d, "a-directory")
        os.mkdir(a_dir)
        return {
            "parent directory missing": os.path.join(d, "missing", "run.h5"),
            "parent is a file": os.path.join(a_file, "run.h5"),
            "path is a directory": a_dir,
        }

    def check(self, r, path, lines=1):
        errors = self.assert_clean_failure(r, 1, path, lines=lines)
        self.assertNotIn("mesl: cnn on", r.stdout, "the start line comes after the output is created")
        self.assertNotIn("epoch 1/", r.stdout)
        self.assertEqual(r.stdout.strip(), "", "nothing may be printed on stdout")
        if not os.path.isdir(path):
            self.assertFalse(os.path.exists(path), f"{path} must not exist after the failure")
        return errors


class UnwritableOutput(OutputPaths):
    def test_local(self):
        for name, path in self.bad_paths().items():
            with self.subTest(name):
                self.check(mesl("train", "--topology", "local", *SMALL, "--output", path), path)
                if name == "path is a directory":
                    self.assertEqual(os.listdir(path), [], "nothing may be written into the directory")



class UnwritableOutputUnderMpirun(OutputPaths):
    def test_mpi(self):
        for name, path in self.bad_paths().items():
            with self.subTest(name):
                r = mpirun(3, ["train", *SMALL, "--output", path])
                self.assertEqual(r.returncode, 1, str(r))
                errors = r.error_lines()
                self.assertEqual(len(errors), 1, f"the start-up error is printed once:\n{r}")
                self.assertIn(path, errors[0])
                self.assertNotIn("mesl: cnn on", r.stdout)
                if not os.path.isdir(path):
                    self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
