import Foundation
import Testing

@testable import ConvNet

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `convnet-serve` binary (CONVNET_SERVE=1 builds it next to `convnet`), started on an
/// ephemeral loopback port and asked over real HTTP: answers equal to `convnet predict`,
/// concurrent requests batched (read from /metrics), bad requests, slow clients, SIGTERM.
@Suite(.serialized) struct ServerTests {
    static var binary: URL? {
        let candidate = productsDirectory().appendingPathComponent("convnet-serve")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }

    static func skipIfNotBuilt() -> URL? {
        guard let binary else {
            print("skipped: convnet-serve not built (set CONVNET_SERVE=1 when building)")
            return nil
        }
        return binary
    }

    /// A running server: its process, port and the lines it wrote on stderr.
    final class Server: @unchecked Sendable {
        let process = Process()
        let port: Int
        private let errorPipe = Pipe()

        /// Starts `binary CHECKPOINT --port 0 ARGUMENTS` and waits for its 'listening on' line.
        init(_ binary: URL, checkpoint: URL, arguments: [String] = []) throws {
            process.executableURL = binary
            process.arguments = [checkpoint.path, "--port", "0", "--host", "127.0.0.1"] + arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = errorPipe
            try process.run()
            // The first stdout line: "listening on http://127.0.0.1:PORT" (read with a deadline).
            let reader = output.fileHandleForReading
            let found = LineBox()
            let done = DispatchSemaphore(value: 0)
            Thread {
                var text = ""
                while !text.contains("\n") {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                found.line = text
                done.signal()
            }.start()
            guard done.wait(timeout: .now() + 60) == .success, let line = found.line?.split(separator: "\n").first,
                line.hasPrefix("listening on http://127.0.0.1:"), let port = Int(line.split(separator: ":").last ?? "")
            else {
                process.terminate()
                throw ConvNetError.invalidData("convnet-serve did not print its port: \(found.line ?? "nothing")")
            }
            self.port = port
        }

        final class LineBox: @unchecked Sendable { var line: String? }

        func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

        /// Sends SIGTERM and waits for the exit (at most `seconds`); returns the exit status.
        func terminate(within seconds: Double = 30) -> Int32? {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
            return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 60
        return URLSession(configuration: configuration)
    }()

    /// One request; the status and the body.
    static func request(
        _ url: URL, method: String = "GET", body: Data? = nil, contentType: String = "application/octet-stream"
    ) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? -1, data)
    }

    /// The value of one sample of the Prometheus page (`name{labels} value`).
    static func metric(_ page: String, _ sample: String) -> Double? {
        page.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap {
            Double($0.split(separator: " ").last!)
        }
    }

    /// A checkpoint, two PNGs (10×10, resized to 8×8) and a JPEG (33×31) in `folder`.
    static func makeInputs(in folder: URL) throws -> (checkpoint: URL, images: [URL]) {
        let checkpoint = try PredictionServiceTests.makeCheckpoint(in: folder)
        var images: [URL] = []
        for (index, step) in [3, 11].enumerated() {
            let url = folder.appendingPathComponent("image\(index).png")
            let pixels = (0..<300).map { UInt8(($0 * step) % 256) }
            try ImageFolderTests.writePNG(pixels, width: 10, height: 10, channels: 3, to: url)
            images.append(url)
        }
        images.append(
            ImageDecoderTests.fixtures.appendingPathComponent(
                "jpeg_RGB_33x31_progressiveTrue_quality75_subsampling0.jpg"))
        return (checkpoint, images)
    }

