#!/usr/bin/env python3
"""ntkit quickstart: a wide network, its NTK, the closed-form kernel GD
prediction of training, and the real training, side by side; then the same
comparison as one side-by-side run with the theory's checks.

Install the package first (from the repository root; it builds libntkit):
    pip install --no-build-isolation ./python        (or: make install)
then run from any directory:
    python3 examples/quickstart.py
Without installing: PYTHONPATH=python python3 examples/quickstart.py after `make`.
"""
import numpy as np

import ntkit

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

# the network and its surrogates from one θ0, trained by the library's driver
res = ntkit.run(X, y, width=1024, seed=0, lr1=1.0, lr2=1.0, steps=200, log_every=50,
                models="nn,linearized,ntk")
th, ck = res["theory"], res["checks"]
print("side-by-side run: gap to the linearized model %.2e, to kernel GD %.2e (final train)"
      % (res["metrics"]["gap_linearized_train"][-1], res["metrics"]["gap_ntk_train"][-1]))
print("largest stable rate %.3g; max row movement %.3g (Du et al. 2019 bound %.3g)"
      % (th["lr_max_stable"], ck["R_max"], th["D_bound"]))
