/* The spec parsers: teachers (ntk_target_create, then evaluated), synthetic
 * inputs (ntk_inputs_generate), model lists, activation, initialisation,
 * loss and input-scale names, and synthetic datasets (ntk_dataset_make).
 * Byte 0: d = 1 + (b & 3) and the seed b >> 2. The rest is split at '\n':
 * line 0 goes to every parser; line 1, when present, is the data spec of a
 * dataset with line 0 as its target. File specs (npy:, csv:, ...) are left
 * to fuzz_dataset, which controls the files they name. */
#include "fuzz.h"

static int is_file_spec(const char *s)
{
    return !strncmp(s, "npy:", 4) || !strncmp(s, "csv:", 4) || !strncmp(s, "cifar10:", 8) ||
           !strncmp(s, "mnist:", 6);
}

static void try_target(const char *spec, size_t d, uint64_t seed)
{
    ntk_target *t = (ntk_target *)1;
    ntk_status st = ntk_target_create(spec, d, seed, &t);
    if (st != NTK_OK) {
        fuzz_check_message(st, 0);
        FUZZ_ASSERT(t == NULL, "teacher left after failure");
        return;
    }
    enum { N = 5 };
    double X[N * 4], y[N];
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ntk_rng_normal_fill(&rng, X, N * d);
    st = ntk_target_eval(t, X, N, &rng, y);
    if (st != NTK_OK) {
        fuzz_check_message(st, 0);
        FUZZ_ASSERT(st == NTK_ERR_NONFINITE, "eval failed with %s", ntk_status_name(st));
    } else {
        FUZZ_ASSERT(fuzz_all_finite(y, N), "non-finite labels returned as NTK_OK");
    }
    ntk_target_free(t);
}

static void try_inputs(const char *spec, size_t d, uint64_t seed)
{
    double X[3 * 4];
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ntk_status st = ntk_inputs_generate(spec, 3, d, &rng, X);
    if (st != NTK_OK) fuzz_check_message(st, 0);
    else FUZZ_ASSERT(fuzz_all_finite(X, 3 * d), "non-finite inputs");
}

static void try_names(const char *s)
{
    unsigned mask = 0;
    ntk_status st = ntk_models_parse(s, &mask);
    if (st != NTK_OK) fuzz_check_message(st, 0);
    else FUZZ_ASSERT(mask != 0 && (mask & ~(unsigned)NTK_MODEL_ALL) == 0, "mask %#x", mask);

    ntk_act act, again;
    st = ntk_act_parse(s, 0.25, &act);
    if (st != NTK_OK) {
        fuzz_check_message(st, 0);
    } else {
        FUZZ_ASSERT(act.kind >= 0 && act.kind < NTK_ACT_COUNT, "kind %d", (int)act.kind);
        FUZZ_ASSERT(ntk_act_parse(ntk_act_name(act.kind), 0.25, &again) == NTK_OK &&
                        again.kind == act.kind,
                    "'%s' does not round-trip", s);
    }
    ntk_init_kind init;
    if ((st = ntk_init_parse(s, &init)) != NTK_OK) fuzz_check_message(st, 0);
    ntk_loss_kind loss;
    if ((st = ntk_loss_parse(s, &loss)) != NTK_OK) fuzz_check_message(st, 0);
    ntk_input_scale scale;
    if ((st = ntk_input_scale_parse(s, &scale)) != NTK_OK) fuzz_check_message(st, 0);
}

static void try_dataset(const char *data, const char *target, size_t d, uint64_t seed)
{
    if (is_file_spec(data) || is_file_spec(target)) return;
    ntk_dataset ds;
    ntk_status st = ntk_dataset_make(&(ntk_dataset_spec){data, target, 4, 2, d, seed, (int)(seed & 1), NULL}, &ds);
    if (st != NTK_OK) {
        fuzz_check_message(st, 0);
        FUZZ_ASSERT(ds.X_train == NULL && ds.y_train == NULL && ds.X_test == NULL &&
                        ds.y_test == NULL && ds.n == 0,
                    "dataset left after failure");
        return;
    }
    FUZZ_ASSERT(ds.n == 4 && ds.n_test == 2 && ds.d == d, "sizes %zu %zu %zu", ds.n, ds.n_test,
                ds.d);
    FUZZ_ASSERT(fuzz_all_finite(ds.X_train, 4 * d) && fuzz_all_finite(ds.X_test, 2 * d) &&
                    fuzz_all_finite(ds.y_train, 4) && fuzz_all_finite(ds.y_test, 2),
                "non-finite dataset");
    ntk_dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t d = 1 + (data[0] & 3);
    uint64_t seed = data[0] >> 2;
    char *text = fuzz_cstr(data + 1, size - 1);
    char *line1 = strchr(text, '\n');
    if (line1) {
        *line1++ = '\0';
        char *rest = strchr(line1, '\n');
        if (rest) *rest = '\0';
    }
    try_target(text, d, seed);
    try_inputs(text, d, seed);
    try_names(text);
    if (line1) try_dataset(line1, text, d, seed);
    free(text);
    return 0;
}
