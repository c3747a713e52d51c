#include "terminal_text.hpp"

#include <fmt/format.h>

namespace agentctl {
namespace {

// Code points a terminal may act on or that render as nothing (Unicode
// category Cc above ASCII, and the Cf/Zl/Zp characters that reorder or
// hide text).
bool invisible(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) ||       // C1 controls (U+009B is CSI on some terminals)
         c == 0xad ||                       // soft hyphen
         c == 0x61c ||                      // Arabic letter mark
         c == 0x180e ||                     // Mongolian vowel separator
         (c >= 0x200b && c <= 0x200f) ||    // zero-width space/joiners, LRM, RLM
         (c >= 0x2028 && c <= 0x202e) ||    // line/paragraph separators, bidi embeddings and overrides
         (c >= 0x2060 && c <= 0x206f) ||    // word joiner, invisible operators, bidi isolates
         c == 0xfeff ||                     // zero-width no-break space (BOM)
         (c >= 0xfff9 && c <= 0xfffb) ||    // interlinear annotation
         (c >= 0xe0000 && c <= 0xe007f);    // tags
}

// The code point starting at text[i] and its length, or length 0 when the
// bytes there are not well-formed UTF-8 (overlong forms, surrogates and
// values past U+10FFFF included).
std::pair<char32_t, size_t> decode(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  char32_t c = 0, min = 0;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2, c = lead & 0x1f, min = 0x80;
  else if (lead >= 0xe0 && lead <= 0xef) length = 3, c = lead & 0x0f, min = 0x800;
  else if (lead >= 0xf0 && lead <= 0xf4) length = 4, c = lead & 0x07, min = 0x10000;
  else return {0, 0};
  if (i + length > text.size()) return {0, 0};
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return {0, 0};
    c = (c << 6) | (byte(i + k) & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return {0, 0};
  return {c, length};
}

}  // namespace

std::string terminal_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    if (b < 0x80) {  // C0 controls and DEL
      out += b == '\n' ? "\\n" : b == '\r' ? "\\r" : b == '\t' ? "\\t" : fmt::format("\\x{:02x}", b);
      ++i;
      continue;
    }
    const auto [c, length] = decode(text, i);
    if (length == 0) {
      out += fmt::format("\\x{:02x}", b);
      ++i;
      continue;
    }
    if (invisible(c)) out += c > 0xffff ? fmt::format("\\U{:08x}", static_cast<uint32_t>(c))
                                        : fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
    else out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace agentctl
