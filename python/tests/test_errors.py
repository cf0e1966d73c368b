"""Errors: shape checks before C, library messages, conversions, loading,
struct layouts."""
import ctypes
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from helpers import REPO, TempDir, data, ntkit
from ntkit import _arrays, _lib


class ShapeChecks(unittest.TestCase):
    def setUp(self):
        self.net = ntkit.Network(4, 8)

    def test_wrong_columns_and_ndim(self):
        with self.assertRaisesRegex(ValueError, "X has 3 columns, expected 4"):
            self.net(np.zeros((5, 3)))
        with self.assertRaisesRegex(ValueError, "must be 2-d"):
            self.net(np.zeros(4))
        with self.assertRaisesRegex(ValueError, "X2 has 5 columns"):
            ntkit.ntk(self.net, np.zeros((2, 4)), np.zeros((2, 5)))
        with self.assertRaisesRegex(ValueError, "y has length 4, expected 5"):
            self.net.train(np.zeros((5, 4)), np.zeros(4), 1, 1, 3)
        with self.assertRaisesRegex(ValueError, "must be square"):
            ntkit.eigh(np.zeros((3, 4)))
        with self.assertRaisesRegex(ValueError, "W has shape|W has 3 columns"):
            self.net.W = np.zeros((8, 3))
        with self.assertRaisesRegex(ValueError, "K_test_train has 3 columns"):
            ntkit.gradient_descent_mse(np.eye(4), np.ones(4))(1, np.zeros(4), None, np.ones((2, 3)))
        with self.assertRaisesRegex(ValueError, "real numbers"):
            self.net(np.array([["a", "b", "c", "d"]]))
        with self.assertRaisesRegex(ValueError, "layer must be"):
            ntkit.ntk(self.net, np.zeros((2, 4)), layer="third")

    def test_conversion_and_no_copy(self):
        X = np.ones((3, 4))
        self.assertIs(_arrays.matrix(X, "X"), X)
        for other in (np.ones((3, 4), dtype=np.float32), np.asfortranarray(X), np.ones((3, 8))[:, ::2],
                      np.ones((3, 4), dtype=int), X.tolist()):
            conv = _arrays.matrix(other, "X")
            self.assertTrue(conv.flags.c_contiguous and conv.dtype == np.float64)
            np.testing.assert_array_equal(self.net(other), self.net(X))


class LibraryErrors(unittest.TestCase):
    def test_nonfinite_inputs(self):
        net = ntkit.Network(3, 4)
        X, y = data(5, 3)
        X[2, 1] = np.nan
        for call in (lambda: net(X), lambda: ntkit.ntk(net, X), lambda: ntkit.ntk_inf(X),
                     lambda: net.train(X, y, 1, 1, 2)):
            with self.assertRaises(ValueError) as cm:
                call()
            self.assertEqual(cm.exception.status, "NTK_ERR_NONFINITE")
            self.assertIn("NaN", str(cm.exception))
        X[2, 1] = 0
        y[0] = np.inf
        with self.assertRaisesRegex(ValueError, "Inf"):
            net.train(X, y, 1, 1, 2)

    def test_bad_settings_carry_library_message(self):
        with self.assertRaisesRegex(ValueError, "even width"):
            ntkit.Network(3, 5, init="symmetric")
        with self.assertRaisesRegex(ValueError, "unknown activation 'foo'"):
            ntkit.Network(3, 4, act="foo")
        with self.assertRaisesRegex(ValueError, "alpha"):
            ntkit.Network(3, 4, alpha=0)
        with self.assertRaisesRegex(ValueError, "not symmetric"):
            ntkit.eigh(np.array([[1.0, 2.0], [0.0, 1.0]]))
        with self.assertRaisesRegex(ValueError, "ridge"):
            ntkit.kernel_ridge(np.eye(2), np.ones(2), -1.0)
        with self.assertRaisesRegex(ValueError, "loss"):
            ntkit.Network(3, 4).train(np.zeros((2, 3)), np.zeros(2), 1, 1, 1, loss="huber")
        with self.assertRaisesRegex(ValueError, "seed"):
            ntkit.Network(3, 4, seed=-1)
        with self.assertRaisesRegex(ValueError, r"width must be an integer in \[1, .*got 0"):
            ntkit.Network(3, 0)
        with self.assertRaises(ValueError) as cm:   # the library's own check, with its status
            ntkit.Network(3, 4, alpha=-1)
        self.assertEqual(cm.exception.status, "NTK_ERR_ARG")

    def test_status_mapping(self):
        self.assertIsInstance(_lib.error(_lib.NTK_ERR_FORMAT), ValueError)
        self.assertIsInstance(_lib.error(_lib.NTK_ERR_NOMEM), MemoryError)
        self.assertIsInstance(_lib.error(_lib.NTK_ERR_DIVERGED), ntkit.DivergedError)
        # an iterative solver at its iteration limit: its own class, a RuntimeError
        noconv = _lib.error(_lib.NTK_ERR_NOCONV, msg=b"conjugate gradients stopped")
        self.assertIs(type(noconv), ntkit.ConvergenceError)
        self.assertIsInstance(noconv, RuntimeError)
        self.assertEqual(noconv.status, "NTK_ERR_NOCONV")
        # a failed factorisation: numpy's exception (still a RuntimeError, as before)
        lapack = _lib.error(_lib.NTK_ERR_LAPACK, msg=b"dposv failed")
        self.assertIsInstance(lapack, np.linalg.LinAlgError)
        self.assertIsInstance(lapack, RuntimeError)
        # files: OSError, and the subclass Python itself raises for the reason the message gives
        self.assertIs(type(_lib.error(_lib.NTK_ERR_IO, msg=b"f: could not write: disk")), OSError)
        cases = {errno.ENOENT: FileNotFoundError, errno.EACCES: PermissionError,
                 errno.ENOTDIR: NotADirectoryError}
        for code, cls in cases.items():
            e = _lib.error(_lib.NTK_ERR_IO, msg=("x.npy: cannot open: " + os.strerror(code)).encode())
            self.assertIs(type(e), cls)
            self.assertEqual(e.errno, code)
            self.assertEqual(str(e), "x.npy: cannot open: " + os.strerror(code))
        e = _lib.error(_lib.NTK_ERR_IO, msg=b"d is a directory, not a regular file")
        self.assertIsInstance(e, IsADirectoryError)

    def test_dataset_file_errors(self):
        with self.assertRaises(FileNotFoundError) as cm:
            ntkit.make_dataset("npy:/nonexistent/X.npy", None, n=5, n_test=0)
        self.assertIn("/nonexistent/X.npy", str(cm.exception))
        with TempDir() as tmp:
            with self.assertRaises(IsADirectoryError):
                ntkit.make_dataset("npy:%s" % tmp)

    def test_threads(self):
        old = ntkit.get_threads()
        ntkit.set_threads(1)
        self.assertEqual(ntkit.get_threads(), 1)
        ntkit.set_threads(old)


