#pragma once

#include "config/config.h"

namespace kh::app {

// Runs the gateway until SIGTERM/SIGINT and a graceful drain; returns the process exit code.
int serve(const config::Overrides& overrides);

}  // namespace kh::app
