/* ntkit experiment / ntkit plot: thin launchers for the Python tools.
 *
 * The numbers come from ntkit itself; tools/experiments.py and tools/plot.py
 * only call it (env NTKIT = this binary), fit slopes, draw and write reports.
 * The tools directory is, in order: env NTKIT_TOOLS; <dir of exe>/../tools
 * (the build tree: build/ntkit -> tools/); <dir of exe>/../share/ntkit (what
 * `make install` lays out). The interpreter is env NTKIT_PYTHON, else
 * /usr/bin/python3. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APT_LINE "apt-get install -y python3-numpy python3-matplotlib"

static int is_file(const char *path) { return access(path, R_OK) == 0; }

/* Absolute path of the running binary into exe; 0 on success. */
static int self_exe(char *exe, size_t len)
{
    ssize_t k = readlink("/proc/self/exe", exe, len - 1);
    if (k <= 0 || (size_t)k >= len - 1) return -1;
    exe[k] = '\0';
    return 0;
}

/* Directory holding script (e.g. "experiments.py") into dir; 0 when found. */
static int find_tools(const char *exe, const char *script, char *dir, size_t len)
{
    char probe[2 * PATH_MAX];
    const char *env = getenv("NTKIT_TOOLS");
    if (env && *env) {
        snprintf(probe, sizeof probe, "%s/%s", env, script);
        if (!is_file(probe)) return -1;
        snprintf(dir, len, "%s", env);
        return 0;
    }
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", exe);
    char *slash = strrchr(base, '/');
    if (!slash) return -1;
    *slash = '\0';
    const char *rel[] = {"../tools", "../share/ntkit"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(probe, sizeof probe, "%s/%s/%s", base, rel[i], script);
        if (is_file(probe)) {
            snprintf(dir, len, "%s/%s", base, rel[i]);
            return 0;
        }
    }
    return -1;
}

/* exec python3 TOOLS/script argv[1..]; returns only on failure. */
static int launch(const char *script, int argc, char **argv)
{
    char exe[PATH_MAX], tools[2 * PATH_MAX], path[3 * PATH_MAX];
    if (self_exe(exe, sizeof exe)) return cli_fail("cannot resolve /proc/self/exe: %s", strerror(errno));
    if (find_tools(exe, script, tools, sizeof tools)) {
        const char *env = getenv("NTKIT_TOOLS");
        if (env && *env) return cli_fail("NTKIT_TOOLS=%s has no %s", env, script);
        return cli_fail("cannot find %s next to %s (looked in ../tools and ../share/ntkit); "
                        "set NTKIT_TOOLS to the directory holding it", script, exe);
    }
    const char *py = getenv("NTKIT_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    if (access(py, X_OK) != 0)
        return cli_fail("%s is needed for 'ntkit %s' but is missing; run as root: apt-get update && %s",
                        py, argv[0], APT_LINE);
    snprintf(path, sizeof path, "%s/%s", tools, script);
    if (setenv("NTKIT", exe, 1) != 0) return cli_fail("setenv: %s", strerror(errno));
    char **args = calloc((size_t)argc + 2, sizeof(char *));
    if (!args) return cli_fail("out of memory");
    args[0] = (char *)py;
    args[1] = path;
    for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
    fflush(stdout);
    execv(py, args);
    int e = errno;
    free(args);
    return cli_fail("cannot run %s: %s", py, strerror(e));
}

int cmd_experiment(int argc, char **argv) { return launch("experiments.py", argc, argv); }

int cmd_plot(int argc, char **argv) { return launch("plot.py", argc, argv); }
