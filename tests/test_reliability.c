/* Regression tests of the library's defences: every one of these inputs once
 * crashed, hung, destroyed a file or returned a silent wrong number. */
#include "ntkit.h"
#include "internal.h"
#include "harness.h"
#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Gaussian (n, d) inputs and a linear teacher, seeded. */
static void make_data(size_t n, size_t d, uint64_t seed, double *X, double *y)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ntk_rng_normal_fill(&rng, X, n * d);
    for (size_t i = 0; i < n; i++) {
        y[i] = 0.0;
        for (size_t k = 0; k < d; k++) y[i] += X[i * d + k] / sqrt((double)d);
    }
}

/* Hu et al.'s linear model once wrote its p² feature Gram (p = 2d + 3)
 * into a scratch of (n + nt)(d + 2) doubles: a heap overflow whenever n is
 * small against d (n = 30, d = 20, and n = 100, d = 100 crashed). The run
 * must complete, and its lin model must equal kernel GD under
 * η1Θ_lin1 + η2Θ_lin2 from f(θ0) (the same dynamics written in function
 * space), to the rounding of t = 5 steps of O(n·p) sums: 1e-10. */
static void test_lin_model_small_n(void)
{
    const size_t cases[][4] = {{30, 5, 20, 256}, {100, 10, 100, 16}, {4, 1, 9, 8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c][0], nt = cases[c][1], d = cases[c][2], m = cases[c][3];
        double *X = malloc((n + nt) * d * sizeof(double)), *y = malloc((n + nt) * sizeof(double));
        double *f = malloc(5 * n * sizeof(double)), *f0 = f + n, *u = f0 + n, *K = malloc(n * n * sizeof(double));
        make_data(n + nt, d, 3 + c, X, y);
        ntk_net_config net = ntk_net_config_default(d, m);
        net.act.kind = NTK_ACT_ERF;
        ntk_gd_config gd = {.lr1 = 0.7, .lr2 = 0.3, .loss = NTK_LOSS_MEAN};
        ntk_run_config rc = ntk_run_config_default(net, gd);
        rc.models = NTK_MODEL_NN | NTK_MODEL_LIN;
        rc.trace_factor = 1.0;
        rc.kernel_every = 0;
        ntk_run *r = NULL;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){X, y, n, X + n * d, y + n, nt}, NULL, NULL, &r));
        if (!r) continue;
        CHECK_OK(ntk_run_predictions(r, 0, f0, NULL));
        CHECK_OK(ntk_run_advance(r, 5));
        CHECK_OK(ntk_run_predictions(r, 2, f, NULL));
        ntk_constants k;
        CHECK_OK(ntk_constants_compute(net.act, 1.0, 0, &k));
        CHECK_OK(ntk_kernel_lin(&k, 1.0, X, n, NULL, 0, d, gd.lr1, gd.lr2, K));
        ntk_kgd_config kc = ntk_kgd_config_default();
        ntk_kgd *g = NULL;
        CHECK_OK(ntk_kgd_create(K, n, y, f0, &kc, &g));
        CHECK_OK(ntk_kgd_predict_train(g, 5, 0, u));
        CHECK_LE(t_max_rel_err(f, u, n), 1e-10, "lin vs kernel GD on Theta_lin (n=%zu, d=%zu)", n, d);
        ntk_kgd_free(g);
        ntk_run_free(r);
        free(X), free(y), free(f), free(K);
    }
}

/* Weights the BLAS cannot index (m·(d+1) ≥ 2^31 with 32-bit BLAS integers)
 * once made a negative count and a first layer that silently never trained. */
