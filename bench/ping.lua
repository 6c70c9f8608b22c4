-- wrk script for the ceiling: GET /api/ping/ (DRF, no database).
--
--   wrk -t2 -c32 -d10s -s bench/ping.lua http://127.0.0.1:8000/api/ping/
--
-- The request is static (no request() function), the cheapest for wrk.

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "report.lua")

expected_status = 200
