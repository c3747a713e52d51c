#include "agentd/fleet/etcd_messages.hpp"

#include <charconv>

#include "agentd/fleet/base64.hpp"

namespace agentd::fleet {

using nlohmann::json;

namespace {

// proto3's JSON writes int64 as a string and leaves out zero values.
Result<int64_t> int64_field(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return value;
  }
  return make_error("etcd answer, {}.{}: not a 64-bit integer", where, name);
}

Result<bool> bool_field(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end()) return false;
  if (!it->is_boolean()) return make_error("etcd answer, {}.{}: not true or false", where, name);
  return it->get<bool>();
}

Result<std::string> bytes_field(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return make_error("etcd answer, {}.{}: not a base64 string", where, name);
  return base64_decode(it->get_ref<const std::string&>(), fmt::format("etcd answer, {}.{}", where, name));
}

// An error answer: the gateway's {"error": "...", "message": "...", "code": N}
// for calls, {"error": {"grpc_code": N, "message": "..."}} inside a stream.
std::optional<std::string> error_of(const json& answer) {
  auto it = answer.find("error");
  if (it == answer.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto message = it->find("message");
    if (message != it->end() && message->is_string()) return message->get<std::string>();
  }
  return std::string("an error without a message");
}

// The answer as a JSON object, or why not.
Result<json> object_of(std::string_view text, std::string_view what) {
  json answer = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded()) return make_error("etcd {} answer: not JSON", what);
  if (!answer.is_object()) return make_error("etcd {} answer: not a JSON object", what);
  if (auto error = error_of(answer)) return make_error("etcd {}: {}", what, *error);
  return answer;
}

Result<int64_t> header_revision(const json& answer, std::string_view what) {
  auto header = answer.find("header");
  if (header == answer.end() || !header->is_object()) return make_error("etcd {} answer: no header object", what);
  return int64_field(*header, "revision", fmt::format("{}.header", what));
}

const char* target_name(Compare::Target t) {
  switch (t) {
    case Compare::Target::mod:
      return "MOD";
    case Compare::Target::create:
      return "CREATE";
    case Compare::Target::version:
      return "VERSION";
  }
  return "MOD";
}

const char* target_field(Compare::Target t) {
  switch (t) {
    case Compare::Target::mod:
      return "mod_revision";
    case Compare::Target::create:
      return "create_revision";
    case Compare::Target::version:
      return "version";
  }
  return "mod_revision";
}

const char* result_name(Compare::Result r) {
  switch (r) {
    case Compare::Result::equal:
      return "EQUAL";
    case Compare::Result::less:
      return "LESS";
    case Compare::Result::greater:
      return "GREATER";
  }
  return "EQUAL";
}

}  // namespace

json range_request(std::string_view key, std::string_view range_end, int64_t revision) {
  json request = {{"key", base64_encode(key)}};
  if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
  if (revision != 0) request["revision"] = std::to_string(revision);
  return request;
}

json txn_request(const TxnRequest& txn) {
  json compares = json::array(), success = json::array();
  for (const auto& c : txn.compares) {
    json compare = {{"key", base64_encode(c.key)},
                    {"target", target_name(c.target)},
                    {"result", result_name(c.result)},
                    {target_field(c.target), std::to_string(c.value)}};
    if (c.range_end) compare["range_end"] = base64_encode(*c.range_end);
    compares.push_back(std::move(compare));
  }
  for (const auto& [key, value] : txn.puts)
    success.push_back({{"request_put", {{"key", base64_encode(key)}, {"value", base64_encode(value)}}}});
  for (const auto& key : txn.deletes) success.push_back({{"request_delete_range", {{"key", base64_encode(key)}}}});
  return {{"compare", compares}, {"success", success}};
}

json put_request(std::string_view key, std::string_view value, int64_t lease) {
  json put = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return put;
}

json delete_request(std::string_view key) { return {{"key", base64_encode(key)}}; }

json watch_request(std::string_view key, std::string_view range_end, int64_t start_revision) {
  return {{"create_request",
           {{"key", base64_encode(key)},
            {"range_end", base64_encode(range_end)},
            {"start_revision", std::to_string(start_revision)},
            {"progress_notify", true}}}};
}

json lease_grant_request(int64_t ttl_seconds) { return {{"TTL", std::to_string(ttl_seconds)}}; }

json lease_id_request(int64_t id) { return {{"ID", std::to_string(id)}}; }

