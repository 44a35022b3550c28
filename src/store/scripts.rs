//! The store's Lua scripts, hashed once at start (sent by their SHA, the
//! body only on a miss). Each runs atomically inside Redis.

/// Lua scripts, hashed once.
pub(super) struct Scripts {
    /// `requests_per_minute` as GCRA (`rate.rs`).
    pub(super) gcra: redis::Script,
    /// The lock's compare-and-delete (`lock.rs`).
    pub(super) unlock: redis::Script,
    /// A write only while the lock is ours, setting its expiry first (`lock.rs`).
    pub(super) fenced_set: redis::Script,
    /// The lock's expiry set again while it is ours (`lock.rs`).
    pub(super) extend: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        Scripts {
            gcra: redis::Script::new(GCRA),
            unlock: redis::Script::new(UNLOCK),
            fenced_set: redis::Script::new(FENCED_SET),
            extend: redis::Script::new(EXTEND),
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

/// KEYS: the lock, the value; ARGV: owner, ttl ms, value. The lock's expiry
/// is set before the write, so a refused write still shortens it.
const FENCED_SET: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return 1
";

/// Sets `KEYS[1]`'s expiry to `ARGV[2]` ms only while it holds `ARGV[1]`.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";
