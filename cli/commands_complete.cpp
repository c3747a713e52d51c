// agentctl complete WHAT: candidates for the shell completions, one a line,
// from the running daemon (packaging/completions). Quiet by design: no
// daemon, no role, or a refusal prints nothing and exits 0, so a <Tab>
// never prints an error into the command line being typed.
#include <iostream>
#include <set>
#include <string>

#include "agentd/api/client.hpp"
#include "agentd/api/requests.hpp"
#include "commands.hpp"

namespace agentctl {
using nlohmann::json;

namespace {

std::optional<json> quietly(const Globals& g, const json& request) {
  auto answer = agentd::api::call(g.socket, request);
  if (!answer) return std::nullopt;
  return *answer;
}

// Only what could be typed back as one word: no spaces, no control bytes.
bool plain(const std::string& word) {
  if (word.empty()) return false;
  for (unsigned char c : word)
    if (c <= ' ' || c == 0x7f) return false;
  return true;
}

}  // namespace

int complete(const Globals& g, const std::string& what) {
  std::set<std::string> words;
  if (what == "pending" || what == "decided") {
    agentd::api::ApprovalsListRequest request;
    if (what == "decided") request.state = "all";
    if (auto list = quietly(g, request.to_json()))
      for (const auto& r : *list)
        if (what == "pending" || r.value("state", "") != "pending") words.insert(std::to_string(r.value("id", 0)));
  } else if (what == "grants") {
    if (auto list = quietly(g, agentd::api::GrantsListRequest{}.to_json()))
      for (const auto& grant : *list) words.insert(std::to_string(grant.value("id", 0)));
  } else if (what == "agents") {
    if (auto list = quietly(g, agentd::api::SandboxListRequest{}.to_json()))
      for (const auto& s : *list) words.insert(s.value("agent", ""));
  } else if (what == "tenants") {
    if (auto source = quietly(g, {{"method", "policy.source"}}))
      for (const auto& t : source->value("tenants", json::array())) words.insert(t.get<std::string>());
  } else {
    std::cerr << "agentctl: complete: nothing to complete as \"" << what
              << "\" (pending, decided, grants, agents or tenants)\n";
    return 2;  // bad usage (commands.hpp)
  }
  for (const auto& w : words)
    if (plain(w)) std::cout << w << "\n";
  return 0;
}

}  // namespace agentctl
