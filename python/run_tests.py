#!/usr/bin/env python3
"""Run the Python tests (unittest discovery in tests/) and print one final
line "N passed, N failed" (", N skipped" appended when some were skipped).
Exits nonzero when a test fails or errors. Extra arguments: -q for quiet."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class _Result(unittest.TextTestResult):
    """Counts successes explicitly (a failing setUpClass is an error but no test run)."""

    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main(argv):
    sys.path.insert(0, HERE)
    tests = os.path.join(HERE, "tests")
    suite = unittest.defaultTestLoader.discover(tests, top_level_dir=tests)
    verbosity = 1 if "-q" in argv else 2
    runner = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout, resultclass=_Result)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    line = "%d passed, %d failed" % (result.passed + len(result.expectedFailures), failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed or not result.wasSuccessful() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
