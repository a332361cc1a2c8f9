// `contactbot chat`: a conversation in the terminal through the same dispatcher, pipeline,
// memory and LLM as every platform (the "terminal" adapter). Works in a pipe.
#pragma once

#include <iosfwd>
#include <string>

namespace bot {

class App;
class Logger;

inline constexpr const char* kTerminalAdapterId = "terminal";

// Registers the terminal adapter on app (before app.start()).
void add_terminal_adapter(App& app, std::ostream& out);

// Reads lines from in until EOF, prints each reply to out as it streams. Returns 0, or 1 when
// a reply failed to arrive.
int run_terminal_chat(App& app, const std::string& user, std::istream& in, std::ostream& out,
                      bool interactive);

}  // namespace bot
