
/*
 * Copyright (C) ngx_turso_members authors
 *
 * libFuzzer target for the request body validator.  Besides "no crash, no
 * leak, no undefined behaviour" it checks, for every body, that jansson
 * alone gives the same result, values and message as the flat scan that
 * reads the simple bodies before it; and for every accepted body, that:
 *
 *   - the canonical body written from it is a JSON object holding exactly
 *     the expected members with exactly the accepted values, and is itself
 *     accepted with the same result;
 *   - a model of Go's encoding/json reading the ORIGINAL bytes (keys
 *     matched with Unicode simple case folding, the last one winning,
 *     null leaving a field unset) sees the same values: what the gateway
 *     accepted cannot mean something else to Turso's API.
 *
 * Violations abort().
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_turso_members_json.h"
#include "ngx_turso_members_write.h"


#define NGX_TURSO_MEMBERS_FUZZ_NONE    0
#define NGX_TURSO_MEMBERS_FUZZ_NULL    1
#define NGX_TURSO_MEMBERS_FUZZ_STRING  2
#define NGX_TURSO_MEMBERS_FUZZ_OTHER   3

#define NGX_TURSO_MEMBERS_FUZZ_NAMES   4

#define ngx_turso_members_fuzz_check(cond)                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            abort();                                                          \
        }                                                                     \
    } while (0)


typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
} ngx_turso_members_fuzz_in_t;


/* what Go would have decoded into one field */
typedef struct {
    const char           *name;
    unsigned              bit;
    int                   keys;     /* keys Go matches to this field */
    int                   kind;     /* of the last non-null value */
    unsigned char        *value;    /* decoded, if a string */
    size_t                len;
} ngx_turso_members_fuzz_field_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_turso_members_fuzz_spec(const uint8_t *data, size_t size,
    const ngx_turso_members_body_spec_t *spec);
static void ngx_turso_members_fuzz_rejected(
    const ngx_turso_members_body_t *body);
static void ngx_turso_members_fuzz_accepted(
    const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body);
static void ngx_turso_members_fuzz_canonical(
    const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body);
static void ngx_turso_members_fuzz_member(json_t *root, const char *name,
    const char *value, size_t len);
static void ngx_turso_members_fuzz_go(const uint8_t *data, size_t size,
    const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body);
static int ngx_turso_members_fuzz_go_read(ngx_turso_members_fuzz_in_t *in,
    ngx_turso_members_fuzz_field_t *fields, unsigned char *key,
    unsigned char *value);
static int ngx_turso_members_fuzz_go_fold(const unsigned char *key,
    size_t len, const char *name);
static int ngx_turso_members_fuzz_go_role(const unsigned char *s,
    size_t len, const char *role);
static void ngx_turso_members_fuzz_ws(ngx_turso_members_fuzz_in_t *in);
static int ngx_turso_members_fuzz_string(ngx_turso_members_fuzz_in_t *in,
    unsigned char *out, size_t *len);
static int ngx_turso_members_fuzz_hex4(const unsigned char *p,
    unsigned *cp);
static unsigned char *ngx_turso_members_fuzz_rune(unsigned char *out,
    unsigned cp);
static int ngx_turso_members_fuzz_skip(ngx_turso_members_fuzz_in_t *in);
static void ngx_turso_members_fuzz_escape(const uint8_t *data, size_t size);
static void ngx_turso_members_fuzz_others(const uint8_t *data, size_t size);


static const ngx_turso_members_body_spec_t  ngx_turso_members_fuzz_specs[] = {

    /* add member */
    { NGX_TURSO_MEMBERS_FIELD_USERNAME|NGX_TURSO_MEMBERS_FIELD_ROLE,
      NGX_TURSO_MEMBERS_FIELD_USERNAME, 0 },

    /* update role */
    { NGX_TURSO_MEMBERS_FIELD_ROLE, NGX_TURSO_MEMBERS_FIELD_ROLE, 0 },

    /* invite */
    { NGX_TURSO_MEMBERS_FIELD_EMAIL|NGX_TURSO_MEMBERS_FIELD_USERNAME
      |NGX_TURSO_MEMBERS_FIELD_ROLE,
      0, NGX_TURSO_MEMBERS_FIELD_EMAIL|NGX_TURSO_MEMBERS_FIELD_USERNAME },

    /* the Node client's add member */
    { NGX_TURSO_MEMBERS_FIELD_MEMBER|NGX_TURSO_MEMBERS_FIELD_ROLE,
      NGX_TURSO_MEMBERS_FIELD_MEMBER, 0 }
};


