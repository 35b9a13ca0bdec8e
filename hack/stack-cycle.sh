#!/usr/bin/env bash
# Checks that the real node leaves nothing behind: N times (default 10) it runs
# `stack up`, starts one pod on the real node and waits for it to finish, then `stack down`,
# and after each down counts mounts, network links, kubepods cgroups, veths and the bytes under
# the state folder. It prints one line per cycle and fails when the last cycle left more than the
# first one did (growth), or when a pod did not run.
#
# Usage: hack/stack-cycle.sh [N]    (make stack-cycle; needs make testbin, a stopped stack is fine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-10}
dir=${AGENTLINE_STACK_DIR:-$root/.stack}
kubectl=${TESTBIN_DIR:-$root/bin/testbin}/kubectl

go build -o "$root/bin/stack" ./hack/stack
stack=$root/bin/stack

counts() {
	local mounts links cgroups veths bytes
	mounts=$(wc -l < /proc/self/mountinfo)
	links=$(ls /sys/class/net | wc -l)
	veths=$(ls /sys/class/net | grep -c '^veth' || true)
	cgroups=$(find /sys/fs/cgroup -type d -path '*kubepods*' 2>/dev/null | wc -l)
	# The registry's blobs and the image store are caches that a cycle may fill once; growth is
	# measured on everything else.
	bytes=$(du -sb --exclude="$dir/registry" --exclude="$dir/node/containerd/root" --exclude="$dir/logs" "$dir" | cut -f1)
	echo "$mounts $links $veths $cgroups $bytes"
}

first="" last=""
printf '%-6s %8s %6s %6s %8s %12s %8s\n' cycle mounts links veths cgroups state-bytes up-s
for i in $(seq 1 "$n"); do
	t0=$(date +%s.%N)
	"$stack" up >/dev/null
	t1=$(date +%s.%N)
	hack/ko.sh images >/dev/null 2>&1
	export KUBECONFIG=$dir/kubeconfig
	reg=$("$stack" env | sed -n 's/^export AGENTLINE_REGISTRY=//p')
	"$kubectl" delete pod cycle --ignore-not-found --now >/dev/null
	"$kubectl" run cycle --image="$reg/agentline/base/busybox:1" --restart=Never -- sh -c 'echo cycle-ok' >/dev/null
	if ! "$kubectl" wait pod/cycle --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s >/dev/null; then
		echo "stack-cycle: cycle $i: the pod did not succeed" >&2
		"$kubectl" describe pod cycle >&2 || true
		exit 1
	fi
	"$stack" down >/dev/null
	c=$(counts)
	[ -n "$first" ] || first=$c
	last=$c
	# shellcheck disable=SC2086
	printf '%-6s %8s %6s %6s %8s %12s %8.1f\n' "$i" $c "$(awk "BEGIN{print $t1 - $t0}")"
done

read -r fm fl fv fc fb <<<"$first"
read -r lm ll lv lc lb <<<"$last"
fail=0
[ "$lm" -le "$fm" ] || { echo "stack-cycle: mounts grew $fm -> $lm" >&2; fail=1; }
[ "$ll" -le "$fl" ] || { echo "stack-cycle: network links grew $fl -> $ll" >&2; fail=1; }
[ "$lv" -eq 0 ] || { echo "stack-cycle: $lv veth interfaces left after down" >&2; fail=1; }
[ "$lc" -le "$fc" ] || { echo "stack-cycle: kubepods cgroups grew $fc -> $lc" >&2; fail=1; }
# etcd's data and the logs grow a little with every start; allow 5 MB over the run.
[ "$lb" -le $((fb + 5 * 1024 * 1024)) ] || { echo "stack-cycle: state folder grew $fb -> $lb bytes" >&2; fail=1; }
[ $fail -eq 0 ] && echo "stack-cycle: $n cycles, no growth (mounts $lm, links $ll, cgroups $lc, state $lb bytes)"
exit $fail
