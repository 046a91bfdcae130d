#!/usr/bin/env bash
# gen.sh: run on the generator instance (c6gn). Offers each rate in turn to
# TARGET (the probe's private IP, or the NLB's DNS name or IP) for DURATION
# seconds, with PAUSE seconds of silence between rates so that the probe's
# 5-second windows separate them, and records the generator's own ENA
# allowance counters (a generator that exceeds its own pps allowance offers
# less than it reports sending).
#
#   bench/c6gn/gen.sh -t TARGET [-r "100000 500000 1000000 0"] [-d 30] [-p 10] [-s SENDERS] [-- gen flags...]
#
# A rate of 0 sends as fast as the senders go. Needs Go and ethtool.
set -euo pipefail
target="" rates="100000 250000 500000 1000000 0" duration=30 pause=10 senders="$(nproc)" iface=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t) target="$2"; shift 2 ;;
    -r) rates="$2"; shift 2 ;;
    -d) duration="$2"; shift 2 ;;
    -p) pause="$2"; shift 2 ;;
    -s) senders="$2"; shift 2 ;;
    -i) iface="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "gen.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
[ -n "$target" ] || { echo "gen.sh: -t TARGET (probe IP or NLB name) is required" >&2; exit 2; }
iface="${iface:-$(ip -o route get 8.8.8.8 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')}"
iface="${iface:-eth0}"
cd "$(dirname "$0")/../.."
go build -o /tmp/dxmon-bench ./bench
addr="$(getent ahostsv4 "$target" | awk 'NR == 1 { print $1 }')"
[ -n "$addr" ] || addr="$target"

allow() { { ethtool -S "$iface" 2>/dev/null || echo "ethtool_unavailable: 0"; } | awk '/allowance_exceeded|unavailable/ {gsub(":",""); printf "%s=%s ", $1, $2}'; }
echo "# $(date -u +%FT%TZ) gen on $(hostname) ($(nproc) vCPU) to $target ($addr:4789), senders $senders"
for rate in $rates; do
  before="$(allow)"
  echo "== rate ${rate} pps (0 = flat out) for ${duration}s, start $(date -u +%FT%TZ)"
  /tmp/dxmon-bench gen -addr "$addr:4789" -rate "$rate" -duration "${duration}s" -senders "$senders" "$@"
  echo "   ENA before: $before"
  echo "   ENA after:  $(allow)"
  sleep "$pause"
done
