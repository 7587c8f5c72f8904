// The SVG percentile-distribution plot (plot_svg): latency on a log axis
// against percentile on a "nines" axis, one line per transport.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/suite/report.h"
#include "bench/suite/report_text.h"

namespace rill::bench {

namespace {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') ? '?' : c;
    }
  }
  return out;
}

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// "0%", "90%", "99%", "99.9%", ... for a whole number of nines.
std::string nines_label(int nines) {
  if (nines == 0) return "0%";
  if (nines == 1) return "90%";
  return "99" + (nines > 2 ? "." + std::string(static_cast<std::size_t>(nines - 2), '9') : std::string()) + "%";
}

// The 1-2-5 steps at or below / at or above v (v > 0).
double floor_125(double v) {
  const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
  const double m = v / decade;
  return (m >= 5 - 1e-9 ? 5 : m >= 2 - 1e-9 ? 2 : 1) * decade;
}
double ceil_125(double v) {
  const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
  const double m = v / decade;
  return (m <= 1 + 1e-9 ? 1 : m <= 2 + 1e-9 ? 2 : m <= 5 + 1e-9 ? 5 : 10) * decade;
}

// One transport's line: (nines, latency) corners of its step function.
struct Series {
  const TransportResult* result;
  std::vector<std::pair<double, double>> points;
};

// x = log10(1 / (1 - fraction)), so that 90%, 99%, 99.9% are equally spaced.
// A fraction of 1 (the maximum) has no finite x: it is drawn at `cap`, the
// most nines the sample count can show (log10(count)).
Series series_of(const TransportResult& r) {
  double cap = 0;
  if (r.latency && r.latency->count >= 2) {
    cap = std::log10(static_cast<double>(r.latency->count));
  } else {
    for (const Histogram::Point& p : r.distribution) {
      if (p.fraction < 1) cap = std::max(cap, -std::log10(1 - p.fraction));
    }
    cap += 1;
  }
  auto x_of = [&](double fraction) {
    if (!(fraction > 0)) return 0.0;
    if (fraction >= 1) return cap;
    return std::min(cap, -std::log10(1 - fraction));
  };
  // The value at percentile q is that of the first point whose fraction
  // reaches q: a step, flat from the previous point's x to this one's.
  Series s{&r, {}};
  double previous_x = 0;
  for (const Histogram::Point& p : r.distribution) {
    const double v = std::max<double>(1.0, static_cast<double>(p.value_ns));  // a log axis has no 0
    const double x = std::max(previous_x, x_of(p.fraction));
    s.points.emplace_back(previous_x, v);
    s.points.emplace_back(x, v);
    previous_x = x;
  }
  return s;
}

constexpr std::array<std::string_view, 10> kColours = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

}  // namespace

