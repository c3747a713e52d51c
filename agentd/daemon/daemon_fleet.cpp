// The daemon's side of the etcd policy source (README, "Fleet"): where the
// first policy comes from, what a policy from etcd becomes (the same reload
// as a policy dir change), what is kept on disk, and what the host reports.
#include <unistd.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "agentd/common/version.hpp"
#include "agentd/daemon/daemon.hpp"
#include "agentd/fleet/applied_policy.hpp"
#include "agentd/fleet/answer_record.hpp"
#include "agentd/fleet/grant_record.hpp"
#include "agentd/common/json_dump.hpp"
#include "agentd/common/safe_text.hpp"
#include "agentd/fleet/policy_read.hpp"
#include "agentd/policy/loader.hpp"

namespace agentd::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<fleet::EtcdClient> client_of(const FleetOptions& options) {
  fleet::EtcdConfig config;
  config.endpoints = options.endpoints;
  config.ca_file = options.ca_file;
  config.cert_file = options.cert_file;
  config.key_file = options.key_file;
  return fleet::EtcdClient::make(std::move(config));
}

std::string host_name_of(const FleetOptions& options) {
  if (!options.host.empty()) return options.host;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// etcd's policy at a first start, waited for (bounded): a host with no
// policy of its own does not start enforcing nothing.
Result<fleet::PolicySnapshot> first_snapshot(const FleetOptions& options, const fleet::KeyLayout& layout) {
  auto client = client_of(options);
  if (!client) return client.error();
  const auto give_up = std::chrono::steady_clock::now() + options.first_read_timeout;
  for (;;) {
    auto range = fleet::read_policy_range(*client, layout);
    if (range) return fleet::snapshot_of(*range, layout);
    if (std::chrono::steady_clock::now() > give_up) return range.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

fs::path Daemon::fleet_dir() const { return options_.state_dir / "fleet"; }

policy::LoadResult Daemon::load_start_policy() {
  if (!options_.fleet.enabled) return policy::load_policy_dir(options_.policy_dir);
  fleet_host_ = host_name_of(options_.fleet);
  policy::LoadResult refused;
  auto fail = [&](const std::string& where, const std::string& why) {
    refused.errors.push_back({{where, 0, 0}, why});
    return refused;
  };
  auto layout = fleet::KeyLayout::make(options_.fleet.prefix);
  if (!layout) return fail("--etcd-prefix", layout.error().describe());
  if (!fleet::is_host_name(fleet_host_))
    return fail("--etcd-host-name", fmt::format("\"{}\" is not [A-Za-z0-9_.-]{{1,253}}", fleet_host_));
  fleet_layout_ = *layout;
  // Every reader of the policy dir (policy diff, sandbox profiles) reads
  // what was applied last.
  options_.policy_dir = fleet::applied_policy_dir(fleet_dir());
  std::error_code ec;
  if (fs::exists(options_.policy_dir, ec)) {
    fleet_applied_revision_ = fleet::applied_revision(fleet_dir()).value_or(0);
    spdlog::info("fleet: starting from the policy applied last (etcd revision {}), then following etcd",
                 fleet_applied_revision_);
    return policy::load_policy_dir(options_.policy_dir);
  }
  auto snapshot = first_snapshot(options_.fleet, *fleet_layout_);
  if (!snapshot)
    return fail("etcd", fmt::format("no policy was applied on this host before and etcd's could not be read, "
                                    "refusing to start (fail closed): {}",
                                    snapshot.error().describe()));
  if (snapshot->revision == 0)  // as at run time: an empty prefix is no policy
    return fail("etcd", fmt::format("etcd holds no policy under {}: push one first (agentctl policy push)",
                                    fleet_layout_->policy_prefix()));
  fleet_candidate_ = std::make_shared<const fleet::PolicySnapshot>(std::move(*snapshot));
  fleet_trying_ = fleet_candidate_;
  return policy::parse_policy_texts(fleet_candidate_->tenants, fleet_candidate_->presets);
}

std::function<policy::LoadResult()> Daemon::policy_loader() {
  fleet_trying_ = options_.fleet.enabled ? fleet_candidate_ : nullptr;
  if (fleet_trying_)
    return [snapshot = fleet_trying_] { return policy::parse_policy_texts(snapshot->tenants, snapshot->presets); };
  return [dir = options_.policy_dir] { return policy::load_policy_dir(dir); };
}

Status Daemon::start_fleet(sd_event* loop) {
  auto watch_client = client_of(options_.fleet);
  if (!watch_client) return watch_client.error();
  auto report_client = client_of(options_.fleet);
  if (!report_client) return report_client.error();
  fleet_reporter_ = std::make_unique<fleet::HostReporter>(
      std::move(*report_client), fleet_layout_->host_key(fleet_host_), fleet_layout_->member_key(fleet_host_));
  auto watch = FleetWatch::start(loop, std::move(*watch_client), *fleet_layout_,
                                 [this](FleetWatch::Update update) { on_fleet_update(std::move(update)); });
  if (!watch) return watch.error();
  fleet_watch_ = std::move(*watch);
  if (auto grants = start_fleet_grants(loop); !grants) return grants;
  report_to_fleet();
  spdlog::info("fleet: host {} follows etcd {} under {}", fleet_host_, fmt::join(options_.fleet.endpoints, ","),
               options_.fleet.prefix);
  return ok_status();
}

Status Daemon::start_fleet_grants(sd_event* loop) {
  auto write_client = client_of(options_.fleet);
  if (!write_client) return write_client.error();
  auto watch_client = client_of(options_.fleet);
  if (!watch_client) return watch_client.error();
  fleet_writer_ = std::make_unique<fleet::EtcdWriter>(std::move(*write_client));
  const fleet::KeyLayout layout = *fleet_layout_;
  auto* writer = fleet_writer_.get();
  approvals_->join_fleet(
      {fleet_host_,
       [writer, layout](const approvals::Grant& grant) {
         writer->put(layout.grant_key(grant.origin->host, grant.origin->id), fleet::grant_record_value(grant));
       },
       [writer, layout](const approvals::FleetOrigin& origin) {
         writer->erase(layout.grant_key(origin.host, origin.id));
       },
       [writer, layout, host = fleet_host_](const approvals::Request& request) {
         auto record = approvals::request_to_json(request);
         record["fleet_host"] = host;
         writer->put(layout.request_key(host, request.id), dump_json(record));
       },
       [writer, layout, host = fleet_host_](uint64_t id) { writer->erase(layout.request_key(host, id)); }});
  auto watch = PrefixWatch::start(loop, std::move(*watch_client), layout.grants_prefix(),
                                  [this](const fleet::RangeAnswer& range) { on_fleet_grants(range); });
  if (!watch) return watch.error();
  fleet_grant_watch_ = std::move(*watch);
  auto answer_client = client_of(options_.fleet);
  if (!answer_client) return answer_client.error();
  auto answers = PrefixWatch::start(loop, std::move(*answer_client), layout.answers_prefix(fleet_host_),
                                    [this](const fleet::RangeAnswer& range) { on_fleet_answers(range); });
  if (!answers) return answers.error();
  fleet_answer_watch_ = std::move(*answers);
  return ok_status();
}

void Daemon::on_fleet_answers(const fleet::RangeAnswer& range) {
  std::map<std::string, int64_t> still_there;
  for (const auto& kv : range.kvs) {
    // Taken already, its delete on its way: not taken twice.
    if (auto it = fleet_answers_taken_.find(kv.key);
        it != fleet_answers_taken_.end() && it->second == kv.mod_revision) {
      still_there.insert(*it);
      continue;
    }
    still_there[kv.key] = kv.mod_revision;
    fleet_writer_->erase(kv.key);
    auto answer = fleet::parse_answer_record(*fleet_layout_, fleet_host_, kv.key, kv.value);
    Result<json> taken = answer ? approvals_->answer_from_fleet(answer->request, answer->by) : answer.error();
    if (taken) {
      ++fleet_answers_ok_;
      continue;
    }
    ++fleet_answers_refused_;
    fleet_last_answer_error_ = taken.error().describe();
    spdlog::warn("fleet: an answer through etcd not taken: {}", terminal_text(fleet_last_answer_error_));
  }
  fleet_answers_taken_ = std::move(still_there);
}

void Daemon::on_fleet_grants(const fleet::RangeAnswer& range) {
  std::vector<approvals::Grant> grants;
  std::vector<std::string> refused;
  if (range.kvs.size() > fleet::kMaxFleetGrantKeys) {
    approvals_->fleet_records_refused(
        {fmt::format("{} keys under {} (more than {}): not read; the grants in force stay", range.kvs.size(),
                     fleet_layout_->grants_prefix(), fleet::kMaxFleetGrantKeys)});
    return;
  }
  for (const auto& kv : range.kvs) {
    auto grant = fleet::parse_grant_record(*fleet_layout_, kv.key, kv.value);
    if (grant)
      grants.push_back(std::move(*grant));
    else
      refused.push_back(grant.error().describe());
  }
  approvals_->fleet_records_refused(std::move(refused));
  approvals_->sync_fleet_grants(grants);
}

void Daemon::on_fleet_update(FleetWatch::Update update) {
  std::optional<std::string> refusal;
  if (!update.snapshot) {
    // The keys themselves are wrong (a bad name, a file too large): the
    // same as a policy that does not validate.
    refusal = update.snapshot.error().describe();
  } else if (update.snapshot->tenants.empty() && update.snapshot->presets.empty() && update.snapshot->revision == 0) {
    // An empty prefix (etcd wiped, a wrong --etcd-prefix) is not a policy
    // that denies everything: no push ever happened there.
    refusal = fmt::format("etcd holds no policy under {} (never pushed, or deleted)", fleet_layout_->policy_prefix());
  }
  if (refusal) {
    last_reload_error_ = *refusal;  // no reload runs to record it
    fleet_candidate_.reset();       // a SIGHUP reloads the applied copy meanwhile
    fleet_refused(update.read_revision, *refusal);
    return;
  }
  fleet_candidate_ = std::make_shared<const fleet::PolicySnapshot>(std::move(*update.snapshot));
  request_reload(fmt::format("etcd revision {}", fleet_candidate_->revision), std::nullopt);
}

void Daemon::fleet_applied() {
  if (!fleet_trying_) return;
  auto snapshot = std::move(fleet_trying_);
  fleet_trying_.reset();
  if (auto saved = fleet::save_applied(fleet_dir(), *snapshot); !saved)
    spdlog::error(
        "fleet: keeping the applied policy on disk failed (a start without etcd would use an older "
        "one): {}",
        saved.error().describe());
  if (snapshot->revision != fleet_applied_revision_)
    spdlog::info("fleet: etcd revision {} in force (policy generation {})", snapshot->revision, policy_generation_);
  fleet_applied_revision_ = snapshot->revision;
  // What etcd sent since a refusal applied: the refusal is history (the
  // watch hands over changes only, so this is never the refused state).
  fleet_refusal_.reset();
  report_to_fleet();
}

void Daemon::fleet_reload_refused(const std::string& error) {
  if (!fleet_trying_) return;
  const int64_t revision = fleet_trying_->revision;
  fleet_trying_.reset();
  fleet_refused(revision, error);
}

void Daemon::fleet_refused(int64_t revision, const std::string& error) {
  fleet_refusal_ = FleetRefusal{revision, error, std::chrono::system_clock::now()};
  spdlog::error("fleet: etcd revision {} refused, the running policy (revision {}) stays:\n{}", revision,
                fleet_applied_revision_, error);
  report_to_fleet();
}

json Daemon::fleet_status() const {
  if (!options_.fleet.enabled) return nullptr;
  json refusal = nullptr;
  if (fleet_refusal_)
    refusal = {{"revision", fleet_refusal_->revision},
               {"error", fleet_refusal_->error},
               {"at", events::format_time(fleet_refusal_->at)}};
  return {{"host", fleet_host_},
          {"endpoints", options_.fleet.endpoints},
          {"prefix", options_.fleet.prefix},
          {"applied_revision", fleet_applied_revision_},
          {"received_revision", fleet_candidate_ ? fleet_candidate_->revision : 0},
          {"watch", fleet_watch_ ? fleet_watch_->state() : "not started"},
          {"connected", fleet_watch_ && fleet_watch_->connected()},
          {"report_error", fleet_reporter_ ? fleet_reporter_->last_error() : ""},
          {"grants", fleet_grants_status()},
          {"last_refusal", refusal}};
}

json Daemon::fleet_grants_status() const {
  if (!fleet_grant_watch_ || !fleet_writer_) return nullptr;
  const auto written = fleet_writer_->state();
  return {{"watching", fleet_grant_watch_->connected()},
          {"watch_error", fleet_grant_watch_->last_error()},
          {"answers_taken", fleet_answers_ok_},
          {"answers_refused", fleet_answers_refused_},
          {"last_answer_error", fleet_last_answer_error_},
          {"writes_pending", written.pending},
          {"writes_done", written.written},
          {"write_error", written.last_error}};
}

void Daemon::report_to_fleet() {
  if (!fleet_reporter_) return;
  auto policy = applier_->policy_ptr();
  json refusal = nullptr;
  if (fleet_refusal_)
    refusal = {{"revision", fleet_refusal_->revision},
               {"error", fleet_refusal_->error},
               {"at", events::format_time(fleet_refusal_->at)}};
  fleet_reporter_->update({{"host", fleet_host_},
                           {"applied_revision", fleet_applied_revision_},
                           {"generation", policy_generation_},
                           {"digest", policy ? policy->source_digest() : ""},
                           {"last_refusal", refusal},
                           {"sandboxes", registry_.all().size()},
                           {"version", version()}});
}

}  // namespace agentd::daemon
