#include "agentd/policy/class_update.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace agentd::policy {
namespace {

bool same_value(const agentd_rule_value& a, const agentd_rule_value& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// A name's depth in the names trie: the key's prefix length.
uint32_t name_depth(const CompiledName& name) { return make_name_key(0, name.pattern).prefixlen; }

}  // namespace

ClassUpdate plan_class_update(const CompiledClass& from, const CompiledClass& to) {
  ClassUpdate update;
  // Both entry lists are sorted by (family, address, prefix): one merge walk.
  auto key = [](const CompiledEntry& e) { return std::tie(e.family, e.addr, e.prefix); };
  size_t i = 0, j = 0;
  while (i < from.entries.size() || j < to.entries.size()) {
    if (j == to.entries.size() || (i < from.entries.size() && key(from.entries[i]) < key(to.entries[j]))) {
      update.delete_entries.push_back(&from.entries[i++]);
    } else if (i == from.entries.size() || key(to.entries[j]) < key(from.entries[i])) {
      update.put_entries.push_back(&to.entries[j++]);
    } else {
      if (!same_value(from.entries[i].value, to.entries[j].value)) update.put_entries.push_back(&to.entries[j]);
      ++i;
      ++j;
    }
  }
  std::stable_sort(update.put_entries.begin(), update.put_entries.end(),
                   [](const CompiledEntry* a, const CompiledEntry* b) { return a->prefix > b->prefix; });
  std::stable_sort(update.delete_entries.begin(), update.delete_entries.end(),
                   [](const CompiledEntry* a, const CompiledEntry* b) { return a->prefix < b->prefix; });

  // Names by pattern (sorted here: patterns() promises no order).
  auto by_pattern = [](const std::vector<CompiledName>& names) {
    std::vector<const CompiledName*> sorted;
    sorted.reserve(names.size());
    for (const auto& n : names) sorted.push_back(&n);
    std::sort(sorted.begin(), sorted.end(),
              [](const CompiledName* a, const CompiledName* b) { return a->pattern < b->pattern; });
    return sorted;
  };
  const auto old_names = by_pattern(from.names), new_names = by_pattern(to.names);
  i = j = 0;
  while (i < old_names.size() || j < new_names.size()) {
    if (j == new_names.size() || (i < old_names.size() && old_names[i]->pattern < new_names[j]->pattern)) {
      update.delete_names.push_back(old_names[i++]);
    } else if (i == old_names.size() || new_names[j]->pattern < old_names[i]->pattern) {
      update.put_names.push_back(new_names[j++]);
    } else {
      if (!same_value(old_names[i]->value, new_names[j]->value)) update.put_names.push_back(new_names[j]);
      ++i;
      ++j;
    }
  }
  std::stable_sort(update.put_names.begin(), update.put_names.end(),
                   [](const CompiledName* a, const CompiledName* b) { return name_depth(*a) > name_depth(*b); });
  std::stable_sort(update.delete_names.begin(), update.delete_names.end(),
                   [](const CompiledName* a, const CompiledName* b) { return name_depth(*a) < name_depth(*b); });
  return update;
}

}  // namespace agentd::policy
