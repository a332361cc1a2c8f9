#!/usr/bin/env bash
# Drives the real contactbot binary: --version, check-config, chat in a pipe, run + SIGTERM,
# ilink-login's failures.
# Usage: cli_test.sh <path to contactbot> <path to deploy/contactbot.example.json>
set -u
bin=$1
example=$2
work=$(mktemp -d /tmp/contactbot-cli-XXXXXX)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
server=
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_contains() {  # haystack needle what
    case "$1" in *"$2"*) ;; *) fail "$3: expected to contain '$2', got: $1" ;; esac
}

out=$("$bin" --version) || fail "--version exited non-zero"
expect_contains "$out" "contactbot " "--version"

out=$(env -u CONTACTBOT_LLM "$bin" check-config --config "$example" 2>&1) || fail "example config rejected: $out"
expect_contains "$out" "OK" "check-config example"

# The example's commented adapter blocks (`// ,"<name>": {` ... `// }`), uncommented one at a
# time with dummy secrets, pass too.
uncomment_block() {  # name
    awk -v start="// ,\"$1\": {" '
        index($0, start) { inside = 1 }
        inside { line = $0; sub(/\/\/ ?/, "", line); print line; if (line ~ /^[ \t]*}[ \t]*$/) inside = 0; next }
        { print }' "$example"
}
uncomment_block qq > "$work/example-qq.json"
out=$(env -u CONTACTBOT_LLM QQ_BOT_APP_ID=102030405 QQ_BOT_SECRET=dummy-secret \
      "$bin" check-config --config "$work/example-qq.json" 2>&1) || fail "example qq block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example qq block"
uncomment_block napcat > "$work/example-onebot.json"
grep -q '"type": "onebot"' "$work/example-onebot.json" || fail "no OneBot block uncommented in the example"
out=$(env -u CONTACTBOT_LLM ONEBOT_ACCESS_TOKEN=cli-test \
      "$bin" check-config --config "$work/example-onebot.json" 2>&1) || fail "example onebot block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example onebot block"
uncomment_block feishu > "$work/example-feishu.json"
out=$(env -u CONTACTBOT_LLM FEISHU_APP_ID=cli_a1b2c3d4e5f60718 FEISHU_APP_SECRET=dummy-secret \
      "$bin" check-config --config "$work/example-feishu.json" 2>&1) || fail "example feishu block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example feishu block"
uncomment_block dingtalk > "$work/example-dingtalk.json"
out=$(env -u CONTACTBOT_LLM DINGTALK_CLIENT_ID=dingappkey01 DINGTALK_CLIENT_SECRET=dummy-secret \
      "$bin" check-config --config "$work/example-dingtalk.json" 2>&1) || fail "example dingtalk block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example dingtalk block"
uncomment_block slack > "$work/example-slack.json"
out=$(env -u CONTACTBOT_LLM SLACK_BOT_TOKEN=xoxb-1-dummy SLACK_APP_TOKEN=xapp-1-dummy \
      "$bin" check-config --config "$work/example-slack.json" 2>&1) || fail "example slack block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example slack block"
uncomment_block discord > "$work/example-discord.json"
out=$(env -u CONTACTBOT_LLM DISCORD_BOT_TOKEN=dummy.discord-token \
      "$bin" check-config --config "$work/example-discord.json" 2>&1) || fail "example discord block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example discord block"
uncomment_block line > "$work/example-line.json"
out=$(env -u CONTACTBOT_LLM LINE_CHANNEL_SECRET=dummy-secret LINE_CHANNEL_ACCESS_TOKEN=dummy-token \
      "$bin" check-config --config "$work/example-line.json" 2>&1) || fail "example line block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example line block"
uncomment_block whatsapp > "$work/example-whatsapp.json"
out=$(env -u CONTACTBOT_LLM WHATSAPP_PHONE_NUMBER_ID=106540352242922 WHATSAPP_ACCESS_TOKEN=dummy-token \
      WHATSAPP_APP_SECRET=dummy-secret WHATSAPP_VERIFY_TOKEN=dummy-verify \
      "$bin" check-config --config "$work/example-whatsapp.json" 2>&1) || fail "example whatsapp block rejected: $out"
expect_contains "$out" "OK (3 adapters" "check-config example whatsapp block"

