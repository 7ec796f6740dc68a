-- SPDX-License-Identifier: BSD-3-Clause
--
-- rtrelay.lua: measure the fan-out a bare-metal rtr-dataplane delivers, with
-- Pktgen-DPDK on a second machine (procedure: tools/pktgen/README.md).
--
-- UNTESTED HERE. Pktgen-DPDK is not installable on the machine rtrelay is
-- developed on (not in Debian 12), so this script has never run inside
-- pktgen. It is written against the documented Pktgen Lua API
-- (pktgen.set, pktgen.start, pktgen.stop, pktgen.delay, pktgen.clr,
-- pktgen.portStats) and handles both shapes of portStats: pktgen up to 23.x
-- takes (portlist, "port") and returns t[pid].opackets, later versions take
-- (portlist) and return t[pid].curr.opackets. Outside pktgen it has only run
-- against a stub of those functions (syntax and arithmetic). The pcaps it
-- sends are verified here by replaying them into rtr-dataplane with
-- dpdk-testpmd (tests/test_pcap_replay.py).
--
-- Port TX_PORT sends the pcap given on pktgen's command line (-s 0:FILE.pcap
-- puts the port in pcap mode), at each rate of RATES in turn (percent of the
-- TX link's line rate for the pcap's frame size). The copies the dataplane
-- makes come back on RX_PORT (the same port when the DUT has one cable).
-- Per step: warm up, then count TX and RX packets over SECONDS; print
-- sent pps, received pps, received/sent (the effective fan-out: it equals F,
-- the fan-out the program file installed, until something saturates), the
-- copies lost per second (F x sent - received) and pktgen's own RX drops
-- (imissed, rx_nombuf, ierrors: if these move, the generator, not the DUT,
-- lost the copies and the step says nothing about the DUT). The RX link
-- load column shows when the return link, not the DUT, is the limit: with
-- one cable the copies need F times the input's bandwidth.
--
-- Settings (environment variables, read when the script starts):
--   RTR_FANOUT   F of the program file (default 1)
--   RTR_TX_PORT  pktgen port sending the pcap (default 0)
--   RTR_RX_PORT  pktgen port receiving the copies (default: RTR_TX_PORT)
--   RTR_RATES    comma-separated percentages (default 1,2,5,10,20,...,100)
--   RTR_SECONDS  measurement per step (default 5)
--   RTR_WARMUP_MS, RTR_DRAIN_MS  before counting / after stopping (1000, 500)
--   RTR_CSV      result file (default rtrelay-pktgen.csv)
--   RTR_QUIT     1: quit pktgen at the end
--
-- Run: pktgen ... -- -P -m "[2:3].0" -s 0:fo4_1200.pcap -f rtrelay.lua
-- (or `load rtrelay.lua` at the Pktgen> prompt).

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;../?.lua"
pcall(require, "Pktgen")

local function env(name, default)
	local ok, v = pcall(os.getenv, name)
	if ok and v ~= nil and v ~= "" then
		return v
	end
	return default
end

local function out(fmt, ...)
	print(string.format(fmt, ...))
end

