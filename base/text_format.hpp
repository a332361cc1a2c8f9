// How a platform shows a reply's text: the form the outbox renders the LLM's markdown into
// before splitting it (base/markdown.hpp). Adapters declare it in their Capabilities.
#pragma once

namespace bot {

enum class TextFormat {
    markdown,       // as the LLM wrote it: the platform renders markdown (WeCom bot, DingTalk)
    plain,          // readable plain text, no markup symbols (WeChat, iLink, QQ, OneBot)
    telegram_html,  // Telegram's HTML subset, sent with parse_mode HTML
    // Markdown dialects (base/markdown.hpp Dialect):
    feishu_markdown,   // Feishu post "md" elements and card markdown
    slack_mrkdwn,      // Slack's mrkdwn
    discord_markdown,  // Discord's message markdown
};

}  // namespace bot
