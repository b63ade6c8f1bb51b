#pragma once
// AlarmEngine: the alarms (design §11) at work, in `sluice run` and in the
// cluster manager. Once a second, on its own thread, it takes a snapshot of
// what it watches (an AlarmSubject: every pipeline's status, and in a
// cluster the live nodes), evaluates the rules (evaluator.h), queues the
// notifications due and POSTs them to the webhook in order, and starts
// failed pipelines again when `auto_recover` is on (auto_recovery.h).
// Where several processes watch the same pipelines (managers), only the one
// the subject says speaks sends and recovers; the others keep their alarms
// current for GET /api/alarms and /metrics.
//
// Delivery: a notification that cannot be sent (connection refused,
// timeout, non-2xx) stays queued and is tried again on the next tick,
// before anything newer; every failure is counted. A repeat of an alarm
// whose last notification still waits is not queued twice. The queue keeps
// at most 1000 notifications (the oldest are dropped, with a warning). The
// pipelines never wait for any of this: the engine only reads their status
// and calls StartPipeline.
//
// Metrics (registered by the constructor):
//   sluice_alarm_firing{rule,pipeline,target,node}     1 firing, 0 resolved (recently)
//   sluice_alarm_notifications_total{rule,state}       notifications delivered
//   sluice_alarm_webhook_failures_total                failed deliveries
//   sluice_pipeline_auto_recoveries_total{pipeline}    restarts by auto_recover
//
// Ownership: `sluice run` or the manager owns it; the subject (or the
// controller) and the registry must outlive it. Stop() (also run by the
// destructor) joins the thread; call it before the pipelines stop.
// Alarms()/ApiJson()/Reconfigure() are thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/alarm_rules.h"
#include "pipeline/controller.h"
#include "pipeline/metrics.h"
#include "server/alarms/auto_recovery.h"
#include "server/alarms/evaluator.h"
#include "server/alarms/webhook.h"

namespace sluice::server::alarms {

// What the engine watches, and the restarts auto_recover asks for. Called on
// the engine's thread only.
class AlarmSubject {
 public:
  virtual ~AlarmSubject() = default;
  virtual AlarmInputs Observe() = 0;
  // The pipeline's status right now (auto_recover asks again before a start).
  virtual Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) = 0;
  virtual Status StartPipeline(const std::string& name) = 0;
  // Whether this process sends the notifications and recovers now.
  virtual bool Speaks() { return true; }
};

// `sluice run`'s pipelines.
class ControllerSubject final : public AlarmSubject {
 public:
  explicit ControllerSubject(pipeline::PipelineController& controller) : controller_(controller) {}
  AlarmInputs Observe() override { return {controller_.ListPipelines(), {}, std::nullopt}; }
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) override {
    return controller_.GetPipeline(name);
  }
  Status StartPipeline(const std::string& name) override { return controller_.StartPipeline(name); }

 private:
  pipeline::PipelineController& controller_;
};

class AlarmEngine {
 public:
  // InvalidArgument for a webhook URL the sender cannot use.
  static Result<std::unique_ptr<AlarmEngine>> Create(const pipeline::AlarmsConfig& config, AlarmSubject& subject,
                                                     pipeline::MetricsRegistry& metrics);
  static Result<std::unique_ptr<AlarmEngine>> Create(const pipeline::AlarmsConfig& config,
                                                     pipeline::PipelineController& controller,
                                                     pipeline::MetricsRegistry& metrics);
  ~AlarmEngine();
  AlarmEngine(const AlarmEngine&) = delete;
  AlarmEngine& operator=(const AlarmEngine&) = delete;

  void Start();
  void Stop();
  // One round at the current wall-clock time (the thread calls it each
  // second; tests call it without Start()). Not concurrently with itself.
  void Tick();

  // A reloaded configuration's alarms: rules, webhook and auto_recover
  // change from the next tick; alarms of rules that keep their name carry
  // on, queued notifications stay queued. InvalidArgument (and nothing
  // changes) for a webhook URL the sender cannot use.
  Status Reconfigure(const pipeline::AlarmsConfig& config);

  std::vector<AlarmView> Alarms() const;
  // GET /api/alarms:
  // {"rules":[{"name","when","for_s"}],"alarms":[{"rule","pipeline","target","state","value","since","message"}]}
  std::string ApiJson() const;

 private:
  AlarmEngine(const pipeline::AlarmsConfig& config, AlarmSubject& subject, pipeline::MetricsRegistry& metrics);
  void Queue(std::vector<AlarmNotice> notices);
  void Deliver();
  void Recover(const std::vector<pipeline::PipelineStatus>& statuses, int64_t now_ms);
  // A configuration from Reconfigure, taken over on the thread.
  void TakePending();
  // Stop() was called: a long queue is not worked off on the way out.
  bool Stopping();

  std::unique_ptr<AlarmSubject> owned_subject_;  // when made over a controller
  AlarmSubject* subject_;
  pipeline::AlarmsConfig config_;                 // under mu_
  std::unique_ptr<WebhookSender> webhook_;        // the thread's
  pipeline::Family<pipeline::Counter>& notifications_;
  pipeline::Counter& webhook_failures_;
  pipeline::Family<pipeline::Counter>& recoveries_;

  mutable std::mutex mu_;
  AlarmEvaluator evaluator_;        // under mu_
  AutoRecovery recovery_;           // the thread's
  std::deque<AlarmNotice> outbox_;  // the thread's
  struct Pending {
    pipeline::AlarmsConfig config;
    std::unique_ptr<WebhookSender> webhook;
  };
  std::optional<Pending> pending_;  // under mu_

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::server::alarms
