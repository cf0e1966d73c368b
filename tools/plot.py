#!/usr/bin/env python3
"""ntkit plot RUN_DIR: draw a run or sweep directory into RUN_DIR/plots/.

A run directory (metrics.csv from `ntkit run` or `ntkit train`) gives
  losses   train (solid) and test (dashed) loss of every model
  gaps     mean (f_nn - f_model)^2 on train and test, log axes
  distances  ||theta - theta0||, ||W - W0||_F, ||v - v0||, max_r ||w_r - w_r0||
  kernel   flip fraction, NTK drift and lambda_min(Theta(t)) (when measured)
A sweep directory (sweep.csv from `ntkit sweep`) gives the final and max of
the same quantities against the swept setting, plus the nn loss curve of
every member run. Each figure is written as PNG and SVG.

This module is also the drawing library of experiments.py (read_csv, save,
the colours of the models) and holds what both tools share for failing
cleanly: ToolError, the strict CSV/JSON/npy readers, the atomic writers and
guarded_main.

Failures: a problem the user can fix (an unwritable --out, a missing or
malformed metrics.csv ...) ends the command with one line on stderr,
"ntkit: error: <problem>; <fix>", and exit status 1, never a traceback.
Anything else is a bug in the tool: it is reported on one line as well,
and NTKIT_DEBUG=1 shows its traceback. Every output file is written to a
temporary file in its directory and renamed onto its name when complete,
so a failure never leaves a half-written figure or report and never removes
a file that was there before.
"""
import csv
import json
import math
import os
import sys
import tempfile

APT = "apt-get install -y python3-numpy python3-matplotlib"


class ToolError(Exception):
    """A failure the user can fix; str() is "<problem>; <fix>"."""


def need_libs():
    """Import numpy and matplotlib (Agg) or exit with one error line."""
    try:
        import numpy  # noqa: F401
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError as e:
        sys.stderr.write("ntkit: error: python3 module missing (%s); run as root: apt-get update && %s\n"
                         % (e.name or e, APT))
        sys.exit(1)


need_libs()
import numpy as np  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 10, "axes.titlesize": 11,
    "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8.5, "legend.framealpha": 0.85,
    "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False,
})

MODELS = ["nn", "linearized", "lin", "ntk", "ntk_inf"]
LABEL = {"nn": "network", "linearized": "linearized (Taylor at θ0)", "lin": "lin (Hu et al.)",
         "ntk": "NTK GD, Θ(0)", "ntk_inf": "NTK GD, Θ∞"}
COLOR = {"nn": "#222222", "linearized": "#1f77b4", "lin": "#d62728", "ntk": "#2ca02c",
         "ntk_inf": "#9467bd"}

RERUN = "rerun the ntkit command that wrote it"


# ---------------------------------------------------------------------------
# reading: strict, with one-line errors naming the file, the line and the fix


def _reason(e):
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


def _open_text(path, what):
    try:
        return open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ToolError("%s does not exist; %s" % (path, what)) from None
    except OSError as e:
        raise ToolError("cannot read %s: %s; check that it is a readable file" % (path, _reason(e))) from None


