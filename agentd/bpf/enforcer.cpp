#include "agentd/bpf/enforcer.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include <bpf/bpf.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <vector>

#include "agentd/bpf/lsm_probe.hpp"
#include "agentd/bpf/map_writer.hpp"
#include "agentd/bpf/pinned_maps.hpp"
#include "agentd/dns/rebinding.hpp"
#include "agentd/common/unique_fd.hpp"

namespace agentd::bpf {
namespace fs = std::filesystem;
namespace {

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

Result<uint64_t> own_netns_cookie() {
  UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe) return system_error("creating a socket to learn agentd's network namespace");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(probe.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return system_error("reading agentd's network namespace cookie (SO_NETNS_COOKIE, Linux 5.14)");
  return cookie;
}

// agentd_dnsns[{own namespace, slot 0}]: every sandbox is served here.
Status serve_own_netns(int dnsns_fd, uint64_t cookie) {
  agentd_dnsns_key key{cookie, 0, 0};
  const uint32_t served = 1;
  if (bpf_map_update_elem(dnsns_fd, &key, &served, BPF_ANY) != 0)
    return system_error("telling the kernel where the DNS proxy listens");
  // Other namespaces a previous agentd served: its sockets there are gone,
  // so their queries must be refused (with a record that serves them
  // again), not sent where nothing listens.
  std::vector<agentd_dnsns_key> stale;
  agentd_dnsns_key at{}, next{};
  const void* previous = nullptr;
  while (bpf_map_get_next_key(dnsns_fd, previous, &next) == 0) {
    if (next.netns_cookie != cookie || next.slot != 0) stale.push_back(next);
    at = next;
    previous = &at;
  }
  for (const auto& k : stale) (void)bpf_map_delete_elem(dnsns_fd, &k);
  return ok_status();
}

bool is_bpffs(const fs::path& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

// The bpffs dir must live on a bpf filesystem. /sys/fs/bpf is the usual
// mount (systemd makes it at boot); where nothing is mounted there yet we
// mount it, as systemd would. Anywhere else the operator chose: say how.
Status ensure_bpffs_dir(const fs::path& dir) {
  std::error_code ec;
  fs::path existing = dir;
  while (!fs::exists(existing, ec) && existing.has_parent_path() && existing != existing.parent_path())
    existing = existing.parent_path();
  if (!is_bpffs(existing)) {
    const fs::path standard = "/sys/fs/bpf";
    const bool under_standard = existing == standard;
    if (!under_standard)
      return make_error("{} is not on a bpf filesystem; mount one first: mount -t bpf bpf {}", dir.string(),
                        dir.string());
    if (::mount("bpf", standard.c_str(), "bpf", 0, "mode=0700") != 0)
      return system_error("mounting bpffs on {}", standard.string());
    spdlog::info("mounted bpffs on {}", standard.string());
  }
  for (const char* sub : {"", "maps", "links"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return make_error("creating {}: {}", (dir / sub).string(), ec.message());
  }
  return ok_status();
}

// libbpf's own messages go to our log at debug level: the errors that
// matter come back as return values and are reported with context.
int log_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !spdlog::should_log(spdlog::level::trace)) return 0;
  // A verifier log is one message of up to megabytes, its reason at the
  // end: kept whole here, and its last lines logged.
  va_list copy;
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (size <= 0) return 0;
  std::string text(static_cast<size_t>(size) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(size));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  constexpr size_t kTail = 4096;
  if (text.size() > kTail) text = "[...] " + text.substr(text.size() - kTail);
  spdlog::debug("libbpf: {}", text);
  return 0;
}

std::string libbpf_error(int err) {
  char buf[128];
  libbpf_strerror(err, buf, sizeof(buf));
  return buf;
}

}  // namespace

Enforcer::Enforcer(EnforcerOptions options, EgressSkeleton skeleton)
    : options_(std::move(options)), skeleton_(std::move(skeleton)) {}

Enforcer::~Enforcer() {
  // Pinned links stay attached after we exit: that is fail-closed by design.
  for (auto& link : links_) bpf_link__disconnect(link.get());
  // A start that failed before its swap leaves the previous pins in force
  // and takes its fresh ones back.
  std::error_code ec;
  if (!pins_.staging.empty()) fs::remove_all(pins_.staging, ec);
}

Result<std::unique_ptr<Enforcer>> Enforcer::start(const EnforcerOptions& options, const KernelFeatures& features) {
  if (auto missing = features.missing_required(); !missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return make_error("this kernel lacks what agentd needs: {}", names);
  }
  if (auto status = ensure_bpffs_dir(options.bpffs_dir); !status) return status.error();

  libbpf_set_print(log_libbpf);
  // This layout's pins when they exist (a restart); otherwise fresh maps in
  // a staging directory, filled before anything uses them (pinned_maps.hpp).
  const fs::path maps_dir = options.bpffs_dir / "maps";
  const PinDirs dirs = find_pin_dirs(maps_dir, AGENTD_ABI_VERSION);
  std::error_code ec;
  const bool restart = fs::exists(dirs.current, ec);
  if (!restart) fs::remove_all(dirs.staging, ec);  // an interrupted upgrade's
  const std::string pin_root = (restart ? dirs.current : dirs.staging).string();
  fs::create_directories(pin_root, ec);  // libbpf pins into it, and makes no directory
  if (ec) return make_error("creating {}: {}", pin_root, ec.message());
  Status layouts = ok_status();
  auto open_and_load = [&](bool with_lsm, int& err) -> EgressSkeleton {
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = pin_root.c_str());
    EgressSkeleton skeleton(egress_bpf::open(&open_opts));
    if (!skeleton) {
      err = -errno;
      return nullptr;
    }
    layouts = check_pinned_layouts(skeleton->obj, pin_root);
    if (!layouts) {
      err = -EINVAL;
      return nullptr;
    }
    bpf_program__set_autoload(skeleton->progs.agentd_socket_family, with_lsm);
    // Constants the verifier sees; 0 is refused by the option parser.
    skeleton->rodata->agentd_record_interval_ns = 1'000'000'000ULL / options.record_budget.per_second;
    skeleton->rodata->agentd_record_burst = options.record_budget.burst;
    // Without it, refuse_with: econnrefused falls back to EPERM (and the
    // policy loads: it is how a refusal looks, not whether it happens).
    skeleton->rodata->agentd_can_set_retval = features.set_retval;
    err = egress_bpf::load(skeleton.get());
    return err == 0 ? std::move(skeleton) : nullptr;
  };

