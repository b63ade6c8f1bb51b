#pragma once
// Topic names from the target's templates (design section 9):
// ${pipeline}, ${db} and ${table}, the names after `to:` renames.

#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::sink::kafka {

std::string ExpandTopic(std::string_view tmpl, std::string_view pipeline, std::string_view db, std::string_view table);

// Kafka accepts 1 to 249 characters of [a-zA-Z0-9._-], and neither "." nor
// "..". The broker would refuse the produce much later, far from the table.
Status CheckTopicName(std::string_view topic);

}  // namespace sluice::sink::kafka
