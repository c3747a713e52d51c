// Changing a class in place: the writes that take a class's entries in the
// kernel from one compiled content to another, in an order that switches
// every destination from its old verdict to its new one exactly once.
//
// The kernel judges a destination by the longest prefix that covers it.
// Puts go most specific first: a new /32 lands before the /24 around it
// changes, so an address under it moves straight from the old /24's verdict
// to the new /32's. Deletes go last and least specific first: once every
// put is in, what a deleted entry uncovers is new content, and a deleted
// /24 cannot briefly expose an old /16 to addresses still under a /32
// that is about to go too. No destination ever sees a verdict that
// neither the old nor the new policy gives it; a reload of one rule writes
// one rule's worth of entries, and the trie never holds two copies.
#pragma once

#include <vector>

#include "agentd/policy/compile.hpp"

namespace agentd::policy {

struct ClassUpdate {
  std::vector<const CompiledEntry*> put_entries;     // into `to`, most specific first
  std::vector<const CompiledEntry*> delete_entries;  // from `from`, least specific first
  std::vector<const CompiledName*> put_names;        // likewise for the names trie
  std::vector<const CompiledName*> delete_names;
  size_t size() const { return put_entries.size() + delete_entries.size() + put_names.size() + delete_names.size(); }
};

// Points into `from` and `to`, which must outlive the result.
ClassUpdate plan_class_update(const CompiledClass& from, const CompiledClass& to);

}  // namespace agentd::policy
