"""Scalar arguments: integers are range-checked before ctypes (which would wrap
2**64 + 8 to 8 in a size_t and 2**32 + 3 to 3 in an int), floats must be
finite, and each ValueError names the Python argument."""
import ctypes
import unittest

import numpy as np

from helpers import data, ntkit
from ntkit import _args, _lib

X, Y = data(30, 5, seed=2)


def net():
    return ntkit.Network(5, 8)


# (argument name, C type, call taking the bad value): every integer a user can pass.
# Python-side counts (steps, log_every) never reach ctypes but are checked the same way.
INT_ARGS = [
    ("d", "size_t", lambda v: ntkit.Network(d=v, width=8)),
    ("width", "size_t", lambda v: ntkit.Network(d=4, width=v)),
    ("seed", "uint64", lambda v: ntkit.Network(4, 8, seed=v)),
    ("quad_order", "int", lambda v: ntkit.ntk_inf(X, act="tanh", quad_order=v)),
    ("quad_order", "int", lambda v: ntkit.nngp_inf(X, act="tanh", quad_order=v)),
    ("quad_order", "int", lambda v: ntkit.constants("tanh", quad_order=v)),
    ("quad_order", "int", lambda v: ntkit.lin_kernel(X, act="tanh", quad_order=v)),
    ("quad_order", "int", lambda v: ntkit.lin_features(X, act="tanh", quad_order=v)),
    ("mem_limit", "size_t", lambda v: ntkit.ntk(net(), X, mem_limit=v)),
    ("mem_limit", "size_t", lambda v: ntkit.nngp(net(), X, mem_limit=v)),
    ("steps", "size_t", lambda v: net().train(X, Y, 0.1, 0.1, steps=v)),
    ("log_every", "size_t", lambda v: net().train(X, Y, 0.1, 0.1, steps=2, log_every=v)),
    ("n", "size_t", lambda v: ntkit.make_dataset(n=v, n_test=0, d=3)),
    ("n_test", "size_t", lambda v: ntkit.make_dataset(n=5, n_test=v, d=3)),
    ("d", "size_t", lambda v: ntkit.make_dataset(n=5, n_test=0, d=v)),
    ("seed", "uint64", lambda v: ntkit.make_dataset(n=5, n_test=0, d=3, seed=v)),
    ("width", "size_t", lambda v: ntkit.run(X, Y, width=v, steps=1, models="nn")),
    ("kernel_every", "size_t", lambda v: ntkit.run(X, Y, width=8, steps=1, kernel_every=v)),
    ("kernel_subsample", "size_t", lambda v: ntkit.run(X, Y, width=8, steps=1, kernel_subsample=v)),
    ("quad_order", "int", lambda v: ntkit.run(X, Y, width=8, steps=1, act="tanh", quad_order=v)),
    ("mem_limit", "size_t", lambda v: ntkit.run(X, Y, width=8, steps=1, mem_limit=v)),
    ("steps", "size_t", lambda v: ntkit.run(X, Y, width=8, steps=v, models="nn")),
    ("log_every", "size_t", lambda v: ntkit.run(X, Y, width=8, steps=2, log_every=v, models="nn")),
    ("n", "int", lambda v: ntkit.set_threads(v)),
]
# values that a C type would wrap to something valid (8, 0, 2**64 - 1, 3, -2**31, 2**31 - 1)
WRAPPING = {"size_t": (2 ** 64 + 8, 2 ** 64, -1), "uint64": (2 ** 64 + 8, 2 ** 64, -1),
            "int": (2 ** 32 + 3, 2 ** 31, -2 ** 31 - 1, 2 ** 64 + 3)}


class IntegersDoNotWrap(unittest.TestCase):
    def test_reported_cases(self):
        with self.assertRaisesRegex(ValueError, r"^width must be an integer in \[1, 2\*\*64 - 1\], "
                                                r"got 18446744073709551624$"):
            ntkit.Network(d=4, width=2 ** 64 + 8)
        with self.assertRaisesRegex(ValueError, r"^quad_order must be an integer in \[0, 2\*\*31 - 1\], "
                                                r"got 4294967299$"):
            ntkit.ntk_inf(X, act="tanh", quad_order=2 ** 32 + 3)

    def test_every_integer_argument_is_range_checked(self):
        for name, ctype, call in INT_ARGS:
            for wrapped in WRAPPING[ctype]:
                with self.subTest(name=name, value=wrapped):
                    with self.assertRaisesRegex(ValueError, "^%s must be an integer in" % name):
                        call(wrapped)

    def test_non_integral_and_non_numbers_refused(self):
        for bad in (2.5, float("nan"), float("inf"), "8", None, True, np.bool_(True), 8 + 0j):
            with self.subTest(value=bad):
                with self.assertRaisesRegex(ValueError, "^width must be an integer"):
                    ntkit.Network(4, bad)

    def test_numpy_integers_and_integral_floats_accepted(self):
        for w in (np.int64(8), np.uint8(8), np.int32(8), 8.0, np.float32(8), np.array(8)):
            with self.subTest(value=repr(w)):
                n = ntkit.Network(np.int16(4), w, seed=np.uint64(2 ** 64 - 1))
                self.assertEqual((n.d, n.width, n.config["seed"]), (4, 8, 2 ** 64 - 1))
                self.assertIsInstance(n.width, int)
        ref = ntkit.ntk_inf(X, act="tanh", quad_order=20)
        np.testing.assert_array_equal(ntkit.ntk_inf(X, act="tanh", quad_order=np.int8(20)), ref)
        np.testing.assert_array_equal(ntkit.ntk_inf(X, act="tanh", quad_order=20.0), ref)

    def test_gd_steps_must_be_whole(self):
        with self.assertRaisesRegex(ValueError, "^steps must be an integer.*got 2.7"):
            ntkit.run(X, Y, width=8, steps=2.7, models="nn")
        with self.assertRaisesRegex(ValueError, "^steps must be an integer.*got 2.5"):
            net().train(X, Y, 0.1, 0.1, steps=2.5)
        with self.assertRaisesRegex(ValueError, r"^times\[1\] \(a whole number of GD steps\)"):
            ntkit.run(X, Y, width=8, times=[0, 1.5], models="nn")

    def test_model_index(self):
        with ntkit.Run(X, Y, width=8, models="nn,ntk") as r:
            np.testing.assert_array_equal(r.predictions(np.int64(3))[0], r.predictions("ntk")[0])
            for bad in (2 ** 32, 2 ** 32 + 3, -1, 5, 1.5, True):
                with self.subTest(model=bad):
                    with self.assertRaisesRegex(ValueError, r"^model must be an integer in \[0, 4\]"):
                        r.predictions(bad)
            with self.assertRaisesRegex(ValueError, "unknown model 'foo'; choose one of nn, "):
                r.predictions("foo")

    def test_ctypes_backstop(self):
        # an integer that slipped past the argument checks still cannot wrap at the C boundary
        for fn, v in ((_lib.lib.ntk_set_threads, 2 ** 32 + 1), (_lib.lib.ntk_mem_check, 2 ** 64)):
            with self.assertRaises(ctypes.ArgumentError):
                fn(v) if fn is _lib.lib.ntk_set_threads else fn(v, 0, b"x")


