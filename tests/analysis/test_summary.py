"""summary.py: one row per run, printed and as CSV."""
import unittest

from meslfiles import TempDirTest, read_csv, run_in_process, table_dict, write_run  # first: finds analysis/

import summary


class Summary(TempDirTest):
    def setUp(self):
        super().setUp()
        self.base = write_run(self.path("base.h5"), [0.5, 0.7, 0.82, 0.8], fwd_mb=[100, 200, 300, 400],
                              bwd_mb=[10, 20, 30, 40], model_mb=[1, 2, 3, 4], wall_s=[10, 20, 30, 40.25],
                              link_s=[5, 10, 15, 20.5])
        self.ms = write_run(self.path("ms.h5"), [0.4, 0.6, 0.75, 0.75, 0.81], fwd_mb=[7.5, 15, 22.5, 30, 37.5],
                            method="ms", cut=8, cut_preset="deep", strings_as_bytes=True)

    def test_csv_columns_and_values(self):
        csv_path = self.path("summary.csv")
        status, _, err = run_in_process(summary, [self.base, self.ms, "--csv", csv_path])
        self.assertEqual(status, 0, err)
        rows = read_csv(csv_path)
        self.assertEqual(list(rows[0]), list(summary.CSV_COLUMNS))
        self.assertEqual([r["file"] for r in rows], [self.base, self.ms])
        base, ms = rows
        self.assertEqual(base["method"], "identity")
        self.assertEqual(base["epochs"], "4")
        self.assertEqual(float(base["final_acc1"]), 0.8)
        self.assertEqual(float(base["best_acc1"]), 0.82)
        self.assertEqual(base["best_epoch"], "3")
        self.assertEqual(base["fwd_bytes"], "400000000")
        self.assertEqual(base["bwd_bytes"], "40000000")
        self.assertEqual(base["model_bytes"], "4000000")
        self.assertEqual(float(base["wall_s"]), 40.25)
        self.assertEqual(float(base["link_s"]), 20.5)
        self.assertEqual(float(base["bpe"]), 32.0)
        self.assertEqual((base["dataset"], base["model"], base["cut"], base["topology"], base["clients"]),
                         ("fashion-mnist", "cnn", "2", "sequential", "10"))
        # Attributes stored as bytes read the same as those stored as str.
        self.assertEqual(ms["method"], "ms")
        self.assertEqual(ms["codec"], "ms:keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch")
        self.assertEqual((ms["cut"], ms["cut_preset"]), ("8", "deep"))
        self.assertEqual(float(ms["bpe"]), 2.32)
        self.assertEqual(ms["best_epoch"], "5")
        self.assertEqual(ms["fwd_bytes"], "37500000")

    def test_clients_ranks_and_participation(self):
        many = write_run(self.path("many.h5"), [0.5, 0.6], clients=1000,
                         extra_attrs={"client_ranks": 2, "participants_per_round": 100, "world_size": 3})
        csv_path = self.path("clients.csv")
        status, out, err = run_in_process(summary, [self.base, many, "--csv", csv_path])
        self.assertEqual(status, 0, err)
        base, row = read_csv(csv_path)
        self.assertEqual((row["clients"], row["client_ranks"], row["participants_per_round"]), ("1000", "2", "100"))
        # A file of before these attributes: one client per rank, every client in every round.
        self.assertEqual((base["clients"], base["client_ranks"], base["participants_per_round"]), ("10", "10", "10"))
        printed = table_dict(out)[many]
        self.assertEqual((printed["clients"], printed["ranks"], printed["per_round"]), ("1000", "2", "100"))

    def test_printed_table(self):
        status, out, err = run_in_process(summary, [self.base, self.ms])
        self.assertEqual(status, 0, err)
        rows = table_dict(out)
        base, ms = rows[self.base], rows[self.ms]
        self.assertEqual((base["final%"], base["best%"], base["best_ep"]), ("80.00", "82.00", "3"))
        self.assertEqual((base["fwd_MB"], base["bwd_MB"], base["model_MB"]), ("400.00", "40.00", "4.00"))
        self.assertEqual((base["wall_s"], base["link_s"]), ("40.2", "20.5"))
        self.assertEqual(base["settings"], "-")
        self.assertEqual(ms["settings"], "keep=0.01,bits=2,rounding=round,sign=nonneg,scope=batch")
        self.assertEqual((ms["bpe"], ms["cut"], ms["epochs"]), ("2.32", "8 (deep)", "5"))

    def test_incomplete_runs_report_the_epochs_they_have(self):
        for n in (0, 1, 3):
            with self.subTest(epochs=n):
                acc = [0.3, 0.9, 0.6][:n]
                path = write_run(self.path(f"killed{n}.h5"), acc, method="sp")
                csv_path = self.path(f"s{n}.csv")
                status, out, err = run_in_process(summary, [path, "--csv", csv_path])
                self.assertEqual(status, 0, err)
                row = read_csv(csv_path)[0]
                printed = table_dict(out)[path]
                self.assertEqual(row["epochs"], str(n))
                if n == 0:
                    self.assertEqual((row["final_acc1"], row["best_acc1"], row["fwd_bytes"]), ("", "", ""))
                    self.assertEqual((printed["final%"], printed["best%"], printed["fwd_MB"]), ("-", "-", "-"))
                else:
                    self.assertEqual(float(row["final_acc1"]), acc[-1])
                    self.assertEqual(float(row["best_acc1"]), max(acc))
                    self.assertEqual(row["best_epoch"], str(acc.index(max(acc)) + 1))
                    self.assertEqual(row["fwd_bytes"], str(100_000_000 * n))

    def test_glob_and_directory_inputs(self):
        status, out, _ = run_in_process(summary, [self.path("*.h5")])
        self.assertEqual(status, 0)
        self.assertEqual(sorted(table_dict(out)), sorted([self.base, self.ms]))
        status, out, _ = run_in_process(summary, [self.dir, self.base])  # the duplicate is listed once
        self.assertEqual(status, 0)
        self.assertEqual(len(table_dict(out)), 2)

    def test_where_filters_runs(self):
        status, out, _ = run_in_process(summary, [self.base, self.ms, "--where", "method=ms", "--where", "cut=8"])
        self.assertEqual(status, 0)
        self.assertEqual(list(table_dict(out)), [self.ms])
        status, _, err = run_in_process(summary, [self.base, self.ms, "--where", "method=qu"])
        self.assertEqual(status, 1)
        self.assertEqual(err.strip(), "summary.py: error: no runs matched --where method=qu (of 2 loaded)")


if __name__ == "__main__":
    unittest.main()
