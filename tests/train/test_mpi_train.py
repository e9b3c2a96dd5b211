"""Integration tests of `mesl train` under mpirun: every topology learns, writes a consistent metrics file whose
byte counts reconcile with the codec formula, and is reproducible from its seed; bad options fail cleanly."""
import os
import unittest

import h5py
import numpy as np

from mpi_runs import (SMALL, check_consistent, check_learns, local, mpirun, read_run, scratch)


class Topologies(unittest.TestCase):
    def run_twice(self, ranks, extra, name, epochs=2):
        d = scratch(name)
        runs = []
        base = list(SMALL)
        base[base.index("--epochs") + 1] = str(epochs)
        for i in range(2):
            out = os.path.join(d, f"run{i}.h5")
            p = mpirun(ranks, base + extra + ["--output", out])
            self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
            runs.append(read_run(out))
        return runs

    def check_topology(self, topology, ranks=4, extra=(), deterministic=True, fixed_order=True, epochs=2):
        a, b = self.run_twice(ranks, ["--topology", topology, "--codec", "ms", "--keep", "0.05", "--bits", "2"]
                              + list(extra), topology, epochs)
        check_consistent(self, a)
        check_learns(self, a)
        self.assertEqual(a["attrs"]["topology"], topology)
        self.assertEqual(len(a["epochs"]["epoch"]), epochs)
        self.assertEqual(set(a["steps"]["client"].tolist()), set(range(1, ranks)))
        # The same seed gives the same bytes, and (where the order of service is fixed) the same losses.
        np.testing.assert_array_equal(a["steps"]["fwd_bytes"], b["steps"]["fwd_bytes"])
        if deterministic:
            # With a fixed order of service, step for step; otherwise (sflv1 serves in arrival order, but each
            # client has its own top replica) client by client.
            for client in range(1, ranks) if not fixed_order else [None]:
                rows_a = a["steps"]["client"] == client if client else slice(None)
                rows_b = b["steps"]["client"] == client if client else slice(None)
                np.testing.assert_array_equal(a["steps"]["loss"][rows_a], b["steps"]["loss"][rows_b])
            np.testing.assert_array_equal(a["epochs"]["test_acc1"], b["epochs"]["test_acc1"])
        return a

    def test_sequential(self):
        run = self.check_topology("sequential")
        # The bottom is handed from client to client: model traffic is counted.
        self.assertGreater(run["epochs"]["model_bytes"][-1], 0)
        # After every turn of 3 clients in 2 epochs, except the very last turn of the run (nobody trains after it).
        self.assertEqual(run["messages"]["model"]["count"], 3 * 2 - 1)
        self.assertGreater(run["epochs"]["link_s"][-1], 0)

    def test_sequential_deep_cut(self):
        # At the deep cut the bottom is most of the CNN (1.7 MB): hand-overs go by MPI's rendezvous protocol.
        out = os.path.join(scratch("deep"), "run.h5")
        p = mpirun(3, SMALL + ["--topology", "sequential", "--cut", "deep", "--output", out])
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        run = read_run(out)
        check_consistent(self, run)
        self.assertEqual(run["messages"]["model"]["count"], 2 * 2 - 1)
        self.assertGreater(run["messages"]["model"]["bytes"] / run["messages"]["model"]["count"], 1 << 20)

    def test_sflv1(self):
        # FedAvg over three 256-sample shards averages the first epoch's progress away: a third epoch shows learning.
        run = self.check_topology("sflv1", fixed_order=False, epochs=3)
        self.assertGreater(run["messages"]["model"]["count"], 0)  # FedAvg: clients up, average down

    def test_sflv2_arrival_order(self):
        self.check_topology("sflv2", deterministic=False)

    def test_sflv2_round_robin_is_reproducible(self):
        self.check_topology("sflv2", extra=["--serve-order", "round-robin"])

    def test_local_matches_sequential(self):
        d = scratch("local")
        args = SMALL + ["--codec", "ms", "--keep", "0.05", "--bits", "2"]
        p = local(args + ["--clients", "3", "--output", os.path.join(d, "local.h5")])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = mpirun(4, args + ["--topology", "sequential", "--output", os.path.join(d, "seq.h5")])
        self.assertEqual(p.returncode, 0, p.stderr)
        loc, seq = read_run(os.path.join(d, "local.h5")), read_run(os.path.join(d, "seq.h5"))
        check_consistent(self, loc)
        # The transport changes nothing numerically: same losses, same accuracy, same forward bytes.
        np.testing.assert_array_equal(loc["steps"]["loss"], seq["steps"]["loss"])
        np.testing.assert_array_equal(loc["epochs"]["test_acc1"], seq["epochs"]["test_acc1"])
        np.testing.assert_array_equal(loc["steps"]["fwd_bytes"], seq["steps"]["fwd_bytes"])


    def test_clients_on_fewer_ranks(self):
        # The real transport: 5 clients on 1 or 2 client ranks train exactly as on 5 (the in-process test covers
        # more placements: tests/train/test_placement.cpp).
        d = scratch("placement")
        runs = []
        for ranks in (2, 3, 6):
            out = os.path.join(d, f"r{ranks}.h5")
            p = mpirun(ranks, SMALL + ["--topology", "sflv2", "--serve-order", "round-robin", "--clients", "5",
                                       "--participation", "0.6", "--output", out])
            self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
            runs.append(read_run(out))
        for run in runs[1:]:
            for c in ("client", "loss", "fwd_bytes", "bwd_bytes", "rel_error"):
                np.testing.assert_array_equal(run["steps"][c], runs[0]["steps"][c], err_msg=c)
            for c in ("test_acc1", "model_bytes", "control_bytes", "link_s", "participants"):
                np.testing.assert_array_equal(run["epochs"][c], runs[0]["epochs"][c], err_msg=c)
        self.assertEqual(runs[0]["clients"]["rank"].tolist(), [1, 1, 1, 1, 1])
        self.assertEqual(runs[1]["clients"]["rank"].tolist(), [1, 1, 1, 2, 2])
        self.assertEqual(runs[2]["clients"]["rank"].tolist(), [1, 2, 3, 4, 5])
        self.assertEqual(runs[0]["attrs"]["client_ranks"], 1)
        self.assertEqual(runs[0]["attrs"]["world_size"], 2)
        # 3 of 5 per round, recorded; the steps of a round are its participants'.
        with h5py.File(os.path.join(d, "r2.h5")) as f:
            rounds, clients = f["participants/round"][:], f["participants/client"][:]
        self.assertEqual(rounds.tolist(), [0, 0, 0, 1, 1, 1])
        for r in (0, 1):
            stepped = set(runs[0]["steps"]["client"][runs[0]["steps"]["epoch"] == r].tolist())
            self.assertEqual(stepped, set(clients[rounds == r].tolist()))

    def test_clients_without_data(self):
        # 70 samples over 100 clients: 30 have none, never train, and are listed.
        out = os.path.join(scratch("empty"), "run.h5")
        p = mpirun(3, SMALL + ["--clients", "100", "--synthetic-train", "70", "--epochs", "1", "--output", out])
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertIn("mesl: 30 of 100 clients have no training data (iid partition) and never train", p.stdout)
        run = read_run(out)
        clients = run["clients"]
        self.assertEqual(len(clients["client"]), 100)
        empty = clients["shard_size"] == 0
        self.assertEqual(int(empty.sum()), 30)
        self.assertTrue((clients["steps"][empty] == 0).all())
        self.assertTrue((clients["steps"][~empty] == 1).all())  # one sample each: one batch per epoch
        self.assertEqual(sorted(set(run["steps"]["client"].tolist())), clients["client"][~empty].tolist())


