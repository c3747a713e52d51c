#include "agentd/api/params.hpp"

#include <fmt/format.h>

#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"

namespace agentd::api {
using nlohmann::json;

namespace {

// What a value is, for an error message: short, one line, never the
// whole of a large value the client sent.
std::string describe(const json& value) {
  constexpr size_t kMaxShown = 40;
  std::string shown = terminal_text(dump_json(value));
  if (shown.size() > kMaxShown) shown = shown.substr(0, kMaxShown) + "...";
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "the boolean " + shown;
    case json::value_t::string:
      return "the string " + shown;
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    default:
      return "the number " + shown;
  }
}

const json* find(const json& request, std::string_view field) {
  if (!request.is_object()) return nullptr;
  auto it = request.find(std::string(field));
  return it == request.end() ? nullptr : &*it;
}

}  // namespace

std::string type_error_text(std::string_view field, std::string_view expected, const json& got) {
  return fmt::format("the request field \"{}\" must be {}, not {}", field, expected, describe(got));
}

Result<std::optional<std::string>> optional_string(const json& request, std::string_view field) {
  const json* value = find(request, field);
  if (!value) return std::optional<std::string>();
  if (!value->is_string()) return make_error("{}", type_error_text(field, "a string", *value));
  return std::optional<std::string>(value->get<std::string>());
}

Result<std::string> required_string(const json& request, std::string_view field) {
  auto value = optional_string(request, field);
  if (!value) return value.error();
  if (!*value || (*value)->empty()) return make_error("the request needs the field \"{}\", a string", field);
  return std::move(**value);
}

Result<std::optional<bool>> optional_bool(const json& request, std::string_view field) {
  const json* value = find(request, field);
  if (!value) return std::optional<bool>();
  if (!value->is_boolean()) return make_error("{}", type_error_text(field, "true or false", *value));
  return std::optional<bool>(value->get<bool>());
}

Result<std::optional<uint64_t>> optional_number(const json& request, std::string_view field, uint64_t min,
                                                uint64_t max) {
  const json* value = find(request, field);
  if (!value) return std::optional<uint64_t>();
  const std::string expected = fmt::format("a whole number from {} to {}", min, max);
  // Parsed, a number >= 0 is unsigned; one built in code may be signed.
  const bool whole = value->is_number_unsigned() || (value->is_number_integer() && value->get<int64_t>() >= 0);
  if (!whole) return make_error("{}", type_error_text(field, expected, *value));
  const uint64_t number = value->get<uint64_t>();
  if (number < min || number > max) return make_error("{}", type_error_text(field, expected, *value));
  return std::optional<uint64_t>(number);
}

Result<uint64_t> required_number(const json& request, std::string_view field, uint64_t min, uint64_t max) {
  auto value = optional_number(request, field, min, max);
  if (!value) return value.error();
  if (!*value) return make_error("the request needs the field \"{}\", a whole number from {} to {}", field, min, max);
  return **value;
}

}  // namespace agentd::api
