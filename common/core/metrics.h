#pragma once
// Prometheus metrics registry. Counters, gauges and histograms are lock-free to update; a
// labelled family hands out a stable reference per label set, which hot paths resolve once
// and keep. render() produces the text exposition format (version 0.0.4).
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sc {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Snapshot: cumulative counts per bucket (last is +Inf), sum, count.
  std::vector<uint64_t> cumulative() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_micro_{0};                 // sum in millionths
  std::atomic<uint64_t> count_{0};
};

// Default latency buckets in seconds, 50 µs … 10 s.
std::vector<double> latency_buckets();

template <class M>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<M>()> make)
      : labels_(std::move(label_names)), make_(std::move(make)) {}
  // The metric for these label values (same order as the label names). Thread-safe; the
  // returned reference lives as long as the registry.
  M& with(std::initializer_list<std::string_view> values);
  M& with(const std::vector<std::string>& values);
  const std::vector<std::string>& label_names() const { return labels_; }
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard lock(mu_);
    for (auto& [k, m] : children_) f(k, *m);
  }

 private:
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

// Every registry starts with process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds and swarmcache_build_info.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();  // out of line: Entry is private to metrics.cc
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  Family<Counter>& counter_family(std::string name, std::string help, std::vector<std::string> labels);
  Family<Gauge>& gauge_family(std::string name, std::string help, std::vector<std::string> labels);
  Family<Histogram>& histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                                      std::vector<double> bounds = latency_buckets());
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds = latency_buckets());
  // A gauge computed when scraped (e.g. a store's peer count). The callback runs on the
  // scraping thread and must be thread-safe.
  void gauge_callback(std::string name, std::string help, std::function<double()> fn);
  // The same for a counter kept elsewhere (it must never decrease).
  void counter_callback(std::string name, std::string help, std::function<double()> fn);

  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
  Entry& add(std::string name, std::string help, std::string type);
  void callback(std::string name, std::string help, std::string type, std::function<double()> fn);
};

}  // namespace sc
