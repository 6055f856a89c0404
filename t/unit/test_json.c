
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of the request body validator.  The unit is included, not
 * linked, so that its static helpers can be tested too.  Output is TAP,
 * closed by a "N passed, M failed" line; the exit status is 1 on failure.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_turso_members_json.c"


#define U  NGX_TURSO_MEMBERS_FIELD_USERNAME
#define R  NGX_TURSO_MEMBERS_FIELD_ROLE
#define E  NGX_TURSO_MEMBERS_FIELD_EMAIL
#define M  NGX_TURSO_MEMBERS_FIELD_MEMBER

#define OK    NGX_TURSO_MEMBERS_JSON_OK
#define JSON  NGX_TURSO_MEMBERS_JSON_INVALID_JSON
#define BODY  NGX_TURSO_MEMBERS_JSON_INVALID_BODY
#define ROLE  NGX_TURSO_MEMBERS_JSON_INVALID_ROLE

#define ngx_turso_members_test_str(s)  (const unsigned char *) s, sizeof(s) - 1


typedef struct {
    const char                           *name;
    const ngx_turso_members_body_spec_t  *spec;
    const char                           *input;
    int                                   rc;
    unsigned                              present;
    const char                           *role;
    const char                           *value;   /* username/email/member */
    const char                           *error;   /* substring, or NULL */
} ngx_turso_members_test_case_t;


