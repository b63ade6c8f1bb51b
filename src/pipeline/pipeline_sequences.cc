// Pipeline: MariaDB sequences. A selected sequence's CREATE, ALTER and
// DROP SEQUENCE and its state (the row NEXTVAL and SETVAL write, a change of
// a TargetTable::sequence table) reach the targets that have sequences (a
// MariaDB server), under the rule's `to:` name, so a switch-over finds
// every sequence ahead of the values already used. Other targets leave
// them out, naming each sequence once.

#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/mysql/table_reader.h"
#include "pipeline/pipeline_target.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

bool Pipeline::TakesSequences(const Target& t) const { return t.sink->takes_sequences() && cfg_.peer.empty(); }

void Pipeline::NoteSequenceLeftOut(Target& t, const std::string& sequence) {
  if (!t.sequences_left_out.insert(sequence).second) return;
  // Two-way: each side's sequences give their own values (and a state
  // written to one side would come back from it as a change of its own).
  std::string why = cfg_.peer.empty()
                        ? fmt::format("target {} has no sequences (only MariaDB targets have)", t.cfg->name)
                        : fmt::format("the pipeline is one of a two-way pair (peer: {})", cfg_.peer);
  std::string message = fmt::format(
      "`{}` is a SEQUENCE and {}: its CREATE/ALTER/DROP SEQUENCE and the values NEXTVAL and SETVAL write are left "
      "out on target {}",
      sequence, why, t.cfg->name);
  spdlog::warn("pipeline {}: {}", cfg_.name, message);
  std::lock_guard lock(mu_);
  NoteEvent(t.cfg->name, "warning", message);
}

void Pipeline::LeaveOutSequences(Target& t, std::vector<SinkChange>& batch, size_t from) {
  auto first = batch.begin() + static_cast<ptrdiff_t>(from);
  for (auto it = first; it != batch.end(); ++it) {
    if (it->table->sequence) NoteSequenceLeftOut(t, it->table->source);
  }
  batch.erase(std::remove_if(first, batch.end(), [](const SinkChange& c) { return c.table->sequence; }),
              batch.end());
}

Status Pipeline::HandleSequenceDdl(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                                   const sink::BatchEnd& end) {
  using K = mysql::DdlStatement::Kind;
  auto skip = [&]() { return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end); };
  // The selected sequences the statement names, and their names on the target.
  struct Named {
    std::string source, dest_db, dest_table;
  };
  std::vector<Named> named;
  const transform::MappingRule* rule = nullptr;
  for (const auto& [db, name] : d.tables) {
    const transform::MappingRule* r = mapper_->RuleFor(db, name);
    if (r == nullptr || r->ddl == transform::DdlPolicy::kIgnore) continue;
    if (rule == nullptr) rule = r;
    std::string dest = r->to.empty() ? db + "." + name : transform::TableMapper::ExpandTemplate(r->to, db, name);
    size_t dot = dest.find('.');
    if (dot == std::string::npos) continue;  // the mapper names the bad `to:` at the sequence's first row
    named.push_back({db + "." + name, dest.substr(0, dot), dest.substr(dot + 1)});
  }
  if (named.empty()) return skip();
  std::string where = fmt::format("DDL on sequence `{}` @ {}", named.front().source, w.pos.ToString());
  if (rule->ddl == transform::DdlPolicy::kStop) {
    return Status::Error(StatusCode::kNotSupported, "{}: stopped as configured (ddl: stop): {}", where,
                         w.ddl_query.substr(0, 300));
  }
  if (!TakesSequences(t)) {
    for (const Named& n : named) NoteSequenceLeftOut(t, n.source);
    return skip();
  }
  if (d.kind == K::kDropSequence) {
    // Replayed after a crash, the sequence may be gone already.
    for (size_t i = 0; i < named.size(); ++i) {
      sink::BatchEnd part = end;
      if (i + 1 < named.size()) part.pos.index = i;
      sink::DdlChange c;
      c.query = fmt::format("DROP SEQUENCE IF EXISTS {}.{}", mysql::QuoteIdent(named[i].dest_db),
                            mysql::QuoteIdent(named[i].dest_table));
      c.target_db = named[i].dest_db;
      c.target_table = named[i].dest_table;
      RETURN_IF_ERROR(t.sink->ApplyDdl(c, part).WithContext(where));
    }
    return Status::Ok();
  }
  const Named& n = named.front();
  if (d.kind == K::kCreateSequence && !d.or_replace) {
    // Made by the user (or by this statement before a crash).
    ASSIGN_OR_RETURN(auto existing, t.sink->TargetColumns(n.dest_db, n.dest_table));
    if (!existing.empty()) {
      spdlog::info("pipeline {} target {}: `{}.{}` already exists; CREATE SEQUENCE skipped", cfg_.name, t.cfg->name,
                   n.dest_db, n.dest_table);
      return skip();
    }
  }
  sink::DdlChange c;
  c.query = mysql::WithAlteredTableNamed(w.ddl_query, d, n.dest_db, n.dest_table);
  c.target_db = n.dest_db;
  c.target_table = n.dest_table;
  ASSIGN_OR_RETURN(c.session, TargetDdlSession(w, &t.interrupt));
  return t.sink->ApplyDdl(c, end).WithContext(where);
}

}  // namespace sluice::pipeline
