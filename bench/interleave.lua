-- wrk script of bench/run.sh's interleaved runs: gateways that share one
-- port (told apart by the Host header) take turns in slices of a few
-- milliseconds within one wrk run, on the same connections.
--
--   wrk ... -s bench/interleave.lua URL -- HOST/KIND HOST/KIND ...
--
-- KIND is valid, reject or conflict (as in bench/wrk.lua): a slot is a
-- gateway and a path.
--
-- The machine this runs on is shared: the same gateway's throughput moves
-- by 10% from one 1-second run to the next, and the CPU time it spends per
-- request moves with it, so runs taken one after the other cannot tell
-- apart gateways 3% apart.  Slices of 10 ms (BENCH_SLICE_MS) let every
-- gateway see the same machine.  Which gateway has a slice follows a
-- permutation that changes every cycle, so that each follows each other
-- one as often: the requests still in flight when a slice ends (at most
-- one per connection) are answered in the next one.
--
-- Every request is counted for the gateway whose slice it is sent in; done()
-- prints one line for run.sh:
--   SLOTS seconds requests non_2xx socket_errors HOST/KIND COUNT ...

local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clock, bench_timespec_t *ts);
]]

local CLOCK_MONOTONIC = 1

-- bench/requests.lua, next to this script
local requests = dofile((debug.getinfo(1, "S").source:match("^@(.*/)")
                         or "./") .. "requests.lua")

local slice_ns = (tonumber(os.getenv("BENCH_SLICE_MS")) or 10) * 1e6
local ts = ffi.new("bench_timespec_t")
local reqs, perms = {}, {}
local threads = {}

-- per thread, read by done()
hosts, counts = {}, {}

local function permutations(n)
    local out = {}
    local function gen(a, k)
        if k > n then
            out[#out + 1] = { unpack(a) }
            return
        end
        for i = k, n do
            a[k], a[i] = a[i], a[k]
            gen(a, k + 1)
            a[k], a[i] = a[i], a[k]
        end
    end
    local a = {}
    for i = 1, n do a[i] = i end
    gen(a, 1)
    return out
end

function setup(thread)
    threads[#threads + 1] = thread
end

function init(args)
    for i = 1, #args do
        local host, kind = args[i]:match("^([^/]+)/(%a+)$")
        local b = assert(requests.bodies[kind], "not HOST/KIND: " .. args[i])
        local h = { ["Host"] = host }
        for k, v in pairs(requests.headers) do
            h[k] = v
        end
        hosts[#hosts + 1] = args[i]
        reqs[#reqs + 1] = wrk.format("POST", b[1], h, b[2])
        counts[#counts + 1] = 0
    end
    assert(#hosts > 1 and #hosts <= 4, "two to four hosts")
    perms = permutations(#hosts)
end

function request()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    local s = math.floor((tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec))
                         / slice_ns)
    local n = #hosts
    local k = perms[math.floor(s / n) % #perms + 1][s % n + 1]
    counts[k] = counts[k] + 1
    return reqs[k]
end

function done(summary, latency, requests)
    local e = summary.errors
    local out = {}
    for _, t in ipairs(threads) do
        local hs, cs = t:get("hosts"), t:get("counts")
        for i = 1, #cs do
            out[i] = out[i] or { hs[i], 0 }
            out[i][2] = out[i][2] + cs[i]
        end
    end
    local line = string.format("SLOTS %.3f %d %d %d", summary.duration / 1e6,
                               summary.requests, e.status,
                               e.connect + e.read + e.write + e.timeout)
    for _, o in ipairs(out) do
        line = line .. " " .. o[1] .. " " .. o[2]
    end
    io.write(line .. "\n")
end
