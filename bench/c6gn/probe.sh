#!/usr/bin/env bash
# probe.sh: run on the probe instance (c6gn). Starts dxprobe on UDP 4789 with
# JSON reports, and every window records the counters that tell where
# packets were lost: the ENA allowance counters (ethtool -S) and the kernel's
# UDP counters (/proc/net/snmp). Stops after DURATION seconds (default 600)
# or Ctrl-C, then prints the totals.
#
#   bench/c6gn/probe.sh [-d DURATION] [-i IFACE] [-o OUTDIR] [-- dxprobe flags...]
#
# Needs: Go (to build dxprobe) or DXPROBE=/path/to/dxprobe, ethtool.
set -euo pipefail
duration=600 iface="" outdir="probe-$(date -u +%Y%m%dT%H%M%SZ)"
while [ $# -gt 0 ]; do
  case "$1" in
    -d) duration="$2"; shift 2 ;;
    -i) iface="$2"; shift 2 ;;
    -o) outdir="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "probe.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
iface="${iface:-$(ip -o route get 8.8.8.8 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')}"
iface="${iface:-eth0}"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
cd "$(dirname "$0")/../.."
if [ -z "${DXPROBE:-}" ]; then
  go build -o "$outdir/dxprobe" ./examples/dxprobe
  DXPROBE="$outdir/dxprobe"
fi

# counters prints "name value" lines: ENA allowances and UDP counters.
counters() {
  { ethtool -S "$iface" 2>/dev/null || echo "ethtool_unavailable: 0"; } | awk '/allowance_exceeded|rx_drops|rx_queue_[0-9]+_drops|unavailable/ {gsub(":",""); print $1, $2}'
  awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 2; i <= NF; i++) print "Udp" n[i], $i } }' /proc/net/snmp
}

{
  echo "# $(date -u +%FT%TZ) $(hostname) $(uname -r) $(nproc) vCPU, iface $iface"
  ethtool -i "$iface" 2>/dev/null | sed 's/^/# /' || true
  ethtool -l "$iface" 2>/dev/null | sed 's/^/# /' || true
  sysctl net.core.rmem_max net.core.netdev_max_backlog 2>/dev/null | sed 's/^/# /' || true
} > "$outdir/machine.txt"

counters > "$outdir/counters-start.txt"
"$DXPROBE" -listen :4789 -format json -window 5s "$@" > "$outdir/windows.jsonl" 2> "$outdir/dxprobe.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT INT TERM
end=$(( $(date +%s) + duration ))
echo "time $(counters | awk '{printf "%s ", $1}')" > "$outdir/counters.tsv"
while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
  echo "$(date +%s) $(counters | awk '{printf "%s ", $2}')" >> "$outdir/counters.tsv"
  sleep 5
done
kill -INT "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
trap - EXIT INT TERM
counters > "$outdir/counters-end.txt"

echo "== counter deltas over the run (non-zero)"
join <(sort "$outdir/counters-start.txt") <(sort "$outdir/counters-end.txt") | awk '$3 != $2 { printf "%-40s %d\n", $1, $3 - $2 }'
echo "== dxprobe windows (packets per window, from windows.jsonl)"
if command -v jq >/dev/null; then
  jq -r '[.window_start, "packets", .packets, "pps", .pps, "skipped", (.skipped | tostring)] | @tsv' "$outdir/windows.jsonl"
else
  sed -n 's/.*"window_start":"\([^"]*\)".*"packets":\([0-9]*\),"bytes":\([0-9]*\),"pps":\([0-9.e+]*\).*/\1 packets \2 pps \4/p' "$outdir/windows.jsonl"
fi
echo "results in $outdir"
