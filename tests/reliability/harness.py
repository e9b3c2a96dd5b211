"""Runs the real `mesl` executable for the reliability tests and checks how it fails.

Environment (set by CTest, tests/reliability/CMakeLists.txt): MESL (the executable), MESL_MPIEXEC (mpirun with the
flags this machine needs, separated by ';'), MESL_TMP (a scratch directory for the tests' files).

What every failure must look like (the CLI's error contract): exit code 2 for bad usage or configuration and 1
otherwise, never a signal; one line on stderr starting "mesl: error: "; no exception trace, no sanitizer report;
and it must end: every run has a timeout, and a run that does not end in time fails the test.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

MESL = os.environ.get("MESL", "mesl")
MPIEXEC = [a for a in os.environ.get("MESL_MPIEXEC", "mpirun;--oversubscribe;--allow-run-as-root").split(";") if a]
TMP = os.environ.get("MESL_TMP", tempfile.gettempdir())

# A small, fast run: the CNN on synthetic 28x28 data, one thread per rank.
SMALL = ["--model", "cnn", "--dataset", "synthetic", "--synthetic-train", "256", "--synthetic-test", "64",
         "--batch-size", "32", "--epochs", "1", "--lr", "0.05", "--threads", "1"]

# What must never appear in the output of a failing run.
RAW_FAILURES = ("terminate called", "Traceback", "Segmentation fault", "core dumped", "Exception raised from",
                "AddressSanitizer", "runtime error:", "LeakSanitizer", "what():")


class Result:
    """A finished process: exit code, output, peak resident memory (bytes) and wall seconds."""

    def __init__(self, args, returncode, stdout, stderr, peak_rss, seconds):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.peak_rss, self.seconds = peak_rss, seconds

    def error_lines(self):
        return [line for line in self.stderr.splitlines() if line.startswith("mesl: error:")]

    def __str__(self):
        return (f"{' '.join(self.args)}\nexit code {self.returncode} after {self.seconds:.1f} s\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")


def run(args, timeout=120, env=None):
    """Runs a command to its end and returns a Result; kills it (and fails) when it outlives `timeout`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, start_new_session=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                raise AssertionError(f"{' '.join(args)} did not end within {timeout} s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(list(args), proc.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), usage.ru_maxrss * 1024, time.monotonic() - start)


def mesl(*args, timeout=120):
    return run([MESL] + [str(a) for a in args], timeout=timeout)


def mpirun(ranks, args, timeout=180):
    return run(MPIEXEC + ["-n", str(ranks), MESL] + [str(a) for a in args], timeout=timeout)


def scratch(test, name):
    """A fresh directory under MESL_TMP, removed when the test ends."""
    os.makedirs(TMP, exist_ok=True)
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    test.addCleanup(shutil.rmtree, d, ignore_errors=True)
    return d


class CliTestCase(unittest.TestCase):
    def assert_clean_failure(self, r, code, *texts, lines=1):
        """A one-line error with the given exit code (1 or 2) that mentions every one of `texts`."""
        self.assertGreaterEqual(r.returncode, 0, f"killed by a signal:\n{r}")
        self.assertEqual(r.returncode, code, str(r))
        for raw in RAW_FAILURES:
            self.assertNotIn(raw, r.stderr + r.stdout, str(r))
        errors = r.error_lines()
        self.assertEqual(len(errors), lines, f"expected {lines} error line(s):\n{r}")
        if lines == 1:
            # A single process says one thing: nothing else on stderr either.
            self.assertEqual(r.stderr.strip().splitlines(), errors, str(r))
        for text in texts:
            self.assertTrue(any(text in e for e in errors), f"no error line mentions {text!r}:\n{r}")
        for e in errors:
            self.assertFalse(e.endswith("."), f"messages have no trailing period: {e!r}")
        return errors
