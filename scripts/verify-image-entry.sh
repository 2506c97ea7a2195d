#!/usr/bin/env bash
# Checks, without a container engine, what the control-plane image runs: a clean copy of the
# committed tree, `npm ci --omit=dev` (postinstall generates the Prisma clients and builds
# dist/ with esbuild — no tsx, no vite, no TypeScript compiler), then the image's command
# `node --enable-source-maps dist/control/main.js` on a fresh data dir, and the README's
# /predict curl against it. Usage: scripts/verify-image-entry.sh [port-base]
set -euo pipefail
BASE=${1:-44050}
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/sluice-image-entry-XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
PID=
git -C "$SRC" archive HEAD | tar -x -C "$TMP"
cd "$TMP"
export ONNXRUNTIME_NODE_INSTALL=skip
start=$(date +%s)
npm ci --omit=dev --no-audit --no-fund >npm-ci.log 2>&1 || { tail -30 npm-ci.log; exit 1; }
echo "npm ci --omit=dev: $(( $(date +%s) - start )) s"
# (typescript itself does get installed: it is an optional peer of @prisma/client)
test ! -e node_modules/tsx && test ! -e node_modules/vite && echo "no tsx or vite installed: nothing compiles at run time"
test -f dist/control/main.js && test -f dist/runtime/server.js && echo "dist/ built by postinstall"
export SLUICE_DATA_DIR="$TMP/data" SLUICE_PORT=$BASE SLUICE_EDGE_PORT=$((BASE+1)) SLUICE_XDS_PORT=$((BASE+2)) SLUICE_GATEWAY_PORT=$((BASE+3))
node --enable-source-maps dist/control/main.js >start.log 2>&1 &
PID=$!
for _ in $(seq 1 120); do grep -q '\[sluice\] ready' start.log && break; kill -0 $PID || { cat start.log; exit 1; }; sleep 1; done
grep -q '\[sluice\] ready' start.log || { cat start.log; exit 1; }
KEY=$(cat "$SLUICE_DATA_DIR/demo-api-key")
curl -sf "http://127.0.0.1:$SLUICE_EDGE_PORT/services/wine-quality/predict" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"client_request_id": "r-1", "dataframe_split": {"columns": ["alcohol","malic_acid","ash","alcalinity_of_ash","magnesium","total_phenols","flavanoids","nonflavanoid_phenols","proanthocyanins","color_intensity","hue","od280/od315_of_diluted_wines","proline"], "data": [[13.2,1.78,2.14,11.2,100,2.65,2.76,0.26,1.28,4.38,1.05,3.4,1050]]}}'
echo
pgrep -af "$TMP/dist/runtime/server.js" | sed 's/^/replica: /'
echo "image entry OK"
