#pragma once
// A shop schema whose foreign keys have actions (cascades down a chain,
// SET NULL, ON UPDATE CASCADE, a self-referencing tree), its rows, and the
// parents' changes whose effects on the child rows the source server does
// not log: shared by the MySQL- and PostgreSQL-target tests.

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/status.h"
#include "harness/mariadb_server.h"

namespace sluice::testing {

inline constexpr const char* kShopKeys = R"sql(
CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(20));
CREATE TABLE shop.carts (id INT PRIMARY KEY, customer INT, note VARCHAR(20), KEY (customer),
  CONSTRAINT fk_carts FOREIGN KEY (customer) REFERENCES shop.customers (id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE shop.cart_items (cart INT, n INT, sku VARCHAR(20), PRIMARY KEY (cart, n),
  CONSTRAINT fk_items FOREIGN KEY (cart) REFERENCES shop.carts (id) ON DELETE CASCADE);
CREATE TABLE shop.reviews (id INT PRIMARY KEY, customer INT NULL, text VARCHAR(20),
  CONSTRAINT fk_reviews FOREIGN KEY (customer) REFERENCES shop.customers (id) ON DELETE SET NULL ON UPDATE CASCADE);
CREATE TABLE shop.categories (id INT PRIMARY KEY, parent INT NULL, name VARCHAR(20),
  CONSTRAINT fk_tree FOREIGN KEY (parent) REFERENCES shop.categories (id) ON DELETE CASCADE);
)sql";

inline const std::vector<std::string> kForeignKeyTables = {"customers", "carts", "cart_items", "reviews", "categories"};

// 40 customers with two carts of three items each and a review; a
// category tree five levels deep (1 > 2 > 3 > 4 > 5, each with a sibling leaf).
inline Status FillShopWithKeys(MariadbServer& src) {
  std::string sql = "BEGIN;";
  for (int c = 1; c <= 40; ++c) {
    sql += fmt::format("INSERT INTO shop.customers VALUES ({0}, 'c{0}');", c);
    sql += fmt::format("INSERT INTO shop.reviews VALUES ({0}, {0}, 'r{0}');", c);
    for (int k = 0; k < 2; ++k) {
      const int cart = c * 10 + k;
      sql += fmt::format("INSERT INTO shop.carts VALUES ({}, {}, 'cart');", cart, c);
      for (int n = 1; n <= 3; ++n) sql += fmt::format("INSERT INTO shop.cart_items VALUES ({}, {}, 'sku');", cart, n);
    }
  }
  sql += "INSERT INTO shop.categories VALUES (1, NULL, 'root');";
  for (int id = 2; id <= 5; ++id) {
    sql += fmt::format("INSERT INTO shop.categories VALUES ({0}, {1}, 'level'), ({0}0, {1}, 'leaf');", id, id - 1);
  }
  sql += "INSERT INTO shop.categories VALUES (99, NULL, 'other root'), (98, 99, 'kept');";
  return src.Execute(sql + "COMMIT");
}

// The parents' changes, with changes of the child rows around them.
inline Status ChangeShopParents(MariadbServer& src) {
  return src.Execute(
      // A range of parents: carts, their items and reviews follow.
      "DELETE FROM shop.customers WHERE id <= 8;"
      // Child rows changed, then their parent deleted, in one transaction.
      "BEGIN; UPDATE shop.cart_items SET sku = 'changed' WHERE cart IN (110, 111);"
      "INSERT INTO shop.audit VALUES (1, 'cascade inside');"
      "DELETE FROM shop.customers WHERE id = 11; COMMIT;"
      // A parent gone and back: the new child rows stay.
      "DELETE FROM shop.customers WHERE id = 12;"
      "INSERT INTO shop.customers VALUES (12, 'again'); INSERT INTO shop.carts VALUES (500, 12, 'new cart');"
      "INSERT INTO shop.cart_items VALUES (500, 1, 'new');"
      // ON UPDATE CASCADE: the carts follow the customer's new id.
      "UPDATE shop.customers SET id = 1020 WHERE id = 20;"
      // A subtree of the category tree.
      "DELETE FROM shop.categories WHERE id = 2;"
      // foreign_key_checks=0: the source cascades nothing, nor may the target.
      "SET SESSION foreign_key_checks = 0; DELETE FROM shop.customers WHERE id = 30;"
      "SET SESSION foreign_key_checks = 1;"
      "INSERT INTO shop.audit VALUES (2, 'done');");
}

}  // namespace sluice::testing
