-- wrk at a steady rate: each connection waits DELAY_MS (default 5) before
-- each request, and every request has a URI of its own (wrk.path .. n), so
-- a lost or duplicated pair shows in the comparison with the access log.
-- Use with -t1: the counter lives in the thread's Lua state.
local n = 0
local delay_ms = tonumber(os.getenv("DELAY_MS") or "5")

request = function()
	n = n + 1
	return wrk.format("GET", wrk.path .. n)
end

delay = function()
	return delay_ms
end
