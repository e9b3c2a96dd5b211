#!/usr/bin/python3
"""Pack an image dataset into mesl's HDF5 image-set layout (dataset name `hdf5`).

Output: OUTPUT/train.h5 and OUTPUT/test.h5, each with
  images       uint8  [N, H, W, C]  channels last, chunked by rows (optionally compressed)
  labels       int64  [N]
  class_names  str    [num_classes]
and root attributes num_classes, source and size. mesl streams each batch's rows from these files, so sets larger
than memory (ImageNet) work.

Sources:
  imagefolder  one subdirectory per class holding image files (ImageNet's train/ and val/ after the usual
               val reorganisation). Give --train DIR and --test DIR, or --input ROOT with ROOT/train and
               ROOT/val (or ROOT/test). Classes are the sorted subdirectory names of the training folder.
  cifar10      the binary version: data_batch_{1..5}.bin and test_batch.bin, in --input or its
               cifar-10-batches-bin subfolder.
  cifar100     the binary version: train.bin and test.bin (fine labels), in --input or its cifar-100-binary
               subfolder.

Images are converted to RGB (or greyscale with --grayscale) and resized to --size x --size: `crop` (default)
scales the shorter side to --size and takes the centre square, `stretch` resizes without keeping the aspect ratio.
CIFAR images keep their 32 x 32 unless --size says otherwise.

Needs Debian's python3-h5py, python3-numpy and python3-pil (pulled in by python3-matplotlib):
  /usr/bin/python3 data/pack_hdf5.py --source imagefolder --input /data/imagenet --output /data/imagenet-h5 \\
      --size 256 --workers 16
"""
import argparse
import multiprocessing
import os
import sys