  // The LSM hook refuses packet, vsock and the other non-inet families. It
  // needs the bpf LSM active and a kernel that lets us load LSM programs;
  // without it the sock_create hook still refuses raw IP, and agentctl
  // run's seccomp filter refuses the other families for what it starts.
  int err = 0;
  EgressSkeleton skeleton;
  std::string lsm_status = "active";
  if (features.bpf_lsm_active) {
    if (const int refused = minimal_lsm_refusal(); refused != 0)
      err = -refused;  // one load instead of two
    else
      skeleton = open_and_load(true, err);
    if (!skeleton)
      lsm_status = "unavailable: loading the LSM program failed: " + libbpf_error(err) + lsm_refusal_cause();
  } else {
    lsm_status = "unavailable: the bpf LSM is not active (add 'bpf' to the kernel's lsm= list)";
  }
  if (!skeleton) {
    spdlog::warn("socket family hook {}; non-inet families are refused only by agentctl run's seccomp filter",
                 lsm_status);
    skeleton = open_and_load(false, err);
  }
  if (!layouts) return layouts.error();
  if (!skeleton) return make_error("loading the BPF programs (maps pinned under {}): {}", pin_root, libbpf_error(err));

  std::unique_ptr<Enforcer> enforcer(new Enforcer(options, std::move(skeleton)));
  enforcer->lsm_status_ = lsm_status;
  enforcer->pins_ = {dirs.current, restart ? fs::path() : dirs.staging, restart ? std::nullopt : dirs.previous, {}};
  if (enforcer->pins_.previous) {
    auto copied = copy_previous_maps(enforcer->skeleton_->obj, *enforcer->pins_.previous);
    if (!copied)
      return make_error("carrying the maps over from {}: {}", enforcer->pins_.previous->string(),
                        copied.error().describe());
    enforcer->pins_.carried = std::move(*copied);
    spdlog::info("pinned maps of another layout at {}: {} entries of {} maps carried over; {} start empty",
                 enforcer->pins_.previous->string(), enforcer->pins_.carried.entries,
                 enforcer->pins_.carried.copied.size(), fmt::join(enforcer->pins_.carried.started_empty, ", "));
  }
  auto& m = enforcer->skeleton_->maps;
  enforcer->maps_ =
      MapFds{bpf_map__fd(m.agentd_rules),   bpf_map__fd(m.agentd_cgroups),  bpf_map__fd(m.agentd_state),
             bpf_map__fd(m.agentd_counts),  bpf_map__fd(m.agentd_stats),    bpf_map__fd(m.agentd_events),
             bpf_map__fd(m.agentd_learned), bpf_map__fd(m.agentd_dnscfg),   bpf_map__fd(m.agentd_grants),
             bpf_map__fd(m.agentd_dns6),    bpf_map__fd(m.agentd_records),  bpf_map__fd(m.agentd_budget),
             bpf_map__fd(m.agentd_names),   bpf_map__fd(m.agentd_namecnt),  bpf_map__fd(m.agentd_ratelim),
             bpf_map__fd(m.agentd_dnsns),   bpf_map__fd(m.agentd_hostaddr), bpf_map__fd(m.agentd_traffic)};
  // Before any hook is attached: DNS from agentd's own network namespace,
  // where the proxy's shared sockets listen, is served for every sandbox.
  auto cookie = own_netns_cookie();
  if (!cookie) return cookie.error();
  enforcer->netns_cookie_ = *cookie;
  if (auto status = serve_own_netns(enforcer->maps_.dnsns, *cookie); !status) return status.error();
  // And the host's own addresses, judged as loopback from the first
  // connect (a restart keeps the pinned list until the daemon refreshes it).
  if (auto listed =
          MapWriter(enforcer->maps_).sync_host_addresses(*cookie, host_address_keys(*cookie, dns::host_addresses()));
      !listed)
    return listed.error();
  // With no pinned links nothing enforces yet: attach at once, so that a
  // cgroup under the root is denied everything until it is a sandbox.
  // Otherwise a previous daemon's programs enforce with its maps until the
  // daemon has filled these (commit).
  if (!fs::exists(options.bpffs_dir / "links" / "root", ec) || fs::is_empty(options.bpffs_dir / "links" / "root", ec))
    if (auto status = enforcer->commit(); !status) return status.error();
  return enforcer;
}

