// Moving the state an older agentd kept in JSON files beside the store
// (learned.json: the names behind learned addresses; adopted.json: the
// cgroups adopted as sandboxes) into the store, once. A file still there
// was written after the store last was (an older agentd ran since), so it
// wins; it is removed only once its content is in the store.
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agentd/common/safe_text.hpp"
#include "agentd/daemon/daemon.hpp"

namespace agentd::daemon {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The file's JSON, or nothing (absent; or unreadable, said, and kept for
// the operator to look at).
std::optional<json> read_state_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto parsed = json::parse(in, nullptr, false);
  if (parsed.is_discarded()) {
    spdlog::warn("{}: not JSON; left where it is, not imported into the store", terminal_text(file.string()));
    return std::nullopt;
  }
  return parsed;
}

void remove_imported(const fs::path& file) {
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) spdlog::warn("{}: imported into the store, but not removed: {}", terminal_text(file.string()), ec.message());
}

// "slot/family/address": name.
std::vector<store::LearnedNameRow> learned_rows(const json& names, const fs::path& file) {
  std::vector<store::LearnedNameRow> rows;
  if (!names.is_object()) return rows;
  for (const auto& [key, name] : names.items()) {
    const auto first = key.find('/'), second = key.find('/', first == std::string::npos ? first : first + 1);
    if (!name.is_string() || first == std::string::npos || second == std::string::npos) {
      spdlog::warn("{}: {}: not slot/family/address with a name; skipped", terminal_text(file.string()),
                   terminal_text(key));
      continue;
    }
    try {
      rows.push_back({static_cast<uint32_t>(std::stoul(key.substr(0, first))),
                      static_cast<uint32_t>(std::stoul(key.substr(first + 1, second - first - 1))),
                      key.substr(second + 1), name.get<std::string>()});
    } catch (const std::exception&) {
      spdlog::warn("{}: {}: not slot/family/address; skipped", terminal_text(file.string()), terminal_text(key));
    }
  }
  return rows;
}

// [{"agent": ..., "cgroup": ...}].
std::vector<store::AdoptedRow> adopted_rows(const json& list, const fs::path& file) {
  std::vector<store::AdoptedRow> rows;
  if (!list.is_array()) return rows;
  for (const auto& item : list) {
    if (!item.is_object() || !item.value("agent", json()).is_string() || !item.value("cgroup", json()).is_string()) {
      spdlog::warn("{}: an entry without agent and cgroup; skipped", terminal_text(file.string()));
      continue;
    }
    rows.push_back({item["agent"].get<std::string>(), item["cgroup"].get<std::string>()});
  }
  return rows;
}

}  // namespace

Status Daemon::import_state_files() {
  const fs::path learned = options_.state_dir / "learned.json";
  if (auto names = read_state_file(learned)) {
    const auto rows = learned_rows(*names, learned);
    if (auto st = store_->replace_learned_names(rows); !st)
      return make_error("importing {} into the store: {}", learned.string(), st.error().describe());
    spdlog::info("{}: {} learned names moved into the store", learned.string(), rows.size());
    remove_imported(learned);
  }
  const fs::path adopted = options_.state_dir / "adopted.json";
  if (auto list = read_state_file(adopted)) {
    const auto rows = adopted_rows(*list, adopted);
    if (auto st = store_->replace_adopted(rows); !st)
      return make_error("importing {} into the store: {}", adopted.string(), st.error().describe());
    spdlog::info("{}: {} adopted sandboxes moved into the store", adopted.string(), rows.size());
    remove_imported(adopted);
  }
  return ok_status();
}

}  // namespace agentd::daemon
