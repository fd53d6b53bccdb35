-- wrk script of the HTTP benchmarks in this folder: replays prepared requests, each thread its own file.
--
--   wrk -t T -c C -d 15s -s tests/bench/replay.lua http://127.0.0.1:PORT -- <requests prefix>
--
-- <requests prefix>.<thread number> holds one request per line, its fields separated by tabs:
-- method, path, any number of "Name: value" headers, and the body last (empty for none). Bodies
-- are JSON or form-encoded, so they hold no tab or newline. A thread sends its lines in order and
-- starts over when it runs out. done() prints one line "REPLAY-BENCH {json}" with, per thread,
-- the requests issued and the answers by status, and wrk's latency percentiles in microseconds.

local threads = {}
local count = 0

function setup(thread)
  thread:set("number", count)
  count = count + 1
  table.insert(threads, thread)
end

local function fields(line)
  local out, start = {}, 1
  while true do
    local tab = string.find(line, "\t", start, true)
    if not tab then
      out[#out + 1] = string.sub(line, start)
      return out
    end
    out[#out + 1] = string.sub(line, start, tab - 1)
    start = tab + 1
  end
end

function init(args)
  requests = {}
  for line in io.lines(args[1] .. "." .. number) do
    local f = fields(line)
    local headers = {}
    for i = 3, #f - 1 do
      local name, value = string.match(f[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    local body = f[#f]
    if body == "" then
      body = nil
    end
    requests[#requests + 1] = wrk.format(f[1], f[2], headers, body)
  end
  issued = 0
  statuses = {}
end

function request()
  issued = issued + 1
  return requests[(issued - 1) % #requests + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local rows = {}
  for _, thread in ipairs(threads) do
    local counts = {}
    for status, n in pairs(thread:get("statuses")) do
      counts[#counts + 1] = string.format('"%d": %d', status, n)
    end
    rows[#rows + 1] = string.format(
      '{"number": %d, "issued": %d, "statuses": {%s}}',
      thread:get("number"), thread:get("issued"), table.concat(counts, ", ")
    )
  end
  local errors = summary.errors
  io.write(string.format(
    'REPLAY-BENCH {"threads": [%s], "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    table.concat(rows, ", "), summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
