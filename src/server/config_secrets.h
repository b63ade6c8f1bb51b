#pragma once
// Secrets in a configuration's YAML text (design §11: "Password hashes are
// secrets too: masked in the console's configuration view, kept when a
// masked form is saved").
//
// A secret is the value of a key named like one (`password`,
// `password_hash`, `token`, `secret`, `sasl.password`, ...; not `*_env` or
// `*_file`, which name where the secret is), the password of a URL
// (`mysql://user:PASSWORD@host`) or a URL's query parameter named like a
// secret (`kafka://b:9092?sasl.password=SECRET`, `https://h/in?token=T`). A
// token written into a URL's path is not recognized: name it in the query. Masking edits the text in place, so
// comments, order and line numbers stay as the author wrote them (a
// validation error on the masked form points at the right line).
//
// Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::server {

// What a masked secret reads as.
inline constexpr std::string_view kMaskedSecret = "********";

// `yaml` with every secret replaced by kMaskedSecret. Text that does not
// parse as YAML is not shown at all (it cannot be searched for secrets):
// a one-line comment saying so.
std::string MaskConfigSecrets(std::string_view yaml);

// `message` (e.g. a validation error quoting a value) with every secret of
// `yaml` in it replaced by kMaskedSecret.
std::string RedactConfigSecrets(std::string_view message, std::string_view yaml);

// `edited` with each secret that still reads kMaskedSecret replaced by the
// secret at the same place (same key path; list items by their `name:`) in
// `saved`. kInvalidArgument naming `path_for_messages`, the line and the key
// when a masked secret has no counterpart in `saved` (a new user or target
// needs its real value). Text that does not parse is returned as it is, for
// the validator to report.
Result<std::string> RestoreConfigSecrets(std::string_view edited, std::string_view saved,
                                         const std::string& path_for_messages);

}  // namespace sluice::server
