import Foundation
import Testing

@testable import ConvNet

/// TensorBoard event files, read back by independent readers: a Python standard-library decoder
/// (its CRC-32C checked against the RFC 3720 vectors first) and, when installed, TensorBoard's own.
@Suite struct ReportTensorBoardTests {
    /// Writes a small log: loss for steps 1...20, accuracy and learning rate for steps 10 and 20.
    static func writeSampleLog() throws -> URL {
        let directory = try ReportTestSupport.temporaryDirectory("tb")
        let writer = try TensorBoardEventWriter(
            directory: directory, startTime: Date(timeIntervalSince1970: 1_700_000_000), hostname: "testhost")
        for step in 1...20 {
            try writer.addScalar(
                tag: "loss", value: 2.5 / Double(step), step: step,
                wallTime: Date(timeIntervalSince1970: 1_700_000_000 + Double(step)))
            if step % 10 == 0 {
                try writer.addScalars(
                    [("accuracy/train", 0.5 + Double(step) / 100), ("accuracy/val", 0.25), ("learning_rate", 1e-3)],
                    step: step, wallTime: Date(timeIntervalSince1970: 1_700_000_000 + Double(step) + 0.5))
            }
        }
        try writer.flush()
        try writer.close()
        #expect(writer.fileURL.lastPathComponent == "events.out.tfevents.1700000000.testhost")
        return writer.fileURL
    }

