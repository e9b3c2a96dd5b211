"""Checkpoint, resume and stop signals of `mesl train`: a run stopped (by a signal, or killed with -9) and resumed
has the same metrics as an uninterrupted run with the same seed; every step and epoch is in the file exactly once;
a corrupt checkpoint is refused and the previous one used; another configuration is refused unless forced."""
import os
import signal
import subprocess
import time
import unittest

import numpy as np

from mpi_runs import MESL, MPIEXEC, SMALL, mpirun, read_run, scratch

RUN = SMALL + ["--epochs", "3", "--codec", "ms", "--keep", "0.05", "--bits", "2", "--checkpoint-every", "1"]
COMPARED = {"steps": ["step", "epoch", "client", "batch_size", "loss", "fwd_bytes", "bwd_bytes", "rel_error"],
            "epochs": ["epoch", "train_loss", "test_acc1", "test_acc5", "fwd_bytes", "bwd_bytes", "model_bytes"]}


def start(ranks, args, log):
    """Starts mesl train under mpirun in the background; stdout and stderr go to `log`."""
    return subprocess.Popen(MPIEXEC + ["-n", str(ranks), MESL, "train"] + list(args), stdout=log,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(path, text, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        with open(path) as f:
            if text in f.read():
                return
        time.sleep(0.1)
    raise AssertionError(f"'{text}' did not appear in {path}")


def rank_pids(mpirun_pid):
    out = subprocess.run(["pgrep", "-P", str(mpirun_pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Resume(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("resume")
        cls.reference_path = os.path.join(cls.dir, "reference.h5")
        p = mpirun(4, RUN + ["--output", cls.reference_path])
        assert p.returncode == 0, p.stderr
        cls.reference = read_run(cls.reference_path)

    def assert_same_metrics(self, run):
        for group, columns in COMPARED.items():
            for c in columns:
                np.testing.assert_array_equal(run[group][c], self.reference[group][c], err_msg=f"{group}/{c}")

    def test_signal_stops_at_a_step_and_resume_is_exact(self):
        d = scratch("signal")
        out, ckpt, log_path = os.path.join(d, "run.h5"), os.path.join(d, "ckpt"), os.path.join(d, "log")
        # Without --quiet: the test waits for the progress lines.
        args = [a for a in RUN if a != "--quiet"] + ["--output", out, "--checkpoint-dir", ckpt]
        with open(log_path, "w") as log:
            job = start(4, args, log)
            wait_for(log_path, "epoch 1/3")
            time.sleep(0.5)  # somewhere inside epoch 2
            job.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to every rank
            self.assertEqual(job.wait(timeout=120), 0)
        text = open(log_path).read()
        self.assertIn("checkpoint", text)
        self.assertIn("continue with --resume", text)
        partial = read_run(out)
        self.assertLess(len(partial["steps"]["step"]), len(self.reference["steps"]["step"]))
        p = mpirun(4, RUN + ["--output", out, "--checkpoint-dir", ckpt, "--resume"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_same_metrics(read_run(out))

    def test_kill_9_mid_epoch_resumes_from_the_last_checkpoint(self):
        d = scratch("kill")
        out, ckpt, log_path = os.path.join(d, "run.h5"), os.path.join(d, "ckpt"), os.path.join(d, "log")
        args = [a for a in RUN if a != "--quiet"] + ["--output", out, "--checkpoint-dir", ckpt]
        with open(log_path, "w") as log:
            job = start(4, args, log)
            wait_for(log_path, "epoch 2/3")
            time.sleep(0.3)
            pids = rank_pids(job.pid)
            self.assertEqual(len(pids), 4, "expected four rank processes under mpirun")
            os.kill(pids[2], signal.SIGKILL)
            self.assertNotEqual(job.wait(timeout=120), 0)
        self.assertTrue(any(n.startswith("step-") for n in os.listdir(ckpt)))
        p = mpirun(4, RUN + ["--output", out, "--checkpoint-dir", ckpt, "--resume"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("resuming from", p.stdout)
        self.assert_same_metrics(read_run(out))

    def test_a_corrupt_checkpoint_is_refused_and_the_previous_one_used(self):
        d = scratch("corrupt")
        out, ckpt = os.path.join(d, "run.h5"), os.path.join(d, "ckpt")
        p = mpirun(4, RUN + ["--output", out, "--checkpoint-dir", ckpt, "--epochs", "2"])
        self.assertEqual(p.returncode, 0, p.stderr)
        newest = sorted(n for n in os.listdir(ckpt) if n.startswith("step-"))[-1]
        part = os.path.join(ckpt, newest, "clients-2-of-3.bin")  # client rank 2's clients
        with open(part, "r+b") as f:
            f.truncate(os.path.getsize(part) // 2)
        p = mpirun(4, RUN + ["--output", out, "--checkpoint-dir", ckpt, "--epochs", "2", "--resume"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("corrupt", p.stderr)
        self.assertIn("trying an older checkpoint", p.stderr)
        run = read_run(out)
        self.assertEqual(run["epochs"]["epoch"].tolist(), [0, 1])
        self.assertEqual(sorted(run["steps"]["step"].tolist()), list(range(len(run["steps"]["step"]))))

    def test_another_configuration_is_refused_unless_forced(self):
        d = scratch("config")
        out, ckpt = os.path.join(d, "run.h5"), os.path.join(d, "ckpt")
        p = mpirun(4, RUN + ["--output", out, "--checkpoint-dir", ckpt, "--epochs", "1"])
        self.assertEqual(p.returncode, 0, p.stderr)
        changed = RUN + ["--output", out, "--checkpoint-dir", ckpt, "--epochs", "1", "--resume", "--seed", "7"]
        p = mpirun(4, changed)
        self.assertEqual(p.returncode, 2)
        errors = [line for line in p.stderr.splitlines() if line.startswith("mesl: error:")]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn("seed is 7 here but 0 in the checkpoint", errors[0])
        self.assertIn("--resume-force", errors[0])
        p = mpirun(4, changed[:-3] + ["--resume-force", "--seed", "7"])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_second_signal_ends_the_job_at_once(self):
        d = scratch("twice")
        log_path = os.path.join(d, "log")
        args = [a for a in RUN if a != "--quiet"] + ["--output", os.path.join(d, "run.h5"), "--epochs", "50"]
        with open(log_path, "w") as log:
            job = start(4, args, log)
            wait_for(log_path, "epoch 1/50")
            for pid in rank_pids(job.pid):  # two signals straight to every rank
                os.kill(pid, signal.SIGUSR1)
            time.sleep(0.05)
            for pid in rank_pids(job.pid):
                os.kill(pid, signal.SIGUSR1)
            self.assertNotEqual(job.wait(timeout=60), 0)
        time.sleep(1)
        self.assertEqual(rank_pids(job.pid), [])


class ManyClientsResume(unittest.TestCase):
    """Checkpoints keep client states by client id (spilled or not): a run with more clients than client ranks,
    stopped and resumed on another number of ranks, equals the uninterrupted run bit for bit."""

    MANY = RUN + ["--clients", "6", "--clients-per-round", "4", "--client-state-memory", "3KiB"]
    CLIENTS = ["steps", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes", "rounds"]

    def reference(self, topology):
        path = os.path.join(scratch("many-ref"), "ref.h5")
        p = mpirun(3, self.MANY + ["--topology", topology, "--output", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        return read_run(path)

    def assert_same(self, run, ref):
        # Per client and step: sflv1 serves its steps in arrival order, so the rows' order is not fixed.
        for client in range(1, 7):
            mine, theirs = run["steps"]["client"] == client, ref["steps"]["client"] == client
            for c in COMPARED["steps"]:
                if c != "step":
                    np.testing.assert_array_equal(run["steps"][c][mine], ref["steps"][c][theirs],
                                                  err_msg=f"steps/{c} of client {client}")
        for c in COMPARED["epochs"]:
            np.testing.assert_array_equal(run["epochs"][c], ref["epochs"][c], err_msg=f"epochs/{c}")
        for c in ("control_bytes", "link_s"):
            np.testing.assert_array_equal(run["epochs"][c], ref["epochs"][c], err_msg=f"epochs/{c}")
        for c in self.CLIENTS:
            np.testing.assert_array_equal(run["clients"][c], ref["clients"][c], err_msg=f"clients/{c}")

    def test_kill_9_on_two_ranks_resumes_on_three(self):
        ref = self.reference("sflv1")
        d = scratch("many-kill")
        out, ckpt, log_path = os.path.join(d, "run.h5"), os.path.join(d, "ckpt"), os.path.join(d, "log")
        args = [a for a in self.MANY if a != "--quiet"] + ["--topology", "sflv1", "--output", out,
                                                           "--checkpoint-dir", ckpt]
        with open(log_path, "w") as log:
            job = start(3, args, log)
            wait_for(log_path, "epoch 2/3")
            time.sleep(0.2)
            pids = rank_pids(job.pid)
            self.assertEqual(len(pids), 3, "expected three rank processes under mpirun")
            os.kill(pids[1], signal.SIGKILL)
            self.assertNotEqual(job.wait(timeout=120), 0)
        p = mpirun(4, self.MANY + ["--topology", "sflv1", "--output", out, "--checkpoint-dir", ckpt, "--resume"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("resuming from", p.stdout)
        run = read_run(out)
        self.assert_same(run, ref)
        self.assertEqual(run["clients"]["rank"].tolist(), [1, 1, 2, 2, 3, 3])  # the new placement

    def test_a_signal_mid_round_and_resume_on_one_rank(self):
        for topology in ("sequential", "sflv2"):
            with self.subTest(topology=topology):
                extra = ["--topology", topology] + (["--serve-order", "round-robin"] if topology == "sflv2" else [])
                ref_path = os.path.join(scratch("many-sig-ref"), "ref.h5")
                p = mpirun(3, self.MANY + extra + ["--output", ref_path])
                self.assertEqual(p.returncode, 0, p.stderr)
                d = scratch("many-signal")
                out, ckpt, log_path = os.path.join(d, "run.h5"), os.path.join(d, "ckpt"), os.path.join(d, "log")
                args = [a for a in self.MANY if a != "--quiet"] + extra + ["--output", out, "--checkpoint-dir", ckpt]
                with open(log_path, "w") as log:
                    job = start(3, args, log)
                    wait_for(log_path, "epoch 1/3")
                    time.sleep(0.3)
                    job.send_signal(signal.SIGUSR1)
                    self.assertEqual(job.wait(timeout=120), 0)
                self.assertIn("continue with --resume", open(log_path).read())
                p = mpirun(2, self.MANY + extra + ["--output", out, "--checkpoint-dir", ckpt, "--resume"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assert_same(read_run(out), read_run(ref_path))


class LocalResume(unittest.TestCase):
    def test_local_signal_and_resume_match_an_uninterrupted_run(self):
        d = scratch("local-resume")
        base = [a for a in RUN if a != "--quiet"] + ["--topology", "local", "--clients", "3"]
        ref = os.path.join(d, "ref.h5")
        self.assertEqual(subprocess.run([MESL, "train"] + base + ["--output", ref], capture_output=True).returncode, 0)
        out, ckpt, log_path = os.path.join(d, "run.h5"), os.path.join(d, "ckpt"), os.path.join(d, "log")
        with open(log_path, "w") as log:
            job = subprocess.Popen([MESL, "train"] + base + ["--output", out, "--checkpoint-dir", ckpt], stdout=log,
                                   stderr=subprocess.STDOUT)
            wait_for(log_path, "epoch 1/3")
            time.sleep(0.3)
            job.send_signal(signal.SIGTERM)
            self.assertEqual(job.wait(timeout=60), 0)
        p = subprocess.run([MESL, "train"] + base + ["--output", out, "--checkpoint-dir", ckpt, "--resume"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        a, b = read_run(ref), read_run(out)
        for group, columns in COMPARED.items():
            for c in columns:
                np.testing.assert_array_equal(a[group][c], b[group][c], err_msg=f"{group}/{c}")


if __name__ == "__main__":
    unittest.main()