static void ngx_turso_members_test_ok(int cond, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;
static int ngx_turso_members_test_printable(const char *s);
static void ngx_turso_members_test_parse(
    const ngx_turso_members_test_case_t *t, const unsigned char *input,
    size_t len);
static void ngx_turso_members_test_parse_cases(void);
static void ngx_turso_members_test_flat(void);
static void ngx_turso_members_test_parse_generated(void);
static void ngx_turso_members_test_write(void);
static void ngx_turso_members_test_escape_one(const char *src, size_t len,
    const char *expect);
static void ngx_turso_members_test_escape(void);
static void ngx_turso_members_test_escape_positions(void);
static void ngx_turso_members_test_error_string(void);
static void ngx_turso_members_test_valid(void);
static void ngx_turso_members_test_role(void);
static void ngx_turso_members_test_fold(void);
static void ngx_turso_members_test_short_eq(void);


static const ngx_turso_members_body_spec_t  ngx_turso_members_test_add = {
    U|R, U, 0
};

/* the Node client's add member: {"member": u, "role": r} */
static const ngx_turso_members_body_spec_t  ngx_turso_members_test_node = {
    M|R, M, 0
};

static const ngx_turso_members_body_spec_t  ngx_turso_members_test_update = {
    R, R, 0
};

static const ngx_turso_members_body_spec_t  ngx_turso_members_test_invite = {
    E|U|R, 0, E|U
};


#define ADD     &ngx_turso_members_test_add
#define NODE    &ngx_turso_members_test_node
#define UPDATE  &ngx_turso_members_test_update
#define INVITE  &ngx_turso_members_test_invite

#define USERNAME_RULE  "\"username\" must be a non-empty string"
#define EMAIL_RULE     "\"email\" must be an email address"
#define ROLE_RULE      "invalid role: must be one of admin, member, viewer"
#define OWNER_RULE     "the owner role cannot be assigned"
#define ONE_OF_RULE    "exactly one of \"email\" or \"username\" is required"
#define NOT_JSON       "request body is not valid JSON: "
#define NOT_OBJECT     "request body must be a JSON object"


static const ngx_turso_members_test_case_t  ngx_turso_members_test_cases[] = {

    /* add member: username required, role optional */

    { "add: username and role", ADD,
      "{\"username\":\"bob\",\"role\":\"admin\"}",
      OK, U|R, "admin", "bob", NULL },
    { "add: username alone", ADD,
      "{\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "add: whitespace around the document", ADD,
      " \r\n\t{ \"username\" : \"bob\" }\n", OK, U, NULL, "bob", NULL },
    { "add: null role is absent", ADD,
      "{\"username\":\"bob\",\"role\":null}", OK, U, NULL, "bob", NULL },
    { "add: null username is absent", ADD,
      "{\"username\":null,\"role\":\"admin\"}", BODY, 0, NULL, NULL,
      "\"username\" is required" },
    { "add: username missing", ADD,
      "{\"role\":\"admin\"}", BODY, 0, NULL, NULL,
      "\"username\" is required" },
    { "add: empty object", ADD,
      "{}", BODY, 0, NULL, NULL, "\"username\" is required" },
    { "add: empty username", ADD,
      "{\"username\":\"\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username a number", ADD,
      "{\"username\":1}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username true", ADD,
      "{\"username\":true}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username an array", ADD,
      "{\"username\":[\"bob\"]}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username an object", ADD,
      "{\"username\":{}}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with a space", ADD,
      "{\"username\":\"bo b\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with a slash", ADD,
      "{\"username\":\"../x\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username \"..\"", ADD,
      "{\"username\":\"..\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with an escaped tab", ADD,
      "{\"username\":\"a\\tb\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with DEL", ADD,
      "{\"username\":\"a\\u007fb\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+0085", ADD,
      "{\"username\":\"a\\u0085\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+00A0", ADD,
      "{\"username\":\"a\\u00a0\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+2028", ADD,
      "{\"username\":\"a\\u2028\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+3000", ADD,
      "{\"username\":\"\xe3\x80\x80\x61\"}", BODY, 0, NULL, NULL,
      USERNAME_RULE },
    { "add: username with U+FEFF", ADD,
      "{\"username\":\"\\ufeffbob\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: non-ASCII username", ADD,
      "{\"username\":\"j\\u00f6rg\"}", OK, U, NULL, "j\xc3\xb6rg", NULL },
    { "add: username with quote and backslash", ADD,
      "{\"username\":\"a\\\"b\\\\c\"}", OK, U, NULL, "a\"b\\c", NULL },
    { "add: email dropped", ADD,
      "{\"username\":\"bob\",\"email\":\"not an email\"}", OK, U, NULL,
      "bob", NULL },
    { "add: member dropped", ADD,
      "{\"username\":\"bob\",\"member\":\"eve\"}", OK, U, NULL, "bob",
      NULL },
    { "add: unknown keys dropped", ADD,
      "{\"x\":1,\"username\":\"bob\",\"extra\":{\"role\":\"owner\","
      "\"Role\":1},\"list\":[1,\"a\",null,true,{}],\"n\":-1.5e3}",
      OK, U, NULL, "bob", NULL },
    { "add: near-miss keys dropped", ADD,
      "{\"username\":\"bob\",\"roles\":\"owner\",\"_role\":1,"
      "\"r\\u00f6le\":2,\"rol\":3,\"user name\":4}",
      OK, U, NULL, "bob", NULL },

    /* role normalization */

    { "role: trimmed and lowercased", ADD,
      "{\"username\":\"bob\",\"role\":\" Admin\\n\"}",
      OK, U|R, "admin", "bob", NULL },
    { "role: VIEWER", UPDATE,
      "{\"role\":\"VIEWER\"}", OK, R, "viewer", NULL, NULL },
    { "role: tab member", UPDATE,
      "{\"role\":\"\\t\\r member \"}", OK, R, "member", NULL, NULL },
    { "role: OWNER", UPDATE,
      "{\"role\":\"OWNER\"}", ROLE, 0, NULL, NULL, OWNER_RULE },
    { "role: owner", UPDATE,
      "{\"role\":\" owner\"}", ROLE, 0, NULL, NULL, OWNER_RULE },
    { "role: empty", UPDATE,
      "{\"role\":\"\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: blank", UPDATE,
      "{\"role\":\"  \"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: unknown", UPDATE,
      "{\"role\":\"superuser\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: vertical tab is not trimmed", UPDATE,
      "{\"role\":\"admin\\u000b\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: NBSP is not trimmed", UPDATE,
      "{\"role\":\"\\u00a0admin\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: dotless i", UPDATE,
      "{\"role\":\"adm\\u0131n\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: 1", UPDATE,
      "{\"role\":1}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: true", UPDATE,
      "{\"role\":true}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: []", UPDATE,
      "{\"role\":[]}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: {}", UPDATE,
      "{\"role\":{}}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: [\"admin\"]", UPDATE,
      "{\"role\":[\"admin\"]}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: invalid even when optional", ADD,
      "{\"username\":\"bob\",\"role\":\"root\"}", ROLE, 0, NULL, NULL,
      ROLE_RULE },

    /* update role: role required, everything else dropped */

    { "update: role", UPDATE,
      "{\"role\":\"viewer\"}", OK, R, "viewer", NULL, NULL },
    { "update: missing role", UPDATE,
      "{}", BODY, 0, NULL, NULL, "\"role\" is required" },
    { "update: null role", UPDATE,
      "{\"role\":null}", BODY, 0, NULL, NULL, "\"role\" is required" },
    { "update: username dropped", UPDATE,
      "{\"role\":\"admin\",\"username\":\"eve\",\"email\":\"e@x\"}",
      OK, R, "admin", NULL, NULL },

    /* duplicates: Go lets the last one win, so they are refused */

    { "duplicate role", UPDATE,
      "{\"role\":\"admin\",\"role\":\"viewer\"}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "duplicate dropped key", UPDATE,
      "{\"role\":\"admin\",\"x\":1,\"x\":2}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "duplicate through an escape", UPDATE,
      "{\"r\\u006fle\":\"admin\",\"role\":\"viewer\"}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "escaped key is the key", UPDATE,
      "{\"r\\u006fle\":\"admin\"}", OK, R, "admin", NULL, NULL },
    { "duplicates in nested objects", UPDATE,
      "{\"role\":\"admin\",\"x\":{\"a\":1,\"a\":2}}", JSON, 0, NULL, NULL,
      "duplicate object key" },

    /* keys Go would match case-insensitively */

    { "key Role", UPDATE,
      "{\"Role\":\"admin\"}", BODY, 0, NULL, NULL,
      "unexpected key \"Role\": keys are case-sensitive, expected \"role\"" },
    { "key ROLE after role", UPDATE,
      "{\"role\":\"viewer\",\"ROLE\":\"admin\"}", BODY, 0, NULL, NULL,
      "unexpected key \"ROLE\"" },
    { "key USERNAME after username", ADD,
      "{\"username\":\"bob\",\"USERNAME\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"USERNAME\"" },
    { "key with long s, escaped", ADD,
      "{\"u\\u017fername\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key resembling \"username\": keys are case-sensitive" },
    { "key with long s, raw", ADD,
      "{\"username\":\"bob\",\"u\xc5\xbf" "ername\":\"eve\"}", BODY, 0, NULL,
      NULL, "unexpected key resembling \"username\"" },
    { "key EMAIL after email", INVITE,
      "{\"email\":\"a@b.c\",\"EMAIL\":\"x@y.z\"}", BODY, 0, NULL, NULL,
      "unexpected key \"EMAIL\"" },
    { "case variant of another route's field", UPDATE,
      "{\"role\":\"admin\",\"Username\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"Username\"" },
    { "case variant of member", ADD,
      "{\"username\":\"bob\",\"MEMBER\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"MEMBER\"" },
    { "case variant with a null value", UPDATE,
      "{\"role\":\"admin\",\"rOLE\":null}", BODY, 0, NULL, NULL,
      "unexpected key \"rOLE\"" },

    /* invite: exactly one of email or username */

    { "invite: email", INVITE,
      "{\"email\":\"a@b.co\",\"role\":\"admin\"}", OK, E|R, "admin",
      "a@b.co", NULL },
    { "invite: username", INVITE,
      "{\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "invite: null email and a username", INVITE,
      "{\"email\":null,\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "invite: both", INVITE,
      "{\"email\":\"a@b.co\",\"username\":\"bob\"}", BODY, 0, NULL, NULL,
      ONE_OF_RULE },
    { "invite: neither", INVITE,
      "{\"role\":\"admin\"}", BODY, 0, NULL, NULL, ONE_OF_RULE },
    { "invite: email without @", INVITE,
      "{\"email\":\"ab.co\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with two @", INVITE,
      "{\"email\":\"a@b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email ending with @", INVITE,
      "{\"email\":\"ab@\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with a space", INVITE,
      "{\"email\":\"a b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with a slash", INVITE,
      "{\"email\":\"a/b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email a number", INVITE,
      "{\"email\":5}", BODY, 0, NULL, NULL, EMAIL_RULE },

    /* the Node client's body */

    { "node: member and role", NODE,
      "{\"member\":\"bob\",\"role\":\"member\"}", OK, M|R, "member", "bob",
      NULL },
    { "node: empty member", NODE,
      "{\"member\":\"\"}", BODY, 0, NULL, NULL,
      "\"member\" must be a non-empty string" },
    { "node: member missing", NODE,
      "{\"username\":\"bob\"}", BODY, 0, NULL, NULL,
      "\"member\" is required" },

    /* not JSON at all */

    { "blank body", ADD, " \n", JSON, 0, NULL, NULL, NOT_JSON },
    { "byte order mark", ADD,
      "\xef\xbb\xbf{\"username\":\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "trailing garbage", ADD,
      "{\"username\":\"bob\"} x", JSON, 0, NULL, NULL,
      NOT_JSON "end of file expected" },
    { "two documents", ADD,
      "{\"username\":\"bob\"}{}", JSON, 0, NULL, NULL, NOT_JSON },
    { "line comment", ADD,
      "{\"username\":\"bob\"} // x", JSON, 0, NULL, NULL, NOT_JSON },
    { "block comment", ADD,
      "{/* x */\"username\":\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "NaN", ADD,
      "{\"username\":\"bob\",\"n\":NaN}", JSON, 0, NULL, NULL, NOT_JSON },
    { "Infinity", ADD,
      "{\"username\":\"bob\",\"n\":-Infinity}", JSON, 0, NULL, NULL,
      NOT_JSON },
    { "single quotes", ADD,
      "{'username':'bob'}", JSON, 0, NULL, NULL, NOT_JSON },
    { "trailing comma", ADD,
      "{\"username\":\"bob\",}", JSON, 0, NULL, NULL, NOT_JSON },
    { "unquoted key", ADD,
      "{username:\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "\\u0000 in a value", ADD,
      "{\"username\":\"bob\\u0000eve\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "\\u0000 in a key", ADD,
      "{\"username\":\"bob\",\"role\\u0000\":\"admin\"}", JSON, 0, NULL,
      NULL, NOT_JSON },
    { "lone high surrogate", ADD,
      "{\"username\":\"\\ud800\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "lone low surrogate in a key", ADD,
      "{\"username\":\"bob\",\"\\udc00\":1}", JSON, 0, NULL, NULL,
      NOT_JSON },
    { "surrogate pair is fine", ADD,
      "{\"username\":\"\\ud83d\\ude00\"}", OK, U, NULL, "\xf0\x9f\x98\x80",
      NULL },
    { "invalid UTF-8 byte", ADD,
      "{\"username\":\"b\xffob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "overlong UTF-8", ADD,
      "{\"username\":\"\xc0\xaf\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "UTF-8 surrogate", ADD,
      "{\"username\":\"\xed\xa0\x80\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "raw control character in a string", ADD,
      "{\"username\":\"bo\x01\x62\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "raw newline in a string", ADD,
      "{\"username\":\"bo\nb\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "unterminated", ADD,
      "{\"username\":\"bob\"", JSON, 0, NULL, NULL, NOT_JSON },
    { "too big integer", ADD,
      "{\"username\":\"bob\",\"n\":123456789012345678901234567890}",
      JSON, 0, NULL, NULL, NOT_JSON "too big integer" },
    { "real overflow", ADD,
      "{\"username\":\"bob\",\"n\":1e400}", JSON, 0, NULL, NULL, NOT_JSON },
    { "large but finite numbers", ADD,
      "{\"username\":\"bob\",\"a\":1e308,\"b\":-9223372036854775808,"
      "\"c\":1e-400,\"d\":-0}", OK, U, NULL, "bob", NULL },

    /* JSON, but not an object */

    { "array", ADD, "[{\"username\":\"bob\"}]", BODY, 0, NULL, NULL,
      NOT_OBJECT },
    { "string", ADD, "\"bob\"", BODY, 0, NULL, NULL, NOT_OBJECT },
    { "null", ADD, "null", BODY, 0, NULL, NULL, NOT_OBJECT },
    { "number", ADD, " 1 ", BODY, 0, NULL, NULL, NOT_OBJECT },

    { NULL, NULL, NULL, 0, 0, NULL, NULL, NULL }
};


static int  ngx_turso_members_test_passed;
static int  ngx_turso_members_test_failed;


int
main(void)
{
    ngx_turso_members_test_parse_cases();
    ngx_turso_members_test_parse_generated();
    ngx_turso_members_test_flat();
    ngx_turso_members_test_write();
    ngx_turso_members_test_escape();
    ngx_turso_members_test_error_string();
    ngx_turso_members_test_valid();
    ngx_turso_members_test_role();
    ngx_turso_members_test_fold();
    ngx_turso_members_test_short_eq();

    printf("1..%d\n", ngx_turso_members_test_passed
                      + ngx_turso_members_test_failed);
    printf("%d passed, %d failed\n", ngx_turso_members_test_passed,
           ngx_turso_members_test_failed);

    return ngx_turso_members_test_failed ? 1 : 0;
}


static void
ngx_turso_members_test_ok(int cond, const char *fmt, ...)
{
    va_list  args;

    if (cond) {
        ngx_turso_members_test_passed++;
        printf("ok %d - ", ngx_turso_members_test_passed
                           + ngx_turso_members_test_failed);

    } else {
        ngx_turso_members_test_failed++;
        printf("not ok %d - ", ngx_turso_members_test_passed
                               + ngx_turso_members_test_failed);
    }

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
}


static int
ngx_turso_members_test_printable(const char *s)
{
    for ( /* void */ ; *s != '\0'; s++) {
        if (*s < 0x20 || *s >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_turso_members_test_parse(const ngx_turso_members_test_case_t *t,
    const unsigned char *input, size_t len)
{
    int                        rc, ok, ref_rc;
    const char                *value;
    ngx_turso_members_body_t  *body, *ref;

    /* on the heap, so that ASan sees any overrun of the body's buffers */
    body = malloc(sizeof(ngx_turso_members_body_t));
    if (body == NULL) {
        abort();
    }

    memset(body, 0xa5, sizeof(ngx_turso_members_body_t));

    rc = ngx_turso_members_json_parse(input, len, t->spec, body);

    ok = (rc == t->rc && body->present == t->present);

    if (t->role == NULL) {
        ok = ok && body->role == NULL;

    } else {
        ok = ok && body->role != NULL && strcmp(body->role, t->role) == 0;
    }

    if (rc == OK && t->value != NULL) {
        if (body->present & U) {
            value = body->username;
            ok = ok && body->username_len == strlen(value);

        } else if (body->present & E) {
            value = body->email;
            ok = ok && body->email_len == strlen(value);

        } else {
            value = body->member;
            ok = ok && body->member_len == strlen(value);
        }

        ok = ok && strcmp(value, t->value) == 0;
    }

    if (rc != OK) {
        ok = ok && body->error[0] != '\0'
             && memchr(body->error, '\0', sizeof(body->error)) != NULL
             && ngx_turso_members_test_printable(body->error);

        if (t->error != NULL) {
            ok = ok && strstr(body->error, t->error) != NULL;
        }
    }

    ngx_turso_members_test_ok(ok, "parse: %s", t->name);

    if (!ok) {
        printf("#   rc %d (want %d), present 0x%x (want 0x%x), role %s, "
               "error \"%s\"\n", rc, t->rc, body->present, t->present,
               body->role ? body->role : "NULL",
               rc == OK ? "" : body->error);
    }

    /* the flat scan, where it reads the body, agrees with jansson */

    ref = malloc(sizeof(ngx_turso_members_body_t));
    if (ref == NULL) {
        abort();
    }

    memset(ref, 0x5a, sizeof(ngx_turso_members_body_t));

    ref_rc = ngx_turso_members_json_parse_jansson(input, len, t->spec, ref);

    ngx_turso_members_test_ok(ref_rc == rc
                              && ngx_turso_members_json_body_eq(ref, body),
                              "parse: %s: the same through jansson alone",
                              t->name);

    free(ref);
    free(body);
}


static void
ngx_turso_members_test_flat(void)
{
    int                        rc;
    size_t                     n, len;
    unsigned char             *copy;
    ngx_turso_members_body_t   body;

    static const struct {
        const char  *input;
        int          taken;
    } cases[] = {
        { "{\"username\":\"bob\",\"role\":\" Admin \"}", 1 },
        { " \t\r\n{ \"username\" : \"bob\" , \"role\" : null } \n", 1 },
        { "{}", 1 },
        { "{ }", 1 },
        { "{\"username\":\"bob\",\"role\":\"superuser\"}", 1 },
        { "{\"Role\":\"admin\",\"username\":\"bob\"}", 1 },
        { "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\","
          "\"f\":\"6\",\"g\":\"7\",\"username\":\"bob\"}", 1 },
        /* nine members */
        { "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\","
          "\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"username\":\"bob\"}", 0 },
        { "{\"username\":\"bob\",\"username\":\"eve\"}", 0 },
        { "{\"username\":\"b\\u006fb\"}", 0 },
        { "{\"username\":\"b\\\"b\"}", 0 },
        { "{\"username\":\"b\xc3\xa9\"}", 0 },
        { "{\"username\":\"b\x7f\"}", 0 },
        { "{\"username\":\"b\tb\"}", 0 },
        { "{\"username\":\"bob\",\"role\":1}", 0 },
        { "{\"username\":\"bob\",\"x\":true}", 0 },
        { "{\"username\":\"bob\",\"x\":{}}", 0 },
        { "{\"username\":\"bob\",\"x\":[]}", 0 },
        { "{\"username\":\"bob\",\"role\":nul}", 0 },
        { "{\"username\":\"bob\",\"role\":nullx}", 0 },
        { "{\"username\":\"bob\",}", 0 },
        { "{\"username\":\"bob\"", 0 },
        { "{\"username\":\"bob", 0 },
        { "{\"username\" \"bob\"}", 0 },
        { "{\"username\":\"bob\"}}", 0 },
        { "{\"username\":\"bob\"} x", 0 },
        { "{\"username\":\"bob\"}\f", 0 },
        { "\xef\xbb\xbf{\"username\":\"bob\"}", 0 },
        { "[\"username\"]", 0 },
        { "\"username\"", 0 },
        { "", 0 },
        { "{", 0 },
        { NULL, 0 }
    };

    for (n = 0; cases[n].input != NULL; n++) {
        len = strlen(cases[n].input);
        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[n].input, len);

        rc = ngx_turso_members_json_parse_flat(copy, len,
                                               &ngx_turso_members_test_add,
                                               &body);

        ngx_turso_members_test_ok((rc != NGX_TURSO_MEMBERS_JSON_DECLINED)
                                  == cases[n].taken,
                                  "flat scan %s case %d",
                                  cases[n].taken ? "reads" : "declines",
                                  (int) n);
        free(copy);
    }
}


static void
ngx_turso_members_test_parse_cases(void)
{
    size_t                                n;
    unsigned char                        *copy;
    const ngx_turso_members_test_case_t  *t;

    for (t = ngx_turso_members_test_cases; t->name != NULL; t++) {
        /* an exact-size copy: reading past the end is an ASan error */
        n = strlen(t->input);
        copy = malloc(n ? n : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, t->input, n);
        ngx_turso_members_test_parse(t, copy, n);
        free(copy);
    }
}


static void
ngx_turso_members_test_parse_generated(void)
{
    size_t                         i, n;
    unsigned char                 *buf;
    ngx_turso_members_test_case_t  t;

    buf = malloc(200100);
    if (buf == NULL) {
        abort();
    }

    memset(&t, 0, sizeof(t));
    t.spec = ADD;

    t.name = "empty body";
    t.rc = JSON;
    t.error = NOT_JSON "the body is empty";
    ngx_turso_members_test_parse(&t, buf, 0);

    t.name = "NUL after the document";
    memcpy(buf, "{\"username\":\"bob\"}\0", 19);
    t.error = NOT_JSON;
    ngx_turso_members_test_parse(&t, buf, 19);

    t.name = "NUL inside a string";
    memcpy(buf, "{\"username\":\"b\0b\"}", 18);
    ngx_turso_members_test_parse(&t, buf, 18);

    /* jansson 2.14 alone accepts these (found by the fuzzer) */

    t.error = NOT_JSON "NUL byte at byte 27";

    t.name = "NUL after null";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":null\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.name = "NUL after a number";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":1234\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.name = "NUL after true";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":true\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.error = NOT_JSON;

    t.name = "100000 nested arrays";
    memset(buf, '[', 100000);
    ngx_turso_members_test_parse(&t, buf, 100000);

    t.name = "100000 nested arrays in a dropped key";
    memcpy(buf, "{\"x\":", 5);
    memset(buf + 5, '[', 100000);
    memset(buf + 100005, ']', 100000);
    buf[200005] = '}';
    ngx_turso_members_test_parse(&t, buf, 200006);

    t.name = "1000 nested objects";
    for (i = 0; i < 1000; i++) {
        memcpy(buf + i * 5, "{\"a\":", 5);
    }
    memcpy(buf + 5000, "1", 1);
    memset(buf + 5001, '}', 1000);
    t.rc = BODY;
    t.error = "\"username\" is required";
    ngx_turso_members_test_parse(&t, buf, 6001);

    t.name = "1000 nested arrays in a dropped key";
    n = sizeof("{\"username\":\"bob\",\"x\":") - 1;
    memcpy(buf, "{\"username\":\"bob\",\"x\":", n);
    memset(buf + n, '[', 1000);
    memset(buf + n + 1000, ']', 1000);
    buf[n + 2000] = '}';
    t.rc = OK;
    t.present = U;
    t.value = "bob";
    t.error = NULL;
    ngx_turso_members_test_parse(&t, buf, n + 2001);

    t.name = "255-byte username";
    memcpy(buf, "{\"username\":\"", 13);
    memset(buf + 13, 'a', 255);
    memcpy(buf + 268, "\"}", 2);
    memcpy(buf + 1000, buf + 13, 255);
    buf[1255] = '\0';
    t.value = (char *) buf + 1000;
    ngx_turso_members_test_parse(&t, buf, 270);

    t.name = "256-byte username";
    memcpy(buf, "{\"username\":\"", 13);
    memset(buf + 13, 'a', 256);
    memcpy(buf + 269, "\"}", 2);
    t.rc = BODY;
    t.present = 0;
    t.value = NULL;
    t.error = USERNAME_RULE;
    ngx_turso_members_test_parse(&t, buf, 271);

    free(buf);
}


static void
ngx_turso_members_test_write(void)
{
    char                      *small;
    size_t                     n, i, want_len;
    const char                *want;
    ngx_turso_members_body_t   body;
    char                       buf[1024];

    memset(&body, 0, sizeof(body));
    body.present = U|R;
    memcpy(body.username, "bob", 4);
    body.username_len = 3;

    n = ngx_turso_members_json_write(&body, U|R, "member", buf, sizeof(buf));
    want = "{\"username\":\"bob\",\"role\":\"member\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: username and role");

    n = ngx_turso_members_json_write(&body, U|R, NULL, buf, sizeof(buf));
    want = "{\"username\":\"bob\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: no role");

    n = ngx_turso_members_json_write(&body, U, "admin", buf, sizeof(buf));
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: role not in fields");

    n = ngx_turso_members_json_write(&body, R, "admin", buf, sizeof(buf));
    want = "{\"role\":\"admin\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: role only, username not in fields");

    n = ngx_turso_members_json_write(&body, 0, "admin", buf, sizeof(buf));
    ngx_turso_members_test_ok(n == 2 && memcmp(buf, "{}", 2) == 0,
                              "write: no fields");

    memset(&body, 0, sizeof(body));
    body.present = E;
    memcpy(body.email, "a@b.c", 6);
    body.email_len = 5;
    memcpy(body.username, "stale", 6);
    body.username_len = 5;

    n = ngx_turso_members_json_write(&body, E|U|R, "viewer", buf,
                                     sizeof(buf));
    want = "{\"email\":\"a@b.c\",\"role\":\"viewer\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: email, username not present");

    body.present = E|U;
    n = ngx_turso_members_json_write(&body, E|U|R, "viewer", buf,
                                     sizeof(buf));
    want = "{\"username\":\"stale\",\"email\":\"a@b.c\",\"role\":\"viewer\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: fixed key order");

    memset(&body, 0, sizeof(body));
    body.present = U|M;
    memcpy(body.username, "a\"b\\c\x01\xff", 8);
    body.username_len = 7;
    memcpy(body.member, "eve", 4);
    body.member_len = 3;

    n = ngx_turso_members_json_write(&body, U|M|R, "admin", buf,
                                     sizeof(buf));
    want = "{\"username\":\"a\\\"b\\\\c\\u0001\\ufffd\",\"role\":\"admin\"}";
    want_len = strlen(want);
    ngx_turso_members_test_ok(n == want_len && memcmp(buf, want, n) == 0,
                              "write: escaping, member never written");

    for (i = 0; i < want_len; i++) {
        /* exact-size heap buffers: any overrun is an ASan error */
        small = malloc(i ? i : 1);
        if (small == NULL) {
            abort();
        }

        n = ngx_turso_members_json_write(&body, U|R, "admin", small, i);
        free(small);

        if (n != 0) {
            break;
        }
    }

    ngx_turso_members_test_ok(i == want_len,
                              "write: 0 for every buffer shorter than %d",
                              (int) want_len);

    small = malloc(want_len);
    if (small == NULL) {
        abort();
    }

    n = ngx_turso_members_json_write(&body, U|R, "admin", small, want_len);
    ngx_turso_members_test_ok(n == want_len && memcmp(small, want, n) == 0,
                              "write: exact-size buffer");
    free(small);
}


