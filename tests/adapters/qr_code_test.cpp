// The iLink login QR code: whatever we print or serve must scan back to the URL. Every
// rendering is read back into a module grid, compared with the encoder's matrix, and decoded with
// zbar, as a phone's scanner would.
#include "wechat_ilink/qr_code.hpp"
#include "wechat_ilink/bind_page.hpp"

#include <zbar.h>
#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace bot::adapters::wechat_ilink;

namespace {

constexpr int kQuiet = 4;
using Grid = std::vector<std::vector<bool>>;  // [row][column], true = dark

// The matrix with its quiet zone, as every rendering must show it.
Grid expected_grid(const QrCode& code) {
    int side = code.size() + 2 * kQuiet;
    Grid grid(side, std::vector<bool>(side, false));
    for (int y = 0; y < code.size(); ++y)
        for (int x = 0; x < code.size(); ++x) grid[y + kQuiet][x + kQuiet] = code.dark(x, y);
    return grid;
}

// Decodes a grid with zbar, each module drawn as px x px grey pixels. Binary mode: the bytes as
// encoded, without zbar's guess at a character set.
std::vector<std::string> scan(const Grid& grid, int px = 4) {
    const int side = static_cast<int>(grid.size()) * px;
    std::string pixels(static_cast<std::size_t>(side) * side, '\xff');
    for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x)
            if (grid[y / px][x / px]) pixels[static_cast<std::size_t>(y) * side + x] = '\0';
    zbar::ImageScanner scanner;
    scanner.set_config(zbar::ZBAR_NONE, zbar::ZBAR_CFG_ENABLE, 0);
    scanner.set_config(zbar::ZBAR_QRCODE, zbar::ZBAR_CFG_ENABLE, 1);
    scanner.set_config(zbar::ZBAR_QRCODE, zbar::ZBAR_CFG_BINARY, 1);
    zbar::Image image(side, side, "Y800", pixels.data(), pixels.size());
    scanner.scan(image);
    std::vector<std::string> found;
    for (auto symbol = image.symbol_begin(); symbol != image.symbol_end(); ++symbol)
        found.push_back(symbol->get_data());
    image.set_data(nullptr, 0);  // the pixels are ours, not zbar's to free
    return found;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Unicode code points, which is the display width for the block glyphs and spaces used here.
std::vector<std::string> code_points(std::string_view text) {
    std::vector<std::string> points;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = 1;
        while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
        points.emplace_back(text.substr(i, n));
        i += n;
    }
    return points;
}

// Reads qr_terminal_text back into modules. The glyphs are drawn in the foreground colour
// (white) and the blank halves show the background (black), so a glyph's half is a light module.
Grid grid_from_terminal(const std::string& text) {
    static const std::string kColours = "\x1b[40;37;1m", kReset = "\x1b[0m";
    Grid grid;
    for (const auto& line : lines_of(text)) {
        // Each line sets white on black itself and resets it: the code cannot depend on the
        // terminal's theme, nor colour what follows.
        REQUIRE(line.starts_with(kColours));
        REQUIRE(line.ends_with(kReset));
        auto body = std::string_view(line).substr(kColours.size());
        body.remove_suffix(kReset.size());
        std::vector<bool> top, bottom;
        for (const auto& glyph : code_points(body)) {
            bool top_light = glyph == "\u2588" || glyph == "\u2580";
            bool bottom_light = glyph == "\u2588" || glyph == "\u2584";
            REQUIRE((glyph == " " || top_light || bottom_light));
            top.push_back(!top_light);
            bottom.push_back(!bottom_light);
        }
        grid.push_back(top);
        grid.push_back(bottom);
    }
    return grid;
}

Grid grid_from_ascii(const std::string& text) {
    Grid grid;
    for (const auto& line : lines_of(text)) {
        REQUIRE(line.size() % 2 == 0);
        std::vector<bool> row;
        for (std::size_t i = 0; i < line.size(); i += 2) {
            auto cell = line.substr(i, 2);
            REQUIRE((cell == "##" || cell == "  "));
            row.push_back(cell == "##");
        }
        grid.push_back(row);
    }
    return grid;
}

// Maximal horizontal runs of dark modules: what the SVG path should consist of.
int dark_runs(const Grid& grid) {
    int runs = 0;
    for (const auto& row : grid)
        for (std::size_t x = 0; x < row.size(); ++x) runs += row[x] && (x == 0 || !row[x - 1]);
    return runs;
}

const std::string kLoginUrl = "https://liteapp.weixin.qq.com/q/fake-1?bot_type=3";

}  // namespace

TEST_CASE("QR codes scan back to the text, bytes as given", "[qr]") {
    std::string long_url =
        "https://liteapp.weixin.qq.com/q/" + std::string(300, 'x') + "?bot_type=3";
    std::string utf8 = "绑定微信 https://example.com/?q=二维码&x=%41";
    for (const auto& text : {kLoginUrl, long_url, utf8}) {
        auto code = QrCode::encode(text);
        REQUIRE(code);
        CHECK((code->size() - 17) % 4 == 0);
        CHECK(scan(expected_grid(*code)) == std::vector<std::string>{text});
    }
}