class OpenmpWaits(unittest.TestCase):
    """With several ranks on a node mesl chooses how idle OpenMP threads wait (openmp_waits.h) and runs itself
    again so that libgomp sees it; the metrics file records what the ranks ran with."""

    def waits(self, ranks, args, **env_changes):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        env.update(env_changes)
        out = os.path.join(scratch("omp"), "run.h5")
        tiny = list(SMALL)
        for option, value in [("--epochs", "1"), ("--synthetic-train", "128")] + list(zip(args[::2], args[1::2])):
            if option in tiny:
                tiny[tiny.index(option) + 1] = value
            else:
                tiny += [option, value]
        p = mpirun(ranks, tiny + ["--output", out], env=env)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        attrs = read_run(out)["attrs"]
        return attrs["omp_wait_policy"], attrs["gomp_spincount"]

    def test_sequential_spins_briefly(self):
        # The server and the client take turns, and 1 thread each fits any machine's cores.
        self.assertEqual(self.waits(2, ["--topology", "sequential"]), ("PASSIVE", "10000"))

    def test_splitfed_without_cores_to_spare_does_not_spin(self):
        # Three ranks computing at once with a thread per core each: no core left for a spinning thread.
        threads = str(os.cpu_count())
        self.assertEqual(self.waits(3, ["--topology", "sflv1", "--threads", threads]), ("PASSIVE", ""))

    def test_the_users_policy_stands(self):
        self.assertEqual(self.waits(2, ["--topology", "sequential"], OMP_WAIT_POLICY="ACTIVE"), ("ACTIVE", ""))


class BadOptions(unittest.TestCase):
    def expect_failure(self, ranks, args, text, code=2):
        p = mpirun(ranks, SMALL + args + ["--output", os.path.join(scratch("bad"), "x.h5")], timeout=120)
        self.assertNotEqual(p.returncode, 0)
        errors = [line for line in p.stderr.splitlines() if line.startswith("mesl: error:")]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn(text, errors[0])
        self.assertNotIn("Traceback", p.stderr)
        self.assertNotIn("terminate called", p.stderr)
        # A rank that mpirun ends after rank 0 failed must not announce a graceful stop.
        self.assertNotIn("stopping at the next step boundary", p.stderr)

    def test_unknown_model(self):
        self.expect_failure(3, ["--model", "alexnet"], "unknown model 'alexnet'")

    def test_cut_out_of_range(self):
        self.expect_failure(3, ["--cut", "9"], "out of range")

    def test_ranks_do_not_fit(self):
        self.expect_failure(4, ["--clients", "2"], "--clients 2 is fewer than the 3 client ranks")

    def test_one_rank_is_not_enough(self):
        self.expect_failure(1, ["--topology", "sflv1"], "needs a server and at least one client")

    def test_missing_dataset_directory(self):
        self.expect_failure(3, ["--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist")

    def test_unwritable_output(self):
        p = mpirun(3, SMALL + ["--output", "/nonexistent/dir/run.h5"], timeout=120)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/dir/run.h5", p.stderr)


if __name__ == "__main__":
    unittest.main()
