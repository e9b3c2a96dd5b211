"""Hand-made mesl files for the analysis tests, in the layout of include/mesl/metrics/run_writer.h, plus helpers
to run the scripts in-process or as programs."""
import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

ANALYSIS_DIR = os.environ.get("MESL_ANALYSIS_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "analysis")
PYTHON = "/usr/bin/python3"
if os.path.realpath(ANALYSIS_DIR) not in map(os.path.realpath, sys.path):
    sys.path.insert(0, ANALYSIS_DIR)  # run outside CTest: the scripts' modules are importable all the same

EPOCH_COLUMNS = {"epoch": np.int64, "train_loss": np.float64, "test_acc1": np.float64, "test_acc5": np.float64,
                 "fwd_bytes": np.int64, "bwd_bytes": np.int64, "model_bytes": np.int64,
                 "control_bytes": np.int64, "wall_s": np.float64, "link_s": np.float64, "lr": np.float64,
                 "samples": np.int64, "train_s": np.float64}
STEP_COLUMNS = {"step": np.int64, "epoch": np.int64, "round": np.int64, "client": np.int64,
                "batch_size": np.int64, "loss": np.float64, "fwd_bytes": np.int64, "bwd_bytes": np.int64,
                "encode_s": np.float64, "decode_s": np.float64, "compute_s": np.float64, "comm_s": np.float64,
                "rel_error": np.float64}
MB = 1_000_000

# Nominal bits per element and codec spec of each method at the paper's 2.32-bpe budget.
SPECS = {
    "identity": (32.0, "identity"),
    "fp16": (16.0, "fp16"),
    "qu": (3.0, "qu:bits=3"),
    "sp": (2.32, "sp:keep=0.04125,positions=bitmap"),
    "rt": (2.32, "rt:keep=0.04125,positions=bitmap,alpha=0.1"),
    "ms": (2.32, "ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch"),
}


def _string(value, as_bytes):
    return np.bytes_(value.encode()) if as_bytes else value


def write_run(path, acc, fwd_mb=None, method="identity", dataset="fashion-mnist", model="cnn", cut=2,
              cut_preset="shallow", topology="sequential", clients=10, seed=1, loss=None, bwd_mb=None,
              model_mb=None, link_s=None, wall_s=None, extra_attrs=None, extra_columns=None, strings_as_bytes=False,
              omit_attrs=(), steps_per_epoch=2):
    """A run file with one /epochs row per value of `acc` (test_acc1 fractions). Byte columns are cumulative and
    given in MB (10^6 bytes); by default fwd grows by 100 MB, bwd by 50 MB and model by 10 MB per epoch."""
    n = len(acc)
    fwd_mb = [100 * (i + 1) for i in range(n)] if fwd_mb is None else fwd_mb
    bwd_mb = [50 * (i + 1) for i in range(n)] if bwd_mb is None else bwd_mb
    model_mb = [10 * (i + 1) for i in range(n)] if model_mb is None else model_mb
    epochs = {
        "epoch": np.arange(n),
        "train_loss": np.asarray(loss if loss is not None else [2.0 / (i + 1) for i in range(n)]),
        "test_acc1": np.asarray(acc, dtype=np.float64),
        "test_acc5": np.minimum(1.0, np.asarray(acc, dtype=np.float64) + 0.1),
        "fwd_bytes": np.round(np.asarray(fwd_mb, dtype=np.float64) * MB),
        "bwd_bytes": np.round(np.asarray(bwd_mb, dtype=np.float64) * MB),
        "model_bytes": np.round(np.asarray(model_mb, dtype=np.float64) * MB),
        "control_bytes": np.arange(1, n + 1) * 1000,
        "wall_s": np.asarray(wall_s if wall_s is not None else [12.5 * (i + 1) for i in range(n)]),
        "link_s": np.asarray(link_s if link_s is not None else [8.0 * (i + 1) for i in range(n)]),
        "lr": np.full(n, 0.1),
        "samples": np.full(n, 60000),
        "train_s": np.asarray([10.0] * n),
    }
    bpe, codec = SPECS.get(method, (8.0, method))
    config = {"method": method, "codec": codec, "model": model, "dataset": dataset, "cut": cut,
              "topology": topology, "clients": clients, "seed": seed}
    attrs = {"config": json.dumps(config), "version": "0.1.0", "cut_shape": np.array([32, 14, 14], np.int64),
             "start_time": "2024-05-01T12:00:00Z", "world_size": clients + 1, "hosts": json.dumps(["node1"]),
             "method": method, "codec": codec, "grad_codec": "identity", "model": model, "dataset": dataset,
             "topology": topology, "cut_preset": cut_preset, "partition": "iid", "cut": cut, "clients": clients,
             "seed": seed, "epochs": 5, "batch_size": 64, "bpe": bpe, "lr": 0.1}
    attrs.update(extra_attrs or {})
    with h5py.File(path, "w") as f:
        for key, value in attrs.items():
            if key in omit_attrs:
                continue
            if isinstance(value, str):
                value = _string(value, strings_as_bytes)
            elif isinstance(value, int):
                value = np.int64(value)
            elif isinstance(value, float):
                value = np.float64(value)
            f.attrs[key] = value
        group = f.create_group("epochs")
        for name, dtype in EPOCH_COLUMNS.items():
            group.create_dataset(name, data=np.asarray(epochs[name]).astype(dtype), maxshape=(None,),
                                 chunks=(1024,))
        for name, values in (extra_columns or {}).items():
            group.create_dataset(name, data=np.asarray(values))
        steps = f.create_group("steps")
        rows = n * steps_per_epoch
        for name, dtype in STEP_COLUMNS.items():
            data = np.arange(rows) // steps_per_epoch if name == "epoch" else np.arange(rows)
            steps.create_dataset(name, data=data.astype(dtype), maxshape=(None,), chunks=(1024,))
        messages = f.create_group("messages")
        messages.create_dataset("type", data=np.array(["fwd", "bwd"], dtype=h5py.string_dtype()))
        messages.create_dataset("count", data=np.array([rows, rows], np.int64))
        messages.create_dataset("bytes", data=np.array([epochs["fwd_bytes"][-1] if n else 0,
                                                        epochs["bwd_bytes"][-1] if n else 0], np.int64))
        messages.create_dataset("header_bytes", data=np.array([rows * 40, rows * 40], np.int64))
    return path


def write_errors(path, rows, model="cnn", dataset="fashion-mnist", cut=2, samples=512, vlen=True):
    """A `mesl errors` file; rows = [(method, spec, budget, bpe, k, rel_error, rel_error_std, payload_bytes)]."""
    columns = list(zip(*rows)) if rows else [[]] * 8
    string = h5py.string_dtype() if vlen else "S64"
    with h5py.File(path, "w") as f:
        f.attrs["model"] = model
        f.attrs["dataset"] = dataset
        f.attrs["cut"] = np.int64(cut)
        f.attrs["cut_shape"] = np.array([32, 14, 14], np.int64)
        f.attrs["samples"] = np.int64(samples)
        f.attrs["config"] = json.dumps({"model": model})
        group = f.create_group("errors")
        group.create_dataset("method", data=np.array([str(v).encode() for v in columns[0]], dtype=string))
        group.create_dataset("spec", data=np.array([str(v).encode() for v in columns[1]], dtype=string))
        for index, (name, dtype) in enumerate((("budget", np.float64), ("bpe", np.float64), ("k", np.int64),
                                               ("rel_error", np.float64), ("rel_error_std", np.float64),
                                               ("payload_bytes", np.float64)), start=2):
            group.create_dataset(name, data=np.asarray(columns[index], dtype=dtype))
    return path


class TempDirTest(unittest.TestCase):
    """A test case with a fresh directory under /tmp, removed afterwards."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mesl-analysis-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)


def run_in_process(module, args):
    """Runs SCRIPT.main through the scripts' error wrapper; returns (status, stdout, stderr)."""
    import meslcli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = meslcli.run_main(module.__name__ + ".py", module.main, args)
        except SystemExit as exit_:  # argparse
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def run_program(script, args, cwd=None):
    """Runs analysis/SCRIPT as its own process with /usr/bin/python3; returns the CompletedProcess."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("MESL_ANALYSIS_DEBUG", None)
    return subprocess.run([PYTHON, os.path.join(ANALYSIS_DIR, script)] + list(args), capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def tables(text):
    """The aligned tables printed by a script, as [(header cells, [row cells, ...])]: a table is a header line, a
    rule of dashes ('----  ---') and rows up to the next blank line or a line ending in ":"; cells are split on
    2+ spaces."""
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        if index == 0 or not re.fullmatch(r"-+( +-+)*", line.strip()):
            continue
        rows = []
        for row in lines[index + 1:]:
            if not row.strip() or row.rstrip().endswith(":"):
                break
            rows.append(re.split(r" {2,}", row.strip()))
        found.append((re.split(r" {2,}", lines[index - 1].strip()), rows))
    return found


def table_dict(text, which=0, key=0):
    """Table number `which` as {row[key]: {header: cell}}."""
    header, rows = tables(text)[which]
    return {row[key]: dict(zip(header, row)) for row in rows}


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


if __name__ == "__main__":
    sys.exit("this module is a helper of the analysis tests")
