"""An HDF5 output path that cannot be written stops the run during start-up: one line naming the path, no start or
training line, no file left at the path, and under mpirun the message once and every rank gone. An existing metrics
file is never replaced unless --overwrite says so (or a resumed run continues it)."""
import hashlib
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


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ExistingOutput(CliTestCase):
    """A rerun of a sweep's line with the same --output must not erase the earlier run's results."""

    def setUp(self):
        self.dir = scratch(self, "existing-output")
        self.path = os.path.join(self.dir, "run.h5")
        first = mesl("train", "--topology", "local", *SMALL, "--seed", "1", "--output", self.path)
        self.assertEqual(first.returncode, 0, str(first))
        self.before = digest(self.path)

    def assert_refused(self, r, *texts):
        self.assert_clean_failure(r, 2, self.path, *texts)
        self.assertNotIn("epoch 1/", r.stdout)
        self.assertEqual(digest(self.path), self.before, "the earlier run's file must be left as it was")

    def test_refused_without_overwrite(self):
        r = mesl("train", "--topology", "local", *SMALL, "--seed", "2", "--output", self.path)
        self.assert_refused(r, "exists", "--overwrite", "--resume")

    def test_refused_under_mpirun_on_every_rank(self):
        r = mpirun(3, ["train", *SMALL, "--seed", "2", "--output", self.path])
        self.assertEqual(r.returncode, 2, str(r))
        errors = r.error_lines()
        self.assertEqual(len(errors), 1, f"the start-up error is printed once:\n{r}")
        self.assertIn("--overwrite", errors[0])
        self.assertEqual(digest(self.path), self.before)

    def test_overwrite_replaces(self):
        r = mesl("train", "--topology", "local", *SMALL, "--seed", "2", "--overwrite", "--output", self.path)
        self.assertEqual(r.returncode, 0, str(r))
        self.assertNotEqual(digest(self.path), self.before)

    def test_resume_without_checkpoint_restarts_only_its_own_file(self):
        checkpoints = os.path.join(self.dir, "checkpoints")
        resume = ["--checkpoint-dir", checkpoints, "--resume", "--output", self.path]
        # Another run's file (seed 2 against the file's seed 1): refused, even with --resume.
        r = mesl("train", "--topology", "local", *SMALL, "--seed", "2", *resume)
        self.assert_refused(r, "seed", "--overwrite")
        # The run's own file and no checkpoint yet (a job requeued before its first): started afresh.
        r = mesl("train", "--topology", "local", *SMALL, "--seed", "1", *resume)
        self.assertEqual(r.returncode, 0, str(r))
        self.assertIn("no usable checkpoint", r.stdout)

    def test_not_a_metrics_file_is_refused_with_resume(self):
        with open(self.path, "w") as f:
            f.write("someone's notes\n")
        self.before = digest(self.path)
        r = mesl("train", "--topology", "local", *SMALL, "--seed", "1", "--checkpoint-dir",
                 os.path.join(self.dir, "checkpoints"), "--resume", "--output", self.path)
        self.assert_refused(r, "not this run's", "--overwrite")


if __name__ == "__main__":
    unittest.main()
