"""NaN or Inf in training: the run stops with exit code 1 and a message naming the step and the client, and the
metrics written so far stay in a file that h5py reads.

The provocation: a step schedule with --gamma 1e30 keeps epoch 1 at --lr 0.05 and multiplies the rate by 1e30 for
epoch 2. The first step of epoch 2 still has finite weights; its update makes them enormous, so the second step's
loss overflows (on this model the loss goes first, before the cut-layer activations). Epoch 1 is complete and
flushed, so the file must hold its row and its steps."""
import math
import os
import re
import unittest

import h5py

from harness import CliTestCase, mesl, mpirun, scratch

EXPLODE = ["--model", "cnn", "--dataset", "synthetic", "--synthetic-train", "256", "--synthetic-test", "64",
           "--batch-size", "32", "--epochs", "2", "--lr", "0.05", "--threads", "1", "--quiet",
           "--schedule", "step", "--step-size", "1", "--gamma", "1e30"]
STEPS_PER_EPOCH = 256 // 32
MESSAGE = re.compile(r"became NaN or Inf at step (\d+) of epoch 2 \(client (\d+)\)")


class Checks(CliTestCase):
    def check_file(self, path):
        with h5py.File(path, "r") as f:
            epochs = f["epochs/epoch"][:]
            steps = f["steps/step"][:]
            losses = f["steps/loss"][:]
            self.assertEqual(list(epochs), [0], "epoch 1's row is kept")
            self.assertTrue(math.isfinite(f["epochs/train_loss"][0]))
            self.assertGreaterEqual(len(steps), STEPS_PER_EPOCH, "epoch 1's steps are kept")
            self.assertEqual(list(steps), list(range(len(steps))))
            self.assertTrue(all(math.isfinite(x) for x in losses), "no NaN step row is written")
            return len(steps)

    def check_message(self, line, clients):
        m = MESSAGE.search(line)
        self.assertIsNotNone(m, f"the message names the step, the epoch and the client: {line}")
        step, client = int(m.group(1)), int(m.group(2))
        self.assertGreaterEqual(step, STEPS_PER_EPOCH, "the failing step is in epoch 2")
        self.assertIn(client, clients)
        self.assertIn("lower --lr", line)
        return step


class NonFinite(Checks):
    def test_local(self):
        for codec in (["--codec", "identity"], ["--codec", "ms", "--keep", "0.1", "--bits", "2"]):
            with self.subTest(codec=codec[1]):
                out = os.path.join(scratch(self, "nan-local"), "run.h5")
                r = mesl("train", "--topology", "local", *EXPLODE, *codec, "--output", out)
                errors = self.assert_clean_failure(r, 1, "NaN or Inf")
                step = self.check_message(errors[0], {1})
                # The failing step is the one after the last row written.
                self.assertEqual(self.check_file(out), step)



class NonFiniteUnderMpirun(Checks):
    def test_mpi(self):
        out = os.path.join(scratch(self, "nan-mpi"), "run.h5")
        r = mpirun(3, ["train", *EXPLODE, "--codec", "ms", "--keep", "0.1", "--output", out])
        self.assertEqual(r.returncode, 1, str(r))
        errors = r.error_lines()
        # The rank that failed says why; every other rank says that it stops and why.
        self.assertEqual(len(errors), 3, str(r))
        for rank in range(3):
            self.assertTrue(any(f"rank {rank}" in e for e in errors), f"rank {rank} says nothing:\n{r}")
        for e in errors:
            self.check_message(e, {1, 2})
        self.check_file(out)


if __name__ == "__main__":
    unittest.main()
