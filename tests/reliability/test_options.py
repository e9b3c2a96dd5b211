"""Unknown, conflicting and out-of-range options: exit code 2 and one line naming the option, before any work.
Most cases run `mesl train --topology local` (no MPI, the same option parser); one runs under mpirun to check that
the message is printed once, not once per rank."""
import os
import unittest

from harness import SMALL, CliTestCase, mesl, mpirun, scratch


class BadOptions(CliTestCase):
    def train(self, *args):
        out = os.path.join(scratch(self, "options"), "run.h5")
        r = mesl("train", "--topology", "local", *SMALL, "--output", out, *args)
        self.assertFalse(os.path.exists(out), f"a refused configuration must not create the metrics file:\n{r}")
        return r

    def expect(self, args, *texts, code=2):
        with self.subTest(args=" ".join(args)):
            r = self.train(*args)
            self.assert_clean_failure(r, code, *texts)
            self.assertEqual(r.stdout, "", "nothing may start before the options are checked")

    def test_unknown_options_and_commands(self):
        self.assert_clean_failure(mesl("frobnicate"), 2, "unknown command 'frobnicate'")
        self.assert_clean_failure(mesl("codec", "squash"), 2, "unknown codec action 'squash'")
        self.expect(["--bogus"], "bogus", "--help")
        self.expect(["--bogus=3"], "bogus")
        self.expect(["stray"], "unexpected argument 'stray'")
        self.expect(["--topology", "ring"], "unknown topology 'ring'")
        self.expect(["--model", "alexnet"], "unknown model 'alexnet'")
        self.expect(["--dataset", "imagenet-21k"], "imagenet-21k")
        self.expect(["--codec", "zip"], "unknown codec method 'zip'")
        self.expect(["--codec", "ms", "--keep", "0.1", "--positions", "list"], "unknown positions 'list'")
        self.expect(["--codec", "ms", "--keep", "0.1", "--sign", "maybe"], "maybe")
        self.expect(["--partition", "random"], "random")

    def test_values_of_the_wrong_type(self):
        self.expect(["--epochs", "one"], "one")
        self.expect(["--codec", "ms", "--keep", "0.1", "--bits", "two"], "two")
        self.expect(["--lr", "nan"], "nan")
        self.expect(["--epochs"], "epochs")

    def test_conflicting_options(self):
        self.expect(["--codec", "ms", "--keep", "0.1", "--k", "5"], "exactly one of --keep")
        self.expect(["--codec", "ms:keep=0.1,bits=2", "--keep", "0.2"], "already holds the settings", "--keep")
        self.expect(["--codec", "ms:keep=0.1", "--bits", "3"], "drop --bits")
        self.expect(["--codec", "ms"], "needs exactly one of --keep")

    def test_codec_settings_out_of_range(self):
        self.expect(["--codec", "ms", "--keep", "0.1", "--bits", "9"], "--bits 9", "1..8")
        self.expect(["--codec", "ms", "--keep", "0.1", "--bits", "-1"], "--bits -1")
        self.expect(["--codec", "qu", "--bits", "17"], "--bits 17", "1..16")
        self.expect(["--codec", "ms", "--keep", "1.5"], "--keep", "[0, 1]", "1.5")
        self.expect(["--codec", "sp", "--keep", "-0.01"], "--keep", "-0.01")
        self.expect(["--codec", "ms", "--k", "-1"], "--k must be >= 0")
        self.expect(["--codec", "ms", "--k=-3"], "--k must be >= 0")
        self.expect(["--codec", "rt", "--keep", "0.1", "--rt-alpha", "1.5"], "alpha", "[0, 1]", "1.5")
        self.expect(["--codec", "rt", "--keep", "0.1", "--rt-alpha", "-0.5"], "alpha", "-0.5")
        self.expect(["--codec", "ms", "--keep", "0.1", "--bits", "1", "--sign", "signed"], "--bits 2 or more")
        self.expect(["--grad-codec", "ms:keep=2"], "--keep", "2")
        self.expect(["--grad-codec", "qu:bits=40"], "40")
        self.expect(["--codec", "ms:keep=abc"], "keep=abc", "not a number")

    def test_kept_count_spelled_both_ways(self):
        # --k (the spelling of docs/codecs.md and the help) and -k both set the kept count.
        for spelling in (["--k", "5"], ["--k=5"], ["-k", "5"]):
            with self.subTest(spelling=spelling):
                out = os.path.join(scratch(self, "k"), "run.h5")
                r = mesl("train", "--topology", "local", *SMALL, "--quiet", "--train-limit", "64", "--output",
                         out, "--codec", "ms", *spelling)
                self.assertEqual(r.returncode, 0, str(r))

    def test_fixed_k_must_fit_every_batch(self):
        # 70 samples in batches of 32: the last batch has 6 samples of 32x14x14 = 37632 elements. A k that fits a
        # full batch but not that one is refused before training, not at the last batch.
        self.expect(["--train-limit", "70", "--codec", "ms", "--k", "50000"],
                    "--k 50000 is larger than the 37632 elements", "smallest batch", "6 samples")
        self.expect(["--codec", "sp", "--scope", "sample", "--k", "7000"], "7000", "one sample's activation")
        self.expect(["--grad-codec", "sp:k=50000", "--train-limit", "70"], "--grad-codec k 50000")

    def test_training_settings_out_of_range(self):
        self.expect(["--epochs", "0"], "--epochs must be >= 1")
        self.expect(["--batch-size", "0"], "--batch-size must be >= 1")
        self.expect(["--lr", "-1"], "--lr must be positive")
        self.expect(["--timeout-s", "0"], "--timeout-s must be positive")
        self.expect(["--partition", "dirichlet", "--alpha", "-1"], "--alpha", "-1")
        self.expect(["--cut", "99"], "out of range")
        self.expect(["--clients", "0"], "--clients must be >= 1")

    def test_clients_and_sampling(self):
        self.expect(["--participation", "0"], "--participation 0 is not in (0, 1]")
        self.expect(["--participation", "1.5"], "--participation 1.5 is not in (0, 1]")
        self.expect(["--clients", "4", "--participation", "0.5", "--clients-per-round", "2"],
                    "--participation and --clients-per-round both", "give one")
        self.expect(["--clients", "3", "--clients-per-round", "5"], "--clients-per-round 5 is more than the 3 clients")
        self.expect(["--clients-per-round", "0"], "--clients-per-round must be >= 1")

    def test_client_state_memory_and_folder(self):
        # The CNN's shallow bottom has 320 parameters: a state of 48 + 2 + 1280 bytes in a sequential run.
        self.expect(["--client-state-memory", "1000"], "--client-state-memory 1000 bytes cannot hold one client's state",
                    "give at least 1330")
        self.expect(["--client-state-memory", "12XB"], "--client-state-memory '12XB' is not a size")
        blocker = os.path.join(scratch(self, "state-dir"), "a-file")
        open(blocker, "w").close()
        # Four clients whose states do not fit 2 KiB: they would spill, and the folder cannot be made.
        self.expect(["--clients", "4", "--client-state-memory", "2KiB", "--state-dir", os.path.join(blocker, "states")],
                    "cannot write client states to", "--state-dir")

    def test_codec_commands(self):
        self.assert_clean_failure(mesl("codec", "plan", "--bpe", "2"), 2, "needs --shape")
        self.assert_clean_failure(mesl("codec", "plan", "--bpe", "2", "--shape", "4,x"), 2, "--shape '4,x'")
        self.assert_clean_failure(mesl("codec", "bench", "--method", "ms", "--keep", "0.1", "--bits", "12"), 2,
                                  "--bits 12")
        self.assert_clean_failure(mesl("codec", "bench", "--method", "ms", "--keep", "0.1", "--repeat", "0"), 2,
                                  "--repeat must be >= 1")
        self.assert_clean_failure(mesl("codec", "decode", "--input", "x.bin"), 2, "needs --output")



