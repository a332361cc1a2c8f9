// The self-service binding page, GET /ilink/<adapter id>/bind (bind_page.html, embedded at build
// time). Its script polls bind/start, bind/status and bind/code relative to that path, so the
// page must be served at exactly that path: with a trailing slash they would resolve one level
// deeper.
//
// {{TITLE}} is the one placeholder, replaced by the HTML-escaped name of the bot. Serve it with
// the web chat's headers; the Content-Security-Policy must allow inline script and style,
// connect-src 'self' and img-src data: (the QR code is an <img> with a data: URL).
#pragma once

namespace bot::adapters::wechat_ilink {
extern const char* const kBindPageTemplate;
}  // namespace bot::adapters::wechat_ilink
