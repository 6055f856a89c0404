
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The flat scan: the common bodies read without jansson.  Plain C with no
 * nginx types.
 */


#ifndef _NGX_TURSO_MEMBERS_FLAT_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_FLAT_H_INCLUDED_


#include <stddef.h>

#include "ngx_turso_members_body.h"


/* NGX_TURSO_MEMBERS_JSON_DECLINED: not the flat subset, jansson's to read */
int ngx_turso_members_flat_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body);


#endif /* _NGX_TURSO_MEMBERS_FLAT_H_INCLUDED_ */
