"""Tests of stockwire-chart: every sample report draws, and bad input gives one line and exit status 1.

Run:  /usr/bin/python3 Tools/charts/test_charts.py      (or: python3 -m unittest discover -s Tools/charts)

The samples in Tools/charts/samples: product-drop.json and black-friday.json are reports of real
stockwire-scenario runs on this machine (3 shops); rehearsal.json is a hand-made day in the format of
`calculator rehearse --json`. The drawing tests are skipped when no Python with matplotlib is found
(apt-get install python3-matplotlib); the bad-input tests run without it.
"""

import json
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHART = os.path.join(HERE, "stockwire-chart")
SAMPLES = os.path.join(HERE, "samples")


def sample(name):
    with open(os.path.join(SAMPLES, name), encoding="utf-8") as f:
        return json.load(f)


def chart(*args):
    """Runs the script as a program (its shell prologue picks the interpreter); (exit status, stdout, stderr)."""
    p = subprocess.run([CHART, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class ChartTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="stockwire-chart-test-")
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, report):
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(report, str):
                f.write(report)
            else:
                json.dump(report, f)
        return path


class DrawingTests(ChartTestCase):
    @classmethod
    def setUpClass(cls):
        with tempfile.TemporaryDirectory() as d:
            status, _, err = chart("rehearsal", os.path.join(SAMPLES, "rehearsal.json"), os.path.join(d, "probe.svg"))
        if status == 3:
            raise unittest.SkipTest(err.strip())

    def draw(self, kind, report, out="chart.svg"):
        """Draws `report` (a sample's name or a dict) and returns the SVG's text."""
        source = os.path.join(SAMPLES, report) if isinstance(report, str) else self.write("report.json", report)
        status, out_text, err = chart(kind, source, self.path(out))
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        self.assertTrue(os.path.getsize(self.path(out)) > 1000)
        if not out.endswith(".svg"):
            return None
        with open(self.path(out), encoding="utf-8") as f:
            svg = f.read()
        self.assertIn("<svg", svg)
        return svg

    def test_productDropShowsEveryShopSalesStockAndHeadline(self):
        svg = self.draw("product-drop", "product-drop.json")
        report = sample("product-drop.json")
        for shop in report["shops"]:
            self.assertIn(f"{shop}: available units shown", svg)  # the whole name: no cut legend
        self.assertIn("units sold, cumulative (all shops)", svg)
        self.assertIn(f"warehouse stock: {report['settings']['units']} units", svg)
        self.assertIn(f"sold {report['sold']} · oversold {report['oversold']}", svg)
        self.assertIn("seconds since the drop started", svg)

    def test_productDropAsPNG(self):
        self.draw("product-drop", "product-drop.json", out="chart.png")
        with open(self.path("chart.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_latencyOfProductDropNamesBothSeriesAndQuantiles(self):
        svg = self.draw("latency", "product-drop.json")
        self.assertIn("ingest receipt → write applied in each shop", svg)
        self.assertIn("sale in one shop → lower count written to the others", svg)
        for q in ("p50", "p95", "p99"):
            self.assertIn(f"<!-- {q} -->", svg)

    def test_latencyOfBlackFriday(self):
        svg = self.draw("latency", "black-friday.json")
        self.assertIn("Latency, Black Friday", svg)
        self.assertIn("the shop's own answer to a write", svg)
        self.assertIn("<!-- p99 -->", svg)

    def test_latencyWithoutSamplesSaysSo(self):
        report = sample("product-drop.json")
        report["settings"]["intervalSeconds"] = 1.5
        report["mode"] = "interval"
        report["endToEnd"] = None
        hist = report["saleVisibleElsewhereHistogram"]
        hist["counts"] = [0] * len(hist["counts"])
        svg = self.draw("latency", report)
        self.assertIn("No latency samples in this report", svg)

    def test_rehearsalNamesEveryPolicyAndStarsTheSafestWithFewestLost(self):
        svg = self.draw("rehearsal", "rehearsal.json")
        for policy in sample("rehearsal.json")["policies"]:
            self.assertIn(policy["name"], svg)
        self.assertIn("<!-- ★ guard-per-sku -->", svg)
        self.assertIn("Oversold units, cumulative", svg)
        self.assertIn("Lost sales (units), cumulative", svg)

    def test_rehearsalWithoutAPolicyAtZeroOversoldSaysSo(self):
        report = sample("rehearsal.json")
        for policy in report["policies"]:
            policy["units_oversold"] += 1
        svg = self.draw("rehearsal", report)
        self.assertIn("No policy kept oversold at 0", svg)
        self.assertNotIn("★", svg)

    def test_rehearsalReadsUnknownFieldsAndOptionalOnes(self):
        report = sample("rehearsal.json")
        report["version"] = 2
        report["something_new"] = {"nested": [1, 2, 3]}
        report["policies"][0]["new_metric"] = 7
        report["policies"][0]["timeline"][0]["extra"] = "x"
        report["recommendations"].append({"sku": "HOOD-GRY-M", "threshold": None, "units_oversold_mirror": 3,
                                          "units_oversold": 1, "units_lost": 0})
        del report["policies"][1]["description"]
        report["policies"][2]["timeline"] = []
        svg = self.draw("rehearsal", report)
        self.assertIn("HOOD-GRY-M: none found", svg)

    def test_rehearsalOfAnHourWithoutClockTimes(self):
        report = sample("rehearsal.json")
        del report["input"]
        for policy in report["policies"]:
            for point in policy["timeline"]:
                point["t_ms"] //= 24
        svg = self.draw("rehearsal", report)
        self.assertIn("minutes since the first event", svg)


class BadInputTests(ChartTestCase):
    def assertOneLineError(self, args, status, *fragments):
        code, out, err = chart(*args)
        self.assertEqual(code, status, err)
        self.assertEqual(out, "")
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertTrue(err.startswith("stockwire-chart: "), err)
        for fragment in fragments:
            self.assertIn(fragment, err)
        self.assertFalse(os.path.exists(self.path("out.svg")))

    def test_missingFile(self):
        self.assertOneLineError(["rehearsal", self.path("nope.json"), self.path("out.svg")], 1, "no such file")

    def test_badJSON(self):
        bad = self.write("bad.json", '{"kind": "stockwire.rehearsal", "policies": [')
        self.assertOneLineError(["rehearsal", bad, self.path("out.svg")], 1, "not valid JSON", "line 1")

    def test_emptyFile(self):
        self.assertOneLineError(["latency", self.write("empty.json", ""), self.path("out.svg")], 1, "not valid JSON")

    def test_notAnObject(self):
        self.assertOneLineError(["product-drop", self.write("a.json", [1, 2]), self.path("out.svg")], 1, "array")

    def test_missingFieldIsNamedWithItsPath(self):
        report = sample("rehearsal.json")
        del report["policies"][2]["timeline"][5]["units_lost"]
        path = self.write("r.json", report)
        self.assertOneLineError(["rehearsal", path, self.path("out.svg")], 1,
                                "missing field 'policies[2].timeline[5].units_lost'")

    def test_missingTopLevelField(self):
        report = sample("product-drop.json")
        del report["timeline"]
        path = self.write("pd.json", report)
        self.assertOneLineError(["product-drop", path, self.path("out.svg")], 1, "missing field 'timeline'")

    def test_fieldOfTheWrongType(self):
        report = sample("product-drop.json")
        report["sold"] = "504"
        path = self.write("pd.json", report)
        self.assertOneLineError(["product-drop", path, self.path("out.svg")], 1, "'sold' is a string")

    def test_histogramWithTheWrongNumberOfCounts(self):
        report = sample("black-friday.json")
        report["endToEnd"]["counts"].pop()
        path = self.write("bf.json", report)
        self.assertOneLineError(["latency", path, self.path("out.svg")], 1, "endToEnd.counts")

    def test_reportOfAnotherKindSuggestsTheRightChart(self):
        self.assertOneLineError(
            ["product-drop", os.path.join(SAMPLES, "black-friday.json"), self.path("out.svg")], 1,
            "black-friday report", "latency")

    def test_outputInAMissingFolder(self):
        out = os.path.join(self.dir.name, "no", "such", "folder", "out.svg")
        self.assertOneLineError(["latency", os.path.join(SAMPLES, "black-friday.json"), out], 1, "cannot write")

    def test_outputOfAnUnknownFormat(self):
        self.assertOneLineError(
            ["latency", os.path.join(SAMPLES, "black-friday.json"), self.path("out.pdf")], 1, ".svg or .png")

    def test_usageError(self):
        self.assertOneLineError(["pie-chart", "a.json", self.path("out.svg")], 2, "invalid choice", "--help")

    def test_helpTeachesEveryChart(self):
        code, out, _ = chart("--help")
        self.assertEqual(code, 0)
        for text in ("product-drop REPORT.json", "latency REPORT.json", "rehearsal REPORT.json",
                     "apt-get install python3-matplotlib", "Exit status"):
            self.assertIn(text, out)


if __name__ == "__main__":
    unittest.main()
