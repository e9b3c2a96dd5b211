"""A rank that dies (SIGKILL) or stops answering (SIGSTOP) in the middle of a run under mpirun: the job ends in
about --timeout-s or sooner, mpirun exits non-zero, the output names the rank, no rank process is left behind (not
even a stopped one), and the metrics file written so far opens and reads cleanly with h5py.

Who reports what differs by fault, because of mpirun's own policy:
  - SIGKILL: mpirun sees a rank die and ends the job itself at once (SIGTERM, then SIGKILL, to the other ranks),
    naming the rank ("process rank 2 ... exited on signal 9"); the survivors are ended before their --timeout-s
    could run out.
  - SIGSTOP: the process still exists, so mpirun notices nothing; the transport's --timeout-s does: the rank that
    waits for the stopped one names it, tells every other rank (each prints why it stops), and the job aborts.
"""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import h5py

from harness import MESL, MPIEXEC, RAW_FAILURES, scratch

TIMEOUT_S = 5
# Long enough that the faults land mid-run: about 0.5 s per epoch here, 40 epochs.
LONG = ["--model", "cnn", "--dataset", "synthetic", "--synthetic-train", "512", "--synthetic-test", "64",
        "--batch-size", "32", "--epochs", "40", "--lr", "0.05", "--threads", "1", "--timeout-s", str(TIMEOUT_S)]
# Seconds allowed beyond --timeout-s for noticing, printing, aborting and mpirun's clean-up on a loaded machine.
MARGIN_S = 25


def process_state(pid):
    """The state letter of /proc/PID/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def running(pid):
    # A zombie no longer runs (a container's init may never reap it).
    return process_state(pid) not in (None, "Z", "X")


def rank_pids(launcher_pid):
    """{rank: pid} of the launcher's children (mpirun forks the ranks of a single-node job itself)."""
    ranks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != launcher_pid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
        if b"OMPI_COMM_WORLD_RANK" in env:
            ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(entry)
    return ranks


