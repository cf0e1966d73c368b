/* Command-line parsing shared by every ntkit command. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntkit: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* The library names its arguments ("width m must be positive"); the command
 * line adds the flag that sets each one, after its first mention. */
static const struct {
    const char *arg, *flag;
} arg_flags[] = {
    {"width m", "--width"},
    {"input dimension d", "--d"},
    {"output scale alpha", "--alpha"},
    {"activation parameter", "--act-param"},
    {"symmetric initialisation", "--init symmetric"},
    {"flow tolerance", "--flow-tol"},
    {"rates lr1", "--lr1, --lr2"},
    {"both rates lr1 and lr2", "--lr1, --lr2"},
    {"schedule: t_final", "--steps, --log-every"},
};

static void flagify(const char *msg, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    const char *p = msg;
    int used[sizeof arg_flags / sizeof arg_flags[0]] = {0};
    while (*p && len + 1 < cap) {
        size_t k, hit = (size_t)-1;
        for (k = 0; k < sizeof arg_flags / sizeof arg_flags[0]; k++)
            if (!used[k] && strncmp(p, arg_flags[k].arg, strlen(arg_flags[k].arg)) == 0 &&
                !strstr(msg, arg_flags[k].flag)) {
                hit = k;
                break;
            }
        if (hit == (size_t)-1) {
            out[len++] = *p++;
            out[len] = '\0';
            continue;
        }
        used[hit] = 1;
        len += (size_t)snprintf(out + len, cap - len, "%s (%s)", arg_flags[hit].arg,
                                arg_flags[hit].flag);
        if (len >= cap) len = cap - 1;
        p += strlen(arg_flags[hit].arg);
    }
}

int cli_fail_lib(const char *context)
{
    char msg[2048];
    flagify(ntk_errmsg(), msg, sizeof msg);
    if (context && *context) return cli_fail("%s: %s", context, msg);
    return cli_fail("%s", msg);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntkit: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_isatty_stderr(void) { return isatty(2); }

static int find_flag(const cli_flag *flags, size_t nflags, const char *name, size_t len)
{
    for (size_t i = 0; i < nflags; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0) return (int)i;
    return -1;
}

int cli_parse(cli_args *a, const cli_flag *flags, size_t nflags, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->flags = flags;
    a->nflags = nflags;
    if (nflags > CLI_MAX_ARGS) return cli_fail("internal: too many flags");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = 1;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++) {
                if (a->npositional >= CLI_MAX_ARGS) return cli_fail("too many arguments");
                a->positional[a->npositional++] = argv[i];
            }
            break;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-' && arg[1] != '\0' && !(arg[1] >= '0' && arg[1] <= '9'))
                return cli_fail("unknown option '%s' for 'ntkit %s'; see 'ntkit %s --help'", arg,
                                argv[0], argv[0]);
            if (a->npositional >= CLI_MAX_ARGS) return cli_fail("too many arguments");
            a->positional[a->npositional++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_flag(flags, nflags, name, len);
        if (k < 0)
            return cli_fail("unknown option '--%.*s' for 'ntkit %s'; see 'ntkit %s --help'",
                            (int)len, name, argv[0], argv[0]);
        if (flags[k].has_arg) {
            if (eq) {
                a->values[k] = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return cli_fail("option '--%s' needs a value (%s)", flags[k].name,
                                    flags[k].metavar ? flags[k].metavar : "VALUE");
                a->values[k] = argv[++i];
            }
        } else if (eq) {
            return cli_fail("option '--%s' takes no value", flags[k].name);
        }
        a->present[k] = 1;
    }
    return 0;
}

