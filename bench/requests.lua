-- The requests of bench/wrk.lua and bench/interleave.lua: for each path,
-- its URI and body, and the headers every request carries.  Loaded with
-- dofile() by the scripts next to it.

return {
    bodies = {
        valid = { "/v1/organizations/acme/members",
                  '{"username":"bob","role":" Admin "}' },
        reject = { "/v1/organizations/acme/members",
                   '{"username":"bob","role":"superuser"}' },
        conflict = { "/v1/organizations/taken/members",
                     '{"username":"bob","role":"member"}' },
    },
    headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer portal-credential-not-for-turso",
    },
}
