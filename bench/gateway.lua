-- The Add Member gateway of ngx_turso_members, written for
-- lua-nginx-module with lua-cjson: the comparison point of bench/run.sh.
--
-- It serves POST /v1/organizations/{org}/members only (the route the
-- benchmark drives) with the module's rules and the module's error bodies,
-- byte for byte:
--   * the body must be one JSON object of at most 16k;
--   * "username": a string of 1 to 255 bytes, valid UTF-8, without
--     whitespace (ASCII or Unicode), control characters, DEL or "/", and
--     neither "." nor "..";
--   * "role": null or missing gives the default role; a string is trimmed
--     (space, tab, CR, LF) and lower-cased and must then be admin, member
--     or viewer; "owner" has its own message; the role must be allowed;
--   * a key equal to a field name but for case ("Role", "uſername" with
--     U+017F, "\u212a" Kelvin sign for k) is refused;
--   * other keys are dropped; the upstream gets the canonical body
--     {"username":...,"role":...} as application/json, and
--     "Authorization: Bearer <token>" instead of the client's;
--   * X-Request-Id: the client's when it is 1 to 128 of A-Z a-z 0-9 . _ :
--     -, else $request_id; sent upstream and named in every error;
--   * upstream errors become the gateway's JSON error, in a header and a
--     body filter (header_filter() and body_filter() below).
--
-- Differences from the module that a Lua gateway cannot avoid cheaply:
-- lua-cjson keeps the last of duplicate keys instead of refusing the body
-- (the canonical body still carries only the value that was checked), does
-- not reject invalid UTF-8 outside the checked strings nor "\u0000", and
-- its syntax error messages differ from jansson's.

local cjson = require "cjson.safe"

local decode = cjson.decode
local encode = cjson.encode
local null = cjson.null
local byte = string.byte
local find = string.find
local lower = string.lower
local match = string.match
local gsub = string.gsub
local concat = table.concat
local ngx = ngx
local req = ngx.req
local var = ngx.var

local _M = {}

local token_header
local default_role = "member"
local allowed = { admin = true, member = true, viewer = true }
local fields = { username = true, role = true, email = true, member = true }
local roles = { admin = "admin", member = "member", viewer = "viewer" }

local MAX_BODY = 16384