/* JSON's two-character escapes: the letter, then what it stands for */
static const char  ngx_turso_members_fuzz_escapes[] =
    "\"\"\\\\//b\bf\fn\nr\rt\t";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t  i;

    for (i = 0;
         i < sizeof(ngx_turso_members_fuzz_specs)
             / sizeof(ngx_turso_members_body_spec_t);
         i++)
    {
        ngx_turso_members_fuzz_spec(data, size,
                                    &ngx_turso_members_fuzz_specs[i]);
    }

    ngx_turso_members_fuzz_escape(data, size);
    ngx_turso_members_fuzz_others(data, size);

    return 0;
}


static void
ngx_turso_members_fuzz_spec(const uint8_t *data, size_t size,
    const ngx_turso_members_body_spec_t *spec)
{
    int                        rc;
    ngx_turso_members_body_t   body, ref;

    memset(&body, 0x5a, sizeof(body));

    rc = ngx_turso_members_json_parse(data, size, spec, &body);

    /*
     * the flat scan, where it reads the body, agrees with jansson: the
     * same result, values and message, byte for byte
     */

    memset(&ref, 0xa5, sizeof(ref));

    ngx_turso_members_fuzz_check(
        ngx_turso_members_json_parse_jansson(data, size, spec, &ref) == rc);
    ngx_turso_members_fuzz_check(ngx_turso_members_body_eq(&ref, &body));

    switch (rc) {

    case NGX_TURSO_MEMBERS_JSON_OK:
        ngx_turso_members_fuzz_accepted(spec, &body);
        ngx_turso_members_fuzz_canonical(spec, &body);
        ngx_turso_members_fuzz_go(data, size, spec, &body);
        break;

    case NGX_TURSO_MEMBERS_JSON_INVALID_JSON:
    case NGX_TURSO_MEMBERS_JSON_INVALID_BODY:
    case NGX_TURSO_MEMBERS_JSON_INVALID_ROLE:
        ngx_turso_members_fuzz_rejected(&body);
        break;

    default:
        abort();
    }
}


static void
ngx_turso_members_fuzz_rejected(const ngx_turso_members_body_t *body)
{
    size_t  i, n;

    n = strnlen(body->error, sizeof(body->error));

    ngx_turso_members_fuzz_check(n > 0 && n < sizeof(body->error));
    ngx_turso_members_fuzz_check(body->present == 0 && body->role == NULL);

    for (i = 0; i < n; i++) {
        ngx_turso_members_fuzz_check(body->error[i] >= 0x20
                                     && body->error[i] < 0x7f);
    }
}


static void
ngx_turso_members_fuzz_accepted(const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body)
{
    unsigned  one;

    ngx_turso_members_fuzz_check((body->present & ~spec->fields) == 0);
    ngx_turso_members_fuzz_check((body->present & spec->required)
                                 == spec->required);

    if (spec->one_of) {
        one = body->present & spec->one_of;
        ngx_turso_members_fuzz_check(one != 0 && (one & (one - 1)) == 0);
    }

    if (body->present & NGX_TURSO_MEMBERS_FIELD_ROLE) {
        ngx_turso_members_fuzz_check(body->role != NULL
                                     && (strcmp(body->role, "admin") == 0
                                         || strcmp(body->role, "member") == 0
                                         || strcmp(body->role, "viewer")
                                            == 0));

    } else {
        ngx_turso_members_fuzz_check(body->role == NULL);
    }

    if (body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME) {
        ngx_turso_members_fuzz_check(
            body->username_len <= NGX_TURSO_MEMBERS_USERNAME_MAX
            && body->username[body->username_len] == '\0'
            && ngx_turso_members_valid_username(
                   (const unsigned char *) body->username,
                   body->username_len));
    }

    if (body->present & NGX_TURSO_MEMBERS_FIELD_MEMBER) {
        ngx_turso_members_fuzz_check(
            body->member_len <= NGX_TURSO_MEMBERS_USERNAME_MAX
            && body->member[body->member_len] == '\0'
            && ngx_turso_members_valid_username(
                   (const unsigned char *) body->member, body->member_len));
    }

    if (body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL) {
        ngx_turso_members_fuzz_check(
            body->email_len <= NGX_TURSO_MEMBERS_EMAIL_MAX
            && body->email[body->email_len] == '\0'
            && ngx_turso_members_valid_email(
                   (const unsigned char *) body->email, body->email_len));
    }
}


