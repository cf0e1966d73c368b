#!/usr/bin/env python3
"""ntkit experiment NAME [--quick|--smoke] [--out DIR]: the papers' claims, end to end.

Every number comes from the ntkit binary (env NTKIT): `ntkit run`, `sweep`,
`train --steps 0` (data), `kernel`, `compare-kernels` and `krr`. This script
only reads their CSV/JSON/npy output, fits slopes (least squares on logs),
draws the figures (PNG and SVG) and writes OUT/report.md, which opens with the
claim and the paper it comes from (author and year; docs/references.md), then a
verdict computed from the measured numbers with the thresholds it states, and
OUT/results.json with the same numbers.

Sizes: --smoke (about 10-20 s, used by `make test`), --quick (about a minute on
2 cores; `make demo` runs early-linear at this size) and the default full size,
which follows the papers' scale where a 2-core machine allows it.

Failures (an unwritable --out, an ntkit call that fails, an output of ntkit
that is missing or malformed) end with one line "ntkit: error: ..." and exit
status 1 (plot.guarded_main; NTKIT_DEBUG=1 shows the traceback of a bug).
Every file is written atomically, and the previous report, results and
figures in OUT are replaced only when the experiment has finished. The run
directories an experiment makes inside OUT are its own: a rerun into the same
OUT passes --force to `ntkit run`, `sweep` and `train`, which replace them
(clearing only the files ntkit wrote there).
"""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exp_common import Ctx, P  # noqa: E402
from exp_early_linear import EarlyLinear, EarlyLinearDeep  # noqa: E402
from exp_hu_inputs import HuInputs  # noqa: E402
from exp_hu_kernel import HuKernel  # noqa: E402
from exp_overparam_relu import OverparamRelu  # noqa: E402
from exp_lazy_scale import LazyScale  # noqa: E402
from exp_lazy_flow import LazyFlow  # noqa: E402
from exp_lazy_width import LazyWidth  # noqa: E402
from exp_lazy_meanfield import LazyMeanfield  # noqa: E402
from exp_kernel_concentration import KernelConcentration  # noqa: E402
from exp_krr_plateaus import KrrPlateaus  # noqa: E402
from exp_single_neuron import SingleNeuron  # noqa: E402
from exp_du_stability import DuStability  # noqa: E402
from exp_du_flow import DuFlow  # noqa: E402
from exp_kernel_depth import KernelDepth  # noqa: E402


EXPERIMENTS = [EarlyLinear(), OverparamRelu(), LazyScale(), KernelConcentration(), KrrPlateaus(), SingleNeuron(),
               LazyFlow(), LazyWidth(), LazyMeanfield(), HuInputs(), HuKernel(), DuStability(),
               DuFlow(), KernelDepth(), EarlyLinearDeep()]
BYNAME = {e.name: e for e in EXPERIMENTS}


def run_one(exp, size, out):
    P.make_dir(out)
    # figures of an earlier report in OUT: removed once this one is complete (a failed
    # experiment leaves the earlier report and its figures as they were)
    old = [f for f in os.listdir(out) if f.endswith((".png", ".svg"))]
    ctx = Ctx(exp.name, size, out)
    ctx.log("start (%s size) -> %s" % (size, out))
    rep = exp.run(ctx)
    rep.write()
    new = {n + ext for n, _ in rep.figures for ext in (".png", ".svg")}
    for f in old:
        if f not in new:
            try:
                os.remove(os.path.join(out, f))
            except OSError:
                pass
    ctx.log("done in %.0f s" % (time.time() - ctx.t0))
    print("report: %s" % ctx.p("report.md"))
    print("**Verdict: %s** — %s" % (rep.verdict, rep.reason), flush=True)
    return rep


def main(argv):
    return P.guarded_main(_main, argv, "ntkit experiment")


def _main(argv):
    ap = argparse.ArgumentParser(prog="ntkit experiment", description=(
        "Run one of the papers' experiments end to end with ntkit and write OUT/report.md (claim, verdict, "
        "settings, figures, measured numbers), figures as PNG and SVG, results.json and the run directories."))
    ap.add_argument("name", nargs="?", help="experiment name (see --list), or 'all'")
    g_ = ap.add_mutually_exclusive_group()
    g_.add_argument("--quick", action="store_true", help="reduced size, about a minute on 2 cores")
    g_.add_argument("--smoke", action="store_true", help="tiny size, 10-20 s (used by the tests)")
    ap.add_argument("--out", metavar="DIR", help="output directory (default runs/NAME[-quick|-smoke])")
    ap.add_argument("--list", action="store_true", help="list the experiments and their claims")
    ap.add_argument("--depth", type=int, metavar="L", help="early-linear only: 2 runs Hu et al.'s multi-layer "
                    "extension (the same as the experiment early-linear-depth2)")
    a = ap.parse_args(argv)
    if a.depth is not None:
        if a.name != "early-linear" or a.depth not in (1, 2):
            sys.stderr.write("ntkit: error: --depth applies to early-linear only, with L = 1 or 2 "
                             "(got %s --depth %d)\n" % (a.name, a.depth))
            return 2
        if a.depth == 2:
            a.name = "early-linear-depth2"
    if a.list:
        for e in EXPERIMENTS:
            print("%-22s %s" % (e.name, e.cite + ": " + e.claim[:110].rstrip() + "…"))
        return 0
    if not a.name:
        sys.stderr.write("ntkit: error: name an experiment (ntkit experiment --list shows them)\n")
        return 2
    size = "quick" if a.quick else "smoke" if a.smoke else "full"
    names = [e.name for e in EXPERIMENTS] if a.name == "all" else [a.name]
    for nm in names:
        if nm not in BYNAME:
            sys.stderr.write("ntkit: error: unknown experiment '%s'; choose one of %s (or all)\n" %
                             (nm, ", ".join(BYNAME)))
            return 2
    if not os.environ.get("NTKIT") and not shutil.which("ntkit"):
        sys.stderr.write("ntkit: error: set NTKIT to the ntkit binary (ntkit experiment does this)\n")
        return 2
    rc = 0
    for nm in names:
        suffix = "" if size == "full" else "-" + size
        out = a.out if (a.out and len(names) == 1) else os.path.join(a.out or "runs", nm + suffix) \
            if len(names) > 1 else os.path.join("runs", nm + suffix)
        try:
            run_one(BYNAME[nm], size, out)
        except P.ToolError as e:
            sys.stderr.write("ntkit: error: %s: %s\n" % (nm, " ".join(str(e).split())))
            rc = 1
        except KeyboardInterrupt:
            sys.stderr.write("ntkit: error: %s interrupted\n" % nm)
            return 130
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
