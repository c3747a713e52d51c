#include "agentd/approvals/request_index.hpp"

#include <algorithm>

#include "agentd/approvals/book.hpp"

namespace agentd::approvals {
namespace {

std::string tenant_of(const std::string& sandbox) { return sandbox.substr(0, sandbox.find('/')); }

}  // namespace

bool RequestIndex::silences(const Request& request) {
  return request.state == RequestState::denied && request.silent_until.has_value();
}

// A request restored without an answer time counts from its last denial.
Time RequestIndex::decided_at(const Request& request) { return request.answered_at.value_or(request.last_seen); }

Time RequestIndex::forget_at(const Request& request) const {
  Time at = decided_at(request) + limits_.keep;
  if (request.silent_until) at = std::max(at, *request.silent_until);
  return at;
}

void RequestIndex::add(const Request& r) {
  Sandbox& sandbox = sandboxes_[r.target.sandbox];
  if (r.state == RequestState::pending) {
    ++sandbox.pending;
    if (r.target.is_name()) ++sandbox.pending_names;
    ++tenants_[tenant_of(r.target.sandbox)];
    expiry_.emplace(r.expires_at, r.id);
    return;
  }
  if (silences(r))
    sandbox.silenced.emplace(*r.silent_until, r.id);
  else
    sandbox.decided.emplace(decided_at(r), r.id);
  forget_at_.emplace(forget_at(r), r.id);
}

void RequestIndex::remove(const Request& r) {
  auto it = sandboxes_.find(r.target.sandbox);
  if (it == sandboxes_.end()) return;
  Sandbox& sandbox = it->second;
  if (r.state == RequestState::pending) {
    if (expiry_.erase({r.expires_at, r.id}) == 0) return;  // not indexed as pending
    --sandbox.pending;
    if (r.target.is_name()) --sandbox.pending_names;
    auto tenant = tenants_.find(tenant_of(r.target.sandbox));
    if (tenant != tenants_.end() && --tenant->second == 0) tenants_.erase(tenant);
  } else {
    if (silences(r))
      sandbox.silenced.erase({*r.silent_until, r.id});
    else
      sandbox.decided.erase({decided_at(r), r.id});
    forget_at_.erase({forget_at(r), r.id});
  }
  if (sandbox.empty()) sandboxes_.erase(it);
}

size_t RequestIndex::pending(const std::string& sandbox) const {
  auto it = sandboxes_.find(sandbox);
  return it == sandboxes_.end() ? 0 : it->second.pending;
}

size_t RequestIndex::pending_names(const std::string& sandbox) const {
  auto it = sandboxes_.find(sandbox);
  return it == sandboxes_.end() ? 0 : it->second.pending_names;
}

size_t RequestIndex::pending_in_tenant(const std::string& tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second;
}

std::map<std::string, size_t> RequestIndex::pending_by_sandbox() const {
  std::map<std::string, size_t> pending;
  for (const auto& [name, sandbox] : sandboxes_)
    if (sandbox.pending) pending[name] = sandbox.pending;
  return pending;
}

std::vector<uint64_t> RequestIndex::due(Time now) const {
  std::vector<uint64_t> ids;
  for (auto it = expiry_.begin(); it != expiry_.end() && it->first <= now; ++it) ids.push_back(it->second);
  return ids;
}

std::vector<uint64_t> RequestIndex::pending_ids() const {
  std::vector<uint64_t> ids;
  ids.reserve(expiry_.size());
  for (const auto& [at, id] : expiry_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<uint64_t> RequestIndex::to_forget(Time now) const {
  std::vector<uint64_t> ids;
  for (auto it = forget_at_.begin(); it != forget_at_.end() && it->first <= now; ++it) ids.push_back(it->second);
  return ids;
}

std::vector<uint64_t> RequestIndex::to_forget(const std::string& name) const {
  std::vector<uint64_t> ids;
  auto it = sandboxes_.find(name);
  if (it == sandboxes_.end()) return ids;
  const Sandbox& sandbox = it->second;
  auto decided = sandbox.decided.begin();
  for (size_t n = sandbox.decided.size(); n > limits_.decided_per_sandbox; --n) ids.push_back((decided++)->second);
  auto silenced = sandbox.silenced.begin();
  for (size_t n = sandbox.silenced.size(); n > limits_.silenced_per_sandbox; --n) ids.push_back((silenced++)->second);
  return ids;
}

}  // namespace agentd::approvals