static void
ngx_turso_members_test_escape_one(const char *src, size_t len,
    const char *expect)
{
    int            ok;
    char          *dst;
    size_t         n, need, i;
    json_t        *json;
    char           quoted[256];
    json_error_t   err;

    need = ngx_turso_members_json_escape(NULL, 0, src, len);

    dst = malloc(need ? need : 1);
    if (dst == NULL) {
        abort();
    }

    n = ngx_turso_members_json_escape(dst, need, src, len);
    ok = (n == need && n == strlen(expect) && memcmp(dst, expect, n) == 0);

    for (i = 0; i + 1 < need && ok; i++) {
        ok = (ngx_turso_members_json_escape(dst, i, src, len) == 0);
    }

    /* what it produced is a valid JSON string */
    quoted[0] = '"';
    memcpy(quoted + 1, dst, n);
    quoted[n + 1] = '"';

    json = json_loadb(quoted, n + 2, JSON_DECODE_ANY|JSON_ALLOW_NUL, &err);
    ok = ok && json_is_string(json);
    json_decref(json);

    ngx_turso_members_test_ok(ok, "escape: %s", expect);

    free(dst);
}


static void
ngx_turso_members_test_escape(void)
{
    ngx_turso_members_test_escape_one("bob", 3, "bob");
    ngx_turso_members_test_escape_one("a\"b\\c", 5, "a\\\"b\\\\c");
    ngx_turso_members_test_escape_one("\n\r\t", 3, "\\n\\r\\t");
    ngx_turso_members_test_escape_one("\x01\x1f\x7f", 3,
                                      "\\u0001\\u001f\\u007f");
    ngx_turso_members_test_escape_one("a\0b", 3, "a\\u0000b");
    ngx_turso_members_test_escape_one("/<>", 3, "/<>");
    ngx_turso_members_test_escape_one("j\xc3\xb6rg", 5, "j\xc3\xb6rg");
    ngx_turso_members_test_escape_one("\xe2\x80\xa8", 3, "\xe2\x80\xa8");
    ngx_turso_members_test_escape_one("\xf0\x9f\x98\x80", 4,
                                      "\xf0\x9f\x98\x80");
    ngx_turso_members_test_escape_one("\xff", 1, "\\ufffd");
    ngx_turso_members_test_escape_one("a\xc3", 2, "a\\ufffd");
    ngx_turso_members_test_escape_one("\xc0\xaf", 2, "\\ufffd\\ufffd");
    ngx_turso_members_test_escape_one("\xed\xa0\x80", 3,
                                      "\\ufffd\\ufffd\\ufffd");
    ngx_turso_members_test_escape_one("\xf4\x90\x80\x80", 4,
                                      "\\ufffd\\ufffd\\ufffd\\ufffd");
    ngx_turso_members_test_escape_one("\xe2\x28\xa1", 3,
                                      "\\ufffd(\\ufffd");

    ngx_turso_members_test_ok(ngx_turso_members_json_escape(NULL, 0, "", 0)
                              == 0, "escape: empty string");

    ngx_turso_members_test_escape_positions();
}


