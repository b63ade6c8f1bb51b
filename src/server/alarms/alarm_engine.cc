#include "server/alarms/alarm_engine.h"

#include <chrono>

#include <spdlog/spdlog.h>

namespace sluice::server::alarms {

namespace {

constexpr size_t kMaxQueued = 1000;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Dump(const AlarmJson& j) { return j.dump(-1, ' ', false, AlarmJson::error_handler_t::replace); }

Result<std::unique_ptr<WebhookSender>> MakeSender(const pipeline::AlarmsConfig& config) {
  if (!config.webhook) return std::unique_ptr<WebhookSender>();
  return WebhookSender::Create(*config.webhook);
}

}  // namespace

Result<std::unique_ptr<AlarmEngine>> AlarmEngine::Create(const pipeline::AlarmsConfig& config, AlarmSubject& subject,
                                                         pipeline::MetricsRegistry& metrics) {
  ASSIGN_OR_RETURN(std::unique_ptr<WebhookSender> webhook, MakeSender(config));
  auto engine = std::unique_ptr<AlarmEngine>(new AlarmEngine(config, subject, metrics));
  engine->webhook_ = std::move(webhook);
  return engine;
}

Result<std::unique_ptr<AlarmEngine>> AlarmEngine::Create(const pipeline::AlarmsConfig& config,
                                                         pipeline::PipelineController& controller,
                                                         pipeline::MetricsRegistry& metrics) {
  auto subject = std::make_unique<ControllerSubject>(controller);
  ASSIGN_OR_RETURN(std::unique_ptr<AlarmEngine> engine, Create(config, *subject, metrics));
  engine->owned_subject_ = std::move(subject);
  return engine;
}

AlarmEngine::AlarmEngine(const pipeline::AlarmsConfig& config, AlarmSubject& subject,
                         pipeline::MetricsRegistry& metrics)
    : subject_(&subject),
      config_(config),
      notifications_(metrics.AddCounter("sluice_alarm_notifications",
                                        "Alarm notifications delivered to the webhook, by rule and state "
                                        "(firing, resolved).",
                                        {"rule", "state"})),
      webhook_failures_(metrics
                            .AddCounter("sluice_alarm_webhook_failures",
                                        "Alarm notifications the webhook did not accept (each is tried again).")
                            .WithLabelValues(std::vector<std::string>{})),
      recoveries_(metrics.AddCounter("sluice_pipeline_auto_recoveries",
                                     "Failed pipelines started again by alarms.auto_recover.", {"pipeline"})),
      evaluator_(config.rules, config.webhook ? config.webhook->repeat_every_ms : 0),
      recovery_(config.auto_recover) {
  metrics.AddGaugeCollector("sluice_alarm_firing", "1 while an alarm fires, 0 once it resolved (kept for an hour).",
                            {"rule", "pipeline", "target", "node"}, [this] {
                              std::vector<pipeline::GaugeSample> out;
                              for (const AlarmView& a : Alarms()) {
                                out.push_back(
                                    {{a.rule, a.pipeline, a.target, a.node}, a.state == "firing" ? 1.0 : 0.0});
                              }
                              return out;
                            });
}

AlarmEngine::~AlarmEngine() { Stop(); }

void AlarmEngine::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
      lock.unlock();
      Tick();
      lock.lock();
      stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  });
}

bool AlarmEngine::Stopping() {
  std::lock_guard lock(stop_mu_);
  return stopping_;
}

void AlarmEngine::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status AlarmEngine::Reconfigure(const pipeline::AlarmsConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<WebhookSender> webhook, MakeSender(config));
  std::lock_guard lock(mu_);
  pending_ = Pending{config, std::move(webhook)};
  return Status::Ok();
}

void AlarmEngine::TakePending() {
  std::lock_guard lock(mu_);
  if (!pending_) return;
  config_ = std::move(pending_->config);
  webhook_ = std::move(pending_->webhook);
  pending_.reset();
  evaluator_.SetRules(config_.rules, config_.webhook ? config_.webhook->repeat_every_ms : 0);
  recovery_ = AutoRecovery(config_.auto_recover);
  if (!webhook_ && !outbox_.empty()) {
    spdlog::warn("alarms: the webhook was removed from the configuration; {} notification(s) not sent",
                 outbox_.size());
    outbox_.clear();
  }
}

