// The policies the e2e tests enforce, against world.hpp's addresses.
#pragma once

#include <string>

namespace agentd::e2e {

inline constexpr const char* kAcmePolicy = R"(apiVersion: agentd/v1
tenant: acme
inference:
  - cidr: 203.0.113.7/32
    ports: [443]
rules:
  - agents: "acme/*/coder-*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 9000, 5353]
      - cidr: 2001:db8:1::/64
        ports: [80, 9000]
    deny:
      - cidr: 198.51.100.66/32
      - cidr: 2001:db8:1::66/128
      - cidr: 203.0.113.0/24
  - agents: "acme/ops/*"
    allow:
      - cidr: 127.0.0.1/32
        ports: [7070]
)";

// Two policies for acme that differ in every rule (test_reload.cpp,
// test_policy_preview.cpp): A allows 198.51.100.10:80 and 198.51.100.20:8080
// to every agent; B the whole /24 on 80 and 443 to eng, but 198.51.100.66.
inline constexpr const char* kSwitchPolicyA = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/*/*"
    allow:
      - cidr: 198.51.100.10/32
        ports: [80]
      - cidr: 198.51.100.20/32
        ports: [8080]
)";

inline constexpr const char* kSwitchPolicyB = R"(apiVersion: agentd/v1
tenant: acme
rules:
  - agents: "acme/eng/*"
    allow:
      - cidr: 198.51.100.0/24
        ports: [80, 443]
    deny:
      - cidr: 198.51.100.66/32
)";

inline constexpr const char* kGlobexPolicy = R"(apiVersion: agentd/v1
tenant: globex
rules:
  - agents: "globex/*/*"
    allow:
      - cidr: 198.51.100.20/32
        ports: [80]
)";

// A tenant whose every agent may resolve and reach (port 443) any name of
// the world's many.example.test zone and api.example.test: the DNS
// fairness tests and benchmark give one to the flooder, one to the victim.
inline std::string many_names_policy(const std::string& tenant) {
  return "apiVersion: agentd/v1\ntenant: " + tenant + "\nrules:\n  - agents: \"" + tenant +
         "/*/*\"\n    allow:\n      - host: \"*.many.example.test\"\n        ports: [443]\n"
         "      - host: api.example.test\n        ports: [443]\n";
}

}  // namespace agentd::e2e
