#!/usr/bin/env bash
# make demo: the whole system on one machine. rtr-dataplane owns one end of
# a veth pair (net_af_packet) in its own network namespace; rtr-controld
# attaches to it; rtr-client users in a second namespace join with tokens
# from `rtrctl token new` and stream to each other over real kernel UDP
# sockets. Live counters come from the stats segment (`rtrctl stats`).
set -euo pipefail
BUILD=${1:-build}
USERS=${DEMO_USERS:-40}
CHANNELS=${DEMO_CHANNELS:-4}
SECS=${DEMO_SECONDS:-8}
INST=demo
APP_ID=970ca35de60c44645bbae8a215061b33
NS_DP=rtrdemo-dp NS_CL=rtrdemo-cl
WORK=$(mktemp -d /tmp/rtr-demo.XXXXXX)
DP_PID= CD_PID= LOAD_PID=

cleanup() {
	set +e
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	[ -n "$CD_PID" ] && kill "$CD_PID" 2>/dev/null && wait "$CD_PID" 2>/dev/null
	[ -n "$DP_PID" ] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null
	ip netns del $NS_DP 2>/dev/null
	ip netns del $NS_CL 2>/dev/null
	rm -rf /var/run/dpdk/rtr_demo "$WORK"
}
trap cleanup EXIT
RTRCTL="$BUILD/rtrctl --socket $WORK/ctl.sock --instance $INST"

echo "== namespaces: $NS_DP (dataplane, dp0) <-> $NS_CL (clients, cl0 10.77.0.2)"
ip netns del $NS_DP 2>/dev/null || true
ip netns del $NS_CL 2>/dev/null || true
ip netns add $NS_DP
ip netns add $NS_CL
ip link add dp0 netns $NS_DP type veth peer name cl0 netns $NS_CL
ip -n $NS_DP link set dp0 up
ip -n $NS_CL link set lo up
ip -n $NS_CL link set cl0 up
ip -n $NS_CL addr add 10.77.0.2/24 dev cl0
ip netns exec $NS_CL ethtool -K cl0 tx off >/dev/null

echo "== rtr-dataplane: worker on CPU 1, main lcore on CPU 0, service 10.77.0.1:7700"
ip netns exec $NS_DP "$BUILD/rtr-dataplane" --file-prefix rtr_demo -m 512 --huge-unlink \
	--lcores 0@0,1@1 --no-pci --log-level 'pmd.net.*:error' --vdev net_af_packet0,iface=dp0 \
	-- --instance $INST --ip 0=10.77.0.1 >"$WORK/dp.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do
	"$BUILD/rtr-dpctl" --instance $INST stats >/dev/null 2>&1 && break
	kill -0 $DP_PID 2>/dev/null || { cat "$WORK/dp.log"; exit 1; }
	sleep 0.1
done
grep rtr-dataplane "$WORK/dp.log" | sed 's/^/   /'

echo "== rtr-controld: store $WORK/store.db, socket $WORK/ctl.sock"
"$BUILD/rtr-controld" --instance $INST --db "$WORK/store.db" --socket "$WORK/ctl.sock" \
	--region eu >"$WORK/controld.log" 2>&1 &
CD_PID=$!
for _ in $(seq 100); do
	$RTRCTL --json status 2>/dev/null | grep -q '"attached"' && break
	sleep 0.1
done

echo "== an app (its certificate from a file, never on a command line) and $USERS tokens"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cert"
# the default encryption policy: required (every member joins with a Noise
# handshake, every frame is sealed with AES-GCM)
$RTRCTL app add $APP_ID --cert-file "$WORK/cert" --name demo --max-members 100
$RTRCTL app list
for u in $(seq 0 $((USERS - 1))); do
	ch=room-$((u % CHANNELS))
	echo "$ch $((1000 + u)) $($RTRCTL token new --app-id $APP_ID --cert-file "$WORK/cert" \
		--channel $ch --uid $((1000 + u)) --role pub --expire 600)"
done >"$WORK/tokens"

echo "== the node's public key, which clients need to join (rtrctl node show)"
$RTRCTL --json node show >"$WORK/node.json"
cat "$WORK/node.json"
echo "== $USERS rtr-client users over $CHANNELS channels, 25 frames/s each, for $((SECS + 2)) s, AES-128-GCM"
ip netns exec $NS_CL "$BUILD/rtr-client" load --server 10.77.0.1:7700 --app-id $APP_ID \
	--server-key-file "$WORK/node.json" --enc aes128gcm \
	--tokens "$WORK/tokens" --users "$USERS" --channels "$CHANNELS" --rate 25 \
	--duration $((SECS + 2)) >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD_PID=$!

echo "== live: rtrctl stats --watch 1 (the dataplane's stats segment)"
$RTRCTL stats --watch 1 --count "$SECS" | sed 's/^/   /'
echo "== rtrctl stats: drops by reason (the client kernel's own chatter, counted, never silent)"
$RTRCTL stats | sed 's/^/   /'

echo "== rtrctl channel list"
$RTRCTL channel list
wait $LOAD_PID || true
LOAD_PID=

echo "== what the users measured (rtr-client load report)"
/usr/bin/python3 - "$WORK/load.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("   %-8s %6s %9s %9s %6s %6s %12s %8s %8s" % ("channel", "users", "expected",
      "delivered", "lost", "dup", "misdelivered", "p50_us", "p99_us"))
for c in r["per_channel"]:
    lat = c.get("latency_us", {})
    print("   %-8s %6d %9d %9d %6d %6d %12d %8s %8s" % (c["channel"], c["joined"], c["expected"],
          c["delivered"], c["lost"], c["duplicated"], c["misdelivered"], lat.get("p50"),
          lat.get("p99")))
PY
echo "== rtrctl status"
$RTRCTL status | sed 's/^/   /' | head -20
echo "== audit log: $($RTRCTL --json audit verify | tr -d '\n ')"
echo "== stopping"
