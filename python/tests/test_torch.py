"""NTK and gradients against torch.autograd (skipped without torch)."""
import unittest

import numpy as np

from helpers import data, ntkit

try:
    import torch
    import torch.nn.functional as F
    HAVE_TORCH = True
except ImportError:   # Debian: apt-get install python3-torch
    HAVE_TORCH = False

if HAVE_TORCH:
    ACTS = {"relu": torch.relu, "tanh": torch.tanh, "erf": torch.erf, "sigmoid": torch.sigmoid,
            "softplus": F.softplus, "gelu": F.gelu,      # exact (erf) gelu, as the library's
            "leaky_relu": lambda z: F.leaky_relu(z, 0.1), "identity": lambda z: z}


def torch_model(net, act):
    """f(θ; X) = α/√m v·φ(W x/s) in torch, θ = (W, v)."""
    c = net.config
    phi = ACTS[act]
    m = c["width"]

    def f(W, v, X):
        return c["alpha"] / np.sqrt(m) * phi(X @ W.T / c["s"]) @ v
    return f


def T(a):
    return torch.tensor(a, dtype=torch.float64)


@unittest.skipUnless(HAVE_TORCH, "torch is not installed (apt-get install python3-torch)")
class AgainstTorch(unittest.TestCase):
    def make(self, act, **kw):
        net = ntkit.Network(4, 20, act=act, seed=5, **kw)
        rng = np.random.default_rng(1)
        net.set_weights(net.W0 + 0.1 * rng.standard_normal((20, 4)), net.v0 + 0.1 * rng.standard_normal(20))
        return net

    def test_ntk_equals_jacobian_gram(self):
        X, _ = data(9, 4, seed=2)
        X2, _ = data(4, 4, seed=3)
        for act in ACTS:
            for kw in ({}, {"alpha": 2.5, "input_scale": "one"}):
                net = self.make(act, **kw)
                f = torch_model(net, act)
                W, v = T(net.W), T(net.v)
                JW, Jv = torch.autograd.functional.jacobian(lambda W_, v_: f(W_, v_, T(X)), (W, v))
                JW2, Jv2 = torch.autograd.functional.jacobian(lambda W_, v_: f(W_, v_, T(X2)), (W, v))
                JW, JW2 = JW.reshape(9, -1).numpy(), JW2.reshape(4, -1).numpy()
                Jv, Jv2 = Jv.numpy(), Jv2.numpy()
                msg = "%s %s" % (act, kw)
                np.testing.assert_allclose(ntkit.ntk(net, X), JW @ JW.T + Jv @ Jv.T, rtol=1e-11,
                                           atol=1e-12, err_msg=msg)
                np.testing.assert_allclose(ntkit.ntk(net, X, X2, layer="first"), JW @ JW2.T,
                                           rtol=1e-11, atol=1e-12, err_msg=msg)
                np.testing.assert_allclose(ntkit.nngp(net, X, X2), Jv @ Jv2.T, rtol=1e-11, atol=1e-12,
                                           err_msg=msg)

    def test_loss_gradients(self):
        X, y = data(11, 4, seed=4)
        for act in ("relu", "gelu", "softplus", "tanh"):
            for loss in ("mean", "sum"):
                for centered in (False, True):
                    net = self.make(act, centered=centered, alpha=1.3)
                    f = torch_model(net, act)
                    W = T(net.W).requires_grad_()
                    v = T(net.v).requires_grad_()
                    out = f(W, v, T(X))
                    if centered:
                        out = out - f(T(net.W0), T(net.v0), T(X))
                    r = out - T(y)
                    L = 0.5 * (r * r).sum() / (len(y) if loss == "mean" else 1)
                    L.backward()
                    g = net.loss_grad(X, y, loss)
                    msg = "%s %s centered=%s" % (act, loss, centered)
                    self.assertAlmostEqual(g["loss"], L.item(), delta=1e-13 * max(1, L.item()), msg=msg)
                    np.testing.assert_allclose(g["grad_W"], W.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg=msg)
                    np.testing.assert_allclose(g["grad_v"], v.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg=msg)

    def test_training_matches_torch_sgd(self):
        X, y = data(16, 4, seed=6)
        net = ntkit.Network(4, 20, act="tanh", seed=5)
        f = torch_model(net, "tanh")
        W = T(net.W0).requires_grad_()
        v = T(net.v0).requires_grad_()
        opt = torch.optim.SGD([{"params": [W], "lr": 0.9}, {"params": [v], "lr": 0.4}])
        losses = []
        for k in range(6):            # losses at θ0..θ5, five updates
            opt.zero_grad()
            r = f(W, v, T(X)) - T(y)
            L = 0.5 * (r * r).mean()
            losses.append(L.item())
            if k < 5:
                L.backward()
                opt.step()
        h = net.train(X, y, 0.9, 0.4, steps=5)
        np.testing.assert_allclose(h["train_loss"], losses, rtol=1e-12)
        np.testing.assert_allclose(net.W, W.detach().numpy(), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(net.v, v.detach().numpy(), rtol=1e-11, atol=1e-13)


if __name__ == "__main__":
    unittest.main()
