// The terminal for agentctl watch: raw keys (termios) restored on every
// way out, and colour only where the terminal has it (a tty, TERM not
// dumb, NO_COLOR unset). Works the same over ssh and inside tmux: plain
// ANSI sequences, no terminfo database needed.
#pragma once

#include <termios.h>

#include <string>

namespace agentctl {

class RawTerminal {
 public:
  // Switches stdin to single keys without echo when it is a terminal;
  // Ctrl-C still interrupts (ISIG stays on).
  RawTerminal();
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool raw() const { return raw_; }

 private:
  termios saved_{};
  bool raw_ = false;
};

struct Style {
  bool redraw = false;  // stdout is a capable terminal: clear and redraw
  bool colour = false;
  static Style detect();
  std::string bold(const std::string& text) const { return colour ? "\033[1m" + text + "\033[0m" : text; }
  std::string dim(const std::string& text) const { return colour ? "\033[2m" + text + "\033[0m" : text; }
  std::string green(const std::string& text) const { return colour ? "\033[32m" + text + "\033[0m" : text; }
  std::string red(const std::string& text) const { return colour ? "\033[31m" + text + "\033[0m" : text; }
  std::string yellow(const std::string& text) const { return colour ? "\033[33m" + text + "\033[0m" : text; }
  std::string key(char k) const {
    return colour ? "\033[1;36m[" + std::string(1, k) + "]\033[0m" : "[" + std::string(1, k) + "]";
  }
  const char* clear() const { return redraw ? "\033[H\033[2J" : ""; }
};

}  // namespace agentctl
