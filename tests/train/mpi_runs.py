"""Runs `mesl train` under mpirun for the integration tests and checks what it wrote.

Environment (set by CTest): MESL (the executable), MESL_MPIEXEC (mpirun with the flags this machine needs,
separated by ';'), MESL_TMP (a scratch directory). The processes are started by the one harness of the Python
tests, tests/reliability/harness.py (a timeout that kills the whole process group, never a hang).
"""
import json
import math
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "reliability"))
from harness import MESL, MPIEXEC, TMP, run  # noqa: E402  (after the path it is found on)

# A small, fast, learnable configuration: the CNN on synthetic 28x28 data.
SMALL = ["--model", "cnn", "--dataset", "synthetic", "--synthetic-train", "768", "--synthetic-test", "256",
         "--batch-size", "32", "--epochs", "2", "--lr", "0.05", "--threads", "1", "--quiet", "--timeout-s", "60"]


def scratch(name):
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    return d


def mpirun(ranks, args, timeout=240, env=None):
    """Runs mesl train on `ranks` ranks; returns the harness's Result (returncode, stdout, stderr; a non-zero exit
    is not raised). `env` replaces the environment of mpirun (and so of the ranks)."""
    return run(MPIEXEC + ["-n", str(ranks), MESL, "train"] + [str(a) for a in args], timeout=timeout, env=env)


def local(args, timeout=240):
    return run([MESL, "train", "--topology", "local"] + [str(a) for a in args], timeout=timeout)


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def read_run(path):
    with h5py.File(path, "r") as f:
        run = {"attrs": {k: attr(f, k) for k in f.attrs},
               "steps": {k: f["steps"][k][:] for k in f["steps"]},
               "epochs": {k: f["epochs"][k][:] for k in f["epochs"]},
               "messages": {},
               "clients": {k: f["clients"][k][:] for k in f["clients"]} if "clients" in f else {}}
        types = [t.decode() if isinstance(t, bytes) else t for t in f["messages/type"][:]]
        for i, t in enumerate(types):
            run["messages"][t] = {k: int(f["messages"][k][i]) for k in ("count", "bytes", "header_bytes")}
    run["config"] = json.loads(run["attrs"]["config"])
    return run


def codec_payload_bytes(spec, shape):
    """The exact payload size of docs/codecs.md / docs/wire-format.md for a tensor of `shape` (batch scope)."""
    method, _, rest = spec.partition(":")
    opts = dict(kv.split("=") for kv in rest.split(",")) if rest else {}
    d = int(np.prod(shape))
    header = 36 + 8 * len(shape) + (8 if method == "qu" else 0)
    if method == "identity":
        return header + 4 * d
    if method in ("fp16", "bf16"):
        return header + 2 * d
    if method == "qu":
        return header + (d * int(opts["bits"]) + 7) // 8
    k = math.floor(float(opts["keep"]) * d * (1 + 1e-12)) if "keep" in opts else int(opts["k"])
    if method == "ms":
        return header + (d * int(opts["bits"]) + 7) // 8 + 4 * k
    if opts.get("positions") == "kv":
        return header + 8 * k
    return header + (d + 7) // 8 + 4 * k


def check_consistent(test, run):
    """Every dataset of a table has one length; byte totals reconcile with the steps and the codec formula."""
    steps, epochs = run["steps"], run["epochs"]
    test.assertEqual(len({len(v) for v in steps.values()}), 1, "steps columns differ in length")
    test.assertEqual(len({len(v) for v in epochs.values()}), 1, "epochs columns differ in length")
    for name in ("step", "epoch", "round", "client", "batch_size", "loss", "fwd_bytes", "bwd_bytes", "encode_s",
                 "decode_s", "compute_s", "comm_s", "rel_error"):
        test.assertIn(name, steps)
    for name in ("epoch", "train_loss", "test_acc1", "test_acc5", "fwd_bytes", "bwd_bytes", "model_bytes", "wall_s",
                 "link_s"):
        test.assertIn(name, epochs)
    test.assertEqual(sorted(steps["step"].tolist()), list(range(len(steps["step"]))))
    # Forward bytes: the sum of the steps, the last epoch's cumulative count and the message totals agree, and each
    # step's payload is exactly the codec's formula for its batch.
    total_fwd = int(steps["fwd_bytes"].sum())
    test.assertEqual(total_fwd, int(epochs["fwd_bytes"][-1]))
    test.assertEqual(total_fwd, run["messages"]["fwd"]["bytes"])
    test.assertEqual(int(steps["bwd_bytes"].sum()), int(epochs["bwd_bytes"][-1]))
    cut_shape = [int(x) for x in run["attrs"]["cut_shape"]]
    spec = run["attrs"]["codec"]
    for b, fwd in zip(steps["batch_size"], steps["fwd_bytes"]):
        test.assertEqual(int(fwd), codec_payload_bytes(spec, [int(b)] + cut_shape))
    for b, bwd in zip(steps["batch_size"], steps["bwd_bytes"]):
        test.assertEqual(int(bwd), codec_payload_bytes(run["attrs"]["grad_codec"], [int(b)] + cut_shape))


def check_learns(test, run, chance=0.1):
    epochs = run["epochs"]
    test.assertGreater(epochs["test_acc1"][-1], 3 * chance, "accuracy should be far above chance")
    first, last = run["steps"]["loss"][:10].mean(), run["steps"]["loss"][-10:].mean()
    test.assertLess(last, 0.7 * first, "the training loss should fall")
