// A real etcd cluster for the fleet tests: three members in the world's
// host namespace on 127.0.0.1 (the only etcd any test agentd or agentctl
// sees), data dirs in the world's dir, each member stopped by its pid.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "world.hpp"

namespace agentd::e2e {

// A CA, a server certificate for 127.0.0.1 and a client certificate, made
// with openssl in `dir` for one test.
struct TlsFiles {
  std::string ca, server_cert, server_key, client_cert, client_key;
};
TlsFiles make_test_certificates(const std::filesystem::path& dir);

struct EtcdOptions {
  int members = 3;
  // Where clients reach it: 127.0.0.1, or a documentation address on a
  // link of the test's own to other worlds.
  std::string address = "127.0.0.1";
  // https, and a client certificate required (etcd's --client-cert-auth).
  std::optional<TlsFiles> tls;
};

class EtcdCluster {
 public:
  // Starts the members and waits (bounded) until the cluster takes a write.
  explicit EtcdCluster(World& world, EtcdOptions options = {});
  ~EtcdCluster();  // stops the members still running
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // "http(s)://127.0.0.1:P1,...": for --etcd-endpoints.
  std::string endpoints() const;
  // etcdctl against the cluster, in the host ns (a writer other than agentctl).
  ProcessResult etcdctl(std::vector<std::string> args) const;
  // Every member, by pid (etcd unreachable: the cluster is gone).
  void stop_all();
  // The index of the member that leads now, from etcd's own status.
  int leader() const;
  // One member, by pid (two of three keep the quorum).
  void stop_member(int index);

 private:
  World& world_;
  std::vector<pid_t> pids_;
  std::vector<std::string> names_;
  std::vector<int> client_ports_;
  EtcdOptions options_;
};

}  // namespace agentd::e2e
