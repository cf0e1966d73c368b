/* Run directories and the signals that stop a run: creating and reusing the
 * directory, the JSON and CSV writers over the library's output files, and
 * the progress line. */
#include "cli.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- signals ------------------------------------------------------------
 * In the commands that train, SIGINT, SIGTERM and SIGHUP all ask the run to
 * stop: the first at the next step, with every final computation; the second
 * skips what is left to compute but still writes the files; a third removes
 * the temporary files and ends the process at once. In the other commands
 * the first signal removes the temporary files and ends the process. */

volatile int cli_interrupted = 0;
volatile int cli_hurry = 0;
static volatile sig_atomic_t g_signals = 0;
static int g_graceful = 0;

static void on_signal(int sig)
{
    g_signals++;
    if (g_graceful && g_signals < 3) {
        if (g_signals == 2) cli_hurry = 1;
        cli_interrupted = 1;
        return;
    }
    ntk_tmpfiles_remove();
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_catch_signals(int graceful)
{
    g_graceful = graceful;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) sigaction(sigs[k], &sa, NULL);
    /* a closed stdout must not kill a run before it has written its files;
     * a file-size limit makes the write fail (EFBIG), reported as an error */
    if (graceful) signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
}

/* ---- directories ------------------------------------------------------ */

void cli_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

int cli_mkdirs(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof tmp) return cli_fail("bad output directory '%s'", dir);
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return cli_fail("cannot create directory '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return cli_fail("cannot create directory '%s': %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail("'%s' exists and is not a directory; choose another --out", tmp);
    return 0;
}

/* The files a run, a sweep or a plot writes into a run directory. */
static const char *const owned_files[] = {
    "config.json", "summary.json", "metrics.csv", "sweep.csv", "X_train.npy", "y_train.npy",
    "X_test.npy",  "y_test.npy",   "W0.npy",      "v0.npy",    "W.npy",       "v.npy",
};

static int has_suffix(const char *s, const char *suf);

/* A deep network's weights: W{l}_init.npy, W{l}_final.npy, b{l}_init.npy,
 * b{l}_final.npy with l a positive whole number. */
static int is_layer_file(const char *name)
{
    if (name[0] != 'W' && name[0] != 'b') return 0;
    const char *p = name + 1;
    if (*p < '1' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, "_init.npy") == 0 || strcmp(p, "_final.npy") == 0;
}

static int is_owned_file(const char *name)
{
    for (size_t k = 0; k < sizeof owned_files / sizeof owned_files[0]; k++)
        if (strcmp(name, owned_files[k]) == 0) return 1;
    if (is_layer_file(name)) return 1;
    /* predictions of --predict; leftovers of a process that was killed outright */
    if (strncmp(name, "predict_", 8) == 0 && has_suffix(name, ".npy")) return 1;
    return strstr(name, ".tmp.") != NULL || strstr(name, ".partial") != NULL;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Remove what ntkit wrote into dir: the files above, the figures of plots/,
 * and the member runs of a sweep, named PARAM=VALUE. depth: 0 a run or sweep
 * directory, 1 a plots/ directory (figures only), 2 a sweep's member run.
 * Other files are left alone. */
static int clear_owned(const char *dir, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp) return cli_fail("cannot read directory '%s': %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    char p[4096];
    while (!rc && (e = readdir(dp)) != NULL) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, nm) >= sizeof p) continue;
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        int figure = has_suffix(nm, ".png") || has_suffix(nm, ".svg");
        if (S_ISREG(st.st_mode) && (depth == 1 ? figure : is_owned_file(nm))) {
            if (unlink(p) != 0) rc = cli_fail("cannot remove '%s': %s", p, strerror(errno));
        } else if (S_ISDIR(st.st_mode) && depth != 1 && strcmp(nm, "plots") == 0) {
            rc = clear_owned(p, 1);
            rmdir(p);   /* only succeeds when nothing else was in it */
        } else if (S_ISDIR(st.st_mode) && depth == 0 && strchr(nm, '=')) {
            rc = clear_owned(p, 2);
            rmdir(p);
        }
    }
    closedir(dp);
    return rc;
}

/* 1 if dir holds anything at all. */
static int dir_nonempty(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(dp)) != NULL)
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dp);
    return any;
}

int cli_check_outdir(const char *dir, int force)
{
    struct stat st;
    if (stat(dir, &st) != 0) return 0;   /* made later */
    if (!S_ISDIR(st.st_mode)) return cli_fail("--out '%s' exists and is not a directory; choose a new --out", dir);
    if (force || !dir_nonempty(dir)) return 0;
    return cli_fail("--out '%s' is not empty; choose a new directory, or pass --force to replace "
                    "the files ntkit wrote there",
                    dir);
}

int cli_prepare_outdir(const char *dir, int force)
{
    if (cli_check_outdir(dir, force) || cli_mkdirs(dir)) return 1;
    return force ? clear_owned(dir, 0) : 0;
}

/* ---- writers ---------------------------------------------------------- */

