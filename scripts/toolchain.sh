#!/usr/bin/env bash
# Makes sure the C plugin toolchain is present: clang, wasm-ld (lld) and
# wasi-libc, enough to build a wasm32-wasi reactor module such as
# examples/plugins/c_validate. Installs the Debian packages when the probe
# build fails; prints nothing when everything is already there.
# Usage: scripts/toolchain.sh (as root when something must be installed).
set -euo pipefail

# The Debian 12 packages: clang 14, its wasm-ld, the wasi-libc sysroot
# (/usr/share/wasi-sysroot) and the wasm32 compiler-rt builtins that
# clang links every wasm32 module with.
packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32)

# probe compiles and links a trivial reactor exactly the way the C plugins
# are built; it fails when any part of the toolchain is missing.
probe() {
	command -v clang >/dev/null 2>&1 || return 1
	command -v wasm-ld >/dev/null 2>&1 || return 1
	local dir rc=0
	dir=$(mktemp -d)
	printf '%s\n' \
		'__attribute__((export_name("probe"))) int probe(void) { return 42; }' >"$dir/probe.c"
	clang --target=wasm32-wasi -O2 -mexec-model=reactor -o "$dir/probe.wasm" "$dir/probe.c" \
		>"$dir/log" 2>&1 || rc=1
	if [ "$rc" -ne 0 ] && [ "${1:-}" = "--verbose" ]; then
		cat "$dir/log" >&2
	fi
	rm -rf "$dir"
	return "$rc"
}

probe && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "toolchain: clang, wasm-ld or wasi-libc is missing; run as root to install: ${packages[*]}" >&2
	exit 1
fi
echo "toolchain: installing ${packages[*]}" >&2
install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
}
# Refresh the package lists only when a package has no candidate (a fresh
# image has empty lists) or the install fails on stale ones.
needs_update=0
for p in "${packages[@]}"; do
	if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
		needs_update=1
	fi
done
if [ "$needs_update" -eq 1 ]; then
	apt-get update -qq
fi
if ! install; then
	apt-get update -qq
	install
fi

if ! probe --verbose; then
	echo "toolchain: installed ${packages[*]}, but clang still cannot build a wasm32-wasi reactor" >&2
	exit 1
fi