class Columns(dict):
    """Columns of a CSV file (name -> float array); a missing column is a
    ToolError naming the file instead of a KeyError."""

    path = None

    def __missing__(self, key):
        raise ToolError("%s has no column '%s'; it was written by another ntkit version or another "
                        "command: %s" % (self.path, key, RERUN))


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_csv(path, missing="point ntkit at a run directory written by 'ntkit run' or 'ntkit train'"):
    """CSV with a header -> Columns (column -> float array; empty cells are NaN).

    ToolError for a missing, unreadable or empty file, a missing header, a
    header without data rows, a row with the wrong number of cells, or a
    cell that is not a number. `missing`: the fix when the file is absent.
    """
    with _open_text(path, missing) as f:
        try:
            rows = [r for r in csv.reader(f) if r]
        except (csv.Error, UnicodeDecodeError) as e:
            raise ToolError("%s is not a readable CSV file (%s); %s" % (path, e, RERUN)) from None
    if not rows:
        raise ToolError("%s is empty; %s" % (path, RERUN))
    head = [h.strip() for h in rows[0]]
    if any(h == "" for h in head) or any(_is_number(h) for h in head):
        raise ToolError("%s has no header line (its first line is %r); %s"
                        % (path, ",".join(rows[0])[:60], RERUN))
    if len(set(head)) != len(head):
        dup = next(h for h in head if head.count(h) > 1)
        raise ToolError("%s has the column '%s' twice in its header; %s" % (path, dup, RERUN))
    if len(rows) == 1:
        raise ToolError("%s has a header but no data rows; %s" % (path, RERUN))
    data = np.empty((len(rows) - 1, len(head)))
    for i, r in enumerate(rows[1:]):
        line = i + 2
        if len(r) != len(head):
            raise ToolError("%s line %d has %d cells but the header has %d columns; %s"
                            % (path, line, len(r), len(head), RERUN))
        for j, v in enumerate(r):
            v = v.strip()
            if v == "":
                data[i, j] = math.nan   # not measured at this step
                continue
            try:
                data[i, j] = float(v)
            except ValueError:
                raise ToolError("%s line %d, column '%s': %r is not a number; %s"
                                % (path, line, head[j], v[:40], RERUN)) from None
    cols = Columns((h, data[:, j].copy()) for j, h in enumerate(head))
    cols.path = path
    return cols


class Fields(dict):
    """A JSON object whose missing key is a ToolError naming the file."""

    path = None

    def __missing__(self, key):
        raise ToolError("%s has no field '%s'; it was written by another ntkit version: %s"
                        % (self.path, key, RERUN))


def read_json(path, missing=RERUN):
    def hook(d):
        o = Fields(d)
        o.path = path
        return o
    with _open_text(path, missing) as f:
        try:
            return json.load(f, object_hook=hook)
        except (ValueError, UnicodeDecodeError) as e:
            raise ToolError("%s is not valid JSON (%s); %s" % (path, e, RERUN)) from None


def load_npy(path, missing=RERUN):
    """np.load of a float array, with one-line errors."""
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ToolError("%s does not exist; %s" % (path, missing)) from None
    except OSError as e:
        raise ToolError("cannot read %s: %s; %s" % (path, _reason(e), RERUN)) from None
    except ValueError as e:
        raise ToolError("%s is not a valid .npy file (%s); %s" % (path, e, RERUN)) from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iuf" or a.size == 0:
        raise ToolError("%s does not hold a non-empty real array; %s" % (path, RERUN))
    return a.astype(float)


# ---------------------------------------------------------------------------
# writing: atomically (temporary file in the same directory, then os.replace)

FIX_OUT = "choose a writable directory with --out"


