#!/usr/bin/env bash
# Builds every image the local stack's node runs, with ko and crane, without Docker and without
# pulling anything from outside, and resolves the install (config/) against the registry:
#   1. builds ko v0.19.0 from the Go module proxy (helper module hack/tools/ko) with
#      hack/testbin.sh into bin/testbin/;
#   2. bases: makes the base images locally and pushes them to the registry with crane:
#      busybox  Debian's busybox-static (+ applet links, /tmp, a nonroot user 65532),
#      static   no shell at all: /etc/passwd, /tmp (Tekton's nop must not have a shell),
#      kubectl  busybox + kubectl (bin/testbin/kubectl; tests' in-cluster clients),
#      kaniko   busybox + /kaniko/executor (bin/testbin/kaniko-executor, make testbin),
#      git      busybox + Debian's git and the shared libraries it loads (pr-apply runs git);
#   3. images: ko-builds the pod sandbox image (hack/pause, <reg>/agentline/pause), Tekton's
#      entrypoint, nop, workingdirinit and sidecarlogresults from the pinned module
#      (hack/tools/tekton, <reg>/tekton/<name>:<version>) and agentline's own binaries
#      (every cmd/, <reg>/agentline/<name>:latest);
#      and the demo's agent image (<reg>/agentline/agent:latest: git + the Codex CLI + Go);
#   4. resolve: writes a .ko.yaml pointing at those bases (KO_CONFIG_PATH) and runs
#      `ko resolve` on `kubectl kustomize config/` with KO_DOCKER_REPO=<registry>/agentline,
#      writing the resolved install to bin/agentline.yaml.
#
# Usage: hack/ko.sh [images|resolve|build-ko|bases]   (default: resolve, which does all;
#        make images runs `images`, which does 1-3)
# Env:   AGENTLINE_REGISTRY  host:port of a plain-HTTP registry (default: the local stack's,
#                            from `go run ./hack/stack env`)
#        KO_PLATFORM         default linux/amd64
# Needs: Debian packages busybox-static and git (make deps), bin/testbin/{crane,kubectl,
#        kaniko-executor} (make testbin).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-resolve}
testbin=${TESTBIN_DIR:-$root/bin/testbin}
crane=$testbin/crane
platform=${KO_PLATFORM:-linux/amd64}

die() { echo "ko.sh: $*" >&2; exit 1; }

build_ko() {
	"$root/hack/testbin.sh" ko
}

registry() {
	if [ -z "${AGENTLINE_REGISTRY:-}" ]; then
		AGENTLINE_REGISTRY=$(cd "$root" && go run ./hack/stack env | sed -n 's/^export AGENTLINE_REGISTRY=//p')
	fi
	[ -n "$AGENTLINE_REGISTRY" ] || die "no registry: set AGENTLINE_REGISTRY or start the stack (make stack-up)"
	curl -fsS "http://$AGENTLINE_REGISTRY/v2/" >/dev/null || die "registry $AGENTLINE_REGISTRY does not answer (make stack-up)"
	echo "$AGENTLINE_REGISTRY"
}

