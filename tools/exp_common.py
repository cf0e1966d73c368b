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


class Check:
    """One tested part of a claim: a measured value against a threshold that
    could fail it. cmp is "<=", ">=" or "in" (threshold a (lo, hi) pair).
    `fail_at` is the value that would have failed the check (the threshold,
    or the nearer end of the band), `margin` how far the measurement is from
    it, as a ratio where both are positive, else a difference."""

    def __init__(self, name, measured, cmp, threshold, part="", unit=""):
        self.name, self.measured, self.cmp, self.threshold = name, measured, cmp, threshold
        self.part, self.unit = part, unit
        m = float(measured) if measured is not None else math.nan
        if cmp == "<=":
            self.passed, self.fail_at = m <= threshold, threshold
        elif cmp == ">=":
            self.passed, self.fail_at = m >= threshold, threshold
        elif cmp == "in":
            lo, hi = threshold
            self.passed = lo <= m <= hi
            self.fail_at = lo if abs(m - lo) < abs(hi - m) else hi
        else:
            raise ValueError("cmp must be <=, >= or in, got %r" % cmp)
        self.passed = bool(self.passed) and math.isfinite(m)
        f = float(self.fail_at)
        if math.isfinite(m) and m > 0 and f > 0:
            self.margin = "%s× %s" % (g(max(m, f) / min(m, f)), "inside" if self.passed else "outside")
        else:
            self.margin = "%s %s" % (g(abs(m - f)), "inside" if self.passed else "outside")

    def threshold_text(self):
        if self.cmp == "in":
            return "in [%s, %s]" % (g(self.threshold[0]), g(self.threshold[1]))
        return "%s %s" % (self.cmp, g(self.threshold))

    def row(self):
        return [self.name, g(self.measured) + self.unit, self.threshold_text(), g(self.fail_at),
                self.margin, "pass" if self.passed else "FAIL"]

    def as_dict(self):
        return {"name": self.name, "part": self.part, "measured": self.measured, "cmp": self.cmp,
                "threshold": self.threshold, "fails_at": self.fail_at, "margin": self.margin,
                "passed": self.passed}


def verdict_of(checks, untested=()):
    """HELD when every check passed, FAILED when one did; the parts of the claim
    not tested are named, never counted as held."""
    if not checks:
        return "INCONCLUSIVE", "no check was made"
    failed = [c for c in checks if not c.passed]
    v = "FAILED" if failed else "HELD"
    why = "; ".join("%s: %s %s (%s)" % (c.name, g(c.measured), c.threshold_text(),
                                        "pass" if c.passed else "fails") for c in checks)
    if untested:
        why += "; not tested: " + ", ".join(untested)
    return v, why


class Report:
    def __init__(self, ctx, exp):
        self.ctx, self.exp = ctx, exp
        self.settings, self.figures, self.sections, self.notes = [], [], [], []
        self.results = {}
        self.verdict, self.reason = "INCONCLUSIVE", ""
        self.checks, self.untested = [], []
        self.control = None   # (description, checks) of the negative control

    def fig(self, fig, name, caption):
        P.save(fig, self.ctx.out, name)
        self.figures.append((name, caption))

    def check(self, name, measured, cmp, threshold, part="", unit=""):
        """Record a check of the main claim; returns whether it passed."""
        c = Check(name, measured, cmp, threshold, part, unit)
        self.checks.append(c)
        return c.passed

    def negative_control(self, description, checks):
        """The same checks under settings where the claim should not hold
        (checks: a list of Check); its verdict must come out FAILED."""
        self.control = (description, list(checks))

    def decide(self):
        """Verdict and reason from the checks (call after the last check)."""
        self.verdict, self.reason = verdict_of(self.checks, self.untested)
        return self.verdict

    def control_verdict(self):
        return verdict_of(self.control[1])[0] if self.control else None

    def _checks_md(self):
        hdr = ["check", "measured", "threshold", "would fail at", "margin", "result"]
        lines = ["## Checks", "", table(hdr, [c.row() for c in self.checks]), ""]
        if self.untested:
            lines += ["Not tested: " + "; ".join(self.untested) + ".", ""]
        if self.control:
            desc, checks = self.control
            v, why = verdict_of(checks)
            lines += ["## Negative control", "", desc, "",
                      table(hdr, [c.row() for c in checks]), "",
                      "**Control verdict: %s** (it must come out FAILED: the claim should not "
                      "hold there) — %s" % (v, why), ""]
        return lines

    def write(self):
        c, e = self.ctx, self.exp
        lines = ["# Claim (%s): %s" % (e.cite, e.claim), "",
                 "**Verdict: %s** — %s" % (self.verdict, self.reason), "",
                 "Source: %s. The papers are listed in docs/references.md." % e.source, "",
                 "Experiment `%s`, size `%s`, %d ntkit call%s, %.0f s on this machine "
                 "(`ntkit experiment %s%s`)." % (e.name, c.size, c.ncalls, "" if c.ncalls == 1 else "s",
                                                 time.time() - c.t0, e.name,
                                                 "" if c.size == "full" else " --" + c.size), ""]
        if self.checks or self.control:
            lines += self._checks_md()
        lines += ["## Settings", ""]
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
               "checks": [k.as_dict() for k in self.checks], "untested": self.untested,
               "seconds": time.time() - c.t0}
        if self.control:
            res["control"] = {"description": self.control[0], "verdict": self.control_verdict(),
                              "checks": [k.as_dict() for k in self.control[1]]}
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
