#!/usr/bin/python3
"""Traffic needed to reach a target accuracy, and the saving against the uncompressed baseline (the seed paper's
Table 1).

Runs are grouped by (dataset, model, cut, topology, clients); the baseline of a group is its identity run. The
target is the baseline's best test top-1 accuracy in that group, or --target for every group. For each run the
traffic to target is the cumulative byte count (--bytes) at the FIRST epoch whose test_acc1 >= target, and the
saving factor is baseline traffic to target / run traffic to target. INF: the run never reached the target;
n/a: the factor is undefined (the baseline never reached a --target, or a run reached it with 0 bytes); no baseline:
the group has no identity run.

Prints a table (rows: groups, columns: methods, cells: factor) and a long table (one row per run); --csv PATH
writes the long table (target as a fraction, traffic in bytes).

examples:
  traffic.py runs/*.h5
  traffic.py runs/ --target 0.85 --bytes fwd+bwd --csv table1.csv
"""
import argparse
import math
import sys

from meslcli import add_bytes, add_where, make_parser, run_main
from mesllabel import run_labels, run_value, varying_keys
from meslrun import BASELINE_METHOD, BYTES_DESCRIPTION, load_runs, method_rank, select_runs
from mesltext import fmt_mb, fmt_percent, format_table, write_csv

GROUP_KEYS = ("dataset", "model", "cut", "topology", "clients")
# Accuracies are fractions correct/total; this absorbs float rounding between a --target and the stored value
# while staying far below one test sample.
ACCURACY_TOLERANCE = 1e-9
INF = "INF"
UNDEFINED = "n/a"
NO_BASELINE = "no baseline"
CSV_COLUMNS = ("group", "dataset", "model", "cut", "topology", "clients", "file", "method", "label",
               "baseline_file", "target", "epoch", "bytes_to_target", "baseline_bytes", "factor")


