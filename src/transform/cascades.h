#pragma once
// Cascades: a MySQL/MariaDB source's foreign key actions (core/cascade.h)
// in target terms, under a pipeline's rules. Planned at start from the
// source's keys; then, for each row event of a parent table, Append makes
// the kCascade changes that let SQL targets redo what the server did to the
// child rows without logging it.
//
// A key is followed when a rule selects its child table with every key
// column (renamed as the rule says) and without a Lua script; a parent
// table needs no rule. Rows a cascade deletes carry on to the keys
// referencing them (CascadeEdge::next) when the child's rule keeps the
// referenced columns. Keys changed by ON UPDATE or SET NULL are not carried
// on further, nor moved into or out of a `where:` filter (notes say so
// where a key would need it).
//
// Threading: Plan on any thread; Append on the transform thread only (it
// caches per schema version). The edges are immutable once planned and
// shared with the sinks through the kCascade changes' tables.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/cascade.h"
#include "core/change_event.h"
#include "core/sink_change.h"
#include "transform/table_mapper.h"

namespace sluice::transform {

class Cascades : public std::enable_shared_from_this<Cascades> {
 public:
  using RuleFor = std::function<const MappingRule*(std::string_view db, std::string_view table)>;
  // `notes` gets one line per key with an action that the targets cannot
  // follow, or follow only in part, saying why.
  static std::shared_ptr<Cascades> Plan(const std::vector<ForeignKey>& keys, const RuleFor& rule_for,
                                        std::vector<std::string>& notes);
  // The keys followed, one line each: "shop.items.fk_order (ON DELETE CASCADE) on shop.items".
  const std::vector<std::string>& followed() const { return followed_; }
  bool empty() const { return roots_.empty(); }
  // Appends the kCascade changes of a row event of a parent table: none for
  // inserts, for statements the source ran with foreign_key_checks=0, for
  // keys holding a NULL, or for updates that keep the referenced values.
  void Append(const std::shared_ptr<const ChangeEvent>& ev, std::vector<SinkChange>& out);

 private:
  // A key out of a source parent table.
  struct Root {
    const CascadeEdge* edge;
    std::vector<std::string> parent_columns;  // source names of the referenced columns
    std::string child_source;                 // "db.table" of the child on the source
  };
  // A schema version's roots with the synthetic tables of their changes
  // (null: a referenced column is not in this version).
  struct Resolved {
    TableSchemaPtr pin;  // keeps the key's address from being reused
    std::vector<TargetTablePtr> tables;
  };
  const Resolved& Resolve(const TableSchemaPtr& schema);

  std::vector<std::unique_ptr<CascadeEdge>> edges_;
  std::unordered_map<std::string, std::vector<Root>> roots_;  // by the parent's source "db.table"
  std::vector<std::string> followed_;
  std::unordered_map<const TableSchema*, Resolved> cache_;
};

}  // namespace sluice::transform
