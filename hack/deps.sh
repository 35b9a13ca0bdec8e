#!/usr/bin/env bash
# Installs the Debian packages agentline's tests need that a fresh machine may lack.
# Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(git busybox-static util-linux ca-certificates containerd runc containernetworking-plugins iptables iproute2)
missing=()
for p in "${pkgs[@]}"; do
	# Removed packages keep a dpkg record ("deinstall ok config-files"): only "installed" counts.
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
command -v go >/dev/null || { echo "deps: go is required (Go 1.26)" >&2; exit 1; }
command -v npm >/dev/null || { echo "deps: npm is required (for the Codex CLI)" >&2; exit 1; }
echo "deps: ok"