def fraction(text):
    """argparse type for --target: a fraction of correct test samples in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (give a fraction such as 0.8)") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1] (give a fraction such as 0.8, not a percentage)")
    return value


def first_reach(run, target, which):
    """(1-based epoch, cumulative bytes) at the first epoch with test_acc1 >= target, or (None, None)."""
    if target is None:
        return None, None
    acc = run.column("test_acc1")
    traffic = run.cumulative_bytes(which)
    epochs = run.epoch_numbers()
    for index, value in enumerate(acc):
        if value >= target - ACCURACY_TOLERANCE:
            return int(epochs[index]), float(traffic[index])
    return None, None


def saving_factor(baseline_bytes, run_bytes, reached):
    """The factor as a float, or INF / UNDEFINED."""
    if not reached:
        return INF
    if baseline_bytes is None or math.isnan(baseline_bytes) or math.isnan(run_bytes) or run_bytes <= 0:
        return UNDEFINED
    return baseline_bytes / run_bytes


def factor_text(factor):
    return factor if isinstance(factor, str) else f"{factor:.2f}"


class Group:
    def __init__(self, key, runs):
        self.key = key
        self.runs = runs
        identities = [r for r in runs if r.method == BASELINE_METHOD]
        self.baseline = identities[0] if identities else None
        self.extra_baselines = identities[1:]


def make_groups(runs):
    """Groups sorted by dataset, model, cut (shallow to deep, as the paper's table), topology and clients; runs
    keep their input order within a group."""
    groups = {}
    for run in runs:
        groups.setdefault(tuple(run_value(run, k) for k in GROUP_KEYS), []).append(run)

    def order(members):
        run = members[0]
        return (run.dataset or "", run.model or "", -1 if run.cut is None else run.cut, run.topology or "",
                -1 if run.clients is None else run.clients)

    return [Group(key, members) for key, members in sorted(groups.items(), key=lambda item: order(item[1]))]


def group_labels(groups):
    """'fashion-mnist / cut 2 (shallow)', plus model, topology or clients where those differ between groups."""
    representatives = [g.runs[0] for g in groups]
    extra = varying_keys(representatives, keys=("model", "topology", "clients"))
    labels = []
    for group in groups:
        run = group.runs[0]
        parts = [run_value(run, "dataset"), f"cut {run_value(run, 'cut')}"]
        parts.extend(f"{k}={run_value(run, k)}" for k in extra)
        labels.append(" / ".join(parts))
    return labels


def analyse(groups, target_override, which):
    """One dict per run (the long table), group by group, baseline first, then methods in the paper's order."""
    rows = []
    for group, group_label in zip(groups, group_labels(groups)):
        labels = dict(zip(map(id, group.runs), run_labels(group.runs, ignore=GROUP_KEYS)))
        baseline = group.baseline
        target = target_override
        if target is None and baseline is not None:
            best, _ = baseline.best()
            target = None if math.isnan(best) else best
        base_epoch, base_bytes = first_reach(baseline, target, which) if baseline else (None, None)
        ordered = sorted(group.runs, key=lambda r: (r is not baseline, method_rank(r.method)))
        for run in ordered:
            epoch, traffic = first_reach(run, target, which)
            if baseline is None:
                factor = NO_BASELINE
            elif target is None or base_epoch is None:
                factor = UNDEFINED if epoch is not None or target is None else INF
            else:
                factor = saving_factor(base_bytes, traffic, epoch is not None)
            rows.append({
                "group": group_label, "dataset": run.dataset, "model": run.model, "cut": run.cut,
                "topology": run.topology, "clients": run.clients, "file": run.path, "method": run.method,
                "label": labels[id(run)], "baseline_file": baseline.path if baseline else None, "target": target,
                "epoch": epoch, "bytes_to_target": None if traffic is None else int(traffic),
                "baseline_bytes": None if base_bytes is None else int(base_bytes), "factor": factor,
            })
    return rows


def column_keys(rows):
    """Wide-table column of each row: the method, or the run label where a group holds several runs of one
    method (then the method alone would not say which run a cell is)."""
    seen, clash = set(), False
    for row in rows:
        key = (row["group"], row["method"])
        clash = clash or key in seen
        seen.add(key)
    return [row["label"] if clash else row["method"] for row in rows]


def wide_table(rows):
    keys = column_keys(rows)
    columns = []
    for key, row in sorted(zip(keys, rows), key=lambda kr: (method_rank(kr[1]["method"]), kr[0])):
        if key not in columns:
            columns.append(key)
    groups = list(dict.fromkeys(row["group"] for row in rows))
    cells = {(row["group"], key): factor_text(row["factor"]) for key, row in zip(keys, rows)}
    body = [[group] + [cells.get((group, c), "-") for c in columns] for group in groups]
    return format_table(["group"] + columns, body, right=set(range(1, len(columns) + 1)))


def long_table(rows):
    body = [[row["group"], row["file"], row["label"],
             "-" if row["target"] is None else fmt_percent(row["target"]),
             "-" if row["epoch"] is None else row["epoch"],
             "never" if row["bytes_to_target"] is None and row["target"] is not None else
             fmt_mb(row["bytes_to_target"], 3), factor_text(row["factor"])] for row in rows]
    return format_table(["group", "run", "label", "target%", "epoch", "MB_to_target", "factor"], body,
                        right={3, 4, 5, 6})


def main(argv):
    parser = make_parser("traffic.py", __doc__)
    parser.add_argument("--target", type=fraction, metavar="FRACTION",
                        help="target test top-1 accuracy for every group, e.g. 0.85 (default: the best accuracy "
                             "of the group's identity run)")
    add_bytes(parser)
    add_where(parser)
    parser.add_argument("--csv", metavar="PATH", help="write the long table to this CSV file")
    args = parser.parse_args(argv)

    runs = select_runs(load_runs(args.inputs), args.where)
    groups = make_groups(runs)
    for group in groups:
        if group.extra_baselines:
            others = ", ".join(r.path for r in group.extra_baselines)
            print(f"traffic.py: note: {len(group.extra_baselines) + 1} identity runs in one group; "
                  f"{group.baseline.path} is the baseline, not {others}", file=sys.stderr)
    rows = analyse(groups, args.target, args.bytes)

    target = "the baseline's best test top-1 accuracy" if args.target is None else f"{100 * args.target:g}%"
    print(f"Saving factor = baseline's {BYTES_DESCRIPTION[args.bytes]} to reach the target / the run's "
          f"(target: {target}; INF: never reached)")
    print(wide_table(rows))
    print()
    print(long_table(rows))
    lonely = [row["file"] for row in rows if row["factor"] == NO_BASELINE]
    if lonely:
        print()
        print(f"no baseline (no identity run with the same dataset, model, cut, topology and clients): "
              f"{', '.join(lonely)}")
    if args.csv:
        write_csv(args.csv, CSV_COLUMNS, [[_csv_value(row[c]) for c in CSV_COLUMNS] for row in rows])
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def _csv_value(value):
    return f"{value:.10g}" if isinstance(value, float) else value


if __name__ == "__main__":
    sys.exit(run_main("traffic.py", main))
