-- wrk script for bench/bench_peers.py: POSTs pre-signed bodies, one per line of
-- $PEERS_BODIES, each at most once, to the path $PEERS_PATH (/api/v1/log/entries for
-- Rekor v1 and rekor-py, /api/v2/log/entries for rekor-tiles). Run wrk with -t1 so
-- one Lua state walks the list. Out of fresh bodies it repeats the last one (the log
-- answers 409 or dedups it; counted apart as "repeats"). done() prints one line:
--   PEERS sent=N bodies=N codes=201:N,409:N
local path = os.getenv("PEERS_PATH")
local headers = { ["Content-Type"] = "application/json" }
local bodies = {}
local threads = {}

i = 0
nbodies = 0
codes = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(os.getenv("PEERS_BODIES")) do bodies[#bodies + 1] = line end
  nbodies = #bodies
end

function request()
  i = i + 1
  return wrk.format("POST", path, headers, bodies[i] or bodies[nbodies])
end

function response(status, hdrs, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local parts = {}
    for code, n in pairs(t:get("codes")) do parts[#parts + 1] = code .. ":" .. n end
    io.write(string.format("PEERS sent=%d bodies=%d codes=%s\n", t:get("i"), t:get("nbodies"),
                           table.concat(parts, ",")))
  end
end
