// agentctl never prints a sandbox's strings raw: controls, escapes, bad
// UTF-8 and invisible or reordering characters are shown escaped.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "cli/record_text.hpp"
#include "cli/terminal.hpp"
#include "cli/terminal_text.hpp"
#include "cli/watch_view.hpp"

using agentctl::terminal_text;

namespace {

// Nothing a terminal acts on: no C0 control, no DEL, no C1 in UTF-8
// (C2 80..C2 9F), no bidi or zero-width character (E2 80 8B..8F, E2 80 AA..AE,
// E2 81 A6..A9).
bool inert(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7f) return false;
    if (b == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0) return false;
    if (b == 0xe2 && i + 2 < text.size()) {
      const auto b1 = static_cast<unsigned char>(text[i + 1]), b2 = static_cast<unsigned char>(text[i + 2]);
      if (b1 == 0x80 && ((b2 >= 0x8b && b2 <= 0x8f) || (b2 >= 0xa8 && b2 <= 0xae))) return false;
      if (b1 == 0x81 && b2 >= 0xa0 && b2 <= 0xaf) return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("terminal text: printable text passes unchanged") {
  CHECK(terminal_text("curl") == "curl");
  CHECK(terminal_text("/usr/bin/python3.11") == "/usr/bin/python3.11");
  CHECK(terminal_text("api.example.test") == "api.example.test");
  CHECK(terminal_text("bücher.example") == "bücher.example");  // UTF-8 letters stay letters
  CHECK(terminal_text("日本語") == "日本語");
  CHECK(terminal_text("a\\x1b") == "a\\x1b");  // already-escaped text is text
  CHECK(terminal_text("").empty());
}

TEST_CASE("terminal text: controls, escapes and bad bytes are escaped") {
  const std::pair<std::string, std::string> cases[] = {
      {"\x1b[2K\rdestination  198.51.100.10:443", "\\x1b[2K\\rdestination  198.51.100.10:443"},
      {"a\nb\tc\rd", "a\\nb\\tc\\rd"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"bell\a", "bell\\x07"},
      {"del\x7f", "del\\x7f"},
      {"\x9b"
       "31m",
       "\\x9b31m"},  // a lone C1 byte: not UTF-8
      {"\xc2\x9b"
       "31m",
       "\\u009b31m"},           // C1 CSI as UTF-8
      {"\xc2\x85", "\\u0085"},  // NEL
      {"\xff\xfe", "\\xff\\xfe"},
      {"\xc3", "\\xc3"},                             // cut short
      {"\xc0\xaf", "\\xc0\\xaf"},                    // overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // past U+10FFFF
  };
  for (const auto& [raw, escaped] : cases) {
    INFO(escaped);
    CHECK(terminal_text(raw) == escaped);
    CHECK(inert(terminal_text(raw)));
  }
}

// NOLINTBEGIN(misc-misleading-bidirectional): bidi controls are this test's input
TEST_CASE("terminal text: bidi and invisible format characters are escaped") {
  const std::pair<std::string, std::string> cases[] = {
      {"evil\u202egnp.exe", "evil\\u202egnp.exe"},  // right-to-left override
      {"\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"},
      {"\u2066x\u2067y\u2068z\u2069", "\\u2066x\\u2067y\\u2068z\\u2069"},
      {"\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"},
      {"pay\u200bpal", "pay\\u200bpal"},
      {"\u200c\u200d\ufeff", "\\u200c\\u200d\\ufeff"},
      {"line\u2028break\u2029", "line\\u2028break\\u2029"},
      {"tag\U000E0041", "tag\\U000e0041"},
  };
  for (const auto& [raw, escaped] : cases) {
    INFO(escaped);
    CHECK(terminal_text(raw) == escaped);
    CHECK(inert(terminal_text(raw)));
  }
}
// NOLINTEND(misc-misleading-bidirectional)

TEST_CASE("the watch prompt cannot be given a forged destination line") {
  const std::string forged = "\x1b[2K\rdestination  198.51.100.10:443";
  const nlohmann::json request = {
      {"id", 7},
      {"sandbox", "acme/dev/coder"},
      {"dest", "203.0.113.9"},
      {"port", 8443},
      {"protocol", "tcp"},
      {"host", forged + "\u202e"},  // NOLINT(misc-misleading-bidirectional): the forgery under test
      {"count", 1},
      {"first_seen", "2026-01-01T00:00:00Z"},
      {"last_seen", "2026-01-01T00:00:00Z"},
      {"expires_at", "2026-01-01T00:05:00Z"},
      {"process", {{"pid", 4242}, {"uid", 1000}, {"comm", forged}, {"exe", "/tmp/" + forged + "\n  destination  x"}}}};
  for (bool colour : {false, true}) {
    agentctl::Style style;
    style.colour = colour;
    const std::string view = agentctl::request_view(request, style);
    INFO(view);
    CHECK(view.find('\r') == std::string::npos);
    CHECK(view.find("\x1b[2K") == std::string::npos);
    if (!colour) CHECK(view.find('\x1b') == std::string::npos);
    CHECK(view.find("\\x1b[2K\\rdestination  198.51.100.10:443") != std::string::npos);
    CHECK(view.find("\\u202e") != std::string::npos);
    CHECK(view.find("\\n  destination  x") != std::string::npos);
    // One destination line, the real one.
    size_t lines = 0;
    for (size_t at = view.find("\n  destination  "); at != std::string::npos;
         at = view.find("\n  destination  ", at + 1))
      ++lines;
    CHECK(lines == 1);
    CHECK(view.find("203.0.113.9:8443/tcp") != std::string::npos);
  }
  // The tables of approvals list, audit and status use the same text.
  CHECK(agentctl::json_text(nlohmann::json(forged)) == "\\x1b[2K\\rdestination  198.51.100.10:443");
  CHECK(agentctl::destination_text({{"protocol", "dns"}, {"host", "a\x1b]0;pwned\x07.test"}}) ==
        "a\\x1b]0;pwned\\x07.test (DNS)");
}

TEST_CASE("an inbound request reads as a peer coming in, never as a destination") {
  nlohmann::json request = {{"id", 9},
                            {"sandbox", "acme/dev/coder"},
                            {"dest", "198.51.100.20"},
                            {"port", 8080},
                            {"protocol", "tcp"},
                            {"direction", "inbound"},
                            {"host", nullptr},
                            {"count", 2},
                            {"first_seen", "2026-01-01T00:00:00Z"},
                            {"last_seen", "2026-01-01T00:00:00Z"},
                            {"expires_at", "2026-01-01T00:05:00Z"},
                            {"process", {{"pid", 0}, {"uid", 0}, {"comm", ""}, {"exe", ""}}}};
  agentctl::Style style;
  const std::string view = agentctl::request_view(request, style);
  INFO(view);
  CHECK(view.find("  inbound      from 198.51.100.20 to port 8080/tcp") != std::string::npos);
  CHECK(view.find("destination") == std::string::npos);
  CHECK(agentctl::flow_text(request["sandbox"], request) == "acme/dev/coder <- 198.51.100.20 to port 8080/tcp");
  request["direction"] = "outbound";
  CHECK(agentctl::flow_text(request["sandbox"], request) == "acme/dev/coder -> 198.51.100.20:8080/tcp");
  // Audit events carry the direction in their detail.
  CHECK(agentctl::destination_text(
            {{"dest", "2001:db8::20"}, {"port", 22}, {"protocol", "tcp"}, {"detail", {{"direction", "inbound"}}}}) ==
        "from 2001:db8::20 to port 22/tcp");
}

TEST_CASE("the prompt says what an allow opens: an address's one port, a name's every port unless narrowed") {
  nlohmann::json request = {{"id", 12},
                            {"sandbox", "acme/dev/coder"},
                            {"dest", "198.51.100.20"},
                            {"port", 8080},
                            {"protocol", "tcp"},
                            {"host", nullptr},
                            {"count", 1},
                            {"first_seen", "2026-01-01T00:00:00Z"},
                            {"last_seen", "2026-01-01T00:00:00Z"},
                            {"expires_at", "2026-01-01T00:05:00Z"},
                            {"process", {{"pid", 7}, {"uid", 1000}, {"comm", "curl"}, {"exe", ""}}}};
  agentctl::Style style;
  std::string view = agentctl::request_view(request, style);
  INFO(view);
  CHECK(view.find("  an allow     opens this address on port 8080/tcp only\n") != std::string::npos);
  request["protocol"] = "dns";
  request["dest"] = "";
  request["port"] = 0;
  request["host"] = "pypi.org";
  view = agentctl::request_view(request, style);
  CHECK(view.find("opens the name and its addresses on every port") != std::string::npos);
  CHECK(view.find("agentctl approvals approve 12 --ports 443") != std::string::npos);
  // Every line fits an 80-column terminal.
  for (size_t start = 0; start < view.size();) {
    const size_t end = std::min(view.find('\n', start), view.size());
    CHECK(end - start <= 80);
    start = end + 1;
  }
  // A grant says what it opens; a request does not.
  CHECK(agentctl::destination_text({{"protocol", "dns"}, {"host", "pypi.org"}, {"opens", "port 443"}}) ==
        "pypi.org (DNS, port 443)");
}
