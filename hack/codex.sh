#!/usr/bin/env bash
# Installs the Codex CLI (@openai/codex) from npm into a versioned cache folder and prints the
# path of its binary. Idempotent: a second run with the binary already present installs nothing.
#
#   hack/codex.sh                 # prints e.g. /root/.cache/agentline/codex/0.171.0/node_modules/.bin/codex
#   CODEX_VERSION=x.y.z hack/codex.sh
#
# Progress goes to stderr; stdout carries only the binary path, so callers can capture it.
set -euo pipefail

version="${CODEX_VERSION:-0.171.0}"
cache="${AGENTLINE_CACHE:-${HOME}/.cache/agentline}"
dir="${cache}/codex/${version}"
bin="${dir}/node_modules/.bin/codex"

installed_version() {
  "${bin}" --version 2>/dev/null | awk '{print $NF}'
}

if [[ -x "${bin}" && "$(installed_version)" == "${version}" ]]; then
  echo "${bin}"
  exit 0
fi

command -v npm >/dev/null 2>&1 || {
  echo "codex.sh: npm not found; install Node.js (Debian package: nodejs npm)" >&2
  exit 1
}

start=$(date +%s)
echo "codex.sh: installing @openai/codex@${version} into ${dir}" >&2
rm -rf "${dir}.tmp"
mkdir -p "${dir}.tmp"
# Install into a temporary folder and move it into place, so an interrupted install never leaves
# a half-populated folder that the check above would accept.
printf '{"name":"agentline-codex","private":true}\n' >"${dir}.tmp/package.json"
npm install --prefix "${dir}.tmp" --no-audit --no-fund --no-save --loglevel=error \
  "@openai/codex@${version}" >&2
rm -rf "${dir}"
mv "${dir}.tmp" "${dir}"

got="$(installed_version)"
if [[ "${got}" != "${version}" ]]; then
  echo "codex.sh: installed binary reports version '${got}', want ${version}" >&2
  exit 1
fi
echo "codex.sh: installed codex ${version} in $(($(date +%s) - start))s" >&2
echo "${bin}"
