/* The config.json parser of run directories (ntk_net_config_from_json). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    ntk_net_config cfg = ntk_net_config_default(7, 9);
    ntk_status st = ntk_net_config_from_json(text, "fuzz/config.json", &cfg);
    if (st != NTK_OK) {
        fuzz_check_message(st, 1);
        FUZZ_ASSERT(cfg.d == 7 && cfg.m == 9, "output written on failure");
    } else {
        FUZZ_ASSERT(ntk_net_config_check(&cfg) == NTK_OK, "accepted a config that fails the "
                    "check: %s", ntk_errmsg());
    }
    free(text);
    return 0;
}