void cli_usage(const char *cmd, const char *synopsis, const char *desc, const cli_flag *flags,
               size_t nflags)
{
    printf("usage: ntkit %s %s\n\n%s\n\noptions:\n", cmd, synopsis, desc);
    for (size_t i = 0; i < nflags; i++) {
        char left[64];
        if (flags[i].has_arg)
            snprintf(left, sizeof left, "--%s %s", flags[i].name,
                     flags[i].metavar ? flags[i].metavar : "VALUE");
        else
            snprintf(left, sizeof left, "--%s", flags[i].name);
        printf("  %-26s %s\n", left, flags[i].help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

static int flag_index(const cli_args *a, const char *name)
{
    int k = find_flag(a->flags, a->nflags, name, strlen(name));
    return k;
}

int cli_has(const cli_args *a, const char *name)
{
    int k = flag_index(a, name);
    return k >= 0 && a->present[k];
}

const char *cli_str(const cli_args *a, const char *name, const char *def)
{
    int k = flag_index(a, name);
    if (k < 0 || !a->present[k] || !a->values[k]) return def;
    return a->values[k];
}

int cli_double(const cli_args *a, const char *name, double def, double min, double *out)
{
    const char *s = cli_str(a, name, NULL);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return cli_fail("--%s expects a finite number, got '%s'", name, s);
    if (v < min) return cli_fail("--%s must be at least %g, got %s", name, min, s);
    *out = v;
    return 0;
}

int cli_size(const cli_args *a, const char *name, size_t def, size_t min, size_t *out)
{
    const char *s = cli_str(a, name, NULL);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    /* digits only: strtoull would take " -1" as 2^64 − 1 */
    if (!isdigit((unsigned char)s[0]))
        return cli_fail("--%s expects a non-negative integer, got '%s'", name, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v > (unsigned long long)(SIZE_MAX / 16))
        return cli_fail("--%s expects a non-negative integer, got '%s'", name, s);
    if (v < min) return cli_fail("--%s must be at least %zu, got %s", name, min, s);
    *out = (size_t)v;
    return 0;
}

int cli_u64(const cli_args *a, const char *name, uint64_t def, uint64_t *out)
{
    const char *s = cli_str(a, name, NULL);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return cli_fail("--%s expects a non-negative integer, got '%s'", name, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return cli_fail("--%s expects a non-negative integer, got '%s'", name, s);
    *out = (uint64_t)v;
    return 0;
}

int cli_int(const cli_args *a, const char *name, int def, int min, int max, int *out)
{
    const char *s = cli_str(a, name, NULL);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
        return cli_fail("--%s expects an integer in [%d, %d], got '%s'", name, min, max, s);
    *out = (int)v;
    return 0;
}

int cli_net_config(const cli_args *a, size_t d, ntk_net_config *cfg)
{
    size_t m;
    if (cli_size(a, "width", 256, 1, &m)) return 1;
    *cfg = ntk_net_config_default(d, m);
    double param;
    if (cli_double(a, "act-param", 0.1, -INFINITY, &param)) return 1;
    if (ntk_act_parse(cli_str(a, "act", "relu"), param, &cfg->act) != NTK_OK)
        return cli_fail_lib("--act");
    if (ntk_init_parse(cli_str(a, "init", "gaussian"), &cfg->init) != NTK_OK)
        return cli_fail_lib("--init");
    if (ntk_input_scale_parse(cli_str(a, "input-scale", "sqrt_d"), &cfg->input_scale) != NTK_OK)
        return cli_fail_lib("--input-scale");
    if (cli_double(a, "alpha", 1.0, -INFINITY, &cfg->alpha)) return 1;
    if (!(cfg->alpha > 0)) return cli_fail("--alpha must be positive, got %g", cfg->alpha);
    cfg->centered = cli_has(a, "centered");
    if (cli_u64(a, "seed", 0, &cfg->seed)) return 1;
    if (ntk_net_config_check(cfg) != NTK_OK) return cli_fail_lib(NULL);
    return 0;
}

int cli_threads(const cli_args *a)
{
    int t;
    if (cli_int(a, "threads", 0, 0, 1024, &t)) return 1;
    if (cli_has(a, "threads") || !getenv("OPENBLAS_NUM_THREADS")) ntk_set_threads(t);
    return 0;
}

/* "512M", "2G", "1.5GiB", "4096" -> bytes (binary multiples); nonzero on error. */
int cli_bytes(const char *flag, const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v <= 0)
        return cli_fail("--%s expects a positive size such as 4096, 512M or 2G, got '%s'", flag,
                        s);
    double mult = 1.0;
    switch (*end) {
    case 'k': case 'K': mult = 1024.0; end++; break;
    case 'm': case 'M': mult = 1048576.0; end++; break;
    case 'g': case 'G': mult = 1073741824.0; end++; break;
    case 't': case 'T': mult = 1099511627776.0; end++; break;
    default: break;
    }
    if (mult > 1.0 && *end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end != '\0')
        return cli_fail("--%s expects a positive size such as 4096, 512M or 2G, got '%s'", flag,
                        s);
    v *= mult;
    if (v < 1.0 || v >= 0.5 * (double)SIZE_MAX)
        return cli_fail("--%s %s is out of range", flag, s);
    *out = (size_t)v;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
