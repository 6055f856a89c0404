
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The JSON reading: request bodies (the flat scan, else jansson) and the
 * message of an upstream's error.  Plain C with no nginx types, so that it
 * can be unit-tested and fuzzed alone.
 */


#ifndef _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_


#include <stddef.h>

#include "ngx_turso_members_body.h"


typedef void *(*ngx_turso_members_json_alloc_pt)(void *data, size_t size);


/* jansson allocates with alloc(data, size) until set back to NULL */
void ngx_turso_members_json_allocator(ngx_turso_members_json_alloc_pt alloc,
    void *data);
int ngx_turso_members_json_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body);
/* jansson alone, for the tests and the fuzzer */
int ngx_turso_members_json_parse_jansson(const unsigned char *data,
    size_t len, const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body);
/* the "error" string of an upstream's JSON answer: 1 if there is one */
int ngx_turso_members_json_error_string(const unsigned char *data,
    size_t len, char *msg, size_t size);


#endif /* _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_ */
