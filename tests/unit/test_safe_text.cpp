// safe_text and terminal_text: what a sandbox names itself reaches JSON,
// SQLite, logs and terminals only through these.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"

using agentd::is_valid_utf8;
using agentd::safe_text;
using agentd::terminal_text;
using namespace std::string_literals;

TEST_CASE("safe_text keeps valid UTF-8 as it is, control characters included") {
  CHECK(safe_text("curl") == "curl");
  CHECK(safe_text("").empty());
  CHECK(safe_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(safe_text("a\nb\x1b[31m") == "a\nb\x1b[31m");
  CHECK(safe_text("nul\0in"s) == "nul\0in"s);
}

TEST_CASE("safe_text writes each byte that is not well-formed UTF-8 as a visible hex escape") {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"\xff", "\\xff"},
      {"\x80", "\\x80"},                             // a lone continuation byte
      {"ab\xc3", "ab\\xc3"},                         // cut short at the end
      {"\xc3(", "\\xc3("},                           // a lead byte without its continuation
      {"\xc0\xaf", "\\xc0\\xaf"},                    // overlong '/'
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},           // overlong, three bytes
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // past U+10FFFF
      {"\xf5", "\\xf5"},
      {"\xe2\x82"
       "A",
       "\\xe2\\x82A"},                        // the next good byte is kept
      {"\xff\x1b[31m\n", "\\xff\x1b[31m\n"},  // escapes are JSON's job here
  };
  for (const auto& c : cases) {
    INFO(c.out);
    CHECK(safe_text(c.in) == c.out);
    CHECK(is_valid_utf8(safe_text(c.in)));
  }
}

TEST_CASE("is_valid_utf8 takes the edges of each range and refuses what is past them") {
  CHECK(is_valid_utf8("\x7f"));
  CHECK(is_valid_utf8("\xc2\x80"));
  CHECK(is_valid_utf8("\xdf\xbf"));
  CHECK(is_valid_utf8("\xe0\xa0\x80"));
  CHECK(is_valid_utf8("\xed\x9f\xbf"));      // U+D7FF, just below the surrogates
  CHECK(is_valid_utf8("\xee\x80\x80"));      // U+E000, just above them
  CHECK(is_valid_utf8("\xf0\x90\x80\x80"));  // U+10000
  CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xc1\xbf"));
  CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));
  CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));
}

TEST_CASE("whatever the bytes, safe_text is valid UTF-8 that JSON dumps and parses back") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (const std::string& in : {all, all + all.substr(128), std::string("\xf0\x9f\x98", 3)}) {
    const std::string out = safe_text(in);
    CHECK(is_valid_utf8(out));
    const std::string line = nlohmann::json{{"comm", out}}.dump();
    CHECK(nlohmann::json::parse(line)["comm"] == out);
  }
}

TEST_CASE("dump_json never throws on invalid UTF-8: the second wall") {
  const nlohmann::json record = {{"comm", "\xff\xfe"}};
  CHECK_THROWS(record.dump());
  std::string line;
  CHECK_NOTHROW(line = agentd::dump_json(record));
  CHECK(is_valid_utf8(line));
  CHECK(nlohmann::json::parse(line)["comm"] == "\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
  CHECK_NOTHROW(agentd::dump_json(record, 2));
}

// The next three tests feed bidi controls to the code that escapes them.
// NOLINTBEGIN(misc-misleading-bidirectional)
TEST_CASE("dump_json writes ASCII: no bidi override, C1 control or DEL reaches a log raw") {
  // U+202E (right-to-left override), U+009B (CSI), DEL, and an accent.
  const std::string comm =
      "ab\xe2\x80\xae"
      "cd\xc2\x9b"
      "31m\x7f"
      "\xc3\xa9";
  const nlohmann::json record = {{"comm", comm}};
  const std::string line = agentd::dump_json(record);
  for (unsigned char c : line) CHECK((c >= 0x20 && c < 0x7f));
  CHECK(line.find("\\u202e") != std::string::npos);
  CHECK(line.find("\\u009b") != std::string::npos);
  CHECK(line.find("\\u007f") != std::string::npos);
  CHECK(nlohmann::json::parse(line)["comm"] == comm);  // every reader gets the same bytes back
}

TEST_CASE("terminal_text writes what would steer a terminal as visible escapes") {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"curl", "curl"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
      {"\x1b[31mred", "\\x1b[31mred"},
      {"two\nlines\r\ttab", "two\\nlines\\r\\ttab"},
      {"bell\x07"
       "del\x7f",
       "bell\\x07del\\x7f"},
      {"nul\0"s, "nul\\x00"},
      {"\xff\x1b[31m\n", "\\xff\\x1b[31m\\n"},
      {"\x9b"
       "31m",
       "\\x9b31m"},  // an 8-bit CSI byte (invalid UTF-8)
      {"\xc2\x9b"
       "31m",
       "\\u009b31m"},           // U+009B, the C1 CSI as a character
      {"\xc2\x85", "\\u0085"},  // NEL
      {"abc\xe2\x80\xae"
       "fdp.exe",
       "abc\\u202efdp.exe"},  // RIGHT-TO-LEFT OVERRIDE
      {"\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u202a\\u202b\\u202c\\u202d"},
      {"\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u2066\\u2067\\u2068\\u2069"},
      {"\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c"},
      {"\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029"},
      {"\xe2\x80\x8d", "\\u200d"},  // a zero-width joiner hides where names differ
  };
  for (const auto& c : cases) {
    INFO(c.out);
    CHECK(terminal_text(c.in) == c.out);
  }
}

TEST_CASE("terminal_text of any bytes is one line of printable, valid UTF-8") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  all += "\xc2\x80\xc2\x9f\xe2\x80\xae";
  const std::string out = terminal_text(all);
  CHECK(is_valid_utf8(out));
  for (unsigned char c : out) {
    CHECK(c >= 0x20);
    CHECK(c != 0x7f);
  }
  CHECK(out.find("\xc2\x80") == std::string::npos);
  CHECK(out.find("\xe2\x80\xae") == std::string::npos);
}
// NOLINTEND(misc-misleading-bidirectional)
