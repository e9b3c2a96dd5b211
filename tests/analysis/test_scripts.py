"""The scripts as a user runs them: executable by their path, and a missing Python module (another interpreter than
Debian's, or a package not installed) is one line naming the Debian package, never a traceback. Also the budget as
legends write it."""
import os
import subprocess
import sys
from unittest import mock

from meslfiles import ANALYSIS_DIR, PYTHON, TempDirTest, write_errors, write_run  # first: finds analysis/

import meslneeds
from mesllabel import format_bpe, run_labels
from meslrun import load_runs

SCRIPTS = ("summary.py", "traffic.py", "plot.py", "errors.py")
# A module stands in for a missing one: importing it raises what Python raises for a module that is not installed.
STAND_IN = 'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n'


class Scripts(TempDirTest):
    def run_script(self, script, args, hide=None):
        """Runs analysis/SCRIPT by its path (its #! line picks the interpreter); `hide` makes a module missing."""
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        env.pop("MESL_ANALYSIS_DEBUG", None)
        if hide:
            stand_in = self.path(f"hide-{hide}")
            os.makedirs(os.path.join(stand_in, hide), exist_ok=True)
            with open(os.path.join(stand_in, hide, "__init__.py"), "w") as stream:
                stream.write(STAND_IN.format(name=hide))
            env["PYTHONPATH"] = stand_in
        else:
            env.pop("PYTHONPATH", None)
        return subprocess.run([os.path.join(ANALYSIS_DIR, script)] + list(args), capture_output=True, text=True,
                              env=env, cwd=self.dir, timeout=120)

    def assert_missing(self, result, script, module, printed_first=False):
        """`printed_first`: the script prints its tables before the module is first needed (errors.py)."""
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        if not printed_first:
            self.assertEqual(result.stdout, "")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertEqual(lines[0], f"{script}: error: Python module '{module}' not found: install Debian's "
                                   f"python3-{module} (apt-get install python3-{module})")

    def test_executable_by_path(self):
        for script in SCRIPTS:
            with self.subTest(script=script):
                path = os.path.join(ANALYSIS_DIR, script)
                self.assertTrue(os.access(path, os.X_OK), f"{path} is not executable")
                with open(path) as stream:
                    self.assertEqual(stream.readline(), f"#!{PYTHON}\n")
                result = self.run_script(script, ["--help"])
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(f"usage: {script}", result.stdout)

    def test_numpy_missing(self):  # imported when the scripts load
        for script in SCRIPTS:
            with self.subTest(script=script):
                self.assert_missing(self.run_script(script, ["any.h5"], hide="numpy"), script, "numpy")

    def test_h5py_missing(self):  # imported on first use: the script reads its input files
        run = write_run(self.path("run.h5"), [0.5, 0.6])
        for script in ("summary.py", "traffic.py", "plot.py"):
            with self.subTest(script=script):
                args = [run] + (["--out", self.path("out")] if script == "plot.py" else [])
                self.assert_missing(self.run_script(script, args, hide="h5py"), script, "h5py")

    def test_matplotlib_missing(self):  # imported when the first figure is drawn
        run = write_run(self.path("run.h5"), [0.5, 0.6])
        errors = write_errors(self.path("errors.h5"), [("ms", "ms:keep=0.01,bits=2", 2.32, 2.32, 10, 0.1, 0.01, 100)])
        for script, path in (("plot.py", run), ("errors.py", errors)):
            with self.subTest(script=script):
                result = self.run_script(script, [path, "--out", self.path("out")], hide="matplotlib")
                self.assert_missing(result, script, "matplotlib", printed_first=script == "errors.py")
                self.assertFalse(os.path.exists(self.path("out/plot.png")))

    def test_another_interpreter_is_named_with_the_command_to_use(self):
        error = ModuleNotFoundError("No module named 'h5py.h5'", name="h5py.h5")
        with mock.patch.object(sys, "executable", "/opt/conda/bin/python3"), \
                mock.patch.object(sys, "argv", ["/home/me/mesl/analysis/summary.py"]):
            message = meslneeds.missing_module_message(error)
        self.assertEqual(message, "Python module 'h5py' not found by /opt/conda/bin/python3: run the script as "
                                  "printed (analysis/summary.py, which starts /usr/bin/python3) or as "
                                  "/usr/bin/python3 analysis/summary.py, and install Debian's python3-h5py "
                                  "(apt-get install python3-h5py)")

    def test_other_modules_are_not_taken_for_missing_packages(self):
        self.assertIsNone(meslneeds.missing_module_message(ModuleNotFoundError("No module named 'x'", name="x")))
        self.assertIsNone(meslneeds.missing_module_message(ModuleNotFoundError("no name")))


class Budgets(TempDirTest):
    def test_format_bpe(self):
        for value, text in ((2.3199994, "2.32"), (2.32, "2.32"), (4.6000001, "4.6"), (16.0, "16"), (32, "32"),
                            (0.0, "0"), (10.556, "10.56"), (float("nan"), "?"), (None, "?")):
            with self.subTest(value=value):
                self.assertEqual(format_bpe(value), text)

    def test_legend_writes_the_budget_as_people_do(self):
        paths = [write_run(self.path("ms.h5"), [0.5], method="ms", extra_attrs={"bpe": 2.3199994}),
                 write_run(self.path("sp.h5"), [0.5], method="sp", extra_attrs={"bpe": 2.3200004})]
        labels = run_labels(load_runs(paths))
        self.assertEqual(sorted(labels), ["ms 2.32 bpe", "sp 2.32 bpe"])
