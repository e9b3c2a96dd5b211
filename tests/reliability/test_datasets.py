"""Datasets that are missing, truncated or mislabelled: `mesl train` stops with exit code 1 and one line naming the
file and the fix, before any training (no epoch line, no metrics file). The tests write small IDX and CIFAR files.
A missing directory is a data error (exit code 1), like a missing file in it."""
import gzip
import os
import struct
import unittest

import numpy as np

from harness import CliTestCase, mesl, mpirun, scratch

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def idx_images(n, side=28, magic=0x803, count=None):
    rng = np.random.default_rng(n)
    return struct.pack(">IIII", magic, n if count is None else count, side, side) + \
        rng.integers(0, 256, n * side * side, dtype=np.uint8).tobytes()


def idx_labels(n, magic=0x801, count=None, labels=None):
    labels = np.arange(n) % 10 if labels is None else np.asarray(labels)
    return struct.pack(">II", magic, n if count is None else count) + labels.astype(np.uint8).tobytes()


def write_idx(d, n_train=40, n_test=20, gz=False, **replace):
    """A valid MNIST-shaped IDX set in `d`; `replace` maps a file name to other bytes."""
    files = {IDX_FILES[0]: idx_images(n_train), IDX_FILES[1]: idx_labels(n_train),
             IDX_FILES[2]: idx_images(n_test), IDX_FILES[3]: idx_labels(n_test)}
    files.update({k.replace("_", "-"): v for k, v in replace.items()})
    for name, data in files.items():
        if data is None:
            continue
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


def cifar_records(n, label_bytes=1, classes=10, labels=None):
    rng = np.random.default_rng(n)
    rec = np.zeros((n, label_bytes + 3072), np.uint8)
    rec[:, label_bytes - 1] = np.arange(n) % classes if labels is None else labels
    rec[:, label_bytes:] = rng.integers(0, 256, (n, 3072))
    return rec.tobytes()


def write_cifar10(d, **replace):
    for name in CIFAR10_FILES:
        data = replace.get(name.replace(".", "_"), cifar_records(10))
        if data is not None:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