static void
ngx_turso_members_fuzz_canonical(const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body)
{
    int                        rc;
    char                      *small;
    size_t                     n, keys;
    json_t                    *root;
    const char                *role;
    json_error_t               err;
    ngx_turso_members_body_t   again;
    char                       buf[2048];

    role = body->role ? body->role : "member";

    n = ngx_turso_members_json_write(body, spec->fields, role, buf,
                                     sizeof(buf));
    ngx_turso_members_fuzz_check(n > 0);

    /* one byte short never fits, and never overruns (exact heap size) */
    small = malloc(n);
    ngx_turso_members_fuzz_check(small != NULL);
    ngx_turso_members_fuzz_check(
        ngx_turso_members_json_write(body, spec->fields, role, small, n - 1)
        == 0);
    ngx_turso_members_fuzz_check(
        ngx_turso_members_json_write(body, spec->fields, role, small, n)
        == n && memcmp(small, buf, n) == 0);
    free(small);

    root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &err);
    ngx_turso_members_fuzz_check(json_is_object(root));

    keys = 0;

    if ((spec->fields & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME))
    {
        ngx_turso_members_fuzz_member(root, "username", body->username,
                                      body->username_len);
        keys++;
    }

    if ((spec->fields & NGX_TURSO_MEMBERS_FIELD_EMAIL)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL))
    {
        ngx_turso_members_fuzz_member(root, "email", body->email,
                                      body->email_len);
        keys++;
    }

    if (spec->fields & NGX_TURSO_MEMBERS_FIELD_ROLE) {
        ngx_turso_members_fuzz_member(root, "role", role, strlen(role));
        keys++;
    }

    ngx_turso_members_fuzz_check(json_object_size(root) == keys);

    json_decref(root);

    /* the canonical body is itself accepted, meaning the same */

    if (spec->fields & NGX_TURSO_MEMBERS_FIELD_MEMBER) {
        /* "member" is never written: the handler maps it to "username" */
        return;
    }

    rc = ngx_turso_members_json_parse((const unsigned char *) buf, n, spec,
                                      &again);
    ngx_turso_members_fuzz_check(rc == NGX_TURSO_MEMBERS_JSON_OK);
    ngx_turso_members_fuzz_check(strcmp(again.role, role) == 0);
    ngx_turso_members_fuzz_check(
        (again.present | NGX_TURSO_MEMBERS_FIELD_ROLE)
        == (body->present | (spec->fields & NGX_TURSO_MEMBERS_FIELD_ROLE)));

    if (body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME) {
        ngx_turso_members_fuzz_check(
            again.username_len == body->username_len
            && memcmp(again.username, body->username, body->username_len)
               == 0);
    }

    if (body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL) {
        ngx_turso_members_fuzz_check(
            again.email_len == body->email_len
            && memcmp(again.email, body->email, body->email_len) == 0);
    }
}


static void
ngx_turso_members_fuzz_member(json_t *root, const char *name,
    const char *value, size_t len)
{
    json_t  *v;

    v = json_object_get(root, name);

    ngx_turso_members_fuzz_check(json_is_string(v)
                                 && json_string_length(v) == len
                                 && memcmp(json_string_value(v), value, len)
                                    == 0);
}


