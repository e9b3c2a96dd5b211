"""Short, unique names for runs and groups of runs, for legends and table headers.

A label says only what tells a run apart from the others it is shown with: the method, the codec settings that
vary between runs of that method, the nominal bits per element, and any run setting (cut, dataset, clients, ...)
that differs between the runs. Settings shared by every run go to the figure title instead.
"""
import math

# Methods whose bits per element are fixed by the method itself; a label does not repeat it.
FIXED_BPE_METHODS = ("identity", "fp16", "bf16")
# Run settings that may tell runs apart, in the order a label lists them.
RUN_KEYS = ("dataset", "model", "cut", "topology", "clients", "partition", "grad_codec", "lr", "batch_size",
            "seed")


def parse_codec_spec(spec):
    """'ms:keep=0.01,bits=2' -> ('ms', {'keep': '0.01', 'bits': '2'}). A spec without settings gives {}; items
    without '=' are kept as flags (value '')."""
    name, _, rest = str(spec).partition(":")
    params = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, _, value = item.partition("=")
        params[key.strip()] = value.strip()
    return name.strip(), params


def format_number(value):
    """Numbers as a reader writes them: 2.32, 32, 0.01 (no trailing zeros, no float noise)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_bpe(value):
    """Bits per element as a budget is written: 2.32, 4.32, 16 (two decimals at most, so that a measured 2.31999
    reads 2.32)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    return format_number(round(float(value), 2))


def run_value(run, key):
    """A run setting as text for labels and titles."""
    if key == "cut":
        cut = run.cut
        if cut is None:
            return "?"
        return f"{cut} ({run.cut_preset})" if run.cut_preset else str(cut)
    value = run.get(key)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return "?" if value is None else format_number(value)


def varying_keys(runs, keys=RUN_KEYS, ignore=()):
    """The keys among `keys` whose values differ between `runs`."""
    return [k for k in keys if k not in ignore and len({run_value(r, k) for r in runs}) > 1]


def common_description(runs, keys=("dataset", "model", "cut", "topology", "clients"), ignore=()):
    """'dataset=fashion-mnist, model=cnn, cut=2' for the keys every run shares (for titles)."""
    parts = []
    for key in keys:
        if key in ignore:
            continue
        values = {run_value(r, key) for r in runs}
        if len(values) == 1 and "?" not in values:
            parts.append(f"{key}={values.pop()}")
    return ", ".join(parts)


def _codec_part(run, runs):
    """Method, the codec settings that vary among the shown runs of the same method, and the bpe."""
    _, params = parse_codec_spec(run.codec)
    method = run.method
    same_method = [r for r in runs if r.method == method]
    all_params = [parse_codec_spec(r.codec)[1] for r in same_method]
    keys = []
    for p in all_params:
        keys.extend(k for k in p if k not in keys)
    shown = [k for k in keys if len({p.get(k) for p in all_params}) > 1 and k in params]
    text = method if not shown else method + " " + ",".join(f"{k}={params[k]}" for k in shown)
    if method not in FIXED_BPE_METHODS and run.bpe is not None:
        text += f" {format_bpe(run.bpe)} bpe"
    return text


def run_labels(runs, ignore=()):
    """One label per run, unique: codec part, then the run settings that differ (except those in `ignore`, e.g.
    the key a figure is grouped by), then the file name where that still leaves two runs alike."""
    keys = varying_keys(runs, ignore=ignore)
    labels = []
    for run in runs:
        text = _codec_part(run, runs)
        extra = [f"{k}={run_value(run, k)}" for k in keys]
        labels.append(text + (", " + ", ".join(extra) if extra else ""))
    counts = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    names = [run.name for run in runs]
    # The file name tells alike runs apart unless two of them share it (same name in two folders): then the path.
    return [label if counts[label] == 1 else
            f"{label} [{run.name if names.count(run.name) == 1 else run.path}]"
            for label, run in zip(labels, runs)]