    static let pythonEventDecoder = #"""
        import json, struct, sys
        POLY = 0x82F63B78
        TABLE = []
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ POLY if c & 1 else c >> 1
            TABLE.append(c)
        def crc32c(data):
            c = 0xFFFFFFFF
            for b in data:
                c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
            return c ^ 0xFFFFFFFF
        # RFC 3720 B.4 test vectors, so this decoder is checked independently of the Swift code.
        assert crc32c(bytes(32)) == 0x8A9136AA
        assert crc32c(b'\xff' * 32) == 0x62A8AB43
        assert crc32c(bytes(range(32))) == 0x46DD794E
        assert crc32c(b'123456789') == 0xE3069283
        def masked(data):
            c = crc32c(data)
            return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        def varint(buf, pos):
            result = shift = 0
            while True:
                b = buf[pos]; pos += 1
                result |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80: return result, pos
        def fields(buf):
            pos = 0
            while pos < len(buf):
                key, pos = varint(buf, pos)
                number, wire = key >> 3, key & 7
                if wire == 0: value, pos = varint(buf, pos)
                elif wire == 1: value = buf[pos:pos + 8]; pos += 8
                elif wire == 5: value = buf[pos:pos + 4]; pos += 4
                elif wire == 2:
                    n, pos = varint(buf, pos); value = buf[pos:pos + n]; pos += n
                else: raise ValueError('wire type %d' % wire)
                yield number, wire, value
        events = []
        data = open(sys.argv[1], 'rb').read()
        pos = 0
        while pos < len(data):
            header = data[pos:pos + 8]
            length, = struct.unpack('<Q', header)
            length_crc, = struct.unpack('<I', data[pos + 8:pos + 12])
            assert length_crc == masked(header), 'bad length CRC'
            body = data[pos + 12:pos + 12 + length]
            body_crc, = struct.unpack('<I', data[pos + 12 + length:pos + 16 + length])
            assert body_crc == masked(body), 'bad data CRC'
            pos += 16 + length
            event = {'step': 0, 'values': []}
            for number, wire, value in fields(body):
                if number == 1: assert wire == 1; event['wall_time'] = struct.unpack('<d', value)[0]
                elif number == 2: assert wire == 0; event['step'] = value
                elif number == 3: assert wire == 2; event['file_version'] = value.decode()
                elif number == 5:
                    assert wire == 2
                    for n2, w2, v2 in fields(value):
                        assert n2 == 1 and w2 == 2
                        entry = {}
                        for n3, w3, v3 in fields(v2):
                            if n3 == 1: entry['tag'] = v3.decode()
                            elif n3 == 2: assert w3 == 5; entry['simple_value'] = struct.unpack('<f', v3)[0]
                        event['values'].append(entry)
            events.append(event)
        print(json.dumps(events))
        """#

    struct DecodedEvent: Decodable {
        struct Value: Decodable {
            var tag: String
            var simpleValue: Double
            enum CodingKeys: String, CodingKey {
                case tag
                case simpleValue = "simple_value"
            }
        }
        var wallTime: Double
        var step: Int
        var fileVersion: String?
        var values: [Value]
        enum CodingKeys: String, CodingKey {
            case wallTime = "wall_time"
            case step
            case fileVersion = "file_version"
            case values
        }
    }

    @Test func pythonStandardLibraryDecoderReadsTheEvents() throws {
        guard ReportTestSupport.hasPython else {
            print("skipped: python3 not found")
            return
        }
        let file = try Self.writeSampleLog()
        let result = try #require(ReportTestSupport.python(Self.pythonEventDecoder, [file.path]))
        #expect(result.status == 0, "\(result.stderr)")
        let events = try JSONDecoder().decode([DecodedEvent].self, from: Data(result.stdout.utf8))
        #expect(events.count == 1 + 20 + 2)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[0].wallTime == 1_700_000_000)
        #expect(events[1].step == 1)
        #expect(events[1].wallTime == 1_700_000_001)
        #expect(events[1].values.map(\.tag) == ["loss"])
        #expect(events[1].values[0].simpleValue == Double(Float(2.5)))
        let combined = try #require(events.first { $0.values.count == 3 })
        #expect(combined.step == 10)
        #expect(combined.values.map(\.tag) == ["accuracy/train", "accuracy/val", "learning_rate"])
        #expect(combined.values[2].simpleValue == Double(Float(1e-3)))
    }

    @Test func tensorBoardReadsTheScalars() throws {
        guard ReportTestSupport.hasPython,
            ReportTestSupport.python("import tensorboard.backend.event_processing.event_accumulator", [], timeout: 60)?
                .status == 0
        else {
            print("skipped: the 'tensorboard' Python package is not importable (pip install tensorboard)")
            return
        }
        let file = try Self.writeSampleLog()
        let script = """
            import sys, json
            from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            first = next(iter(EventFileLoader(sys.argv[1]).Load()))
            acc = EventAccumulator(sys.argv[2]); acc.Reload()
            out = {'file_version': first.file_version, 'tags': sorted(acc.Tags()['scalars'])}
            out['loss'] = [[e.step, e.value, e.wall_time] for e in acc.Scalars('loss')]
            out['val'] = [[e.step, e.value] for e in acc.Scalars('accuracy/val')]
            print(json.dumps(out))
            """
        let result = try #require(ReportTestSupport.python(script, [file.path, file.deletingLastPathComponent().path]))
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["file_version"] as? String == "brain.Event:2")
        #expect(json["tags"] as? [String] == ["accuracy/train", "accuracy/val", "learning_rate", "loss"])
        let loss = try #require(json["loss"] as? [[Double]])
        #expect(loss.count == 20)
        #expect(loss[0] == [1, Double(Float(2.5)), 1_700_000_001])
        #expect(loss[19][0] == 20)
        #expect(json["val"] as? [[Double]] == [[10, 0.25], [20, 0.25]])
    }

    /// A training run's events hold, besides the scalars, the model summary and settings as
    /// text, per-epoch weight and gradient histograms, and the filters and the validation
    /// confusion matrix as images; TensorBoard's own EventAccumulator reads them back.
    @Test func tensorBoardReadsImagesHistogramsAndText() throws {
        guard ReportTestSupport.hasPython,
            ReportTestSupport.python("import tensorboard.backend.event_processing.event_accumulator", [], timeout: 60)?
                .status == 0
        else {
            print("skipped: the 'tensorboard' Python package is not importable (pip install tensorboard)")
            return
        }
        let directory = try ReportTestSupport.temporaryDirectory("tb-run")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = TrainingConfiguration()
        configuration.trainingCount = 200
        configuration.validationCount = 100
        configuration.epochs = 2
        configuration.batchSize = 50
        let job = try TrainingJob(
            configuration: configuration, directory: directory, progress: ProgressBar(mode: .quiet) { _ in })
        try job.run()
        let names = job.model.network.namedParameters.map(\.name)
        let script = """
            import sys, json
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            acc = EventAccumulator(sys.argv[1], size_guidance={'images': 0, 'histograms': 0, 'tensors': 0}); acc.Reload()
            tags = acc.Tags()
            out = {'images': {t: [[e.step, e.width, e.height, len(e.encoded_image_string)] for e in acc.Images(t)] for t in tags['images']},
                   'histograms': {t: [[e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max,
                                       sum(e.histogram_value.bucket)] for e in acc.Histograms(t)] for t in tags['histograms']},
                   'text': {t: [e.tensor_proto.string_val[0].decode() for e in acc.Tensors(t)] for t in tags['tensors']}}
            print(json.dumps(out))
            """
        let result = try #require(ReportTestSupport.python(script, [directory.path]))
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let images = try #require(json["images"] as? [String: [[Double]]])
        #expect(Set(images.keys) == ["filters/first_layer", "confusion_matrix/validation"])
        #expect(images["confusion_matrix/validation"]?.map { $0[0] } == [4, 8])  // after each epoch's last step
        #expect(images.values.allSatisfy { $0.allSatisfy { $0[1] > 8 && $0[2] > 8 && $0[3] > 100 } })
        let histograms = try #require(json["histograms"] as? [String: [[Double]]])
        #expect(Set(histograms.keys) == Set(names.map { "weights/\($0)" } + names.map { "gradients/\($0)" }))
        for name in names {
            let weights = try #require(histograms["weights/\(name)"]?.last)
            let values = try #require(job.model.network.namedParameters.first { $0.name == name }).parameter.value
                .scalars
            // The last epoch's histogram is of the weights as they were then: the run restores the
            // best epoch's at the end, which is the last one here only if it was the best.
            #expect(weights[1] == Double(values.count) && weights[4] == Double(values.count), "\(name)")
        }
        let text = try #require(json["text"] as? [String: [String]])
        #expect(text["model/summary"]?.first?.contains("| layer | output shape | parameters |") == true)
        #expect(text["run/configuration"]?.first?.contains("| setting | value |") == true)
    }

    /// Histogram buckets: counts add up, each value in (limit[i-1], limit[i]], edge cases.
    @Test func histogramBuckets() {
        let values: [Double] = [0, 0.1, 0.5, 0.5, 0.9, 1, .nan, .infinity]
        let histogram = Histogram(values, buckets: 4)
        #expect(histogram.count == 6 && histogram.minimum == 0 && histogram.maximum == 1)
        #expect(histogram.bucketLimits == [0.25, 0.5, 0.75, 1])
        #expect(histogram.bucketCounts == [2, 2, 0, 2])
        #expect(abs(histogram.sum - 3) < 1e-12 && abs(histogram.sumOfSquares - 2.32) < 1e-12)
        let constant = Histogram([3, 3, 3])
        #expect(constant.bucketLimits == [3] && constant.bucketCounts == [3])
        #expect(Histogram([]).count == 0)
    }

    @Test func recordFramingMatchesTheTFRecordLayout() {
        let data: [UInt8] = Array("abc".utf8)
        let record = TensorBoardEventWriter.record(data)
        #expect(record.count == 8 + 4 + 3 + 4)
        #expect(Array(record[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = record[8..<12].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(lengthCRC == CRC32C.masked([3, 0, 0, 0, 0, 0, 0, 0]))
        #expect(Array(record[12..<15]) == data)
    }

    @Test func protobufVarintsAndNegativeSteps() {
        var writer = ProtobufWriter()
        writer.int64(field: 2, 300)
        #expect(writer.bytes == [0x10, 0xAC, 0x02])
        var negative = ProtobufWriter()
        negative.int64(field: 2, -1)
        #expect(negative.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }
}
