
/*
 * Copyright (C) ngx_turso_members authors
 *
 * A request body's members checked against the fields of its route.
 *
 * Turso's API is written in Go, whose encoding/json matches object keys
 * case-insensitively (with Unicode simple folding) and lets the last
 * duplicate win.  The readers reject duplicates; here any key that Go
 * would take for a field name without being exactly that name is
 * rejected, and only the values checked are kept, for the canonical body.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ngx_turso_members_body.h"


typedef struct {
    const char     *name;
    size_t          len;
    unsigned        bit;
} ngx_turso_members_body_field_t;


static int ngx_turso_members_body_value(
    const ngx_turso_members_body_field_t *field,
    const ngx_turso_members_value_t *value, ngx_turso_members_body_t *body);
static int ngx_turso_members_body_invalid(
    const ngx_turso_members_body_field_t *field,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_body_role(const ngx_turso_members_value_t *value,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_body_check_spec(
    const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_body_fold_eq(const unsigned char *key,
    size_t len, const char *name);
static int ngx_turso_members_body_printable(const unsigned char *s,
    size_t len);


/* in alphabetical order: the order of checks and of names in messages */
static const ngx_turso_members_body_field_t  ngx_turso_members_body_fields[] =
{
    { "email", 5, NGX_TURSO_MEMBERS_FIELD_EMAIL },
    { "member", 6, NGX_TURSO_MEMBERS_FIELD_MEMBER },
    { "role", 4, NGX_TURSO_MEMBERS_FIELD_ROLE },
    { "username", 8, NGX_TURSO_MEMBERS_FIELD_USERNAME },
    { NULL, 0, 0 }
};


/*
 * An empty body: the strings need no zeroing past their first byte (a
 * field's value is terminated where it is copied)
 */

void
ngx_turso_members_body_init(ngx_turso_members_body_t *body)
{
    body->present = 0;
    body->role = NULL;
    body->role_rc = NGX_TURSO_MEMBERS_JSON_OK;
    body->username_len = 0;
    body->email_len = 0;
    body->member_len = 0;
    body->requested_role_len = 0;
    body->username[0] = '\0';
    body->email[0] = '\0';
    body->member[0] = '\0';
    body->error[0] = '\0';
}


int
ngx_turso_members_body_eq(const ngx_turso_members_body_t *a,
    const ngx_turso_members_body_t *b)
{
    return a->present == b->present
           && a->role == b->role
           && a->username_len == b->username_len
           && a->email_len == b->email_len
           && a->member_len == b->member_len
           && memcmp(a->username, b->username, a->username_len + 1) == 0
           && memcmp(a->email, b->email, a->email_len + 1) == 0
           && memcmp(a->member, b->member, a->member_len + 1) == 0
           && strcmp(a->error, b->error) == 0;
}


/*
 * One member, in the order of the body.  After a bad role the other
 * members are still checked, so that the error can name a valid username:
 * the role's result waits in body->role_rc for body_done().
 */

int
ngx_turso_members_body_member(const ngx_turso_members_body_spec_t *spec,
    const unsigned char *key, size_t key_len,
    const ngx_turso_members_value_t *value, ngx_turso_members_body_t *body)
{
    int                                    rc;
    const ngx_turso_members_body_field_t  *f;

    /* the names differ in length: one comparison at most */

    for (f = ngx_turso_members_body_fields; f->name != NULL; f++) {
        if (key_len != f->len || memcmp(key, f->name, key_len) != 0) {
            continue;
        }

        if ((spec->fields & f->bit) == 0) {
            /* another route's field: dropped like any unknown key */
            return NGX_TURSO_MEMBERS_JSON_OK;
        }

        rc = ngx_turso_members_body_value(f, value, body);

        if (rc == NGX_TURSO_MEMBERS_JSON_INVALID_ROLE
            && body->role_rc == NGX_TURSO_MEMBERS_JSON_OK)
        {
            body->role_rc = rc;
            return NGX_TURSO_MEMBERS_JSON_OK;
        }

        return rc;
    }

    for (f = ngx_turso_members_body_fields; f->name != NULL; f++) {
        if (!ngx_turso_members_body_fold_eq(key, key_len, f->name)) {
            continue;
        }

        if (ngx_turso_members_body_printable(key, key_len)) {
            ngx_turso_members_body_error(body,
                                         "unexpected key \"%.*s\": keys are "
                                         "case-sensitive, expected \"%s\"",
                                         (int) key_len, (const char *) key,
                                         f->name);

        } else {
            ngx_turso_members_body_error(body,
                                         "unexpected key resembling \"%s\": "
                                         "keys are case-sensitive", f->name);
        }

        return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
    }

    return NGX_TURSO_MEMBERS_JSON_OK;
}


