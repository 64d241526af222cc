import Foundation

/// Images, histograms and text for TensorBoard, beside the scalars: the same `Event` records
/// with other kinds of `Summary.Value` (tensorflow/core/framework/summary.proto):
///
/// - image = 4: `Summary.Image` {height = 1, width = 2, colorspace = 3 (1 gray, 3 RGB, 4 RGBA),
///   encoded_image_string = 4 (PNG)}, shown in the Images tab;
/// - histo = 5: `HistogramProto` {min = 1, max = 2, num = 3, sum = 4, sum_squares = 5,
///   bucket_limit = 6, bucket = 7 (packed doubles)}, shown in the Histograms and Distributions tabs;
/// - text: metadata = 9 {plugin_data = 1 {plugin_name = 1: "text"}} and tensor = 8
///   (tensor.proto: dtype = 1 (DT_STRING = 7), tensor_shape = 2 (empty: a scalar),
///   string_val = 8), shown in the Text tab (Markdown).
extension TensorBoardEventWriter {
    /// Appends an image (written as PNG) under `tag`.
    /// - Throws: `ReportError.io` on write failure.
    public func addImage(tag: String, image: RasterImage, step: Int, wallTime: Date = Date()) throws {
        var picture = ProtobufWriter()
        picture.int64(field: 1, Int64(image.height))
        picture.int64(field: 2, Int64(image.width))
        picture.int64(field: 3, Int64(image.channels))
        picture.message(field: 4, PNGEncoder.encode(image))
        var value = ProtobufWriter()
        value.string(field: 1, tag)
        value.message(field: 4, picture.bytes)
        try addSummaryValues([value.bytes], step: step, wallTime: wallTime)
    }

    /// Appends a histogram of `values` under `tag` (`buckets` equal-width buckets between the
    /// smallest and the largest value; non-finite values are left out of the buckets).
    /// - Throws: `ReportError.io` on write failure.
    public func addHistogram(tag: String, values: [Double], step: Int, buckets: Int = 30, wallTime: Date = Date())
        throws
    {
        let histogram = Histogram(values, buckets: buckets)
        var proto = ProtobufWriter()
        proto.double(field: 1, histogram.minimum)
        proto.double(field: 2, histogram.maximum)
        proto.double(field: 3, Double(histogram.count))
        proto.double(field: 4, histogram.sum)
        proto.double(field: 5, histogram.sumOfSquares)
        proto.packedDoubles(field: 6, histogram.bucketLimits)
        proto.packedDoubles(field: 7, histogram.bucketCounts)
        var value = ProtobufWriter()
        value.string(field: 1, tag)
        value.message(field: 5, proto.bytes)
        try addSummaryValues([value.bytes], step: step, wallTime: wallTime)
    }

    /// Appends Markdown text under `tag` (TensorBoard's text plugin).
    /// - Throws: `ReportError.io` on write failure.
    public func addText(tag: String, text: String, step: Int, wallTime: Date = Date()) throws {
        var pluginData = ProtobufWriter()
        pluginData.string(field: 1, "text")
        var metadata = ProtobufWriter()
        metadata.message(field: 1, pluginData.bytes)
        var tensor = ProtobufWriter()
        tensor.int64(field: 1, 7)  // DT_STRING
        tensor.message(field: 2, [])  // a scalar
        tensor.message(field: 8, Array(text.utf8))
        var value = ProtobufWriter()
        value.string(field: 1, tag)
        value.message(field: 8, tensor.bytes)
        value.message(field: 9, metadata.bytes)
        try addSummaryValues([value.bytes], step: step, wallTime: wallTime)
    }

    private func addSummaryValues(_ values: [[UInt8]], step: Int, wallTime: Date) throws {
        var summary = ProtobufWriter()
        for value in values { summary.message(field: 1, value) }
        var event = ProtobufWriter()
        event.double(field: 1, wallTime.timeIntervalSince1970)
        event.int64(field: 2, Int64(step))
        event.message(field: 5, summary.bytes)
        try appendEvent(event.bytes)
    }
}

/// The buckets TensorBoard draws: `bucketCounts[i]` values in (bucketLimits[i − 1], bucketLimits[i]]
/// (the first bucket also holds the minimum).
public struct Histogram: Sendable, Equatable {
    public var minimum: Double
    public var maximum: Double
    public var count: Int
    public var sum: Double
    public var sumOfSquares: Double
    public var bucketLimits: [Double]
    public var bucketCounts: [Double]

    /// `buckets` equal-width buckets over the finite values (one bucket when they are all equal).
    public init(_ values: [Double], buckets: Int = 30) {
        let finite = values.filter(\.isFinite)
        minimum = finite.min() ?? 0
        maximum = finite.max() ?? 0
        count = finite.count
        sum = finite.reduce(0, +)
        sumOfSquares = finite.reduce(0) { $0 + $1 * $1 }
        let width = maximum - minimum
        guard width > 0, buckets > 1 else {
            bucketLimits = [maximum]
            bucketCounts = [Double(count)]
            return
        }
        let low = minimum
        let high = maximum
        var limits = (1...buckets).map { low + width * Double($0) / Double(buckets) }
        limits[buckets - 1] = high
        var counts = [Double](repeating: 0, count: buckets)
        for value in finite {
            // (limit[i-1], limit[i]]: the smallest i with value <= limit[i].
            var index = Int(((value - low) / width * Double(buckets)).rounded(.up)) - 1
            index = min(max(index, 0), buckets - 1)
            if index > 0 && value <= limits[index - 1] { index -= 1 }
            if value > limits[index] && index < buckets - 1 { index += 1 }
            counts[index] += 1
        }
        bucketLimits = limits
        bucketCounts = counts
    }
}

extension ProtobufWriter {
    /// Wire type 2: doubles packed, 8 bytes little-endian each.
    mutating func packedDoubles(field: Int, _ values: [Double]) {
        key(field: field, wireType: 2)
        varint(UInt64(values.count * 8))
        for value in values {
            var bits = value.bitPattern
            for _ in 0..<8 {
                bytes.append(UInt8(bits & 0xFF))
                bits >>= 8
            }
        }
    }
}
