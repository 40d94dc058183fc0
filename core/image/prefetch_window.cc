#include "core/image/prefetch_window.h"

#include <algorithm>
#include <cmath>

namespace fvd {

PrefetchWindow::PrefetchWindow(const PrefetchWindowLimits& limits) : limits_(limits) {
  limits_.max_reads = std::max(1.0, limits_.max_reads);
  limits_.min_window = std::clamp(limits_.min_window, 1e-6, 1.0);
  if (limits_.target <= Duration::zero()) limits_.target = Duration(1);
}

void PrefetchWindow::Completed(TimePoint now, uint64_t bytes, Duration took) {
  if (bytes == 0 || took <= Duration::zero()) return;
  auto [least, first] = least_.try_emplace(bytes, took);
  if (!first && took < least->second) least->second = took;
  queueing_ = Filtered(took - least->second);
  const double off = 1.0 - std::chrono::duration<double>(queueing_).count() /
                               std::chrono::duration<double>(Target(least->second)).count();
  if (off >= 0) {
    w_ += limits_.gain * off / std::max(w_, 1.0);
  } else {
    w_ -= limits_.beta * std::min(1.0, -off) * std::min(w_, 1.0);
  }
  w_ = std::clamp(w_, limits_.min_window, limits_.max_reads);
  // Slowdowns: the first when reads first queue past the target, then 20 of its own lengths
  // after the last began (about a twentieth of the time).
  if (!slowdown_due_.has_value()) {
    if (off < 0) slowdown_due_ = now;
  }
  if (slowdown_due_.has_value() && now >= *slowdown_due_ && slowdown_ == Duration::zero()) {
    slowdown_ = took + 2 * least->second;
    slowdown_due_ = now + 20 * slowdown_;
    ++slowdowns_;
  }
}

Duration PrefetchWindow::Filtered(Duration sample) {
  recent_.push_back(sample);
  const auto keep = std::clamp<size_t>(static_cast<size_t>(std::floor(w_)), 1,
                                       std::max<size_t>(1, limits_.filter_reads));
  while (recent_.size() > keep) recent_.pop_front();
  return *std::min_element(recent_.begin(), recent_.end());
}

Duration PrefetchWindow::Target(Duration base) const {
  const auto of_base = std::chrono::duration_cast<Duration>(limits_.target_of_base * base);
  return std::max(limits_.target, of_base);
}

int PrefetchWindow::reads() const {
  return std::max(1, static_cast<int>(std::floor(w_)));
}

Duration PrefetchWindow::TakeGap(Duration took) {
  double gap = 0;
  if (w_ < 1 && took > Duration::zero())
    gap = std::chrono::duration<double>(took).count() * (1 / w_ - 1);
  gap = std::min(gap, std::chrono::duration<double>(limits_.max_gap).count());
  Duration d = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(gap));
  d = std::max(d, slowdown_);
  slowdown_ = Duration::zero();
  return d;
}

}  // namespace fvd
