"""traffic.py: bytes to reach the target accuracy and saving factors (the paper's Table 1) on hand-made runs."""
import unittest

from meslfiles import TempDirTest, read_csv, run_in_process, table_dict, tables, write_run  # first: finds analysis/

import traffic
from meslrun import load_run


class Table1Scenario(TempDirTest):
    """Group cut 2: the baseline reaches 0.80 at epoch 3 after 300 MB; MS reaches it at epoch 4 after 30 MB; SP
    never does; QU hits 0.80 exactly at epoch 2 after 120 MB. Group cut 8 has an MS run and no baseline."""

    def setUp(self):
        super().setUp()
        self.base = write_run(self.path("base.h5"), [0.5, 0.7, 0.8, 0.79, 0.8], fwd_mb=[100, 200, 300, 400, 500])
        self.ms = write_run(self.path("ms.h5"), [0.5, 0.7, 0.78, 0.81], fwd_mb=[7.5, 15, 22.5, 30], method="ms")
        self.sp = write_run(self.path("sp.h5"), [0.5, 0.7, 0.78, 0.79, 0.795], fwd_mb=[8, 16, 24, 32, 40],
                            method="sp")
        self.qu = write_run(self.path("qu.h5"), [0.6, 0.8], fwd_mb=[60, 120], method="qu")
        self.deep = write_run(self.path("deep_ms.h5"), [0.6, 0.85, 0.9], fwd_mb=[1, 2, 3], method="ms", cut=8,
                              cut_preset="deep")
        self.all = [self.base, self.ms, self.sp, self.qu, self.deep]

    def run_traffic(self, *extra):
        status, out, err = run_in_process(traffic, self.all + list(extra))
        self.assertEqual(status, 0, err)
        return out, err

    def csv_by_file(self, *extra):
        csv_path = self.path("long.csv")
        self.run_traffic("--csv", csv_path, *extra)
        return {row["file"]: row for row in read_csv(csv_path)}

    def test_wide_table_has_the_factors_per_group_and_method(self):
        out, _ = self.run_traffic()
        wide = table_dict(out, which=0)
        shallow = wide["fashion-mnist / cut 2 (shallow)"]
        self.assertEqual(list(shallow), ["group", "identity", "qu", "sp", "ms"])  # the paper's column order
        self.assertEqual(shallow["identity"], "1.00")
        self.assertEqual(shallow["ms"], "10.00")   # 300 MB / 30 MB
        self.assertEqual(shallow["sp"], "INF")     # never reached: the paper's INF
        self.assertEqual(shallow["qu"], "2.50")    # exactly 0.80 counts (>=): 300 MB / 120 MB
        deep = wide["fashion-mnist / cut 8 (deep)"]
        self.assertEqual(deep["ms"], "no baseline")
        self.assertEqual(deep["identity"], "-")

    def test_long_table_names_epoch_and_traffic_to_target(self):
        out, _ = self.run_traffic()
        long = table_dict(out, which=1, key=1)
        self.assertEqual(long[self.base]["target%"], "80.00")
        self.assertEqual((long[self.base]["epoch"], long[self.base]["MB_to_target"]), ("3", "300.000"))
        self.assertEqual((long[self.ms]["epoch"], long[self.ms]["MB_to_target"]), ("4", "30.000"))
        self.assertEqual((long[self.qu]["epoch"], long[self.qu]["MB_to_target"]), ("2", "120.000"))
        self.assertEqual((long[self.sp]["epoch"], long[self.sp]["MB_to_target"]), ("-", "never"))
        self.assertEqual(long[self.ms]["factor"], "10.00")
        self.assertEqual(long[self.deep]["factor"], "no baseline")
        self.assertIn(f"no baseline (no identity run with the same dataset, model, cut, topology and clients): "
                      f"{self.deep}", out)

    def test_csv_long_format(self):
        rows = self.csv_by_file()
        self.assertEqual(len(rows), 5)
        self.assertEqual(list(rows[self.ms])[:3], ["group", "dataset", "model"])
        self.assertEqual(rows[self.base]["bytes_to_target"], "300000000")
        self.assertEqual(rows[self.ms]["bytes_to_target"], "30000000")
        self.assertEqual(rows[self.ms]["baseline_bytes"], "300000000")
        self.assertEqual(rows[self.ms]["baseline_file"], self.base)
        self.assertAlmostEqual(float(rows[self.ms]["factor"]), 10.0)
        self.assertAlmostEqual(float(rows[self.qu]["factor"]), 2.5)
        self.assertEqual(rows[self.sp]["factor"], "INF")
        self.assertEqual(rows[self.sp]["bytes_to_target"], "")
        self.assertEqual(float(rows[self.ms]["target"]), 0.8)
        self.assertEqual(rows[self.ms]["epoch"], "4")
        self.assertEqual(rows[self.deep]["factor"], "no baseline")
        self.assertEqual(rows[self.deep]["target"], "")

    def test_target_override_applies_to_every_group(self):
        rows = self.csv_by_file("--target", "0.7")
        # Baseline: epoch 2, 200 MB; MS: epoch 2, 15 MB; SP: epoch 2, 16 MB; QU: epoch 2 (0.8 >= 0.7), 120 MB.
        self.assertAlmostEqual(float(rows[self.ms]["factor"]), 200 / 15, places=6)
        self.assertAlmostEqual(float(rows[self.sp]["factor"]), 200 / 16, places=6)
        self.assertAlmostEqual(float(rows[self.qu]["factor"]), 200 / 120, places=6)
        # The group without a baseline still gets its traffic to the given target.
        self.assertEqual(rows[self.deep]["bytes_to_target"], "2000000")
        self.assertEqual(rows[self.deep]["factor"], "no baseline")
        out, _ = self.run_traffic("--target", "0.7")
        self.assertEqual(table_dict(out)["fashion-mnist / cut 2 (shallow)"]["ms"], "13.33")

    def test_target_the_baseline_never_reaches(self):
        rows = self.csv_by_file("--target", "0.81")
        self.assertEqual(rows[self.base]["factor"], "INF")
        self.assertEqual(rows[self.ms]["factor"], "n/a")   # reached, but there is nothing to compare with
        self.assertEqual(rows[self.sp]["factor"], "INF")
        self.assertEqual(rows[self.deep]["factor"], "no baseline")

    def test_target_just_above_a_value_is_not_reached(self):
        # QU's 0.8 must not count for a target a hair above it (the tolerance is far below one test sample).
        rows = self.csv_by_file("--target", "0.8000001")
        self.assertEqual(rows[self.qu]["factor"], "INF")
        rows = self.csv_by_file("--target", "0.8")
        self.assertAlmostEqual(float(rows[self.qu]["factor"]), 2.5)

    def test_bytes_fwd_plus_bwd(self):
        # Backward traffic grows by 50 MB per epoch in every run: baseline 300 + 150, MS 30 + 200.
        rows = self.csv_by_file("--bytes", "fwd+bwd")
        self.assertEqual(rows[self.base]["bytes_to_target"], "450000000")
        self.assertAlmostEqual(float(rows[self.ms]["factor"]), 450 / 230, places=6)
        rows = self.csv_by_file("--bytes", "all")  # plus model (10 MB/epoch) and control (1000 B/epoch)
        self.assertEqual(rows[self.base]["bytes_to_target"], str(480_000_000 + 3000))

    def test_where_selects_one_group(self):
        out, _ = self.run_traffic("--where", "cut=8")
        wide = table_dict(out)
        self.assertEqual(list(wide), ["fashion-mnist / cut 8 (deep)"])


