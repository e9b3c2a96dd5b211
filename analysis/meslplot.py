"""Figures written to files with matplotlib's Agg backend, shared by plot.py and errors.py."""
import os

from meslrun import MeslDataError


def new_figure(size, curves):
    """(Figure, colormap) for `curves` curves or bar series. matplotlib is imported here, not at module load: it
    takes about a second, which a script that stops on bad input or prints --help should not pay."""
    import matplotlib
    matplotlib.use("Agg")  # files only; never a display, even where $DISPLAY is set
    from matplotlib.figure import Figure
    figure = Figure(figsize=size, layout="constrained")
    return figure, matplotlib.colormaps["tab10" if curves <= 10 else "tab20"]


def save_figure(figure, stem, pdf):
    """Writes STEM.png (150 dpi) and, with `pdf`, STEM.pdf; returns the paths written."""
    written = []
    for extension in ("png", "pdf") if pdf else ("png",):
        path = f"{stem}.{extension}"
        figure.savefig(path, dpi=150)
        written.append(path)
    return written


def prepare_output_dir(path):
    """Creates the --out folder if needed; MeslDataError when the name is taken by something else."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise MeslDataError(f"--out {path}: exists and is not a directory (give a folder for the figures)")
    os.makedirs(path, exist_ok=True)