def make_dir(path, fix=FIX_OUT):
    """os.makedirs(path, exist_ok=True) with a one-line error."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ToolError("%s exists and is not a directory; %s" % (path, fix))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ToolError("cannot create directory %s: %s; %s" % (path, _reason(e), fix)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ToolError("directory %s is not writable; %s" % (path, fix))
    return path


def write_files(items, fix=FIX_OUT):
    """Write several files that appear together: items = [(path, writer)],
    writer(fileobj) writing the contents in binary. Each goes to a temporary
    file next to it; all are renamed into place only after every one was
    written. On failure the temporary files are removed, nothing else is
    touched, and ToolError names the file."""
    tmps = []
    try:
        for path, writer in items:
            d = os.path.dirname(os.path.abspath(path))
            if os.path.isdir(path):
                raise ToolError("cannot write %s: it is a directory; remove it or %s" % (path, fix))
            try:
                fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
            except OSError as e:
                raise ToolError("cannot write %s: %s; %s" % (path, _reason(e), fix)) from None
            tmps.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as f:
                    writer(f)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
            except OSError as e:
                raise ToolError("cannot write %s: %s; %s" % (path, _reason(e), fix)) from None
        for tmp, path in tmps:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise ToolError("cannot write %s: %s; %s" % (path, _reason(e), fix)) from None
        tmps = []
    finally:
        for tmp, _ in tmps:
            try:
                os.remove(tmp)
            except OSError:
                pass


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def write_text(path, text, fix=FIX_OUT):
    write_files([(path, lambda f: f.write(text.encode("utf-8")))], fix)


def save_npy(path, a, fix=FIX_OUT):
    write_files([(path, lambda f: np.save(f, a))], fix)


def save(fig, outdir, name):
    """Write outdir/name.png and outdir/name.svg (both or neither); return the PNG path."""
    try:
        make_dir(outdir)
        fig.tight_layout()
        png = os.path.join(outdir, name + ".png")
        write_files([(png, lambda f: fig.savefig(f, format="png")),
                     (os.path.join(outdir, name + ".svg"), lambda f: fig.savefig(f, format="svg"))])
    finally:
        plt.close(fig)
    return png


# ---------------------------------------------------------------------------
# the entry point of both tools


def guarded_main(main, argv, prog):
    """Run main(argv) and return its exit status; every failure is one line
    on stderr ("ntkit: error: ...") and status 1 (130 for Ctrl-C). A bug
    (an exception that is not a ToolError) is one line too, unless
    NTKIT_DEBUG=1, which lets its traceback through."""
    debug = os.environ.get("NTKIT_DEBUG", "") not in ("", "0")
    try:
        return main(argv)
    except ToolError as e:
        msg = str(e)
    except KeyboardInterrupt:
        sys.stderr.write("ntkit: error: %s interrupted; files already written are complete, "
                         "the one in progress was not written\n" % prog)
        return 130
    except BrokenPipeError:
        try:   # the reader of stdout went away (e.g. `| head`): nothing more to say
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except MemoryError:
        msg = "out of memory; use a smaller size or free memory"
    except OSError as e:
        if debug:
            raise
        where = " %s" % e.filename if getattr(e, "filename", None) else ""
        msg = "%s%s: %s; check the path and its permissions" % (prog, where, _reason(e))
    except Exception as e:   # a bug in the tool: one line, or the traceback with NTKIT_DEBUG=1
        if debug:
            raise
        msg = ("internal error in %s (%s: %s); rerun with NTKIT_DEBUG=1 to see the traceback "
               "and report it" % (prog, type(e).__name__, str(e)[:200]))
    sys.stderr.write("ntkit: error: %s\n" % " ".join(msg.split()))
    return 1


def has(cols, key):
    return key in cols and np.any(np.isfinite(cols[key]))


def positive(y):
    """Copy with non-positive values as NaN (for log axes)."""
    y = np.array(y, dtype=float)
    y[~(y > 0)] = np.nan
    return y


def floor_y(ax, arrays, decades=8):
    """Keep a log y axis within `decades` of the largest value shown."""
    v = np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        lo = max(v.min(), v.max() * 10.0 ** -decades)
        ax.set_ylim(lo / 2, v.max() * 2)


def xaxis(cols):
    if "time" in cols:
        return "time", "time t (gradient flow)"
    if "step" in cols:
        return "step", "step k"
    raise ToolError("%s has neither a 'step' nor a 'time' column; %s" % (cols.path, RERUN))


def set_xlim_pos(ax, x, pos):
    """x limits for a log axis from the positive x (left alone when there are none)."""
    if np.any(pos & np.isfinite(x)):
        ax.set_xlim(np.nanmin(x[pos]) * 0.8, np.nanmax(x[pos]) * 1.25)


def loss_label(cfg):
    if cfg and cfg.get("loss") == "sum":
        return "loss ½Σ(f−y)²"
    return "loss (1/2n)Σ(f−y)²"


# ---------------------------------------------------------------------------
# run directory


def plot_run(rd, outdir=None, title=None):
    """Draw the figures of one run directory; return their PNG paths."""
    cols = read_csv(os.path.join(rd, "metrics.csv"))
    cfg = read_json(os.path.join(rd, "config.json")) if os.path.exists(os.path.join(rd, "config.json")) else {}
    if not isinstance(cfg, dict):
        raise ToolError("%s/config.json is not a JSON object; %s" % (rd, RERUN))
    outdir = outdir or os.path.join(rd, "plots")
    title = title or os.path.basename(os.path.normpath(rd))
    xk, xl = xaxis(cols)
    x = cols[xk]
    with np.errstate(invalid="ignore"):
        pos = x > 0
    logx = np.sum(pos) > 2 and np.nanmax(x) / np.nanmin(x[pos]) > 50
    T = None
    sp = os.path.join(rd, "summary.json")
    if os.path.exists(sp):
        sj = read_json(sp)
        th = sj.get("theory") if isinstance(sj, dict) else None
        # Hu et al.'s horizon (docs/theory.md §7.5); "seed000_horizon_T" in run
        # directories written before the summary keys were renamed
        T = th.get("hu_horizon_T", th.get("seed000_horizon_T")) if isinstance(th, dict) else None
        if not isinstance(T, (int, float)) or isinstance(T, bool):
            T = None
    out = []

    # losses of every model (ntkit run) or the single network (ntkit train)
    fig, ax = plt.subplots(figsize=(7, 4.4))
    if "train_loss" in cols:
        ax.plot(x, cols["train_loss"], color=COLOR["nn"], label="network, train")
        if has(cols, "test_loss"):
            ax.plot(x, cols["test_loss"], color=COLOR["nn"], ls="--", label="network, test")
    for m in MODELS:
        if m + "_train_loss" in cols:
            ax.plot(x, cols[m + "_train_loss"], color=COLOR[m], label=LABEL[m] + ", train",
                    lw=2.2 if m == "nn" else 1.4)
            if has(cols, m + "_test_loss"):
                ax.plot(x, cols[m + "_test_loss"], color=COLOR[m], ls="--", lw=1.2,
                        label=LABEL[m] + ", test")
    env = cols.get("envelope")
    if env is not None and has(cols, "envelope") and np.nanmin(env) < 0.5 * np.nanmax(env):
        ax.plot(x, positive(cols["envelope"]), color="#ff7f0e", ls=":", lw=1.5,
                label="envelope L0(1−cηλmin)^k")
    if T and math.isfinite(T) and T <= np.nanmax(x):
        ax.axvline(T, color="0.4", ls="-.", lw=1, label="Hu et al.'s horizon T = %.3g" % T)
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        set_xlim_pos(ax, x, pos)
    ax.set_xlabel(xl)
    ax.set_ylabel(loss_label(cfg))
    ax.set_title("%s: losses (solid train, dashed test)" % title)
    ax.legend(ncol=2)
    out.append(save(fig, outdir, "losses"))

    # gaps to the network
    # (log axes: drawn only when something is positive, e.g. not for a run of 0 steps)
    gk = [m for m in MODELS[1:] if has(cols, "gap_%s_train" % m)] if np.any(pos) else []
    if gk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for m in gk:
            ax.plot(x, positive(cols["gap_%s_train" % m]), color=COLOR[m], label=LABEL[m] + ", train")
            if has(cols, "gap_%s_test" % m):
                ax.plot(x, positive(cols["gap_%s_test" % m]), color=COLOR[m], ls="--",
                        label=LABEL[m] + ", test (capped at 1)")
        if T and math.isfinite(T) and T <= np.nanmax(x):
            ax.axvline(T, color="0.4", ls="-.", lw=1, label="Hu et al.'s horizon T = %.3g" % T)
        ax.set_yscale("log")
        floor_y(ax, [cols["gap_%s_%s" % (m, sp)][pos] for m in gk for sp in ("train", "test")
                     if "gap_%s_%s" % (m, sp) in cols])
        ax.set_xscale("log")
        set_xlim_pos(ax, x, pos)
        ax.set_xlabel(xl + " (log)")
        ax.set_ylabel("mean (f_nn − f_model)²")
        ax.set_title("%s: gap between the network and each model" % title)
        ax.legend()
        out.append(save(fig, outdir, "gaps"))

    # distances from initialisation
    dk = [k for k in ("theta_dist", "w_dist_fro", "v_dist", "w_dist_max_row")
          if has(cols, k) and np.any(positive(cols[k]) > 0)]
    if dk:
        lab = {"theta_dist": "‖θ−θ0‖", "w_dist_fro": "‖W−W0‖_F", "v_dist": "‖v−v0‖",
               "w_dist_max_row": "max_r ‖w_r−w_r0‖"}
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for k in dk:
            y = positive(cols[k])
            if np.any(np.isfinite(y)):
                ax.plot(x, y, label=lab[k])
        ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        set_xlim_pos(ax, x, pos)
        ax.set_xlabel(xl)
        ax.set_ylabel("distance from initialisation (Euclidean norm)")
        ax.set_title("%s: weight movement" % title)
        ax.legend()
        out.append(save(fig, outdir, "distances"))

    # activation flips, NTK drift and lambda_min
    kk = [k for k in ("flip_frac", "ntk_drift", "ntk_lambda_min") if has(cols, k)]
    if kk:
        fig, axs = plt.subplots(1, len(kk), figsize=(4.2 * len(kk), 3.8), squeeze=False)
        lab = {"flip_frac": ("fraction of (i, r) with flipped sign", "activation-pattern flips"),
               "ntk_drift": ("‖Θ(t)−Θ(0)‖op / ‖Θ(0)‖op", "NTK drift (subsample)"),
               "ntk_lambda_min": ("λmin(Θ(t)) (subsample)", "smallest NTK eigenvalue")}
        for ax, k in zip(axs[0], kk):
            ok = np.isfinite(cols[k])
            ax.plot(x[ok], cols[k][ok], marker="o", ms=3)
            ax.set_xlabel(xl)
            ax.set_ylabel(lab[k][0])
            ax.set_title(lab[k][1])
        fig.suptitle(title)
        out.append(save(fig, outdir, "kernel"))
    return out


# ---------------------------------------------------------------------------
# sweep directory


def sweep_members(sd):
    """[(value, path)] of the member run directories, sorted by value."""
    out = []
    for name in os.listdir(sd):
        p = os.path.join(sd, name)
        if "=" in name and os.path.isdir(p) and os.path.exists(os.path.join(p, "metrics.csv")):
            try:
                out.append((float(name.split("=", 1)[1]), p))
            except ValueError:
                pass
    return sorted(out)


def plot_sweep(sd, outdir=None, title=None):
    cols = read_csv(os.path.join(sd, "sweep.csv"))
    outdir = outdir or os.path.join(sd, "plots")
    title = title or os.path.basename(os.path.normpath(sd))
    param = next(iter(cols))
    x = cols[param]
    if not np.all(np.isfinite(x)):
        raise ToolError("%s: the first column (%s, the swept setting) has an empty or non-finite "
                        "value; %s" % (cols.path, param, RERUN))
    logx = len(x) > 1 and np.all(x > 0) and np.nanmax(x) / np.nanmin(x) >= 8
    out = []

    def finish(ax, ylabel, name, logy=True):
        if logx:
            ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(ylabel)
        ax.legend()
        out.append(save(ax.figure, outdir, name))

    fig, ax = plt.subplots(figsize=(7, 4.4))
    for m in MODELS:
        for split, ls in (("train", "-"), ("test", "--")):
            k = "%s_%s_loss_final" % (m, split)
            if has(cols, k):
                ax.plot(x, positive(cols[k]), ls=ls, marker="o", ms=4, color=COLOR[m],
                        label="%s, %s" % (LABEL[m], split))
    ax.set_title("%s: final losses against %s" % (title, param))
    finish(ax, "final loss", "losses")

    gk = [m for m in MODELS[1:] if has(cols, "gap_%s_train_max" % m)]
    if gk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for m in gk:
            ax.plot(x, positive(cols["gap_%s_train_max" % m]), marker="o", ms=4, color=COLOR[m],
                    label=LABEL[m] + ", train (max over t)")
            if has(cols, "gap_%s_test_max" % m):
                ax.plot(x, positive(cols["gap_%s_test_max" % m]), marker="s", ms=3, ls="--",
                        color=COLOR[m], label=LABEL[m] + ", test (max over t)")
        ax.set_title("%s: largest gap to the network against %s" % (title, param))
        finish(ax, "max_t mean (f_nn − f_model)²", "gaps")

    lab = {"theta_dist": "‖θ−θ0‖", "w_dist_fro": "‖W−W0‖_F", "v_dist": "‖v−v0‖",
           "w_dist_max_row": "max_r ‖w_r−w_r0‖", "flip_frac": "flip fraction", "ntk_drift": "NTK drift"}
    dk = [k for k in lab if has(cols, k + "_max")]
    if dk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for k in dk:
            ax.plot(x, positive(cols[k + "_max"]), marker="o", ms=4, label=lab[k] + " (max over t)")
        ax.set_title("%s: movement, flips and drift against %s" % (title, param))
        finish(ax, "value (log scale)", "distances")

    members = sweep_members(sd)
    if members:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        cmap = plt.get_cmap("viridis")
        for i, (v, p) in enumerate(members):
            mc = read_csv(os.path.join(p, "metrics.csv"), missing=RERUN)
            xk, xl = xaxis(mc)
            key = "nn_train_loss" if "nn_train_loss" in mc else "train_loss"
            if key in mc:
                ax.plot(mc[xk], positive(mc[key]), color=cmap(i / max(1, len(members) - 1)),
                        label="%s = %g" % (param, v))
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("network train loss")
        ax.set_title("%s: network training curves" % title)
        ax.legend(ncol=2)
        out.append(save(fig, outdir, "curves"))
    return out


def main(argv):
    return guarded_main(_main, argv, "ntkit plot")


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="ntkit plot", description=(
        "Draw a run directory (ntkit run/train) or a sweep directory (ntkit sweep) into "
        "DIR/plots/ as PNG and SVG: losses of every model, gaps on log axes, weight "
        "distances, flips and NTK drift."))
    ap.add_argument("dir", metavar="RUN_DIR", help="run or sweep directory")
    ap.add_argument("--out", metavar="DIR", help="where to write the figures (default RUN_DIR/plots)")
    ap.add_argument("--members", action="store_true", help="for a sweep, also plot every member run")
    a = ap.parse_args(argv)
    d = a.dir
    if os.path.exists(os.path.join(d, "sweep.csv")):
        files = plot_sweep(d, a.out)
        if a.members:
            for v, p in sweep_members(d):
                files += plot_run(p)
    elif os.path.exists(os.path.join(d, "metrics.csv")):
        files = plot_run(d, a.out)
    elif not os.path.isdir(d):
        raise ToolError("%s %s; give the directory written by 'ntkit run', 'ntkit train' or "
                        "'ntkit sweep' (their --out)" % (d, "is not a directory" if os.path.exists(d)
                                                         else "does not exist"))
    else:
        raise ToolError("%s is neither a run directory (no metrics.csv) nor a sweep directory (no "
                        "sweep.csv); give the directory written by 'ntkit run', 'ntkit train' or "
                        "'ntkit sweep' (their --out)" % d)
    for f in files:
        print(f)
        print(f[:-4] + ".svg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