int cli_json_text(const cJSON *obj, const char *what, char **text, size_t *len)
{
    char *t = cJSON_Print(obj);
    if (!t) return cli_fail("%s: could not format JSON (out of memory)", what);
    size_t n = strlen(t);
    char *t2 = realloc(t, n + 2);
    if (!t2) {
        free(t);
        return cli_fail("%s: could not format JSON (out of memory)", what);
    }
    t2[n] = '\n';
    t2[n + 1] = '\0';
    *text = t2;
    *len = n + 1;
    return 0;
}

int cli_write_json(const char *dir, const char *name, const cJSON *obj)
{
    char path[4096];
    cli_path(path, sizeof path, dir, name);
    char *text;
    size_t len;
    if (cli_json_text(obj, path, &text, &len)) return 1;
    ntk_status st = ntk_write_file_atomic(path, text, len);
    free(text);
    return st == NTK_OK ? 0 : cli_fail_lib(NULL);
}

int cli_outset_json(ntk_outset *o, const char *dir, const char *name, const cJSON *obj)
{
    char path[4096];
    cli_path(path, sizeof path, dir, name);
    char *text;
    size_t len;
    if (cli_json_text(obj, path, &text, &len)) return 1;
    ntk_status st = ntk_outset_add(o, path, text, len);
    free(text);
    return st == NTK_OK ? 0 : cli_fail_lib(NULL);
}

int cli_csv_open(cli_csv *c, const char *dir, const char *name, const char *header)
{
    memset(c, 0, sizeof *c);
    char path[4096];
    cli_path(path, sizeof path, dir, name);
    if (ntk_stream_open(path, &c->s) != NTK_OK) return cli_fail_lib(NULL);
    c->ncols = 1;
    for (const char *p = header; *p; p++) c->ncols += *p == ',';
    if (ntk_stream_write(c->s, header, strlen(header)) != NTK_OK ||
        ntk_stream_write(c->s, "\n", 1) != NTK_OK) {
        ntk_stream_discard(c->s);
        c->s = NULL;
        return cli_fail_lib(NULL);
    }
    return 0;
}

int cli_csv_row(cli_csv *c, const double *vals)
{
    char line[64 * 32];
    size_t len = 0;
    for (int k = 0; k < c->ncols; k++) {
        if (len + 32 >= sizeof line) {
            if (ntk_stream_write(c->s, line, len) != NTK_OK) return cli_fail_lib(NULL);
            len = 0;
        }
        if (k) line[len++] = ',';
        /* an empty cell: not measured at this step */
        if (!isnan(vals[k])) len += (size_t)snprintf(line + len, 32, "%.17g", vals[k]);
    }
    line[len++] = '\n';
    if (ntk_stream_write(c->s, line, len) != NTK_OK) return cli_fail_lib(NULL);
    return 0;
}

int cli_csv_close(cli_csv *c)
{
    if (!c->s) return 0;
    ntk_stream *s = c->s;
    c->s = NULL;
    return ntk_stream_commit(s) == NTK_OK ? 0 : cli_fail_lib(NULL);
}

void cli_csv_discard(cli_csv *c)
{
    ntk_stream_discard(c->s);
    c->s = NULL;
}

/* ---- progress --------------------------------------------------------- */

/* auto: a line rewritten in place on a terminal, else plain; plain: one new
 * line every CLI_PROGRESS_PLAIN_SECONDS and at the end (batch logs show
 * where a long run is); none: nothing. */
static int g_progress = -1;   /* -1 auto, 0 none, 1 tty, 2 plain */
#define CLI_PROGRESS_PLAIN_SECONDS 5.0

int cli_progress_mode(const char *mode)
{
    if (!mode || !strcmp(mode, "auto")) g_progress = -1;
    else if (!strcmp(mode, "none")) g_progress = 0;
    else if (!strcmp(mode, "tty")) g_progress = 1;
    else if (!strcmp(mode, "plain")) g_progress = 2;
    else return cli_fail("--progress must be auto, plain, tty or none, got '%s'", mode);
    return 0;
}

void cli_progress(size_t step, size_t total, double loss, double elapsed, int final)
{
    static double last = -1.0;
    int mode = g_progress >= 0 ? g_progress : cli_isatty_stderr() ? 1 : 2;
    if (mode == 0) return;
    double every = mode == 1 ? 0.2 : CLI_PROGRESS_PLAIN_SECONDS;
    if (!final && step != 0 && elapsed - last < every) return;
    last = elapsed;
    double eta = step > 0 ? elapsed * (double)(total - step) / (double)step : 0.0;
    fprintf(stderr, "%s  step %zu/%zu  loss %.4e  elapsed %.1fs  eta %.1fs%s", mode == 1 ? "\r" : "",
            step, total, loss, elapsed, eta, mode == 1 ? "   " : "\n");
    if (final && mode == 1) fputc('\n', stderr);
    fflush(stderr);
}

int cli_commit_results(ntk_outset *set, const char *dir, const cJSON *res)
{
    char path[4096];
    cli_path(path, sizeof path, dir, "results.json");
    char *text;
    size_t len;
    int rc = cli_json_text(res, path, &text, &len);
    if (!rc) {
        rc = ntk_outset_add(set, path, text, len) != NTK_OK ? cli_fail_lib(NULL) : 0;
        free(text);
    }
    if (!rc && ntk_outset_commit(set) != NTK_OK) rc = cli_fail_lib(NULL);
    return rc;
}
