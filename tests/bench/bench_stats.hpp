// What the benchmarks share: medians and percentiles of their samples, and
// the ns-per-op figure that netprobe and sysprobe `bench` print as their
// last line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.hpp"

namespace agentd::bench {

// The sample at fraction p of the sorted samples (1: the largest); 0 when
// there is none.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

inline double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

// A field of /proc/PID/status in kB ("VmRSS:", "VmHWM:"); -1 when absent.
inline long status_kb(int pid, const char* field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + std::string(field).size(), nullptr, 10);
  return -1;
}

// A process's resident set in kB (VmRSS); 0 when it cannot be read.
inline uint64_t rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// The probe's last line, {"ok":true,"ns_per_op":...}; a failed run ends
// the benchmark with the probe's output (a figure from it would be wrong).
inline double ns_per_op(const e2e::ProcessResult& r) {
  auto end = r.out.find_last_not_of('\n');
  auto start = r.out.rfind('\n', end);
  auto line = nlohmann::json::parse(r.out.substr(start == std::string::npos ? 0 : start + 1), nullptr, false);
  if (!line.is_object() || !line.value("ok", false)) {
    std::fprintf(stderr, "bench run failed:\n%s\n", r.describe().c_str());
    std::exit(1);
  }
  return line["ns_per_op"].get<double>();
}

// dnsperf -v prints one line per answer ("> NOERROR api.example.test A
// 0.000123"); lost queries print "[Timeout]" and count as the timeout.
inline std::vector<double> dnsperf_latencies_us(const e2e::ProcessResult& result, uint64_t& lost) {
  std::vector<double> out;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("> ", 0) == 0) {
      out.push_back(std::strtod(line.c_str() + line.find_last_of(' ') + 1, nullptr) * 1e6);
    } else if (auto at = line.find("Queries lost:"); at != std::string::npos) {
      lost += std::strtoull(line.c_str() + at + 13, nullptr, 10);
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "dnsperf run failed:\n%s\n", result.describe().c_str());
    std::exit(1);
  }
  return out;
}

}  // namespace agentd::bench
