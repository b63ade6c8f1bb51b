#include "client/mysql/ddl_statement.h"

#include <cctype>

namespace sluice::mysql {
namespace {

// A small tokenizer for MySQL DDL: identifiers (bare or `quoted`), strings,
// numbers and punctuation; comments are skipped.
struct Token {
  enum class Type : uint8_t { kWord, kQuotedIdent, kString, kPunct, kEnd } type = Type::kEnd;
  std::string text;
  size_t begin = 0, end = 0;  // where it is in the statement
};

class Lexer {
 public:
  Lexer(std::string_view s, DdlQuoting quoting) : s_(s), quoting_(quoting) {}
  Token Next() {
    SkipSpaceAndComments();
    Token t = Read();
    t.end = i_;
    return t;
  }

 private:
  Token Read() {
    Token t;
    t.begin = i_;
    if (i_ >= s_.size()) return t;
    char c = s_[i_];
    if (c == '`' || (c == '"' && quoting_.ansi_quotes)) {
      t.type = Token::Type::kQuotedIdent;
      ++i_;
      while (i_ < s_.size()) {
        if (s_[i_] == c) {
          if (i_ + 1 < s_.size() && s_[i_ + 1] == c) {
            t.text += c;
            i_ += 2;
            continue;
          }
          ++i_;
          break;
        }
        t.text += s_[i_++];
      }
      return t;
    }
    if (c == '\'' || c == '"') {
      t.type = Token::Type::kString;
      ++i_;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && !quoting_.no_backslash_escapes && i_ + 1 < s_.size()) ++i_;
        t.text += s_[i_++];
      }
      ++i_;
      return t;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80) {
      t.type = Token::Type::kWord;
      while (i_ < s_.size()) {
        unsigned char d = static_cast<unsigned char>(s_[i_]);
        if (!(std::isalnum(d) || d == '_' || d == '$' || d >= 0x80)) break;
        t.text += s_[i_++];
      }
      return t;
    }
    t.type = Token::Type::kPunct;
    t.text = std::string(1, c);
    ++i_;
    return t;
  }

