"""Loading mesl's HDF5 files: run metrics (`mesl train`) and codec error tables (`mesl errors`).

The layouts are those of include/mesl/metrics/run_writer.h: root attributes plus tables stored as groups of 1-D
datasets of equal length (f["epochs/test_acc1"]). Everything here is tolerant on purpose: a run that was killed keeps
the rows it flushed, files may carry attributes and columns this code does not know, and a file may still be open
for writing by a running job. What it refuses (MeslDataError, one line naming the file) is a path that is not an
HDF5 file, or an HDF5 file that is not of the expected kind.
"""
import functools
import glob
import json
import math
import os

import numpy as np

# A running job keeps its metrics file open for writing; HDF5's file locking would then refuse our read-only open.
# The writer flushes whole rows (and read_table cuts a column caught mid-flush), so reading without the lock is
# safe. HDF5 reads the variable when it opens a file; a value the user set wins.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


def _h5py():
    """h5py, imported on first use: a script that stops on a missing file or prints --help answers at once (h5py
    and pandas take about a second to import on a loaded machine). pandas is only imported by as_frame()."""
    import h5py
    return h5py


# Columns of /epochs (EpochRow) and /steps (StepRow), in the writer's order.
EPOCH_COLUMNS = ("epoch", "train_loss", "test_acc1", "test_acc5", "fwd_bytes", "bwd_bytes", "model_bytes",
                 "control_bytes", "wall_s", "link_s", "lr", "samples", "train_s")
STEP_COLUMNS = ("step", "epoch", "round", "client", "batch_size", "loss", "fwd_bytes", "bwd_bytes", "encode_s",
                "decode_s", "compute_s", "comm_s", "rel_error")
# Without these an /epochs table cannot answer any question the scripts ask; the others read as NaN when absent.
REQUIRED_EPOCH_COLUMNS = ("epoch", "test_acc1", "fwd_bytes")
MESSAGE_COLUMNS = ("type", "count", "bytes", "header_bytes")
ERROR_COLUMNS = ("method", "spec", "budget", "bpe", "k", "rel_error", "rel_error_std", "payload_bytes")
REQUIRED_ERROR_COLUMNS = ("method", "budget", "rel_error")

# The paper's methods in the order its tables use, after the uncompressed baseline and the casts.
METHOD_ORDER = ("identity", "fp16", "bf16", "qu", "sp", "ms", "rt")
BASELINE_METHOD = "identity"

# --bytes choices: which cumulative /epochs byte columns count as "bytes sent".
BYTES_CHOICES = {
    "fwd": ("fwd_bytes",),
    "fwd+bwd": ("fwd_bytes", "bwd_bytes"),
    "all": ("fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes"),
}
BYTES_DESCRIPTION = {
    "fwd": "forward bytes sent",
    "fwd+bwd": "forward + backward bytes sent",
    "all": "all bytes sent",
}


class MeslDataError(Exception):
    """Bad input data: a missing file, a file of the wrong kind, nothing to analyse. The message is one line."""


def method_rank(method):
    """Sort key that puts methods in the paper's order and unknown ones after, alphabetically."""
    return (METHOD_ORDER.index(method), "") if method in METHOD_ORDER else (len(METHOD_ORDER), str(method))


# ---- paths --------------------------------------------------------------------------------------------------------

def expand_inputs(patterns, extensions=(".h5", ".hdf5")):
    """Files named by `patterns`: plain paths, glob patterns (quoted so the shell left them) or directories (their
    *.h5 / *.hdf5 files). Order is kept, duplicates dropped. Raises MeslDataError for a path that does not exist or
    a pattern or directory that names no file."""
    files = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
            if not matches:
                raise MeslDataError(f"no files match {pattern!r}")
        elif os.path.isdir(pattern):
            matches = sorted(os.path.join(pattern, name) for name in os.listdir(pattern)
                             if name.endswith(extensions) and os.path.isfile(os.path.join(pattern, name)))
            if not matches:
                raise MeslDataError(f"{pattern}: directory holds no {' or '.join(extensions)} files")
        elif not os.path.exists(pattern):
            raise MeslDataError(f"{pattern}: no such file")
        else:
            matches = [pattern]
        files.extend(matches)
    unique, seen = [], set()
    for path in files:
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            unique.append(path)
    return unique


