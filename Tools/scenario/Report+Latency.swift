import Foundation

extension Report {
    /// A latency histogram as an SVG bar chart: one group of bars per bucket, one colour per series.
    static func latencySVG(title: String, series: [(name: String, histogram: LatencyHistogram)]) -> String {
        let width = 900.0, height = 420.0, left = 60.0, bottom = 60.0, top = 40.0, right = 220.0
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
        let bounds = series.first?.histogram.boundsMs ?? LatencyHistogram.defaultBoundsMs
        let labels =
            bounds.enumerated().map { i, b in
                "\(i == 0 ? "0" : LatencyHistogram.format(bounds[i - 1]))–\(LatencyHistogram.format(b))"
            }
            + ["> \(LatencyHistogram.format(bounds.last ?? 0))"]
        // Share of each series' samples per bucket, so series with different counts compare.
        let shares = series.map { s -> [Double] in
            let total = Double(max(s.histogram.count, 1))
            return s.histogram.counts.map { Double($0) / total }
        }
        let yMax = max(shares.flatMap { $0 }.max() ?? 1, 0.01)
        let plotW = width - left - right, plotH = height - top - bottom
        let groupW = plotW / Double(labels.count)
        let barW = groupW * 0.8 / Double(max(series.count, 1))
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(left)\" y=\"22\" font-size=\"14\">\(escape(title))</text>\n"
        out +=
            "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let v = yMax * Double(k) / 4
            let y = height - bottom - plotH * Double(k) / 4
            out += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int((v * 100).rounded())) %</text>\n"
        }
        for (i, label) in labels.enumerated() {
            let x = left + groupW * Double(i)
            out +=
                "<text x=\"\(x + groupW / 2)\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\" font-size=\"10\">\(escape(label))</text>\n"
            for (j, share) in shares.enumerated() where i < share.count {
                let h = plotH * share[i] / yMax
                out +=
                    "<rect x=\"\(x + groupW * 0.1 + barW * Double(j))\" y=\"\(height - bottom - h)\" width=\"\(barW)\" height=\"\(h)\" fill=\"\(colors[j % colors.count])\"/>\n"
            }
        }
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 20)\" text-anchor=\"middle\">milliseconds</text>\n"
        for (j, s) in series.enumerated() {
            let y = top + 18 * Double(j)
            out +=
                "<rect x=\"\(width - right + 10)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(colors[j % colors.count])\"/>\n"
            out += "<text x=\"\(width - right + 28)\" y=\"\(y + 10)\">\(escape(s.name)) (\(s.histogram.count))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }
}
