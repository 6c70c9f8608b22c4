-- Shared by order.lua and ping.lua (loaded with dofile): counts the
-- answers whose status is not `expected_status`, and done() prints one
-- line "BENCH_JSON {...}" that bench/run.py reads.

local threads = {}

-- Globals of each thread's Lua state, read back by done().
bad = 0
bad_sample = ""

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function response(status, headers, body)
   if status ~= expected_status then
      bad = bad + 1
      if bad_sample == "" then
         bad_sample = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function json_string(text)
   local escaped = string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
   local nbad, sample = 0, ""
   for _, thread in ipairs(threads) do
      nbad = nbad + (thread:get("bad") or 0)
      local s = thread:get("bad_sample")
      if sample == "" and s then
         sample = s
      end
   end
   local e = summary.errors
   local parts = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"bad_status":%d', nbad),
      string.format(
         '"socket_errors":{"connect":%d,"read":%d,"write":%d,'
            .. '"timeout":%d,"status":%d}',
         e.connect, e.read, e.write, e.timeout, e.status
      ),
      string.format(
         '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,'
            .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
         latency.mean, latency.stdev, latency.min, latency.max,
         latency:percentile(50), latency:percentile(90),
         latency:percentile(99), latency:percentile(99.9)
      ),
      '"bad_sample":' .. json_string(sample),
   }
   io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