Result<RangeAnswer> parse_range(std::string_view text) {
  auto answer = object_of(text, "range");
  if (!answer) return answer.error();
  RangeAnswer range;
  auto revision = header_revision(*answer, "range");
  if (!revision) return revision.error();
  range.revision = *revision;
  auto more = bool_field(*answer, "more", "range");
  if (!more) return more.error();
  range.more = *more;
  auto kvs = answer->find("kvs");
  if (kvs == answer->end()) return range;  // no keys: proto3 leaves the list out
  if (!kvs->is_array()) return make_error("etcd answer, range.kvs: not a list");
  for (size_t i = 0; i < kvs->size(); ++i) {
    const json& kv = (*kvs)[i];
    const std::string where = fmt::format("range.kvs[{}]", i);
    if (!kv.is_object()) return make_error("etcd answer, {}: not an object", where);
    KeyValue entry;
    auto key = bytes_field(kv, "key", where);
    auto value = bytes_field(kv, "value", where);
    auto mod = int64_field(kv, "mod_revision", where);
    auto lease = int64_field(kv, "lease", where);
    for (const Error* e : {key ? nullptr : &key.error(), value ? nullptr : &value.error(), mod ? nullptr : &mod.error(),
                           lease ? nullptr : &lease.error()})
      if (e) return *e;
    entry.key = std::move(*key);
    entry.value = std::move(*value);
    entry.mod_revision = *mod;
    entry.lease = *lease;
    range.kvs.push_back(std::move(entry));
  }
  return range;
}

Result<TxnAnswer> parse_txn(std::string_view text) {
  auto answer = object_of(text, "txn");
  if (!answer) return answer.error();
  auto revision = header_revision(*answer, "txn");
  if (!revision) return revision.error();
  auto succeeded = bool_field(*answer, "succeeded", "txn");
  if (!succeeded) return succeeded.error();
  return TxnAnswer{*revision, *succeeded};
}

Result<LeaseAnswer> parse_lease(std::string_view text) {
  auto answer = object_of(text, "lease");
  if (!answer) return answer.error();
  // A keepalive's answer is a stream message: {"result": {...}}.
  const json* body = &*answer;
  if (auto result = answer->find("result"); result != answer->end()) {
    if (!result->is_object()) return make_error("etcd answer, lease.result: not an object");
    body = &*result;
  }
  auto id = int64_field(*body, "ID", "lease");
  if (!id) return id.error();
  auto ttl = int64_field(*body, "TTL", "lease");
  if (!ttl) return ttl.error();
  return LeaseAnswer{*id, *ttl};
}

Result<WatchMessage> parse_watch(std::string_view text) {
  auto answer = object_of(text, "watch");
  if (!answer) return answer.error();
  auto result = answer->find("result");
  if (result == answer->end() || !result->is_object()) return make_error("etcd answer, watch: no result object");
  WatchMessage message;
  auto revision = header_revision(*result, "watch.result");
  if (!revision) return revision.error();
  message.revision = *revision;
  auto compact = int64_field(*result, "compact_revision", "watch.result");
  auto canceled = bool_field(*result, "canceled", "watch.result");
  auto created = bool_field(*result, "created", "watch.result");
  for (const Error* e : {compact ? nullptr : &compact.error(), canceled ? nullptr : &canceled.error(),
                         created ? nullptr : &created.error()})
    if (e) return *e;
  if (auto events = result->find("events"); events != result->end()) {
    if (!events->is_array()) return make_error("etcd answer, watch.result.events: not a list");
    message.events = events->size();
  }
  message.compact_revision = *compact;
  if (*compact > 0) {
    message.kind = WatchMessage::Kind::compacted;
  } else if (*canceled) {
    message.kind = WatchMessage::Kind::canceled;
    if (auto reason = result->find("cancel_reason"); reason != result->end() && reason->is_string())
      message.reason = reason->get<std::string>();
  } else if (*created) {
    message.kind = WatchMessage::Kind::created;
  } else if (message.events > 0) {
    message.kind = WatchMessage::Kind::events;
  } else {
    message.kind = WatchMessage::Kind::progress;
  }
  return message;
}

Result<int64_t> parse_revision(std::string_view text) {
  auto answer = object_of(text, "call");
  if (!answer) return answer.error();
  const json* body = &*answer;
  if (auto result = answer->find("result"); result != answer->end() && result->is_object()) body = &*result;
  return header_revision(*body, "call");
}

}  // namespace agentd::fleet