/*
 * Every byte value at every position of a 24-byte run of "a": runs of
 * plain bytes are copied at once, so a byte to escape must be caught
 * wherever it falls.  The expected output is that of the byte alone.
 */

static void
ngx_turso_members_test_escape_positions(void)
{
    int     bad;
    char    src[24], one[8], expect[64], got[64];
    size_t  pos, n, m;
    unsigned  c;

    bad = 0;

    for (c = 0; c < 256; c++) {
        one[0] = (char) c;
        m = ngx_turso_members_json_escape(one, sizeof(one), one, 1);

        for (pos = 0; pos < sizeof(src); pos++) {
            memset(src, 'a', sizeof(src));
            src[pos] = (char) c;

            memset(expect, 'a', sizeof(expect));
            memcpy(expect + pos, one, m);

            n = ngx_turso_members_json_escape(got, sizeof(got), src,
                                              sizeof(src));

            if (n != sizeof(src) - 1 + m || memcmp(got, expect, n) != 0) {
                if (bad++ < 5) {
                    printf("#   byte 0x%02x at %d escaped wrong\n", c,
                           (int) pos);
                }
            }
        }
    }

    ngx_turso_members_test_ok(bad == 0, "escape: every byte at every "
                                        "position of a long run");
}


static void
ngx_turso_members_test_error_string(void)
{
    char  msg[64];

#define ngx_turso_members_test_error(json, size)                              \
    ngx_turso_members_json_error_string(ngx_turso_members_test_str(json),     \
                                        msg, size)

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error(
            "{\"error\":\"could not find organization\",\"code\":\"x\"}", 64)
        == 1 && strcmp(msg, "could not find organization") == 0,
        "error string: found");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"abcdefg\"}", 5) == 1
        && strcmp(msg, "abcd") == 0,
        "error string: truncated");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"a\\u00e9\"}", 3) == 1
        && strcmp(msg, "a") == 0,
        "error string: not cut inside a UTF-8 sequence");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"a\",\"error\":\"b\"}", 64)
        == 1 && strcmp(msg, "b") == 0,
        "error string: last duplicate wins, as in Go");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"x\"}", 0) == 0,
        "error string: no room");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"code\":\"x\"}", 64) == 0,
        "error string: no error member");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":404}", 64) == 0,
        "error string: not a string");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("[\"error\"]", 64) == 0,
        "error string: not an object");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("Not Found", 64) == 0,
        "error string: not JSON");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("", 64) == 0,
        "error string: empty");