class Loading(unittest.TestCase):
    def run_import(self, env):
        code = "import ntkit; print(ntkit.library_path)"
        return subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(ntkit.__path__[0]),
                              env=env, capture_output=True, text=True)

    def test_missing_library_message(self):
        env = dict(os.environ, NTKIT_LIBRARY="/nonexistent/libntkit.so")
        res = self.run_import(env)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("ImportError", res.stderr)
        for word in ("NTKIT_LIBRARY", "/nonexistent/libntkit.so", "make", "build/libntkit.so"):
            self.assertIn(word, res.stderr)

    def test_library_next_to_package(self):
        tmp = tempfile.mkdtemp()
        try:
            shutil.copytree(ntkit.__path__[0], os.path.join(tmp, "ntkit"),
                            ignore=shutil.ignore_patterns("__pycache__", "libntkit.so*"))
            shutil.copy(os.path.realpath(ntkit.library_path), os.path.join(tmp, "ntkit", "libntkit.so"))
            env = {k: v for k, v in os.environ.items() if k != "NTKIT_LIBRARY"}
            code = "import ntkit; print(ntkit.library_path)"
            res = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True,
                                 text=True)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertEqual(res.stdout.strip(), os.path.join(tmp, "ntkit", "libntkit.so"))
        finally:
            shutil.rmtree(tmp)


