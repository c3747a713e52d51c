#include "etcd_cluster.hpp"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

namespace agentd::e2e {

namespace {
// Ports inside the world's own network namespace: no clash with any other.
constexpr int kClientPortBase = 23791;
constexpr int kPeerPortBase = 23801;

std::string url(const std::string& scheme, const std::string& address, int port) {
  return scheme + "://" + address + ":" + std::to_string(port);
}

void run_or_throw(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  if (result.exit_code != 0) throw std::runtime_error("making test certificates: " + result.describe());
}
}  // namespace

TlsFiles make_test_certificates(const std::filesystem::path& dir) {
  const std::string d = dir.string() + "/";
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto with_key = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin() + 2, ec_key.begin(), ec_key.end());
    run_or_throw(argv);
  };
  with_key({"openssl", "req", "-x509", "-keyout", d + "ca.key", "-out", d + "ca.pem", "-days", "1", "-subj",
            "/CN=agentd-e2e-ca"});
  auto issue = [&](const std::string& name, const std::string& cn, const std::string& extensions) {
    with_key({"openssl", "req", "-keyout", d + name + ".key", "-out", d + name + ".csr", "-subj", "/CN=" + cn});
    std::ofstream(d + name + ".ext") << extensions << "\n";
    run_or_throw({"openssl", "x509", "-req", "-in", d + name + ".csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
                  "-CAcreateserial", "-out", d + name + ".pem", "-days", "1", "-extfile", d + name + ".ext"});
  };
  // etcd 3.4's JSON gateway dials its own gRPC server with the server
  // certificate: with --client-cert-auth that one needs clientAuth too.
  issue("server", "etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth");
  issue("client", "agentd", "extendedKeyUsage=clientAuth");
  return {d + "ca.pem", d + "server.pem", d + "server.key", d + "client.pem", d + "client.key"};
}

EtcdCluster::EtcdCluster(World& world, EtcdOptions options) : world_(world), options_(std::move(options)) {
  require_tools({"etcd", "etcdctl", "openssl"});
  const int members = options_.members;
  const std::string scheme = options_.tls ? "https" : "http";
  std::string cluster;
  for (int i = 0; i < members; ++i)
    cluster += (i ? "," : "") + ("m" + std::to_string(i)) + "=" + url("http", "127.0.0.1", kPeerPortBase + i);
  for (int i = 0; i < members; ++i) {
    const std::string name = "m" + std::to_string(i);
    const int client = kClientPortBase + i, peer = kPeerPortBase + i;
    // Clients on `address` (https when asked), peers on loopback.
    std::vector<std::string> argv = {"etcd",
                                     "--name",
                                     name,
                                     "--data-dir",
                                     (world_.dir() / ("etcd-" + name)).string(),
                                     "--listen-client-urls",
                                     url(scheme, options_.address, client),
                                     "--advertise-client-urls",
                                     url(scheme, options_.address, client),
                                     "--listen-peer-urls",
                                     url("http", "127.0.0.1", peer),
                                     "--initial-advertise-peer-urls",
                                     url("http", "127.0.0.1", peer),
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     "agentd-e2e"};
    if (options_.tls)
      argv.insert(argv.end(), {"--cert-file", options_.tls->server_cert, "--key-file", options_.tls->server_key,
                               "--client-cert-auth", "--trusted-ca-file", options_.tls->ca});
    pid_t pid = world_.spawn_in_host(argv, "etcd-" + name);
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
  for (int port : client_ports_)
    list += (list.empty() ? "" : ",") + url(options_.tls ? "https" : "http", options_.address, port);
  return list;
}

ProcessResult EtcdCluster::etcdctl(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"env",       "ETCDCTL_API=3",  "etcdctl", "--endpoints",
                                   endpoints(), "--dial-timeout", "2s"};
  if (options_.tls)
    argv.insert(argv.end(),
                {"--cacert", options_.tls->ca, "--cert", options_.tls->client_cert, "--key", options_.tls->client_key});
  argv.insert(argv.end(), args.begin(), args.end());
  return world_.in_host(argv);
}

void EtcdCluster::stop_all() {
  for (size_t i = 0; i < pids_.size(); ++i) stop_member(static_cast<int>(i));
  pids_.clear();
  names_.clear();
}

void EtcdCluster::stop_member(int index) {
  pid_t& pid = pids_.at(static_cast<size_t>(index));
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  world_.wait_spawned(pid, names_.at(static_cast<size_t>(index)));  // reaped: its pid is never signalled again
  pid = -1;
}

int EtcdCluster::leader() const {
  auto status = etcdctl({"endpoint", "status", "-w", "json"});
  auto members = nlohmann::json::parse(status.out, nullptr, false);
  if (!members.is_array()) throw std::runtime_error("etcdctl endpoint status: " + status.describe());
  for (const auto& m : members) {
    const auto& s = m["Status"];
    if (s["header"]["member_id"] != s["leader"]) continue;
    const std::string endpoint = m["Endpoint"];
    for (size_t i = 0; i < client_ports_.size(); ++i)
      if (endpoint.size() > 6 && endpoint.substr(endpoint.rfind(':') + 1) == std::to_string(client_ports_[i]))
        return static_cast<int>(i);
  }
  throw std::runtime_error("no member of the cluster says it leads: " + status.out);
}

}  // namespace agentd::e2e
