#include "agentd/events/denial_reason.hpp"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace agentd::events {
namespace {

constexpr std::array<std::pair<DenialHook, std::string_view>, 12> kHooks{{
    {DenialHook::connect4, "connect4"},
    {DenialHook::connect6, "connect6"},
    {DenialHook::sendmsg4, "sendmsg4"},
    {DenialHook::sendmsg6, "sendmsg6"},
    {DenialHook::sock_create, "sock_create"},
    {DenialHook::bind4, "bind4"},
    {DenialHook::bind6, "bind6"},
    {DenialHook::setsockopt, "setsockopt"},
    {DenialHook::packet_egress, "packet_egress"},
    {DenialHook::packet_ingress, "packet_ingress"},
    {DenialHook::name_check, "name_check"},
    {DenialHook::dns, "dns"},
}};

constexpr std::array<std::pair<DenialReason, std::string_view>, 25> kReasons{{
    {DenialReason::no_rule, "no_rule"},
    {DenialReason::deny_rule, "deny_rule"},
    {DenialReason::unknown_cgroup, "unknown_cgroup"},
    {DenialReason::socket_type, "socket_type"},
    {DenialReason::dns_expired, "dns_expired"},
    {DenialReason::dns_unsupported, "dns_unsupported"},
    {DenialReason::proxy_spoof, "proxy_spoof"},
    {DenialReason::route_option, "route_option"},
    {DenialReason::route_header, "route_header"},
    {DenialReason::name_not_allowed, "name_not_allowed"},
    {DenialReason::name_denied, "name_denied"},
    {DenialReason::no_name, "no_name"},
    {DenialReason::ech, "ech"},
    {DenialReason::unparsable, "unparsable"},
    {DenialReason::nameless, "nameless"},
    {DenialReason::unverified_data, "unverified_data"},
    {DenialReason::quic, "quic"},
    {DenialReason::dns_netns, "dns_netns"},
    {DenialReason::host_address, "host_address"},
    {DenialReason::foreign_source, "foreign_source"},
    {DenialReason::query_type, "query_type"},
    {DenialReason::no_upstream, "no_upstream"},
    {DenialReason::unlearnable, "unlearnable"},
    {DenialReason::rebinding, "rebinding"},
    {DenialReason::learned_quota, "learned_quota"},
}};

template <typename Enum, size_t N>
std::string name_of(Enum value, const std::array<std::pair<Enum, std::string_view>, N>& names,
                    std::string_view unnamed_prefix) {
  for (const auto& [v, name] : names)
    if (v == value) return std::string(name);
  return fmt::format("{}{}", unnamed_prefix, static_cast<unsigned>(value));
}

// A name, or the prefix and a code no name has (what name_of writes for
// one); "reason1" is not no_rule: a named code has one spelling.
template <typename Enum, size_t N>
std::optional<Enum> parse(std::string_view text, const std::array<std::pair<Enum, std::string_view>, N>& names,
                          std::string_view unnamed_prefix) {
  for (const auto& [v, name] : names)
    if (name == text) return v;
  if (!text.starts_with(unnamed_prefix)) return std::nullopt;
  const std::string_view digits = text.substr(unnamed_prefix.size());
  unsigned code = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || code > 0xff ||
      digits != std::to_string(code))
    return std::nullopt;
  const auto value = static_cast<Enum>(code);
  for (const auto& [v, name] : names)
    if (v == value) return std::nullopt;
  return value;
}

}  // namespace

std::string to_string(DenialHook hook) { return name_of(hook, kHooks, "hook"); }
std::string to_string(DenialReason reason) { return name_of(reason, kReasons, "reason"); }
std::optional<DenialHook> parse_hook(std::string_view text) { return parse(text, kHooks, "hook"); }
std::optional<DenialReason> parse_reason(std::string_view text) { return parse(text, kReasons, "reason"); }

}  // namespace agentd::events