void AlarmEngine::Tick() {
  TakePending();
  AlarmInputs inputs = subject_->Observe();
  const int64_t now = WallMs();
  std::vector<AlarmNotice> notices;
  bool recover = false;
  {
    std::lock_guard lock(mu_);
    notices = evaluator_.Evaluate(inputs, now);
    recover = config_.auto_recover.enabled;
  }
  const bool speaks = subject_->Speaks();
  for (const AlarmNotice& n : notices) {
    if (n.repeat || !speaks) continue;
    if (n.firing) {
      spdlog::warn("alarm {} firing: {}", n.rule, n.message);
    } else {
      spdlog::info("alarm {} resolved: {}", n.rule, n.message);
    }
  }
  if (!speaks) {
    // Another process (the leading manager) sends and recovers.
    outbox_.clear();
    return;
  }
  Queue(std::move(notices));
  if (recover) Recover(inputs.pipelines, now);
  Deliver();
}

void AlarmEngine::Queue(std::vector<AlarmNotice> notices) {
  if (!webhook_) return;
  for (AlarmNotice& n : notices) {
    if (n.repeat) {
      // One reminder is enough while the last word on this alarm still waits.
      bool waiting = false;
      for (const AlarmNotice& q : outbox_) {
        waiting |= q.rule == n.rule && q.pipeline == n.pipeline && q.target == n.target;
      }
      if (waiting) continue;
    }
    outbox_.push_back(std::move(n));
  }
  if (outbox_.size() > kMaxQueued) {
    spdlog::warn("alarm webhook {}: {} notifications could not be sent; dropping the oldest {}", webhook_->Endpoint(),
                 outbox_.size(), outbox_.size() - kMaxQueued);
    while (outbox_.size() > kMaxQueued) outbox_.pop_front();
  }
}

void AlarmEngine::Deliver() {
  while (webhook_ && !outbox_.empty() && !Stopping()) {
    const AlarmNotice& n = outbox_.front();
    Status st = webhook_->Send(Dump(n.ToJson()));
    if (!st.ok()) {
      webhook_failures_.Inc();
      // In order: what follows waits for the next tick.
      spdlog::warn("{} ({} notification(s) waiting; retried in a second)", st.message(), outbox_.size());
      return;
    }
    notifications_.WithLabelValues(std::vector<std::string>{n.rule, n.firing ? "firing" : "resolved"}).Inc();
    outbox_.pop_front();
  }
}

void AlarmEngine::Recover(const std::vector<pipeline::PipelineStatus>& statuses, int64_t now_ms) {
  for (const AutoRecovery::Attempt& a : recovery_.Due(statuses, now_ms)) {
    // Asked again right before: an operator who stopped it meanwhile meant it.
    Result<pipeline::PipelineStatus> now = subject_->GetPipeline(a.pipeline);
    if (!now.ok() || now->state != pipeline::PipelineState::kFailed) continue;
    spdlog::warn("pipeline {}: auto_recover: starting it again (attempt {}, after {} ms; it failed with: {})",
                 a.pipeline, a.number, a.waited_ms, a.last_error.empty() ? "no error recorded" : a.last_error);
    recoveries_.WithLabelValues(std::vector<std::string>{a.pipeline}).Inc();
    Status st = subject_->StartPipeline(a.pipeline);
    if (!st.ok()) spdlog::error("pipeline {}: auto_recover: start failed: {}", a.pipeline, st.message());
  }
}

std::vector<AlarmView> AlarmEngine::Alarms() const {
  std::lock_guard lock(mu_);
  return evaluator_.Alarms();
}

std::string AlarmEngine::ApiJson() const {
  AlarmJson rules = AlarmJson::array();
  std::vector<AlarmView> views;
  {
    std::lock_guard lock(mu_);
    for (const pipeline::AlarmRule& r : config_.rules) {
      rules.push_back({{"name", r.name}, {"when", r.when.ToString()}, {"for_s", r.for_ms / 1000.0}});
    }
    views = evaluator_.Alarms();
  }
  AlarmJson alarms = AlarmJson::array();
  for (const AlarmView& a : views) {
    AlarmJson j{{"rule", a.rule},
                {"pipeline", a.pipeline.empty() ? AlarmJson(nullptr) : AlarmJson(a.pipeline)},
                {"target", a.target.empty() ? AlarmJson(nullptr) : AlarmJson(a.target)},
                {"state", a.state},
                {"value", a.value},
                {"since", Rfc3339(a.since_ms)},
                {"message", a.message}};
    if (!a.node.empty()) j["node"] = a.node;
    alarms.push_back(std::move(j));
  }
  return Dump(AlarmJson{{"rules", std::move(rules)}, {"alarms", std::move(alarms)}});
}

}  // namespace sluice::server::alarms
