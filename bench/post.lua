-- wrk script: POST the JSON body held in the file named by BENCH_BODY_FILE, and when the run is
-- done print one line "BENCH_JSON {...}" with the counts, errors and latency percentiles (in µs).
local path = os.getenv("BENCH_BODY_FILE")
local file = assert(io.open(path, "rb"), "BENCH_BODY_FILE must name a readable file")
wrk.method = "POST"
wrk.body = file:read("*a")
wrk.headers["Content-Type"] = "application/json"
file:close()

local function finite(x)
  if x ~= x or x == math.huge or x == -math.huge then
    return 0
  end
  return x
end

function done(summary, latency, requests)
  local e = summary.errors
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format(
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
      e.connect, e.read, e.write, e.status, e.timeout
    ),
    string.format(
      '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, '
        .. '"p50": %d, "p90": %d, "p99": %d, "p99_9": %d}',
      finite(latency.min), finite(latency.mean), finite(latency.stdev), finite(latency.max),
      finite(latency:percentile(50)), finite(latency:percentile(90)),
      finite(latency:percentile(99)), finite(latency:percentile(99.9))
    ),
  }
  io.write("BENCH_JSON {" .. table.concat(fields, ", ") .. "}\n")
end
