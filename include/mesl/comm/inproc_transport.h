#pragma once
// The in-process backend of Transport: N ranks as N threads sharing one Hub (mailboxes guarded by a mutex and
// condition variable). For unit tests of protocol logic and of the Transport contract itself.
#include <functional>
#include <memory>

#include "mesl/comm/transport.h"

namespace mesl::comm {

class Hub;

// A hub for `size` ranks; transports made from it talk to each other.
std::shared_ptr<Hub> make_hub(int size, std::vector<std::string> host_names = {});
std::unique_ptr<Transport> make_inproc_transport(std::shared_ptr<Hub> hub, int rank);

// Runs body(transport) on `size` threads, one per rank, and rethrows the first exception any rank threw (after all
// threads ended). Ranks that are still waiting when another rank throws are released by an abort.
void run_ranks(int size, const std::function<void(Transport&)>& body);

}  // namespace mesl::comm