# rootfs_busybox DIR: a minimal root file system with busybox and a nonroot user.
rootfs_busybox() {
	local r=$1 bb=/bin/busybox
	[ -x "$bb" ] || die "$bb missing: install Debian's busybox-static (make deps)"
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/home/nonroot"
	chmod 1777 "$r/tmp"
	cp "$bb" "$r/bin/busybox"
	for applet in $("$bb" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$r/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n' > "$r/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' > "$r/etc/group"
	chown 65532:65532 "$r/home/nonroot"
}

# push_image REF DIR BASE [crane mutate flags...]: DIR as one layer on BASE (empty: no base),
# with PATH and the platform set (ko matches the base's platform).
push_image() {
	local ref=$1 dir=$2 base=${3:-}; shift 3 || true
	local tar
	tar=$(mktemp --suffix=.tar)
	tar -C "$dir" --numeric-owner -cf "$tar" .
	if [ -n "$base" ]; then
		"$crane" append --insecure -b "$base" -f "$tar" -t "$ref" >/dev/null
	else
		"$crane" append --insecure -f "$tar" -t "$ref" >/dev/null
	fi
	rm -f "$tar"
	"$crane" mutate --insecure "$ref" --env PATH=/usr/local/bin:/usr/bin:/bin --set-platform "$platform" -t "$ref" "$@" >/dev/null
}

bases() {
	local reg work
	reg=$(registry)
	[ -x "$crane" ] || die "$crane missing (make testbin)"
	work=$(mktemp -d)

	rootfs_busybox "$work/busybox"
	push_image "$reg/agentline/base/busybox:1" "$work/busybox" ""
	echo "ko.sh: pushed $reg/agentline/base/busybox:1"

	mkdir -p "$work/static/etc" "$work/static/tmp" "$work/static/home/nonroot"
	chmod 1777 "$work/static/tmp"
	cp "$work/busybox/etc/passwd" "$work/busybox/etc/group" "$work/static/etc/"
	push_image "$reg/agentline/base/static:1" "$work/static" ""
	echo "ko.sh: pushed $reg/agentline/base/static:1"

	[ -x "$testbin/kubectl" ] || die "$testbin/kubectl missing (make testbin)"
	mkdir -p "$work/kubectl/usr/local/bin"
	cp "$testbin/kubectl" "$work/kubectl/usr/local/bin/kubectl"
	push_image "$reg/agentline/base/kubectl:1" "$work/kubectl" "$reg/agentline/base/busybox:1"
	echo "ko.sh: pushed $reg/agentline/base/kubectl:1"

	[ -x "$testbin/kaniko-executor" ] || die "$testbin/kaniko-executor missing (make testbin)"
	mkdir -p "$work/kaniko/kaniko"
	cp "$testbin/kaniko-executor" "$work/kaniko/kaniko/executor"
	push_image "$reg/agentline/base/kaniko:1" "$work/kaniko" "$reg/agentline/base/busybox:1"
	echo "ko.sh: pushed $reg/agentline/base/kaniko:1"

	local git=/usr/bin/git
	[ -x "$git" ] || die "$git missing: install Debian's git (make deps)"
	mkdir -p "$work/git/usr/bin" "$work/git/usr/lib" "$work/git/usr/share"
	cp "$git" "$work/git/usr/bin/git"
	cp -a /usr/lib/git-core "$work/git/usr/lib/"
	cp -a /usr/share/git-core "$work/git/usr/share/" 2>/dev/null || true
	# The dynamic loader and every library git and its https helper load.
	for f in "$git" /usr/lib/git-core/git-remote-http; do
		ldd "$f" | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}' | while read -r lib; do
			[ -n "$lib" ] && [ -e "$lib" ] || continue
			mkdir -p "$work/git$(dirname "$lib")"
			cp -L "$lib" "$work/git$lib"
		done
	done
	mkdir -p "$work/git/etc/ssl/certs"
	[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$work/git/etc/ssl/certs/"
	push_image "$reg/agentline/base/git:1" "$work/git" "$reg/agentline/base/busybox:1"
	echo "ko.sh: pushed $reg/agentline/base/git:1"
	rm -rf "$work"
}

# ko_config REG DIR: writes DIR/.ko.yaml, the repository's .ko.yaml with the local bases, plus
# the bases of the node's own images.
ko_config() {
	local reg=$1 dir=$2
	sed -e "s#^defaultBaseImage:.*#defaultBaseImage: $reg/agentline/base/busybox:1#" \
		-e "s#\(cmd/kaniko-wrap:\).*#\1 $reg/agentline/base/kaniko:1#" \
		-e "s#\(cmd/pr-apply:\).*#\1 $reg/agentline/base/git:1#" \
		-e "s#^baseImageOverrides:#baseImageOverrides:\n  github.com/agentline/agentline/hack/pause: $reg/agentline/base/static:1#" \
		-e "/^defaultPlatforms:/,/^[a-z]/{/^  - /d}" -e "s#^defaultPlatforms:.*#defaultPlatforms: [$platform]#" \
		"$root/.ko.yaml" > "$dir/.ko.yaml"
}

# ko_build CONFIGDIR DIR REPO TAG PKG...: ko build in DIR, pushing REPO/<last path element>:TAG.
ko_build() {
	local cfgdir=$1 dir=$2 repo=$3 tag=$4; shift 4
	local log
	log=$(mktemp)
	# ko's progress (and git's status lines) only matter when it fails.
	if ! (cd "$dir" && KO_CONFIG_PATH=$cfgdir KO_DOCKER_REPO=$repo GOFLAGS=-buildvcs=false \
		"$testbin/ko" build --insecure-registry --sbom=none --platform="$platform" \
		--base-import-paths --tags="$tag" "$@") >/dev/null 2>"$log"; then
		cat "$log" >&2
		rm -f "$log"
		die "ko build in $dir failed"
	fi
	rm -f "$log"
}

# fresh GROUP STAMP REF...: true when GROUP was last built from STAMP and the registry still
# has every REF (its manifests survive restarts; a purged stack loses them with the stamps).
fresh() {
	local group=$1 stamp=$2; shift 2
	[ "$(cat "$stamps/$group" 2>/dev/null)" = "$stamp" ] || return 1
	local ref
	for ref in "$@"; do "$crane" digest --insecure "$ref" >/dev/null 2>&1 || return 1; done
}

# hash_of FILE...: one hash of the files' contents.
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

images() {
	local reg start stamp names cfg tv
	start=$(date +%s)
	build_ko
	reg=$(registry)
	stamps=${AGENTLINE_STACK_DIR:-$root/.stack}/images
	mkdir -p "$stamps"
	names=$(cd "$root/cmd" && ls)
	tv=$(sed -nE 's#^[[:space:]]*(require )?github.com/tektoncd/pipeline (v[^ ]+).*#\2#p' "$root/hack/tools/tekton/go.mod" | head -1)

	stamp=$(echo "$reg $(hash_of "$0" /bin/busybox /usr/bin/git "$testbin/kubectl" "$testbin/kaniko-executor")")
	if fresh bases "$stamp" "$reg"/agentline/base/{busybox,static,kubectl,kaniko,git}:1; then
		echo "ko.sh: base images up to date"
	else
		bases
		echo "$stamp" > "$stamps/bases"
	fi

	cfg=$(mktemp -d)
	ko_config "$reg" "$cfg"
	stamp=$(echo "$reg $(hash_of "$0" "$root/.ko.yaml" "$root/go.mod" "$root/go.sum" $(cd "$root" && find cmd pkg hack/pause -name '*.go' -not -name '*_test.go' | sort))")
	if fresh agentline "$stamp" "$reg/agentline/pause:latest" $(for n in $names; do echo "$reg/agentline/$n:latest"; done); then
		echo "ko.sh: agentline images up to date"
	else
		ko_build "$cfg" "$root" "$reg/agentline" latest ./hack/pause $(cd "$root" && ls -d ./cmd/*/)
		echo "$stamp" > "$stamps/agentline"
		echo "ko.sh: pushed $reg/agentline/{pause,$(echo $names | tr ' ' ,)}:latest"
	fi

	stamp=$(echo "$reg $(go env GOVERSION) $(hash_of "$0" "$root/hack/codex.sh")")
	if fresh agent "$stamp" "$reg/agentline/agent:latest"; then
		echo "ko.sh: agent image up to date"
	else
		agent_image "$reg"
		echo "$stamp" > "$stamps/agent"
	fi

	stamp=$(echo "$reg $(hash_of "$0" "$root/hack/tools/tekton/go.mod" "$root/hack/tools/tekton/go.sum")")
	if fresh tekton "$stamp" "$reg"/tekton/{entrypoint,nop,workingdirinit,sidecarlogresults}:"$tv"; then
		echo "ko.sh: tekton images up to date"
		rm -rf "$cfg"
		echo "ko.sh: images ready in $(( $(date +%s) - start ))s"
		return
	fi
	mkdir -p "$cfg/tekton"
	printf 'defaultBaseImage: %s\ndefaultPlatforms: [%s]\nbaseImageOverrides:\n  github.com/tektoncd/pipeline/cmd/nop: %s\n' \
		"$reg/agentline/base/busybox:1" "$platform" "$reg/agentline/base/static:1" > "$cfg/tekton/.ko.yaml"
	ko_build "$cfg/tekton" "$root/hack/tools/tekton" "$reg/tekton" "$tv" \
		github.com/tektoncd/pipeline/cmd/entrypoint github.com/tektoncd/pipeline/cmd/nop \
		github.com/tektoncd/pipeline/cmd/workingdirinit github.com/tektoncd/pipeline/cmd/sidecarlogresults
	echo "ko.sh: pushed $reg/tekton/{entrypoint,nop,workingdirinit,sidecarlogresults}:$tv"
	echo "$stamp" > "$stamps/tekton"
	rm -rf "$cfg"
	echo "ko.sh: images ready in $(( $(date +%s) - start ))s"
}

# agent_image REG: <reg>/agentline/agent:latest, the image the demo's agent task runs Codex in:
# the git base + the Codex CLI's native static binary and its rg (hack/codex.sh) + this
# machine's Go toolchain (the sample repository's tests are Go), offline (GOPROXY=off).
agent_image() {
	local reg=$1 codex vendor work goroot
	codex=$("$root/hack/codex.sh" | tail -1)
	# <install>/node_modules/.bin/codex -> <install>/node_modules/@openai/codex-linux-x64/vendor/...
	vendor=$(dirname "$codex")/../@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl
	[ -x "$vendor/bin/codex" ] || die "no native codex binary under the Codex CLI install ($codex)"
	goroot=$(go env GOROOT)
	work=$(mktemp -d)
	mkdir -p "$work/usr/local/bin" "$work/usr/local"
	cp "$vendor/bin/codex" "$vendor"/codex-path/* "$work/usr/local/bin/"
	tar -C "$goroot/.." --exclude='go/test' --exclude='go/api' --exclude='go/doc' --exclude='go/misc' \
		--exclude='go/pkg/obj' -cf - "$(basename "$goroot")" | tar -C "$work/usr/local" -xf -
	[ "$(basename "$goroot")" = go ] || mv "$work/usr/local/$(basename "$goroot")" "$work/usr/local/go"
	push_image "$reg/agentline/agent:latest" "$work" "$reg/agentline/base/git:1" \
		--env PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin --env GOTOOLCHAIN=local \
		--env GOPROXY=off --env CGO_ENABLED=0 --env GOFLAGS=-mod=mod
	rm -rf "$work"
	echo "ko.sh: pushed $reg/agentline/agent:latest (Codex $("$vendor/bin/codex" --version | awk '{print $NF}'), $(go env GOVERSION))"
}

resolve() {
	local reg out cfg kust
	build_ko
	reg=$(registry)
	bases
	cfg=$(mktemp -d)
	# Same builds as .ko.yaml, local bases.
	ko_config "$reg" "$cfg"
	kust=$cfg/install.yaml
	"$testbin/kubectl" kustomize "$root/config" > "$kust"
	out=$root/bin/agentline.yaml
	echo "ko.sh: ko resolve (KO_DOCKER_REPO=$reg/agentline) ..."
	(cd "$root" && KO_CONFIG_PATH=$cfg KO_DOCKER_REPO=$reg/agentline GOFLAGS=-buildvcs=false \
		"$testbin/ko" resolve --insecure-registry --sbom=none --platform="$platform" -f "$kust") > "$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$cfg"
	if grep -q 'ko://' "$out"; then die "unresolved ko:// references left in $out"; fi
	echo "ko.sh: resolved install written to $out ($(grep -c '^kind:' "$out") objects)"
}

case $cmd in
images) images ;;
build-ko) build_ko ;;
bases) bases ;;
resolve) resolve ;;
*) die "unknown command $cmd (images, resolve, build-ko, bases)" ;;
esac
