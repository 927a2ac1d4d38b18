-- wrk script: announces over many torrents with random peer ids and ports, a realistic mix of
-- events (mostly periodic, some started/completed/stopped), numwant 50.
-- Env: TORRENTS (default 1000), CLOSE=1 for one request per connection.
local torrents = tonumber(os.getenv("TORRENTS") or "1000")
local close = os.getenv("CLOSE") == "1"
local hashes = {}

local function escaped(bytes)
  local t = {}
  for i = 1, #bytes do t[i] = string.format("%%%02x", bytes:byte(i)) end
  return table.concat(t)
end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

function setup(thread)
  thread:set("seed", math.random(1, 2^31))
end

function init(args)
  math.randomseed(seed or os.time())
  for i = 1, torrents do
    -- the same torrents on every wrk thread
    hashes[i] = escaped(string.format("%020d", i))
  end
  if close then wrk.headers["Connection"] = "close" end
end

local events = { "", "", "", "", "", "", "", "&event=started", "&event=completed", "&event=stopped" }

function request()
  local ih = hashes[math.random(1, torrents)]
  local pid = escaped("-SC0001-" .. random_bytes(12))
  local left = math.random(0, 3) == 0 and 0 or 1000
  local path = "/announce?info_hash=" .. ih .. "&peer_id=" .. pid .. "&port=" .. math.random(1024, 65535) ..
    "&uploaded=0&downloaded=0&left=" .. left .. "&numwant=50&compact=1" .. events[math.random(1, #events)]
  return wrk.format("GET", path)
end
