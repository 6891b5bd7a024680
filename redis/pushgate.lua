#!lua name=pushgate
-- Pushgate's Redis functions. The gateway loads this library (FUNCTION LOAD REPLACE) when it
-- connects; any backend can then call the functions by name, e.g.
--   redis-cli FCALL pushgate_publish 3 'pushgate:{abc}:stream' 'pushgate:{abc}:meta' '' abc 'hello' '' 1000 86400000 0
-- Keys carry the channel in a hash tag ({abc}), so a channel's keys live on one Cluster slot:
-- every call touches the keys of one channel only.

-- pushgate_publish: keep a message in the channel's capped stream, then PUBLISH it with its id
-- (SPUBLISH in a Redis Cluster, where the gateway subscribes with SSUBSCRIBE).
--   KEYS[1]  the channel's stream: pushgate:{<channel>}:stream
--   KEYS[2]  the channel's meta hash pushgate:{<channel>}:meta: `trimmed`, the newest id the caps
--            removed, and `last`, the newest id published (they tell a resuming client of a gap)
--   KEYS[3]  the idempotency key pushgate:{<channel>}:idem:<key>; '' or left out for none (in a
--            cluster leave it out: '' is a key of another slot)
--   ARGV[1]  channel          ARGV[2]  data (any bytes)     ARGV[3]  event name or ''
--   ARGV[4]  history length (entries kept, at least 1)      ARGV[5]  history age in ms (0: no age bound)
--   ARGV[6]  idempotency window in ms (used with KEYS[3])
--   ARGV[7]  'SPUBLISH' in a Redis Cluster; 'PUBLISH' or left out otherwise
--   reply    { id, subscribers, duplicate }: the message id (the stream entry id, from Redis's
--            clock, monotonic per channel), how many Redis subscriptions received it, and 1 when
--            the idempotency key had been seen (nothing stored or sent again; id is the first one's)
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

local function older(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

local function publish(keys, args)
  local stream, meta, idem = keys[1], keys[2], keys[3] or ''
  local channel, data, event = args[1], args[2], args[3]
  local length, age_ms, idem_ms = tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  if idem ~= '' then
    local first = redis.call('GET', idem)
    if first then
      return { first, 0, 1 }
    end
  end
  local trimmed
  local kept = redis.call('XLEN', stream)
  if kept >= length then
    -- entries the length cap is about to remove: remember the newest of them
    local doomed = redis.call('XRANGE', stream, '-', '+', 'COUNT', kept + 1 - length)
    trimmed = doomed[#doomed][1]
  elseif kept == 0 then
    -- a new channel, or one whose whole history expired: everything up to its last id is gone
    trimmed = redis.call('HGET', meta, 'last') or nil
  end
  local id = redis.call('XADD', stream, 'MAXLEN', length, '*', 'd', data, 'e', event)
  if age_ms > 0 then
    local min_id = tostring(now_ms() - age_ms) .. '-0'
    -- the oldest entry first: XREVRANGE from an id older than every entry walks the whole stream
    -- (150 µs a call at 1,000 entries, against 5 for this)
    local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1][1]
    if older(oldest, min_id) then
      trimmed = redis.call('XREVRANGE', stream, '(' .. min_id, '-', 'COUNT', 1)[1][1]
      redis.call('XTRIM', stream, 'MINID', min_id)
    end
  end
  if trimmed then
    redis.call('HSET', meta, 'trimmed', trimmed, 'last', id)
  else
    redis.call('HSET', meta, 'last', id)
  end
  if age_ms > 0 then
    -- an unused channel's history disappears with its age; its meta a while later, so a client
    -- returning after that still learns that what it missed is gone
    redis.call('PEXPIRE', stream, age_ms)
    redis.call('PEXPIRE', meta, age_ms * 2)
  end
  if idem ~= '' then
    redis.call('SET', idem, id, 'PX', idem_ms)
  end
  local command = args[7] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
  local subscribers = redis.call(command, channel, '\30PG1\31' .. id .. '\31' .. event .. '\31' .. data)
  return { id, subscribers, 0 }
end

-- pushgate_ack: move a user's read position on a channel forward (never back), to an id the
-- channel has had.
--   KEYS[1]  the channel's read positions: pushgate:{<channel>}:read (a hash: user -> id)
--   KEYS[2]  the channel's meta hash pushgate:{<channel>}:meta (its `last`: the newest id published)
--   ARGV[1]  channel          ARGV[2]  id read up to (inclusive)     ARGV[3]  user
--   reply    the read position after the call; or, when `id` is newer than the channel's last
--            id (with no `last`: than Redis's clock), the error "INVALID id <id> is newer than ..."
--            and nothing changes (an older id, even 1-0, is fine: it moves nothing)
local function ack(keys, args)
  local positions, meta, channel, id, user = keys[1], keys[2], args[1], args[2], args[3]
  local last = redis.call('HGET', meta, 'last')
  if last then
    if older(last, id) then
      return redis.error_reply('INVALID id ' .. id .. ' is newer than the last message of ' .. channel .. ' (' .. last .. ')')
    end
  elseif not older(id, tostring(now_ms()) .. '-0') then
    return redis.error_reply('INVALID id ' .. id .. ' is newer than any message of ' .. channel)
  end
  local current = redis.call('HGET', positions, user)
  if current and not older(current, id) then
    return current
  end
  redis.call('HSET', positions, user, id)
  return id
end

-- pushgate_history: what a subscriber resuming after `after` has missed.
--   KEYS[1]  the channel's stream     KEYS[2]  the channel's meta hash
--   ARGV[1]  the id to resume after ('0-0': from the oldest kept), or '' with ARGV[2] = N for the last N
--   ARGV[2]  at most this many entries
--   ARGV[3]  the channel's history age in ms (0: no age bound)
--   reply    { gap, entries }: gap is 1 when messages after `after` are no longer kept (trimmed
--            by the caps, or expired with the whole history); entries are { id, data, event },
--            oldest first
local function history(keys, args)
  local stream, meta = keys[1], keys[2]
  local after, count, age_ms = args[1], tonumber(args[2]), tonumber(args[3])
  local raw
  local gap = 0
  if after == '' then
    raw = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', count)
    local ordered = {}
    for i = #raw, 1, -1 do
      ordered[#ordered + 1] = raw[i]
    end
    raw = ordered
  else
    local trimmed, last = unpack(redis.call('HMGET', meta, 'trimmed', 'last'))
    if redis.call('EXISTS', stream) == 0 then
      if last then
        if older(after, last) then gap = 1 end
      elseif after ~= '0-0' and age_ms > 0 and tonumber(string.match(after, '^(%d+)')) < now_ms() - age_ms then
        gap = 1 -- older than any history could be, and nothing is known any more
      end
    elseif trimmed and older(after, trimmed) then
      gap = 1
    end
    raw = redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', count)
  end
  local entries = {}
  for i = 1, #raw do
    local fields = raw[i][2]
    local data, event = '', ''
    for f = 1, #fields, 2 do
      if fields[f] == 'd' then data = fields[f + 1] elseif fields[f] == 'e' then event = fields[f + 1] end
    end
    entries[i] = { raw[i][1], data, event }
  end
  return { gap, entries }
end

-- pushgate_unread: how many kept messages of a channel come after a user's read position.
--   KEYS[1]  the channel's stream     KEYS[2]  the channel's read positions pushgate:{<channel>}:read
--   ARGV[1]  user                     ARGV[2]  count at most this many
--   reply    the number of unread messages
local function unread(keys, args)
  local position = redis.call('HGET', keys[2], args[1]) or '0-0'
  return #redis.call('XRANGE', keys[1], '(' .. position, '+', 'COUNT', tonumber(args[2]))
end

redis.register_function('pushgate_publish', publish)
redis.register_function('pushgate_ack', ack)
redis.register_function('pushgate_history', history)
redis.register_function{ function_name = 'pushgate_unread', callback = unread, flags = { 'no-writes' } }

-- Presence. Every live connection is an entry that expires unless its gateway refreshes it (every
-- 10 s; entries live ~25 s), so the connections of a gateway that dies drop out by themselves.
-- Scores are expiry times in ms (Redis's clock). Keys, the channel's in its hash tag, the user's
-- in theirs, so each function touches one slot:
--   pushgate:{<channel>}:pconn          zset  connection id -> expiry
--   pushgate:{<channel>}:puser          zset  user -> expiry (the latest of the user's connections,
--                                             or the end of the grace after the last one left)
--   pushgate:{<channel>}:puser:<user>   zset  that user's connection ids in the channel -> expiry
--   pushgate:user:{<user>}:conns        zset  the user's connection ids on every gateway -> expiry
--   pushgate:user:{<user>}:seen         string  when the user was last seen connected (ms)
-- Join and leave go to the channel as envelopes without an id and with the event join or leave:
-- "\x1ePG1\x1f\x1f<join|leave>\x1f{"channel":"<channel>","user":"<user>"}"; streams send them as notices.

local function presence_notice(channel, kind, user, command)
  local text = '{"channel":' .. cjson.encode(channel) .. ',"user":' .. cjson.encode(user) .. '}'
  redis.call(command == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', channel, '\30PG1\31\31' .. kind .. '\31' .. text)
end

-- pushgate_presence_join: add or refresh a connection of a channel.
--   KEYS[1]  pconn     KEYS[2]  puser     KEYS[3]  puser:<user> ('' for an anonymous connection)
--   ARGV[1]  connection id    ARGV[2]  user ('' for anonymous)    ARGV[3]  ttl in ms
--   ARGV[4]  channel, or '' for no join notice
--   ARGV[5]  'SPUBLISH' in a Redis Cluster (the channel's slot is its keys' slot); 'PUBLISH' or left out otherwise
--   reply    1 when the user was not present in the channel (a join), else 0
local function presence_join(keys, args)
  local now = now_ms()
  local expiry = now + tonumber(args[3])
  redis.call('ZADD', keys[1], expiry, args[1])
  redis.call('PEXPIRE', keys[1], tonumber(args[3]) * 2)
  if args[2] == '' then
    return 0
  end
  local before = tonumber(redis.call('ZSCORE', keys[2], args[2]))
  redis.call('ZADD', keys[3], expiry, args[1])
  redis.call('PEXPIRE', keys[3], tonumber(args[3]) * 2)
  redis.call('ZADD', keys[2], 'GT', expiry, args[2])
  redis.call('PEXPIRE', keys[2], tonumber(args[3]) * 2)
  if before == nil or before < now then
    if args[4] ~= '' then
      presence_notice(args[4], 'join', args[2], args[5])
    end
    return 1
  end
  return 0
end

-- pushgate_presence_refresh: refresh many anonymous connections of a channel at once (a
-- gateway's periodic refresh: one call per channel, not one per connection; nothing to notify).
--   KEYS[1]  pconn     ARGV[1]  ttl in ms      ARGV[2..]  connection ids
--   reply    how many connections were refreshed
local function presence_refresh(keys, args)
  local ttl = tonumber(args[1])
  local expiry = now_ms() + ttl
  local members = {}
  for i = 2, #args do
    members[#members + 1] = expiry
    members[#members + 1] = args[i]
  end
  if #members > 0 then
    redis.call('ZADD', keys[1], unpack(members))
    redis.call('PEXPIRE', keys[1], ttl * 2)
  end
  return #args - 1
end

-- pushgate_presence_leave: remove a connection of a channel. A user whose last connection left
-- stays present for the grace, so a reconnect is neither a leave nor a join; settle decides after.
--   KEYS[1..3] as pushgate_presence_join      ARGV[1] connection id   ARGV[2] user   ARGV[3] grace in ms
--   reply    1 when the user has no other connection in the channel (settle after the grace), else 0
local function presence_leave(keys, args)
  redis.call('ZREM', keys[1], args[1])
  if args[2] == '' then
    return 0
  end
  local now = now_ms()
  redis.call('ZREM', keys[3], args[1])
  redis.call('ZREMRANGEBYSCORE', keys[3], '-inf', now)
  if redis.call('ZCARD', keys[3]) > 0 then
    return 0
  end
  if redis.call('ZSCORE', keys[2], args[2]) then
    redis.call('ZADD', keys[2], now + tonumber(args[3]), args[2])
  end
  return 1
end

-- pushgate_presence_settle: after the grace, a user still without a connection in the channel has left.
--   KEYS[1]  puser     KEYS[2]  puser:<user>      ARGV[1]  user    ARGV[2]  channel, or '' for no leave notice
--   ARGV[3]  'SPUBLISH' in a Redis Cluster; 'PUBLISH' or left out otherwise
--   reply    1 when the user left (removed now: once, whichever gateway settles first), else 0
local function presence_settle(keys, args)
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', keys[2], '-inf', now)
  if redis.call('ZCARD', keys[2]) > 0 then
    return 0
  end
  if redis.call('ZREM', keys[1], args[1]) == 0 then
    return 0
  end
  if args[2] ~= '' then
    presence_notice(args[2], 'leave', args[1], args[3])
  end
  return 1
end

-- pushgate_presence_channel: who is in a channel, expired entries removed first.
--   KEYS[1]  pconn     KEYS[2]  puser     ARGV[1]  offset into the users   ARGV[2]  at most this many users
--   reply    { connections, users, { user ids of the page, by name } }
local function presence_channel(keys, args)
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', keys[2], '-inf', now)
  local users = redis.call('ZRANGE', keys[2], 0, -1)
  table.sort(users)
  local page = {}
  local offset, limit = tonumber(args[1]), tonumber(args[2])
  for i = offset + 1, math.min(#users, offset + limit) do
    page[#page + 1] = users[i]
  end
  return { redis.call('ZCARD', keys[1]), #users, page }
end

-- pushgate_presence_user: add, refresh or remove a connection of a user, or only read.
--   KEYS[1]  pushgate:user:{<user>}:conns   KEYS[2]  pushgate:user:{<user>}:seen
--   ARGV[1]  'join', 'leave' or 'read'      ARGV[2]  connection id   ARGV[3]  ttl in ms
--   reply    { connections on every gateway, last seen (ms; 0: never) }
local function presence_user(keys, args)
  local now = now_ms()
  if args[1] == 'join' then
    redis.call('ZADD', keys[1], now + tonumber(args[3]), args[2])
    redis.call('PEXPIRE', keys[1], tonumber(args[3]) * 2)
  elseif args[1] == 'leave' then
    redis.call('ZREM', keys[1], args[2])
  end
  redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)
  local count = redis.call('ZCARD', keys[1])
  if args[1] ~= 'read' then
    redis.call('SET', keys[2], now)
  end
  local seen = tonumber(redis.call('GET', keys[2]) or '0')
  if count > 0 then
    seen = now
  end
  return { count, seen }
end

redis.register_function('pushgate_presence_join', presence_join)
redis.register_function('pushgate_presence_refresh', presence_refresh)
redis.register_function('pushgate_presence_leave', presence_leave)
redis.register_function('pushgate_presence_settle', presence_settle)
redis.register_function('pushgate_presence_channel', presence_channel)
redis.register_function('pushgate_presence_user', presence_user)

-- Offline and unread events for backends: entries of the capped stream pushgate:events, read with
-- a consumer group (XREADGROUP). Each occurrence is claimed once, atomically, by whichever gateway
-- sweeps first: the claim removes the due entry and appends the event in one call. The keys share
-- the stream's cluster slot (the hash tag {pushgate:events} hashes as the plain key pushgate:events):
--   pushgate:events                     stream  type offline: user, at, lastSeen; type unread: user, channel, id, at
--   {pushgate:events}:offline           zset    user -> when the user counts as offline (ms) unless back
--   {pushgate:events}:unread            zset    '<channel> <id>' -> when the inbox message counts as unread (ms)

-- pushgate_events_due: users seen connected, or whose connection on a gateway just ended.
--   KEYS[1]  {pushgate:events}:offline
--   ARGV     triples op, user, delay in ms: 'up' moves the user's due time to now + delay unless
--            it is later already (a live connection: its expiry plus the grace); 'down' sets it to
--            now + delay (the grace after a user's last connection on this gateway ended)
--   reply    the number of triples
local function events_due(keys, args)
  local now = now_ms()
  for i = 1, #args - 2, 3 do
    local due = now + tonumber(args[i + 2])
    if args[i] == 'up' then
      redis.call('ZADD', keys[1], 'GT', due, args[i + 1]) -- GT adds a new user too
    else
      redis.call('ZADD', keys[1], due, args[i + 1])
    end
  end
  return #args / 3
end

-- pushgate_events_unread_due: inbox messages to check for being read, each due `delay` after it
-- was published (its id's time).
--   KEYS[1]  {pushgate:events}:unread       ARGV[1]  delay in ms     ARGV[2..]  '<channel> <id>'
--   reply    the number of messages
local function events_unread_due(keys, args)
  local delay = tonumber(args[1])
  for i = 2, #args do
    local ms = tonumber(string.match(args[i], ' (%d+)%-%d+$'))
    redis.call('ZADD', keys[1], 'NX', ms + delay, args[i])
  end
  return #args - 1
end

-- pushgate_events_pending: what is due now (Redis's clock), for a sweep.
--   KEYS[1]  {pushgate:events}:offline      KEYS[2]  {pushgate:events}:unread     ARGV[1]  at most this many of each
--   reply    { { user, due, ... }, { '<channel> <id>', due, ... } }
local function events_pending(keys, args)
  local now = now_ms()
  local limit = tonumber(args[1])
  return {
    redis.call('ZRANGEBYSCORE', keys[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit),
    redis.call('ZRANGEBYSCORE', keys[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit),
  }
end

-- pushgate_events_offline: claims a due user: the offline event, once.
--   KEYS[1]  {pushgate:events}:offline      KEYS[2]  pushgate:events
--   ARGV[1]  user     ARGV[2]  the due time the sweep read (the claim holds only if it is unchanged)
--   ARGV[3]  the user's connections on every gateway, as the sweep found them just before
--   ARGV[4]  last seen (ms)     ARGV[5]  the stream's length (MAXLEN ~)    ARGV[6]  delay in ms
--            before looking again at a user still connected
--   reply    1 when the event was appended, else 0
local function events_offline(keys, args)
  local due = redis.call('ZSCORE', keys[1], args[1])
  if not due or tonumber(due) ~= tonumber(args[2]) then
    return 0 -- back meanwhile (a join moved it), or claimed by another gateway
  end
  local now = now_ms()
  if tonumber(args[3]) > 0 then
    redis.call('ZADD', keys[1], now + tonumber(args[6]), args[1])
    return 0
  end
  redis.call('ZREM', keys[1], args[1])
  redis.call('XADD', keys[2], 'MAXLEN', '~', tonumber(args[5]), '*', 'type', 'offline', 'user', args[1], 'at', now, 'lastSeen', args[4])
  return 1
end

-- pushgate_events_unread: claims a due inbox message: the unread event, once, unless it was read.
--   KEYS[1]  {pushgate:events}:unread       KEYS[2]  pushgate:events
--   ARGV[1]  '<channel> <id>'   ARGV[2]  user   ARGV[3]  '1' when the user has read it (the sweep
--   looked just before)    ARGV[4]  the stream's length (MAXLEN ~)
--   reply    1 when the event was appended, else 0
local function events_unread(keys, args)
  if redis.call('ZREM', keys[1], args[1]) == 0 or args[3] == '1' then
    return 0
  end
  local channel, id = string.match(args[1], '^(%S+) (%S+)$')
  redis.call('XADD', keys[2], 'MAXLEN', '~', tonumber(args[4]), '*', 'type', 'unread', 'user', args[2], 'channel', channel, 'id', id, 'at', now_ms())
  return 1
end

redis.register_function('pushgate_events_due', events_due)
redis.register_function('pushgate_events_unread_due', events_unread_due)
redis.register_function{ function_name = 'pushgate_events_pending', callback = events_pending, flags = { 'no-writes' } }
redis.register_function('pushgate_events_offline', events_offline)
redis.register_function('pushgate_events_unread', events_unread)

-- pushgate_history_page: a page of a channel's kept messages, for the server API.
--   KEYS[1]  the channel's stream
--   ARGV[1]  only ids after this one ('' for no bound)     ARGV[2]  only ids before this one ('' for no bound)
--   ARGV[3]  at most this many      ARGV[4]  '1': newest first, else oldest first
--   reply    { { id, data, event }, ... }
local function history_page(keys, args)
  local low = args[1] == '' and '-' or '(' .. args[1]
  local high = args[2] == '' and '+' or '(' .. args[2]
  local entries
  if args[4] == '1' then
    entries = redis.call('XREVRANGE', keys[1], high, low, 'COUNT', tonumber(args[3]))
  else
    entries = redis.call('XRANGE', keys[1], low, high, 'COUNT', tonumber(args[3]))
  end
  local page = {}
  for i, entry in ipairs(entries) do
    local fields = entry[2]
    local data, event = '', ''
    for f = 1, #fields, 2 do
      if fields[f] == 'd' then
        data = fields[f + 1]
      elseif fields[f] == 'e' then
        event = fields[f + 1]
      end
    end
    page[i] = { entry[1], data, event }
  end
  return page
end

redis.register_function{ function_name = 'pushgate_history_page', callback = history_page, flags = { 'no-writes' } }

-- Acting on users (src/store/control.ts, src/store/admission.ts): the control stream every
-- gateway reads, the revocations a connect is checked against, the connection slots of the
-- per-user cap and the connect-rate windows. The control keys share the {control} hash tag: one
-- Cluster slot. A user's keys carry the user in a hash tag: one slot per user.

-- Prunes revocations kept past their time: the hash field and its entry in the `until` set.
local function prune_revocations(hash, untils, now)
  local gone = redis.call('ZRANGEBYSCORE', untils, '-inf', now, 'LIMIT', 0, 100)
  for _, field in ipairs(gone) do
    redis.call('HDEL', hash, field)
    redis.call('ZREM', untils, field)
  end
end

-- pushgate_control_send: an order for every gateway: end a user's streams, or revoke tokens.
--   KEYS[1]  the control stream pushgate:{control}     KEYS[2]  revocations pushgate:{control}:revoked (hash)
--   KEYS[3]  their end times pushgate:{control}:until (sorted set, ms)
--   ARGV[1]  'disconnect', 'jti' (revoke one token) or 'before' (revoke a user's tokens issued before a time)
--   ARGV[2]  the user (disconnect, before) or the token id (jti)
--   ARGV[3]  disconnect: the reason told to the client; before: the time (s since the epoch)
--   ARGV[4]  disconnect: '1' when the client may reconnect, else '0'
--   ARGV[5]  revocations are kept this long (ms)      ARGV[6]  the stream keeps about this many entries
--   reply    the control stream entry's id
local function control_send(keys, args)
  local stream, hash, untils = keys[1], keys[2], keys[3]
  local kind, target, a, b = args[1], args[2], args[3], args[4]
  local now = now_ms()
  if kind == 'jti' or kind == 'before' then
    local field = (kind == 'jti' and 'jti:' or 'user:') .. target
    local value = a
    if kind == 'before' then
      local old = tonumber(redis.call('HGET', hash, field) or '')
      if old ~= nil and old > tonumber(a) then
        value = tostring(old)
      end
    end
    redis.call('HSET', hash, field, value)
    redis.call('ZADD', untils, now + tonumber(args[5]), field)
    prune_revocations(hash, untils, now)
  end
  return redis.call('XADD', stream, 'MAXLEN', '~', tonumber(args[6]), '*', 'k', kind, 't', target, 'a', a, 'b', b)
end

-- pushgate_control_read: the orders after a given id.
--   KEYS[1]  the control stream      ARGV[1]  the last id read      ARGV[2]  at most this many
--   reply    { { id, kind, target, a, b }, ... }
local function control_read(keys, args)
  local entries = redis.call('XRANGE', keys[1], '(' .. args[1], '+', 'COUNT', tonumber(args[2]))
  local orders = {}
  for i, entry in ipairs(entries) do
    local fields, order = entry[2], { entry[1], '', '', '', '' }
    for f = 1, #fields, 2 do
      local name = fields[f]
      local at = name == 'k' and 2 or name == 't' and 3 or name == 'a' and 4 or name == 'b' and 5 or nil
      if at ~= nil then
        order[at] = fields[f + 1]
      end
    end
    orders[i] = order
  end
  return orders
end

-- pushgate_control_snapshot: the revocations in force and the control stream's newest id, read
-- together so that a worker starting misses nothing between the two.
--   KEYS[1..3] as pushgate_control_send
--   reply    { newest id ('0-0' when empty), { field, value, ... } } with fields 'jti:<id>' (value '1')
--            and 'user:<user>' (value: tokens issued before this time, s, are revoked)
local function control_snapshot(keys, args)
  local stream, hash, untils = keys[1], keys[2], keys[3]
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  local id = newest[1] ~= nil and newest[1][1] or '0-0'
  local fields = redis.call('ZRANGEBYSCORE', untils, '(' .. now_ms(), '+inf')
  local pairs_ = {}
  for _, field in ipairs(fields) do
    local value = redis.call('HGET', hash, field)
    if value then
      pairs_[#pairs_ + 1] = field
      pairs_[#pairs_ + 1] = value
    end
  end
  return { id, pairs_ }
end

-- Counts a connect in a fixed window; returns the ms until the window frees when over `limit`, else 0.
local function count_connect(key, limit, window_ms, now)
  local window = math.floor(now / window_ms)
  local count = redis.call('HINCRBY', key, window, 1)
  if count == 1 then
    redis.call('PEXPIRE', key, window_ms * 2)
    for _, old in ipairs(redis.call('HKEYS', key)) do
      if tonumber(old) ~= window then
        redis.call('HDEL', key, old)
      end
    end
  end
  if count > limit then
    return (window + 1) * window_ms - now
  end
  return 0
end

-- pushgate_connect_rate: a connect from a client address, counted across gateways.
--   KEYS[1]  pushgate:addr:{<address>}:rate     ARGV[1]  connects allowed per window   ARGV[2]  window (ms)
--   reply    0 when allowed, else the ms until the window frees
local function connect_rate(keys, args)
  return count_connect(keys[1], tonumber(args[1]), tonumber(args[2]), now_ms())
end

-- pushgate_admit: a user's connect: its rate (when limited) and a slot under the cap (when capped).
-- Slots are members of a sorted set scored by their expiry: the gateway refreshes its own slots
-- (pushgate_slots_refresh); the slots of a gateway that died expire by themselves.
--   KEYS[1]  pushgate:user:{<user>}:slots       KEYS[2]  pushgate:user:{<user>}:rate
--   ARGV[1]  the slot's id ('' when not capped)  ARGV[2]  the cap (0: none)   ARGV[3]  slot lifetime (ms)
--   ARGV[4]  connects allowed per window (0: no rate limit)                   ARGV[5]  window (ms)
--   reply    { 1, '', 0 } when admitted; else { 0, 'rate' or 'cap', ms to wait before trying again }
local function admit(keys, args)
  local now = now_ms()
  local rate = tonumber(args[4])
  if rate > 0 then
    local wait = count_connect(keys[2], rate, tonumber(args[5]), now)
    if wait > 0 then
      return { 0, 'rate', wait }
    end
  end
  local cap = tonumber(args[2])
  if cap > 0 then
    local slots, ttl = keys[1], tonumber(args[3])
    redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
    if redis.call('ZCARD', slots) >= cap then
      return { 0, 'cap', 1000 }
    end
    redis.call('ZADD', slots, now + ttl, args[1])
    if redis.call('PTTL', slots) < ttl then
      redis.call('PEXPIRE', slots, ttl)
    end
  end
  return { 1, '', 0 }
end

-- pushgate_slots_refresh: keeps a gateway's slots of one user alive, or gives some back.
--   KEYS[1]  pushgate:user:{<user>}:slots   ARGV[1]  'refresh' or 'release'   ARGV[2]  slot lifetime (ms)
--   ARGV[3..] slot ids
--   reply    the user's slots now held on every gateway
local function slots_refresh(keys, args)
  local slots, ttl = keys[1], tonumber(args[2])
  local now = now_ms()
  for i = 3, #args do
    if args[1] == 'refresh' then
      redis.call('ZADD', slots, now + ttl, args[i])
    else
      redis.call('ZREM', slots, args[i])
    end
  end
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if args[1] == 'refresh' and redis.call('PTTL', slots) < ttl then
    redis.call('PEXPIRE', slots, ttl)
  end
  return redis.call('ZCARD', slots)
end

redis.register_function('pushgate_control_send', control_send)
redis.register_function{ function_name = 'pushgate_control_read', callback = control_read, flags = { 'no-writes' } }
redis.register_function{ function_name = 'pushgate_control_snapshot', callback = control_snapshot, flags = { 'no-writes' } }
redis.register_function('pushgate_connect_rate', connect_rate)
redis.register_function('pushgate_admit', admit)
redis.register_function('pushgate_slots_refresh', slots_refresh)
