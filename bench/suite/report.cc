// What a run's figures mean: real-time classes, deadline verdicts and the
// percentiles of a histogram. The rest of report.h lives beside this file,
// one concern each: report_machine.cc (what the host is), report_ratios.cc,
// report_text.h/.cc (the words the views share), and the views themselves:
// report_table.cc, report_json.cc, report_diff.cc, report_svg.cc.
#include "bench/suite/report.h"

#include <algorithm>
#include <initializer_list>
#include <string>

namespace rill::bench {

std::string_view rt_class_name(RtClass c) noexcept {
  switch (c) {
    case RtClass::kHard:
      return "hard";
    case RtClass::kSoft:
      return "soft";
    case RtClass::kNear:
      return "near";
  }
  return "unknown";
}

Result<RtClass> parse_rt_class(std::string_view text) {
  for (RtClass c : {RtClass::kHard, RtClass::kSoft, RtClass::kNear}) {
    if (text == rt_class_name(c)) return c;
  }
  return Status(Code::kInvalidArgument,
                "unknown real-time class '" + std::string(text) + "' (expected hard, soft or near)");
}

void DeadlineCounts::merge(const DeadlineCounts& other) noexcept {
  samples += other.samples;
  misses += other.misses;
  // Streaks of different consumers do not join: the merged "current" streak
  // is the longer of the two, never their sum.
  streak = std::max(streak, other.streak);
  longest_streak = std::max(longest_streak, other.longest_streak);
}

DeadlineResult judge_deadline(const DeadlineSpec& spec, const DeadlineCounts& counts, const Histogram& h) {
  DeadlineResult r;
  r.spec = spec;
  r.samples = counts.samples;
  r.misses = counts.misses;
  r.miss_rate = counts.samples ? static_cast<double>(counts.misses) / static_cast<double>(counts.samples) : 0.0;
  r.longest_streak = counts.longest_streak;
  r.p999_ns = h.value_at(0.999);
  if (counts.samples == 0) return r;  // nothing was shown: not met
  switch (spec.rt_class) {
    case RtClass::kHard:
      r.met = counts.misses == 0;
      break;
    case RtClass::kSoft:
      r.met = r.miss_rate <= spec.max_miss_rate;
      break;
    case RtClass::kNear:
      r.met = h.count() != 0 && r.p999_ns <= spec.deadline_ns;
      break;
  }
  return r;
}

LatencyFigures figures_of(const Histogram& h) {
  LatencyFigures f;
  f.count = h.count();
  f.min = h.min();
  f.p50 = h.value_at(0.5);
  f.p90 = h.value_at(0.9);
  f.p99 = h.value_at(0.99);
  f.p999 = h.value_at(0.999);
  f.p9999 = h.value_at(0.9999);
  f.max = h.max();
  f.mean = h.mean();
  f.stddev = h.stddev();
  return f;
}

}  // namespace rill::bench