# Every struct the package mirrors, by its C name: the probe prints the size and every
# field's offset of each (and the enum values and macros the package relies on).
MIRRORED = {
    "ntk_act": "Act", "ntk_net_config": "NetConfig", "ntk_gd_config": "GDConfig",
    "ntk_run_config": "RunConfig", "ntk_weight_dist": "WeightDist", "ntk_constants": "Constants",
    "ntk_kernel_dist": "KernelDist", "ntk_spectrum_summary": "SpectrumSummary",
    "ntk_run_theory": "RunTheory", "ntk_dataset": "Dataset", "ntk_dataset_spec": "DatasetSpec",
    "ntk_defaults_t": "Defaults",
    "ntk_kernel_desc": "KernelDesc", "ntk_kgd_config": "KGDConfig", "ntk_batch": "Batch",
    "ntk_loss_out": "LossOut", "ntk_run_data": "RunData", "ntk_schedule": "Schedule",
    "ntk_run_report": "RunReport", "ntk_cg_config": "CGConfig", "ntk_cg_info": "CGInfo",
}
# C constant -> the package's value
CONSTANTS = {
    "NTK_KERNEL_EMPIRICAL": "KERNEL_EMPIRICAL", "NTK_KERNEL_INFINITE": "KERNEL_INFINITE",
    "NTK_KERNEL_LIN": "KERNEL_LIN", "NTK_RUN_COMPLETED": "RUN_COMPLETED",
    "NTK_RUN_DIVERGED": "RUN_DIVERGED", "NTK_RUN_INTERRUPTED": "RUN_INTERRUPTED",
    "NTK_RUN_FAILED": "RUN_FAILED", "NTK_MODEL_NN": "NTK_MODEL_NN", "NTK_OK": "NTK_OK",
    "NTK_ERR_ARG": "NTK_ERR_ARG", "NTK_ERR_NOMEM": "NTK_ERR_NOMEM", "NTK_ERR_IO": "NTK_ERR_IO",
    "NTK_ERR_FORMAT": "NTK_ERR_FORMAT", "NTK_ERR_NONFINITE": "NTK_ERR_NONFINITE",
    "NTK_ERR_DIVERGED": "NTK_ERR_DIVERGED", "NTK_ERR_LAPACK": "NTK_ERR_LAPACK",
    "NTK_ERR_INTERRUPTED": "NTK_ERR_INTERRUPTED", "NTK_ERR_NOCONV": "NTK_ERR_NOCONV",
    "NTK_OP_AUTO": "OP_AUTO", "NTK_OP_DENSE": "OP_DENSE", "NTK_OP_DENSE_F32": "OP_DENSE_F32",
    "NTK_OP_MATRIX_FREE": "OP_MATRIX_FREE",
}
# macros behind ntk_defaults() -> its fields, as the package reads them at import
MACROS = {"NTK_KGD_EIG_MAX_N": "kgd_eig_max_n", "NTK_KGD_KRYLOV_KMAX": "kgd_krylov_kmax",
          "NTK_THEORY_MAX_POINTS": "theory_max_points", "NTK_KERNEL_SUBSAMPLE": "kernel_subsample",
          "NTK_LEAKY_SLOPE": "leaky_slope", "NTK_QUAD_ORDER": "quad_order"}


def probe_source():
    lines = ['#include "ntkit.h"', "#include <stdio.h>", "#include <stddef.h>", "int main(void) {"]
    for cname, pyname in MIRRORED.items():
        lines.append('    printf("%s %%zu\\n", sizeof(%s));' % (cname, cname))
        for field, _ in getattr(_lib, pyname)._fields_:
            lines.append('    printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (cname, field, cname, field))
    for c in CONSTANTS:
        lines.append('    printf("%s %%.17g\\n", (double)(%s));' % (c, c))
    for c in MACROS:
        lines.append('    printf("%s %%.17g\\n", (double)(%s));' % (c, c))
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@unittest.skipUnless(shutil.which("cc") and os.path.exists(os.path.join(REPO, "include", "ntkit.h")),
                     "needs cc and include/ntkit.h")
class StructLayouts(unittest.TestCase):
    """The ctypes mirrors against the header: a wrong size or offset would make the
    library read or write the wrong bytes (a field added in the middle of a struct,
    as flips in ntk_run_config, shifts every field after it)."""

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.mkdtemp()
        try:
            src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
            with open(src, "w") as fp:
                fp.write(probe_source())
            subprocess.run(["cc", "-I", os.path.join(REPO, "include"), src, "-o", exe], check=True)
            out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
        finally:
            shutil.rmtree(tmp)
        cls.c = {k: v for k, v in (line.split() for line in out.splitlines())}

    def test_ctypes_structs_match_header(self):
        py, c = {}, {}
        for cname, pyname in MIRRORED.items():
            cls = getattr(_lib, pyname)
            py[cname] = ctypes.sizeof(cls)
            c[cname] = int(self.c[cname])
            for field, _ in cls._fields_:
                py[cname + "." + field] = getattr(cls, field).offset
                c[cname + "." + field] = int(self.c[cname + "." + field])
        self.assertEqual(py, c)
        self.assertGreater(len(py), 100)   # every struct with every field was compared

    def test_constants_match_header(self):
        for cname, pyname in CONSTANTS.items():
            self.assertEqual(getattr(_lib, pyname), int(float(self.c[cname])), cname)

    def test_defaults_are_the_libraries(self):
        # ntk_defaults() as read at import, against the macros it is documented to return
        for macro, field in MACROS.items():
            self.assertEqual(ntkit.DEFAULTS[field], float(self.c[macro]), field)
        self.assertEqual(ntkit.Network(2, 3, act="leaky_relu").config["act_param"],
                         ntkit.DEFAULTS["leaky_slope"])


if __name__ == "__main__":
    unittest.main()
