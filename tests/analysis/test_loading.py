"""meslrun and mesllabel: reading run and errors files tolerantly, finding inputs, labels."""
import os
import subprocess
import unittest

from meslfiles import PYTHON, TempDirTest, write_errors, write_run  # first: finds analysis/

import h5py
import numpy as np

from mesllabel import format_number, parse_codec_spec
from meslrun import (MeslDataError, as_frame, expand_inputs, load_errors, load_run, select_runs)


class RunFiles(TempDirTest):
    def test_str_and_bytes_attributes_read_alike(self):
        as_str = load_run(write_run(self.path("s.h5"), [0.5], method="ms"))
        as_bytes = load_run(write_run(self.path("b.h5"), [0.5], method="ms", strings_as_bytes=True))
        for run in (as_str, as_bytes):
            self.assertEqual(run.method, "ms")
            self.assertEqual(run.codec, "ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch")
            self.assertEqual((run.dataset, run.model, run.topology, run.cut_preset), ("fashion-mnist", "cnn",
                                                                                      "sequential", "shallow"))
            self.assertEqual((run.cut, run.clients, run.seed), (2, 10, 1))
            self.assertEqual(run.bpe, 2.32)
            self.assertEqual(run.cut_shape, [32, 14, 14])
            self.assertEqual(run.hosts, ["node1"])
            self.assertEqual(run.config["method"], "ms")

    def test_extra_attributes_and_columns_are_kept(self):
        path = write_run(self.path("x.h5"), [0.5, 0.6], extra_attrs={"future_setting": "on"},
                         extra_columns={"test_loss": [1.5, 1.25], "note": [7]})
        with h5py.File(path, "a") as f:
            f["epochs"].create_dataset("confusion", data=np.zeros((2, 10, 10)))  # not a column: not 1-D
            f.create_group("profile").create_dataset("x", data=[1])             # a group this code does not know
        run = load_run(path)
        self.assertEqual(run.attrs["future_setting"], "on")
        self.assertEqual(list(run.column("test_loss")), [1.5, 1.25])
        self.assertEqual(run.epochs_done, 2)            # the foreign short dataset does not cut the table
        self.assertNotIn("note", run.epochs)
        self.assertNotIn("confusion", run.epochs)

    def test_missing_optional_column_reads_as_nan(self):
        path = write_run(self.path("m.h5"), [0.5, 0.6])
        with h5py.File(path, "a") as f:
            del f["epochs/link_s"]
        run = load_run(path)
        self.assertEqual(run.epochs_done, 2)
        self.assertTrue(np.isnan(run.column("link_s")).all())
        self.assertTrue(np.isnan(run.last("link_s")))

    def test_missing_required_column_is_refused(self):
        path = write_run(self.path("r.h5"), [0.5])
        with h5py.File(path, "a") as f:
            del f["epochs/test_acc1"]
        with self.assertRaisesRegex(MeslDataError, r"r\.h5: not a mesl run file \(/epochs has no column test_acc1\)"):
            load_run(path)

    def test_columns_of_unequal_length_are_cut_to_the_shortest(self):
        # What a reader may see while the writer is between two columns of a flush.
        path = write_run(self.path("u.h5"), [0.5, 0.6, 0.7])
        with h5py.File(path, "a") as f:
            f["epochs/test_acc1"].resize((4,))
            f["epochs/test_acc1"][3] = 0.8
            f["epochs/wall_s"].resize((2,))
        run = load_run(path)
        self.assertEqual(run.epochs_done, 2)
        self.assertEqual(list(run.column("test_acc1")), [0.5, 0.6])

    def test_run_without_epochs_group(self):
        path = write_run(self.path("e.h5"), [0.5])
        with h5py.File(path, "a") as f:
            del f["epochs"]
        run = load_run(path)
        self.assertEqual(run.epochs_done, 0)
        self.assertTrue(np.isnan(run.final_acc1))
        self.assertEqual(run.best()[1], None)

    def test_config_stands_in_for_a_missing_attribute(self):
        run = load_run(write_run(self.path("c.h5"), [0.5], omit_attrs=("dataset", "cut"), cut=8))
        self.assertEqual((run.dataset, run.cut), ("fashion-mnist", 8))  # from the config JSON

    def test_one_element_arrays_count_as_scalars(self):
        run = load_run(write_run(self.path("a.h5"), [0.5], extra_attrs={"cut": np.array([15], np.int64),
                                                                       "bpe": np.array([2.32])}))
        self.assertEqual((run.cut, run.bpe), (15, 2.32))

    def test_best_is_the_first_epoch_at_the_maximum(self):
        for acc, best in (([0.5], (0.5, 1)), ([0.4, 0.8, 0.8, 0.7], (0.8, 2)), ([0.3, float("nan"), 0.2], (0.3, 1))):
            with self.subTest(acc=acc):
                self.assertEqual(load_run(write_run(self.path("b.h5"), acc)).best(), best)

    def test_cumulative_bytes(self):
        run = load_run(write_run(self.path("t.h5"), [0.5, 0.6, 0.7]))
        self.assertEqual(list(run.cumulative_bytes("fwd")), [100e6, 200e6, 300e6])
        self.assertEqual(list(run.cumulative_bytes("fwd+bwd")), [150e6, 300e6, 450e6])
        self.assertEqual(list(run.cumulative_bytes("all")), [160e6 + 1000, 320e6 + 2000, 480e6 + 3000])
        self.assertEqual(list(run.epoch_numbers()), [1, 2, 3])

    def test_steps_messages_and_frames(self):
        for epochs in (0, 1, 3):
            with self.subTest(epochs=epochs):
                run = load_run(write_run(self.path(f"s{epochs}.h5"), [0.5] * epochs, steps_per_epoch=3))
                steps = run.steps()
                self.assertEqual(len(steps["loss"]), 3 * epochs)
                self.assertEqual(list(steps["epoch"]), [i // 3 for i in range(3 * epochs)])
                messages = run.messages()
                self.assertEqual(list(messages["type"]), ["fwd", "bwd"])
                frame = as_frame(run.epochs)
                self.assertEqual(len(frame), epochs)
                self.assertIn("test_acc1", frame.columns)

    def test_file_held_open_by_a_writer_can_be_read(self):
        path = write_run(self.path("live.h5"), [0.5, 0.6])
        holder = subprocess.Popen(
            [PYTHON, "-c", "import sys, h5py; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); "
                           "sys.stdin.read()", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, HDF5_USE_FILE_LOCKING="TRUE"))  # the writer locks, as mesl's HDF5 does
        try:
            self.assertEqual(holder.stdout.readline().strip(), "open")
            self.assertEqual(load_run(path).epochs_done, 2)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()


class Inputs(TempDirTest):
    def test_files_globs_and_directories(self):
        a = write_run(self.path("a.h5"), [0.5])
        b = write_run(self.path("b.hdf5"), [0.5])
        os.mkdir(self.path("sub"))
        c = write_run(self.path(os.path.join("sub", "c.h5")), [0.5])
        self.assertEqual(expand_inputs([self.path("*.h5")]), [a])
        self.assertEqual(expand_inputs([self.dir]), [a, b])
        self.assertEqual(expand_inputs([b, self.dir, c]), [b, a, c])  # order kept, duplicates once
        with self.assertRaisesRegex(MeslDataError, "no files match"):
            expand_inputs([self.path("z*.h5")])
        with self.assertRaisesRegex(MeslDataError, "no such file"):
            expand_inputs([self.path("z.h5")])
        os.mkdir(self.path("empty"))
        with self.assertRaisesRegex(MeslDataError, "directory holds no .h5 or .hdf5 files"):
            expand_inputs([self.path("empty")])

    def test_where(self):
        runs = [load_run(write_run(self.path(f"{m}{c}.h5"), [0.5], method=m, cut=c))
                for m, c in (("identity", 2), ("ms", 2), ("ms", 8))]
        self.assertEqual([r.name for r in select_runs(runs, ["method=ms"])], ["ms2.h5", "ms8.h5"])
        self.assertEqual(len(select_runs(runs, [("cut", "2")])), 2)
        self.assertEqual(len(select_runs(runs, [("bpe", "2.320")])), 2)  # numbers compare by value
        with self.assertRaisesRegex(MeslDataError, r"no runs matched --where cut=15 \(of 3 loaded\)"):
            select_runs(runs, ["cut=15"])


class ErrorsFiles(TempDirTest):
    def test_vlen_and_fixed_strings_and_missing_optional_columns(self):
        rows = [("ms", "ms:keep=0.01,bits=2", 2.32, 2.32, 3, 0.1, 0.01, 100.0),
                ("qu", "qu:bits=2", 2.32, 2.0, 0, 0.2, 0.02, 80.0)]
        for vlen in (True, False):
            with self.subTest(vlen=vlen):
                path = write_errors(self.path(f"e{vlen}.h5"), rows, vlen=vlen)
                with h5py.File(path, "a") as f:
                    del f["errors/rel_error_std"]
                    del f["errors/spec"]
                errors = load_errors(path)
                records = errors.records()
                self.assertEqual([r["method"] for r in records], ["ms", "qu"])
                self.assertEqual([r["spec"] for r in records], ["ms", "qu"])  # the method stands in
                self.assertEqual([r["rel_error"] for r in records], [0.1, 0.2])
                self.assertTrue(np.isnan(records[0]["rel_error_std"]))
                self.assertEqual(errors.describe(), "model cnn, dataset fashion-mnist, cut 2 (32x14x14), 512 samples")


class Labels(unittest.TestCase):
    def test_parse_codec_spec(self):
        self.assertEqual(parse_codec_spec("ms:keep=0.01,bits=2"), ("ms", {"keep": "0.01", "bits": "2"}))
        self.assertEqual(parse_codec_spec("identity"), ("identity", {}))
        self.assertEqual(parse_codec_spec("sp:keep=0.1, kv"), ("sp", {"keep": "0.1", "kv": ""}))
        self.assertEqual(parse_codec_spec(""), ("", {}))

    def test_format_number(self):
        self.assertEqual([format_number(v) for v in (2.32, 32.0, 0.01, 0.1 + 0.2, 7, None, float("nan"))],
                         ["2.32", "32", "0.01", "0.3", "7", "?", "?"])


if __name__ == "__main__":
    unittest.main()
