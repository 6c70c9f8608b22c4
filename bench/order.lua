-- wrk script for POST /api/order/: each request as a random customer
-- (one of the API keys in a file, one a line) with a random order.
--
--   wrk -t2 -c32 -d10s -s bench/order.lua \
--       http://127.0.0.1:8000/api/order/ -- KEYS_FILE [mix|hot]
--
-- mix: half small orders (below the $10 threshold: they go to their
--      crypto's pool) and half large ones (a purchase each), over five
--      cryptos. Keep in step with MIX in bench/run.py.
-- hot: every order a small ABAN one ($2): all of them contend for the
--      one ABAN pool row, and every fifth order flushes the pool.

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "report.lua")

expected_status = 201

local MIX = {
   -- crypto, amount: small (< $10)     large (>= $10)
   { "ABAN", "0.5" }, --   $2.00       ABAN 5        $20
   { "BTC", "0.00005" }, -- $3.25      BTC 0.001     $65
   { "ETH", "0.001" }, --  $3.20       ETH 0.01      $32
   { "SOL", "0.02" }, --   $3.00       SOL 0.5       $75
   { "DOGE", "20" }, --    $3.00       DOGE 200      $30
   { "ABAN", "5" },
   { "BTC", "0.001" },
   { "ETH", "0.01" },
   { "SOL", "0.5" },
   { "DOGE", "200" },
}
local HOT = { { "ABAN", "0.5" } }

local keys = {}
local bodies = {}

function init(args)
   local path, mode = args[1], args[2] or "mix"
   if not path then
      error("usage: wrk ... -s order.lua URL -- KEYS_FILE [mix|hot]")
   end
   for line in io.lines(path) do
      if #line > 0 then
         keys[#keys + 1] = line
      end
   end
   if #keys == 0 then
      error("no API key in " .. path)
   end
   local orders = MIX
   if mode == "hot" then
      orders = HOT
   elseif mode ~= "mix" then
      error("unknown mode " .. mode .. " (mix or hot)")
   end
   for i, order in ipairs(orders) do
      bodies[i] = string.format(
         '{"crypto":"%s","amount":"%s"}', order[1], order[2]
      )
   end
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function request()
   local headers = {
      ["Authorization"] = "Token " .. keys[math.random(#keys)],
      ["Content-Type"] = "application/json",
   }
   return wrk.format("POST", nil, headers, bodies[math.random(#bodies)])
end
