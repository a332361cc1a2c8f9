// QR codes for the iLink login: the platform hands us a URL (qrcode_img_content) that we must
// show as a QR code ourselves, in the terminal (contactbot ilink-login) and on the binding page.
// Rendered locally: whoever holds the login URL can bind their WeChat, so no third party sees it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bot::adapters::wechat_ilink {

class QrCode {
public:
    // Byte mode (any bytes, NULs included), error correction level M, the smallest version that
    // fits. nullopt if the text cannot be encoded: empty, or longer than version 40 holds
    // (2331 bytes).
    static std::optional<QrCode> encode(std::string_view text);

    int size() const { return size_; }  // modules per side, without the quiet zone
    bool dark(int x, int y) const {     // x = column, y = row, both in [0, size())
        return modules_[static_cast<std::size_t>(y) * size_ + x] != 0;
    }

private:
    QrCode(int size, std::vector<unsigned char> modules)
        : size_(size), modules_(std::move(modules)) {}

    int size_;
    std::vector<unsigned char> modules_;  // row-major, 1 = dark
};

// Unicode half blocks, two module rows per line, with the 4-module quiet zone. Every line sets
// its own colours (white on black) and resets them at the end; see qr_code.cpp for why.
std::string qr_terminal_text(const QrCode& code);

// Plain ASCII for terminals without UTF-8 or colours: "##" per dark module, two spaces per light
// one, one line per module row, quiet zone included. Scans on light-background terminals.
std::string qr_terminal_ascii(const QrCode& code);

// A standalone SVG document: white background, the dark modules as one <path> (horizontal runs
// merged), 4-module quiet zone, viewBox in modules, width = height = (size + 8) * module_px.
std::string qr_svg(const QrCode& code, int module_px = 6);

}  // namespace bot::adapters::wechat_ilink
