#!/usr/bin/env bash
# Runs the notes demo on three origins of one machine:
#   http://localhost:8000  the page (this directory)
#   http://localhost:8080  the waxseal issuer
#   http://localhost:8081  the notes API, behind the guard
# MODE=cookie keeps the refresh token in the issuer's HttpOnly cookie
# (serve --refresh-cookie) instead of the page's memory.
# Ctrl-C stops all three. State lives in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../../.."
MODE="${MODE:-header}"
APP=http://localhost:8000 ISSUER=http://localhost:8080 API=http://localhost:8081
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT

go build -o "$work/waxseal" ./cmd/waxseal
go build -o "$work/notes" ./examples/notes
go build -o "$work/web" ./examples/notes/web
if [ ! -f clients/js/dist/index.js ]; then (cd clients/js && npm ci && npm run build); fi

db="sqlite:$work/waxseal.db"
password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
"$work/waxseal" migrate --database "$db" >/dev/null
printf '%s\n' "$password" | "$work/waxseal" user add --database "$db" --password-stdin --role admin alice >/dev/null
cookie=()
[ "$MODE" = cookie ] && cookie=(--refresh-cookie)
"$work/waxseal" serve --database "$db" --listen localhost:8080 --issuer "$ISSUER" --audience notes \
  --access-ttl 1m --allow-origin "$APP" "${cookie[@]}" 2>"$work/issuer.log" &
for _ in $(seq 50); do curl -fs "$ISSUER/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
"$work/notes" --listen localhost:8081 --issuer "$ISSUER" --database "$work/notes.db" --allow-origin "$APP" 2>"$work/notes.log" &
"$work/web" --listen localhost:8000 --issuer "$ISSUER" --api "$API" --mode "$MODE" 2>"$work/web.log" &

cat <<MSG

  Notes demo ($MODE mode) — open $APP
  Sign in as alice with password: $password
  Access tokens live 1 minute: watch the countdown, then the refresh.
  Logs: $work/*.log   Stop: Ctrl-C

MSG
wait
