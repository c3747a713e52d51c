// agentctl top: each sandbox's allowed and denied connects and sends, and
// its DNS, per second, busiest first, refreshed in place (like top or
// hubble observe). Two samples of sandbox.list make the rates; -o json
// prints one object a refresh instead, for scripts.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agentd/api/client.hpp"
#include "agentd/common/json_dump.hpp"
#include "commands.hpp"
#include "table.hpp"
#include "terminal_text.hpp"
#include "top_view.hpp"

namespace agentctl {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// sandbox.list, waiting out agentd's absence (a restart) and saying so;
// a refusal, or no agentd at the first sample, ends agentctl.
json sample(const Globals& g, bool& away, bool first) {
  for (;;) {
    auto list = agentd::api::call(g.socket, {{"method", "sandbox.list"}});
    if (!list && (first || agentd::api::is_refusal(list.error()))) {
      std::cerr << "agentctl: " << terminal_text(list.error().describe()) << "\n";
      std::exit(kExitFailure);
    }
    if (list) {
      if (away) std::cerr << "agentctl: agentd answers again\n";
      away = false;
      return *list;
    }
    if (!away)
      std::cerr << "agentctl: agentd does not answer (" << terminal_text(list.error().describe()) << "); waiting\n";
    away = true;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::string per_second(double value) { return value == 0 ? "-" : fmt::format("{:.1f}", value); }

// Bytes a second, in the unit that keeps it short: "512 B", "12.5 KiB", "3.1 MiB".
std::string bytes_per_second(double value) {
  if (value == 0) return "-";
  if (value < 1024) return fmt::format("{:.0f} B", value);
  if (value < 1024 * 1024) return fmt::format("{:.1f} KiB", value / 1024);
  return fmt::format("{:.1f} MiB", value / (1024 * 1024));
}

void draw(const std::vector<TopRow>& rows, double interval, size_t limit, bool redraw) {
  if (redraw) std::cout << "\x1b[H\x1b[2J";
  std::cout << fmt::format("agentd top: {} sandboxes, busiest first, every {:.1f} s (Ctrl-C quits)\n\n", rows.size(),
                           interval);
  Table table({"AGENT", "STATE", "ALLOWED/S", "DENIED/S", "SENT/S", "RECEIVED/S", "DNS/S", "DNS REFUSED/S", "ALLOWED",
               "DENIED", "LEARNED"});
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    const TopRow& r = rows[i];
    table.add({terminal_text(r.agent), terminal_text(r.state), per_second(r.allowed_per_s), per_second(r.denied_per_s),
               bytes_per_second(r.sent_bytes_per_s), bytes_per_second(r.received_bytes_per_s), per_second(r.dns_per_s),
               per_second(r.dns_refused_per_s), std::to_string(r.allowed), std::to_string(r.denied),
               std::to_string(r.learned)});
  }
  table.print(std::cout);
  if (rows.size() > limit) std::cout << "... and " << rows.size() - limit << " quieter sandboxes\n";
  std::cout.flush();
}

}  // namespace

int top(const Globals& g, double interval, unsigned iterations, size_t limit) {
  const bool redraw = g.output != "json" && ::isatty(STDOUT_FILENO);
  bool away = false;
  json before = sample(g, away, true);
  auto then = Clock::now();
  for (unsigned shown = 0; iterations == 0 || shown < iterations; ++shown) {
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    json after = sample(g, away, false);
    const auto now = Clock::now();
    const auto rows = top_rows(before, after, std::chrono::duration<double>(now - then).count());
    if (g.output == "json") {
      json frame = {{"interval_s", interval}, {"sandboxes", json::array()}};
      for (size_t i = 0; i < rows.size() && i < limit; ++i) frame["sandboxes"].push_back(to_json(rows[i]));
      std::cout << agentd::dump_json(frame) << "\n" << std::flush;
    } else {
      draw(rows, interval, limit, redraw);
    }
    before = std::move(after);
    then = now;
  }
  return 0;
}

}  // namespace agentctl
