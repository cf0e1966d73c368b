#!/usr/bin/env python3
"""ntkit quickstart: a wide network, its NTK, the closed-form kernel GD
prediction of training, and the real training, side by side.

Run from the repository root after `make`:  /usr/bin/python3 examples/quickstart.py
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

import ntkit  # noqa: E402

data = ntkit.make_dataset("gaussian", "linear", n=200, n_test=0, d=10, seed=0)
X, y = data["X_train"], data["y_train"]

net = ntkit.Network(d=10, width=4096, seed=0)                  # f(x) = 1/sqrt(m) v.relu(Wx/sqrt(d))
K = ntkit.ntk(net, X)                                         # empirical NTK at init, (200, 200)
predict = ntkit.gradient_descent_mse(K, y, lr=1.0)            # kernel GD, mean loss, rate 1
u = predict(np.arange(0, 201, 50), net(X))                    # predicted train outputs at 0, 50, ..., 200
hist = net.train(X, y, lr1=1.0, lr2=1.0, steps=200, log_every=50)   # the real thing

print("step   train loss (net)   train loss (kernel GD)")
for k, step in enumerate(hist["step"]):
    print("%4d   %16.6f   %22.6f" % (step, hist["train_loss"][k], np.mean((u[k] - y) ** 2) / 2))
print("max |f_net - f_kernel| after 200 steps: %.2e" % np.abs(net(X) - u[-1]).max())
print("relative weight movement ||W - W0||_F / ||W0||_F: %.2e"
      % (net.weight_dist()["w_fro"] / np.linalg.norm(net.W0)))
