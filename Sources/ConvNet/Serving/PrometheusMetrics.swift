import Foundation

/// Counters and histograms written in the Prometheus text exposition format (version 0.0.4),
/// the page a server gives at `GET /metrics`. Thread-safe: every update and the rendering take
/// one lock, so counts read together are consistent.
///
/// Written by hand rather than with swift-prometheus, which would add swift-metrics and
/// swift-atomics to the server's build for the two metric kinds needed here.
///
/// ```
/// # HELP convnet_requests_total HTTP requests answered, by route and status.
/// # TYPE convnet_requests_total counter
/// convnet_requests_total{route="/v1/predict",status="200"} 12
/// # HELP convnet_batch_size Images per forward pass.
/// # TYPE convnet_batch_size histogram
/// convnet_batch_size_bucket{le="1"} 3
/// ...
/// convnet_batch_size_bucket{le="+Inf"} 5
/// convnet_batch_size_sum 19
/// convnet_batch_size_count 5
/// ```
public final class PrometheusRegistry: @unchecked Sendable {
    private enum Kind: String {
        case counter, gauge, histogram
    }

    private struct Family {
        var name: String
        var help: String
        var kind: Kind
        /// Histogram bucket upper bounds, ascending (counters: empty).
        var bounds: [Double]
        /// Label text (`route="/x",status="200"`, or "") → counter value or histogram series.
        var series: [String: Series] = [:]
    }

    private struct Series {
        var value: Double = 0
        /// Histogram: observations ≤ each bound (not cumulative; summed when written).
        var bucketCounts: [UInt64] = []
        var count: UInt64 = 0
    }

    private let lock = NSLock()
    private var families: [Family] = []
    private var index: [String: Int] = [:]

    /// An empty registry.
    public init() {}

    /// Declares a counter `name` (a Prometheus metric name ending in `_total`).
    public func declareCounter(_ name: String, help: String) {
        declare(Family(name: name, help: help, kind: .counter, bounds: []))
    }

    /// Declares a gauge `name`: a value that goes up and down, set with ``set(_:_:labels:)``.
    public func declareGauge(_ name: String, help: String) {
        declare(Family(name: name, help: help, kind: .gauge, bounds: []))
    }

    /// Sets gauge `name` with `labels` to `value`.
    public func set(_ name: String, _ value: Double, labels: [(String, String)] = []) {
        update(name, labels: labels) { series, _ in series.value = value }
    }

    /// Declares a histogram `name` with bucket upper bounds `buckets` (ascending; `+Inf` is added).
    public func declareHistogram(_ name: String, help: String, buckets: [Double]) {
        precondition(zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 }, "buckets must ascend")
        declare(Family(name: name, help: help, kind: .histogram, bounds: buckets))
    }

    private func declare(_ family: Family) {
        lock.lock()
        defer { lock.unlock() }
        precondition(index[family.name] == nil, "metric \(family.name) declared twice")
        index[family.name] = families.count
        families.append(family)
    }

    /// Adds `amount` to counter `name` with `labels` (a series is created at its first use).
    public func increment(_ name: String, labels: [(String, String)] = [], by amount: Double = 1) {
        update(name, labels: labels) { series, _ in series.value += amount }
    }

    /// Records `value` in histogram `name` with `labels`.
    public func observe(_ name: String, _ value: Double, labels: [(String, String)] = []) {
        update(name, labels: labels) { series, bounds in
            if series.bucketCounts.isEmpty { series.bucketCounts = [UInt64](repeating: 0, count: bounds.count) }
            if let bucket = bounds.firstIndex(where: { value <= $0 }) { series.bucketCounts[bucket] += 1 }
            series.value += value
            series.count += 1
        }
    }

    private func update(
        _ name: String, labels: [(String, String)], _ body: (inout Series, [Double]) -> Void
    ) {
        let key = Self.labelText(labels)
        lock.lock()
        defer { lock.unlock() }
        guard let position = index[name] else { preconditionFailure("metric \(name) was not declared") }
        let bounds = families[position].bounds
        body(&families[position].series[key, default: Series()], bounds)
    }

    /// The value of counter or gauge `name` with `labels` (0 when never set).
    public func counterValue(_ name: String, labels: [(String, String)] = []) -> Double {
        lock.lock()
        defer { lock.unlock() }
        return index[name].flatMap { families[$0].series[Self.labelText(labels)]?.value } ?? 0
    }

    /// Every metric in the text exposition format, families in declaration order, series
    /// sorted by their labels; histograms as cumulative `_bucket{le=...}`, `_sum` and `_count`.
    public func exposition() -> String {
        lock.lock()
        defer { lock.unlock() }
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.kind.rawValue)\n"
            for (labels, series) in family.series.sorted(by: { $0.key < $1.key }) {
                switch family.kind {
                case .counter, .gauge:
                    text += "\(family.name)\(Self.braced(labels)) \(Self.format(series.value))\n"
                case .histogram:
                    var cumulative: UInt64 = 0
                    for (bound, count) in zip(family.bounds, series.bucketCounts) {
                        cumulative += count
                        let bucketLabels = (labels.isEmpty ? "" : labels + ",") + "le=\"\(Self.format(bound))\""
                        text += "\(family.name)_bucket{\(bucketLabels)} \(cumulative)\n"
                    }
                    let infinity = (labels.isEmpty ? "" : labels + ",") + "le=\"+Inf\""
                    text += "\(family.name)_bucket{\(infinity)} \(series.count)\n"
                    text += "\(family.name)_sum\(Self.braced(labels)) \(Self.format(series.value))\n"
                    text += "\(family.name)_count\(Self.braced(labels)) \(series.count)\n"
                }
            }
        }
        return text
    }

    /// `a="x",b="y"` with `\`, `"` and newlines escaped as the format requires.
    static func labelText(_ labels: [(String, String)]) -> String {
        labels.map { name, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                of: "\"", with: "\\\""
            )
            .replacingOccurrences(of: "\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
    }

    private static func braced(_ labels: String) -> String { labels.isEmpty ? "" : "{\(labels)}" }

    /// Integers without a fraction ("12"), other values in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