def open_hdf5(path):
    """h5py.File opened read-only, or MeslDataError saying why it cannot be."""
    if not os.path.exists(path):
        raise MeslDataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise MeslDataError(f"{path}: is a directory, not an HDF5 file")
    if not os.access(path, os.R_OK):
        raise MeslDataError(f"{path}: permission denied")
    h5py = _h5py()
    try:
        if not h5py.is_hdf5(path):
            raise MeslDataError(f"{path}: not an HDF5 file")
        return h5py.File(path, "r")
    except MeslDataError:
        raise
    except OSError as error:
        raise MeslDataError(f"{path}: cannot be read as HDF5 ({one_line(error)})") from None


def _is_group(item):
    return isinstance(item, _h5py().Group)


# ---- values -------------------------------------------------------------------------------------------------------

def one_line(value):
    return " ".join(str(value).split())


def plain(value):
    """An h5py attribute or element as a plain Python value: bytes -> str, numpy scalars -> int/float/bool,
    arrays -> lists (h5py returns strings as str or bytes depending on how they were written)."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return plain(value[()])
        return [plain(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _scalar(value):
    """Unwraps a one-element list, which some writers produce for scalar attributes."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _as_text(value):
    value = _scalar(value)
    if value is None or isinstance(value, (dict, list)):
        return None  # e.g. a nested section of the config JSON: not a setting's value
    return value if isinstance(value, str) else str(value)


