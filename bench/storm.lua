-- wrk script for the storm: unique legacy HostDown posts (`wrk ... -- <run>`); the
-- harness stops wrk with SIGINT once the storm is stored.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  ok = 0
  other = 0
  prefix = string.format("%08x", tonumber(args[1] or "0") % 0x100000000)
end

function request()
  n = n + 1
  local server = string.format("%s-%04x-4535-a7ec-%012x", prefix, tid, n)
  local body = "event=OnHostDown&message=Instance+" .. server ..
    "+%2854.211.17.89%29+Internal+IP%3A+10.183.42.7+terminated"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function response(status, headers, body)
  if status == 202 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local accepted, refused = 0, 0
  for _, t in ipairs(threads) do
    accepted = accepted + t:get("ok")
    refused = refused + t:get("other")
  end
  io.write(string.format("BENCH accepted=%d refused=%d requests=%d\n",
    accepted, refused, summary.requests))
end
