#include "agentd/events/denial_json.hpp"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "agentd/events/denial_record.hpp"

namespace agentd::events {
using nlohmann::json;

namespace {

json optional_text(const std::optional<std::string>& text) { return text ? json(*text) : json(nullptr); }

// Reading a record that came from outside this process: each key checked
// for its type, and an error that names it. Thrown inside, returned as an
// Error at parse_denial.
struct Reader {
  const json& record;

  const json* find(const char* key) const {
    auto it = record.find(key);
    return it == record.end() ? nullptr : &*it;
  }
  [[noreturn]] static void refuse(const char* key, const std::string& why) {
    throw std::invalid_argument(fmt::format("\"{}\" {}", key, why));
  }
  std::string text(const char* key) const {
    const json* value = find(key);
    if (!value) refuse(key, "is missing");
    if (!value->is_string()) refuse(key, "is not a string");
    return value->get<std::string>();
  }
  std::optional<std::string> optional_text(const char* key) const {
    const json* value = find(key);
    if (!value || value->is_null()) return std::nullopt;
    return text(key);
  }
  template <typename Int>
  Int number(const char* key) const {
    const json* value = find(key);
    if (!value) refuse(key, "is missing");
    if (!value->is_number_unsigned() && !(value->is_number_integer() && value->get<int64_t>() >= 0))
      refuse(key, "is not a non-negative integer");
    const uint64_t n = value->get<uint64_t>();
    if (n > std::numeric_limits<Int>::max()) refuse(key, fmt::format("is past {}", std::numeric_limits<Int>::max()));
    return static_cast<Int>(n);
  }
  template <typename Int>
  Int optional_number(const char* key) const {
    return find(key) ? number<Int>(key) : Int{0};
  }
};

Denial read_denial(const json& record) {
  if (!record.is_object()) throw std::invalid_argument("not a JSON object");
  const Reader r{record};
  if (r.text("type") != "deny") Reader::refuse("type", "is not \"deny\"");
  Denial d;
  const std::string hook = r.text("hook");
  const auto parsed_hook = parse_hook(hook);
  if (!parsed_hook) Reader::refuse("hook", fmt::format("names no hook agentd knows: \"{}\"", hook));
  d.hook = *parsed_hook;
  const std::string reason = r.text("reason");
  const auto parsed_reason = parse_reason(reason);
  if (!parsed_reason) Reader::refuse("reason", fmt::format("names no reason agentd knows: \"{}\"", reason));
  d.reason = *parsed_reason;
  const std::string time = r.text("time");
  const auto parsed_time = parse_time(time);
  if (!parsed_time) Reader::refuse("time", fmt::format("is not RFC 3339 UTC with milliseconds: \"{}\"", time));
  d.time = *parsed_time;
  d.sandbox = r.optional_text("sandbox");
  if (d.hook == DenialHook::dns) {
    d.name = r.text("name");
    d.query = DenialQuery{r.text("qtype"), r.text("protocol")};
  } else {
    d.process = DenialProcess{r.number<uint32_t>("pid"),
                              r.number<uint32_t>("tgid"),
                              r.number<uint32_t>("uid"),
                              r.number<uint32_t>("gid"),
                              r.text("comm"),
                              r.number<uint64_t>("cgroup_id")};
    d.family = r.text("family");
    d.name = r.optional_text("name");
    if (d.hook == DenialHook::sock_create) {
      d.socket = DenialSocket{r.text("sock_type"), r.number<uint8_t>("protocol"), ""};
    } else if (d.hook == DenialHook::setsockopt) {
      const std::string protocol = r.text("protocol");
      const auto number = parse_protocol_name(protocol);
      if (!number) Reader::refuse("protocol", fmt::format("names no protocol: \"{}\"", protocol));
      d.socket = DenialSocket{r.text("sock_type"), *number, r.text("option")};
    } else {
      d.destination =
          DenialDestination{r.text(d.inbound() ? "source" : "dest"), r.number<uint16_t>("port"), r.text("protocol")};
    }
  }
  d.host = r.optional_text("host");
  d.header = r.optional_text("header");
  d.rule = r.optional_text("rule");
  d.suppressed_before = r.optional_number<uint64_t>("suppressed_before");
  d.held_before = r.optional_number<uint64_t>("held_before");
  return d;
}

}  // namespace

json denial_json(const Denial& d) {
  json record = {
      {"type", "deny"},
      {"time", format_time(d.time)},
      {"sandbox", optional_text(d.sandbox)},
      {"hook", to_string(d.hook)},
      {"reason", to_string(d.reason)},
  };
  if (d.process) {
    record["pid"] = d.process->pid;
    record["tgid"] = d.process->tgid;
    record["uid"] = d.process->uid;
    record["gid"] = d.process->gid;
    record["comm"] = d.process->comm;
    record["cgroup_id"] = d.process->cgroup_id;
  }
  if (d.hook != DenialHook::dns) record["family"] = d.family;
  if (d.query) {
    record["qtype"] = d.query->qtype;
    record["protocol"] = d.query->transport;
  }
  if (d.socket) {
    record["sock_type"] = d.socket->type;
    // A refused socket's protocol is whatever number socket() was given;
    // an option's is the socket's, named.
    if (d.hook == DenialHook::sock_create)
      record["protocol"] = d.socket->protocol;
    else
      record["protocol"] = protocol_name(d.socket->protocol);
    if (d.hook == DenialHook::setsockopt) record["option"] = d.socket->option;
  }
  if (d.destination) {
    if (d.inbound()) record["direction"] = "inbound";
    record[d.inbound() ? "source" : "dest"] = d.destination->address;
    record["port"] = d.destination->port;
    record["protocol"] = d.destination->protocol;
  }
  if (d.header) record["header"] = *d.header;
  if (d.suppressed_before) record["suppressed_before"] = d.suppressed_before;
  if (d.held_before) record["held_before"] = d.held_before;
  if (d.rule) record["rule"] = *d.rule;
  if (d.host) record["host"] = *d.host;
  if (d.name) record["name"] = *d.name;
  return record;
}

Result<Denial> parse_denial(const json& record) {
  try {
    return read_denial(record);
  } catch (const std::exception& e) {
    return make_error("not a denial record: {}", e.what());
  }
}

void to_json(json& record, const Denial& denial) { record = denial_json(denial); }

void from_json(const json& record, Denial& denial) {
  auto parsed = parse_denial(record);
  if (!parsed) throw std::invalid_argument(parsed.error().describe());
  denial = std::move(*parsed);
}

}  // namespace agentd::events