static void
ngx_turso_members_fuzz_go(const uint8_t *data, size_t size,
    const ngx_turso_members_body_spec_t *spec,
    const ngx_turso_members_body_t *body)
{
    size_t                           i, len;
    const char                      *value;
    unsigned char                   *key, *buf;
    ngx_turso_members_fuzz_in_t      in;
    ngx_turso_members_fuzz_field_t  *f;

    ngx_turso_members_fuzz_field_t   fields[NGX_TURSO_MEMBERS_FUZZ_NAMES] = {
        { "role", NGX_TURSO_MEMBERS_FIELD_ROLE, 0, 0, NULL, 0 },
        { "username", NGX_TURSO_MEMBERS_FIELD_USERNAME, 0, 0, NULL, 0 },
        { "email", NGX_TURSO_MEMBERS_FIELD_EMAIL, 0, 0, NULL, 0 },
        { "member", NGX_TURSO_MEMBERS_FIELD_MEMBER, 0, 0, NULL, 0 }
    };

    /* a decoded string is never longer than its JSON form */
    key = malloc(size + 1);
    buf = malloc(size + 1);
    ngx_turso_members_fuzz_check(key != NULL && buf != NULL);

    in.p = data;
    in.last = data + size;

    /* accepted input is valid JSON: the model must read it all */
    ngx_turso_members_fuzz_check(
        ngx_turso_members_fuzz_go_read(&in, fields, key, buf) == 0);

    for (i = 0; i < NGX_TURSO_MEMBERS_FUZZ_NAMES; i++) {
        f = &fields[i];

        /* exact duplicates and case variants alike are refused */
        ngx_turso_members_fuzz_check(f->keys <= 1);

        if ((spec->fields & f->bit) == 0) {
            free(f->value);
            continue;
        }

        if (f->kind == NGX_TURSO_MEMBERS_FUZZ_NONE
            || f->kind == NGX_TURSO_MEMBERS_FUZZ_NULL)
        {
            ngx_turso_members_fuzz_check((body->present & f->bit) == 0);
            continue;
        }

        /* Go's value must be a string and the very one accepted */
        ngx_turso_members_fuzz_check(f->kind == NGX_TURSO_MEMBERS_FUZZ_STRING
                                     && (body->present & f->bit));

        switch (f->bit) {

        case NGX_TURSO_MEMBERS_FIELD_ROLE:
            ngx_turso_members_fuzz_check(
                ngx_turso_members_fuzz_go_role(f->value, f->len, body->role));
            free(f->value);
            continue;

        case NGX_TURSO_MEMBERS_FIELD_USERNAME:
            value = body->username;
            len = body->username_len;
            break;

        case NGX_TURSO_MEMBERS_FIELD_EMAIL:
            value = body->email;
            len = body->email_len;
            break;

        default:
            value = body->member;
            len = body->member_len;
            break;
        }

        ngx_turso_members_fuzz_check(f->len == len
                                     && memcmp(f->value, value, len) == 0);
        free(f->value);
    }

    free(key);
    free(buf);
}


/*
 * A reader of the top-level object as Go's decoder sees it.  It trusts the
 * input to be valid JSON (it was accepted) but fails rather than guess.
 */

static int
ngx_turso_members_fuzz_go_read(ngx_turso_members_fuzz_in_t *in,
    ngx_turso_members_fuzz_field_t *fields, unsigned char *key,
    unsigned char *value)
{
    int                              kind;
    size_t                           i, key_len, len;
    ngx_turso_members_fuzz_field_t  *f;

    ngx_turso_members_fuzz_ws(in);

    if (in->p == in->last || *in->p++ != '{') {
        return -1;
    }

    ngx_turso_members_fuzz_ws(in);

    if (in->p < in->last && *in->p == '}') {
        in->p++;
        goto done;
    }

    for ( ;; ) {
        ngx_turso_members_fuzz_ws(in);

        if (ngx_turso_members_fuzz_string(in, key, &key_len) != 0) {
            return -1;
        }

        ngx_turso_members_fuzz_ws(in);

        if (in->p == in->last || *in->p++ != ':') {
            return -1;
        }

        ngx_turso_members_fuzz_ws(in);

        if (in->p == in->last) {
            return -1;
        }

        len = 0;

        if (*in->p == '"') {
            kind = NGX_TURSO_MEMBERS_FUZZ_STRING;

            if (ngx_turso_members_fuzz_string(in, value, &len) != 0) {
                return -1;
            }

        } else {
            kind = (*in->p == 'n') ? NGX_TURSO_MEMBERS_FUZZ_NULL
                                   : NGX_TURSO_MEMBERS_FUZZ_OTHER;

            if (ngx_turso_members_fuzz_skip(in) != 0) {
                return -1;
            }
        }

        for (i = 0; i < NGX_TURSO_MEMBERS_FUZZ_NAMES; i++) {
            f = &fields[i];

            if (!ngx_turso_members_fuzz_go_fold(key, key_len, f->name)) {
                continue;
            }

            f->keys++;

            /* null leaves a Go string unchanged; else the last one wins */
            if (kind == NGX_TURSO_MEMBERS_FUZZ_NULL) {
                if (f->kind == NGX_TURSO_MEMBERS_FUZZ_NONE) {
                    f->kind = kind;
                }

                continue;
            }

            f->kind = kind;
            free(f->value);
            f->value = NULL;
            f->len = 0;

            if (kind == NGX_TURSO_MEMBERS_FUZZ_STRING) {
                f->value = malloc(len + 1);
                ngx_turso_members_fuzz_check(f->value != NULL);
                memcpy(f->value, value, len);
                f->len = len;
            }
        }

        ngx_turso_members_fuzz_ws(in);

        if (in->p == in->last) {
            return -1;
        }

        if (*in->p == ',') {
            in->p++;
            continue;
        }

        if (*in->p++ == '}') {
            break;
        }

        return -1;
    }

done:

    ngx_turso_members_fuzz_ws(in);

    return (in->p == in->last) ? 0 : -1;
}


