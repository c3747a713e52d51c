// The daemon's approvals wiring: the service, its timer, and the control
// socket's group (operators who are not root connect through it).
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agentd/common/guard.hpp"
#include "agentd/daemon/daemon.hpp"
#include "agentd/dns/rebinding.hpp"

namespace agentd::daemon {
namespace {

constexpr uint64_t kApprovalsTickUsec = 1'000'000;  // request and grant expiry resolution

// 0660 root:GROUP, so members of GROUP can connect; what each may do
// then depends on their role.
Status share_socket(const std::filesystem::path& socket, const std::string& group_name) {
  if (group_name.empty()) return ok_status();
  gid_t gid = 0;
  // getgrnam_r: getgrnam answers in storage that every thread shares.
  group entry{}, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrnam_r(group_name.c_str(), &entry, buf.data(), buf.size(), &found) == 0 && found) {
    gid = entry.gr_gid;
  } else if (!group_name.empty() && group_name.find_first_not_of("0123456789") == std::string::npos) {
    gid = static_cast<gid_t>(std::stoul(group_name));
  } else {
    return make_error("--socket-group {}: no such group", group_name);
  }
  if (::chown(socket.c_str(), static_cast<uid_t>(-1), gid) != 0)
    return system_error("giving the control socket {} to group {}", socket.string(), group_name);
  if (::chmod(socket.c_str(), 0660) != 0) return system_error("chmod 0660 {}", socket.string());
  return ok_status();
}

}  // namespace

Status Daemon::start_approvals(sd_event* loop) {
  if (auto st = share_socket(options_.socket_path, options_.approvals.socket_group); !st) return st;
  auto service = ApprovalService::start(options_.approvals, *store_, *maps_, *applier_, registry_);
  if (!service) return service.error();
  approvals_ = std::move(*service);
  approvals_->set_host_addresses(dns::host_addresses());
  const auto* policy = applier_->policy();
  approvals_->on_policy("loaded", "start",
                        {{"generation", policy_generation_}, {"digest", policy ? policy->source_digest() : ""}});
  sd_event_source* timer = nullptr;
  if (sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, kApprovalsTickUsec, 0, &Daemon::on_approvals_timer,
                                 this) < 0)
    return make_error("arming the approvals timer");
  sd_event_source_set_enabled(timer, SD_EVENT_ON);
  sources_.emplace_back(timer);
  return ok_status();
}

int Daemon::on_approvals_timer(sd_event_source* source, uint64_t, void* self) {
  auto* daemon = static_cast<Daemon*>(self);
  guarded("the approvals' expiry tick", daemon->loop_failures_, [&] { daemon->approvals_->tick(); });
  sd_event_source_set_time_relative(source, kApprovalsTickUsec);
  sd_event_source_set_enabled(source, SD_EVENT_ON);
  return 0;
}

}  // namespace agentd::daemon
