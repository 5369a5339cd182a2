-- The bucket of Policy.step (ratelimit.go), for Redis: one key whose value
-- is the bucket's tat, in microseconds since the Unix epoch. Redis runs a
-- script alone, so instances that share the key cannot both take its last
-- token.
--
-- KEYS[1]: the bucket.
-- ARGV: now, refill, window (burst times refill) and the maximum penalty, in
-- microseconds.
-- Returns {allowed (1 or 0), wait in microseconds}.
local now = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local max_penalty = tonumber(ARGV[4])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local allowed, wait = 0, 0
if tat - now <= window - refill then
  tat = tat + refill
  allowed = 1
else
  wait = tat + refill - window - now
  local w = math.min(2 * wait, max_penalty)
  if w > wait then
    wait = w
    tat = now + wait + window - refill
  end
end
-- The key lives until the bucket is full again, when it is the same as no
-- key. '%d', because Lua would print a number this large with an exponent.
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return {allowed, wait}
