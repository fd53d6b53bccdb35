-- wrk script of tests/bench/webhook.py: posts pre-signed webhook bodies, each thread its own file.
--
--   wrk -t T -c C -d 15s -s tests/bench/webhook.lua http://127.0.0.1:PORT -- <bodies prefix> <path>
--
-- <bodies prefix>.<thread number> holds one body per line: "<X-Line-Signature> <JSON>". A thread
-- posts its lines in order (starting over if it runs out). done() prints one line
-- "WEBHOOK-BENCH {json}" with, per thread, the requests issued and the answers by status, and
-- wrk's latency percentiles in microseconds.

local threads = {}
local count = 0

function setup(thread)
  thread:set("number", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix, path = args[1], args[2]
  requests = {}
  for line in io.lines(prefix .. "." .. number) do
    local signature, body = line:match("^(%S+) (.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Line-Signature"] = signature,
    }, body)
  end
  issued, ok, other = 0, 0, 0
end

function request()
  issued = issued + 1
  return requests[(issued - 1) % #requests + 1]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local rows = {}
  for _, thread in ipairs(threads) do
    rows[#rows + 1] = string.format(
      '{"number": %d, "issued": %d, "ok": %d, "other": %d}',
      thread:get("number"), thread:get("issued"), thread:get("ok"), thread:get("other")
    )
  end
  local errors = summary.errors
  io.write(string.format(
    'WEBHOOK-BENCH {"threads": [%s], "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    table.concat(rows, ", "), summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
