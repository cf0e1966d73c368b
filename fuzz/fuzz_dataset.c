/* ntk_dataset_make on files written from the input, through the same path
 * as `ntkit train --data SPEC`: the data spec parser, the file readers
 * (opening real files) and the split.
 *   byte 0   the form: 0 npy:A, 1 npy:A:B, 2 csv:A[:OPTS], 3 cifar10:A:OPTS,
 *            4 mnist:A:B:OPTS (larger values wrap)
 *   byte 1   n (0..15), byte 2: n_test (0..7)
 *   byte 3   bit 0 standardize; bits 1-2 the target: none, linear, npy:B,
 *            noise; bit 3: d = 2 asked (else 0, from the file)
 *   then     OPTS up to the first '\n'; two bytes L (little-endian); L
 *            bytes of file A; the rest is file B.
 * A and B live in a private folder under /dev/shm (or /tmp), removed at exit. */
#include "fuzz.h"

#include <unistd.h>

static char g_dir[64], g_a[96], g_b[96];

static void cleanup(void)
{
    unlink(g_a);
    unlink(g_b);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/dev/shm/ntk_fuzz_XXXXXX");
    if (!mkdtemp(g_dir)) {
        snprintf(g_dir, sizeof g_dir, "/tmp/ntk_fuzz_XXXXXX");
        if (!mkdtemp(g_dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    snprintf(g_a, sizeof g_a, "%s/A", g_dir);
    snprintf(g_b, sizeof g_b, "%s/B", g_dir);
    atexit(cleanup);
    return 0;
}

static void put_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (len && fwrite(buf, 1, len, fp) != len) || fclose(fp) != 0) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    int form = data[0] % 5;
    size_t n = data[1] & 15, n_test = data[2] & 7, d = (data[3] & 8) ? 2 : 0;
    int standardize = data[3] & 1, target_kind = (data[3] >> 1) & 3;
    const uint8_t *p = data + 4, *end = data + size;
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    char *opts = fuzz_cstr(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
    p = nl ? nl + 1 : end;
    size_t alen = 0;
    if (end - p >= 2) {
        alen = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2;
    }
    if (alen > (size_t)(end - p)) alen = (size_t)(end - p);
    put_file(g_a, p, alen);
    put_file(g_b, p + alen, (size_t)(end - p) - alen);

    char spec[512], target[128];
    switch (form) {
    case 0: snprintf(spec, sizeof spec, "npy:%s", g_a); break;
    case 1: snprintf(spec, sizeof spec, "npy:%s:%s", g_a, g_b); break;
    case 2: snprintf(spec, sizeof spec, "csv:%s%s%.200s", g_a, *opts ? ":" : "", opts); break;
    case 3: snprintf(spec, sizeof spec, "cifar10:%s:%.200s", g_a, opts); break;
    default: snprintf(spec, sizeof spec, "mnist:%s:%s:%.200s", g_a, g_b, opts); break;
    }
    const char *tspec = NULL;
    if (target_kind == 1) tspec = "linear";
    if (target_kind == 2) tspec = (snprintf(target, sizeof target, "npy:%s", g_b), target);
    if (target_kind == 3) tspec = "noise";

    ntk_dataset ds;
    ntk_status st = ntk_dataset_make(&(ntk_dataset_spec){spec, tspec, n, n_test, d, 3, standardize, NULL}, &ds);
    if (st != NTK_OK) {
        fuzz_check_message(st, 0);
        FUZZ_ASSERT(ds.X_train == NULL && ds.y_train == NULL && ds.X_test == NULL &&
                        ds.y_test == NULL && ds.n == 0 && ds.d == 0,
                    "dataset left after failure");
    } else {
        FUZZ_ASSERT(ds.n >= 1 && ds.d >= 1 && ds.X_train && ds.y_train, "n %zu d %zu", ds.n,
                    ds.d);
        FUZZ_ASSERT((n == 0 || ds.n == n) && ds.n_test == n_test && (d == 0 || ds.d == d),
                    "asked n %zu n_test %zu d %zu, got %zu %zu %zu", n, n_test, d, ds.n,
                    ds.n_test, ds.d);
        FUZZ_ASSERT((ds.n_test == 0) == (ds.X_test == NULL), "test split");
        FUZZ_ASSERT(fuzz_all_finite(ds.X_train, ds.n * ds.d) &&
                        fuzz_all_finite(ds.y_train, ds.n) &&
                        fuzz_all_finite(ds.X_test, ds.n_test * ds.d) &&
                        fuzz_all_finite(ds.y_test, ds.n_test),
                    "non-finite dataset");
        ntk_dataset_free(&ds);
    }
    free(opts);
    return 0;
}
