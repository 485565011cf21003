-- wrk script: POST the AdmissionReview template in $SIGNET_REVIEW with "@DIGEST@" replaced by
-- a new 64-hex digest per request (counting from $SIGNET_OFFSET), so every review names an image
-- no cache holds; after $SIGNET_DISTINCT digests it starts over (cache hits from then on).
-- Run with one thread (-t1) so the counter is shared. Prints the same RESULT line as post.lua.
local f = assert(io.open(os.getenv("SIGNET_REVIEW"), "rb"))
local template = f:read("*a")
f:close()
local counter = tonumber(os.getenv("SIGNET_OFFSET") or "0")
local distinct = tonumber(os.getenv("SIGNET_DISTINCT") or "1000000000")
local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local n = ((counter - 1) % distinct) + 1
  local body = template:gsub("@DIGEST@", string.format("%064x", n))
  return wrk.format("POST", "/validate", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d p999_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
