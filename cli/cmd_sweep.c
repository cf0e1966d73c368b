/* ntkit sweep: 'ntkit run' over a list of values of one setting, with a
 * table of every member's final and maximum metrics. */
#include "cli.h"
#ifdef NTK_MPI
int cli_mpi_sweep_prepare(const char *out, int force);
int cli_mpi_sweep_member(int k, const cli_args *b, cli_run_result *res);
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag sweep_flags[] = {
    {"param", 1, "NAME", "setting to vary: width|alpha|n|d|lr1|lr2|seed|depth|weight-std|bias-std"},
    {"values", 1, "LIST", "comma-separated values, e.g. 1,2,4,8"},
    CLI_RUN_FLAGS,
};
#define NSWEEP (sizeof sweep_flags / sizeof sweep_flags[0])

/* "8,32,128" -> values (caller frees *list and *vals); every item must be a
 * finite number. */
static int sweep_values(const char *text, char **list, char ***vals, int *nv)
{
    *list = NULL;
    *vals = NULL;
    *nv = 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    *list = strdup(text);
    *vals = calloc(cap, sizeof **vals);
    if (!*list || !*vals) return cli_fail("out of memory reading --values");
    char *p = *list;
    for (size_t k = 0; k < cap; k++) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *end;
        double v = strtod(p, &end);
        if (end == p || *end || !isfinite(v))
            return cli_fail("--values: item %zu, '%s', is not a number; give numbers separated by "
                            "commas, e.g. 8,32,128", k + 1, p);
        (*vals)[(*nv)++] = p;
        if (comma) p = comma + 1;
    }
    return 0;
}

/* sweep.csv header: the parameter, the status, and every column's final and
 * maximum (the columns of the first member run). */
static int sweep_open(cli_csv *csv, const char *out, const char *param, const cli_run_result *res)
{
    size_t cap = 64 + res->ncols * 96, len;
    char *header = malloc(cap);
    if (!header) return cli_fail("out of memory");
    len = (size_t)snprintf(header, cap, "%s,status", param);
    for (size_t c = 1; c < res->ncols; c++)
        len += (size_t)snprintf(header + len, cap - len, ",%s_final,%s_max", res->names[c], res->names[c]);
    int rc = cli_csv_open(csv, out, "sweep.csv", header);
    free(header);
    return rc;
}

/* status as a number: 0 completed, 1 diverged, 2 interrupted, 3 failed */
static double status_code(const char *st)
{
    return !strcmp(st, "completed") ? 0 : !strcmp(st, "diverged") ? 1 : !strcmp(st, "interrupted") ? 2 : 3;
}

/* One row of sweep.csv: the value, the status, and the final and maximum
 * of the first member's columns, found by name (empty where this member has
 * no such column). Nonzero on a write error. */
static int sweep_row(cli_csv *csv, const char *val, const cli_run_result *first,
                     const cli_run_result *res)
{
    double rowv[2 + 2 * 64];
    rowv[0] = strtod(val, NULL);
    rowv[1] = status_code(res->status);
    for (size_t c = 1; c < first->ncols; c++) {
        rowv[2 * c] = rowv[2 * c + 1] = NAN;
        for (size_t j = 1; j < res->ncols; j++)
            if (!strcmp(res->names[j], first->names[c])) {
                rowv[2 * c] = res->final[j];
                rowv[2 * c + 1] = res->max[j];
            }
    }
    return cli_csv_row(csv, rowv);
}

/* 0 if param is one --param accepts, else the error (one line). */
static int sweep_param_check(const char *param)
{
    static const char *const allowed[] = {"width", "alpha", "n", "d", "lr1", "lr2", "seed",
                                          "depth", "weight-std", "bias-std"};
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
        if (!strcmp(param, allowed[k])) return 0;
    return cli_fail("--param must be one of width|alpha|n|d|lr1|lr2|seed|depth|weight-std|"
                    "bias-std, got '%s'", param);
}

