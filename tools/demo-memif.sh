#!/usr/bin/env bash
# make demo: rtr-dataplane on a memif port, programmed through its shared
# memory with one publisher and eight subscribers in a channel; dpdk-testpmd
# replays a pcap of media frames (and a few forged ones) into it forever.
# Live counters come from the stats segment; then everything stops cleanly.
set -euo pipefail
BUILD=${1:-build}
SECS=${DEMO_SECONDS:-8}
RECEIVERS=8
INST=demo
WORK=$(mktemp -d /tmp/rtr-demo.XXXXXX)
DP_PID= PMD_PID=

cleanup() {
	[ -n "$PMD_PID" ] && kill "$PMD_PID" 2>/dev/null && wait "$PMD_PID" 2>/dev/null || true
	[ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null || true
	rm -rf /var/run/dpdk/rtr_demo /var/run/dpdk/rtr_demo_pmd "$WORK"
}
trap cleanup EXIT

echo "== rtr-dataplane: worker on CPU 1, main lcore on CPU 0, memif server port"
"$BUILD/rtr-dataplane" --file-prefix rtr_demo -m 256 --huge-unlink --lcores 0@0,1@1 --no-pci \
	--log-level 'pmd.net.*:error' \
	--vdev "net_memif0,role=server,socket=$WORK/memif.sock,socket-abstract=no" \
	-- --instance $INST --ip 0=10.0.0.1 --tx-mode auto >"$WORK/dp.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do
	"$BUILD/rtr-dpctl" --instance $INST ping >/dev/null 2>&1 && break
	kill -0 $DP_PID 2>/dev/null || { cat "$WORK/dp.log"; exit 1; }
	sleep 0.1
done
sed 's/^/   /' "$WORK/dp.log" | grep rtr-dataplane
MAC=$("$BUILD/rtr-dpctl" --instance $INST stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"][0]["mac"])')

echo "== programming app 1, channel 0xC0FFEE: 1 publisher + $RECEIVERS subscribers"
{
	echo "app-set 1"
	for i in $(seq 0 $RECEIVERS); do
		echo "member-add app=1 chan=0xC0FFEE port=0 mac=02:00:00:00:02:$(printf %02x $i)" \
			"ip=10.0.2.$((i + 1)) uport=$((42000 + i)) local=10.0.0.1 handle=$(((1 << 32) | i)) active"
	done
	echo "dump channels"
} | "$BUILD/rtr-dpctl" --instance $INST - | tail -n 1

/usr/bin/python3 tools/mkpcap.py "$WORK/media.pcap" --dst-mac "$MAC" --payload 200 --count 64 --bad

echo "== dpdk-testpmd replays $WORK/media.pcap into the memif port (CPU 0)"
mkfifo "$WORK/pmd.in"
dpdk-testpmd --file-prefix rtr_demo_pmd -m 256 --huge-unlink --lcores 0@0,1@0 --no-pci \
	--log-level '*:error' \
	--vdev "net_memif0,role=client,socket=$WORK/memif.sock,socket-abstract=no" \
	--vdev "net_pcap0,rx_pcap=$WORK/media.pcap,tx_pcap=/dev/null,infinite_rx=1" \
	-- -i --forward-mode=io --nb-cores=1 --no-flush-rx --total-num-mbufs=16384 \
	<"$WORK/pmd.in" >"$WORK/pmd.log" 2>&1 &
PMD_PID=$!
exec 3>"$WORK/pmd.in"
"$BUILD/rtr-dpctl" --instance $INST wait ports.0.link_up 1 10000 >/dev/null
echo start >&3

echo "== live counters from the stats segment (rtr-dpctl stats --watch 1)"
"$BUILD/rtr-dpctl" --instance $INST stats --watch 1 --count "$SECS"

echo "== drops by reason"
"$BUILD/rtr-dpctl" --instance $INST stats | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
for k, v in s["drops"].items():
    if v:
        print("   %-28s %d" % (k, v))
print("   media_in %d  media_out %d  (fan-out %.1f), worker busy cycles per copy sent %.0f"
      % (s["media_in"], s["media_out"], s["media_out"] / max(s["media_in"], 1),
         s["busy_cycles"] / max(s["media_out"], 1)))
print("   (the forged frames are refused by name; tx_full counts copies the demo sink,")
print("    testpmd on the shared CPU 0, could not take: the dataplane outruns it)")'

echo "quit" >&3
exec 3>&-
wait $PMD_PID 2>/dev/null || true
PMD_PID=
kill -TERM $DP_PID
wait $DP_PID
DP_PID=
echo "== stopped cleanly: $(ls /dev/shm | grep -c "rtrelay.$INST" || true) segments and $(ls /dev/hugepages | wc -l) hugepage files left"