def _as_int(value):
    value = _scalar(value)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _as_float(value):
    value = _scalar(value)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _parse_json(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_table(group, known=()):
    """A group of 1-D datasets as {column name: 1-D numpy array}. The row count is the shortest of the `known`
    columns present (of all columns when none is): a reader racing the writer may see one column a row ahead, so
    longer columns are cut; a foreign dataset shorter than that is not part of the table and is left out, as are
    datasets that are not 1-D. Strings are decoded to str."""
    h5py = _h5py()
    data = {}
    for name, item in group.items():
        if not isinstance(item, h5py.Dataset) or item.ndim != 1:
            continue
        values = item[()]
        if values.dtype.kind in "OSU":
            values = np.array([plain(v) for v in values], dtype=object)
        data[name] = values
    counted = [len(v) for name, v in data.items() if name in known] or [len(v) for v in data.values()]
    rows = min(counted, default=0)
    return {name: values[:rows] for name, values in data.items() if len(values) >= rows}


def table_rows(table):
    """Number of rows of a table from read_table."""
    return min((len(v) for v in table.values()), default=0)


def as_frame(table):
    """A table from read_table (or Run.epochs) as a pandas DataFrame, for interactive work."""
    import pandas
    return pandas.DataFrame(table)


# ---- run files ----------------------------------------------------------------------------------------------------

class Run:
    """One training run: its root attributes and its /epochs table (/steps and /messages read on demand)."""

    def __init__(self, path, attrs, epochs):
        self.path = path
        self.attrs = attrs                    # every root attribute, as plain Python values
        config = _parse_json(attrs.get("config"))
        self.config = config if isinstance(config, dict) else {}
        self.epochs = epochs                  # {column: array}, one row per epoch or round, in file order

    @property
    def name(self):
        return os.path.basename(self.path)

    def get(self, key, default=None):
        """A root attribute, else the top-level configuration entry of that name (older or foreign files may
        carry a setting only in the config JSON)."""
        if key in self.attrs:
            return self.attrs[key]
        return self.config.get(key, default)

    def text(self, key):
        return _as_text(self.get(key))

    def integer(self, key):
        return _as_int(self.get(key))

    def number(self, key):
        return _as_float(self.get(key))

    # The attributes the scripts group, label and report by.
    method = property(lambda self: self.text("method") or "?")
    codec = property(lambda self: self.text("codec") or self.method)
    grad_codec = property(lambda self: self.text("grad_codec") or "")
    model = property(lambda self: self.text("model"))
    dataset = property(lambda self: self.text("dataset"))
    topology = property(lambda self: self.text("topology"))
    cut = property(lambda self: self.integer("cut"))
    cut_preset = property(lambda self: self.text("cut_preset") or "")
    clients = property(lambda self: self.integer("clients"))

    @property
    def client_ranks(self):
        """R, the ranks that host the clients: the attribute, or for files of before it one client per rank."""
        ranks = self.integer("client_ranks")
        if ranks is None and self.integer("world_size") is not None:
            ranks = max(0, self.integer("world_size") - 1)
        return ranks

    @property
    def participants_per_round(self):
        """K, the clients drawn per epoch or round: the attribute, or all of them (files of before sampling)."""
        k = self.integer("participants_per_round")
        return self.clients if k is None else k
    seed = property(lambda self: self.integer("seed"))
    bpe = property(lambda self: self.number("bpe"))

    @property
    def cut_shape(self):
        shape = self.get("cut_shape")
        if isinstance(shape, str):
            shape = _parse_json(shape)
        return [int(v) for v in shape] if isinstance(shape, list) and all(_as_int(v) is not None for v in shape) \
            else []

    @property
    def hosts(self):
        hosts = _parse_json(self.get("hosts"))
        return hosts if isinstance(hosts, list) else []

    # ---- results read off /epochs ----

    @property
    def epochs_done(self):
        return table_rows(self.epochs)

    def column(self, name):
        """An /epochs column as float64 (NaN where the file has no such column)."""
        if name not in self.epochs:
            return np.full(self.epochs_done, np.nan)
        return np.asarray(self.epochs[name], dtype=float)

    def epoch_numbers(self):
        """1-based epoch numbers (the file's 0-based epoch column + 1): 'epoch 3' is the third completed epoch."""
        return self.column("epoch") + 1

    def cumulative_bytes(self, which="fwd"):
        """Cumulative bytes sent to the end of each epoch, summing the columns that --bytes `which` names."""
        columns = BYTES_CHOICES[which]
        return sum(self.column(name) for name in columns)

    def last(self, name):
        values = self.column(name)
        return float(values[-1]) if len(values) else math.nan

    @property
    def final_acc1(self):
        return self.last("test_acc1")

    def best(self):
        """(best test_acc1, its 1-based epoch): the first epoch that reached the maximum; (nan, None) when empty."""
        acc = self.column("test_acc1")
        finite = np.where(np.isfinite(acc), acc, -np.inf)
        if not len(acc) or not np.isfinite(finite).any():
            return math.nan, None
        index = int(np.argmax(finite))
        return float(acc[index]), int(self.epoch_numbers()[index])

    def steps(self):
        """The /steps table (one row per training step) as {column: array}; {} when the file has none."""
        return self._read_group("steps", STEP_COLUMNS)

    def messages(self):
        """The /messages table (totals per message type: type, count, bytes, header_bytes); {} when absent."""
        return self._read_group("messages", MESSAGE_COLUMNS)

    def _read_group(self, name, known):
        with open_hdf5(self.path) as f:
            group = f.get(name)
            return read_table(group, known) if _is_group(group) else {}


def _root_attrs(f):
    attrs = {}
    for key in f.attrs.keys():
        try:
            attrs[key] = plain(f.attrs[key])
        except (OSError, TypeError, ValueError):
            attrs[key] = None  # a type h5py cannot read: keep the name, skip the value
    return attrs


def _damaged(function):
    """Turns an HDF5 read failure inside `function(path)` into a MeslDataError naming the file."""
    @functools.wraps(function)
    def wrapper(path):
        try:
            return function(path)
        except OSError as error:
            raise MeslDataError(f"{path}: damaged or unreadable HDF5 file ({one_line(error)})") from None
    return wrapper


@_damaged
def load_run(path):
    """The Run stored in `path`, or MeslDataError when it is not a mesl run file."""
    with open_hdf5(path) as f:
        attrs = _root_attrs(f)
        if "method" not in attrs:
            if _is_group(f.get("errors")):
                raise MeslDataError(f"{path}: is a `mesl errors` file, not a run file (read it with errors.py)")
            raise MeslDataError(f"{path}: not a mesl run file (no 'method' attribute at the root; "
                                f"give the HDF5 files that `mesl train` writes)")
        group = f.get("epochs")
        if group is None:
            # Killed before its first epoch was written: a run with no rows.
            epochs = {c: np.array([], dtype=float) for c in EPOCH_COLUMNS}
        elif not _is_group(group):
            raise MeslDataError(f"{path}: not a mesl run file (/epochs is not a group of columns)")
        else:
            epochs = read_table(group, EPOCH_COLUMNS)
            missing = [c for c in REQUIRED_EPOCH_COLUMNS if c not in epochs]
            if missing:
                raise MeslDataError(f"{path}: not a mesl run file (/epochs has no column {', '.join(missing)})")
            rows = table_rows(epochs)
            for name in EPOCH_COLUMNS:
                epochs.setdefault(name, np.full(rows, np.nan))
    return Run(path, attrs, epochs)


def load_runs(patterns):
    """Runs from files, globs and directories, in the order given."""
    return [load_run(path) for path in expand_inputs(patterns)]


def select_runs(runs, where):
    """The runs whose attributes match every (KEY, VALUE) or 'KEY=VALUE' in `where` (values compared as text;
    numbers by value, so cut=2 matches 2 and bpe=2.32 matches 2.32). Raises MeslDataError when none is left."""
    conditions = []
    for item in where or ():
        key, sep, value = item.partition("=") if isinstance(item, str) else (item[0], "=", item[1])
        if not sep or not key.strip():
            raise MeslDataError(f"--where {item!r}: write KEY=VALUE, e.g. --where method=ms")
        conditions.append((key.strip(), value.strip()))

    def matches(run, key, wanted):
        value = _scalar(run.get(key))
        if value is None:
            return False
        if str(value) == wanted:
            return True
        number, wanted_number = _as_float(value), _as_float(wanted)
        return number is not None and wanted_number is not None and number == wanted_number

    selected = [r for r in runs if all(matches(r, k, v) for k, v in conditions)]
    if not selected:
        clause = " ".join(f"{k}={v}" for k, v in conditions)
        raise MeslDataError(f"no runs matched --where {clause} (of {len(runs)} loaded)")
    return selected


# ---- error files (`mesl errors`) ----------------------------------------------------------------------------------

class ErrorsFile:
    """The compression errors measured by `mesl errors`: one row per (method setting, budget)."""

    def __init__(self, path, attrs, table):
        self.path = path
        self.attrs = attrs
        self.table = table  # {column: array} with ERROR_COLUMNS (absent optional ones: NaN, spec: the method)

    @property
    def name(self):
        return os.path.basename(self.path)

    @property
    def rows(self):
        return table_rows(self.table)

    def records(self):
        """The rows as dicts (method, spec, budget, bpe, k, rel_error, rel_error_std, payload_bytes)."""
        return [{name: self.table[name][i] for name in ERROR_COLUMNS} for i in range(self.rows)]

    def describe(self):
        """One line naming what the errors were measured on."""
        parts = []
        for key in ("model", "dataset"):
            if self.attrs.get(key) not in (None, ""):
                parts.append(f"{key} {_as_text(self.attrs[key])}")
        if _as_int(self.attrs.get("cut")) is not None:
            cut = f"cut {_as_int(self.attrs['cut'])}"
            shape = self.attrs.get("cut_shape")
            if isinstance(shape, list) and shape:
                cut += f" ({'x'.join(str(v) for v in shape)})"
            parts.append(cut)
        if _as_int(self.attrs.get("samples")) is not None:
            parts.append(f"{_as_int(self.attrs['samples'])} samples")
        return ", ".join(parts) if parts else self.name


def _floats(values):
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        number = _as_float(plain(value))
        out[i] = np.nan if number is None else number
    return out


@_damaged
def load_errors(path):
    """The ErrorsFile stored in `path`, or MeslDataError when it is not a `mesl errors` file."""
    with open_hdf5(path) as f:
        group = f.get("errors")
        if not _is_group(group):
            if "method" in f.attrs:
                raise MeslDataError(f"{path}: is a mesl run file, not a `mesl errors` file "
                                    f"(read it with summary.py, plot.py or traffic.py)")
            raise MeslDataError(f"{path}: not a `mesl errors` file (no /errors group)")
        table = read_table(group, ERROR_COLUMNS)
        missing = [c for c in REQUIRED_ERROR_COLUMNS if c not in table]
        if missing:
            raise MeslDataError(f"{path}: not a `mesl errors` file (/errors has no column {', '.join(missing)})")
        rows = table_rows(table)
        table["method"] = np.array([str(plain(v)) for v in table["method"]], dtype=object)
        spec = table.get("spec", [""] * rows)
        table["spec"] = np.array([str(plain(s)) or m for s, m in zip(spec, table["method"])], dtype=object)
        for name in ("budget", "bpe", "k", "rel_error", "rel_error_std", "payload_bytes"):
            table[name] = _floats(table[name]) if name in table else np.full(rows, np.nan)
        return ErrorsFile(path, _root_attrs(f), table)


def load_errors_files(patterns):
    return [load_errors(path) for path in expand_inputs(patterns)]
