"""What the scripts need beyond Python's standard library, and the one line they print when it is missing.

The scripts start with `#!/usr/bin/python3`, Debian's interpreter, which finds Debian's python3-numpy, python3-h5py,
python3-pandas and python3-matplotlib. Run through another interpreter (the first `python3` on PATH may be a pyenv,
a conda or a venv) they may not find those modules: then they say which package to install and which interpreter
to use, in one line, instead of a traceback. Imports from the standard library only.
"""
import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"
DEBIAN_PACKAGES = {"numpy": "python3-numpy", "h5py": "python3-h5py", "pandas": "python3-pandas",
                   "matplotlib": "python3-matplotlib"}


def missing_module_message(error):
    """One line for a ModuleNotFoundError of a module the scripts need; None for any other module (a bug)."""
    top = (getattr(error, "name", None) or "").split(".")[0]
    package = DEBIAN_PACKAGES.get(top)
    if package is None:
        return None
    install = f"install Debian's {package} (apt-get install {package})"
    if os.path.realpath(sys.executable or "") == os.path.realpath(DEBIAN_PYTHON):
        return f"Python module '{top}' not found: {install}"
    script = f"analysis/{os.path.basename(sys.argv[0] or 'NAME.py')}"
    return (f"Python module '{top}' not found by {sys.executable}: run the script as printed ({script}, which "
            f"starts {DEBIAN_PYTHON}) or as {DEBIAN_PYTHON} {script}, and {install}")