local FANOUT = tonumber(env("RTR_FANOUT", "1"))
local TX_PORT = tonumber(env("RTR_TX_PORT", "0"))
local RX_PORT = tonumber(env("RTR_RX_PORT", tostring(TX_PORT)))
local SECONDS = tonumber(env("RTR_SECONDS", "5"))
local WARMUP_MS = tonumber(env("RTR_WARMUP_MS", "1000"))
local DRAIN_MS = tonumber(env("RTR_DRAIN_MS", "500"))
local CSV = env("RTR_CSV", "rtrelay-pktgen.csv")
local RATES = {}
for r in string.gmatch(env("RTR_RATES", "1,2,5,10,20,30,40,50,60,70,80,90,100"), "[^,%s]+") do
	RATES[#RATES + 1] = tonumber(r)
end

-- One port's cumulative counters, whichever portStats this pktgen has.
local function counters(pid)
	local ok, t = pcall(pktgen.portStats, tostring(pid), "port")
	if not ok or type(t) ~= "table" or t[pid] == nil then
		t = pktgen.portStats(tostring(pid))
	end
	local s = t[pid]
	if s.curr ~= nil then
		s = s.curr
	end
	return {
		ipackets = s.ipackets or 0, opackets = s.opackets or 0,
		ibytes = s.ibytes or 0, obytes = s.obytes or 0,
		imissed = s.imissed or 0, rx_nombuf = s.rx_nombuf or 0,
		ierrors = s.ierrors or 0, oerrors = s.oerrors or 0,
	}
end

-- Link speed in Mb/s from pktgen's link state ("<UP-10000-FD>"), or nil.
local function link_mbps(pid)
	local ok, t = pcall(pktgen.linkState, tostring(pid))
	if ok and type(t) == "table" and t[pid] ~= nil then
		return tonumber(string.match(tostring(t[pid]), "(%d+)"))
	end
	return nil
end

local function step(rate)
	pktgen.stop(tostring(TX_PORT))
	pktgen.delay(DRAIN_MS)
	pktgen.set(tostring(TX_PORT), "rate", rate)
	pktgen.clr()
	pktgen.start(tostring(TX_PORT))
	pktgen.delay(WARMUP_MS)
	local t0, r0 = counters(TX_PORT), counters(RX_PORT)
	pktgen.delay(math.floor(SECONDS * 1000))
	local t1, r1 = counters(TX_PORT), counters(RX_PORT)
	pktgen.stop(tostring(TX_PORT))

	local res = { rate = rate }
	local sent, got = t1.opackets - t0.opackets, r1.ipackets - r0.ipackets
	res.tx_pps = sent / SECONDS
	res.rx_pps = got / SECONDS
	res.ratio = sent > 0 and got / sent or 0
	res.lost_pps = math.max(FANOUT * sent - got, 0) / SECONDS
	res.loss_pct = sent > 0 and 100 * res.lost_pps / (FANOUT * res.tx_pps) or 0
	-- DPDK byte counters leave out the FCS: + 4, and + 20 of preamble and gap
	res.tx_frame = sent > 0 and (t1.obytes - t0.obytes) / sent or 0
	res.rx_frame = got > 0 and (r1.ibytes - r0.ibytes) / got or 0
	local mbps = link_mbps(RX_PORT)
	res.rx_link_pct = (mbps and mbps > 0 and got > 0) and
		100 * res.rx_pps * (res.rx_frame + 24) * 8 / (mbps * 1e6) or -1
	res.gen_missed = r1.imissed - r0.imissed
	res.gen_nombuf = r1.rx_nombuf - r0.rx_nombuf
	res.gen_ierrors = r1.ierrors - r0.ierrors
	res.tx_errors = t1.oerrors - t0.oerrors
	return res
end

local function main()
	pcall(pktgen.screen, "off")
	-- -s P:FILE already selects pcap mode; older pktgens also take this
	pcall(pktgen.pcap, tostring(TX_PORT), "on")
	pktgen.set(tostring(TX_PORT), "count", 0)	-- send until stopped

	out("rtrelay fan-out sweep: pcap on port %d, copies on port %d, expected fan-out %d, " ..
	    "%g s per step", TX_PORT, RX_PORT, FANOUT, SECONDS)
	out("%6s %10s %10s %8s %10s %7s %8s %12s", "rate%", "tx Mpps", "rx Mpps", "rx/tx",
	    "lost/s", "loss%", "rx link%", "gen rx drop")
	local f = io.open(CSV, "w")
	if f then
		f:write("rate_pct,tx_pps,rx_pps,ratio,expected_fanout,lost_pps,loss_pct," ..
			"tx_frame_bytes,rx_frame_bytes,rx_link_pct,gen_rx_missed,gen_rx_nombuf," ..
			"gen_rx_errors,tx_errors\n")
	end
	local saturated, not_dut = nil, 0
	for _, rate in ipairs(RATES) do
		local r = step(rate)
		local gen_drop = r.gen_missed + r.gen_nombuf + r.gen_ierrors
		local note = ""
		if gen_drop > 0 then
			note = "  (the generator dropped: not a DUT figure)"
		elseif r.rx_link_pct > 95 then
			note = "  (the return link is full: not a DUT figure)"
		end
		out("%6g %10.3f %10.3f %8.3f %10.0f %7.3f %8s %12d%s", r.rate, r.tx_pps / 1e6,
		    r.rx_pps / 1e6, r.ratio, r.lost_pps, r.loss_pct,
		    r.rx_link_pct >= 0 and string.format("%.1f", r.rx_link_pct) or "?", gen_drop, note)
		if f then
			f:write(string.format("%g,%.0f,%.0f,%.4f,%d,%.0f,%.4f,%.1f,%.1f,%.1f,%d,%d,%d,%d\n",
				r.rate, r.tx_pps, r.rx_pps, r.ratio, FANOUT, r.lost_pps, r.loss_pct,
				r.tx_frame, r.rx_frame, r.rx_link_pct, r.gen_missed, r.gen_nombuf,
				r.gen_ierrors, r.tx_errors))
			f:flush()
		end
		if note ~= "" then
			not_dut = not_dut + 1
		elseif saturated == nil and r.ratio < FANOUT * 0.995 then
			saturated = r
		end
	end
	if f then
		f:close()
	end
	if saturated then
		out("received/sent first fell below %d (by more than 0.5%%) at %g%%: %.3f Mpps in, " ..
		    "%.3f Mpps out", FANOUT, saturated.rate, saturated.tx_pps / 1e6,
		    saturated.rx_pps / 1e6)
	else
		out("received/sent stayed at %d wherever the DUT was the limit: it kept up", FANOUT)
	end
	if not_dut > 0 then
		out("%d step(s) were limited by the generator or the return link, not the DUT", not_dut)
	end
	out("results in %s", CSV)
	pcall(pktgen.screen, "on")
	if env("RTR_QUIT", "0") == "1" then
		pktgen.quit()
	end
end

main()
