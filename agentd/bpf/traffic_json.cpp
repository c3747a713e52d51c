#include "agentd/bpf/traffic_json.hpp"

namespace agentd::bpf {

const char* traffic_class_name(unsigned traffic_class) {
  switch (traffic_class) {
    case AGENTD_TRAFFIC_INFERENCE:
      return "inference";
    case AGENTD_TRAFFIC_RULE:
      return "rule";
    case AGENTD_TRAFFIC_NAME:
      return "name";
    default:
      return "other";
  }
}

nlohmann::json traffic_to_json(const agentd_traffic& traffic) {
  auto direction = [](const __u64(&bytes)[AGENTD_TRAFFIC_CLASSES], __u64 packets) {
    nlohmann::json by_class = nlohmann::json::object();
    uint64_t total = 0;
    for (unsigned c = 0; c < AGENTD_TRAFFIC_CLASSES; ++c) {
      by_class[traffic_class_name(c)] = bytes[c];
      total += bytes[c];
    }
    return nlohmann::json{{"bytes", total}, {"packets", packets}, {"by_class", by_class}};
  };
  return {{"sent", direction(traffic.sent_bytes, traffic.sent_packets)},
          {"received", direction(traffic.received_bytes, traffic.received_packets)}};
}

}  // namespace agentd::bpf
