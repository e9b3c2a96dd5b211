#!/usr/bin/python3
"""Compression error of each codec at equal bit budgets (the seed paper's Fig. 2), from `mesl errors` files.

For each file: prints a table of the mean relative error ||x - x_hat|| / ||x|| (rows: methods, columns: budgets in
bits per element), the bits per element of the setting each method used at each budget (at most the budget), and
the ranking per budget, lowest error first (e.g. "2.32 bpe: ms < qu < sp < rt"; '=' for equal errors). Writes a
grouped bar chart, one group of bars per budget and error bars of one standard deviation, to
--out DIR/errors_NAME.png (NAME: the input file's name without extension; also .pdf with --pdf).

examples:
  errors.py errors.h5
  errors.py errors_*.h5 --out figures --pdf --logy
"""
import math
import os
import sys

from meslcli import make_parser, run_main
from mesllabel import format_bpe, format_number
from meslplot import new_figure, prepare_output_dir, save_figure
from meslrun import MeslDataError, load_errors_files, method_rank
from mesltext import format_table


class ErrorMatrix:
    """Errors by (row, budget). A row is a method, or a codec spec for a method that has several settings at one
    budget (so no two settings are averaged or hidden)."""

    def __init__(self, records):
        records = [r for r in records if not math.isnan(r["budget"])]
        counts = {}
        for r in records:
            counts[(r["method"], r["budget"])] = counts.get((r["method"], r["budget"]), 0) + 1
        several = {method for (method, _), n in counts.items() if n > 1}
        self.cells = {}
        order = {}
        for r in records:
            key = r["spec"] if r["method"] in several else r["method"]
            order.setdefault(key, method_rank(r["method"]))
            self.cells[(key, r["budget"])] = (r["rel_error"], r["rel_error_std"], r["bpe"])
        self.rows = sorted(order, key=lambda k: (order[k], k))
        self.budgets = sorted({b for _, b in self.cells})

    def value(self, key, budget, field=0):
        cell = self.cells.get((key, budget))
        return math.nan if cell is None else cell[field]

    def ranking(self, budget):
        """'ms < qu < sp < rt' over the rows with an error at this budget."""
        present = sorted(((self.value(k, budget), k) for k in self.rows if not math.isnan(self.value(k, budget))),
                         key=lambda vk: vk[0])
        text = ""
        for index, (value, key) in enumerate(present):
            if index:
                text += " = " if value == present[index - 1][0] else " < "
            text += key
        return text


def budget_name(budget):
    return f"{format_bpe(budget)} bpe"


def cell(value, spec=None):
    """Errors with 4 decimals, or in scientific notation when that would hide them (fp16 is ~1e-4)."""
    if math.isnan(value):
        return "-"
    if spec is None:
        spec = ".4f" if value == 0 or abs(value) >= 1e-3 else ".3e"
    return format(value, spec)


def report(errors_file, matrix):
    lines = [f"{errors_file.path}: {errors_file.describe()}",
             "relative error ||x - x_hat|| / ||x||, mean over samples:"]
    headers = ["method"] + [budget_name(b) for b in matrix.budgets]
    right = set(range(1, len(headers)))
    lines.append(format_table(headers, [[k] + [cell(matrix.value(k, b)) for b in matrix.budgets]
                                        for k in matrix.rows], right=right))
    lines.append("bits per element of the setting used at each budget:")
    lines.append(format_table(headers, [[k] + [cell(matrix.value(k, b, 2), ".4g") for b in matrix.budgets]
                                        for k in matrix.rows], right=right))
    lines.append("ranking, lowest error first:")
    lines.extend(f"{budget_name(b)}: {matrix.ranking(b)}" for b in matrix.budgets)
    return "\n".join(lines)


def draw(errors_file, matrix, stem, out, pdf, logy):
    figure, colors = new_figure((max(6.5, 1.2 + 1.1 * len(matrix.budgets) * max(1, len(matrix.rows)) / 3), 4.2),
                                len(matrix.rows))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(matrix.rows))
    for index, key in enumerate(matrix.rows):
        positions = [b + (index - (len(matrix.rows) - 1) / 2) * width for b in range(len(matrix.budgets))]
        heights = [matrix.value(key, b) for b in matrix.budgets]
        spread = [0.0 if math.isnan(matrix.value(key, b, 1)) else matrix.value(key, b, 1) for b in matrix.budgets]
        axes.bar(positions, heights, width, yerr=spread, capsize=2, label=key, color=colors(index % colors.N))
    axes.set_xticks(range(len(matrix.budgets)), [budget_name(b) for b in matrix.budgets])
    axes.set_xlabel("budget (bits per element)")
    axes.set_ylabel("relative error ||x - x̂|| / ||x||")
    if logy:
        axes.set_yscale("log")
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_title(errors_file.describe(), fontsize="medium")
    axes.legend(fontsize="small")
    return save_figure(figure, os.path.join(out, stem), pdf)


def main(argv):
    parser = make_parser("errors.py", __doc__, inputs_help="`mesl errors` files (HDF5), glob patterns or "
                                                           "directories")
    parser.add_argument("--out", default="plots", metavar="DIR", help="folder for the charts (default: plots)")
    parser.add_argument("--pdf", action="store_true", help="also write each chart as PDF")
    parser.add_argument("--logy", action="store_true", help="logarithmic error axis")
    args = parser.parse_args(argv)

    files = load_errors_files(args.inputs)
    for errors_file in files:
        if errors_file.rows == 0:
            raise MeslDataError(f"{errors_file.path}: /errors has no rows")
    prepare_output_dir(args.out)
    stems = []
    for index, errors_file in enumerate(files):
        if index:
            print()
        matrix = ErrorMatrix(errors_file.records())
        print(report(errors_file, matrix))
        stem = "errors_" + os.path.splitext(errors_file.name)[0]
        stem = stem if stem not in stems else f"{stem}_{index + 1}"  # same name in two folders
        stems.append(stem)
        for path in draw(errors_file, matrix, stem, args.out, args.pdf, args.logy):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("errors.py", main))
