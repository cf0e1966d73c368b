"""What every experiment of `ntkit experiment` shares: running ntkit and
recording the commands (Ctx), slopes, number formatting, and the report
(report.md and results.json, written together)."""
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot as P  # noqa: E402  (exits with the apt-get line when numpy/matplotlib are missing)

np = P.np
plt = P.plt


class ExpError(P.ToolError):
    """An experiment's failure the user can act on (one line, exit 1)."""


# ---------------------------------------------------------------------------
# running ntkit, recording what was run


# ntkit commands that write a run directory (--out DIR): they refuse a DIR that
# is not empty unless --force, which clears only the files ntkit wrote there
RUN_DIR_COMMANDS = ("train", "run", "sweep")


class Ctx:
    def __init__(self, name, size, out):
        self.name, self.size, self.out = name, size, out
        self.t0 = time.time()
        self.commands = []
        self.ncalls = 0
        self.last = "ntkit"
        self.bin = os.environ.get("NTKIT") or shutil.which("ntkit") or "ntkit"
        P.make_dir(os.path.join(out, "logs"))

    def log(self, msg):
        print("[%s %6.1fs] %s" % (self.name, time.time() - self.t0, msg), flush=True)

    def p(self, *parts):
        return os.path.join(self.out, *parts)

    def ntkit(self, *args, record=True):
        """Run `ntkit ARGS`; return stdout. Raises ExpError with the error line."""
        args = [str(a) for a in args]
        if args[0] in RUN_DIR_COMMANDS and "--force" not in args:
            # these refuse a non-empty --out without --force; every run directory
            # an experiment names is its own, inside OUT, and a rerun replaces it
            args.append("--force")
        self.ncalls += 1
        if record:
            self.commands.append("ntkit " + " ".join(shlex.quote(a) for a in args))
        logf = self.p("logs", "%03d-%s.log" % (self.ncalls, args[0]))
        env = dict(os.environ)
        try:
            r = subprocess.run([self.bin] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, env=env)
        except OSError as e:
            raise ExpError("cannot run %s: %s; set NTKIT to the ntkit binary"
                           % (self.bin, e.strerror or e)) from None
        P.write_text(logf, "$ ntkit %s\n%s\n%s" % (" ".join(args), r.stdout, r.stderr))
        if r.returncode != 0:
            err = [l for l in r.stderr.splitlines() if l.startswith("ntkit: error")]
            what = err[-1][len("ntkit: error:"):].strip() if err else \
                " ".join(r.stderr.split())[-300:] or "no message"
            raise ExpError("ntkit %s failed (exit %d): %s (log: %s)" % (
                args[0], r.returncode, what, logf))
        self.last = "ntkit " + args[0]
        return r.stdout

    def parse_json(self, text):
        """JSON printed by the last ntkit call, with a one-line error when it is not."""
        try:
            return json.loads(text)
        except ValueError as e:
            raise ExpError("%s printed no valid JSON (%s); check the ntkit binary (NTKIT=%s)"
                           % (self.last, e, self.bin)) from None


def fit_slope(x, y):
    """Least-squares slope and intercept of log y against log x (finite, positive points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return math.nan, math.nan
    b, a = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(b), float(a)


def g(v, digits=3):
    """Compact number for tables and verdicts."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
        return "%.*e" % (max(digits - 1, 0), v)
    return "%.*g" % (digits, v)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(x if isinstance(x, str) else g(x) for x in r) + " |")
    return "\n".join(out)


class Report:
    def __init__(self, ctx, exp):
        self.ctx, self.exp = ctx, exp
        self.settings, self.figures, self.sections, self.notes = [], [], [], []
        self.results = {}
        self.verdict, self.reason = "INCONCLUSIVE", ""

    def fig(self, fig, name, caption):
        P.save(fig, self.ctx.out, name)
        self.figures.append((name, caption))

    def write(self):
        c, e = self.ctx, self.exp
        lines = ["# Claim (%s): %s" % (e.cite, e.claim), "",
                 "**Verdict: %s** — %s" % (self.verdict, self.reason), "",
                 "Source: %s. The papers are listed in docs/references.md." % e.source, "",
                 "Experiment `%s`, size `%s`, %d ntkit call%s, %.0f s on this machine "
                 "(`ntkit experiment %s%s`)." % (e.name, c.size, c.ncalls, "" if c.ncalls == 1 else "s",
                                                 time.time() - c.t0, e.name,
                                                 "" if c.size == "full" else " --" + c.size), "",
                 "## Settings", ""]
        lines += ["- %s" % s for s in self.settings]
        lines += ["", "## Figures", ""]
        for name, cap in self.figures:
            lines += ["![%s](%s.png)" % (cap, name), "",
                      "*%s* ([SVG](%s.svg))" % (cap, name), ""]
        lines += ["## Measured numbers", ""]
        for title, body in self.sections:
            lines += ["### " + title, "", body, ""]
        if self.notes:
            lines += ["## Notes", ""] + ["- " + n for n in self.notes] + [""]
        lines += ["## Commands", "", "Every number above comes from these ntkit calls "
                  "(logs in `logs/`):", "", "```sh"] + c.commands + ["```", ""]
        res = {"experiment": e.name, "size": c.size, "cite": e.cite, "source": e.source, "claim": e.claim,
               "verdict": self.verdict, "reason": self.reason, "results": self.results,
               "seconds": time.time() - c.t0}
        js = json.dumps(res, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        # report and results appear together, each complete, or not at all
        P.write_files([(c.p("report.md"), lambda f: f.write("\n".join(lines).encode("utf-8"))),
                       (c.p("results.json"), lambda f: f.write(js.encode("utf-8")))])


def summary(rd):
    return P.read_json(os.path.join(rd, "summary.json"))


def metrics(rd):
    return P.read_csv(os.path.join(rd, "metrics.csv"), missing=P.RERUN)


def var_y(rd, which="train"):
    y = P.load_npy(os.path.join(rd, "y_%s.npy" % which))
    return float(np.var(y))


def net_args(**kw):
    """--key value list from keyword arguments (key_with_underscores -> --key-with-dashes)."""
    out = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        out.append("--" + k.replace("_", "-"))
        if v is not True:
            out.append(str(v))
    return out