class FloatsAndFlags(unittest.TestCase):
    def test_floats_must_be_finite_and_real(self):
        cases = [
            ("alpha", lambda v: ntkit.Network(4, 8, alpha=v)),
            ("act_param", lambda v: ntkit.Network(4, 8, act="leaky_relu", act_param=v)),
            ("lr1", lambda v: net().train(X, Y, v, 0.1, 2)),
            ("lr2", lambda v: net().train(X, Y, 0.1, v, 2)),
            ("layer\\[0\\]", lambda v: ntkit.ntk_inf(X, layer=(v, 1.0))),
            ("layer\\[1\\]", lambda v: ntkit.ntk(net(), X, layer=(1.0, v))),
            ("trace_factor", lambda v: ntkit.constants("relu", trace_factor=v)),
            ("trace_factor", lambda v: ntkit.lin_kernel(X, trace_factor=v)),
            ("alpha", lambda v: ntkit.lin_features(X, alpha=v)),
            ("lr", lambda v: ntkit.gradient_descent_mse(np.eye(3), np.ones(3), lr=v)),
            ("t_max", lambda v: ntkit.gradient_descent_mse(np.eye(3), np.ones(3), t_max=v)),
            ("ridge", lambda v: ntkit.kernel_ridge(np.eye(3), np.ones(3), v)),
            ("flow_rtol", lambda v: ntkit.run(X, Y, width=8, flow=True, flow_rtol=v, steps=1,
                                              log_every=1, models="nn")),
            ("lr1", lambda v: ntkit.run(X, Y, width=8, lr1=v, steps=1, models="nn")),
        ]
        for name, call in cases:
            for bad in (float("nan"), float("inf"), -np.inf):
                with self.subTest(name=name, value=bad):
                    with self.assertRaisesRegex(ValueError, "^%s must be a finite number" % name):
                        call(bad)
            with self.subTest(name=name, value="str"):
                with self.assertRaisesRegex(ValueError, "^%s must be a real number" % name):
                    call("0.5")

    def test_flags(self):
        for bad in ("no", 2, None):
            with self.subTest(value=bad):
                with self.assertRaisesRegex(ValueError, "^centered must be True or False"):
                    ntkit.Network(4, 8, centered=bad)
                with self.assertRaisesRegex(ValueError, "^flow must be True or False"):
                    ntkit.run(X, Y, width=8, flow=bad, steps=1, models="nn")
        self.assertTrue(ntkit.Network(4, 8, centered=np.bool_(True)).config["centered"])
        self.assertFalse(ntkit.Network(4, 8, centered=0).config["centered"])

    def test_strings(self):
        with self.assertRaisesRegex(TypeError, "data must be a string"):
            ntkit.make_dataset(data=3)
        with self.assertRaisesRegex(TypeError, "target must be a string"):
            ntkit.make_dataset(target=3, n=5, n_test=0, d=2)


class Helpers(unittest.TestCase):
    def test_int_arg(self):
        self.assertEqual(_args.int_arg(np.uint64(2 ** 64 - 1), "x"), 2 ** 64 - 1)
        self.assertEqual(_args.int_arg(1e3, "x"), 1000)
        self.assertEqual(_args.c_int_arg(-5, "x"), -5)
        with self.assertRaisesRegex(ValueError, r"x must be an integer in \[-2\*\*31, 2\*\*31 - 1\], got 2147483648"):
            _args.c_int_arg(2 ** 31, "x")
        with self.assertRaisesRegex(ValueError, r"x must be an integer in \[0, 2\*\*64 - 1\], got 1e\+300"):
            _args.size_arg(1e300, "x")

    def test_float_arg(self):
        self.assertEqual(_args.float_arg(np.float32(0.5), "x"), 0.5)
        self.assertEqual(_args.float_arg(np.array(3), "x"), 3.0)
        self.assertEqual(_args.float_arg(float("inf"), "x", finite=False), float("inf"))
        with self.assertRaisesRegex(ValueError, "x must be a real number, got True"):
            _args.float_arg(True, "x")


if __name__ == "__main__":
    unittest.main()