class Grouping(TempDirTest):
    def test_runs_differing_in_clients_or_dataset_are_separate_groups(self):
        base = write_run(self.path("base.h5"), [0.5, 0.9])
        other_clients = write_run(self.path("ms5.h5"), [0.9], method="ms", clients=5)
        other_data = write_run(self.path("mnist.h5"), [0.9], method="ms", dataset="mnist")
        same = write_run(self.path("ms10.h5"), [0.95], fwd_mb=[20], method="ms")
        csv_path = self.path("t.csv")
        status, out, err = run_in_process(traffic, [base, other_clients, other_data, same, "--csv", csv_path])
        self.assertEqual(status, 0, err)
        rows = {r["file"]: r for r in read_csv(csv_path)}
        self.assertEqual(rows[other_clients]["factor"], "no baseline")
        self.assertEqual(rows[other_data]["factor"], "no baseline")
        self.assertAlmostEqual(float(rows[same]["factor"]), 200 / 20)
        groups = list(table_dict(out))
        self.assertEqual(len(groups), 3)
        self.assertIn("fashion-mnist / cut 2 (shallow) / clients=5", groups)  # clients differ: said in the label

    def test_groups_are_listed_shallow_to_deep(self):
        runs = [write_run(self.path(f"{m}{cut}.h5"), [0.5], method=m, cut=cut, cut_preset="")
                for cut in (15, 2, 8) for m in ("ms", "identity")]
        status, out, err = run_in_process(traffic, runs)
        self.assertEqual(status, 0, err)
        self.assertEqual(list(table_dict(out)), [f"fashion-mnist / cut {cut}" for cut in (2, 8, 15)])
        long = tables(out)[1][1]
        self.assertEqual([row[1] for row in long[:2]], [self.path("identity2.h5"), self.path("ms2.h5")])

    def test_two_runs_of_one_method_get_their_own_columns(self):
        base = write_run(self.path("base.h5"), [0.5, 0.9])
        ms1 = write_run(self.path("ms1.h5"), [0.9], fwd_mb=[10], method="ms")
        ms2 = write_run(self.path("ms2.h5"), [0.9], fwd_mb=[40], method="ms",
                        extra_attrs={"codec": "ms:keep=0.02,bits=2", "bpe": 2.64})
        status, out, err = run_in_process(traffic, [base, ms1, ms2])
        self.assertEqual(status, 0, err)
        header, rows = tables(out)[0]
        self.assertEqual(len(header), 4)
        cells = dict(zip(header, rows[0]))
        self.assertIn("20.00", cells.values())
        self.assertIn("5.00", cells.values())

    def test_second_identity_run_is_named_in_a_note(self):
        first = write_run(self.path("a_base.h5"), [0.5, 0.9])
        second = write_run(self.path("b_base.h5"), [0.95], fwd_mb=[50])
        status, out, err = run_in_process(traffic, [first, second])
        self.assertEqual(status, 0, err)
        self.assertIn(f"{first} is the baseline, not {second}", err)

    def test_baseline_without_epochs_leaves_factors_undefined(self):
        for sizes in ([], [0.4, 0.5, 0.6]):   # an empty baseline, then a run that never gets there
            with self.subTest(baseline_epochs=len(sizes)):
                base = write_run(self.path("base.h5"), sizes)
                ms = write_run(self.path("ms.h5"), [0.7], method="ms")
                csv_path = self.path("t.csv")
                status, _, err = run_in_process(traffic, [base, ms, "--csv", csv_path])
                self.assertEqual(status, 0, err)
                rows = {r["file"]: r for r in read_csv(csv_path)}
                if sizes:
                    self.assertAlmostEqual(float(rows[ms]["factor"]), 300 / 100)
                else:
                    self.assertEqual(rows[ms]["factor"], "n/a")
                    self.assertEqual(rows[base]["target"], "")


