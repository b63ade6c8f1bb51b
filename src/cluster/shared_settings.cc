#include "cluster/shared_settings.h"

#include <fmt/format.h>

#include <future>
#include <memory>

namespace sluice::cluster {

namespace {

// Waits for a coordinator call's answer. The promise is shared with the
// callback, which may run after a wait that gave up.
template <typename T, typename Call>
T Await(const std::string& what, Call call) {
  auto promise = std::make_shared<std::promise<T>>();
  auto answer = promise->get_future();
  call([promise](T value) { promise->set_value(std::move(value)); });
  if (answer.wait_for(SharedSettings::kWait) != std::future_status::ready) {
    return Status::Retryable(StatusCode::kIoError, "{}: no answer from the cluster coordinator within {} s", what,
                             SharedSettings::kWait.count());
  }
  return answer.get();
}

}  // namespace

std::string SharedSettings::Describe() const {
  return fmt::format("pipeline {}'s settings in cluster \"{}\" (zookeeper)", pipeline_, cluster_);
}

Result<std::optional<std::string>> SharedSettings::Get(const std::string& key) {
  auto got = Await<Result<std::optional<std::string>>>(Describe(), [&](auto done) {
    coordinator_.GetSetting(pipeline_, key, std::move(done));
  });
  if (!got.ok()) return got.status().WithContext(Describe() + ": " + key);
  return got;
}

Status SharedSettings::Set(const std::string& key, const std::string& value) {
  Status st = Await<Status>(Describe(), [&](auto done) {
    coordinator_.SaveSetting(pipeline_, key, value, std::move(done));
  });
  return st.ok() ? st : st.WithContext(Describe() + ": " + key);
}

Status SharedSettings::Delete(const std::string& key) {
  Status st = Await<Status>(Describe(), [&](auto done) {
    coordinator_.SaveSetting(pipeline_, key, std::nullopt, std::move(done));
  });
  return st.ok() ? st : st.WithContext(Describe() + ": " + key);
}

Result<std::vector<std::pair<std::string, std::string>>> SharedSettings::WithPrefix(const std::string& prefix) {
  auto all = Await<Result<Coordinator::Settings>>(Describe(), [&](auto done) {
    coordinator_.LoadSettings(pipeline_, std::move(done));
  });
  if (!all.ok()) return all.status().WithContext(Describe());
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [key, value] : *all) {
    if (key.starts_with(prefix)) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<size_t> SharedSettings::SeedFrom(pipeline::PipelineSettings& local) {
  ASSIGN_OR_RETURN(auto recorded, Get(pipeline::kSelectionKey));
  if (recorded.has_value()) return size_t{0};
  ASSIGN_OR_RETURN(auto local_selection, local.Get(pipeline::kSelectionKey));
  if (!local_selection.has_value()) return size_t{0};
  std::vector<std::pair<std::string, std::string>> carried;
  ASSIGN_OR_RETURN(carried, local.WithPrefix(pipeline::kSchemaHistoryPrefix));
  ASSIGN_OR_RETURN(auto unstreamed, local.Get(pipeline::kUnstreamedKey));
  if (unstreamed.has_value()) carried.emplace_back(pipeline::kUnstreamedKey, *unstreamed);
  ASSIGN_OR_RETURN(auto targets, local.Get(pipeline::kTargetsKey));
  if (targets.has_value()) carried.emplace_back(pipeline::kTargetsKey, *targets);
  // The selection last: a seed cut short is tried again at the next start.
  carried.emplace_back(pipeline::kSelectionKey, *local_selection);
  for (const auto& [key, value] : carried) RETURN_IF_ERROR(Set(key, value));
  return carried.size();
}

}  // namespace sluice::cluster
