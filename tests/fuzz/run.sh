#!/usr/bin/env bash
# Runs every fuzzer for a bounded time, two at a time, from the seeds in corpus/ with the
# dictionary of its format; prints a summary line per fuzzer and exits non-zero on any finding
# (crash, leak, undefined behaviour, failed invariant, timeout, out of memory).
#   tests/fuzz/run.sh [build dir]          default: build-fuzz at the repository's root
#   FUZZ_SECONDS=40  each fuzzer's time    FUZZ_JOBS=2  fuzzers at once
#   FUZZ_OUT=dir     where corpora, logs and crashing inputs go (default: a new /tmp directory)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build-fuzz}" && pwd)
seconds=${FUZZ_SECONDS:-40}
jobs=${FUZZ_JOBS:-2}
out=${FUZZ_OUT:-$(mktemp -d /tmp/contactbot-fuzz.XXXXXX)}
fuzzers=(http_request http_response sse openai_answer telegram_update telegram_answer
         wechat_xml wechat_crypt wecom_bot ilink webchat config qq onebot feishu dingtalk slack discord line whatsapp markdown
         embeddings recall_terms memory_reply)

dictionary() {
    case $1 in
        http_* | sse) echo "$here/dict/http.dict" ;;
        wechat_xml) echo "$here/dict/xml.dict" ;;
        wechat_crypt) ;;  # base64 and ciphertext: tokens do not help
        feishu) ;;        # protobuf frames and JSON: neither dictionary fits both
        markdown) echo "$here/dict/markdown.dict" ;;
        recall_terms) ;;  # any text a user writes
        *) echo "$here/dict/json.dict" ;;
    esac
}

# The codec fixtures a fuzzer starts from besides its own seeds in corpus/<name>.
fixtures() {
    local data=$here/../adapters/testdata
    case $1 in
        telegram_update) echo "$data/telegram" ;;
        wechat_xml) echo "$data/wechat_mp $data/wecom" ;;
        wecom_bot) echo "$data/wecom_bot" ;;
        qq) echo "$data/qq" ;;
        onebot) echo "$data/onebot" ;;
        feishu) echo "$data/feishu" ;;
        dingtalk) echo "$data/dingtalk" ;;
        slack) echo "$data/slack" ;;
        discord) echo "$data/discord" ;;
        line) echo "$data/line" ;;
        whatsapp) echo "$data/whatsapp" ;;
    esac
}

# One fuzzer; its summary goes to $out/<name>/summary.
run_one() {
    local name=$1 work=$out/$1 binary=$build/tests/fuzz/fuzz_$1
    mkdir -p "$work/corpus"
    if [ ! -x "$binary" ]; then
        echo "fuzz_$name: FAILED: $binary is missing (cmake --build <dir> --target fuzzers)" >"$work/summary"
        return
    fi
    local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
                -print_final_stats=1 -artifact_prefix="$work/")
    local dict
    dict=$(dictionary "$name")
    [ -n "$dict" ] && args+=(-dict="$dict")
    # The first directory collects what the run finds; the seeds are only read.
    # shellcheck disable=SC2046  # fixtures: a list of directories without spaces
    "$binary" "${args[@]}" "$work/corpus" "$here/corpus/$name" $(fixtures "$name") >"$work/log" 2>&1
    local rc=$?
    local runs coverage corpus
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    coverage=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n1 | cut -d' ' -f2)
    corpus=$(find "$work/corpus" -type f | wc -l)
    if [ $rc -eq 0 ]; then
        echo "fuzz_$name: ok, ${runs:-?} runs in ${seconds} s, coverage ${coverage:-?}, $corpus new inputs" >"$work/summary"
    else
        local what artifact
        # The most telling line: a failed invariant, an escaped exception, the sanitizer's.
        what=$(grep -m1 -E 'invariant failed: |terminate called after throwing' "$work/log" ||
            grep -m1 -E '^SUMMARY: ' "$work/log" || grep -m1 -E 'ERROR: ' "$work/log")
        artifact=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -n1)
        echo "fuzz_$name: FAILED (exit $rc): ${what:-see the log}; input ${artifact:-none}, log $work/log" >"$work/summary"
    fi
}

echo "fuzzing ${#fuzzers[@]} targets for ${seconds} s each, $jobs at a time; output in $out"
running=0
for name in "${fuzzers[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$name" &
    running=$((running + 1))
done
wait

failed=0
for name in "${fuzzers[@]}"; do
    cat "$out/$name/summary"
    if grep -q ': FAILED' "$out/$name/summary"; then failed=$((failed + 1)); fi
done
if [ $failed -ne 0 ]; then
    echo "fuzzing found problems: reproduce with <build>/tests/fuzz/fuzz_<name> <input> (tests/fuzz/README.md)"
fi
echo "fuzz: $((${#fuzzers[@]} - failed)) passed, $failed failed"
[ $failed -eq 0 ]
