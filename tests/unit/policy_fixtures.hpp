// Helpers the policy tests share: a policy from one tenant file's text,
// and agent names.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "agentd/policy/loader.hpp"

namespace agentd::policy {

// "acme.yaml" with `text`; fails the test (naming the errors) when invalid.
inline PolicySet load(const std::string& text) {
  auto result = parse_policy_texts({{"acme.yaml", text}});
  std::string errors;
  for (const auto& e : result.errors) errors += e.str() + "\n";
  INFO(errors);
  REQUIRE(result.ok());
  return std::move(*result.policy);
}

inline AgentName agent(const std::string& name) { return *parse_agent_name(name); }

}  // namespace agentd::policy