static void test_blas_limit(void)
{
    size_t lim = ntk_blas_int_max();
    CHECK(lim >= 2147483647u, "BLAS limit %zu", lim);
    ntk_net_config c = ntk_net_config_default(1000, lim / 1001 + 1);
    CHECK_ERR(ntk_net_config_check(&c), NTK_ERR_ARG);
    char want[64];
    snprintf(want, sizeof want, "%zu", lim);
    CHECK(strstr(ntk_errmsg(), want) != NULL, "the limit is in the message: %s", ntk_errmsg());
    c.m = lim / 1001;   /* m·(d+1) just below the limit */
    CHECK_OK(ntk_net_config_check(&c));
}

/* Inputs of norm 1e160 once gave Inf kernels with a success status. */
static void test_nonfinite_kernels(void)
{
    const size_t n = 6, d = 3;
    double X[18], K[36];
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    ntk_rng_normal_fill(&rng, X, n * d);
    for (size_t k = 0; k < d; k++) X[2 * d + k] *= 1e160;
    ntk_net_config cfg = ntk_net_config_default(d, 16);
    ntk_net *net = NULL;
    CHECK_OK(ntk_net_create(&cfg, &net));
    CHECK_ERR(ntk_kernel_infinite(&cfg, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_NONFINITE);
    CHECK(strstr(ntk_errmsg(), "row 2") && strstr(ntk_errmsg(), "rescale"), "%s", ntk_errmsg());
    CHECK_ERR(ntk_kernel_empirical(&cfg, ntk_net_W0(net), ntk_net_v0(net), X, n, NULL, 0, 1, 1, 0, K),
              NTK_ERR_NONFINITE);
    ntk_constants c;
    CHECK_OK(ntk_constants_compute(cfg.act, 1.0, 0, &c));
    CHECK_ERR(ntk_kernel_lin(&c, 1.0, X, n, NULL, 0, d, 1, 1, K), NTK_ERR_NONFINITE);
    double tf;
    CHECK_ERR(ntk_trace_factor(X, n, d, &tf), NTK_ERR_NONFINITE);
    /* finite inputs whose kernel entries overflow: α² = 1e300 times q ~ 1e10 */
    for (size_t k = 0; k < d; k++) X[2 * d + k] = 1e5;
    cfg.alpha = 1e150;
    CHECK_ERR(ntk_kernel_infinite(&cfg, X, n, NULL, 0, 1, 1, 0, K), NTK_ERR_NONFINITE);
    CHECK(strstr(ntk_errmsg(), "overflows"), "%s", ntk_errmsg());
    /* a huge leaky slope: the constants overflow, named as such */
    ntk_act leaky = {NTK_ACT_LEAKY_RELU, 1e308};
    CHECK_ERR(ntk_constants_compute(leaky, 1.0, 0, &c), NTK_ERR_NONFINITE);
    CHECK(strstr(ntk_errmsg(), "parameter"), "%s", ntk_errmsg());
    ntk_net_free(net);
}

/* α = 1e308 was reported as a divergence ("try smaller rates"). */
static void test_overflow_at_init(void)
{
    const size_t n = 20, d = 4;
    double X[80], y[20];
    make_data(n, d, 9, X, y);
    ntk_net_config cfg = ntk_net_config_default(d, 8);
    cfg.alpha = 1e308;
    ntk_net *net = NULL;
    CHECK_OK(ntk_net_create(&cfg, &net));
    ntk_trainer *tr = NULL;
    ntk_gd_config gd = {.lr1 = 1, .lr2 = 1, .loss = NTK_LOSS_MEAN};
    CHECK_ERR(ntk_trainer_create(net, X, y, n, gd, &tr), NTK_ERR_NONFINITE);
    CHECK(tr == NULL && strstr(ntk_errmsg(), "alpha"), "%s", ntk_errmsg());
    ntk_net_free(net);
}

/* The memory estimate of a run once left out the kernel-drift subsample
 * (2·S² doubles): --kernel-subsample 0 at n = 20000 passed the check and
 * then asked for 6 GiB. */
static void test_run_memory_estimate(void)
{
    ntk_net_config net = ntk_net_config_default(50, 64);
    ntk_gd_config gd = {.lr1 = 1, .lr2 = 1, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(net, gd);
    rc.models = NTK_MODEL_NN;
    rc.kernel_subsample = 0;
    size_t n = 20000;
    double S2 = 2.0 * (double)n * (double)n * 8.0;
    CHECK((double)ntk_run_mem_bytes(&rc, n, 100) >= S2, "estimate %zu covers 2 S^2 doubles",
          ntk_run_mem_bytes(&rc, n, 100));
    rc.kernel_every = 0;   /* no drift: no subsample kernels */
    CHECK((double)ntk_run_mem_bytes(&rc, n, 100) < S2 / 4, "estimate without drift %zu",
          ntk_run_mem_bytes(&rc, n, 100));
}

/* A cancel flag stops a run within one step (GD) and keeps every model at
 * one time; with flow every model goes back to the start of the advance. */
static volatile int g_cancel = 0;
static void test_cancel(void)
{
    const size_t n = 40, nt = 8, d = 5;
    double X[240], y[48];
    make_data(n + nt, d, 11, X, y);
    ntk_net_config net = ntk_net_config_default(d, 32);
    ntk_gd_config gd = {.lr1 = 0.5, .lr2 = 0.5, .loss = NTK_LOSS_MEAN};
    for (int flow = 0; flow <= 1; flow++) {
        ntk_run_config rc = ntk_run_config_default(net, gd);
        rc.flow = flow;
        /* A tight integrator tolerance, so that the comparison below is
         * about the restart and not about the integrator's own error. */
        rc.flow_rtol = 1e-10;
        ntk_run *r = NULL;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){X, y, n, X + n * d, y + n, nt}, NULL, NULL, &r));
        if (!r) continue;
        ntk_run_set_cancel(r, &g_cancel);
        CHECK_OK(ntk_run_advance(r, 3));
        g_cancel = 1;
        CHECK_ERR(ntk_run_advance(r, 50), NTK_ERR_INTERRUPTED);
        CHECK(ntk_run_time(r) == 3.0, "flow %d: time %g after a cancelled advance", flow,
              ntk_run_time(r));
        g_cancel = 0;
        /* the run goes on from there and agrees with an uninterrupted one */
        CHECK_OK(ntk_run_advance(r, 6));
        ntk_run *r2 = NULL;
        CHECK_OK(ntk_run_create(&rc, &(ntk_run_data){X, y, n, X + n * d, y + n, nt}, NULL, NULL, &r2));
        CHECK_OK(ntk_run_advance(r2, 6));
        double f1[40], f2[40];
        for (int model = 0; model < NTK_NMODELS && r2; model++) {
            CHECK_OK(ntk_run_predictions(r, model, f1, NULL));
            CHECK_OK(ntk_run_predictions(r2, model, f2, NULL));
            /* GD: the same steps in the same order, bit for bit. Flow: the
             * adaptive integrator takes other steps after the restart. Each
             * run's global error is its per-step tolerance (1e-10) summed
             * over its steps (a few hundred here) and grown by the flow's
             * Lipschitz factor over t = 6, and ReLU pattern flips add a local
             * error of the same order at each flip; 1e-6 bounds that sum for
             * both runs with a margin of 10 to 100, and a restart that lost
             * or repeated part of the advance is off by O(1e-2). */
            double tol = flow ? 1e-6 : 0.0;
            CHECK_LE(t_max_rel_err(f1, f2, n), tol, "flow %d model %s after cancel", flow,
                     ntk_model_name(model));
        }
        ntk_run_free(r2);
        ntk_run_free(r);
    }
}