class BadOptionsUnderMpirun(CliTestCase):
    def test_printed_once(self):
        out = os.path.join(scratch(self, "mpi-options"), "run.h5")
        r = mpirun(3, ["train", *SMALL, "--output", out, "--codec", "ms", "--keep", "0.1", "--k", "5"])
        self.assertEqual(r.returncode, 2, str(r))
        errors = r.error_lines()
        self.assertEqual(len(errors), 1, str(r))
        self.assertIn("exactly one of --keep", errors[0])
        self.assertFalse(os.path.exists(out))

    def test_fewer_clients_than_client_ranks(self):
        out = os.path.join(scratch(self, "mpi-clients"), "run.h5")
        r = mpirun(4, ["train", *SMALL, "--output", out, "--clients", "2"])
        self.assertEqual(r.returncode, 2, str(r))
        errors = r.error_lines()
        self.assertEqual(len(errors), 1, str(r))
        self.assertIn("--clients 2 is fewer than the 3 client ranks", errors[0])
        self.assertFalse(os.path.exists(out))

    def test_an_unwritable_state_folder_stops_every_rank_before_anything_is_written(self):
        d = scratch(self, "mpi-state-dir")
        out = os.path.join(d, "run.h5")
        with open(out, "w") as f:
            f.write("an earlier result")
        blocker = os.path.join(d, "a-file")
        open(blocker, "w").close()
        r = mpirun(3, ["train", *SMALL, "--output", out, "--clients", "8", "--client-state-memory", "2KiB",
                       "--state-dir", os.path.join(blocker, "states")])
        self.assertEqual(r.returncode, 2, str(r))
        errors = r.error_lines()
        self.assertGreaterEqual(len(errors), 1, str(r))
        for line in errors:
            self.assertIn("cannot write client states to", line)
        with open(out) as f:
            self.assertEqual(f.read(), "an earlier result", "a refused start must not touch --output")


if __name__ == "__main__":
    unittest.main()
