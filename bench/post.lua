-- wrk script: POST the AdmissionReview in $SIGNET_REVIEW to /validate, and print p50/p99/p99.9.
local f = assert(io.open(os.getenv("SIGNET_REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- $SIGNET_PACE_MS: each connection waits this long on average after an answer before its next
-- request, so 64 connections offer a fixed load below saturation instead of as much as the
-- server takes. The wait is drawn from 0..2x the mean: a fixed wait keeps connections in step
-- on wrk's millisecond timer, and they would arrive in bursts of dozens at once.
local pace = tonumber(os.getenv("SIGNET_PACE_MS") or "")
if pace then
  math.randomseed(os.time())
  function delay()
    return math.random(0, 2 * pace)
  end
end

-- The RESULT line: bench/report.lua, found beside this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
