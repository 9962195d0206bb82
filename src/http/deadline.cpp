#include "http/deadline.h"

namespace kh::http {

Deadline::Deadline(boost::asio::any_io_executor ex, std::function<void()> on_expire)
    : s_(std::make_shared<State>(std::move(ex))) {
  s_->on_expire = std::move(on_expire);
}

Deadline::~Deadline() {
  s_->alive = false;
  s_->on_expire = nullptr;
  s_->timer.cancel();
}

void Deadline::expiresAt(Clock::time_point at) {
  s_->deadline = at;
  s_->expired = false;
  if (!s_->waiting) {
    arm(s_);
  } else if (at < s_->armed_for) {
    s_->timer.cancel();  // the handler re-arms for the earlier deadline
  }
}

void Deadline::clear() {
  s_->deadline = Clock::time_point::max();
}

void Deadline::arm(const std::shared_ptr<State>& s) {
  s->waiting = true;
  s->armed_for = s->deadline;
  s->timer.expires_at(s->deadline);
  s->timer.async_wait([s](const boost::system::error_code&) {
    s->waiting = false;
    if (!s->alive || s->deadline == Clock::time_point::max()) return;
    if (Clock::now() >= s->deadline) {
      s->expired = true;
      s->deadline = Clock::time_point::max();
      if (s->on_expire) s->on_expire();
      return;
    }
    arm(s);
  });
}

}  // namespace kh::http
