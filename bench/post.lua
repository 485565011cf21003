-- wrk script: POST the AdmissionReview in $SIGNET_REVIEW to /validate, and print p50/p99/p99.9.
local f = assert(io.open(os.getenv("SIGNET_REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- $SIGNET_PACE_MS: each connection waits this long after an answer before its next request, so
-- 64 connections offer a fixed load below saturation instead of as much as the server takes.
local pace = tonumber(os.getenv("SIGNET_PACE_MS") or "")
if pace then
  function delay()
    return pace
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d p999_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
