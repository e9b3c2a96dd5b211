#pragma once
// Graceful stops. SIGTERM and SIGUSR1 (what Slurm sends before a time limit or a preemption) set a flag that the
// training loops read at every step boundary; the job then checkpoints and exits 0. The handler reinstalls the
// default action, so a second signal ends the process at once (and mpirun ends the job).
namespace mesl::train {

// The handlers stay silent until announce_stop_signals(), which run_training calls once start-up has succeeded:
// a rank that fails to start (or is ended by mpirun because another did) must not announce a stop that will
// never come. A signal that arrived during start-up is announced then.
void install_stop_handlers();
void announce_stop_signals();
// Back to the default actions, for a rank that is ending with an error: a signal then ends it at once.
void remove_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal number that asked for the stop, 0 if none

}  // namespace mesl::train
