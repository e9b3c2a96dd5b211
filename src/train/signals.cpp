#include "mesl/train/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace mesl::train {
namespace {

volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_announce = 0;  // training has started: say so when a stop is requested

void announce(int sig) {
  const char* text = sig == SIGTERM ? "mesl: SIGTERM: stopping at the next step boundary (again to end now)\n"
                                    : "mesl: SIGUSR1: stopping at the next step boundary (again to end now)\n";
  const ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));  // async-signal-safe, unlike iostreams
  (void)ignored;
}

extern "C" void on_stop_signal(int sig) {
  if (g_signal == 0) {
    g_signal = sig;
    if (g_announce) announce(sig);
    return;
  }
  // A second signal is not polite any more: end now with the signal's default action.
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

void announce_stop_signals() {
  g_announce = 1;
  if (g_signal != 0) announce(g_signal);
}

void remove_stop_handlers() {
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGUSR1, SIG_DFL);
}

bool stop_requested() { return g_signal != 0; }
int stop_signal() { return g_signal; }

}  // namespace mesl::train