class Job:
    """mpirun -n RANKS mesl train ..., in its own session so that a failing test can still end everything."""

    def __init__(self, test, ranks, args):
        self.dir = scratch(test, "dying")
        self.output = os.path.join(self.dir, "run.h5")
        self.out = open(os.path.join(self.dir, "stdout"), "w+")
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        cmd = MPIEXEC + ["-n", str(ranks), MESL, "train", *args, "--output", self.output]
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, start_new_session=True)
        self.ranks = {}
        test.addCleanup(self.end)

    def wait_for_training(self, epochs=1, limit=240):
        """Waits until `epochs` epoch lines are printed (so that they are in the metrics file) and the ranks are
        known."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("the job ended before the fault:\n" + self.text())
            if not self.ranks:
                found = rank_pids(self.proc.pid)
                self.ranks = found if len(found) == 3 else {}
            if self.ranks and self.stdout().count("\nepoch ") + self.stdout().startswith("epoch ") >= epochs:
                return
            time.sleep(0.1)
        raise AssertionError("training did not reach the fault point:\n" + self.text())

    def wait(self, limit):
        """Seconds until mpirun ended; fails when it outlives `limit`."""
        start = time.monotonic()
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the job did not end within {limit} s:\n" + self.text()) from None
        return time.monotonic() - start

    def leftovers(self, grace=10):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(running(p) for p in self.ranks.values()):
            time.sleep(0.1)
        return [p for p in self.ranks.values() if running(p)]

    def stdout(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def stderr(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def text(self):
        return f"stdout:\n{self.stdout()}\nstderr:\n{self.stderr()}"

    def end(self):
        # Whatever happened, leave nothing behind: the ranks this job started (stopped ones need SIGCONT for
        # nothing, SIGKILL ends them anyway) and the launcher's session.
        for pid in self.ranks.values():
            if running(pid):
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.out.close()
        self.err.close()


class DyingRanks(unittest.TestCase):
    def fault(self, ranks, sig, limit=TIMEOUT_S + MARGIN_S, args=LONG):
        job = Job(self, 3, args)
        job.wait_for_training()
        for rank in ranks:
            os.kill(job.ranks[rank], sig)
        elapsed = job.wait(limit)
        text = job.text()
        self.assertNotEqual(job.proc.returncode, 0, "mpirun must report the failure:\n" + text)
        for raw in RAW_FAILURES:
            self.assertNotIn(raw, text)
        self.assertEqual(job.leftovers(), [], "rank processes were left behind:\n" + text)
        self.check_metrics(job)
        return job, elapsed

    def check_metrics(self, job):
        # The epochs flushed before the fault are there, and every table reads to its end.
        with h5py.File(job.output, "r") as f:
            self.assertGreaterEqual(len(f["epochs/epoch"]), 1)
            lengths = {len(f["steps"][k]) for k in f["steps"]}
            self.assertEqual(len(lengths), 1, "the steps columns have one length")
            for table in ("steps", "epochs", "messages"):
                for k in f[table]:
                    f[table][k][:]
            self.assertIn("config", f.attrs)

    def test_client_killed(self):
        job, elapsed = self.fault([2], signal.SIGKILL)
        self.assertIn("rank 2", job.stderr(), "the dead rank is named:\n" + job.text())
        self.assertLess(elapsed, TIMEOUT_S + MARGIN_S)

    def test_server_killed(self):
        job, _ = self.fault([0], signal.SIGKILL)
        self.assertIn("rank 0", job.stderr(), "the dead rank is named:\n" + job.text())

    def test_client_stopped(self):
        job, elapsed = self.fault([2], signal.SIGSTOP)
        self.assertGreaterEqual(elapsed, TIMEOUT_S - 1, "the stopped rank is given --timeout-s to answer")
        errors = [line for line in job.stderr().splitlines() if line.startswith("mesl: error:")]
        # Every surviving rank prints one line, and each names the stopped rank.
        for survivor in (0, 1):
            mine = [e for e in errors if e.startswith(f"mesl: error: rank {survivor}")]
            self.assertEqual(len(mine), 1, f"rank {survivor} must say why it stops:\n" + job.text())
            self.assertIn("rank 2", mine[0])
        self.assertTrue(any(f"within {TIMEOUT_S} s" in e for e in errors), "the timeout is named:\n" + job.text())

    def test_server_stopped(self):
        job, elapsed = self.fault([0], signal.SIGSTOP)
        errors = [line for line in job.stderr().splitlines() if line.startswith("mesl: error:")]
        self.assertTrue(errors, "a client must notice the stopped server:\n" + job.text())
        self.assertTrue(all("rank 0" in e for e in errors), "every message names the stopped rank:\n" + job.text())

    def test_server_stopped_while_clients_wait(self):
        # Rank 1's turn opens each epoch and here lasts seconds (100 steps), so when the first epoch line is out
        # rank 2 is waiting for its turn: only the server's alive messages can tell it that the server stopped.
        # (Before they existed this job never ended, and the same happened now and then to test_server_stopped,
        # when the server stopped between two turns.)
        idle_limit = TIMEOUT_S * 1.25 + 2
        job, elapsed = self.fault([0, 1], signal.SIGSTOP, limit=idle_limit + MARGIN_S,
                                  args=LONG + ["--local-steps", "100"])
        self.assertGreaterEqual(elapsed, TIMEOUT_S - 1, "the server is given the idle limit to answer")
        errors = [line for line in job.stderr().splitlines() if line.startswith("mesl: error: rank 2")]
        self.assertEqual(len(errors), 1, "rank 2 must say why it stops:\n" + job.text())
        self.assertIn("rank 0 (the server) sent nothing for 8.25 s while rank 2 waited for its turn", errors[0])


if __name__ == "__main__":
    unittest.main()