Status Enforcer::commit() {
  if (committed_) return ok_status();
  // Renamed first: should agentd stop before the swap, the next start
  // finds this layout's maps filled and reuses them.
  if (!pins_.staging.empty()) {
    if (::rename(pins_.staging.c_str(), pins_.current.c_str()) != 0)
      return system_error("renaming {} to {}", pins_.staging.string(), pins_.current.string());
    pins_.staging.clear();
  }
  if (auto status = attach_first_bytes(); !status) return status;
  if (auto status = attach_all(options_.cgroup_root, options_.bpffs_dir / "links" / "root"); !status) return status;
  committed_ = true;
  for (const auto& [cgroup, cgroup_id] : deferred_cgroups_)
    if (auto status = attach_extra_cgroup(cgroup, cgroup_id); !status) return status;
  deferred_cgroups_.clear();
  remove_other_pins(options_.bpffs_dir / "maps", AGENTD_ABI_VERSION);
  return ok_status();
}

// The sk_msg program runs on the sockets of agentd_verifying, not on a
// cgroup. Attached to the (pinned) map, it stays with the map when we
// exit; a new daemon's attach replaces it, and sockets already in the
// map keep the program they were checked with until they leave.
Status Enforcer::attach_first_bytes() {
  bpf_program* prog = skeleton_->progs.agentd_first_bytes;
  const int map_fd = bpf_map__fd(skeleton_->maps.agentd_verifying);
  if (bpf_prog_attach(bpf_program__fd(prog), map_fd, BPF_SK_MSG_VERDICT, 0) != 0)
    return system_error("attaching agentd_first_bytes to the sockhash agentd_verifying");
  return ok_status();
}

