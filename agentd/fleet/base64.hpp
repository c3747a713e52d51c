// etcd's JSON gateway carries keys and values as base64 (proto3 bytes).
// Encoding and decoding are OpenSSL's; this only adds the checks a value
// from the network needs.
#pragma once

#include <string>
#include <string_view>

#include "agentd/common/result.hpp"

namespace agentd::fleet {

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding, as the gateway writes it; anything else
// (a stray character, a wrong length) is an error naming `what`.
Result<std::string> base64_decode(std::string_view text, std::string_view what);

}  // namespace agentd::fleet
