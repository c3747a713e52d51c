#include "agentd/policy/model.hpp"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace agentd::policy {

std::string SourcePos::str() const {
  // A problem with the file as a whole (unreadable) has no line to name.
  if (line == 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string Diagnostic::str() const { return fmt::format("{}: {}", pos.str(), message); }

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name[0])) return false;
  for (char c : name)
    if (!lower_or_digit(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::string AgentName::str() const { return fmt::format("{}/{}/{}", tenant, team, agent); }

Result<AgentName> parse_agent_name(std::string_view text) {
  AgentName name;
  std::string* parts[] = {&name.tenant, &name.team, &name.agent};
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t slash = text.find('/', start);
    if ((i < 2) != (slash != std::string_view::npos)) return make_error("agent \"{}\" is not TENANT/TEAM/AGENT", text);
    *parts[i] = std::string(text.substr(start, (i < 2 ? slash : text.size()) - start));
    if (!is_valid_name(*parts[i]))
      return make_error("agent \"{}\": \"{}\" is not a valid name ([a-z0-9][a-z0-9_.-]*, at most 63)", text, *parts[i]);
    start = slash + 1;
  }
  return name;
}

std::string Cidr::str() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AGENTD_FAMILY_IPV4 ? AF_INET : AF_INET6, addr.data(), text, sizeof(text));
  return fmt::format("{}/{}", text, prefix);
}

std::array<uint8_t, 16> masked_address(const std::array<uint8_t, 16>& addr, unsigned prefix) {
  std::array<uint8_t, 16> out{};
  for (unsigned i = 0; i < 16; ++i) {
    if (prefix >= 8 * (i + 1)) {
      out[i] = addr[i];
    } else if (prefix > 8 * i) {
      out[i] = static_cast<uint8_t>(addr[i] & (0xff << (8 - (prefix - 8 * i))));
    }
  }
  return out;
}

bool Cidr::contains(const Cidr& other) const {
  return family == other.family && prefix <= other.prefix && masked_address(other.addr, prefix) == addr;
}

Result<Cidr> parse_cidr(std::string_view text) {
  std::string address(text);
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = std::string(text.substr(0, slash));
    auto digits = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
      return make_error("\"{}\": the prefix length after / is not a number", text);
    prefix = value;
  }
  Cidr cidr;
  in6_addr v6{};
  if (inet_pton(AF_INET, address.c_str(), cidr.addr.data()) == 1) {
    cidr.family = AGENTD_FAMILY_IPV4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6.s6_addr, mapped_prefix, 12) == 0 && (!prefix || *prefix >= 96)) {
      // ::ffff:a.b.c.d/N is the IPv4 network a.b.c.d/(N-96): judged as IPv4.
      cidr.family = AGENTD_FAMILY_IPV4;
      std::memcpy(cidr.addr.data(), v6.s6_addr + 12, 4);
      if (prefix) *prefix -= 96;
    } else {
      cidr.family = AGENTD_FAMILY_IPV6;
      std::memcpy(cidr.addr.data(), v6.s6_addr, 16);
    }
  } else {
    return make_error("\"{}\" is not an IPv4 or IPv6 address or CIDR", text);
  }
  if (prefix && *prefix > cidr.max_prefix())
    return make_error("\"{}\": prefix length {} is longer than {}", text, *prefix, cidr.max_prefix());
  cidr.prefix = static_cast<uint8_t>(prefix.value_or(cidr.max_prefix()));
  if (auto network = masked_address(cidr.addr, cidr.prefix); network != cidr.addr) {
    Cidr hint = cidr;
    hint.addr = network;
    return make_error("\"{}\" has host bits set; did you mean {}?", text, hint.str());
  }
  return cidr;
}

std::string Endpoint::target() const {
  if (inbound) return "inbound from cidr " + cidr.str();
  return is_host() ? "host " + host : "cidr " + cidr.str();
}

std::string Endpoint::describe() const {
  if (preset)
    return fmt::format("{} {} (preset {}: {}, {})", pos.str(), path, preset->name, target(), preset->pos.str());
  return fmt::format("{} {} ({})", pos.str(), path, target());
}

bool Selector::matches(const AgentName& agent) const {
  // fnmatch(3): the shell's glob rules, per component (no '/' in names).
  return agent.tenant == tenant && fnmatch(team_glob.c_str(), agent.team.c_str(), 0) == 0 &&
         fnmatch(agent_glob.c_str(), agent.agent.c_str(), 0) == 0;
}

const TenantPolicy* PolicySet::find(std::string_view tenant) const {
  for (const auto& t : tenants_)
    if (t.tenant == tenant) return &t;
  return nullptr;
}

size_t PolicySet::rule_count() const {
  size_t n = 0;
  for (const auto& t : tenants_) n += t.rules.size();
  return n;
}

uint32_t PolicySet::add_endpoint(Endpoint endpoint) {
  endpoint.id = static_cast<uint32_t>(endpoints_.size());
  endpoints_.push_back(std::move(endpoint));
  return endpoints_.back().id;
}

std::optional<uint8_t> parse_verify(std::string_view text) {
  if (text == "name") return uint8_t{AGENTD_VERIFY_NAME};
  if (text == "strict") return uint8_t{AGENTD_VERIFY_STRICT};
  if (text == "lenient") return uint8_t{AGENTD_VERIFY_LENIENT};
  if (text == "off") return uint8_t{AGENTD_VERIFY_OFF};
  return std::nullopt;
}

std::string_view verify_name(uint8_t verify) {
  switch (verify) {
    case AGENTD_VERIFY_NAME:
      return "name";
    case AGENTD_VERIFY_STRICT:
      return "strict";
    case AGENTD_VERIFY_LENIENT:
      return "lenient";
    default:
      return "off";
  }
}

}  // namespace agentd::policy
