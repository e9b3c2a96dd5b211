"""Reads the file written by metrics_sample_run with h5py, as users and analysis/ do, and checks its layout.

Usage: /usr/bin/python3 check_run_file.py PATH [DOC] (exits non-zero with a message on the first mismatch). With DOC
(docs/hdf5-layout.md), the reading example of that document is run on PATH too, so that the example keeps working."""
import json
import re
import sys

import h5py
import numpy as np
import pandas as pd

STEP_COLUMNS = ["step", "epoch", "round", "client", "batch_size", "loss", "fwd_bytes", "bwd_bytes", "encode_s",
                "decode_s", "compute_s", "comm_s", "rel_error"]
EPOCH_COLUMNS = ["epoch", "train_loss", "test_acc1", "test_acc5", "fwd_bytes", "bwd_bytes", "model_bytes",
                 "control_bytes", "wall_s", "link_s", "lr", "samples", "train_s", "participants"]
FLOAT_STEP_COLUMNS = {"loss", "encode_s", "decode_s", "compute_s", "comm_s", "rel_error"}
INT_EPOCH_COLUMNS = {"epoch", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes", "samples", "participants"}
CLIENT_COLUMNS = ["client", "rank", "shard_size", "steps", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes",
                  "rounds"]
RANK_COLUMNS = ["rank", "clients", "peak_rss_bytes", "state_peak_bytes", "states_held", "state_bytes", "spill_writes",
                "spill_reads", "spill_peak_bytes", "spill_s", "first_step_s"]


def check(condition, what):
    if not condition:
        sys.exit("check_run_file.py: " + what)


def main(path):
    with h5py.File(path, "r") as f:
        check(sorted(f["steps"]) == sorted(STEP_COLUMNS), "step columns: %s" % sorted(f["steps"]))
        check(sorted(f["epochs"]) == sorted(EPOCH_COLUMNS), "epoch columns: %s" % sorted(f["epochs"]))
        for name in STEP_COLUMNS:
            column = f["steps"][name]
            check(column.shape == (12,), "steps/%s has shape %s" % (name, column.shape))
            expected = np.float64 if name in FLOAT_STEP_COLUMNS else np.int64
            check(column.dtype == expected, "steps/%s has dtype %s" % (name, column.dtype))
            check(column.maxshape == (None,), "steps/%s is not extendable" % name)
        for name in EPOCH_COLUMNS:
            column = f["epochs"][name]
            check(column.shape == (3,), "epochs/%s has shape %s" % (name, column.shape))
            expected = np.int64 if name in INT_EPOCH_COLUMNS else np.float64
            check(column.dtype == expected, "epochs/%s has dtype %s" % (name, column.dtype))
        check(list(f["steps/step"][:]) == list(range(12)), "steps/step: %s" % f["steps/step"][:])
        check(list(f["epochs/epoch"][:]) == [0, 1, 2], "epochs/epoch: %s" % f["epochs/epoch"][:])

        attrs = f.attrs
        for name in ("config", "version", "start_time", "hosts", "method", "codec", "model", "dataset", "topology"):
            check(isinstance(attrs[name], str), "attribute %s is %r, not str" % (name, type(attrs[name])))
        config = json.loads(attrs["config"])
        check(config["method"] == "ms" and config["epochs"] == 3, "config: %s" % config)
        check(config["note"] == 'a "quoted" \u03bc', "config note: %r" % config["note"])
        check(json.loads(attrs["hosts"]) == ["node-1", 'node "2"\\x'], "hosts: %s" % attrs["hosts"])
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attrs["start_time"]), attrs["start_time"])
        check(list(attrs["cut_shape"]) == [64, 16, 16] and attrs["cut_shape"].dtype == np.int64, "cut_shape")
        check(int(attrs["world_size"]) == 11 and int(attrs["cut"]) == 2 and int(attrs["seed"]) == 1, "ints")
        check(float(attrs["bpe"]) == 2.32, "bpe: %s" % attrs["bpe"])

        messages = f["messages"]
        check(list(messages["type"].asstr()[:]) == ["fwd", "bwd", "model"], "messages/type")
        check(list(messages["count"][:]) == [12, 12, 2], "messages/count")
        check(list(messages["bytes"][:]) == [1234567, 7654321, 999], "messages/bytes")
        check(list(messages["header_bytes"][:]) == [480, 0, 0], "messages/header_bytes")

        # /clients: the last table written (after the third round); /participants: two per round, in order.
        clients = f["clients"]
        check(sorted(clients) == sorted(CLIENT_COLUMNS), "client columns: %s" % sorted(clients))
        for name in CLIENT_COLUMNS:
            check(clients[name].dtype == np.int64 and clients[name].shape == (5,), "clients/%s" % name)
        check(list(clients["client"][:]) == [1, 2, 3, 4, 5], "clients/client")
        check(list(clients["rank"][:]) == [1, 1, 2, 2, 3], "clients/rank")
        check(list(clients["steps"][:]) == [30, 60, 90, 120, 150], "clients/steps")
        check(list(clients["control_bytes"][:]) == [4000, 8000, 12000, 16000, 20000], "clients/control_bytes")
        check(list(clients["rounds"][:]) == [3] * 5, "clients/rounds")
        check(list(f["participants/round"][:]) == [0, 0, 1, 1, 2, 2], "participants/round")
        check(list(f["participants/client"][:]) == [1, 3, 2, 4, 3, 5], "participants/client")
        check(list(f["epochs/participants"][:]) == [10, 13, 16], "epochs/participants")
        ranks = f["ranks"]
        check(sorted(ranks) == sorted(RANK_COLUMNS), "rank columns: %s" % sorted(ranks))
        check(list(ranks["rank"][:]) == [0, 1] and list(ranks["peak_rss_bytes"][:]) == [1 << 28, 2 << 28], "ranks")
        check(ranks["spill_s"].dtype == np.float64 and list(ranks["first_step_s"][:]) == [1.25, 2.25], "ranks/times")
        check(list(ranks["spill_peak_bytes"][:]) == [0, 1234], "ranks/spill_peak_bytes")
        check(list(ranks["state_bytes"][:]) == [0, 4321], "ranks/state_bytes")

    print("ok: %s" % path)