#undef ngx_turso_members_test_error
}


static void
ngx_turso_members_test_valid(void)
{
    unsigned char  *buf;

#define ngx_turso_members_test_username(s, want)                              \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_username(ngx_turso_members_test_str(s))       \
        == want, "valid_username: " #s " is %d", want)

#define ngx_turso_members_test_email(s, want)                                 \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_email(ngx_turso_members_test_str(s))          \
        == want, "valid_email: " #s " is %d", want)

#define ngx_turso_members_test_org(s, want)                                   \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_org(ngx_turso_members_test_str(s))            \
        == want, "valid_org: " #s " is %d", want)

    ngx_turso_members_test_username("a", 1);
    ngx_turso_members_test_username("bob-smith_2", 1);
    ngx_turso_members_test_username("a.b", 1);
    ngx_turso_members_test_username("...", 1);
    ngx_turso_members_test_username("a@b\"c\\d", 1);
    ngx_turso_members_test_username("j\xc3\xb6rg", 1);
    ngx_turso_members_test_username("\xf0\x9f\x98\x80", 1);
    ngx_turso_members_test_username("a\xe2\x80\x8b", 1);
    ngx_turso_members_test_username("", 0);
    ngx_turso_members_test_username(".", 0);
    ngx_turso_members_test_username("..", 0);
    ngx_turso_members_test_username("a b", 0);
    ngx_turso_members_test_username("a\tb", 0);
    ngx_turso_members_test_username("a\nb", 0);
    ngx_turso_members_test_username("a\vb", 0);
    ngx_turso_members_test_username("a/b", 0);
    ngx_turso_members_test_username("a\x7f", 0);
    ngx_turso_members_test_username("a\x01", 0);
    ngx_turso_members_test_username("a\0b", 0);
    ngx_turso_members_test_username("a\xc2\x80", 0);
    ngx_turso_members_test_username("a\xc2\x85", 0);
    ngx_turso_members_test_username("a\xc2\x9f", 0);
    ngx_turso_members_test_username("a\xc2\xa0", 0);
    ngx_turso_members_test_username("a\xe1\x9a\x80", 0);
    ngx_turso_members_test_username("a\xe2\x80\x80", 0);
    ngx_turso_members_test_username("a\xe2\x80\x8a", 0);
    ngx_turso_members_test_username("a\xe2\x80\xa8", 0);
    ngx_turso_members_test_username("a\xe2\x80\xa9", 0);
    ngx_turso_members_test_username("a\xe2\x80\xaf", 0);
    ngx_turso_members_test_username("a\xe2\x81\x9f", 0);
    ngx_turso_members_test_username("a\xe3\x80\x80", 0);
    ngx_turso_members_test_username("\xef\xbb\xbf\x61", 0);
    ngx_turso_members_test_username("a\xff", 0);
    ngx_turso_members_test_username("a\xc3", 0);
    ngx_turso_members_test_username("\xc0\xaf", 0);
    ngx_turso_members_test_username("\xe0\x80\xaf", 0);
    ngx_turso_members_test_username("\xed\xa0\x80", 0);
    ngx_turso_members_test_username("\xf4\x90\x80\x80", 0);
    ngx_turso_members_test_username("\xf8\x88\x80\x80\x80", 0);

    ngx_turso_members_test_email("a@b", 1);
    ngx_turso_members_test_email("first.last+tag@example.co.uk", 1);
    ngx_turso_members_test_email("j\xc3\xb6rg@b\xc3\xbc.de", 1);
    ngx_turso_members_test_email("ab", 0);
    ngx_turso_members_test_email("@bc", 0);
    ngx_turso_members_test_email("ab@", 0);
    ngx_turso_members_test_email("abc", 0);
    ngx_turso_members_test_email("a@b@c", 0);
    ngx_turso_members_test_email("a b@c", 0);
    ngx_turso_members_test_email("a@b\n", 0);
    ngx_turso_members_test_email("a/b@c", 0);
    ngx_turso_members_test_email("a@b\xc2\xa0", 0);
    ngx_turso_members_test_email("a@b\xff", 0);

    ngx_turso_members_test_org("my-org_1", 1);
    ngx_turso_members_test_org("A", 1);
    ngx_turso_members_test_org("", 0);
    ngx_turso_members_test_org("a.b", 0);
    ngx_turso_members_test_org("a/b", 0);
    ngx_turso_members_test_org("a b", 0);
    ngx_turso_members_test_org("..", 0);
    ngx_turso_members_test_org("\xc3\xa9", 0);

#undef ngx_turso_members_test_username
#undef ngx_turso_members_test_email
#undef ngx_turso_members_test_org

    /* lengths, on exact-size heap buffers: no reliance on a NUL */

    buf = malloc(300);
    if (buf == NULL) {
        abort();
    }

    memset(buf, 'a', 300);

    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 255) == 1,
                              "valid_username: 255 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 256) == 0,
                              "valid_username: 256 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_org(buf, 64) == 1,
                              "valid_org: 64 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_org(buf, 65) == 0,
                              "valid_org: 65 bytes");

    buf[100] = '@';
    ngx_turso_members_test_ok(ngx_turso_members_valid_email(buf, 254) == 1,
                              "valid_email: 254 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_email(buf, 255) == 0,
                              "valid_email: 255 bytes");

    free(buf);

    buf = malloc(3);
    if (buf == NULL) {
        abort();
    }

    memcpy(buf, "bob", 3);
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 3) == 1
                              && ngx_turso_members_valid_org(buf, 3) == 1,
                              "valid_*: no NUL terminator needed");

    memcpy(buf, "a\xe2\x80", 3);
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 3) == 0,
                              "valid_username: truncated sequence at the end");

    free(buf);
}


