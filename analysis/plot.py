#!/usr/bin/python3
"""Training curves of mesl runs, one curve per run, as PNG (and PDF with --pdf) files in --out DIR:

  acc_vs_epoch    test top-1 accuracy (%) against epoch (counted from 1)
  loss_vs_epoch   training loss against epoch
  acc_vs_bytes    test top-1 accuracy (%) against cumulative traffic in MB (10^6 bytes; --bytes picks which)
  acc_vs_link     test top-1 accuracy (%) against simulated link seconds (the --link-mbps model of the run)

Curves are labelled by method, the codec settings that differ between runs of a method, the bits per element,
and any run setting (cut, dataset, ...) that differs between the runs of a figure. With --by KEY the runs are
split into one figure set per value of KEY, named e.g. acc_vs_epoch_cut-2.png. Prints the files it wrote.

examples:
  plot.py runs/*.h5 --out figures
  plot.py runs/ --by cut --bytes fwd+bwd --logx --pdf --out figures
"""
import os
import re
import sys

from meslcli import add_bytes, add_where, make_parser, run_main
from mesllabel import common_description, run_labels, run_value
from meslplot import new_figure, prepare_output_dir, save_figure
from meslrun import BYTES_DESCRIPTION, MeslDataError, load_runs, method_rank, select_runs
from mesltext import MB

BY_CHOICES = ("cut", "dataset", "model", "topology", "clients", "method")


def figure_specs(which, logx):
    """(file stem, x label, y label, x values of a run, y values of a run, log x) of each figure."""
    return (
        ("acc_vs_epoch", "epoch", "test top-1 accuracy (%)",
         lambda r: r.epoch_numbers(), lambda r: 100 * r.column("test_acc1"), False),
        ("loss_vs_epoch", "epoch", "training loss",
         lambda r: r.epoch_numbers(), lambda r: r.column("train_loss"), False),
        ("acc_vs_bytes", f"cumulative {BYTES_DESCRIPTION[which]} (MB)", "test top-1 accuracy (%)",
         lambda r: r.cumulative_bytes(which) / MB, lambda r: 100 * r.column("test_acc1"), logx),
        ("acc_vs_link", "simulated link time (s)", "test top-1 accuracy (%)",
         lambda r: r.column("link_s"), lambda r: 100 * r.column("test_acc1"), False),
    )


def safe_name(text):
    return re.sub(r"[^A-Za-z0-9.+=-]+", "_", text).strip("_") or "none"


def split_runs(runs, by):
    """[(suffix, title prefix, runs)]: all runs together, or one entry per value of `by` (numbers in increasing
    order, so cuts go shallow to deep; text in order of appearance)."""
    if not by:
        return [("", "", runs)]
    parts = {}
    for run in runs:
        parts.setdefault(run_value(run, by), []).append(run)

    def order(value):
        number = value.split(" ")[0]
        return (0, float(number)) if number.replace(".", "", 1).isdigit() else (1, 0.0)

    parts = dict(sorted(parts.items(), key=lambda item: order(item[0])))
    # File names carry the cut number alone ("cut-2"); the title also names the preset ("cut=2 (shallow)").
    return [(f"_{by}-{safe_name(value.split(' ')[0] if by == 'cut' else value)}", f"{by}={value}", members)
            for value, members in parts.items()]


def color_slots(runs, palette):
    """A colour index per run of one figure: each codec setting keeps the slot it has across all figures (MS is the
    same colour at every cut); a run whose slot is taken in this figure (a second seed) gets the next free one."""
    taken, slots = set(), []
    for run in runs:
        slot = palette[run.codec]
        while slot in taken:
            slot += 1
        taken.add(slot)
        slots.append(slot)
    return slots


def draw(stem, xlabel, ylabel, xs, ys, logx, runs, labels, palette, title, out, pdf):
    slots = color_slots(runs, palette)
    figure, colors = new_figure((7, 4.5), max(len(palette), max(slots) + 1))  # one colour map for every figure
    axes = figure.add_subplot()
    for run, label, slot in zip(runs, labels, slots):
        axes.plot(xs(run), ys(run), marker="o", markersize=3, linewidth=1.5, color=colors(slot % colors.N),
                  label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if logx:
        axes.set_xscale("log")
    if xlabel == "epoch":
        from matplotlib.ticker import MaxNLocator  # matplotlib is loaded by now (new_figure)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5"
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title, fontsize="medium")
    axes.legend(fontsize="small", loc="best" if len(runs) <= 8 else "center left",
                bbox_to_anchor=None if len(runs) <= 8 else (1.01, 0.5))
    return save_figure(figure, os.path.join(out, stem), pdf)


def main(argv):
    parser = make_parser("plot.py", __doc__)
    parser.add_argument("--out", default="plots", metavar="DIR", help="folder for the figures (default: plots)")
    parser.add_argument("--pdf", action="store_true", help="also write each figure as PDF")
    parser.add_argument("--by", choices=BY_CHOICES, help="one set of figures per value of this run setting")
    parser.add_argument("--logx", action="store_true", help="logarithmic traffic axis in acc_vs_bytes")
    add_bytes(parser)
    add_where(parser)
    args = parser.parse_args(argv)

    runs = select_runs(load_runs(args.inputs), args.where)
    empty = [r for r in runs if r.epochs_done == 0]
    for run in empty:
        print(f"plot.py: note: {run.path} has no epochs yet; left out", file=sys.stderr)
    runs = [r for r in runs if r.epochs_done > 0]
    if not runs:
        raise MeslDataError("nothing to plot: none of the runs has a completed epoch")
    prepare_output_dir(args.out)

    # Legends list the baseline first, then the methods in the paper's order (stable: input order within one).
    runs = sorted(runs, key=lambda r: method_rank(r.method))
    palette = {}
    for run in runs:
        palette.setdefault(run.codec, len(palette))
    for suffix, prefix, members in split_runs(runs, args.by):
        ignore = (args.by,) if args.by else ()
        labels = run_labels(members, ignore=ignore)
        title = ", ".join(p for p in (prefix, common_description(members, ignore=ignore)) if p)
        for stem, xlabel, ylabel, xs, ys, logx in figure_specs(args.bytes, args.logx):
            for path in draw(stem + suffix, xlabel, ylabel, xs, ys, logx, members, labels, palette, title, args.out,
                             args.pdf):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(run_main("plot.py", main))