def run_doc_example(path, doc):
    """Runs the first Python block after the heading "Reading a metrics file in Python" with "run.h5" -> path."""
    text = open(doc, encoding="utf-8").read()
    section = text.split("### Reading a metrics file in Python", 1)
    check(len(section) == 2, "no reading example in %s" % doc)
    block = re.search(r"```python\n(.*?)```", section[1], re.S)
    check(block is not None, "no python block in the reading example")
    names = {}
    exec(block.group(1).replace('"run.h5"', repr(path)), names)  # pylint: disable=exec-used
    steps, epochs, messages = names["steps"], names["epochs"], names["messages"]
    check(isinstance(steps, pd.DataFrame) and len(steps) == 12, "example: steps")
    check(isinstance(epochs, pd.DataFrame) and len(epochs) == 3, "example: epochs")
    check(steps.groupby("epoch").size().to_dict() == {100 + i: 1 for i in range(12)}, "example: steps by epoch")
    check(abs(epochs["test_acc1"].iloc[-1] - 0.52) < 1e-12, "example: test_acc1 %s" % list(epochs["test_acc1"]))
    check(list(messages["type"]) == ["fwd", "bwd", "model"], "example: messages %s" % list(messages["type"]))
    check(names["config"]["method"] == "ms", "example: config")
    print("ok: the example of %s" % doc)


if __name__ == "__main__":
    main(sys.argv[1])
    if len(sys.argv) > 2:
        run_doc_example(sys.argv[1], sys.argv[2])