/* written apart from the unit's: runes decoded, then compared */

static int
ngx_turso_members_fuzz_go_fold(const unsigned char *key, size_t len,
    const char *name)
{
    size_t                i;
    unsigned              r, n;
    const unsigned char  *p, *last;

    p = key;
    last = key + len;

    for (i = 0; name[i] != '\0'; i++) {
        if (p == last) {
            return 0;
        }

        if (*p < 0x80) {
            r = *p++;

        } else if ((*p & 0xe0) == 0xc0 && last - p >= 2) {
            r = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
            p += 2;

        } else if ((*p & 0xf0) == 0xe0 && last - p >= 3) {
            r = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6)
                | (p[2] & 0x3fu);
            p += 3;

        } else {
            return 0;
        }

        n = (unsigned char) name[i];

        if (r == n || r == n - ('a' - 'A')
            || (n == 's' && r == 0x017f)
            || (n == 'k' && r == 0x212a))
        {
            continue;
        }

        return 0;
    }

    return p == last;
}


static int
ngx_turso_members_fuzz_go_role(const unsigned char *s, size_t len,
    const char *role)
{
    size_t  i, n;

    while (len && strchr(" \t\r\n", s[0]) != NULL && s[0] != '\0') {
        s++;
        len--;
    }

    while (len && strchr(" \t\r\n", s[len - 1]) != NULL && s[len - 1] != '\0')
    {
        len--;
    }

    n = strlen(role);

    if (len != n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] != role[i] && s[i] != role[i] - ('a' - 'A')) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_turso_members_fuzz_ws(ngx_turso_members_fuzz_in_t *in)
{
    while (in->p < in->last
           && (*in->p == ' ' || *in->p == '\t' || *in->p == '\r'
               || *in->p == '\n'))
    {
        in->p++;
    }
}


static int
ngx_turso_members_fuzz_string(ngx_turso_members_fuzz_in_t *in,
    unsigned char *out, size_t *len)
{
    unsigned        cp, lo;
    const char     *e;
    unsigned char   c, *o;

    if (in->p == in->last || *in->p++ != '"') {
        return -1;
    }

    o = out;

    while (in->p < in->last) {

        if (*in->p == '"') {
            in->p++;
            *len = o - out;
            return 0;
        }

        if (*in->p != '\\') {
            *o++ = *in->p++;
            continue;
        }

        if (in->last - in->p < 2) {
            return -1;
        }

        in->p++;

        c = *in->p++;

        if (c != 'u') {
            for (e = ngx_turso_members_fuzz_escapes; *e != '\0'; e += 2) {
                if ((unsigned char) e[0] == c) {
                    break;
                }
            }

            if (*e == '\0') {
                return -1;
            }

            *o++ = e[1];
            continue;
        }

        if (in->last - in->p < 4
            || ngx_turso_members_fuzz_hex4(in->p, &cp) != 0)
        {
            return -1;
        }

        in->p += 4;

        if (cp >= 0xd800 && cp < 0xdc00
            && in->last - in->p >= 6
            && in->p[0] == '\\' && in->p[1] == 'u'
            && ngx_turso_members_fuzz_hex4(in->p + 2, &lo) == 0
            && lo >= 0xdc00 && lo < 0xe000)
        {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            in->p += 6;

        } else if (cp >= 0xd800 && cp < 0xe000) {
            /* what Go makes of a lone surrogate */
            cp = 0xfffd;
        }

        o = ngx_turso_members_fuzz_rune(o, cp);
    }

    return -1;
}


static int
ngx_turso_members_fuzz_hex4(const unsigned char *p, unsigned *cp)
{
    size_t    i;
    unsigned  c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = (v << 4) | c;
    }

    *cp = v;

    return 0;
}


