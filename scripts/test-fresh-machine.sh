#!/usr/bin/env bash
# Checks the README's promise that `npm test` passes on a machine with only Node.js: clones the
# current commit into a temp folder, installs it with `npm ci` (needs the npm registry), then runs
# `npm test` where no PostgreSQL or Redis listens on the default ports, and checks that the run
# leaves no private server and no temp folder behind. Run by hand, never from `npm test`.
#
#   scripts/test-fresh-machine.sh            # default: `npm test` in a fresh network namespace
#                                            # (unshare -n, root): nothing listens on 5432/6379
#                                            # there, and the shared servers keep running
#   scripts/test-fresh-machine.sh --stop     # really stop the system PostgreSQL and Redis for the
#                                            # run and start them again after (also on failure)
#
# The namespace has no network at all, so anything `npm test` would download (Chromium through
# apt-get when /usr/bin/chromium is missing) must already be there in the default mode.
set -euo pipefail
mode=netns
[[ "${1:-}" == "--stop" ]] && mode=stop
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$repo" rev-parse HEAD)"
work="$(mktemp -d /tmp/sluice-fresh-XXXXXX)"
leftovers() { { ls -d /tmp/sluice-test-services-* 2>/dev/null || true; pgrep -af 'sluice-test-services-' | grep -v pgrep || true; } | sort; }
before="$(leftovers)"

restart_services() {
  if [[ "$mode" == stop ]]; then
    echo "== starting the system PostgreSQL and Redis again"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
}
cleanup() { restart_services; rm -rf "$work"; }
trap cleanup EXIT

echo "== fresh clone of $commit into $work/sluice"
git clone --quiet --no-hardlinks "$repo" "$work/sluice"
git -C "$work/sluice" checkout --quiet "$commit"
cd "$work/sluice"
echo "== npm ci"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error

started=$(date +%s)
status=0
if [[ "$mode" == netns ]]; then
  echo "== npm test in a fresh network namespace (unshare -n: nothing listens on 5432/6379)"
  unshare -n bash -c 'ip link set lo up; npm test' || status=$?
else
  echo "== stopping the system PostgreSQL and Redis for the run"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main stop || true
  redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
  npm test || status=$?
  restart_services
  mode=done
fi
echo "== npm test exited $status after $(( $(date +%s) - started )) s"

# the watchdog reaps within a quarter second of the runner's exit: give it up to 15 s. Only what
# appeared during this run counts (another run on the machine may come and go meanwhile).
appeared() { comm -13 <(echo "$before") <(leftovers); }
for _ in $(seq 60); do new="$(appeared)"; [[ -z "$new" ]] && break; sleep 0.25; done
if [[ -n "$new" ]]; then
  echo "== LEFT BEHIND:"; echo "$new"
  status=1
else
  echo "== nothing left behind (no private server, no /tmp/sluice-test-services-* folder)"
fi
exit "$status"
