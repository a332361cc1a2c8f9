// The chaos scenario's users (chaos.hpp): each plays one user until the load ends, finishes the
// message in hand, and (http_api, web chat) sends every id once more to check its answer.
#pragma once

#include "bench/chaos_ledger.hpp"

namespace bench::chaos {

void telegram_user(Ledger& ledger, const ChaosSpec& spec, int user);
void api_user(Ledger& ledger, const ChaosSpec& spec, int user);
void webchat_user(Ledger& ledger, const ChaosSpec& spec, int user);

}  // namespace bench::chaos