int cmd_sweep(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, sweep_flags, NSWEEP, argc, argv)) return 2;
    if (a.help) {
        cli_usage("sweep", "--param NAME --values LIST --out DIR [run options]",
                  "Repeat 'ntkit run' for each value of one setting. Writes DIR/<param>=<value>/ (a run\n"
                  "directory each) and DIR/sweep.csv with the final and maximum of every metric.",
                  sweep_flags, NSWEEP);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    const char *param = cli_str(&a, "param", NULL), *values = cli_str(&a, "values", NULL);
    const char *out = cli_str(&a, "out", NULL);
    if (!param || !values || !out) return cli_fail("sweep needs --param, --values and --out");
    if (sweep_param_check(param)) return 1;
    /* indices of the flags to override */
    int fi = -1, fo = -1, fm = -1;
    for (size_t k = 0; k < NSWEEP; k++) {
        if (!strcmp(sweep_flags[k].name, param)) fi = (int)k;
        if (!strcmp(sweep_flags[k].name, "out")) fo = (int)k;
        if (!strcmp(sweep_flags[k].name, "models")) fm = (int)k;
    }
    if ((!strcmp(param, "lr1") || !strcmp(param, "lr2")) && cli_has(&a, "lrs"))
        return cli_fail("--param %s with --lrs: the rates come from --lrs; sweep without --lrs", param);
    if (!strcmp(param, "width") && cli_has(&a, "widths"))
        return cli_fail("--param width with --widths: the widths come from --widths; sweep "
                        "without --widths");
    /* check the values first, so that a typo fails before any run */
    char *list, **vals;
    int nv, rc = sweep_values(values, &list, &vals, &nv);
#ifdef NTK_MPI
    /* cli/mpi_sweep.c: process 0 prepares DIR, the others wait for it */
    if (!rc) rc = cli_mpi_sweep_prepare(out, cli_has(&a, "force"));
#else
    if (!rc) rc = cli_prepare_outdir(out, cli_has(&a, "force"));
#endif
    /* members that leave Hu et al.'s two-layer model out would give the
     * table other columns: without --models, a sweep over depth or the
     * network's settings leaves it out for every member */
    int net_param = !strcmp(param, "depth") || !strcmp(param, "weight-std") || !strcmp(param, "bias-std");
    if (!rc && net_param && !cli_has(&a, "models")) {
        a.values[fm] = "nn,linearized,ntk,ntk-inf";
        a.present[fm] = 1;
        printf("note: --param %s runs nn,linearized,ntk,ntk-inf in every member (lin is for the "
               "two-layer network only; --models chooses)\n", param);
    }
    cli_csv csv = {0};
    int opened = 0;
    cli_run_result res, first;
    for (int k = 0; !rc && k < nv && !cli_interrupted; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s=%s", out, param, vals[k]);
        cli_args b = a;
        b.values[fi] = vals[k];
        b.present[fi] = 1;
        b.values[fo] = dir;
        printf("[%d/%d] %s = %s\n", k + 1, nv, param, vals[k]);
        fflush(stdout);
        memset(&res, 0, sizeof res);
#ifdef NTK_MPI
        /* cli/mpi_sweep.c: member k runs on process k mod P; process 0 gets
         * its result and writes the table, the others go on (r < 0) */
        int r = cli_mpi_sweep_member(k, &b, &res);
        if (r < 0) continue;
#else
        int r = cli_run_with_args(&b, 1, &res);
#endif
        if (!res.status) {
            rc = r ? r : 1;
            break;   /* set-up failed: the next values would fail the same way */
        }
        if (!opened && sweep_open(&csv, out, param, &res)) {
            rc = 1;
            break;
        }
        if (!opened) first = res;
        opened = 1;
        if (sweep_row(&csv, vals[k], &first, &res)) {
            cli_csv_discard(&csv);
            opened = 0;
            rc = 1;
            break;
        }
        if (r && strcmp(res.status, "diverged") != 0 && strcmp(res.status, "interrupted") != 0) rc = r;
    }
    if (opened && cli_csv_close(&csv)) rc = 1;
    free(list);
    free(vals);
    if (!rc) printf("sweep table: %s/sweep.csv\n", out);
    if (!rc && cli_interrupted) {
        fprintf(stderr, "ntkit: sweep interrupted; the runs so far are in %s/sweep.csv\n", out);
        rc = 130;
    }
    return rc;
}
