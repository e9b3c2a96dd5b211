#!/usr/bin/python3
"""Checks data/pack_hdf5.py: packs a tiny ImageFolder tree and tiny CIFAR-10/100 files and reads the result back
with h5py. Usage: test_pack_hdf5.py PATH/TO/pack_hdf5.py (CTest passes it)."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from PIL import Image

SCRIPT = sys.argv[1]


def run(*args, ok=True):
    result = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    if ok and result.returncode != 0:
        raise AssertionError(f"pack_hdf5.py {' '.join(args)} failed:\n{result.stderr}")
    if not ok and result.returncode == 0:
        raise AssertionError(f"pack_hdf5.py {' '.join(args)} should have failed")
    return result


def check_set(folder, train_n, test_n, side, channels, classes):
    for name, count in (("train", train_n), ("test", test_n)):
        with h5py.File(os.path.join(folder, f"{name}.h5"), "r") as file:
            images, labels = file["images"], file["labels"]
            assert images.dtype == np.uint8, images.dtype
            assert images.shape == (count, side, side, channels), images.shape
            assert images.chunks is not None and images.chunks[1:] == (side, side, channels), images.chunks
            assert labels.shape == (count,) and labels.dtype.kind == "i", (labels.shape, labels.dtype)
            assert int(file.attrs["num_classes"]) == classes, file.attrs["num_classes"]
            assert len(file["class_names"]) == classes
            assert labels[:].min() >= 0 and labels[:].max() < classes


def test_imagefolder(tmp):
    root = os.path.join(tmp, "folder")
    colours = {"ant": (200, 10, 10), "bee": (10, 200, 10), "cat": (10, 10, 200)}
    sizes = [(40, 30), (20, 50), (16, 16)]
    for split, per_class in (("train", 3), ("val", 1)):
        for name, colour in colours.items():
            os.makedirs(os.path.join(root, split, name))
            for k in range(per_class):
                image = Image.new("RGB", sizes[k % len(sizes)], colour)
                image.save(os.path.join(root, split, name, f"{k}.png"))
        # Files that are not images are skipped.
        open(os.path.join(root, split, "ant", "notes.txt"), "w").close()
    out = os.path.join(tmp, "folder-h5")
    run("--source", "imagefolder", "--input", root, "--output", out, "--size", "12", "--workers", "2")
    check_set(out, 9, 3, 12, 3, 3)
    with h5py.File(os.path.join(out, "train.h5"), "r") as file:
        names = [n.decode() if isinstance(n, bytes) else n for n in file["class_names"][:]]
        assert names == ["ant", "bee", "cat"], names
        labels, images = file["labels"][:], file["images"][:]
        assert list(labels) == [0, 0, 0, 1, 1, 1, 2, 2, 2], labels
        # A constant colour stays that colour through the resize and crop.
        for image, label in zip(images, labels):
            expected = np.array(colours[names[label]], dtype=np.int64)
            assert np.abs(image.reshape(-1, 3).astype(np.int64) - expected).max() <= 1, (label, image[0, 0])
    # Greyscale, stretched, explicit folders, gzip chunks.
    grey = os.path.join(tmp, "grey-h5")
    run("--source", "imagefolder", "--train", os.path.join(root, "train"), "--test", os.path.join(root, "val"),
        "--output", grey, "--size", "7", "--resize", "stretch", "--grayscale", "--compression", "gzip",
        "--chunk-rows", "2", "--workers", "1")
    check_set(grey, 9, 3, 7, 1, 3)
    with h5py.File(os.path.join(grey, "train.h5"), "r") as file:
        assert file["images"].chunks == (2, 7, 7, 1) and file["images"].compression == "gzip"
    # A missing folder is one line on stderr and a non-zero exit.
    result = run("--source", "imagefolder", "--input", os.path.join(tmp, "nope"), "--output", out, ok=False)
    assert result.stderr.startswith("pack_hdf5.py: ") and result.stderr.count("\n") == 1, result.stderr


def cifar_bytes(count, label_bytes, classes, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
    labels = rng.integers(0, classes, size=count, dtype=np.uint8)
    records = [labels[:, None]] if label_bytes == 1 else [(labels[:, None] % 20), labels[:, None]]
    return np.concatenate(records + [pixels], axis=1).tobytes(), pixels, labels


def test_cifar(tmp):
    folder = os.path.join(tmp, "cifar-10-batches-bin")
    os.makedirs(folder)
    expected_pixels, expected_labels = [], []
    for b, count in enumerate([3, 1, 2, 2, 4], start=1):
        data, pixels, labels = cifar_bytes(count, 1, 10, b)
        with open(os.path.join(folder, f"data_batch_{b}.bin"), "wb") as file:
            file.write(data)
        expected_pixels.append(pixels)
        expected_labels.append(labels)
    data, _, _ = cifar_bytes(5, 1, 10, 99)
    with open(os.path.join(folder, "test_batch.bin"), "wb") as file:
        file.write(data)
    out = os.path.join(tmp, "cifar10-h5")
    run("--source", "cifar10", "--input", tmp, "--output", out, "--workers", "1")
    check_set(out, 12, 5, 32, 3, 10)
    with h5py.File(os.path.join(out, "train.h5"), "r") as file:
        # Channels last: the record's R plane becomes [..., 0].
        pixels = np.concatenate(expected_pixels).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        assert np.array_equal(file["images"][:], pixels)
        assert np.array_equal(file["labels"][:], np.concatenate(expected_labels))
    resized = os.path.join(tmp, "cifar10-h5-64")
    run("--source", "cifar10", "--input", folder, "--output", resized, "--size", "64", "--workers", "2",
        "--limit", "7")
    check_set(resized, 7, 5, 64, 3, 10)

    c100 = os.path.join(tmp, "c100")
    os.makedirs(c100)
    data, _, fine = cifar_bytes(6, 2, 100, 5)
    with open(os.path.join(c100, "train.bin"), "wb") as file:
        file.write(data)
    with open(os.path.join(c100, "test.bin"), "wb") as file:
        file.write(cifar_bytes(2, 2, 100, 6)[0])
    out100 = os.path.join(tmp, "c100-h5")
    run("--source", "cifar100", "--input", c100, "--output", out100)
    check_set(out100, 6, 2, 32, 3, 100)
    with h5py.File(os.path.join(out100, "train.h5"), "r") as file:
        assert np.array_equal(file["labels"][:], fine)  # the fine label, not the coarse one
    with open(os.path.join(c100, "train.bin"), "ab") as file:
        file.write(b"\0")
    result = run("--source", "cifar100", "--input", c100, "--output", out100, ok=False)
    assert "is truncated" in result.stderr, result.stderr


def main():
    assert run("--help").stdout.startswith("usage:")
    tmp = tempfile.mkdtemp(prefix="mesl-pack-test-")
    try:
        test_imagefolder(tmp)
        test_cifar(tmp)
    finally:
        shutil.rmtree(tmp)
    print("pack_hdf5.py: all checks passed")


if __name__ == "__main__":
    main()