class BadDatasets(CliTestCase):
    def train(self, dataset, data_dir, *extra):
        out = os.path.join(scratch(self, "data-out"), "run.h5")
        r = mesl("train", "--topology", "local", "--model", "cnn", "--dataset", dataset, "--data-dir", data_dir,
                 "--batch-size", "10", "--epochs", "1", "--threads", "1", "--output", out, *extra)
        return r, out

    def expect(self, dataset, data_dir, *texts, code=1):
        r, out = self.train(dataset, data_dir)
        self.assert_clean_failure(r, code, *texts)
        self.assertNotIn("epoch 1/1", r.stdout, "no training may start on a bad dataset")
        self.assertFalse(os.path.exists(out), f"no metrics file for a run that never started:\n{r}")
        return r

    def test_valid_sets_train(self):
        # The writers below produce sets the product accepts, so the failures are due to the one defect each.
        for name, write, dataset in (("idx", write_idx, "mnist"), ("idx-gz", lambda d: write_idx(d, gz=True), "mnist"),
                                     ("cifar", write_cifar10, "cifar10")):
            with self.subTest(name):
                d = scratch(self, name)
                write(d)
                r, out = self.train(dataset, d, "--quiet")
                self.assertEqual(r.returncode, 0, str(r))
                self.assertTrue(os.path.exists(out))

    def test_missing_directory(self):
        d = os.path.join(scratch(self, "missing"), "mnist")
        self.expect("mnist", d, d, "does not exist", "--data-dir")
        self.expect("cifar10", d, d, "does not exist", "--data-dir")
        self.expect("cifar100", d, d, "does not exist")

    def test_missing_file(self):
        d = scratch(self, "idx-missing-file")
        write_idx(d, t10k_labels_idx1_ubyte=None)
        self.expect("mnist", d, "missing file", "t10k-labels-idx1-ubyte")
        d = scratch(self, "cifar-missing-file")
        write_cifar10(d, data_batch_3_bin=None)
        self.expect("cifar10", d, "missing file", "data_batch_3.bin")

    def test_truncated_idx(self):
        full = idx_images(40)
        for cut, text in ((10, "truncated"), (16 + 28 * 28 * 3 + 5, "truncated")):
            with self.subTest(cut=cut):
                d = scratch(self, "idx-truncated")
                write_idx(d, train_images_idx3_ubyte=full[:cut])
                self.expect("mnist", d, "train-images-idx3-ubyte", text)
        d = scratch(self, "idx-labels-truncated")
        write_idx(d, train_labels_idx1_ubyte=idx_labels(40)[:30])
        self.expect("mnist", d, "train-labels-idx1-ubyte", "truncated")
        d = scratch(self, "idx-gz-truncated")
        write_idx(d, gz=True)
        path = os.path.join(d, "t10k-images-idx3-ubyte.gz")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        self.expect("mnist", d, "t10k-images-idx3-ubyte.gz")

    def test_mislabelled_idx(self):
        cases = {
            "labels in place of images": ({"train_images_idx3_ubyte": idx_labels(40)}, "not an IDX image file"),
            "images in place of labels": ({"t10k_labels_idx1_ubyte": idx_images(20)}, "not an IDX label file"),
            "label out of range": ({"train_labels_idx1_ubyte": idx_labels(40, labels=[3] * 39 + [12])},
                                   "label 12 at index 39"),
            "counts disagree": ({"t10k_labels_idx1_ubyte": idx_labels(19)}, "do not belong together"),
            "not 28x28": ({"train_images_idx3_ubyte": idx_images(40, side=32)}, "32x32"),
            "trailing bytes": ({"train_images_idx3_ubyte": idx_images(40) + b"\0" * 7}, "header implies"),
        }
        for name, (replace, text) in cases.items():
            with self.subTest(name):
                d = scratch(self, "idx-bad")
                write_idx(d, **replace)
                self.expect("mnist", d, text)

    def test_truncated_and_mislabelled_cifar(self):
        cases = {
            "truncated": ({"data_batch_2_bin": cifar_records(10)[:-100]}, "data_batch_2.bin is truncated"),
            "empty": ({"test_batch_bin": b""}, "test_batch.bin is empty"),
            "label out of range": ({"data_batch_5_bin": cifar_records(10, labels=[1] * 9 + [10])},
                                   "label 10 of record 9"),
            "cifar-100 records": ({"data_batch_1_bin": cifar_records(10, label_bytes=2)}, "truncated"),
        }
        for name, (replace, text) in cases.items():
            with self.subTest(name):
                d = scratch(self, "cifar-bad")
                write_cifar10(d, **replace)
                self.expect("cifar10", d, text)
        d = scratch(self, "cifar100-bad")
        for name in ("train.bin", "test.bin"):
            with open(os.path.join(d, name), "wb") as f:
                f.write(cifar_records(10, label_bytes=2, classes=100, labels=[5] * 9 + [100]))
        self.expect("cifar100", d, "label 100 of record 9")



class BadDatasetUnderMpirun(CliTestCase):
    def test_mislabelled_idx(self):
        # Under MPI every rank checks the dataset; the job still ends with an error naming the file, and no rank
        # is left behind (mpirun returns).
        d = scratch(self, "mpi-bad")
        write_idx(d, train_labels_idx1_ubyte=idx_labels(40, labels=[3] * 39 + [12]))
        out = os.path.join(d, "run.h5")
        r = mpirun(3, ["train", "--model", "cnn", "--dataset", "mnist", "--data-dir", d, "--batch-size", "10",
                       "--epochs", "1", "--threads", "1", "--output", out])
        self.assertEqual(r.returncode, 1, str(r))
        errors = r.error_lines()
        self.assertEqual(len(errors), 1, str(r))
        self.assertIn("label 12 at index 39", errors[0])
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
