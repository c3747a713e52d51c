// The fields of a control request, read with their types and ranges
// checked. Clients are authorised, but they are still input: a field of
// the wrong type (nlohmann's get<>() would throw type_error), out of its
// range or of an unknown value is refused with an error naming the field,
// and a field that is absent is told apart from one that is empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentd::api {

// Ids are JSON numbers; past 2^53 - 1 not every JSON reader keeps them exact.
constexpr uint64_t kMaxId = (uint64_t{1} << 53) - 1;

// "the request field \"scope\" must be a string, not the number 5"
std::string type_error_text(std::string_view field, std::string_view expected, const nlohmann::json& got);

Result<std::optional<std::string>> optional_string(const nlohmann::json& request, std::string_view field);
// Present, a string, and not empty.
Result<std::string> required_string(const nlohmann::json& request, std::string_view field);
Result<std::optional<bool>> optional_bool(const nlohmann::json& request, std::string_view field);
// A whole number in [min, max]; a negative number, a fraction, a number
// too large for 64 bits (which JSON parsers keep as a float) and a string
// of digits are all refused.
Result<std::optional<uint64_t>> optional_number(const nlohmann::json& request, std::string_view field, uint64_t min,
                                                uint64_t max);
Result<uint64_t> required_number(const nlohmann::json& request, std::string_view field, uint64_t min, uint64_t max);

}  // namespace agentd::api
