// Audit events to syslog (agentd/daemon/audit_syslog.hpp): the datagram
// syslog(3) would send, severities from OCSF, and a sink that never waits
// for its receiver, against a real Unix datagram socket. No root.
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <filesystem>
#include <string>

#include "agentd/common/unique_fd.hpp"
#include "agentd/daemon/audit_syslog.hpp"

using agentd::daemon::AuditSyslog;
using nlohmann::json;

namespace {

// A syslog daemon's socket, bound in a directory of its own.
struct Receiver {
  std::filesystem::path dir, path;
  agentd::UniqueFd fd;
  Receiver() {
    char pattern[] = "/tmp/agentd-syslog-XXXXXX";
    REQUIRE(::mkdtemp(pattern));
    dir = pattern;
    path = dir / "log";
    fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~Receiver() {
    fd.reset();
    std::filesystem::remove_all(dir);
  }
  std::string next() {
    std::array<char, 65536> buffer{};
    const ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    return n < 0 ? std::string() : std::string(buffer.data(), static_cast<size_t>(n));
  }
};

}  // namespace

TEST_CASE("syslog facilities are read by their syslog.conf names, and an unknown one is refused naming them") {
  CHECK(*agentd::daemon::syslog_facility("authpriv") == LOG_AUTHPRIV);
  CHECK(*agentd::daemon::syslog_facility("local3") == LOG_LOCAL3);
  auto wrong = agentd::daemon::syslog_facility("kern");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().describe().find("\"kern\"") != std::string::npos);
  CHECK(wrong.error().describe().find("local7") != std::string::npos);
}

TEST_CASE("an OCSF event's severity is its syslog level, and a datagram reads as syslog(3) writes it") {
  CHECK(agentd::daemon::ocsf_syslog_level({{"severity_id", 1}}) == LOG_INFO);
  CHECK(agentd::daemon::ocsf_syslog_level({{"severity_id", 3}}) == LOG_WARNING);
  CHECK(agentd::daemon::ocsf_syslog_level({{"severity_id", "3"}}) == LOG_NOTICE);
  CHECK(agentd::daemon::ocsf_syslog_level(json::object()) == LOG_NOTICE);
  // 2026-03-05 07:08:09 local time: the day padded with a space.
  std::tm when{};
  when.tm_year = 126;
  when.tm_mon = 2;
  when.tm_mday = 5;
  when.tm_hour = 7;
  when.tm_min = 8;
  when.tm_sec = 9;
  when.tm_isdst = -1;
  const std::string datagram =
      agentd::daemon::syslog_datagram(LOG_AUTHPRIV, LOG_WARNING, std::mktime(&when), 42, R"({"a":1})");
  CHECK(datagram == "<84>Mar  5 07:08:09 agentd-audit[42]: {\"a\":1}");
}

TEST_CASE("the audit sink sends each event as one datagram and never waits for a receiver that is full or gone") {
  Receiver receiver;
  AuditSyslog sink(LOG_LOCAL0, receiver.path);
  sink.write({{"class_uid", 4001}, {"severity_id", 3}, {"message", "a denial"}});
  const std::string got = receiver.next();
  INFO(got);
  CHECK(got.rfind("<" + std::to_string(LOG_LOCAL0 | LOG_WARNING) + ">", 0) == 0);
  CHECK(got.find(" agentd-audit[" + std::to_string(::getpid()) + "]: {") != std::string::npos);
  CHECK(json::parse(got.substr(got.find("]: ") + 3))["message"] == "a denial");
  CHECK(sink.sent() == 1);
  CHECK(sink.dropped() == 0);

  // Nobody reads: the receiver's queue fills, then every write returns at
  // once, dropped and counted.
  const json big = {{"severity_id", 1}, {"message", std::string(4000, 'x')}};
  for (int i = 0; i < 5000 && sink.dropped() == 0; ++i) sink.write(big);
  CHECK(sink.dropped() >= 1);
  const uint64_t sent = sink.sent();
  sink.write(big);
  CHECK(sink.sent() == sent);

  // A receiver gone: dropped, not an error for agentd.
  receiver.fd.reset();
  std::filesystem::remove(receiver.path);
  const uint64_t dropped = sink.dropped();
  sink.write(big);
  sink.write(big);
  CHECK(sink.dropped() == dropped + 2);
}
