/* Specs of inputs and teachers: "name", "name:key=value,key=value" or
 * "name,key=value,...". */
#include "spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spec_name_is(const spec_parts *sp, const char *word)
{
    return strlen(word) == sp->name_len && memcmp(sp->name, word, sp->name_len) == 0;
}

/* One "key=value" option [s, e) -> o. */
ntk_status spec_option(const char *spec, const char *s, const char *e, spec_opt *o)
{
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq || eq == s || eq + 1 == e)
        return ntk_set_error(NTK_ERR_ARG, "option '%.*s' in '%s' needs the form key=value",
                             (int)(e - s), s, spec);
    if ((size_t)(eq - s) >= sizeof o->key)
        return ntk_set_error(NTK_ERR_ARG, "option name '%.*s' in '%s' is too long",
                             (int)(eq - s), s, spec);
    memcpy(o->key, s, (size_t)(eq - s));
    o->key[eq - s] = '\0';
    char *end;
    o->value = strtod(eq + 1, &end);
    if (end != e || !isfinite(o->value))
        return ntk_set_error(NTK_ERR_ARG, "option '%.*s' in '%s': '%.*s' is not a finite number",
                             (int)(e - s), s, spec, (int)(e - eq - 1), eq + 1);
    return NTK_OK;
}

ntk_status spec_parse(const char *spec, spec_parts *sp)
{
    if (!spec || !*spec) return ntk_set_error(NTK_ERR_ARG, "spec is empty");
    sp->name = spec;
    sp->name_len = strcspn(spec, ":,");
    sp->n_opts = 0;
    const char *s = spec + sp->name_len;
    while (*s) {
        s++;   /* the ':' or ',' before this option */
        const char *e = s + strcspn(s, ",");
        if (sp->n_opts == SPEC_MAX_OPTS)
            return ntk_set_error(NTK_ERR_ARG, "'%s' has more than %d options", spec,
                                 SPEC_MAX_OPTS);
        NTK_TRY(spec_option(spec, s, e, &sp->opts[sp->n_opts++]));
        s = e;
    }
    return NTK_OK;
}