cat > "$work/bad.json" <<'JSON'
{
  // comments are fine; these values are not
  "server": {"listen": "nowhere", "threds": 2},
  "llm": {"default": "ghost", "providers": {"p": {"base_url": "https://x/v1", "model": "m", "api_key": "${CLI_TEST_UNSET_VAR}"}}},
  "adapters": {"api": {"type": "teleport"}}
}
JSON
out=$("$bin" check-config --config "$work/bad.json" 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "bad config: exit status $rc, expected 2"
expect_contains "$out" "server.listen: must be host:port" "bad config"
expect_contains "$out" "server.threds: unknown key" "bad config"
expect_contains "$out" "llm.default: names no provider" "bad config"
expect_contains "$out" "llm.providers.p.api_key: environment variable CLI_TEST_UNSET_VAR is not set" "bad config"
expect_contains "$out" "adapters.api.type: unknown adapter type \"teleport\"" "bad config"

out=$("$bin" check-config --config "$work/missing.json" 2>&1)
[ $? -eq 2 ] || fail "missing config file accepted"
expect_contains "$out" "cannot open the config file" "missing config"

cat > "$work/bot.json" <<JSON
{
  "server": {"listen": "127.0.0.1:0", "shutdown_grace_s": 2},
  "storage": {"sqlite": {"path": "$work/data/bot.db"}},
  "adapters": {"api": {"type": "http_api"}}
}
JSON
out=$(printf 'hello\n/help\n' | "$bin" chat --config "$work/bot.json" --user tester 2>&1) || fail "chat exited non-zero: $out"
expect_contains "$out" "no AI model configured" "chat without a provider"
expect_contains "$out" "/forget - delete everything" "chat /help"

"$bin" run --config "$work/bot.json" > "$work/run.log" 2>&1 &
server=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/run.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "server did not start: $(cat "$work/run.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] || fail "/healthz"
[ -f "$work/data/api.token" ] || fail "no generated token file"
[ "$(stat -c %a "$work/data/api.token")" = 600 ] || fail "token file is not 0600"
[ "$(stat -c %a "$work/data/bot.db")" = 600 ] || fail "database file is not 0600"
token=$(cat "$work/data/api.token")
status=$(curl -s -o /dev/null -w '%{http_code}' -d '{"user":"u","text":"hi"}' "http://127.0.0.1:$port/api/v1/messages")
[ "$status" = 401 ] || fail "no token: status $status"
reply=$(curl -s -H "Authorization: Bearer $token" -d '{"user":"u","text":"hi"}' "http://127.0.0.1:$port/api/v1/messages")
expect_contains "$reply" "no AI model configured" "http_api reply"
grep -q "$token" "$work/run.log" && fail "the token appears in the log"
kill -TERM $server
wait $server
rc=$?
server=
[ $rc -eq 0 ] || fail "run exited $rc after SIGTERM"
grep -q "stopped" "$work/run.log" || fail "no clean stop in the log"
[ -e "$work/data/bot.db-wal" ] && [ -s "$work/data/bot.db-wal" ] && fail "WAL not checkpointed at close"
[ "$(sqlite3 "$work/data/bot.db" 'PRAGMA integrity_check')" = ok ] || fail "database integrity"

# The commands adapter types add are listed by --help (from the registry, not the core).
out=$("$bin" --help 2>&1)
expect_contains "$out" "ilink-login" "--help lists the adapters' commands"

# ilink-login: a wrong --adapter, a config problem, and an iLink that cannot be reached (port 9
# is closed).
cat > "$work/wx.json" <<JSON
{
  "storage": {"sqlite": {"path": "$work/wx/bot.db"}},
  "adapters": {"wx": {"type": "wechat_ilink", "api_base": "http://127.0.0.1:9"}}
}
JSON
out=$("$bin" ilink-login --config "$work/wx.json" --adapter nope < /dev/null 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "ilink-login --adapter nope: exit status $rc, expected 2"
expect_contains "$out" "adapters.nope is not configured" "ilink-login wrong adapter"
cat > "$work/wx-bad.json" <<JSON
{
  "storage": {"sqlite": {"path": "$work/wx/bot.db"}},
  "adapters": {"wx": {"type": "wechat_ilink", "api_base": "ftp://127.0.0.1:9"}}
}
JSON
out=$("$bin" ilink-login --config "$work/wx-bad.json" --adapter wx < /dev/null 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "ilink-login with a bad api_base: exit status $rc, expected 2"
expect_contains "$out" "adapters.wx.api_base" "ilink-login bad config"
out=$("$bin" ilink-login --config "$work/wx.json" --adapter wx < /dev/null 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "ilink-login without iLink: exit status $rc, expected 1"
expect_contains "$out" "Could not get a QR code" "ilink-login without iLink"

if [ $failures -ne 0 ]; then
    echo "--- server log"; cat "$work/run.log" 2>/dev/null
    exit 1
fi
echo "cli tests passed"