std::string plot_svg(const Report& report) {
  constexpr double kWidth = 900, kHeight = 560;
  constexpr double kLeft = 78, kRight = kWidth - 44, kTop = 78, kBottom = kHeight - 62;
  constexpr double kMonoCharWidth = 7.3;  // 12px monospace, for sizing the legend box

  std::vector<Series> series;
  for (const TransportResult& r : report.results) {
    if (!r.distribution.empty()) series.push_back(series_of(r));
  }
  const std::optional<DeadlineSpec>& deadline = report.scenario.deadline;
  // The legend goes under the plot, a row per line, so that it never hides one.
  constexpr double kRowHeight = 18;
  const double legend_top = kHeight + 4;
  const double total_height =
      series.empty() ? kHeight : legend_top + kRowHeight * static_cast<double>(series.size()) + 16;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fixed1(kWidth) + "\" height=\"" +
                    fixed1(total_height) + "\" viewBox=\"0 0 " + fixed1(kWidth) + " " + fixed1(total_height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  // Heading: what, the scenario, the machine. A line longer than the width
  // (estimated from its length) is squeezed to fit rather than cut.
  auto heading = [&](double y, double size, std::string_view attributes, const std::string& text) {
    std::string fit;
    if (static_cast<double>(display_width(text)) * size * 0.56 > kWidth - 2 * 20) {
      fit = " textLength=\"" + fixed1(kWidth - 2 * 20) + "\" lengthAdjust=\"spacingAndGlyphs\"";
    }
    svg += "<text x=\"20\" y=\"" + fixed1(y) + "\" font-size=\"" + fixed1(size) + "\" " + std::string(attributes) +
           fit + ">" + xml_escape(text) + "</text>\n";
  };
  heading(22, 15, "font-weight=\"bold\"",
          report.scenario.rate_rps ? "rill bench: latency by percentile, from each record's intended send time"
                                   : "rill bench: latency by percentile, one record in flight");
  heading(42, 12, "fill=\"#222222\"", scenario_summary(report.scenario));
  heading(60, 11, "fill=\"#666666\"", machine_summary(report.machine));

  if (series.empty()) {
    svg += "<text x=\"" + fixed1(kWidth / 2) + "\" y=\"" + fixed1(kHeight / 2) +
           "\" text-anchor=\"middle\" fill=\"#555555\">no latency distribution in this report</text>\n</svg>\n";
    return svg;
  }

  // Axes: nines from 0 to the most any line reaches; latency from the 1-2-5
  // step below the smallest value to the one above the largest (and the
  // deadline, so that it shows).
  double x_max = 1, y_low = std::numeric_limits<double>::max(), y_high = 0;
  for (const Series& s : series) {
    for (const auto& [x, v] : s.points) {
      x_max = std::max(x_max, x);
      y_low = std::min(y_low, v);
      y_high = std::max(y_high, v);
    }
  }
  if (deadline && deadline->deadline_ns > 0) {
    y_low = std::min(y_low, static_cast<double>(deadline->deadline_ns));
    y_high = std::max(y_high, static_cast<double>(deadline->deadline_ns));
  }
  y_low = floor_125(y_low);
  y_high = ceil_125(y_high);
  while (y_high / y_low < 9.99) y_high = ceil_125(y_high * 1.5);  // at least a decade
  const double log_low = std::log10(y_low), log_span = std::log10(y_high) - log_low;
  auto px = [&](double nines) { return kLeft + nines / x_max * (kRight - kLeft); };
  auto py = [&](double v) { return kBottom - (std::log10(v) - log_low) / log_span * (kBottom - kTop); };

  // Grid: every 1-2-5 step of latency (labelled all when few decades, else
  // only the decades), every whole nine, and 50%.
  svg += "<g stroke-width=\"1\">\n";
  const bool label_all = log_span <= 6.01;
  std::string labels;
  for (int decade = static_cast<int>(std::floor(log_low)); decade <= static_cast<int>(std::ceil(log_low + log_span));
       ++decade) {
    for (int m : {1, 2, 5}) {
      const double v = m * std::pow(10.0, decade);
      if (v < y_low * (1 - 1e-9) || v > y_high * (1 + 1e-9)) continue;
      const std::string y = fixed1(py(v));
      const bool major = m == 1;
      svg += "<line x1=\"" + fixed1(kLeft) + "\" y1=\"" + y + "\" x2=\"" + fixed1(kRight) + "\" y2=\"" + y +
             "\" stroke=\"" + (major ? "#c8c8c8" : "#e6e6e6") + "\"/>\n";
      if (major || label_all) {
        labels += "<text x=\"" + fixed1(kLeft - 6) + "\" y=\"" + fixed1(py(v) + 4) + "\" text-anchor=\"end\">" +
                  xml_escape(format_ns(static_cast<std::int64_t>(std::llround(v)), true)) + "</text>\n";
      }
    }
  }
  std::vector<std::pair<double, std::string>> x_ticks = {{std::log10(2.0), "50%"}};
  for (int n = 0; n <= static_cast<int>(std::floor(x_max + 1e-9)); ++n) x_ticks.emplace_back(n, nines_label(n));
  for (const auto& [nines, label] : x_ticks) {
    const std::string x = fixed1(px(nines));
    svg += "<line x1=\"" + x + "\" y1=\"" + fixed1(kTop) + "\" x2=\"" + x + "\" y2=\"" + fixed1(kBottom) +
           "\" stroke=\"" + (nines == std::floor(nines) ? "#c8c8c8" : "#e6e6e6") + "\"/>\n";
    labels += "<text x=\"" + x + "\" y=\"" + fixed1(kBottom + 18) + "\" text-anchor=\"middle\">" + label + "</text>\n";
  }
  svg += "</g>\n<rect x=\"" + fixed1(kLeft) + "\" y=\"" + fixed1(kTop) + "\" width=\"" + fixed1(kRight - kLeft) +
         "\" height=\"" + fixed1(kBottom - kTop) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  svg += "<g fill=\"#333333\">\n" + labels + "</g>\n";
  svg += "<text x=\"" + fixed1((kLeft + kRight) / 2) + "\" y=\"" + fixed1(kHeight - 18) +
         "\" text-anchor=\"middle\">percentile</text>\n";
  svg += "<text transform=\"translate(18 " + fixed1((kTop + kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">latency</text>\n";

  if (deadline && deadline->deadline_ns > 0) {
    const std::string y = fixed1(py(static_cast<double>(deadline->deadline_ns)));
    svg += "<line x1=\"" + fixed1(kLeft) + "\" y1=\"" + y + "\" x2=\"" + fixed1(kRight) + "\" y2=\"" + y +
           "\" stroke=\"#cc0000\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/>\n";
    svg += "<text x=\"" + fixed1(kRight - 6) + "\" y=\"" + fixed1(py(static_cast<double>(deadline->deadline_ns)) - 5) +
           "\" text-anchor=\"end\" fill=\"#cc0000\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">" +
           xml_escape(deadline_summary(*deadline)) + "</text>\n";
  }

  // Lines: rill's solid, baselines dashed. Points closer than 0.1 px merge,
  // and a corner that continues a straight run is dropped.
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> corners;
    for (const auto& [nines, v] : series[i].points) {
      std::pair<std::string, std::string> c{fixed1(px(nines)), fixed1(py(v))};
      if (!corners.empty() && corners.back() == c) continue;
      const std::size_t n = corners.size();
      if (n >= 2 && ((corners[n - 2].first == corners[n - 1].first && corners[n - 1].first == c.first) ||
                     (corners[n - 2].second == corners[n - 1].second && corners[n - 1].second == c.second))) {
        corners.back() = c;
      } else {
        corners.push_back(c);
      }
    }
    std::string points;
    for (const auto& [x, y] : corners) points += (points.empty() ? "" : " ") + x + "," + y;
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(kColours[i % kColours.size()]) +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\"" +
           (is_rill(series[i].result->transport) ? "" : " stroke-dasharray=\"7 3\"") + " points=\"" + points + "\"/>\n";
  }

  // Legend, under the plot.
  std::size_t name_chars = 0;
  for (const Series& s : series) name_chars = std::max(name_chars, display_width(s.result->transport));
  const double name_x = kLeft + 44, p50_x = name_x + static_cast<double>(name_chars + 2) * kMonoCharWidth;
  const double p99_x = p50_x + 14 * kMonoCharWidth, legend_right = p99_x + 14 * kMonoCharWidth;
  const double row_height = kRowHeight;
  svg += "<rect x=\"" + fixed1(kLeft + 10) + "\" y=\"" + fixed1(legend_top) + "\" width=\"" +
         fixed1(legend_right - kLeft - 10) + "\" height=\"" +
         fixed1(row_height * static_cast<double>(series.size()) + 10) +
         "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n";
  svg += "<g font-family=\"monospace\" font-size=\"12\">\n";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const TransportResult& r = *series[i].result;
    const double y = legend_top + 5 + row_height * (static_cast<double>(i) + 0.5);
    svg += "<line x1=\"" + fixed1(kLeft + 16) + "\" y1=\"" + fixed1(y) + "\" x2=\"" + fixed1(kLeft + 38) + "\" y2=\"" +
           fixed1(y) + "\" stroke=\"" + std::string(kColours[i % kColours.size()]) + "\" stroke-width=\"2\"" +
           (is_rill(r.transport) ? "" : " stroke-dasharray=\"7 3\"") + "/>\n";
    const std::string baseline = fixed1(y + 4);
    svg += "<text x=\"" + fixed1(name_x) + "\" y=\"" + baseline + "\">" + xml_escape(r.transport) + "</text>\n";
    if (r.latency) {
      svg += "<text x=\"" + fixed1(p50_x) + "\" y=\"" + baseline + "\">" +
             xml_escape("p50 " + format_ns(r.latency->p50)) + "</text>\n";
      svg += "<text x=\"" + fixed1(p99_x) + "\" y=\"" + baseline + "\">" +
             xml_escape("p99 " + format_ns(r.latency->p99)) + "</text>\n";
    }
    if (!r.error.empty()) {
      svg += "<text x=\"" + fixed1(legend_right + 6) + "\" y=\"" + baseline + "\" fill=\"#cc0000\">ERROR</text>\n";
    }
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace rill::bench
