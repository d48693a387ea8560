#!/usr/bin/env bash
# Source this file: it makes Node.js 24+ the first `node` on PATH.
# The machine's own Node may be older than longrun's floor (24). When it is, Node 24 is installed
# once, per checkout, from the npm registry's `node@24` package (which ships its own binary) into
# .tooling/, which git ignores.
longrun_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# `node --version` (v24.1.0) answers without starting V8: sourcing this stays cheap for ./longrun.
longrun_node_major() {
  local version
  version="$(node --version 2>/dev/null)" || version=v0
  version="${version#v}"
  echo "${version%%.*}"
}
if [ "$(longrun_node_major)" -lt 24 ]; then
  if [ ! -x "$longrun_root/.tooling/node_modules/node/bin/node" ]; then
    echo "use-node: installing Node.js 24 from the npm registry into .tooling/" >&2
    npm install --silent --no-save --no-audit --no-fund --prefix "$longrun_root/.tooling" node@24 >&2
  fi
  export PATH="$longrun_root/.tooling/node_modules/node/bin:$PATH"
fi
if [ "$(longrun_node_major)" -lt 24 ]; then
  echo "use-node: Node.js 24 or newer is required and could not be installed" >&2
  return 1 2>/dev/null || exit 1
fi
