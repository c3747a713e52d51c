#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace agentctl {

RawTerminal::RawTerminal() {
  if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
  termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  raw_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (raw_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

Style Style::detect() {
  Style style;
  const char* term = std::getenv("TERM");  // NOLINT(concurrency-mt-unsafe): agentctl sets no environment
  style.redraw = ::isatty(STDOUT_FILENO) && term && *term && std::strcmp(term, "dumb") != 0;
  // https://no-color.org: set and not empty.
  const char* no_colour = std::getenv("NO_COLOR");  // NOLINT(concurrency-mt-unsafe): as above
  style.colour = style.redraw && !(no_colour && *no_colour);
  return style;
}

}  // namespace agentctl
