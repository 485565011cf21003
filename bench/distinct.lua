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

-- The RESULT line: bench/report.lua, found beside this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
