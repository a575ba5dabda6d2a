#!/usr/bin/env bash
# Puts the native libraries in place: ONNX Runtime (from the npm package onnxruntime-node, pinned and
# verified by sha256) into .local/native/, and Debian's libjpeg-turbo, libpng and libtiff.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

ORT_VERSION="${NFC_ORT_VERSION:-1.23.2}"
ORT_SHA256="${NFC_ORT_SHA256:-733854c3d7ce45256cc1c22cd4a30373247e1f7b7de8f40beab24211ef8e2a76}"
DEST="$NFC_LOCAL/native"
LIB="$DEST/libonnxruntime.so.1"

apt_ensure libturbojpeg0 libpng16-16 libtiff6

verify() { [ -f "$1" ] && echo "$ORT_SHA256  $1" | sha256sum -c --status; }

if verify "$LIB"; then
  log "onnxruntime $ORT_VERSION already in place: $LIB"
  exit 0
fi

command -v npm >/dev/null || apt_ensure npm
mkdir -p "$DEST"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
log "fetching onnxruntime-node@$ORT_VERSION from npm (about 97 MB)"
# npm pack skips the package's install script, which would try to download CUDA providers and fail here.
# Its cache in the temporary folder too, not ~/.npm (97 MB left behind per fetch otherwise).
(cd "$work" && npm_config_cache="$work/npm-cache" npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) || die "npm pack onnxruntime-node@$ORT_VERSION failed"
tar -xzf "$work/onnxruntime-node-$ORT_VERSION.tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
  || die "the npm package has no linux x64 libonnxruntime.so.1"
verify "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" \
  || die "sha256 mismatch for libonnxruntime.so.1 $ORT_VERSION (expected $ORT_SHA256); set NFC_ORT_SHA256 when pinning another version"
install -m 0644 "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$LIB"
log "installed $LIB"