 private:
  void SkipSpaceAndComments() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_.compare(i_, 2, "/*") == 0 && s_.compare(i_, 3, "/*!") != 0) {
        size_t end = s_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else if (s_.compare(i_, 3, "/*!") == 0) {
        // Versioned comment: its content is part of the statement.
        i_ += 3;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      } else if (s_.compare(i_, 2, "*/") == 0) {
        i_ += 2;
      } else if (s_[i_] == '#' || s_.compare(i_, 3, "-- ") == 0) {
        size_t end = s_.find('\n', i_);
        i_ = end == std::string_view::npos ? s_.size() : end + 1;
      } else {
        break;
      }
    }
  }
  std::string_view s_;
  DdlQuoting quoting_;
  size_t i_ = 0;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class Parser {
 public:
  Parser(std::string_view q, std::string_view current_db, DdlQuoting quoting)
      : lex_(q, quoting), current_db_(current_db) {
    Advance();
  }

  DdlStatement Parse() {
    DdlStatement d;
    first_word_ = Upper(tok_.text);
    if (Is("CREATE")) {
      Advance();
      d.or_replace = Is("OR");
      SkipWords({"OR", "REPLACE", "TEMPORARY", "ONLINE", "OFFLINE", "UNIQUE", "FULLTEXT", "SPATIAL"});
      if (Is("DATABASE") || Is("SCHEMA")) {
        Advance();
        d.kind = DdlStatement::Kind::kCreateDatabase;
        d.if_not_exists = SkipIfNotExists();
        d.db = Ident();
      } else if (Is("TABLE")) {
        Advance();
        d.kind = DdlStatement::Kind::kCreateTable;
        d.if_not_exists = SkipIfNotExists();
        QualifiedName(d.db, d.table);
        ParseCreateBody(d);
      } else if (Is("SEQUENCE")) {
        Advance();
        d.kind = DdlStatement::Kind::kCreateSequence;
        d.if_not_exists = SkipIfNotExists();
        NameWithPlace(d);
      } else if (Is("INDEX")) {
        Advance();
        d.kind = DdlStatement::Kind::kCreateIndex;
        SkipIfNotExists();
        Ident();
        if (Is("ON")) {
          Advance();
          QualifiedName(d.db, d.table);
        }
      }
    } else if (Is("DROP")) {
      Advance();
      SkipWords({"TEMPORARY"});
      if (Is("DATABASE") || Is("SCHEMA")) {
        Advance();
        d.kind = DdlStatement::Kind::kDropDatabase;
        SkipIfExists();
        d.db = Ident();
      } else if (Is("TABLE")) {
        Advance();
        d.kind = DdlStatement::Kind::kDropTable;
        SkipIfExists();
        NameList(d);
      } else if (Is("SEQUENCE")) {
        Advance();
        d.kind = DdlStatement::Kind::kDropSequence;
        SkipIfExists();
        NameList(d);
      } else if (Is("INDEX")) {
        Advance();
        d.kind = DdlStatement::Kind::kDropIndex;
        SkipIfExists();
        Ident();
        if (Is("ON")) {
          Advance();
          QualifiedName(d.db, d.table);
        }
      }
    } else if (Is("ALTER")) {
      Advance();
      SkipWords({"ONLINE", "OFFLINE", "IGNORE"});
      if (Is("TABLE")) {
        Advance();
        d.kind = DdlStatement::Kind::kAlterTable;
        SkipIfExists();
        NameWithPlace(d);
        ParseAlterBody(d);
      } else if (Is("SEQUENCE")) {
        Advance();
        d.kind = DdlStatement::Kind::kAlterSequence;
        SkipIfExists();
        NameWithPlace(d);
      }
    } else if (Is("TRUNCATE")) {
      Advance();
      if (Is("TABLE")) Advance();
      d.kind = DdlStatement::Kind::kTruncateTable;
      QualifiedName(d.db, d.table);
    } else if (Is("RENAME")) {
      Advance();
      if (Is("TABLE") || Is("TABLES")) {
        Advance();
        d.kind = DdlStatement::Kind::kRenameTable;
        QualifiedName(d.db, d.table);
        SkipWait();
        if (Is("TO")) {
          Advance();
          QualifiedName(d.new_db, d.new_table);
        }
        d.tables.emplace_back(d.db, d.table);
        d.renames.push_back({d.db, d.table, d.new_db, d.new_table});
        while (tok_.type == Token::Type::kPunct && tok_.text == ",") {
          Advance();
          std::string db, table, ndb, ntable;
          QualifiedName(db, table);
          SkipWait();
          d.tables.emplace_back(db, table);
          if (Is("TO")) {
            Advance();
            QualifiedName(ndb, ntable);
          }
          d.renames.push_back({db, table, ndb, ntable});
        }
      }
    }
    if (d.tables.empty() && !d.table.empty()) d.tables.emplace_back(d.db, d.table);
    if (d.kind == DdlStatement::Kind::kOther) d.changes_no_table = ChangesNoTable();
    return d;
  }

 private:
  // After a kOther statement's first words were read: whether it is one of
  // those that change no table (DdlStatement::changes_no_table).
  bool ChangesNoTable() {
    static const char* kStatements[] = {"GRANT", "REVOKE", "FLUSH", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK",
                                        "SET"};
    for (const char* w : kStatements) {
      if (first_word_ == w) return true;
    }
    if (first_word_ != "CREATE" && first_word_ != "DROP" && first_word_ != "ALTER" && first_word_ != "RENAME") {
      return false;
    }
    // CREATE [OR REPLACE] [ALGORITHM=...] [DEFINER=...] [SQL SECURITY ...] VIEW|TRIGGER|...: the
    // object's kind comes before any parenthesis or body.
    static const char* kObjects[] = {"USER", "ROLE", "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"};
    for (int i = 0; i < 12 && tok_.type != Token::Type::kEnd && !IsPunct('('); ++i) {
      if (Is("TABLE") || Is("DATABASE") || Is("SCHEMA") || Is("INDEX")) return false;
      for (const char* w : kObjects) {
        if (Is(w)) return true;
      }
      Advance();
    }
    return false;
  }

  void Advance() {
    prev_end_ = tok_.end;
    tok_ = lex_.Next();
  }
  bool Is(std::string_view word) const { return tok_.type == Token::Type::kWord && Upper(tok_.text) == word; }
  bool IsPunct(char c) const { return tok_.type == Token::Type::kPunct && tok_.text.size() == 1 && tok_.text[0] == c; }
  void SkipWords(std::initializer_list<std::string_view> words) {
    bool again = true;
    while (again) {
      again = false;
      for (auto w : words) {
        if (Is(w)) {
          Advance();
          again = true;
        }
      }
      // ALGORITHM=..., DEFINER=... in CREATE OR REPLACE ... VIEW are not tables.
    }
  }
  // MariaDB: RENAME TABLE t [WAIT n | NOWAIT] TO u.
  void SkipWait() {
    if (Is("NOWAIT")) Advance();
    if (Is("WAIT")) {
      Advance();
      Advance();
    }
  }
  bool SkipIfNotExists() {
    if (!Is("IF")) return false;
    Advance();
    if (Is("NOT")) Advance();
    if (Is("EXISTS")) Advance();
    return true;
  }
  void SkipIfExists() {
    if (!Is("IF")) return;
    Advance();
    if (Is("EXISTS")) Advance();
  }
  std::string Ident() {
    if (tok_.type != Token::Type::kWord && tok_.type != Token::Type::kQuotedIdent) return {};
    std::string s = tok_.text;
    Advance();
    return s;
  }
  void QualifiedName(std::string& db, std::string& table) {
    std::string first = Ident();
    if (IsPunct('.')) {
      Advance();
      db = first;
      table = Ident();
    } else {
      db = std::string(current_db_);
      table = first;
    }
  }
  // The statement's object name, and where it is (to be replaced).
  void NameWithPlace(DdlStatement& d) {
    d.name_begin = tok_.begin;
    QualifiedName(d.db, d.table);
    d.name_end = prev_end_;
  }
  void NameList(DdlStatement& d) {
    QualifiedName(d.db, d.table);
    d.tables.emplace_back(d.db, d.table);
    while (IsPunct(',')) {
      Advance();
      std::string db, table;
      QualifiedName(db, table);
      d.tables.emplace_back(db, table);
    }
  }
  // Skips a balanced parenthesised group starting at '('.
  void SkipParens() {
    int depth = 0;
    do {
      if (IsPunct('(')) ++depth;
      if (IsPunct(')')) --depth;
      Advance();
    } while (depth > 0 && tok_.type != Token::Type::kEnd);
  }
  bool IsConstraintStart() const {
    static const char* kWords[] = {"PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN",
                                   "FULLTEXT", "SPATIAL", "CHECK", "PERIOD"};
    if (tok_.type != Token::Type::kWord) return false;
    for (const char* w : kWords) {
      if (Upper(tok_.text) == w) return true;
    }
    return false;
  }
  void ParseCreateBody(DdlStatement& d) {
    if (Is("LIKE") || Is("AS") || Is("SELECT")) {
      d.create_like = true;
      return;
    }
    if (!IsPunct('(')) {
      d.create_like = true;  // CREATE TABLE t SELECT ...
      return;
    }
    Advance();
    while (tok_.type != Token::Type::kEnd && !IsPunct(')')) {
      if (!IsConstraintStart()) {
        std::string name = Ident();
        if (!name.empty()) d.columns.push_back(name);
      }
      // Skip to the next top-level comma.
      while (tok_.type != Token::Type::kEnd && !IsPunct(',') && !IsPunct(')')) {
        if (IsPunct('(')) {
          SkipParens();
        } else {
          Advance();
        }
      }
      if (IsPunct(',')) Advance();
    }
  }
  void ParseAlterBody(DdlStatement& d) {
    bool only_adds = true;
    bool any = false;
    int clauses = 0;
    while (tok_.type != Token::Type::kEnd) {
      any = true;
      ++clauses;
      if (Is("ADD")) {
        Advance();
        if (Is("COLUMN")) Advance();
        SkipIfNotExists();
        if (IsConstraintStart()) {
          only_adds = false;
        } else if (IsPunct('(')) {
          only_adds = false;  // ADD (a INT, b INT): treated as a general change
        } else {
          std::string name = Ident();
          if (!name.empty()) d.added_columns.push_back(name);
        }
      } else if (Is("RENAME")) {
        Advance();
        // RENAME COLUMN / INDEX / KEY rename inside the table; RENAME [TO|AS] name renames it.
        if (!Is("COLUMN") && !Is("INDEX") && !Is("KEY")) {
          if (Is("TO") || Is("AS")) Advance();
          QualifiedName(d.new_db, d.new_table);
          if (!d.new_table.empty()) d.renames.push_back({d.db, d.table, d.new_db, d.new_table});
        }
        only_adds = false;
      } else {
        if (Is("DROP") || Is("TRUNCATE") || Is("EXCHANGE")) {
          Advance();
          d.partition_rows |= Is("PARTITION");
        }
        only_adds = false;
      }
      while (tok_.type != Token::Type::kEnd && !IsPunct(',')) {
        if (IsPunct('(')) {
          SkipParens();
        } else {
          Advance();
        }
      }
      if (IsPunct(',')) Advance();
    }
    d.alter_only_adds_columns = any && only_adds;
    // RENAME together with other changes is no plain rename: routed as an ALTER.
    if (clauses > 1) d.renames.clear();
  }

 public:
  // The column clauses of an ALTER TABLE body (the text after the table's
  // name): DdlStatement::column_changes.
  void ParseColumnChanges(DdlStatement& d) {
    using Op = DdlStatement::ColumnChange::Op;
    bool followed = true;
    // After a column's definition: [FIRST | AFTER name], then the clause ends.
    auto place = [&](DdlStatement::ColumnChange& c) {
      while (tok_.type != Token::Type::kEnd && !IsPunct(',')) {
        if (IsPunct('(')) {
          SkipParens();
        } else if (Is("FIRST")) {
          c.first = true;
          Advance();
        } else if (Is("AFTER")) {
          Advance();
          c.after = Ident();
        } else {
          Advance();
        }
      }
    };
    while (tok_.type != Token::Type::kEnd && followed) {
      bool column_word = false;
      if (Is("ADD")) {
        Advance();
        if (Is("COLUMN")) {
          Advance();
          column_word = true;
        }
        SkipIfNotExists();
        if (!column_word && (Is("INDEX") || Is("KEY") || Is("FULLTEXT") || Is("SPATIAL") || Is("FOREIGN") ||
                             Is("CHECK") || Is("PARTITION"))) {
          // no column changes
        } else if (!column_word && Is("CONSTRAINT")) {
          Advance();
          if (!Is("FOREIGN") && !Is("CHECK") && !Is("PRIMARY") && !Is("UNIQUE")) Advance();  // its name
          followed = Is("FOREIGN") || Is("CHECK");
        } else if (!column_word && (IsConstraintStart() || Is("SYSTEM"))) {
          followed = false;  // PRIMARY KEY, UNIQUE, PERIOD, SYSTEM VERSIONING
        } else if (IsPunct('(')) {
          Advance();
          while (followed && tok_.type != Token::Type::kEnd && !IsPunct(')')) {
            if (IsConstraintStart()) {
              followed = false;
              break;
            }
            DdlStatement::ColumnChange c;
            c.op = Op::kAdd;
            c.name = c.new_name = Ident();
            followed = !c.name.empty();
            d.column_changes.push_back(std::move(c));
            while (tok_.type != Token::Type::kEnd && !IsPunct(',') && !IsPunct(')')) {
              if (IsPunct('(')) {
                SkipParens();
              } else {
                Advance();
              }
            }
            if (IsPunct(',')) Advance();
          }
          if (IsPunct(')')) Advance();
        } else {
          DdlStatement::ColumnChange c;
          c.op = Op::kAdd;
          c.name = c.new_name = Ident();
          followed = !c.name.empty();
          place(c);
          d.column_changes.push_back(std::move(c));
        }
      } else if (Is("DROP")) {
        Advance();
        if (Is("COLUMN")) {
          Advance();
          column_word = true;
        }
        SkipIfExists();
        if (!column_word && (Is("FOREIGN") || Is("CHECK") || Is("PARTITION"))) {
          // no column changes
        } else if (!column_word && (Is("INDEX") || Is("KEY") || Is("PRIMARY") || Is("CONSTRAINT") || Is("SYSTEM") ||
                                    Is("PERIOD"))) {
          followed = false;  // it may have been the unique key rows are found by
        } else {
          DdlStatement::ColumnChange c;
          c.op = Op::kDrop;
          c.name = Ident();
          followed = !c.name.empty();
          d.column_changes.push_back(std::move(c));
        }
      } else if (Is("MODIFY") || Is("CHANGE")) {
        bool change = Is("CHANGE");
        Advance();
        if (Is("COLUMN")) Advance();
        SkipIfExists();
        DdlStatement::ColumnChange c;
        c.op = Op::kChange;
        c.name = Ident();
        c.new_name = change ? Ident() : c.name;
        followed = !c.name.empty() && !c.new_name.empty();
        place(c);
        d.column_changes.push_back(std::move(c));
      } else if (Is("RENAME")) {
        Advance();
        if (Is("COLUMN")) {
          Advance();
          DdlStatement::ColumnChange c;
          c.op = Op::kRename;
          c.name = Ident();
          if (Is("TO")) Advance();
          c.new_name = Ident();
          followed = !c.name.empty() && !c.new_name.empty();
          d.column_changes.push_back(std::move(c));
        } else {
          followed = Is("INDEX") || Is("KEY");  // RENAME [TO] another name: the table is another
        }
      } else if (Is("CONVERT") || Is("DISCARD") || Is("IMPORT")) {
        followed = false;
      } else if (tok_.type != Token::Type::kWord) {
        followed = false;
      }
      // Other clauses (ALTER COLUMN ... SET DEFAULT, ALGORITHM=, LOCK=,
      // ENGINE=, [DEFAULT] CHARSET=, COMMENT=, FORCE, partitioning, ...)
      // change no column.
      while (tok_.type != Token::Type::kEnd && !IsPunct(',')) {
        if (IsPunct('(')) {
          SkipParens();
        } else {
          Advance();
        }
      }
      if (IsPunct(',')) Advance();
    }
    d.columns_followed = followed;
    if (!followed) d.column_changes.clear();
  }

 private:
  Lexer lex_;
  std::string_view current_db_;
  Token tok_;
  size_t prev_end_ = 0;     // where the token before tok_ ended
  std::string first_word_;  // of the statement, upper case
};

}  // namespace

DdlStatement ParseDdl(std::string_view query, std::string_view current_db, DdlQuoting quoting) {
  DdlStatement d = Parser(query, current_db, quoting).Parse();
  if (d.kind == DdlStatement::Kind::kAlterTable && d.name_end > 0) {
    Parser(query.substr(d.name_end), current_db, quoting).ParseColumnChanges(d);
  }
  return d;
}

std::string WithAlteredTableNamed(std::string_view query, const DdlStatement& d, std::string_view db,
                                  std::string_view table) {
  auto quote = [](std::string_view name) {
    std::string out = "`";
    for (char c : name) {
      if (c == '`') out += '`';
      out += c;
    }
    return out + "`";
  };
  std::string out(query.substr(0, d.name_begin));
  out += quote(db) + "." + quote(table);
  out += query.substr(d.name_end);
  return out;
}

}  // namespace sluice::mysql