static unsigned char *
ngx_turso_members_fuzz_rune(unsigned char *out, unsigned cp)
{
    if (cp < 0x80) {
        *out++ = (unsigned char) cp;

    } else if (cp < 0x800) {
        *out++ = (unsigned char) (0xc0 | (cp >> 6));
        *out++ = (unsigned char) (0x80 | (cp & 0x3f));

    } else if (cp < 0x10000) {
        *out++ = (unsigned char) (0xe0 | (cp >> 12));
        *out++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        *out++ = (unsigned char) (0x80 | (cp & 0x3f));

    } else {
        *out++ = (unsigned char) (0xf0 | (cp >> 18));
        *out++ = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        *out++ = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        *out++ = (unsigned char) (0x80 | (cp & 0x3f));
    }

    return out;
}


/* skips one value that is not a string at the top of the member */

static int
ngx_turso_members_fuzz_skip(ngx_turso_members_fuzz_in_t *in)
{
    size_t  depth;

    if (*in->p != '{' && *in->p != '[') {
        while (in->p < in->last && strchr(",}] \t\r\n", *in->p) == NULL) {
            in->p++;
        }

        return 0;
    }

    depth = 0;

    while (in->p < in->last) {

        switch (*in->p) {

        case '"':
            /* skipped strings are not decoded: step over escapes only */
            in->p++;

            while (in->p < in->last && *in->p != '"') {
                if (*in->p == '\\' && in->last - in->p < 2) {
                    return -1;
                }

                in->p += (*in->p == '\\') ? 2 : 1;
            }

            if (in->p >= in->last) {
                return -1;
            }

            break;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (--depth == 0) {
                in->p++;
                return 0;
            }

            break;
        }

        in->p++;
    }

    return -1;
}


/*
 * The writer's escaping: any valid UTF-8 of a username's length, written
 * as the username (bypassing the checks, controls included), comes back
 * byte for byte from the JSON written
 */

static void
ngx_turso_members_fuzz_escape(const uint8_t *data, size_t size)
{
    char                      *buf;
    size_t                     n, need;
    json_t                    *root, *raw, *v;
    json_error_t               err;
    ngx_turso_members_body_t   body;

    if (size > NGX_TURSO_MEMBERS_USERNAME_MAX) {
        return;
    }

    raw = json_stringn((const char *) data, size);
    if (raw == NULL) {
        return;
    }

    json_decref(raw);

    memset(&body, 0, sizeof(body));
    memcpy(body.username, data, size);
    body.username_len = size;
    body.present = NGX_TURSO_MEMBERS_FIELD_USERNAME;

    need = sizeof("{\"username\":\"\"}") - 1 + 6 * size;

    buf = malloc(need);
    ngx_turso_members_fuzz_check(buf != NULL);

    n = ngx_turso_members_json_write(&body, NGX_TURSO_MEMBERS_FIELD_USERNAME,
                                     NULL, buf, need);
    ngx_turso_members_fuzz_check(n > 0);

    root = json_loadb(buf, n, JSON_ALLOW_NUL, &err);
    v = json_object_get(root, "username");

    ngx_turso_members_fuzz_check(json_is_string(v)
                                 && json_string_length(v) == size
                                 && memcmp(json_string_value(v), data, size)
                                    == 0);

    /* one byte less does not fit */
    ngx_turso_members_fuzz_check(
        ngx_turso_members_json_write(&body, NGX_TURSO_MEMBERS_FIELD_USERNAME,
                                     NULL, buf, n - 1)
        == 0);

    json_decref(root);
    free(buf);
}


static void
ngx_turso_members_fuzz_others(const uint8_t *data, size_t size)
{
    const char  *role;
    char         msg[16];

    if (ngx_turso_members_json_error_string(data, size, msg, sizeof(msg))) {
        ngx_turso_members_fuzz_check(strlen(msg) < sizeof(msg));
    }

    role = ngx_turso_members_role(data, size);

    ngx_turso_members_fuzz_check(role == NULL
                                 || strcmp(role, "admin") == 0
                                 || strcmp(role, "member") == 0
                                 || strcmp(role, "viewer") == 0);

    (void) ngx_turso_members_valid_org(data, size);

    if (ngx_turso_members_valid_username(data, size)) {
        ngx_turso_members_fuzz_check(size > 0 && size <= 255
                                     && memchr(data, '/', size) == NULL);
    }

    if (ngx_turso_members_valid_email(data, size)) {
        ngx_turso_members_fuzz_check(size >= 3 && size <= 254
                                     && memchr(data, '@', size) != NULL);
    }
}
