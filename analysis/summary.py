#!/usr/bin/python3
"""One row per mesl run: what was run and how it ended.

Clients: N, the ranks R that hosted them and the clients K drawn per epoch or round (N unless sampled).

Prints an aligned table (accuracies in %, traffic in MB = 10^6 bytes, times in s); --csv PATH also writes the rows
with raw values (accuracies as fractions, traffic in bytes). Epochs are counted from 1; a run that was cut short
reports the epochs it completed.

examples:
  summary.py runs/*.h5
  summary.py runs/ --where cut=2 --csv summary.csv
"""
import sys

from meslcli import add_where, make_parser, run_main
from mesllabel import format_bpe, parse_codec_spec
from meslrun import load_runs, select_runs
from mesltext import fmt, fmt_mb, fmt_percent, format_table, write_csv

CSV_COLUMNS = ("file", "method", "codec", "grad_codec", "bpe", "model", "dataset", "cut", "cut_preset",
               "topology", "clients", "client_ranks", "participants_per_round", "seed", "epochs", "final_acc1",
               "best_acc1", "best_epoch", "fwd_bytes", "bwd_bytes", "model_bytes", "control_bytes", "wall_s", "link_s")
TABLE_COLUMNS = ("file", "method", "settings", "bpe", "model", "dataset", "cut", "topology", "clients", "ranks",
                 "per_round", "epochs", "final%", "best%", "best_ep", "fwd_MB", "bwd_MB", "model_MB", "wall_s",
                 "link_s")


def summarize(run):
    """The CSV row of one run, as a dict of raw values (None where unknown)."""
    best_acc, best_epoch = run.best()
    return {
        "file": run.path, "method": run.method, "codec": run.codec, "grad_codec": run.grad_codec,
        "bpe": run.bpe, "model": run.model, "dataset": run.dataset, "cut": run.cut, "cut_preset": run.cut_preset,
        "topology": run.topology, "clients": run.clients, "client_ranks": run.client_ranks,
        "participants_per_round": run.participants_per_round, "seed": run.seed, "epochs": run.epochs_done,
        "final_acc1": run.final_acc1, "best_acc1": best_acc, "best_epoch": best_epoch,
        "fwd_bytes": _bytes(run.last("fwd_bytes")), "bwd_bytes": _bytes(run.last("bwd_bytes")),
        "model_bytes": _bytes(run.last("model_bytes")), "control_bytes": _bytes(run.last("control_bytes")),
        "wall_s": run.last("wall_s"), "link_s": run.last("link_s"),
    }


def _bytes(value):
    return None if value != value else int(value)  # NaN (no epochs, or no such column) -> unknown


def table_row(row):
    _, params = parse_codec_spec(row["codec"])
    settings = ",".join(f"{k}={v}" if v else k for k, v in params.items()) or "-"
    cut = "-" if row["cut"] is None else (f"{row['cut']} ({row['cut_preset']})" if row["cut_preset"]
                                         else str(row["cut"]))
    return [row["file"], row["method"], settings, "-" if row["bpe"] is None else format_bpe(row["bpe"]),
            row["model"] or "-", row["dataset"] or "-", cut, row["topology"] or "-",
            "-" if row["clients"] is None else row["clients"],
            "-" if row["client_ranks"] is None else row["client_ranks"],
            "-" if row["participants_per_round"] is None else row["participants_per_round"], row["epochs"],
            fmt_percent(row["final_acc1"]), fmt_percent(row["best_acc1"]),
            "-" if row["best_epoch"] is None else row["best_epoch"],
            fmt_mb(row["fwd_bytes"]), fmt_mb(row["bwd_bytes"]), fmt_mb(row["model_bytes"]),
            fmt(row["wall_s"], ".1f"), fmt(row["link_s"], ".1f")]


def main(argv):
    parser = make_parser("summary.py", __doc__)
    add_where(parser)
    parser.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    args = parser.parse_args(argv)

    runs = select_runs(load_runs(args.inputs), args.where)
    rows = [summarize(run) for run in runs]
    print(format_table(TABLE_COLUMNS, [table_row(r) for r in rows],
                       right={3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}))
    if args.csv:
        write_csv(args.csv, CSV_COLUMNS, [[r[c] for c in CSV_COLUMNS] for r in rows])
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main("summary.py", main))
