-- wrk script of bench/run.sh: POSTs an Add Member body.
--
--   wrk ... -s bench/wrk.lua URL -- valid|reject|conflict|mix
--
--   valid     POST /v1/organizations/acme/members {"username":"bob",
--             "role":" Admin "}: validated, normalized, proxied, 200
--   reject    the same with "role":"superuser": 400, never proxied
--   conflict  POST /v1/organizations/taken/members: the upstream answers
--             409, the gateway answers its own JSON 409
--   mix       the three in turn (the memory check; also set
--             BENCH_WRK_KIND=mix in the environment)
--
-- done() prints one line for run.sh:
--   RESULT requests seconds req/s p50_us p99_us non_2xx socket_errors

-- bench/requests.lua, next to this script
local requests = dofile((debug.getinfo(1, "S").source:match("^@(.*/)")
                         or "./") .. "requests.lua")
local bodies, headers = requests.bodies, requests.headers

local reqs
local n = 0

function init(args)
    local kind = args[1] or "valid"
    if kind == "mix" then
        reqs = {}
        for _, k in ipairs({ "valid", "reject", "conflict" }) do
            local b = bodies[k]
            reqs[#reqs + 1] = wrk.format("POST", b[1], headers, b[2])
        end
        return
    end
    local b = assert(bodies[kind], "unknown kind " .. kind)
    wrk.method = "POST"
    wrk.path = b[1]
    wrk.body = b[2]
    for k, v in pairs(headers) do
        wrk.headers[k] = v
    end
end

-- wrk decides once, before init(), whether a script builds its requests:
-- "request" is defined only for the mix, so the other runs keep wrk's
-- pre-built request and make no Lua call per request
if os.getenv("BENCH_WRK_KIND") == "mix" then
    function request()
        n = n + 1
        return reqs[n % 3 + 1]
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %.3f %.1f %d %d %d %d\n",
        summary.requests, summary.duration / 1e6,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), e.status,
        e.connect + e.read + e.write + e.timeout))
end
