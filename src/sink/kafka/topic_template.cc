#include "sink/kafka/topic_template.h"

namespace sluice::sink::kafka {

std::string ExpandTopic(std::string_view tmpl, std::string_view pipeline, std::string_view db, std::string_view table) {
  std::string out;
  out.reserve(tmpl.size() + db.size() + table.size());
  for (size_t i = 0; i < tmpl.size();) {
    auto placeholder = [&](std::string_view name, std::string_view value) {
      if (tmpl.substr(i, name.size()) != name) return false;
      out += value;
      i += name.size();
      return true;
    };
    if (placeholder("${pipeline}", pipeline) || placeholder("${db}", db) || placeholder("${table}", table)) continue;
    out += tmpl[i++];
  }
  return out;
}

Status CheckTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 249) {
    return Status::Invalid("topic \"{}\" is not a Kafka topic name (1 to 249 characters)", topic);
  }
  if (topic == "." || topic == "..") return Status::Invalid("topic \"{}\" is not a Kafka topic name", topic);
  for (char c : topic) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::Invalid(
          "topic \"{}\" is not a Kafka topic name (only letters, digits, '.', '_' and '-'); "
          "set the target's topic: template or rename the table with to:",
          topic);
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sink::kafka
