//! The store's Lua scripts, hashed once at start (sent by their SHA, the
//! body only on a miss). Each runs atomically inside Redis.

/// Lua scripts, hashed once.
pub(super) struct Scripts {
    /// `requests_per_minute` as GCRA (`rate.rs`).
    pub(super) gcra: redis::Script,
    /// The lock's compare-and-delete (`lock.rs`).
    pub(super) unlock: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        Scripts {
            gcra: redis::Script::new(GCRA),
            unlock: redis::Script::new(UNLOCK),
        }
    }
}

/// GCRA on Redis' own clock (the same for every replica): `KEYS[1]` holds
/// the theoretical arrival time in ms; `ARGV`: the interval and the burst,
/// in ms. Returns 0 when allowed, else the ms to wait.
const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if allow_at > now then
  return allow_at - now
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
return 0
";

/// Deletes `KEYS[1]` only while it holds `ARGV[1]` (the owner's token).
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";
