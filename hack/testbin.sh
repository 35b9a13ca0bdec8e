#!/usr/bin/env bash
# Builds the local stack's test binaries from pinned Go modules into bin/testbin/.
# Each tool is built from its own helper module under hack/tools/<module>/ (go.mod pins the
# version). A stamp per binary records what it was built from, so a second run rebuilds nothing.
#
# Usage: hack/testbin.sh [name...]   (default: every binary in the table below)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${TESTBIN_DIR:-$root/bin/testbin}
mkdir -p "$out/.stamps"

k8s_ldflags() {
	local v=$1 minor
	minor=$(echo "$v" | cut -d. -f2)
	local f=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		f="$f -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	echo "$f"
}
K8S_VERSION=v1.35.5

# name | helper module | package | ldflags
table() {
	cat <<TABLE
etcd|etcd|./cmd/etcd|
kube-apiserver|kubernetes|k8s.io/kubernetes/cmd/kube-apiserver|$(k8s_ldflags $K8S_VERSION)
kubectl|kubernetes|k8s.io/kubernetes/cmd/kubectl|$(k8s_ldflags $K8S_VERSION)
kube-scheduler|kubernetes|k8s.io/kubernetes/cmd/kube-scheduler|$(k8s_ldflags $K8S_VERSION)
kube-controller-manager|kubernetes|k8s.io/kubernetes/cmd/kube-controller-manager|$(k8s_ldflags $K8S_VERSION)
kubelet|kubernetes|k8s.io/kubernetes/cmd/kubelet|$(k8s_ldflags $K8S_VERSION)
kube-proxy|kubernetes|k8s.io/kubernetes/cmd/kube-proxy|$(k8s_ldflags $K8S_VERSION)
kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|
tekton-controller|tekton|github.com/tektoncd/pipeline/cmd/controller|
eventlistenersink|triggers|github.com/tektoncd/triggers/cmd/eventlistenersink|
interceptors|triggers|./cmd/interceptors|
crane|ggcr|github.com/google/go-containerregistry/cmd/crane|
registry|ggcr|./cmd/registry|
kaniko-executor|kaniko|github.com/chainguard-dev/kaniko/cmd/executor|
coredns|coredns|./cmd/coredns|
local-path-provisioner|localpath|github.com/rancher/local-path-provisioner|
TABLE
}

# Extra binaries that are built only when named (ko for hack/ko.sh).
extra() {
	cat <<TABLE
ko|ko|github.com/google/ko|
TABLE
}

want=("$@")
selected() {
	local n=$1
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do [ "$w" = "$n" ] && return 0; done
	return 1
}

total_start=$(date +%s)
built=0
while IFS='|' read -r name mod pkg ldflags; do
	[ -n "$name" ] || continue
	selected "$name" || continue
	dir=$root/hack/tools/$mod
	# The stamp covers the helper module's pins and the build flags.
	stamp=$(cat "$dir/go.mod" "$dir/go.sum" $(find "$dir" -name '*.go' | sort) <(echo "$pkg $ldflags $(go env GOVERSION)") | sha256sum | cut -c1-16)
	if [ -x "$out/$name" ] && [ "$(cat "$out/.stamps/$name" 2>/dev/null)" = "$stamp" ]; then
		continue
	fi
	version=$(grep -m1 -E '^(require )?[[:space:]]*[a-z][^ ]+ v[0-9]' "$dir/go.mod" | sed -E 's/^require //; s/^[[:space:]]+//; s/ /@/')
	echo "testbin: building $name ($version) ..."
	start=$(date +%s)
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp.$$" "$pkg")
	mv "$out/$name.tmp.$$" "$out/$name"
	echo "$stamp" > "$out/.stamps/$name"
	echo "testbin: built $name in $(( $(date +%s) - start ))s"
	built=$((built + 1))
done < <(table; if [ ${#want[@]} -gt 0 ]; then extra; fi)

echo "testbin: $built built, all up to date in $out ($(( $(date +%s) - total_start ))s)"