/* ---- output files ------------------------------------------------------ */

static int file_has(const char *path, const char *text)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    char buf[256] = "";
    size_t len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    return strcmp(buf, text) == 0;
}

/* no "*.tmp.*" or ".partial" left in g_dir */
static int no_temporaries(void)
{
    DIR *dp = opendir(g_dir);
    int clean = 1;
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".partial")) clean = 0;
    if (dp) closedir(dp);
    return clean;
}

static void test_output_files(void)
{
    tmpdir_make("ntk_rel");
    /* a set whose second file fails leaves the first one as it was (a
     * failing --spectrum path once deleted an existing K.npy) */
    write_raw(in_dir("K.npy"), "old", 3);
    ntk_outset *o = NULL;
    CHECK_OK(ntk_outset_create(&o));
    CHECK_OK(ntk_outset_add(o, in_dir("K.npy"), "new", 3));
    CHECK_ERR(ntk_outset_add(o, in_dir("no/such/dir/spec.csv"), "x", 1), NTK_ERR_IO);
    ntk_outset_free(o);
    CHECK(file_has(in_dir("K.npy"), "old"), "the earlier file is untouched");
    CHECK(no_temporaries(), "no temporary file left");
    CHECK_OK(ntk_outset_create(&o));
    CHECK_OK(ntk_outset_add(o, in_dir("K.npy"), "new", 3));
    CHECK_OK(ntk_outset_add(o, in_dir("spec.csv"), "s", 1));
    CHECK(file_has(in_dir("K.npy"), "old"), "nothing replaced before commit");
    CHECK_OK(ntk_outset_commit(o));
    ntk_outset_free(o);
    CHECK(file_has(in_dir("K.npy"), "new") && file_has(in_dir("spec.csv"), "s"), "committed");

    /* a symbolic link is followed: the link stays, its target is replaced */
    write_raw(in_dir("target.txt"), "t0", 2);
    CHECK(symlink("target.txt", in_dir("link.txt")) == 0, "symlink: %s", strerror(errno));
    CHECK_OK(ntk_write_file_atomic(in_dir("link.txt"), "t1", 2));
    struct stat st;
    CHECK(lstat(in_dir("link.txt"), &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
    CHECK(file_has(in_dir("target.txt"), "t1"), "the target got the bytes");
    /* a dangling link: the file is made where it points */
    CHECK(symlink("made.txt", in_dir("dangling.txt")) == 0, "symlink");
    CHECK_OK(ntk_write_file_atomic(in_dir("dangling.txt"), "m", 1));
    CHECK(file_has(in_dir("made.txt"), "m"), "written at the link's target");

    /* a directory is refused, and stays */
    CHECK(mkdir(in_dir("adir"), 0755) == 0, "mkdir");
    CHECK_ERR(ntk_write_file_atomic(in_dir("adir"), "x", 1), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "directory") != NULL, "%s", ntk_errmsg());
    CHECK(stat(in_dir("adir"), &st) == 0 && S_ISDIR(st.st_mode), "the directory stays");

    /* a character device is written through and stays a device */
    CHECK_OK(ntk_write_file_atomic("/dev/null", "x", 1));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is still a device");
    /* a full device: one error naming the cause, nothing left behind */
    if (access("/dev/full", W_OK) == 0) {
        CHECK_ERR(ntk_write_file_atomic("/dev/full", "x", 1), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), "No space") != NULL, "%s", ntk_errmsg());
    }
    /* a FIFO nobody reads: refused at once instead of hanging */
    CHECK(mkfifo(in_dir("fifo"), 0600) == 0, "mkfifo");
    time_t t0 = time(NULL);
    CHECK_ERR(ntk_write_file_atomic(in_dir("fifo"), "x", 1), NTK_ERR_IO);
    CHECK(time(NULL) - t0 <= 2, "the FIFO did not block");
    CHECK(stat(in_dir("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO stays");

    /* a stream: nothing under the final name until commit; a signal
     * handler's ntk_tmpfiles_remove() takes the temporary file away */
    ntk_stream *s = NULL;
    CHECK_OK(ntk_stream_open(in_dir("log.csv"), &s));
    CHECK_OK(ntk_stream_write(s, "a,b\n", 4));
    CHECK(access(in_dir("log.csv"), F_OK) != 0, "not visible before commit");
    CHECK(!no_temporaries(), "the temporary file exists while writing");
    ntk_tmpfiles_remove();
    CHECK(no_temporaries(), "ntk_tmpfiles_remove removed it");
    ntk_stream_discard(s);
    CHECK_OK(ntk_stream_open(in_dir("log.csv"), &s));
    CHECK_OK(ntk_stream_write(s, "a,b\n", 4));
    CHECK_OK(ntk_stream_commit(s));
    CHECK(file_has(in_dir("log.csv"), "a,b\n") && no_temporaries(), "committed stream");
    /* the mode of a replaced file is kept */
    CHECK(chmod(in_dir("log.csv"), 0640) == 0, "chmod");
    CHECK_OK(ntk_write_file_atomic(in_dir("log.csv"), "c", 1));
    CHECK(stat(in_dir("log.csv"), &st) == 0 && (st.st_mode & 0777) == 0640, "mode kept: %o",
          (unsigned)(st.st_mode & 0777));
    remove_tree(g_dir);
}

/* The persistent pool of the elementwise maps: every index once per call,
 * whatever the thread count, over many calls (a worker started during a
 * job once missed that job and the caller waited for ever). */
static void add_one(void *ctx, size_t i0, size_t i1)
{
    unsigned char *hits = ctx;
    for (size_t i = i0; i < i1; i++) hits[i]++;
}

static void test_thread_pool(void)
{
    enum { N = 1 << 17, CALLS = 120 };
    unsigned char *hits = calloc(N, 1);
    int saved = ntk_get_threads(), bad = 0;
    for (int c = 0; c < CALLS; c++) {
        ntk_set_threads(1 + c % 6);
        size_t count = N - (size_t)c * 97;
        ntk_parallel_for(count, add_one, hits);
        for (size_t i = 0; i < count; i++)
            if (hits[i] != 1) bad++;
        memset(hits, 0, N);
    }
    ntk_set_threads(saved);
    CHECK(bad == 0, "%d indices not covered exactly once", bad);
    free(hits);
}

/* After a failing call, a succeeding call leaves no stale message. */
static void test_no_stale_message(void)
{
    ntk_net_config bad = ntk_net_config_default(0, 4), good = ntk_net_config_default(3, 4);
    CHECK_ERR(ntk_net_config_check(&bad), NTK_ERR_ARG);
    CHECK(strcmp(ntk_errmsg(), "no error") != 0, "a failure leaves its message");
    CHECK_OK(ntk_net_config_check(&good));
    CHECK(strcmp(ntk_errmsg(), "no error") == 0, "stale message after a success: %s", ntk_errmsg());
    double X[6] = {1, 0, 0, 0, 1, 0}, K[4];
    ntk_kernel_desc k = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &good);
    k.quad_order = -1;
    CHECK_ERR(ntk_kernel(&k, X, 2, NULL, 0, K), NTK_ERR_ARG);
    k.quad_order = 0;
    CHECK_OK(ntk_kernel(&k, X, 2, NULL, 0, K));
    CHECK(strcmp(ntk_errmsg(), "no error") == 0, "stale message after ntk_kernel: %s", ntk_errmsg());
    ntk_act act;
    CHECK_ERR(ntk_act_parse("swish", 0, &act), NTK_ERR_ARG);
    CHECK_OK(ntk_act_parse("erf", 0, &act));
    CHECK(strcmp(ntk_errmsg(), "no error") == 0, "stale message after ntk_act_parse: %s", ntk_errmsg());
}

int main(void)
{
    test_no_stale_message();
    test_thread_pool();
    test_lin_model_small_n();
    test_blas_limit();
    test_nonfinite_kernels();
    test_overflow_at_init();
    test_run_memory_estimate();
    test_cancel();
    test_output_files();
    return t_finish();
}
