// The store's schema, versioned: SQLite's user_version names the last
// migration applied, and opening a store applies those after it, each in a
// transaction with its version bump, so a crash leaves one version or the
// next, never half of one.
#pragma once

#include <filesystem>

#include "agentd/common/result.hpp"
#include "agentd/store/sqlite.hpp"

namespace agentd::store {

// The version this agentd writes.
int schema_version();

// Brings the database at `file` up to schema_version(). A store written by
// a newer agentd (a higher version) is refused, not opened: this one would
// not keep what it does not know about.
Status migrate(Database& db, const std::filesystem::path& file);

}  // namespace agentd::store
