#include "agentd/common/safe_text.hpp"

#include <cstdint>
#include <optional>

namespace agentd {
namespace {

struct CodePoint {
  char32_t value;
  size_t length;  // bytes it took
};

// The well-formed UTF-8 sequence at `pos` (RFC 3629, Unicode table 3-7),
// or nothing when the byte there does not start one.
std::optional<CodePoint> decode_at(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[pos + i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return CodePoint{b0, 1};
  size_t length = 0;
  char32_t value = 0;
  uint8_t low = 0x80, high = 0xbf;  // the range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    value = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    value = b0 & 0x0f;
    if (b0 == 0xe0) low = 0xa0;   // overlong
    if (b0 == 0xed) high = 0x9f;  // UTF-16 surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    value = b0 & 0x07;
    if (b0 == 0xf0) low = 0x90;   // overlong
    if (b0 == 0xf4) high = 0x8f;  // past U+10FFFF
  } else {
    return std::nullopt;  // a continuation byte, C0/C1 (overlong), F5-FF
  }
  if (pos + length > s.size()) return std::nullopt;
  for (size_t i = 1; i < length; ++i) {
    const uint8_t b = byte(i);
    if (i == 1 ? (b < low || b > high) : (b < 0x80 || b > 0xbf)) return std::nullopt;
    value = (value << 6) | (b & 0x3f);
  }
  return CodePoint{value, length};
}

void append_hex(std::string& out, const char* prefix, uint32_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += prefix;
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xf];
}

// Calls on_valid(code point, its bytes) or on_invalid(byte) for each unit.
template <typename Valid, typename Invalid>
void walk(std::string_view s, Valid on_valid, Invalid on_invalid) {
  for (size_t pos = 0; pos < s.size();) {
    if (auto cp = decode_at(s, pos)) {
      on_valid(cp->value, s.substr(pos, cp->length));
      pos += cp->length;
    } else {
      // Only this byte: the next one may start a good sequence.
      on_invalid(static_cast<uint8_t>(s[pos]));
      ++pos;
    }
  }
}

// Code points a terminal may act on, or that reorder or hide text: C1
// controls (U+009B is CSI on some terminals) and the format characters of
// categories Cf/Zl/Zp that render as nothing.
bool invisible(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) ||      // C1 controls
         c == 0xad ||                     // soft hyphen
         c == 0x61c ||                    // Arabic letter mark
         c == 0x180e ||                   // Mongolian vowel separator
         (c >= 0x200b && c <= 0x200f) ||  // zero-width space/joiners, LRM, RLM
         (c >= 0x2028 && c <= 0x202e) ||  // line/paragraph separators, bidi embeddings and overrides
         (c >= 0x2060 && c <= 0x206f) ||  // word joiner, invisible operators, bidi isolates
         c == 0xfeff ||                   // zero-width no-break space (BOM)
         (c >= 0xfff9 && c <= 0xfffb) ||  // interlinear annotation
         (c >= 0xe0000 && c <= 0xe007f);  // tags
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  for (size_t pos = 0; pos < bytes.size();) {
    auto cp = decode_at(bytes, pos);
    if (!cp) return false;
    pos += cp->length;
  }
  return true;
}

std::string safe_text(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);  // the common case: one pass, one copy
  std::string out;
  out.reserve(bytes.size() + 16);
  walk(
      bytes, [&](char32_t, std::string_view raw) { out += raw; }, [&](uint8_t b) { append_hex(out, "\\x", b, 2); });
  return out;
}

std::string terminal_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  walk(
      bytes,
      [&](char32_t c, std::string_view raw) {
        switch (c) {
          case '\n':
            out += "\\n";
            return;
          case '\r':
            out += "\\r";
            return;
          case '\t':
            out += "\\t";
            return;
          default:
            break;
        }
        if (c < 0x20 || c == 0x7f) return append_hex(out, "\\x", c, 2);
        if (invisible(c)) return c > 0xffff ? append_hex(out, "\\U", c, 8) : append_hex(out, "\\u", c, 4);
        out += raw;
      },
      [&](uint8_t b) { append_hex(out, "\\x", b, 2); });
  return out;
}

}  // namespace agentd
