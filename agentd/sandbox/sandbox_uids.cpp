#include "agentd/sandbox/sandbox_uids.hpp"

#include <grp.h>
#include <pwd.h>

#include <charconv>
#include <vector>

namespace agentd::sandbox {
namespace {

bool parse_number(std::string_view text, uint32_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<UidRange> parse_uid_range(std::string_view text) {
  const size_t dash = text.find('-');
  UidRange range;
  if (dash == std::string_view::npos || !parse_number(text.substr(0, dash), range.first) ||
      !parse_number(text.substr(dash + 1), range.last))
    return make_error("sandbox uid range \"{}\" is not FIRST-LAST (e.g. 80000-96383)", text);
  if (range.first > range.last) return make_error("sandbox uid range {}: FIRST is above LAST", text);
  if (range.first < 1000)
    return make_error("sandbox uid range {} reaches root and the system users (below 1000)", text);
  if (range.first <= 65535 && range.last >= 65534)
    return make_error("sandbox uid range {} holds nobody (65534) or 65535, which is -1 to 16-bit tools", text);
  if (range.last >= 0x80000000u) return make_error("sandbox uid range {} reaches 2^31: negative to many tools", text);
  return range;
}

bool host_account_exists(uint32_t id) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* user = nullptr;
  group gr{};
  group* grp = nullptr;
  // An error of the lookup itself counts as existing: refuse, never guess.
  if (getpwuid_r(id, &pw, buf.data(), buf.size(), &user) != 0 || user) return true;
  return getgrgid_r(id, &gr, buf.data(), buf.size(), &grp) != 0 || grp;
}

Result<uint32_t> sandbox_uid(const UidRange& range, uint32_t slot, const AccountExists& exists) {
  if (slot == 0) return make_error("slot 0 is never a sandbox");
  const uint64_t uid = uint64_t{range.first} + slot;
  if (uid > range.last)
    return make_error(
        "sandbox slot {} has no uid in the sandbox uid range {} (agentd --sandbox-uids); widen it, "
        "or name a user in the policy",
        slot, range.str());
  if (exists(static_cast<uint32_t>(uid)))
    return make_error(
        "uid {} (sandbox slot {}) belongs to an account of this host: agentd will not run a sandbox "
        "as it; remove the account or move --sandbox-uids",
        uid, slot);
  return static_cast<uint32_t>(uid);
}

}  // namespace agentd::sandbox
