"""Prints the greeting of the py_library, which reads a data file through the runfiles library."""

import sys

from pyapp.lib import greeting

if __name__ == "__main__":
    print("python %d.%d: %s" % (sys.version_info[0], sys.version_info[1], greeting.message()))
