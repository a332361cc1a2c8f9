#include "wechat_ilink/qr_code.hpp"

#include <qrencode.h>

#include <algorithm>
#include <memory>

namespace bot::adapters::wechat_ilink {

namespace {

constexpr int kQuietZone = 4;  // modules of light margin on every side, as ISO/IEC 18004 asks

struct QrcodeFree {
    void operator()(QRcode* code) const { QRcode_free(code); }
};

// Whether a module is dark, for coordinates that may lie in the quiet zone or beyond.
bool dark_at(const QrCode& code, int x, int y) {
    return x >= 0 && y >= 0 && x < code.size() && y < code.size() && code.dark(x, y);
}

}  // namespace

std::optional<QrCode> QrCode::encode(std::string_view text) {
    // Version 40 at level M holds 2331 bytes; checking first also keeps the length an int.
    if (text.empty() || text.size() > 2331) return std::nullopt;
    // QRcode_encodeData is byte mode with an explicit length: unlike QRcode_encodeString it never
    // switches to Kanji or alphanumeric mode and does not stop at a NUL. Version 0 = the smallest
    // version that fits.
    std::unique_ptr<QRcode, QrcodeFree> raw(
        QRcode_encodeData(static_cast<int>(text.size()),
                          reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M));
    if (!raw) return std::nullopt;  // out of memory, or a capacity we got wrong (ERANGE)
    int size = raw->width;
    std::vector<unsigned char> modules(static_cast<std::size_t>(size) * size);
    // Bit 0 of each byte is the colour; the other bits say which function pattern it belongs to.
    for (std::size_t i = 0; i < modules.size(); ++i) modules[i] = raw->data[i] & 1;
    return QrCode(size, std::move(modules));
}

// qrencode -t UTF8 draws the light modules as block glyphs in the terminal's foreground colour
// and leaves the dark ones blank, so it scans only where the foreground is lighter than the
// background; on a light-background terminal the code comes out inverted, which many scanners
// reject. qrencode -t ANSIUTF8 draws the same glyphs but first sets white on black itself, so
// the polarity no longer depends on the terminal's theme. We do the latter, with the colours
// set and reset on every line so that nothing bleeds into the text around the code.
std::string qr_terminal_text(const QrCode& code) {
    static constexpr std::string_view kColours = "\x1b[40;37;1m";  // bold white on black
    static constexpr std::string_view kReset = "\x1b[0m";
    static constexpr std::string_view kFull = "\u2588", kUpper = "\u2580", kLower = "\u2584";
    const int end = code.size() + kQuietZone;
    std::string out;
    for (int y = -kQuietZone; y < end; y += 2) {
        out += kColours;
        for (int x = -kQuietZone; x < end; ++x) {
            // The last line of an odd-sized square has no lower row: draw it light, like the
            // quiet zone it extends.
            bool top_light = !dark_at(code, x, y);
            bool bottom_light = y + 1 >= end || !dark_at(code, x, y + 1);
            if (top_light && bottom_light) {
                out += kFull;
            } else if (top_light) {
                out += kUpper;
            } else if (bottom_light) {
                out += kLower;
            } else {
                out += ' ';
            }
        }
        out += kReset;
        out += '\n';
    }
    return out;
}

std::string qr_terminal_ascii(const QrCode& code) {
    const int end = code.size() + kQuietZone;
    std::string out;
    for (int y = -kQuietZone; y < end; ++y) {
        for (int x = -kQuietZone; x < end; ++x) out += dark_at(code, x, y) ? "##" : "  ";
        out += '\n';
    }
    return out;
}

std::string qr_svg(const QrCode& code, int module_px) {
    const int side = code.size() + 2 * kQuietZone;
    const std::string px = std::to_string(side * std::max(module_px, 1));
    const std::string units = std::to_string(side);
    std::string path;
    for (int y = 0; y < code.size(); ++y) {
        for (int x = 0; x < code.size();) {
            if (!code.dark(x, y)) {
                ++x;
                continue;
            }
            int run = 1;
            while (x + run < code.size() && code.dark(x + run, y)) ++run;
            std::string len = std::to_string(run);
            path += 'M' + std::to_string(x + kQuietZone) + ' ' + std::to_string(y + kQuietZone) +
                    'h' + len + "v1h-" + len + 'z';
            x += run;
        }
    }
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px + "\" height=\"" + px +
           "\" viewBox=\"0 0 " + units + ' ' + units +
           "\" shape-rendering=\"crispEdges\">"
           "<rect width=\"" +
           units + "\" height=\"" + units + "\" fill=\"#fff\"/><path fill=\"#000\" d=\"" + path +
           "\"/></svg>\n";
}

}  // namespace bot::adapters::wechat_ilink