class Functions(TempDirTest):
    def test_first_reach_over_run_lengths(self):
        for n in (0, 1, 2, 7):
            with self.subTest(epochs=n):
                acc = [0.1 * (i + 1) for i in range(n)]
                run = load_run(write_run(self.path(f"r{n}.h5"), acc, fwd_mb=[3 * (i + 1) for i in range(n)]))
                epoch, traffic_bytes = traffic.first_reach(run, 0.2, "fwd")
                if n >= 2:
                    self.assertEqual((epoch, traffic_bytes), (2, 6e6))
                else:
                    self.assertEqual((epoch, traffic_bytes), (None, None))
                self.assertEqual(traffic.first_reach(run, None, "fwd"), (None, None))

    def test_saving_factor(self):
        self.assertEqual(traffic.saving_factor(300.0, 30.0, True), 10.0)
        self.assertEqual(traffic.saving_factor(300.0, float("nan"), False), "INF")
        self.assertEqual(traffic.saving_factor(300.0, 0.0, True), "n/a")
        self.assertEqual(traffic.factor_text(13.5), "13.50")
        self.assertEqual(traffic.factor_text(2 / 3), "0.67")
        self.assertEqual(traffic.factor_text("INF"), "INF")


if __name__ == "__main__":
    unittest.main()
