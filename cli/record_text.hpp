// How agentd's JSON records read in agentctl's tables, status and watch
// prompt (one wording everywhere).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentctl {

// A JSON value as text for a terminal: strings with controls, escapes
// and invisible characters escaped (terminal_text), null as "-".
std::string json_text(const nlohmann::json& value);
// "198.51.100.20:443/tcp", "[2001:db8::1]:53/udp", or for a name request
// or grant (protocol "dns") "pypi.org (DNS)"; for an inbound one (a peer
// coming in) "from 198.51.100.20 to port 8080/tcp".
std::string destination_text(const nlohmann::json& record);
// "acme/eng/coder-1 -> 198.51.100.20:443/tcp", and inbound
// "acme/eng/coder-1 <- 198.51.100.20 to port 8080/tcp": the arrow shows who
// opens the connection.
std::string flow_text(const nlohmann::json& subject, const nlohmann::json& record);

}  // namespace agentctl
