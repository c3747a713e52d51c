// agentd's metrics in the Prometheus text exposition format (version
// 0.0.4), rendered from the same document `agentctl status -o json` shows,
// so the two never disagree. Pure: JSON in, text out.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "agentd/metrics/histogram.hpp"

namespace agentd::metrics {

// Per-sandbox series for at most this many sandboxes (by slot); the others
// are summed into one series labelled tenant="_other", team="_other",
// agent="_other", so a host with many sandboxes cannot flood the scraper.
inline constexpr size_t kDefaultSandboxSeries = 500;

std::string render(const nlohmann::json& status, const ReloadMetrics& reloads, size_t max_sandbox_series);

// A label value as the format wants it: backslash, double quote and
// newline escaped, and bytes that are not UTF-8 replaced.
std::string escape_label_value(const std::string& value);

}  // namespace agentd::metrics
