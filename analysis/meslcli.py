"""Command-line plumbing shared by the scripts: the common options and the wrapper that turns every failure on bad
input into one line on stderr and an exit status (argparse's own errors exit 2, data errors exit 1)."""
import argparse
import os
import sys

from meslneeds import missing_module_message

try:
    from meslrun import BYTES_CHOICES, MeslDataError, one_line  # imports numpy
except ModuleNotFoundError as missing:
    if missing_module_message(missing) is None:
        raise
    sys.exit(f"{os.path.basename(sys.argv[0]) or 'mesl analysis'}: error: {missing_module_message(missing)}")

DEBUG_VARIABLE = "MESL_ANALYSIS_DEBUG"  # set to 1 to see the traceback of an unexpected error


def make_parser(prog, description, inputs_help="mesl run files (HDF5), glob patterns or directories"):
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="FILE", help=inputs_help)
    return parser


def key_value(text):
    """argparse type for --where: 'KEY=VALUE' -> (KEY, VALUE)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. method=ms)")
    return key.strip(), value.strip()


def add_where(parser):
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                        help="keep only runs whose root attribute KEY equals VALUE (repeatable; e.g. "
                             "--where dataset=fashion-mnist --where cut=2)")


def add_bytes(parser):
    parser.add_argument("--bytes", choices=tuple(BYTES_CHOICES), default="fwd",
                        help="traffic to count: fwd (forward activations, default), fwd+bwd (plus the returned "
                             "gradients) or all (plus model averaging and control messages)")


def run_main(prog, main, argv=None):
    """Runs main(args_list) and returns the exit status. Bad input gives 'PROG: error: MESSAGE' and status 1."""
    def fail(message):
        print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
        return 1

    try:
        return main(sys.argv[1:] if argv is None else list(argv))
    except MeslDataError as error:
        return fail(error)
    except ModuleNotFoundError as error:  # h5py, pandas and matplotlib are imported on first use
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return fail(missing_module_message(error) or f"unexpected {type(error).__name__}: {error} (set "
                                                     f"{DEBUG_VARIABLE}=1 to see where)")
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return fail(f"{where}{error.strerror or error}")
    except KeyboardInterrupt:
        return fail("interrupted")
    except Exception as error:  # noqa: BLE001  a file we cannot make sense of must not end in a traceback
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return fail(f"unexpected {type(error).__name__}: {error} (set {DEBUG_VARIABLE}=1 to see where)")