std::vector<bpf_program*> Enforcer::programs() const {
  std::vector<bpf_program*> result;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skeleton_->obj) {
    // sk_msg attaches to its sockhash (attach_first_bytes), not to a cgroup.
    if (bpf_program__autoload(prog) && bpf_program__type(prog) != BPF_PROG_TYPE_SK_MSG) result.push_back(prog);
  }
  return result;
}

Status Enforcer::attach_all(const fs::path& cgroup, const fs::path& pin_dir) {
  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) return make_error("creating {}: {}", pin_dir.string(), ec.message());
  UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) return system_error("opening cgroup {}", cgroup.string());

  for (bpf_program* prog : programs()) {
    const std::string name = bpf_program__name(prog);
    const fs::path pin = pin_dir / name;
    Attachment attachment{name, cgroup.string(), pin.string(), false};
    LinkPtr link;
    if (fs::exists(pin, ec)) {
      // A previous daemon's link: swap our program in behind it, atomically.
      link.reset(bpf_link__open(pin.c_str()));
      if (!link) return system_error("opening pinned link {}", pin.string());
      if (int err = bpf_link__update_program(link.get(), prog); err == -ENOLINK) {
        // Its cgroup was removed (systemd removes a stopped unit's empty
        // cgroup tree): nothing was enforced through it; attach afresh.
        spdlog::info("pinned link {} outlived its cgroup; attaching afresh", pin.string());
        link.reset();
        fs::remove(pin, ec);
      } else if (err != 0) {
        return make_error("updating pinned link {}: {}", pin.string(), libbpf_error(err));
      } else {
        attachment.adopted = true;
      }
    }
    if (!link) {
      link.reset(bpf_program__attach_cgroup(prog, cgroup_fd.get()));
      if (!link) return system_error("attaching {} to {}", name, cgroup.string());
      if (int err = bpf_link__pin(link.get(), pin.c_str()); err != 0)
        return make_error("pinning link {}: {}", pin.string(), libbpf_error(err));
    }
    spdlog::debug("{} {} at {}", attachment.adopted ? "adopted" : "attached", name, cgroup.string());
    links_.push_back(std::move(link));
    attachments_.push_back(std::move(attachment));
  }
  return ok_status();
}

Status Enforcer::attach_extra_cgroup(const fs::path& cgroup, uint64_t cgroup_id) {
  if (!committed_) {
    deferred_cgroups_.emplace_back(cgroup, cgroup_id);
    return ok_status();
  }
  return attach_all(cgroup, options_.bpffs_dir / "links" / fmt::format("cg-{}", cgroup_id));
}

Status Enforcer::detach_extra_cgroup(uint64_t cgroup_id) {
  std::erase_if(deferred_cgroups_, [&](const auto& deferred) { return deferred.second == cgroup_id; });
  const fs::path pin_dir = options_.bpffs_dir / "links" / fmt::format("cg-{}", cgroup_id);
  for (size_t i = 0; i < attachments_.size();) {
    if (fs::path(attachments_[i].pin).parent_path() == pin_dir) {
      ::unlink(attachments_[i].pin.c_str());
      bpf_link__detach(links_[i].get());
      links_.erase(links_.begin() + static_cast<long>(i));
      attachments_.erase(attachments_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  std::error_code ec;
  fs::remove_all(pin_dir, ec);
  return ok_status();
}

nlohmann::json Enforcer::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& a : attachments_)
    list.push_back({{"hook", a.hook}, {"cgroup", a.cgroup}, {"pin", a.pin}, {"adopted", a.adopted}});
  // Not a cgroup link: attached to its sockhash afresh by every daemon.
  nlohmann::json pins = {{"maps", pins_.current.string()}, {"layout", AGENTD_ABI_VERSION}};
  if (pins_.previous)
    pins["carried_over"] = {{"from", pins_.previous->string()},
                            {"maps", pins_.carried.copied},
                            {"entries", pins_.carried.entries},
                            {"started_empty", pins_.carried.started_empty}};
  return {{"attachments", list},
          {"pins", pins},
          {"socket_family_hook", lsm_status_},
          {"name_check", "agentd_first_bytes on the sockhash agentd_verifying"}};
}

}  // namespace agentd::bpf