    @Test func answersEqualConvnetPredict() async throws {
        guard let binary = Self.skipIfNotBuilt() else { return }
        guard let convnet = CommandLineTests.binary else {
            print("skipped: convnet binary not found next to the tests in \(productsDirectory().path)")
            return
        }
        let folder = makeTemporaryDirectory("convnet-serve-http")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (checkpoint, images) = try Self.makeInputs(in: folder)
        let server = try Server(binary, checkpoint: checkpoint)
        defer { _ = server.terminate() }

        // `convnet predict CKPT FILES --top-k 3`: "FILE: name p, name p, name p" per image.
        let predicted = try CommandLineTests.run(
            convnet, ["predict", checkpoint.path] + images.map(\.path) + ["--top-k", "3"])
        #expect(predicted.status == 0, "\(predicted.error)")
        let expected: [[(String, Double)]] = predicted.output.split(separator: "\n").map { line in
            line.split(separator: ": ", maxSplits: 1).last!.split(separator: ", ").map { pair in
                let parts = pair.split(separator: " ")
                return (String(parts[0]), Double(parts[1])!)
            }
        }
        #expect(expected.count == 3)

        func check(_ answer: ImagePrediction, _ expected: [(String, Double)], _ label: String) {
            #expect(answer.predictions.map(\.class) == expected.map(\.0), "\(label)")
            for (served, printed) in zip(answer.predictions, expected) {
                #expect(abs(served.probability - printed.1) <= 0.00005 + 1e-9, "\(label): printed to 4 decimals")
            }
        }
        for (image, expected) in zip(images, expected) {
            let (status, body) = try await Self.request(
                server.url("/v1/predict?top_k=3"), method: "POST", body: try Data(contentsOf: image),
                contentType: "image/png")
            #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
            check(try JSONDecoder().decode(ImagePrediction.self, from: body), expected, image.lastPathComponent)
        }
        // The same three in one batch request (JSON list of base64 images).
        let list = try JSONEncoder().encode([
            "images": try images.map { try Data(contentsOf: $0).base64EncodedString() }
        ])
        let (status, body) = try await Self.request(
            server.url("/v1/predict/batch?top_k=3"), method: "POST", body: list, contentType: "application/json")
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        struct Answers: Decodable { var results: [ImagePrediction] }
        let answers = try JSONDecoder().decode(Answers.self, from: body).results
        #expect(answers.count == 3)
        for (index, (answer, expected)) in zip(answers, expected).enumerated() {
            check(answer, expected, "batch \(index)")
        }

        // The default top-k (5, capped at the 3 classes), /v1/model and /healthz.
        let whole = try await Self.request(server.url("/v1/predict"), method: "POST", body: Data(contentsOf: images[0]))
        #expect(try JSONDecoder().decode(ImagePrediction.self, from: whole.body).predictions.count == 3)
        let model = try await Self.request(server.url("/v1/model"))
        #expect(model.status == 200)
        let description = try JSONDecoder().decode(PredictionService.ModelDescription.self, from: model.body)
        #expect(description.classes == ["cat", "dog", "fish"] && description.inputShape == [3, 8, 8])
        #expect(description.spec == "conv(4,k=3,p=1) relu maxpool(2) flatten dense(3)")
        #expect(description.parameters == 4 * 3 * 9 + 4 + 64 * 3 + 3)
        let health = try await Self.request(server.url("/healthz"))
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self).contains("ok"))
    }

    @Test func concurrentRequestsAreBatched() async throws {
        guard let binary = Self.skipIfNotBuilt() else { return }
        let folder = makeTemporaryDirectory("convnet-serve-http")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (checkpoint, images) = try Self.makeInputs(in: folder)
        // A long wait, so that the 24 requests sent at once meet in few batches.
        let server = try Server(
            binary, checkpoint: checkpoint, arguments: ["--max-wait-ms", "1000", "--max-batch", "64"])
        defer { _ = server.terminate() }
        let body = try Data(contentsOf: images[0])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<24 {
                group.addTask { try await Self.request(server.url("/v1/predict"), method: "POST", body: body).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == [Int](repeating: 200, count: 24))
        let page = String(decoding: try await Self.request(server.url("/metrics")).body, as: UTF8.self)
        let batches = try #require(Self.metric(page, "convnet_batch_size_count"), "\(page)")
        let imageCount = try #require(Self.metric(page, "convnet_batch_size_sum"))
        let single = try #require(Self.metric(page, #"convnet_batch_size_bucket{le="1"}"#))
        #expect(imageCount == 24)
        #expect(batches < 24 && single < batches || batches == 1, "24 requests in \(batches) forward passes:\n\(page)")
        #expect(batches <= 6, "24 concurrent requests, 1 s wait: a few batches, found \(batches)")
        #expect(Self.metric(page, #"convnet_requests_total{route="/v1/predict",status="200"}"#) == 24)
        #expect(page.contains(#"convnet_request_duration_seconds_bucket{route="/v1/predict",le="+Inf"} 24"#))
    }

    @Test func badRequestsGetTheirStatusAndTheServerGoesOn() async throws {
        guard let binary = Self.skipIfNotBuilt() else { return }
        let folder = makeTemporaryDirectory("convnet-serve-http")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (checkpoint, images) = try Self.makeInputs(in: folder)
        let server = try Server(binary, checkpoint: checkpoint, arguments: ["--max-body-bytes", "100000"])
        defer { _ = server.terminate() }
        var corrupt = [UInt8](try Data(contentsOf: images[0]))
        corrupt.replaceSubrange(40..<60, with: [UInt8](repeating: 0xAB, count: 20))  // inside IDAT: CRC fails
        let wrongShape = try NumPyArray(shape: [1, 5, 5], elementType: .uint8, bytes: [UInt8](repeating: 9, count: 25))
        let cases: [(String, String, Data?, Int, String)] = [
            ("text body", "/v1/predict", Data("hello".utf8), 400, "not a PNG or JPEG"),
            ("corrupt PNG", "/v1/predict", Data(corrupt), 400, "PNG"),
            ("empty body", "/v1/predict", Data(), 400, "starts with nothing"),
            ("wrong-shape .npy", "/v1/predict", Data(wrongShape.encoded()), 422, "[3, 8, 8]"),
            ("over the cap", "/v1/predict", Data(repeating: 7, count: 150_000), 413, "cap of 100000"),
            ("batch not JSON", "/v1/predict/batch", Data("{".utf8), 400, "images"),
            ("bad top_k", "/v1/predict?top_k=9", try Data(contentsOf: images[0]), 400, "top_k"),
            ("unknown route", "/v2/predict", Data(), 404, "no route"),
            ("wrong method", "/v1/predict", nil, 405, "takes POST"),
        ]
        for (label, path, body, expected, fragment) in cases {
            let (status, answer) = try await Self.request(
                server.url(path), method: body == nil ? "GET" : "POST", body: body)
            let text = String(decoding: answer, as: UTF8.self)
            #expect(status == expected, "\(label): \(text)")
            #expect(
                text.hasPrefix(#"{"error":""#) && text.hasSuffix("}\n") && text.dropLast().contains("\n") == false,
                "\(label): one line of JSON, found \(text)")
            #expect(text.contains(fragment), "\(label): \(text)")
        }
        let health = try await Self.request(server.url("/healthz"))
        #expect(health.status == 200, "the server still answers")
        let good = try await Self.request(server.url("/v1/predict"), method: "POST", body: Data(contentsOf: images[1]))
        #expect(good.status == 200)
        let page = String(decoding: try await Self.request(server.url("/metrics")).body, as: UTF8.self)
        #expect(Self.metric(page, #"convnet_request_errors_total{route="/v1/predict"}"#) == 7, "\(page)")
        #expect(Self.metric(page, #"convnet_requests_total{route="other",status="404"}"#) == 1)
    }

    @Test func aSlowClientIsDisconnected() async throws {
        guard let binary = Self.skipIfNotBuilt() else { return }
        let folder = makeTemporaryDirectory("convnet-serve-http")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (checkpoint, _) = try Self.makeInputs(in: folder)
        let server = try Server(binary, checkpoint: checkpoint, arguments: ["--client-timeout", "1"])
        defer { _ = server.terminate() }
        // Half a request line, then nothing: the server closes the connection after about 1 s.
        let socket = try #require(RawConnection(port: server.port))
        defer { socket.close() }
        let start = Date()
        socket.send("POST /v1/predict HTTP/1.1\r\nContent-Len")
        #expect(socket.receiveUntilClosed(timeout: 15) == "", "closed without an answer")
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.8 && elapsed < 8, "closed after \(elapsed) s")
        // A body that stops half-way: 408 or a closed connection, within the timeout.
        let second = try #require(RawConnection(port: server.port))
        defer { second.close() }
        second.send(
            "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n"
                + String(repeating: "a", count: 5000))
        let answer = second.receiveUntilClosed(timeout: 15)
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        let health = try await Self.request(server.url("/healthz"))
        #expect(health.status == 200)
    }

    @Test func sigtermAnswersTheRequestsInFlightAndExitsZero() async throws {
        guard let binary = Self.skipIfNotBuilt() else { return }
        let folder = makeTemporaryDirectory("convnet-serve-http")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (checkpoint, images) = try Self.makeInputs(in: folder)
        // Requests would wait a minute for their batch: SIGTERM arrives while they are queued.
        let server = try Server(binary, checkpoint: checkpoint, arguments: ["--max-wait-ms", "60000"])
        let body = try Data(contentsOf: images[2])
        let requests = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await Self.request(server.url("/v1/predict"), method: "POST", body: body).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let page = String(decoding: try await Self.request(server.url("/metrics")).body, as: UTF8.self)
            if Self.metric(page, "convnet_queued_images") == 4 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let start = Date()
        let status = server.terminate()
        #expect(Date().timeIntervalSince(start) < 30, "the queued batch ran at once, not after its wait")
        #expect(try await requests.value == [200, 200, 200, 200], "the requests in flight were answered")
        #expect(status == 0, "exit status after SIGTERM")
    }
}

/// A plain TCP connection to 127.0.0.1, for requests URLSession would not send (a slow client).
final class RawConnection {
    private let descriptor: Int32

    init?(port: Int) {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard descriptor >= 0, connected == 0 else { return nil }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Everything received until the server closes the connection, or `timeout` seconds pass.
    func receiveUntilClosed(timeout: Double) -> String {
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }
}