import h5py
import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp", ".gif"}
CIFAR = {
    "cifar10": {"subdir": "cifar-10-batches-bin", "label_bytes": 1, "label_offset": 0, "classes": 10,
                "train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]},
    "cifar100": {"subdir": "cifar-100-binary", "label_bytes": 2, "label_offset": 1, "classes": 100,
                 "train": ["train.bin"], "test": ["test.bin"]},
}
CHUNK_TARGET_BYTES = 1 << 20  # ~1 MiB chunks: a random row costs little to read, sequential reads stay fast


class PackError(Exception):
    """A problem with the input or the options, reported as one line."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Pack an ImageFolder directory or CIFAR .bin files into mesl's HDF5 image-set layout "
                    "(train.h5 and test.h5 with uint8 N x H x W x C images and integer labels).",
        epilog="Example: /usr/bin/python3 data/pack_hdf5.py --source cifar10 --input ~/cifar-10-batches-bin "
               "--output ~/cifar10-h5")
    parser.add_argument("--source", choices=["imagefolder", "cifar10", "cifar100"], required=True,
                        help="the input format")
    parser.add_argument("--input", help="imagefolder: ROOT with train/ and val/ (or test/); cifar: the folder "
                                        "with the .bin files or its parent")
    parser.add_argument("--train", help="imagefolder: the training folder (one subfolder per class)")
    parser.add_argument("--test", help="imagefolder: the test folder (the same class subfolders)")
    parser.add_argument("--output", required=True, help="folder to write train.h5 and test.h5 into")
    parser.add_argument("--size", type=int, default=None,
                        help="output side in pixels (default: 256 for imagefolder, unchanged for cifar)")
    parser.add_argument("--resize", choices=["crop", "stretch"], default="crop",
                        help="crop: shorter side to --size, then the centre square (default); stretch: to "
                             "--size x --size directly")
    parser.add_argument("--grayscale", action="store_true", help="store one channel instead of RGB")
    parser.add_argument("--chunk-rows", type=int, default=0,
                        help="images per HDF5 chunk (default: about 1 MiB per chunk)")
    parser.add_argument("--compression", choices=["none", "gzip", "lzf"], default="none",
                        help="chunk compression (default none: JPEG-like data barely compresses and reads "
                             "stay cheap)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes that decode and resize images (default: all cores)")
    parser.add_argument("--limit", type=int, default=0,
                        help="pack at most this many images per split (0: all), for trying things out")
    args = parser.parse_args(argv)
    if args.size is not None and args.size < 1:
        parser.error("--size must be at least 1")
    if args.chunk_rows < 0 or args.workers < 1 or args.limit < 0:
        parser.error("--chunk-rows and --limit must be >= 0 and --workers >= 1")
    return args


# ---- reading the sources -----------------------------------------------------------------------------------------

def find_imagefolder_splits(args):
    if args.train and args.test:
        return args.train, args.test
    if not args.input:
        raise PackError("imagefolder needs --input ROOT (with train/ and val/) or --train DIR and --test DIR")
    train = os.path.join(args.input, "train")
    for name in ("val", "test"):
        test = os.path.join(args.input, name)
        if os.path.isdir(train) and os.path.isdir(test):
            return train, test
    raise PackError(f"{args.input} has no train/ and val/ (or test/) folders; pass --train DIR and --test DIR")


def list_imagefolder(folder, classes):
    """(path, label) for every image in folder/<class>/, sorted; classes=None takes them from the folder."""
    if not os.path.isdir(folder):
        raise PackError(f"image folder {folder} does not exist; check --input, --train or --test")
    found = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if classes is None:
        classes = found
    if not classes:
        raise PackError(f"{folder} has no class subfolders; expected one subfolder of images per class")
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise PackError(f"{folder} has classes {unknown[:5]} that the training folder lacks; use the same classes")
    items = []
    for label, name in enumerate(classes):
        directory = os.path.join(folder, name)
        if not os.path.isdir(directory):
            continue
        for root, _, files in sorted(os.walk(directory)):
            for file in sorted(files):
                if os.path.splitext(file)[1].lower() in IMAGE_EXTENSIONS:
                    items.append((os.path.join(root, file), label))
    if not items:
        raise PackError(f"{folder} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return classes, items


def cifar_folder(source, folder):
    spec = CIFAR[source]
    if folder is None:
        raise PackError(f"{source} needs --input with the folder holding the .bin files")
    if os.path.isfile(os.path.join(folder, spec["train"][0])):
        return folder
    nested = os.path.join(folder, spec["subdir"])
    if os.path.isdir(nested):
        return nested
    return folder


def read_cifar(source, folder, train):
    """All images (N, 32, 32, 3) uint8 and labels of one CIFAR split."""
    spec = CIFAR[source]
    record = spec["label_bytes"] + 3072
    images, labels = [], []
    for name in spec["train" if train else "test"]:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            names = ", ".join(spec["train"] + spec["test"])
            raise PackError(f"missing file {path}; {source} needs {names}")
        data = np.fromfile(path, dtype=np.uint8)
        if data.size == 0 or data.size % record:
            raise PackError(f"{path} is truncated: {data.size} bytes is not a whole number of {record}-byte "
                            "records; download it again")
        data = data.reshape(-1, record)
        label = data[:, spec["label_offset"]].astype(np.int64)
        if label.max() >= spec["classes"]:
            raise PackError(f"{path} has label {label.max()} outside [0, {spec['classes']}); the file is corrupt")
        labels.append(label)
        images.append(data[:, spec["label_bytes"]:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)


# ---- converting images -------------------------------------------------------------------------------------------

def convert(image, size, resize, grayscale):
    """A PIL image to uint8 (size, size, C)."""
    image = image.convert("L" if grayscale else "RGB")
    if size is not None and image.size != (size, size):
        width, height = image.size
        if resize == "crop":
            scale = size / min(width, height)
            new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
            image = image.resize((new_w, new_h), Image.BILINEAR)
            left, top = (new_w - size) // 2, (new_h - size) // 2
            image = image.crop((left, top, left + size, top + size))
        else:
            image = image.resize((size, size), Image.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def load_file(job):
    path, size, resize, grayscale = job
    try:
        with Image.open(path) as image:
            return convert(image, size, resize, grayscale)
    except OSError as error:
        raise PackError(f"cannot read image {path}: {error}; remove or replace the file") from None


def load_array(job):
    array, size, resize, grayscale = job
    return convert(Image.fromarray(array), size, resize, grayscale)


# ---- writing -----------------------------------------------------------------------------------------------------

def write_split(path, count, shape, rows, labels, classes, args, source):
    """Writes `count` images from the iterator `rows` (each `shape`) in chunk-sized blocks."""
    row_bytes = int(np.prod(shape))
    chunk_rows = args.chunk_rows or max(1, CHUNK_TARGET_BYTES // row_bytes)
    chunk_rows = min(chunk_rows, max(1, count))
    compression = None if args.compression == "none" else args.compression
    temporary = path + ".partial"
    with h5py.File(temporary, "w") as file:
        images = file.create_dataset("images", shape=(count, *shape), dtype=np.uint8,
                                     chunks=(chunk_rows, *shape), compression=compression)
        block = np.empty((chunk_rows, *shape), dtype=np.uint8)
        filled = start = 0
        for row in rows:
            if row.shape != shape:
                raise PackError(f"an image converted to {row.shape} instead of {shape}; pass --size")
            block[filled] = row
            filled += 1
            if filled == chunk_rows:
                images[start:start + filled] = block
                start, filled = start + filled, 0
        if filled:
            images[start:start + filled] = block[:filled]
        file.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        file.create_dataset("class_names", data=np.array(classes, dtype=object), dtype=h5py.string_dtype())
        file.attrs["num_classes"] = np.int64(len(classes))
        file.attrs["source"] = source
        file.attrs["size"] = np.int64(shape[0])
    os.replace(temporary, path)  # a killed run leaves no half-written set under the final name
    print(f"wrote {path}: {count} images of {shape[0]}x{shape[1]}x{shape[2]}, {len(classes)} classes")


def pack(args):
    os.makedirs(args.output, exist_ok=True)
    channels = 1 if args.grayscale else 3
    with multiprocessing.Pool(args.workers) as pool:
        if args.source == "imagefolder":
            train_dir, test_dir = find_imagefolder_splits(args)
            classes, train_items = list_imagefolder(train_dir, None)
            _, test_items = list_imagefolder(test_dir, classes)
            size = args.size or 256
            for name, items in (("train", train_items), ("test", test_items)):
                if args.limit:
                    items = items[:args.limit]
                jobs = ((path, size, args.resize, args.grayscale) for path, _ in items)
                rows = pool.imap(load_file, jobs, chunksize=16)
                write_split(os.path.join(args.output, f"{name}.h5"), len(items), (size, size, channels), rows,
                            [label for _, label in items], classes, args, "imagefolder")
        else:
            folder = cifar_folder(args.source, args.input)
            classes = [str(c) for c in range(CIFAR[args.source]["classes"])]
            for name, train in (("train", True), ("test", False)):
                images, labels = read_cifar(args.source, folder, train)
                if args.limit:
                    images, labels = images[:args.limit], labels[:args.limit]
                size = args.size or 32
                if size == 32 and not args.grayscale:
                    rows = iter(images)
                else:
                    jobs = ((image, size, args.resize, args.grayscale) for image in images)
                    rows = pool.imap(load_array, jobs, chunksize=64)
                write_split(os.path.join(args.output, f"{name}.h5"), len(images), (size, size, channels), rows,
                            labels, classes, args, args.source)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        pack(args)
    except PackError as error:
        print(f"pack_hdf5.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
