// The daemon's own state in the store: learned names and adopted cgroups
// (schema version 2; before it, two JSON files beside the store).
#include "agentd/store/store.hpp"

namespace agentd::store {

Status Store::replace_learned_names(const std::vector<LearnedNameRow>& rows) {
  Transaction tx(db_);
  if (auto st = db_.exec("DELETE FROM learned_names"); !st) return st;
  auto insert =
      db_.prepare("INSERT OR REPLACE INTO learned_names (slot, family, address, name) VALUES (?1, ?2, ?3, ?4)");
  if (!insert) return insert.error();
  for (const auto& row : rows)
    if (auto st = insert->bind(1, int64_t{row.slot})
                      .bind(2, int64_t{row.family})
                      .bind(3, row.address)
                      .bind(4, row.name)
                      .run();
        !st)
      return st;
  return tx.commit();
}

Result<std::vector<LearnedNameRow>> Store::learned_names() const {
  auto select = db_.prepare("SELECT slot, family, address, name FROM learned_names ORDER BY slot, family, address");
  if (!select) return select.error();
  std::vector<LearnedNameRow> rows;
  for (;;) {
    auto row = select->step();
    if (!row) return row.error();
    if (!*row) break;
    rows.push_back({static_cast<uint32_t>(select->integer(0)), static_cast<uint32_t>(select->integer(1)),
                    select->text(2), select->text(3)});
  }
  return rows;
}

Status Store::replace_adopted(const std::vector<AdoptedRow>& rows) {
  Transaction tx(db_);
  if (auto st = db_.exec("DELETE FROM adopted_sandboxes"); !st) return st;
  auto insert = db_.prepare("INSERT OR REPLACE INTO adopted_sandboxes (cgroup, agent) VALUES (?1, ?2)");
  if (!insert) return insert.error();
  for (const auto& row : rows)
    if (auto st = insert->bind(1, row.cgroup).bind(2, row.agent).run(); !st) return st;
  return tx.commit();
}

Result<std::vector<AdoptedRow>> Store::adopted() const {
  auto select = db_.prepare("SELECT agent, cgroup FROM adopted_sandboxes ORDER BY cgroup");
  if (!select) return select.error();
  std::vector<AdoptedRow> rows;
  for (;;) {
    auto row = select->step();
    if (!row) return row.error();
    if (!*row) break;
    rows.push_back({select->text(0), select->text(1)});
  }
  return rows;
}

}  // namespace agentd::store
