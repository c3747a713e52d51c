#include "etcd_cluster.hpp"

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace agentd::e2e {

namespace {
// Ports inside the world's own network namespace: no clash with any other.
constexpr int kClientPortBase = 23791;
constexpr int kPeerPortBase = 23801;

std::string url(const std::string& address, int port) { return "http://" + address + ":" + std::to_string(port); }
}  // namespace

EtcdCluster::EtcdCluster(World& world, int members, std::string address) : world_(world), address_(std::move(address)) {
  require_tools({"etcd", "etcdctl"});
  std::string cluster;
  for (int i = 0; i < members; ++i)
    cluster += (i ? "," : "") + ("m" + std::to_string(i)) + "=" + url("127.0.0.1", kPeerPortBase + i);
  for (int i = 0; i < members; ++i) {
    const std::string name = "m" + std::to_string(i);
    const int client = kClientPortBase + i, peer = kPeerPortBase + i;
    pid_t pid = world_.spawn_in_host(
        {"etcd", "--name", name, "--data-dir", (world_.dir() / ("etcd-" + name)).string(), "--listen-client-urls",
         url(address_, client), "--advertise-client-urls", url(address_, client), "--listen-peer-urls",
         url("127.0.0.1", peer), "--initial-advertise-peer-urls", url("127.0.0.1", peer), "--initial-cluster", cluster,
         "--initial-cluster-state", "new", "--initial-cluster-token", "agentd-e2e"},
        "etcd-" + name);
    pids_.push_back(pid);
    names_.push_back("etcd-" + name);
    client_ports_.push_back(client);
  }
  // A readiness wait: the first write the cluster takes (a leader exists).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (etcdctl({"put", "/e2e-ready", "1"}).exit_code != 0) {
    if (std::chrono::steady_clock::now() > give_up) throw std::runtime_error("etcd cluster did not start in 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

EtcdCluster::~EtcdCluster() { stop_all(); }

std::string EtcdCluster::endpoints() const {
  std::string list;
  for (int port : client_ports_) list += (list.empty() ? "" : ",") + url(address_, port);
  return list;
}

ProcessResult EtcdCluster::etcdctl(std::vector<std::string> args) const {
  args.insert(args.begin(), {"env", "ETCDCTL_API=3", "etcdctl", "--endpoints", endpoints(), "--dial-timeout", "2s"});
  return world_.in_host(args);
}

void EtcdCluster::stop_all() {
  for (size_t i = 0; i < pids_.size(); ++i) {
    ::kill(pids_[i], SIGTERM);
    world_.wait_spawned(pids_[i], names_[i]);  // reaped: its pid is never signalled again
  }
  pids_.clear();
  names_.clear();
}

}  // namespace agentd::e2e
