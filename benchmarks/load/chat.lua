-- wrk script: POST a small, realistic non-streaming chat completion body.
-- Env: BENCH_MODEL (default mock-model), BENCH_API_KEY (default sk-bench),
--      BENCH_BODY (optional: the whole JSON body, overrides the default).
-- done() prints one line "WRKJSON {...}" that benchmarks/run.py parses.
local model = os.getenv("BENCH_MODEL") or "mock-model"
local key = os.getenv("BENCH_API_KEY") or "sk-bench"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = os.getenv("BENCH_BODY") or (
  '{"model":"' .. model .. '","stream":false,"max_tokens":64,"temperature":0.7,' ..
  '"messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Write one sentence about a quick brown fox that jumps over a lazy dog."}]}')

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_stdev_us":%.1f,"lat_min_us":%d,"lat_max_us":%d,' ..
    '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
