"""make_dataset: a file's rows and labels are used as they are."""
import os
import unittest

import numpy as np

from helpers import TempDir, ntkit


class FileData(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(5)
        self.X = rng.standard_normal((37, 4))
        self.y = rng.standard_normal(37)
        self.Xt = rng.standard_normal((6, 4))
        self.yt = rng.standard_normal(6)

    def files(self, tmp):
        paths = {}
        for name in ("X", "y", "Xt", "yt"):
            paths[name] = os.path.join(tmp, name + ".npy")
            np.save(paths[name], getattr(self, name))
        return paths

    def test_labels_of_the_file_by_default(self):
        # the default target never replaces a file's labels, and all its rows train
        with TempDir() as tmp:
            p = self.files(tmp)
            ds = ntkit.make_dataset("npy:%s:%s" % (p["X"], p["y"]))
            np.testing.assert_array_equal(ds["X_train"], self.X)
            np.testing.assert_array_equal(ds["y_train"], self.y)
            self.assertIsNone(ds["X_test"])
            self.assertIsNone(ds["y_test"])

    def test_a_target_with_labelled_data_is_refused(self):
        with TempDir() as tmp:
            p = self.files(tmp)
            with self.assertRaisesRegex(ValueError, "carry their own labels.*target=None"):
                ntkit.make_dataset("npy:%s:%s" % (p["X"], p["y"]), "linear")

    def test_inputs_alone_get_a_teacher(self):
        # npy:X.npy without labels: the linear teacher of seed + 1, as for synthetic inputs
        with TempDir() as tmp:
            p = self.files(tmp)
            ds = ntkit.make_dataset("npy:%s" % p["X"], seed=3)
            same = ntkit.make_dataset("npy:%s" % p["X"], "linear", seed=3)
            np.testing.assert_array_equal(ds["y_train"], same["y_train"])
            np.testing.assert_array_equal(ds["X_train"], self.X)
            self.assertEqual(ds["y_train"].shape, (37,))

    def test_split_and_test_file(self):
        with TempDir() as tmp:
            p = self.files(tmp)
            ds = ntkit.make_dataset("npy:%s:%s" % (p["X"], p["y"]), n_test=7)
            np.testing.assert_array_equal(ds["X_train"], self.X[:30])
            np.testing.assert_array_equal(ds["y_test"], self.y[30:])
            ds = ntkit.make_dataset("npy:%s:%s" % (p["X"], p["y"]),
                                    test="npy:%s:%s" % (p["Xt"], p["yt"]))
            np.testing.assert_array_equal(ds["X_train"], self.X)
            np.testing.assert_array_equal(ds["X_test"], self.Xt)
            np.testing.assert_array_equal(ds["y_test"], self.yt)
            with self.assertRaisesRegex(ValueError, "test must be a file spec"):
                ntkit.make_dataset("npy:%s:%s" % (p["X"], p["y"]), test="gaussian")

    def test_missing_file(self):
        with TempDir() as tmp:
            missing = os.path.join(tmp, "absent.npy")
            with self.assertRaises(FileNotFoundError) as cm:
                ntkit.make_dataset("npy:%s" % missing)
            self.assertIn(missing, str(cm.exception))

    def test_synthetic_defaults_unchanged(self):
        ds = ntkit.make_dataset(seed=1)
        self.assertEqual(ds["X_train"].shape, (1000, 20))
        self.assertEqual(ds["X_test"].shape, (200, 20))
        same = ntkit.make_dataset("gaussian", "linear", n=1000, n_test=200, d=20, seed=1)
        np.testing.assert_array_equal(ds["y_train"], same["y_train"])


if __name__ == "__main__":
    unittest.main()
