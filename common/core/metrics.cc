// Prometheus metrics: atomics on the update path, a mutex only where a family creates or finds
// a child, and a renderer for the text exposition format 0.0.4 served at /metrics. Every
// registry also carries the standard process_* metrics (read from /proc when scraped) and
// swarmcache_build_info, so every daemon exports them.
#include "common/core/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <variant>

#include "common/core/build_info.h"

namespace sc {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void append_help_text(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

// {a="x",b="y"} with an optional extra label (le for histogram buckets); nothing when empty.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

constexpr double kMicro = 1e6;

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;  // no bucket holds it, and it would poison the sum
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  // Two's complement wrap makes a negative observation subtract correctly.
  sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(v * kMicro)), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

double Histogram::sum() const {
  return static_cast<double>(static_cast<int64_t>(sum_micro_.load(std::memory_order_relaxed))) / kMicro;
}

uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

std::vector<double> latency_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <class M>
M& Family<M>::with(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(values.size());
  for (auto v : values) key.emplace_back(v);
  return with(key);
}

template <class M>
M& Family<M>::with(const std::vector<std::string>& values) {
  if (values.size() != labels_.size()) {
    throw std::logic_error("metric family with " + std::to_string(labels_.size()) + " labels given " +
                           std::to_string(values.size()) + " values");
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_()).first;
  return *it->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct MetricsRegistry::Entry {
  std::string name, help, type;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      impl;
};

namespace {

// Fields of /proc/self/stat after the ")" that closes the command name; field 3 is index 0.
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> out;
  auto close = text.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream rest(text.substr(close + 1));
  for (std::string f; rest >> f;) out.push_back(std::move(f));
  return out;
}

double stat_field(const std::vector<std::string>& f, size_t field_number) {
  size_t i = field_number - 3;
  return i < f.size() ? std::strtod(f[i].c_str(), nullptr) : 0;
}

double process_cpu_seconds() {
  auto f = proc_stat_fields();
  return (stat_field(f, 14) + stat_field(f, 15)) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double process_resident_bytes() {
  return stat_field(proc_stat_fields(), 24) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double process_open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) n++;
  return n;
}

// Boot time (btime of /proc/stat) plus the process's start in ticks since boot.
double process_start_seconds() {
  std::ifstream in("/proc/stat");
  double btime = 0;
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("btime ")) btime = std::strtod(line.c_str() + 6, nullptr);
  return btime + stat_field(proc_stat_fields(), 22) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

MetricsRegistry::MetricsRegistry() {
  const BuildInfo& b = build_info();
  gauge_family("swarmcache_build_info", "Always 1; the labels say what was built.", {"version", "revision", "build_type"})
      .with({b.version, b.revision, b.build_type})
      .set(1);
  callback("process_cpu_seconds_total", "User and system CPU time spent in seconds.", "counter", process_cpu_seconds);
  callback("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", process_resident_bytes);
  callback("process_open_fds", "Number of open file descriptors.", "gauge", process_open_fds);
  double start = process_start_seconds();
  callback("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", "gauge",
           [start] { return start; });
}
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Entry& MetricsRegistry::add(std::string name, std::string help, std::string type) {
  if (!valid_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (auto& e : entries_) {
    if (e->name == name) {
      if (e->type != type) {
        throw std::logic_error("metric '" + name + "' registered as " + e->type + " and as " + type);
      }
      return *e;
    }
  }
  auto& e = entries_.emplace_back(std::make_unique<Entry>());
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = std::move(type);
  return *e;
}

namespace {

template <class M>
Family<M>& family_of(auto& impl, const std::string& name, std::vector<std::string>& labels,
                     std::function<std::unique_ptr<M>()> make) {
  using Ptr = std::unique_ptr<Family<M>>;
  for (auto& l : labels) {
    if (!valid_name(l) || l.find(':') != std::string::npos || l == "le") {
      throw std::invalid_argument("invalid label name '" + l + "' for metric '" + name + "'");
    }
  }
  if (auto* p = std::get_if<Ptr>(&impl)) {
    if ((*p)->label_names() != labels) throw std::logic_error("metric '" + name + "' registered with other labels");
    return **p;
  }
  impl = std::make_unique<Family<M>>(std::move(labels), std::move(make));
  return *std::get<Ptr>(impl);
}

}  // namespace

Family<Counter>& MetricsRegistry::counter_family(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Entry& e = add(std::move(name), std::move(help), "counter");
  return family_of<Counter>(e.impl, e.name, labels, [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& MetricsRegistry::gauge_family(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Entry& e = add(std::move(name), std::move(help), "gauge");
  return family_of<Gauge>(e.impl, e.name, labels, [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& MetricsRegistry::histogram_family(std::string name, std::string help,
                                                     std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry& e = add(std::move(name), std::move(help), "histogram");
  return family_of<Histogram>(e.impl, e.name, labels,
                              [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
}

Counter& MetricsRegistry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {}).with(std::vector<std::string>{});
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help), {}).with(std::vector<std::string>{});
}

Histogram& MetricsRegistry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(bounds)).with(std::vector<std::string>{});
}

void MetricsRegistry::gauge_callback(std::string name, std::string help, std::function<double()> fn) {
  callback(std::move(name), std::move(help), "gauge", std::move(fn));
}

void MetricsRegistry::counter_callback(std::string name, std::string help, std::function<double()> fn) {
  callback(std::move(name), std::move(help), "counter", std::move(fn));
}

void MetricsRegistry::callback(std::string name, std::string help, std::string type, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  Entry& e = add(std::move(name), std::move(help), std::move(type));
  if (!std::holds_alternative<std::monostate>(e.impl) && !std::holds_alternative<std::function<double()>>(e.impl)) {
    throw std::logic_error("metric '" + e.name + "' is already a plain " + e.type);
  }
  e.impl = std::move(fn);
}

std::string MetricsRegistry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    out += "# HELP ";
    out += e->name;
    out.push_back(' ');
    append_help_text(out, e->help);
    out += "\n# TYPE ";
    out += e->name;
    out.push_back(' ');
    out += e->type;
    out.push_back('\n');
    const std::string& name = e->name;
    if (auto* f = std::get_if<std::unique_ptr<Family<Counter>>>(&e->impl)) {
      (*f)->for_each([&](const std::vector<std::string>& values, const Counter& c) {
        out += name;
        append_labels(out, (*f)->label_names(), values);
        out.push_back(' ');
        out += std::to_string(c.value());
        out.push_back('\n');
      });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->impl)) {
      (*g)->for_each([&](const std::vector<std::string>& values, const Gauge& m) {
        out += name;
        append_labels(out, (*g)->label_names(), values);
        out.push_back(' ');
        out += std::to_string(m.value());
        out.push_back('\n');
      });
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->impl)) {
      (*h)->for_each([&](const std::vector<std::string>& values, const Histogram& m) {
        const auto& names = (*h)->label_names();
        // One snapshot per child, so _count equals the +Inf bucket within a scrape.
        std::vector<uint64_t> cum = m.cumulative();
        for (size_t i = 0; i < cum.size(); ++i) {
          std::string le;
          if (i < m.bounds().size()) {
            append_double(le, m.bounds()[i]);
          } else {
            le = "+Inf";
          }
          out += name;
          out += "_bucket";
          append_labels(out, names, values, "le", le);
          out.push_back(' ');
          out += std::to_string(cum[i]);
          out.push_back('\n');
        }
        out += name;
        out += "_sum";
        append_labels(out, names, values);
        out.push_back(' ');
        append_double(out, m.sum());
        out.push_back('\n');
        out += name;
        out += "_count";
        append_labels(out, names, values);
        out.push_back(' ');
        out += std::to_string(cum.back());
        out.push_back('\n');
      });
    } else if (auto* fn = std::get_if<std::function<double()>>(&e->impl)) {
      out += name;
      out.push_back(' ');
      append_double(out, (*fn)());
      out.push_back('\n');
    }
  }
  return out;
}

}  // namespace sc
