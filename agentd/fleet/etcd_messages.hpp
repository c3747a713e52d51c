// The JSON bodies of etcd v3's gRPC gateway (/v3/kv/range, /v3/kv/txn,
// /v3/watch, /v3/lease/*): built from typed values, and read back with an
// error naming the field and the reason for anything that is not what etcd
// 3.4 sends. An answer is input from the network: a broken or hostile etcd
// gets an error, never a crash. Pure: unit-tested without etcd.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agentd/common/result.hpp"

namespace agentd::fleet {

struct KeyValue {
  std::string key, value;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct RangeAnswer {
  int64_t revision = 0;  // the store's revision the range was read at
  std::vector<KeyValue> kvs;
  bool more = false;  // etcd left keys out (a limit): never expected, refused
};

struct TxnAnswer {
  int64_t revision = 0;
  bool succeeded = false;  // false: a compare failed, nothing was written
};

struct LeaseAnswer {
  int64_t id = 0;
  int64_t ttl = 0;  // 0 from a keepalive: the lease is gone
};

// One message of a watch stream.
struct WatchMessage {
  enum class Kind { created, events, progress, compacted, canceled };
  Kind kind = Kind::progress;
  int64_t revision = 0;          // the header's
  int64_t compact_revision = 0;  // Kind::compacted: the oldest revision still kept
  size_t events = 0;
  std::string reason;  // Kind::canceled
};

// A comparison guarding a transaction.
struct Compare {
  enum class Target { mod, create, version };
  enum class Result { equal, less, greater };
  std::string key;
  std::optional<std::string> range_end;  // compare every key in [key, range_end)
  Target target = Target::mod;
  Result result = Result::equal;
  int64_t value = 0;
};

struct TxnRequest {
  std::vector<Compare> compares;
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::string> deletes;
};

// revision 0: the newest.
nlohmann::json range_request(std::string_view key, std::string_view range_end, int64_t revision = 0);
nlohmann::json txn_request(const TxnRequest& txn);
nlohmann::json put_request(std::string_view key, std::string_view value, int64_t lease);
nlohmann::json delete_request(std::string_view key);  // one key, /v3/kv/deleterange
nlohmann::json watch_request(std::string_view key, std::string_view range_end, int64_t start_revision);
nlohmann::json lease_grant_request(int64_t ttl_seconds);
nlohmann::json lease_id_request(int64_t id);  // keepalive and revoke

// Each reads one answer's text; an {"error": ...} answer is an error with
// etcd's message.
Result<RangeAnswer> parse_range(std::string_view text);
Result<TxnAnswer> parse_txn(std::string_view text);
Result<LeaseAnswer> parse_lease(std::string_view text);
Result<WatchMessage> parse_watch(std::string_view text);
// The header's revision of any answer (a put's, a keepalive's).
Result<int64_t> parse_revision(std::string_view text);

}  // namespace agentd::fleet