TEST_CASE("QR codes use level M in byte mode and the smallest version", "[qr]") {
    // Version 4-M holds 62 bytes, 5-M 84, 40-M 2331 (ISO/IEC 18004 table 7); other levels differ.
    CHECK(QrCode::encode(std::string(62, 'a'))->size() == 33);
    CHECK(QrCode::encode(std::string(63, 'a'))->size() == 37);
    CHECK(QrCode::encode(std::string(84, 'a'))->size() == 37);
    CHECK(QrCode::encode(std::string(2331, 'a'))->size() == 177);
    CHECK_FALSE(QrCode::encode(std::string(2332, 'a')));
    CHECK_FALSE(QrCode::encode(""));
    // A NUL is data, not the end of the text.
    auto with_nul = QrCode::encode(std::string("a\0b", 3));
    REQUIRE(with_nul);
    CHECK(expected_grid(*with_nul) != expected_grid(*QrCode::encode("a")));
}

TEST_CASE("The terminal QR uses half blocks and scans on any terminal theme", "[qr]") {
    auto code = QrCode::encode(kLoginUrl);
    REQUIRE(code);
    int side = code->size() + 2 * kQuiet;
    auto text = qr_terminal_text(*code);
    REQUIRE(text.ends_with('\n'));
    CHECK(static_cast<int>(lines_of(text).size()) == (side + 1) / 2);

    auto grid = grid_from_terminal(text);  // every line checked for its colours, too
    for (const auto& row : grid) CHECK(static_cast<int>(row.size()) == side);
    // An odd number of rows: the last line's lower half is light, like the quiet zone it extends.
    REQUIRE(static_cast<int>(grid.size()) == side + 1);
    CHECK(grid.back() == std::vector<bool>(side, false));
    grid.pop_back();
    CHECK(grid == expected_grid(*code));
    CHECK(scan(grid) == std::vector<std::string>{kLoginUrl});
}

TEST_CASE("The ASCII QR is two characters per module and scans", "[qr]") {
    auto code = QrCode::encode(kLoginUrl);
    REQUIRE(code);
    auto grid = grid_from_ascii(qr_terminal_ascii(*code));
    CHECK(grid == expected_grid(*code));
    CHECK(scan(grid) == std::vector<std::string>{kLoginUrl});
}

TEST_CASE("The SVG QR is a small well-formed document of the matrix", "[qr]") {
    auto code = QrCode::encode(kLoginUrl);
    REQUIRE(code);
    const int side = code->size() + 2 * kQuiet;
    const int module_px = GENERATE(6, 1, 10);
    auto svg_text = qr_svg(*code, module_px);

    pugi::xml_document doc;
    REQUIRE(doc.load_string(svg_text.c_str()));
    auto svg = doc.document_element();
    CHECK(std::string(svg.name()) == "svg");
    CHECK(std::string(svg.attribute("xmlns").value()) == "http://www.w3.org/2000/svg");
    CHECK(svg.attribute("width").as_int() == side * module_px);
    CHECK(svg.attribute("height").as_int() == side * module_px);
    CHECK(std::string(svg.attribute("viewBox").value()) ==
          "0 0 " + std::to_string(side) + " " + std::to_string(side));
    CHECK(std::string(svg.attribute("shape-rendering").value()) == "crispEdges");

    // A white background under the whole code (the quiet zone), then the one path of dark modules.
    auto rect = svg.child("rect");
    CHECK(rect.attribute("width").as_int() == side);
    CHECK(rect.attribute("height").as_int() == side);
    CHECK(std::string(rect.attribute("fill").value()) == "#fff");
    CHECK(std::distance(svg.children().begin(), svg.children().end()) == 2);
    auto path = svg.child("path");
    CHECK(std::string(path.attribute("fill").value()) == "#000");

    // The path is nothing but one-module-high rectangles; painting them gives the matrix back.
    std::string d = path.attribute("d").value();
    static const std::regex kRun(R"(M(\d+) (\d+)h(\d+)v1h-(\d+)z)");
    Grid grid(side, std::vector<bool>(side, false));
    int runs = 0;
    std::size_t covered = 0;
    for (std::sregex_iterator it(d.begin(), d.end(), kRun), end; it != end; ++it) {
        REQUIRE(static_cast<std::size_t>(it->position()) == covered);
        covered += it->length();
        int x = std::stoi((*it)[1]), y = std::stoi((*it)[2]), len = std::stoi((*it)[3]);
        REQUIRE((*it)[4] == (*it)[3]);
        REQUIRE((y < side && x + len <= side));
        for (int i = 0; i < len; ++i) {
            REQUIRE_FALSE(grid[y][x + i]);  // no module painted twice
            grid[y][x + i] = true;
        }
        ++runs;
    }
    CHECK(covered == d.size());
    CHECK(grid == expected_grid(*code));
    CHECK(runs == dark_runs(grid));  // adjacent dark modules merged into one run
    CHECK(svg_text.size() < 8000);
}

TEST_CASE("The binding page is embedded with its placeholder", "[qr]") {
    std::string_view page = kBindPageTemplate;
    CHECK(page.starts_with("<!doctype html>"));
    CHECK(page.find("{{TITLE}}") != std::string_view::npos);
    CHECK(page.find("\"bind/status?session=\"") != std::string_view::npos);
}
