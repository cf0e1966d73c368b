#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Each seed is a small valid input (a few KB at most) in the layout its
target expects (see the comment at the top of fuzz/fuzz_<target>.c), plus
a few near-misses the readers must refuse. The files are committed; rerun
this script after changing a target's input layout:
    /usr/bin/python3 fuzz/make_corpus.py
Needs numpy (for .npy files written by numpy itself)."""
import io
import json
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "corpus")


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def cifar_record(label, seed):
    rng = np.random.default_rng(seed)
    return bytes([label]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()


def mnist_files(labels, rows, cols, seed):
    rng = np.random.default_rng(seed)
    n = len(labels)
    images = struct.pack(">IIII", 2051, n, rows, cols) + \
        rng.integers(0, 256, n * rows * cols, dtype=np.uint8).tobytes()
    labs = struct.pack(">II", 2049, n) + bytes(labels)
    return images, labs


def csv_control(header, col):
    """Byte 0 of a fuzz_csv input: header mode 0 auto, 1 yes, 2 no; target col -1..6."""
    return bytes([header | (col + 1) << 2])


def seeds():
    s = {}
    rng = np.random.default_rng(1)
    x23 = rng.normal(size=(2, 3))
    # --- npy -------------------------------------------------------------
    s["npy"] = {
        "f8_2d": npy_bytes(x23),
        "f4_1d": npy_bytes(rng.normal(size=4).astype(np.float32)),
        "f8_be": npy_bytes(x23.astype(">f8")),
        "f4_be_2d": npy_bytes(x23.astype(">f4")),
        "v2_f8": npy_bytes(rng.normal(size=(3, 1)), version=(2, 0)),
        "empty_0x3": npy_bytes(np.zeros((0, 3))),
        "one": npy_bytes(np.ones((1, 1))),
        "fortran": npy_bytes(np.asfortranarray(rng.normal(size=(2, 2)))),
        "int32": npy_bytes(np.arange(4, dtype=np.int32)),
        "nan": npy_bytes(np.array([1.0, np.nan])),
        "truncated": npy_bytes(x23)[:-5],
    }
    # --- csv -------------------------------------------------------------
    s["csv"] = {
        "header": csv_control(0, -1) + b"x1,x2,y\n1,2,3\n4,5,6\n",
        "plain": csv_control(0, -1) + b"1,2,3\n4,5,6\n-1e-3,+.5,7\n",
        "crlf_blank": csv_control(0, 2) + b"a, b ,c\r\n\r\n 1 , 2,3\r\n\n4,5,6\r\n",
        "bom": csv_control(0, 0) + b"\xef\xbb\xbf1,2,3\n4,5,6\n",
        "bom_header": csv_control(1, 1) + b"\xef\xbb\xbfp,q,r\n1,2,3\n",
        "header_yes": csv_control(1, -1) + b"1,2,3\n4,5,6\n",
        "header_no": csv_control(2, -1) + b"1,2,3\n4,5,6\n",
        "mixed": csv_control(0, -1) + b"1,2x,3\n4,5,6\n",
        "ragged": csv_control(2, -1) + b"1,2,3\n4,5\n",
        "nonfinite": csv_control(0, -1) + b"1,nan,3\n4,inf,6\n",
        "hex": csv_control(2, 1) + b"0x1p3,2e2,3\n4,5,6\n",
    }
    # --- cifar10 ---------------------------------------------------------
    ctrl = bytes([3 | 5 << 4, 0])   # pos 3, neg 5, all images
    s["cifar10"] = {
        "one_record": ctrl + cifar_record(3, 1),
        "two_records": ctrl + cifar_record(3, 2) + cifar_record(5, 3),
        "max_n_1": bytes([5 | 3 << 4, 1]) + cifar_record(5, 4),
        "bad_label": ctrl + cifar_record(12, 5),
        "gzip": ctrl + b"\x1f\x8b" + bytes(3071),
    }
    # --- mnist -----------------------------------------------------------
    def mnist_seed(labels, rows, cols, seed, ctrl):
        images, labs = mnist_files(labels, rows, cols, seed)
        return ctrl + struct.pack("<H", len(images)) + images + labs
    ctrl = bytes([7 | 1 << 4, 0])
    s["mnist"] = {
        "four_3x2": mnist_seed([1, 7, 1, 2], 3, 2, 1, ctrl),
        "eight_4x4": mnist_seed([7, 1, 7, 1, 0, 9, 7, 1], 4, 4, 2, bytes([7 | 1 << 4, 3])),
        "one_1x1": mnist_seed([7], 1, 1, 3, ctrl),
        "zero_images": mnist_seed([], 2, 2, 4, ctrl),
        "label_10": mnist_seed([1, 10], 2, 2, 5, ctrl),
    }
    # --- specs -----------------------------------------------------------
    lines = [
        "linear", "relu-neuron", "two-layer:k=4", "two-layer,k=3,noise=0.5",
        "hermite:1=1,2=0.5,3=0.25", "poly:0=1,1=2,3=-1", "gegenbauer:1=1,2=0.5,noise=0.1",
        "noise", "linear:noise=0.1\ngaussian", "relu-neuron\ngaussian:decay=1.5",
        "hermite:2=1\nsphere", "poly:1=1\nunit-sphere", "gaussian:decay=2", "sphere",
        "nn,linearized,ntk-inf", "all", "nn,lin,ntk,ntk_inf", "leaky-relu", "gelu",
        "symmetric", "mean", "sum", "sqrt_d", "one", "hermite:64=1e-3",
    ]
    s["specs"] = {f"s{k:02d}": bytes([k * 7 % 256]) + t.encode() for k, t in enumerate(lines)}
    # --- config ----------------------------------------------------------
    base = {"command": "train", "version": "0.1.0", "n": 40, "n_test": 10, "d": 3, "width": 8,
            "act": "relu", "act_param": 0.1, "init": "gaussian", "input_scale": "sqrt_d",
            "s": 1.7320508075688772, "alpha": 1, "centered": False, "loss": "mean", "lr1": 1,
            "lr2": 1, "steps": 100, "log_every": 10, "flow": False, "seed": 0,
            "data": "gaussian", "target": "linear", "standardize": False, "threads": 1}
    variants = {
        "train": {},
        "leaky": {"act": "leaky_relu", "act_param": 0.2, "init": "symmetric", "width": 6,
                  "centered": True, "alpha": 0.5, "seed": 12345},
        "one_scale": {"input_scale": "one", "act": "erf", "init": "sign"},
        "odd_symmetric": {"init": "symmetric", "width": 7},
        "bad_width": {"width": 2.5},
        "missing_act": {"act": None},
    }
    s["config"] = {}
    for name, v in variants.items():
        c = dict(base)
        c.update(v)
        c = {k: val for k, val in c.items() if val is not None}
        s["config"][name] = json.dumps(c, indent=2).encode()
    s["config"]["not_object"] = b"[1, 2, 3]"
    # --- dataset ---------------------------------------------------------
    def ds(form, n, n_test, flags, opts, a, b=b""):
        return bytes([form, n, n_test, flags]) + opts + b"\n" + struct.pack("<H", len(a)) + a + b
    X = rng.normal(size=(6, 2))
    y = rng.normal(size=6)
    csv = b"a,b,c\n" + b"".join(b"%g,%g,%g\n" % (r[0], r[1], t) for r, t in zip(X, y))
    images, labs = mnist_files([7, 1, 7, 1, 7, 1], 2, 2, 6)
    s["dataset"] = {
        "npy_linear": ds(0, 4, 2, 1 << 1, b"", npy_bytes(X)),
        "npy_xy": ds(1, 0, 2, 1, b"", npy_bytes(X), npy_bytes(y)),
        "npy_target_file": ds(0, 3, 1, 2 << 1 | 8, b"", npy_bytes(X), npy_bytes(y)),
        "npy_zero_cols": ds(1, 0, 2, 0, b"", npy_bytes(np.zeros((6, 0))), npy_bytes(y)),
        "csv_auto": ds(2, 0, 1, 0, b"", csv),
        "csv_opts": ds(2, 4, 1, 1, b"target=0,header=yes", csv),
        "csv_header_no": ds(2, 0, 2, 3 << 1, b"header=no", csv.split(b"\n", 1)[1]),
        "cifar": ds(3, 1, 1, 0, b"3,5", cifar_record(3, 7) + cifar_record(5, 8)),
        "mnist": ds(4, 4, 2, 1, b"7,1", images, labs),
    }
    return s


def main():
    for target, files in seeds().items():
        d = os.path.join(ROOT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in files.items():
            assert len(data) < 8192, (target, name, len(data))
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