function _M.init(token_file)
    local f = assert(io.open(token_file, "rb"))
    local t = f:read("*a")
    f:close()
    t = gsub(t, "\r?\n$", "")
    assert(#t > 0 and not find(t, "[%z\1-\32\127-\255]"), "bad token")
    token_header = "Bearer " .. t
end


-- lua-cjson escapes "/" as "\/": valid JSON, but not the module's bytes
local function str(s)
    local e = encode(s)
    if find(e, "/", 1, true) then
        e = gsub(e, "\\/", "/")
    end
    return e
end


local function field(name, value)
    if value == nil or value == "" then
        return ""
    end
    return ',"' .. name .. '":' .. str(value)
end


-- the client's X-Request-Id when it is 1 to 128 of A-Z a-z 0-9 . _ : -,
-- else nginx's $request_id; sent upstream and in every error

local function request_id()
    local id = var.http_x_request_id
    if id and #id <= 128 and #id > 0 and not find(id, "[^%w._:-]") then
        return id
    end
    return var.request_id
end


local function error_body(status, code, msg, org, user, rid)
    return concat({ '{"error":', str(msg), ',"code":"', code, '","status":',
                    status, field("organization", org),
                    field("username", user), field("request_id", rid), "}" })
end


local function send_error(status, code, msg, org, user, rid)
    local body = error_body(status, code, msg, org, user, rid)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end


-- the module's rules for text in a username: the slow path for non-ASCII

local function valid_utf8_text(s)
    local i, n = 1, #s
    while i <= n do
        local c = byte(s, i)
        local cp, len, min
        if c < 0x80 then
            if c <= 0x20 or c == 0x7f or c == 0x2f then
                return false
            end
            i = i + 1
        else
            if c < 0xc2 then return false
            elseif c < 0xe0 then cp, len, min = c - 0xc0, 2, 0x80
            elseif c < 0xf0 then cp, len, min = c - 0xe0, 3, 0x800
            elseif c < 0xf5 then cp, len, min = c - 0xf0, 4, 0x10000
            else return false end
            if i + len - 1 > n then return false end
            for j = i + 1, i + len - 1 do
                local cc = byte(s, j)
                if cc < 0x80 or cc > 0xbf then return false end
                cp = cp * 64 + (cc - 0x80)
            end
            if cp < min or cp > 0x10ffff or (cp >= 0xd800 and cp <= 0xdfff)
               or cp <= 0x9f or cp == 0xa0 or cp == 0x1680
               or (cp >= 0x2000 and cp <= 0x200a) or cp == 0x2028
               or cp == 0x2029 or cp == 0x202f or cp == 0x205f
               or cp == 0x3000 or cp == 0xfeff
            then
                return false
            end
            i = i + len
        end
    end
    return true
end


local function valid_username(s)
    if type(s) ~= "string" then
        return false
    end
    local n = #s
    if n == 0 or n > 255 or s == "." or s == ".." then
        return false
    end
    if not find(s, "[\128-\255]") then
        return not find(s, "[%z\1-\32\127/]")
    end
    return valid_utf8_text(s)
end


-- Go's encoding/json folds keys: ASCII case, U+017F (s) and U+212A (k)

local function folded(k)
    k = lower(k)
    if find(k, "[\128-\255]") then
        k = gsub(gsub(k, "\197\191", "s"), "\226\132\170", "k")
    end
    return k
end


local function printable(k)
    return not find(k, '[%z\1-\31\127-\255"\\]')
end


function _M.access()
    local rid = request_id()

    local org = match(var.uri, "^/v1/organizations/([^/]+)/members$")
    if not org then
        return send_error(404, "route_not_supported",
                          "route not supported by this gateway", nil, nil, rid)
    end

    if req.get_method() ~= "POST" then
        ngx.header["Allow"] = "GET, POST"
        return send_error(405, "method_not_allowed",
                          "method not allowed on this route", nil, nil, rid)
    end

    if #org > 64 or find(org, "[^%w_-]") then
        return send_error(400, "invalid_organization",
                          'invalid organization: 1 to 64 letters, digits, '
                          .. '"-" or "_"', nil, nil, rid)
    end

    local clen = tonumber(var.http_content_length)
    if clen and clen > MAX_BODY then
        return send_error(413, "body_too_large", "request body is too large",
                          org, nil, rid)
    end

    req.read_body()
    local data = req.get_body_data()
    if data == nil then
        local file = req.get_body_file()
        if file then
            return send_error(413, "body_too_large",
                              "request body is too large", org, nil, rid)
        end
        data = ""
    end

    if #data == 0 then
        return send_error(400, "invalid_json", "request body is not valid "
                          .. "JSON: the body is empty", org, nil, rid)
    end

    local obj, err = decode(data)
    if obj == nil then
        return send_error(400, "invalid_json",
                          "request body is not valid JSON: " .. err, org,
                          nil, rid)
    end

    -- lua-cjson decodes [] and {} alike: an object starts with "{"
    if type(obj) ~= "table" or not find(data, "^[ \t\r\n]*{") then
        return send_error(400, "invalid_body",
                          "request body must be a JSON object", org, nil, rid)
    end

    local username, role, role_err

    for k, v in pairs(obj) do
        if fields[k] then
            if k == "username" then
                if v ~= null then
                    if not valid_username(v) then
                        return send_error(400, "invalid_body",
                            '"username" must be a non-empty string of at '
                            .. 'most 255 bytes without whitespace, control '
                            .. 'characters or "/"', org, nil, rid)
                    end
                    username = v
                end

            elseif k == "role" then
                if v ~= null then
                    local r = type(v) == "string"
                              and lower(match(v, "^[ \t\r\n]*(.-)[ \t\r\n]*$"))
                    role = r and roles[r]
                    if not role then
                        role_err = (r == "owner")
                                   and "the owner role cannot be assigned"
                                   or "invalid role: must be one of admin, "
                                      .. "member, viewer"
                    end
                end
            end
            -- "email" and "member" belong to other routes: dropped

        elseif fields[folded(k)] then
            local f = folded(k)
            -- the module names a good username that came before the key;
            -- pairs() has no order, so any good username is named here
            local u = obj.username
            if not (type(u) == "string" and valid_username(u)) then
                u = nil
            end
            if printable(k) then
                return send_error(400, "invalid_body", 'unexpected key "'
                                  .. k .. '": keys are case-sensitive, '
                                  .. 'expected "' .. f .. '"', org, u, rid)
            end
            return send_error(400, "invalid_body", 'unexpected key '
                              .. 'resembling "' .. f .. '": keys are '
                              .. 'case-sensitive', org, u, rid)
        end
    end

    if role_err then
        -- the error names the user when the rest of the body is good
        return send_error(400, "invalid_role", role_err, org, username, rid)
    end

    if not username then
        return send_error(400, "invalid_body", '"username" is required',
                          org, nil, rid)
    end

    role = role or default_role

    if not allowed[role] then
        return send_error(403, "role_not_allowed", "role " .. role
                          .. " may not be granted through this gateway",
                          org, username, rid)
    end

    req.set_body_data('{"username":' .. str(username) .. ',"role":"'
                      .. role .. '"}')
    req.set_header("Content-Type", "application/json")
    req.set_header("Authorization", token_header)
    req.set_header("X-Request-Id", rid)

    var.lua_upstream_uri = "/v1/organizations/" .. org .. "/members"
    -- for the response filters
    local ctx = ngx.ctx
    ctx.org = org
    ctx.user = username
    ctx.rid = rid
end


-- The upstream's error as the gateway's JSON error: the header filter
-- sets status and headers, the body filter puts the body in place of the
-- upstream's (its buffers are dropped, the keep-alive connection stays).

local function upstream_error(status, org, user, rid)
    if status == 409 then
        return 409, error_body(409, "member_exists", "user " .. user
                               .. " is already a member of organization "
                               .. org, org, user, rid)
    elseif status == 404 then
        return 404, error_body(404, "user_not_found", "could not find user "
                               .. user, org, user, rid)
    elseif status == 401 or status == 403 then
        return 502, error_body(502, "upstream_unauthorized",
                               "the gateway's Turso API token was refused",
                               org, user, rid)
    elseif status == 429 then
        return 429, error_body(429, "rate_limited",
                               "the Turso API is rate limiting the gateway",
                               org, user, rid)
    elseif status < 500 then
        return 400, error_body(400, "upstream_rejected",
                               "the Turso API rejected the request",
                               org, user, rid)
    end

    return 502, error_body(502, "upstream_error", "the Turso API failed",
                           org, user, rid)
end


function _M.header_filter()
    local status = ngx.status
    if status < 400 then
        return
    end

    local ctx = ngx.ctx
    if not ctx.org then
        -- the gateway's own answer, already in shape
        return
    end

    local body
    status, body = upstream_error(status, ctx.org, ctx.user, ctx.rid)
    ctx.error_body = body
    ngx.status = status
    local h = ngx.header
    h["Content-Type"] = "application/json"
    h["Content-Length"] = #body
end


function _M.body_filter()
    local ctx = ngx.ctx
    local body = ctx.error_body
    if body == nil then
        return
    end

    if body then
        ngx.arg[1] = body
        ctx.error_body = false
    else
        ngx.arg[1] = ""
    end
end


return _M
