#include "watch_view.hpp"

#include <ctime>

#include "agentd/approvals/book.hpp"
#include "agentd/common/duration.hpp"
#include "record_text.hpp"

namespace agentctl {
using nlohmann::json;

std::string clock_time(const json& value) {
  auto time = agentd::approvals::parse_time(json_text(value));
  if (!time) return json_text(value);
  const std::time_t t = agentd::approvals::Clock::to_time_t(*time);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &local);
  return buf;
}

std::string time_left(const json& value) {
  auto time = agentd::approvals::parse_time(json_text(value));
  if (!time) return "";
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(*time - agentd::approvals::Clock::now());
  return left.count() > 0 ? "in " + agentd::format_duration(left) : "now";
}

std::string request_view(const json& r, const Style& style) {
  const json& p = r["process"];
  const bool name = json_text(r["protocol"]) == "dns";
  const std::string exe = json_text(p["exe"]);
  const bool inbound = r.value("direction", json()) == "inbound";
  // A name request comes from the DNS proxy, which knows the sandbox but
  // not the process; an inbound one from a peer, judged on the packet path.
  const std::string process = p.value("pid", 0) == 0
                                  ? std::string(inbound ? "- (a peer connecting in)" : "- (asked through DNS)")
                                  : json_text(p["comm"]) + " (pid " + json_text(p["pid"]) + ", uid " +
                                        json_text(p["uid"]) + ")" + (exe.empty() || exe == "-" ? "" : " " + exe);
  return style.bold("request " + json_text(r["id"])) + "  " + clock_time(r["first_seen"]) + "  " +
         style.bold(json_text(r["sandbox"])) + "\n" + "  process      " + process + "\n" +
         // A peer asking in reads differently from the agent asking out.
         (inbound ? "  inbound      " : "  destination  ") + style.bold(destination_text(r)) +
         (!name && r["host"].is_string() ? "  (" + json_text(r["host"]) + ")" : "") + "\n" +
         // What an allow opens, exactly: a name's addresses on every port
         // unless narrowed (approvals approve ID --ports), an address on
         // its one port.
         (inbound ? "  an allow     lets this peer in to that port only\n"
          : name  ? "  an allow     opens the name and its addresses on every port\n"
                    "               (fewer: agentctl approvals approve " +
                       json_text(r["id"]) + " --ports 443)\n"
                 : "  an allow     opens this address on port " + json_text(r["port"]) + "/" +
                       json_text(r["protocol"]) + " only\n") +
         "  tried        " + json_text(r["count"]) + " time" + (r["count"] == 1 ? "" : "s") + ", last " +
         clock_time(r["last_seen"]) + "\n" + "  expires      " + clock_time(r["expires_at"]) + " (" +
         time_left(r["expires_at"]) + ")\n\n";
}

}  // namespace agentctl
