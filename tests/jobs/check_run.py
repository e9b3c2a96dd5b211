"""Checks that a metrics file of a finished `mesl train` run is complete, as a resumed run's must be too.

Usage: /usr/bin/python3 check_run.py --epochs N [--method M] [--steps-per-epoch S] FILE...

Complete means: epochs 0..N-1 each exactly once; steps numbered 0..S-1 without gaps or duplicates, in epoch order;
every epoch with the same number of steps (a resumed run that repeated or skipped a part of an epoch has a different
count there). With --method, the run's codec method attribute must be M. Exits non-zero naming the first mismatch.
"""
import argparse
import sys

import h5py
import numpy as np


def fail(path, what):
    sys.exit("check_run.py: %s: %s" % (path, what))


def check(path, epochs, method, steps_per_epoch):
    with h5py.File(path, "r") as f:
        epoch_ids = f["epochs/epoch"][:]
        if list(epoch_ids) != list(range(epochs)):
            fail(path, "epochs/epoch is %s, not 0..%d once each" % (list(epoch_ids), epochs - 1))
        step = f["steps/step"][:]
        step_epoch = f["steps/epoch"][:]
        if len(step) == 0:
            fail(path, "no steps")
        if not np.array_equal(step, np.arange(len(step))):
            repeated = sorted(set(s for s in step if (step == s).sum() > 1))
            missing = sorted(set(range(int(step.max()) + 1)) - set(step.tolist()))
            fail(path, "steps/step is not 0..%d: repeated %s, missing %s" % (len(step) - 1, repeated[:10], missing[:10]))
        if np.any(np.diff(step_epoch) < 0):
            fail(path, "steps/epoch goes back")
        counts = np.bincount(step_epoch, minlength=epochs)
        if len(counts) != epochs or len(set(counts.tolist())) != 1:
            fail(path, "steps per epoch differ: %s" % counts.tolist())
        if steps_per_epoch is not None and counts[0] != steps_per_epoch:
            fail(path, "%d steps per epoch, expected %d" % (counts[0], steps_per_epoch))
        for name in ("train_loss", "test_acc1"):
            if not np.all(np.isfinite(f["epochs"][name][:])):
                fail(path, "epochs/%s is not finite: %s" % (name, f["epochs"][name][:]))
        if method is not None and f.attrs["method"] != method:
            fail(path, "method attribute is %r, expected %r" % (f.attrs["method"], method))
        print("ok: %s: %d epochs, %d steps, method %s" % (path, epochs, len(step), f.attrs["method"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--method")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    for path in args.files:
        check(path, args.epochs, args.method, args.steps_per_epoch)


if __name__ == "__main__":
    main()
