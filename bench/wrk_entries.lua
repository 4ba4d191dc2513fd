-- wrk script for bench/bench_server.py --wrk: POSTs pre-signed hashedrekord bodies,
-- one per line of $REKOR_PY_BENCH_BODIES, each at most once (run wrk with -t1 so one
-- Lua state walks the list); non-2xx answers are counted by wrk and reported.
local bodies = {}
for line in io.lines(os.getenv("REKOR_PY_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
local headers = { ["Content-Type"] = "application/json" }
-- /api/v1/log/entries, or /api/v2/log/entries for Rekor v2 request bodies.
local path = os.getenv("REKOR_PY_BENCH_PATH") or "/api/v1/log/entries"

request = function()
  i = i + 1
  if i > #bodies then
    -- Out of fresh entries: repeat the last one (answers 409, counted as errors).
    return wrk.format("POST", path, headers, bodies[#bodies])
  end
  return wrk.format("POST", path, headers, bodies[i])
end
