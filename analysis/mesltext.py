"""Plain-text output: aligned tables for the terminal and CSV files, with the number formats the scripts share."""
import csv
import math

MB = 1e6  # bytes per MB (decimal, as link rates in Mbps are)


def is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value, spec, missing="-"):
    """`value` formatted with `spec` (e.g. '.2f'), or `missing` for None / NaN."""
    return missing if is_missing(value) else format(value, spec)


def fmt_percent(fraction, digits=2):
    return "-" if is_missing(fraction) else f"{100.0 * fraction:.{digits}f}"


def fmt_mb(nbytes, digits=2):
    return "-" if is_missing(nbytes) else f"{nbytes / MB:.{digits}f}"


def format_table(headers, rows, right=None):
    """Rows of cells as an aligned text table with a rule under the header. Columns listed in `right` (indices)
    are right-aligned, the rest left-aligned; by default a column is right-aligned when all its cells look like
    numbers."""
    cells = [[str(c) for c in row] for row in rows]
    headers = [str(h) for h in headers]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if right is None:
        right = {i for i in range(len(headers)) if cells and all(_numeric_looking(row[i]) for row in cells)}

    def line(row):
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _numeric_looking(text):
    if text in ("-", "INF", "n/a", "inf"):
        return True
    try:
        float(text.rstrip("%x"))
        return True
    except ValueError:
        return False


def write_csv(path, headers, rows):
    """Rows to a CSV file (missing values as empty cells). OSError propagates (the CLI wrapper reports it)."""
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if is_missing(v) else v for v in row])
