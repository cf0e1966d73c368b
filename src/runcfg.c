/* The network configuration of a run directory: the config.json that
 * `ntkit train` writes, parsed back into an ntk_net_config. One parser for
 * the command line (ntkit kernel --weights DIR) and the fuzz targets. */
#include "internal.h"
#include "readers.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static ntk_status json_number(const cJSON *o, const char *source, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it))
        return ntk_set_error(NTK_ERR_FORMAT, "%s: missing or non-numeric \"%s\"; is this a run "
                             "directory of 'ntkit train'?", source, key);
    *out = it->valuedouble;
    return NTK_OK;
}

static ntk_status json_string(const cJSON *o, const char *source, const char *key,
                              const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(it))
        return ntk_set_error(NTK_ERR_FORMAT, "%s: missing or non-string \"%s\"; is this a run "
                             "directory of 'ntkit train'?", source, key);
    *out = it->valuestring;
    return NTK_OK;
}

/* A failure of the name parsers or the config check, prefixed by source;
 * control bytes of the file's strings are shown as '?'. */
static ntk_status with_source(ntk_status st, const char *source)
{
    const char *m = ntk_errmsg();
    char msg[1024];
    ntk_printable(m, strlen(m), msg, sizeof msg);
    return ntk_set_error(st, "%s: %s", source, msg);
}

/* The depth keys (written since depth came; a config without them is the
 * two-layer network): "depth" L (1..NTK_MAX_DEPTH), "widths" (L positive
 * whole numbers), "weight_std" σ_w, "bias_std" σ_b, "parameterization",
 * "outputs" k (the output head; absent: 1).
 * Each is optional; one present with the wrong type is an error. */
static ntk_status depth_fields(const cJSON *o, const char *source, ntk_net_config *cfg)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "depth");
    if (it) {
        double L = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(L >= 1) || L > NTK_MAX_DEPTH || L != floor(L))
            return ntk_set_error(NTK_ERR_FORMAT, "%s: \"depth\" must be a whole number from 1 to "
                                 "%d", source, NTK_MAX_DEPTH);
        cfg->depth = (size_t)L;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "widths");
    if (it) {
        size_t L = ntk_net_depth(cfg);
        if (!cJSON_IsArray(it) || (size_t)cJSON_GetArraySize(it) != L)
            return ntk_set_error(NTK_ERR_FORMAT, "%s: \"widths\" must be a list of %zu hidden "
                                 "widths (one per layer of \"depth\")", source, L);
        for (size_t l = 0; l < L; l++) {
            const cJSON *w = cJSON_GetArrayItem(it, (int)l);
            double v = w ? w->valuedouble : 0;
            if (!cJSON_IsNumber(w) || !(v >= 1) || v > 1e15 || v != floor(v))
                return ntk_set_error(NTK_ERR_FORMAT, "%s: \"widths\" item %zu is not a positive "
                                     "whole number", source, l + 1);
            cfg->widths[l] = (size_t)v;
        }
    }
    const char *keys[2] = {"weight_std", "bias_std"};
    double *vals[2] = {&cfg->weight_std, &cfg->bias_std};
    for (int k = 0; k < 2; k++) {
        it = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
        if (!it) continue;
        if (!cJSON_IsNumber(it))
            return ntk_set_error(NTK_ERR_FORMAT, "%s: \"%s\" must be a number", source, keys[k]);
        *vals[k] = it->valuedouble;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "outputs");
    if (it) {
        double k = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(k >= 1) || k > 1e15 || k != floor(k))
            return ntk_set_error(NTK_ERR_FORMAT, "%s: \"outputs\" must be a positive whole number "
                                 "(the network's output units)", source);
        cfg->outputs = (size_t)k;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "parameterization");
    if (it) {
        if (!cJSON_IsString(it))
            return ntk_set_error(NTK_ERR_FORMAT, "%s: \"parameterization\" must be a string, ntk "
                                 "or standard", source);
        if (ntk_param_parse(it->valuestring, &cfg->parameterization) != NTK_OK)
            return with_source(NTK_ERR_FORMAT, source);
    }
    return NTK_OK;
}

/* The fields of object o -> *cfg (the keys ntkit train writes). */
static ntk_status config_fields(const cJSON *o, const char *source, ntk_net_config *cfg)
{
    double width = 0, d = 0, act_param = 0, alpha = 0, seed = 0;
    const char *act = NULL, *init = NULL, *scale = NULL;
    NTK_TRY(json_number(o, source, "width", &width));
    NTK_TRY(json_number(o, source, "d", &d));
    NTK_TRY(json_string(o, source, "act", &act));
    NTK_TRY(json_number(o, source, "act_param", &act_param));
    NTK_TRY(json_string(o, source, "init", &init));
    NTK_TRY(json_string(o, source, "input_scale", &scale));
    NTK_TRY(json_number(o, source, "alpha", &alpha));
    NTK_TRY(json_number(o, source, "seed", &seed));
    /* the bounds keep the casts below defined: 1e15 < 2^53, 1.8e19 < 2^64 */
    if (!(width >= 1) || !(d >= 1) || width != floor(width) || d != floor(d) || width > 1e15 ||
        d > 1e15 || !(seed >= 0) || seed > 1.8e19)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: bad width %g, d %g or seed %g", source, width,
                             d, seed);
    *cfg = ntk_net_config_default((size_t)d, (size_t)width);
    cfg->centered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "centered"));
    cfg->alpha = alpha;
    cfg->seed = (uint64_t)seed;
    NTK_TRY(depth_fields(o, source, cfg));
    ntk_status st = ntk_act_parse(act, act_param, &cfg->act);
    if (st == NTK_OK) st = ntk_init_parse(init, &cfg->init);
    if (st == NTK_OK) st = ntk_input_scale_parse(scale, &cfg->input_scale);
    if (st == NTK_OK) st = ntk_net_config_check(cfg);
    return st == NTK_OK ? NTK_OK : with_source(st, source);
}

ntk_status ntk_net_config_from_json(const char *json, const char *source, ntk_net_config *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_net_config_from_json: out is NULL");
    if (!source) source = "config.json";
    if (!json) return ntk_set_error(NTK_ERR_ARG, "%s: no JSON text", source);
    cJSON *o = cJSON_Parse(json);
    ntk_status st;
    if (!cJSON_IsObject(o)) {
        st = ntk_set_error(NTK_ERR_FORMAT, "%s is not a JSON object; pass a run directory of "
                           "'ntkit train'", source);
    } else {
        ntk_net_config cfg;
        st = config_fields(o, source, &cfg);
        if (st == NTK_OK) *out = cfg;
    }
    cJSON_Delete(o);
    return st;
}

ntk_status ntk_net_config_read(const char *path, ntk_net_config *out)
{
    ntk_clear_error();
    if (!path || !out) return ntk_set_error(NTK_ERR_ARG, "ntk_net_config_read: NULL argument");
    unsigned char *buf;
    size_t len;
    NTK_TRY(ntk_input_read(path, 1, &buf, &len));
    ntk_status st = ntk_net_config_from_json((const char *)buf, path, out);
    free(buf);
    return st;
}
