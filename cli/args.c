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
    {"weight standard deviation sigma_w", "--weight-std"},
    {"bias standard deviation sigma_b", "--bias-std"},
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

/* Split a comma-separated list into at most cap items (in place in buf,
 * which holds a copy of s); the count, or cap + 1 when there are more. An
 * empty item (",," or a trailing comma) is kept as "" for the caller's
 * message. */
static size_t split_list(const char *s, char *buf, size_t buflen, char **items, size_t cap)
{
    snprintf(buf, buflen, "%s", s);
    size_t k = 0;
    for (char *p = buf;; k++) {
        char *comma = strchr(p, ',');
        if (k < cap) items[k] = p;
        if (!comma) return k + 1 > cap ? cap + 1 : k + 1;
        *comma = '\0';
        p = comma + 1;
    }
}

/* --depth L (digits only, 1..NTK_MAX_DEPTH). */
static int depth_flag(const cli_args *a, size_t *L)
{
    if (cli_size(a, "depth", 1, 0, L)) return 1;
    if (*L < 1)
        return cli_fail("--depth must be at least 1 hidden layer, got 0; use --depth 1..%d",
                        NTK_MAX_DEPTH);
    if (*L > NTK_MAX_DEPTH)
        return cli_fail("--depth must be at most %d hidden layers, got %zu; use --depth 1..%d",
                        NTK_MAX_DEPTH, *L, NTK_MAX_DEPTH);
    return 0;
}

/* --widths M1,...,ML: L positive integers (digits only) into cfg->widths,
 * and m = M1. */
static int widths_flag(const cli_args *a, size_t L, ntk_net_config *cfg)
{
    const char *s = cli_str(a, "widths", NULL);
    if (!s) return 0;
    if (cli_has(a, "width"))
        return cli_fail("--width and --widths both given; use --widths M1,...,ML alone for "
                        "per-layer widths, or --width M for every layer");
    char buf[1024], *items[NTK_MAX_DEPTH + 1];
    if (strlen(s) >= sizeof buf) return cli_fail("--widths '%.40s...' is too long", s);
    size_t n = split_list(s, buf, sizeof buf, items, NTK_MAX_DEPTH);
    if (n != L)
        return cli_fail("--widths has %s%zu value%s but --depth is %zu%s; give one width per "
                        "hidden layer", n > NTK_MAX_DEPTH ? "more than " : "",
                        n > NTK_MAX_DEPTH ? (size_t)NTK_MAX_DEPTH : n, n == 1 ? "" : "s", L,
                        cli_has(a, "depth") ? "" : " (the default)");
    for (size_t l = 0; l < L; l++) {
        char *end;
        errno = 0;
        unsigned long long v = isdigit((unsigned char)items[l][0]) ? strtoull(items[l], &end, 10) : 0;
        if (!isdigit((unsigned char)items[l][0]) || *end != '\0' || errno == ERANGE || v == 0 ||
            v > (unsigned long long)(SIZE_MAX / 16))
            return cli_fail("--widths: item %zu, '%s', is not a positive integer; give L widths "
                            "separated by commas, e.g. --widths 512,256", l + 1, items[l]);
        cfg->widths[l] = (size_t)v;
    }
    cfg->m = cfg->widths[0];
    return 0;
}

int cli_rates_list(const cli_args *a, size_t need, double *rates)
{
    const char *s = cli_str(a, "lrs", NULL);
    char buf[1024], *items[NTK_MAX_DEPTH + 2];
    if (strlen(s) >= sizeof buf) return cli_fail("--lrs '%.40s...' is too long", s);
    size_t n = split_list(s, buf, sizeof buf, items, NTK_MAX_DEPTH + 1);
    if (n != need)
        return cli_fail("--lrs has %s%zu value%s but --depth %zu needs %zu, one rate per layer "
                        "(layers 1..%zu hidden, layer %zu the output)",
                        n > NTK_MAX_DEPTH + 1 ? "more than " : "",
                        n > NTK_MAX_DEPTH + 1 ? (size_t)NTK_MAX_DEPTH + 1 : n, n == 1 ? "" : "s",
                        need - 1, need, need - 1, need);
    int any = 0;
    for (size_t l = 0; l < need; l++) {
        char *end;
        errno = 0;
        double v = strtod(items[l], &end);
        if (end == items[l] || *end != '\0' || errno == ERANGE || !isfinite(v))
            return cli_fail("--lrs: item %zu, '%s', is not a finite number; give %zu rates "
                            "separated by commas, e.g. --lrs 1,1,0.5", l + 1, items[l], need);
        if (v < 0)
            return cli_fail("--lrs: item %zu is %g; rates must be non-negative (0 freezes a layer)",
                            l + 1, v);
        rates[l] = v;
        any |= v > 0;
    }
    if (!any) return cli_fail("--lrs are all 0: nothing would train; give some layer a positive rate");
    return 0;
}

int cli_net_config(const cli_args *a, size_t d, ntk_net_config *cfg)
{
    size_t m, L;
    if (cli_size(a, "width", 256, 1, &m) || depth_flag(a, &L)) return 1;
    *cfg = ntk_net_config_default(d, m);
    cfg->depth = L;
    if (widths_flag(a, L, cfg)) return 1;
    if (cli_double(a, "weight-std", 1.0, -INFINITY, &cfg->weight_std)) return 1;
    if (!(cfg->weight_std > 0))
        return cli_fail("--weight-std must be positive, got %g (1 is the two-layer network's)",
                        cfg->weight_std);
    if (cli_double(a, "bias-std", 0.0, -INFINITY, &cfg->bias_std)) return 1;
    if (cfg->bias_std < 0)
        return cli_fail("--bias-std must be at least 0, got %g (0: no biases)", cfg->bias_std);
    if (ntk_param_parse(cli_str(a, "parameterization", "ntk"), &cfg->parameterization) != NTK_OK)
        return cli_fail_lib("--parameterization");
    double param;
    if (cli_double(a, "act-param", NTK_LEAKY_SLOPE, -INFINITY, &param)) return 1;
    if (ntk_act_parse(cli_str(a, "act", "relu"), param, &cfg->act) != NTK_OK)
        return cli_fail_lib("--act");
    if (ntk_init_parse(cli_str(a, "init", "gaussian"), &cfg->init) != NTK_OK)
        return cli_fail_lib("--init");
    if (ntk_input_scale_parse(cli_str(a, "input-scale", "sqrt_d"), &cfg->input_scale) != NTK_OK)
        return cli_fail_lib("--input-scale");
    if (cli_double(a, "alpha", 1.0, -INFINITY, &cfg->alpha)) return 1;
    if (!(cfg->alpha > 0)) return cli_fail("--alpha must be positive, got %g", cfg->alpha);
    cfg->centered = cli_has(a, "centered");
    if (cli_size(a, "outputs", 1, 1, &cfg->outputs)) return 1;
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
