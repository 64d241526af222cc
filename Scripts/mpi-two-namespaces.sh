#!/usr/bin/env bash
# Two "machines" on one: network namespaces convnet-a (10.77.0.1) and convnet-b (10.77.0.2)
# joined by a veth pair, so that an MPI job of one rank per namespace talks over a real TCP link
# (Open MPI's tcp transport; shared memory is switched off), as two hosts would. mpirun runs in
# convnet-a and starts convnet-b's daemon through a launch agent that enters the namespace (with
# its own host name) instead of ssh. Needs root, iproute2 and util-linux (unshare).
#
#     Scripts/mpi-two-namespaces.sh COMMAND [ARGUMENTS...]   # runs COMMAND as 2 ranks, one per namespace
#     Scripts/mpi-two-namespaces.sh .build/release/convnet train --distributed --out /tmp/veth-run
#     Scripts/mpi-two-namespaces.sh /tmp/allreduce_bench       # Benchmarks/mpi/allreduce_bench.c
#
# CONVNET_VETH_RATE (e.g. 1gbit) limits the link with a token-bucket filter (tc), to model a slower
# network. The namespaces are removed on exit.
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 COMMAND [ARGUMENTS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "error: $0 needs root (ip netns)" >&2; exit 1; }

a=convnet-a
b=convnet-b
agent="$(mktemp /tmp/convnet-netns-agent.XXXXXX)"
cleanup() {
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -f "$agent"
}
trap cleanup EXIT
cleanup
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add convnet-veth-a type veth peer name convnet-veth-b
ip link set convnet-veth-a netns "$a"
ip link set convnet-veth-b netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev convnet-veth-a
ip -n "$b" addr add 10.77.0.2/24 dev convnet-veth-b
for ns in "$a" "$b"; do
    ip -n "$ns" link set lo up
done
ip -n "$a" link set convnet-veth-a up
ip -n "$b" link set convnet-veth-b up
if [ -n "${CONVNET_VETH_RATE:-}" ]; then
    ip netns exec "$a" tc qdisc add dev convnet-veth-a root tbf rate "$CONVNET_VETH_RATE" burst 256kb latency 50ms
    ip netns exec "$b" tc qdisc add dev convnet-veth-b root tbf rate "$CONVNET_VETH_RATE" burst 256kb latency 50ms
fi

# Open MPI's rsh launcher calls: AGENT HOST COMMAND... (what it would give ssh).
cat >"$agent" <<'AGENT'
#!/bin/sh
host="$1"
shift
case "$host" in
    10.77.0.2) namespace=convnet-b; name=convnet-host-b ;;
    *) namespace=convnet-a; name=convnet-host-a ;;
esac
exec ip netns exec "$namespace" unshare --uts sh -c "hostname $name; $*"
AGENT
chmod +x "$agent"

# One rank per namespace; TCP between them (no shared memory), on the veth link only.
ip netns exec "$a" unshare --uts sh -c 'hostname convnet-host-a; exec "$@"' sh \
    mpirun --allow-run-as-root --oversubscribe --bind-to none -H 10.77.0.1:1,10.77.0.2:1 -np 2 \
    --mca plm_rsh_agent "$agent" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
    --mca oob_tcp_if_include 10.77.0.0/24 "$@"
