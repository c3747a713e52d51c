#include "agentd/fleet/applied_policy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "agentd/common/unique_fd.hpp"
#include "agentd/policy/loader.hpp"

namespace agentd::fleet {

namespace fs = std::filesystem;

namespace {

// Written and flushed to the disk before it is renamed into place.
Status write_durably(const fs::path& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (fd.get() < 0) return system_error("writing {}", path.string());
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("writing {}", path.string());
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return system_error("flushing {}", path.string());
  return ok_status();
}

Status write_texts(const fs::path& dir, const policy::PolicyTexts& texts) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("creating {}: {}", dir.string(), ec.message());
  for (const auto& [key, text] : texts) {
    // The snapshot's keys were checked (KeyLayout::classify): a bare name.
    if (auto st = write_durably(dir / fs::path(key).filename(), text); !st) return st;
  }
  return ok_status();
}

}  // namespace

fs::path applied_policy_dir(const fs::path& fleet_dir) { return fleet_dir / "policy"; }

Status save_applied(const fs::path& fleet_dir, const PolicySnapshot& snapshot) {
  std::error_code ec;
  fs::create_directories(fleet_dir, ec);
  if (ec) return make_error("creating {}: {}", fleet_dir.string(), ec.message());
  const fs::path link = applied_policy_dir(fleet_dir);
  const std::string target_name = fmt::format("policy.{}", snapshot.revision);
  const fs::path target = fleet_dir / target_name;
  const fs::path current = fs::read_symlink(link, ec);
  if (ec || current != target_name) {
    const fs::path staging = fleet_dir / (target_name + ".new");
    fs::remove_all(staging, ec);
    fs::remove_all(target, ec);
    if (auto st = write_texts(staging, snapshot.tenants); !st) return st;
    if (auto st = write_texts(staging / policy::kPresetsDir, snapshot.presets); !st) return st;
    fs::rename(staging, target, ec);
    if (ec) return make_error("renaming {} into place: {}", staging.string(), ec.message());
    const fs::path new_link = fleet_dir / "policy.link.new";
    fs::remove(new_link, ec);
    fs::create_directory_symlink(target_name, new_link, ec);
    if (ec) return make_error("linking {}: {}", new_link.string(), ec.message());
    fs::rename(new_link, link, ec);  // atomic: the old policy or the new one
    if (ec) return make_error("swapping {}: {}", link.string(), ec.message());
  }
  const fs::path meta = fleet_dir / "applied.json", meta_new = fleet_dir / "applied.json.new";
  if (auto st = write_durably(meta_new, nlohmann::json{{"revision", snapshot.revision}}.dump() + "\n"); !st) return st;
  fs::rename(meta_new, meta, ec);
  if (ec) return make_error("renaming {}: {}", meta_new.string(), ec.message());
  // Older revisions go; the one linked stays.
  for (const auto& entry : fs::directory_iterator(fleet_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("policy.", 0) == 0 && name != target_name && name != "policy.link.new")
      fs::remove_all(entry.path(), ec);
  }
  return ok_status();
}

std::optional<int64_t> applied_revision(const fs::path& fleet_dir) {
  std::ifstream in(fleet_dir / "applied.json");
  if (!in) return std::nullopt;
  auto meta = nlohmann::json::parse(in, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("revision") || !meta["revision"].is_number_integer())
    return std::nullopt;
  return meta["revision"].get<int64_t>();
}

}  // namespace agentd::fleet
