/* Specs of inputs and teachers: "name", "name:key=value,key=value" or
 * "name,key=value,..." (src/spec.c). */
#ifndef NTK_SPEC_H
#define NTK_SPEC_H

#include "internal.h"

#define SPEC_MAX_OPTS 80

typedef struct {
    char key[24];
    double value;
} spec_opt;

typedef struct {
    const char *name;   /* points into the spec; not NUL-terminated */
    size_t name_len;
    int n_opts;
    spec_opt opts[SPEC_MAX_OPTS];
} spec_parts;

/* 1 if the spec's name is word. */
int spec_name_is(const spec_parts *sp, const char *word);
/* One option "key=value" in [s, e) of spec into o. */
ntk_status spec_option(const char *spec, const char *s, const char *e, spec_opt *o);
/* The name and the options of spec. */
ntk_status spec_parse(const char *spec, spec_parts *sp);

/* 1 if the spec names synthetic inputs (src/inputs.c). */
int spec_is_inputs(const spec_parts *sp);

#endif