/* rc: the last member's result, or a reader's own */

int
ngx_turso_members_body_done(const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body, int rc)
{
    if (rc == NGX_TURSO_MEMBERS_JSON_OK) {
        rc = body->role_rc;
    }

    if (rc == NGX_TURSO_MEMBERS_JSON_OK) {
        rc = ngx_turso_members_body_check_spec(spec, body);
    }

    if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
        /* a rejected body must not look half-accepted to the caller */
        body->present = 0;
        body->role = NULL;
    }

    return rc;
}


/* a field's value: checked and kept, or refused with its message */

static int
ngx_turso_members_body_value(const ngx_turso_members_body_field_t *field,
    const ngx_turso_members_value_t *value, ngx_turso_members_body_t *body)
{
    char                 *dst;
    size_t                len;
    size_t               *dst_len;
    const unsigned char  *s;

    /* null leaves a field unset, as it does for Go's decoder */
    if (value->type == NGX_TURSO_MEMBERS_VALUE_NULL) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    if (field->bit == NGX_TURSO_MEMBERS_FIELD_ROLE) {
        return ngx_turso_members_body_role(value, body);
    }

    if (value->type != NGX_TURSO_MEMBERS_VALUE_STRING) {
        return ngx_turso_members_body_invalid(field, body);
    }

    s = value->data;
    len = value->len;

    switch (field->bit) {

    case NGX_TURSO_MEMBERS_FIELD_EMAIL:
        if (!ngx_turso_members_valid_email(s, len)) {
            return ngx_turso_members_body_invalid(field, body);
        }

        dst = body->email;
        dst_len = &body->email_len;
        break;

    case NGX_TURSO_MEMBERS_FIELD_MEMBER:
        if (!ngx_turso_members_valid_username(s, len)) {
            return ngx_turso_members_body_invalid(field, body);
        }

        dst = body->member;
        dst_len = &body->member_len;
        break;

    default: /* NGX_TURSO_MEMBERS_FIELD_USERNAME */
        if (!ngx_turso_members_valid_username(s, len)) {
            return ngx_turso_members_body_invalid(field, body);
        }

        dst = body->username;
        dst_len = &body->username_len;
        break;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';
    *dst_len = len;
    body->present |= field->bit;

    return NGX_TURSO_MEMBERS_JSON_OK;
}


/* the message of a field whose value is not one it takes */

static int
ngx_turso_members_body_invalid(const ngx_turso_members_body_field_t *field,
    ngx_turso_members_body_t *body)
{
    if (field->bit == NGX_TURSO_MEMBERS_FIELD_EMAIL) {
        ngx_turso_members_body_error(body,
                                     "\"email\" must be an email address of "
                                     "at most %d bytes without whitespace, "
                                     "control characters or \"/\"",
                                     NGX_TURSO_MEMBERS_EMAIL_MAX);

    } else {
        ngx_turso_members_body_error(body,
                                     "\"%s\" must be a non-empty string of "
                                     "at most %d bytes without whitespace, "
                                     "control characters or \"/\"",
                                     field->name,
                                     NGX_TURSO_MEMBERS_USERNAME_MAX);
    }

    return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
}


static int
ngx_turso_members_body_role(const ngx_turso_members_value_t *value,
    ngx_turso_members_body_t *body)
{
    const char  *role;

    if (value->type == NGX_TURSO_MEMBERS_VALUE_STRING) {

        /* as sent, for the audit log: a bad one most of all */
        body->requested_role_len = value->len < NGX_TURSO_MEMBERS_ROLE_SEEN
                                   ? value->len : NGX_TURSO_MEMBERS_ROLE_SEEN;
        body->requested_role = (const char *) value->data;

        role = ngx_turso_members_role(value->data, value->len);
        if (role != NULL) {
            body->role = role;
            body->present |= NGX_TURSO_MEMBERS_FIELD_ROLE;
            return NGX_TURSO_MEMBERS_JSON_OK;
        }

        if (ngx_turso_members_role_is_owner(value->data, value->len)) {
            ngx_turso_members_body_error(body,
                                         "the owner role cannot be assigned");
            return NGX_TURSO_MEMBERS_JSON_INVALID_ROLE;
        }
    }

    ngx_turso_members_body_error(body, "invalid role: must be one of admin, "
                                       "member, viewer");

    return NGX_TURSO_MEMBERS_JSON_INVALID_ROLE;
}


static int
ngx_turso_members_body_check_spec(const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body)
{
    int                                    n, found;
    size_t                                 pos;
    const char                            *sep;
    const ngx_turso_members_body_field_t  *f;

    if ((spec->required & ~body->present) == 0 && spec->one_of == 0) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    for (f = ngx_turso_members_body_fields; f->name != NULL; f++) {
        if ((spec->required & f->bit) && !(body->present & f->bit)) {
            ngx_turso_members_body_error(body, "\"%s\" is required", f->name);
            return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
        }
    }

    if (spec->one_of == 0) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    n = 0;
    found = 0;

    for (f = ngx_turso_members_body_fields; f->name != NULL; f++) {
        if (spec->one_of & f->bit) {
            n++;

            if (body->present & f->bit) {
                found++;
            }
        }
    }

    if (found == 1) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    /* "exactly one of "a", "b" or "c" is required" */

    pos = 0;
    sep = (n == 1) ? "" : "exactly one of ";

    for (f = ngx_turso_members_body_fields; f->name != NULL; f++) {
        if ((spec->one_of & f->bit) == 0) {
            continue;
        }

        pos += snprintf(body->error + pos, sizeof(body->error) - pos,
                        "%s\"%s\"", sep, f->name);

        n--;
        sep = (n == 1) ? " or " : ", ";
    }

    snprintf(body->error + pos, sizeof(body->error) - pos, " is required");

    return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
}


void
ngx_turso_members_body_error(ngx_turso_members_body_t *body,
    const char *fmt, ...)
{
    size_t   len;
    va_list  args;

    /* a message without arguments, as the role's are: no vsnprintf() */

    if (strchr(fmt, '%') == NULL) {
        len = strlen(fmt);
        len = len < sizeof(body->error) ? len : sizeof(body->error) - 1;
        memcpy(body->error, fmt, len);
        body->error[len] = '\0';
        return;
    }

    va_start(args, fmt);
    vsnprintf(body->error, sizeof(body->error), fmt, args);
    va_end(args);
}


static int
ngx_turso_members_body_fold_eq(const unsigned char *key, size_t len,
    const char *name)
{
    unsigned char         c, n;
    const unsigned char  *p, *last;

    /*
     * Go's encoding/json compares keys with Unicode simple case folding;
     * besides ASCII case, the only code points folding to ASCII letters are
     * U+017F LATIN SMALL LETTER LONG S (s) and U+212A KELVIN SIGN (k)
     */

    p = key;
    last = key + len;

    while (*name != '\0') {

        if (p == last) {
            return 0;
        }

        n = (unsigned char) *name++;
        c = *p;

        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') {
                c |= 0x20;
            }

            if (c != n) {
                return 0;
            }

            p++;
            continue;
        }

        if (n == 's' && last - p >= 2 && p[0] == 0xc5 && p[1] == 0xbf) {
            p += 2;
            continue;
        }

        if (n == 'k' && last - p >= 3
            && p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa)
        {
            p += 3;
            continue;
        }

        return 0;
    }

    return p == last;
}


static int
ngx_turso_members_body_printable(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    return 1;
}
