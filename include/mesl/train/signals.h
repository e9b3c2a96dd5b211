#pragma once
// Graceful stops. SIGTERM and SIGUSR1 (what Slurm sends before a time limit or a preemption) set a flag that the
// training loops read at every step boundary; the job then checkpoints and exits 0. The handler reinstalls the
// default action, so a second signal ends the process at once (and mpirun ends the job).
namespace mesl::train {

void install_stop_handlers();
// Back to the default actions, for a rank that is ending anyway: a signal then must not announce a stop.
void remove_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal number that asked for the stop, 0 if none

}  // namespace mesl::train