static void
ngx_turso_members_test_role(void)
{
    const char  *admin;

#define ngx_turso_members_test_role_is(s, want)                               \
    ngx_turso_members_test_ok(                                                \
        (want) == NULL                                                        \
        ? ngx_turso_members_role(ngx_turso_members_test_str(s)) == NULL       \
        : ngx_turso_members_role(ngx_turso_members_test_str(s)) != NULL       \
          && strcmp(ngx_turso_members_role(ngx_turso_members_test_str(s)),    \
                    (want) ? (want) : "") == 0,                               \
        "role: " #s " is %s", (want) ? (want) : "NULL")

    ngx_turso_members_test_role_is("admin", "admin");
    ngx_turso_members_test_role_is("member", "member");
    ngx_turso_members_test_role_is("viewer", "viewer");
    ngx_turso_members_test_role_is(" Admin\n", "admin");
    ngx_turso_members_test_role_is("\r\n\tMeMbEr \t", "member");
    ngx_turso_members_test_role_is("VIEWER", "viewer");
    ngx_turso_members_test_role_is("OWNER", NULL);
    ngx_turso_members_test_role_is("owner", NULL);
    ngx_turso_members_test_role_is("", NULL);
    ngx_turso_members_test_role_is(" \t ", NULL);
    ngx_turso_members_test_role_is("admi", NULL);
    ngx_turso_members_test_role_is("adminx", NULL);
    ngx_turso_members_test_role_is("ad min", NULL);
    ngx_turso_members_test_role_is("\vadmin", NULL);
    ngx_turso_members_test_role_is("admin\0", NULL);
    ngx_turso_members_test_role_is("\xc2\xa0\x61\x64min", NULL);
    ngx_turso_members_test_role_is("adm\xc4\xb1n", NULL);

#undef ngx_turso_members_test_role_is

    admin = ngx_turso_members_role(ngx_turso_members_test_str(" ADMIN "));
    ngx_turso_members_test_ok(admin != NULL
                              && admin == ngx_turso_members_role(
                                  ngx_turso_members_test_str("admin")),
                              "role: a static string");
}


static void
ngx_turso_members_test_fold(void)
{
#define ngx_turso_members_test_fold_is(key, name, want)                       \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_json_fold_eq(ngx_turso_members_test_str(key), name) \
        == want, "fold: " #key " ~ " #name " is %d", want)

    ngx_turso_members_test_fold_is("role", "role", 1);
    ngx_turso_members_test_fold_is("ROLE", "role", 1);
    ngx_turso_members_test_fold_is("rOlE", "role", 1);
    ngx_turso_members_test_fold_is("USERNAME", "username", 1);
    ngx_turso_members_test_fold_is("u\xc5\xbf" "ername", "username", 1);
    ngx_turso_members_test_fold_is("U\xc5\xbf" "ERNAME", "username", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa" "ey", "key", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa", "k", 1);
    ngx_turso_members_test_fold_is("\xc5\xbf", "s", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa", "s", 0);
    ngx_turso_members_test_fold_is("\xc5\xbf", "k", 0);
    ngx_turso_members_test_fold_is("\xc5", "s", 0);
    ngx_turso_members_test_fold_is("\xe2\x84", "k", 0);
    ngx_turso_members_test_fold_is("rol", "role", 0);
    ngx_turso_members_test_fold_is("roles", "role", 0);
    ngx_turso_members_test_fold_is("", "role", 0);
    ngx_turso_members_test_fold_is("r\xc3\xb6le", "role", 0);
    ngx_turso_members_test_fold_is("r\xc3\x96le", "role", 0);
    ngx_turso_members_test_fold_is("RO LE", "role", 0);
    ngx_turso_members_test_fold_is("[", "{", 0);
    ngx_turso_members_test_fold_is("@", "`", 0);
    ngx_turso_members_test_fold_is("EMA\xc4\xb0L", "email", 0);

#undef ngx_turso_members_test_fold_is
}


/*
 * ngx_turso_members_short_eq(): for every length up to 12 (two
 * overlapping loads from 4 to 8 bytes, memcmp() otherwise), equal
 * strings compare equal and a difference at any one position is seen
 */

static void
ngx_turso_members_test_short_eq(void)
{
    int            ok;
    size_t         len, i;
    unsigned char  a[16], b[16];

    for (len = 0; len <= 12; len++) {
        for (i = 0; i < len; i++) {
            a[i] = (unsigned char) ('a' + i);
        }

        memcpy(b, a, len);

        /* the bytes after the strings differ, and must not count */
        a[len] = 'x';
        b[len] = 'y';

        ok = ngx_turso_members_short_eq(a, b, len);

        for (i = 0; i < len; i++) {
            b[i] ^= 0x20;
            ok = ok && !ngx_turso_members_short_eq(a, b, len);
            b[i] ^= 0x20;
        }

        ngx_turso_members_test_ok(ok, "short_eq: %u bytes, equal and one "
                                  "byte off at each position",
                                  (unsigned) len);
    }
}
