-- The hub's subscriber queue (dist/pushgate/hub/queue.lua) under plain LuaJIT, no nginx: order,
-- byte accounting, both overflow policies and the wake-ups. The semaphore is the one piece of
-- nginx the queue touches; a table with the same post() stands in for it and counts the posts.
local queue = require("pushgate.hub.queue")

local function semaphore()
  local sema = { posts = 0 }
  function sema:post(n)
    self.posts = self.posts + (n or 1)
  end
  return sema
end

local function limits(messages, bytes, overflow)
  return { messages = messages, bytes = bytes, overflow = overflow }
end

local function drain(subscriber)
  local taken = {}
  while not queue.isEmpty(subscriber) do
    local channel, data, id, event = queue.shift(subscriber)
    taken[#taken + 1] = { channel, data, id, event }
  end
  return taken
end

describe("hub queue", function()
  it("hands messages out in order, with id and event, and plain ones without", function()
    local sub = queue.create(semaphore(), { "a" })
    local room = limits(10, 1000, "disconnect")
    queue.enqueue(sub, "a", "one", "1-0", "chat", room)
    queue.enqueue(sub, "a", "two", nil, nil, room)
    queue.enqueue(sub, "", "redis-lost", nil, nil, room)
    assert.are.same({ { "a", "one", "1-0", "chat" }, { "a", "two", "", "" }, { "", "redis-lost", "", "" } }, drain(sub))
    assert.is_true(queue.isEmpty(sub))
  end)

  it("posts the semaphore only while the stream waits, once", function()
    local sema = semaphore()
    local sub = queue.create(sema, { "a" })
    local room = limits(10, 1000, "disconnect")
    queue.enqueue(sub, "a", "x", nil, nil, room)
    assert.are.equal(0, sema.posts) -- nobody waits: nothing to post
    sub.waiting = true -- what wait() sets while the stream's thread sleeps
    queue.enqueue(sub, "a", "y", nil, nil, room)
    queue.enqueue(sub, "a", "z", nil, nil, room)
    assert.are.equal(1, sema.posts)
  end)

  it("disconnect: a full queue ends the stream and keeps what it holds", function()
    local sub = queue.create(semaphore(), { "a" })
    local room = limits(2, 1000, "disconnect")
    assert.are.same({ 0, false }, { queue.enqueue(sub, "a", "1", "1-0", "", room) })
    assert.are.same({ 0, false }, { queue.enqueue(sub, "a", "2", "2-0", "", room) })
    assert.is_nil(queue.endedBy(sub))
    assert.are.same({ 0, true }, { queue.enqueue(sub, "a", "3", "3-0", "", room) })
    assert.are.equal("overflow", queue.endedBy(sub))
    assert.are.same({ 0, false }, { queue.enqueue(sub, "a", "4", "4-0", "", room) }) -- ended: ignored
    assert.are.same({ { "a", "1", "1-0", "" }, { "a", "2", "2-0", "" } }, drain(sub))
  end)

  it("drop-oldest: drops from the head until the new message fits, and counts it", function()
    local sub = queue.create(semaphore(), { "a" })
    local room = limits(1000, 10, "drop-oldest")
    queue.enqueue(sub, "a", "aaaa", "1-0", "", room)
    queue.enqueue(sub, "a", "bbbb", "2-0", "", room)
    local dropped = queue.enqueue(sub, "a", "cccc", "3-0", "", room)
    assert.are.equal(1, dropped)
    assert.is_true(queue.hasDropped(sub))
    assert.are.equal(1, queue.takeDropped(sub))
    assert.are.equal(0, queue.takeDropped(sub))
    assert.are.same({ { "a", "bbbb", "2-0", "" }, { "a", "cccc", "3-0", "" } }, drain(sub))
  end)

  it("drop-oldest: a message larger than the byte bound is dropped alone, the queue kept", function()
    local sub = queue.create(semaphore(), { "a" })
    local room = limits(1000, 10, "drop-oldest")
    queue.enqueue(sub, "a", "aaaa", "1-0", "", room)
    queue.enqueue(sub, "a", "bbbb", "2-0", "", room)
    local dropped = queue.enqueue(sub, "a", string.rep("x", 11), "3-0", "", room)
    assert.are.equal(1, dropped)
    assert.are.equal(1, queue.takeDropped(sub))
    assert.are.same({ { "a", "aaaa", "1-0", "" }, { "a", "bbbb", "2-0", "" } }, drain(sub))
  end)

  it("counts bytes out as they are taken, so a drained queue takes a full bound again", function()
    local sub = queue.create(semaphore(), { "a" })
    local room = limits(1000, 8, "disconnect")
    queue.enqueue(sub, "a", "12345678", "1-0", "", room)
    drain(sub)
    assert.are.same({ 0, false }, { queue.enqueue(sub, "a", "abcdefgh", "2-0", "", room) })
    assert.is_nil(queue.endedBy(sub))
  end)

  it("an idle queue is a record of three fields; its messages get a table with the first", function()
    local sub = queue.create(semaphore(), { "a" })
    local fields = {}
    for name in pairs(sub) do
      fields[#fields + 1] = name
    end
    table.sort(fields)
    assert.are.same({ "channels", "sema", "waiting" }, fields) -- a hash of 4 slots per idle stream
    assert.is_true(queue.isEmpty(sub))
    queue.enqueue(sub, "a", "one", nil, nil, limits(10, 1000, "disconnect"))
    assert.is_false(queue.isEmpty(sub))
    assert.are.same({ { "a", "one", "", "" } }, drain(sub))
  end)

  it("catch-up: a full queue is emptied but for its notices, counts the plain messages dropped, and lags", function()
    local sema = semaphore()
    local sub = queue.create(sema, { "a" })
    local room = limits(3, 1000, "catch-up")
    queue.enqueue(sub, "a", "durable", "1-0", "", room)
    queue.enqueue(sub, "a", "plain", nil, nil, room)
    queue.enqueue(sub, "", "redis-lost", nil, nil, room)
    sub.waiting = true
    assert.are.same({ 2, true }, { queue.enqueue(sub, "a", "newcomer", nil, nil, room) }) -- both plain ones
    assert.is_true(queue.isLagging(sub))
    assert.are.equal(1, sema.posts)
    assert.are.same({ 0, false }, { queue.enqueue(sub, "a", "later", "2-0", "", room) }) -- read from history
    assert.are.same({ 1, false }, { queue.enqueue(sub, "a", "later plain", nil, nil, room) })
    assert.are.equal(3, queue.takeDropped(sub))
    assert.are.same({ { "", "redis-lost", "", "" } }, drain(sub))
    queue.caughtUp(sub)
    assert.is_false(queue.isLagging(sub))
    queue.enqueue(sub, "a", "live", "3-0", "", room)
    assert.are.same({ { "a", "live", "3-0", "" } }, drain(sub))
  end)

  it("end() wakes a waiting stream and says why", function()
    local sema = semaphore()
    local sub = queue.create(sema, { "a" })
    sub.waiting = true
    queue["end"](sub, "shutdown")
    assert.are.equal("shutdown", queue.endedBy(sub))
    assert.are.equal(1, sema.posts)
  end)
end)
