import ConvNet
import FlyingFox
import FlyingSocks
import Foundation

/// The routes of `convnet-serve`, each a call into ``PredictionService``; every answer is counted
/// in its metrics. Errors are one-line JSON `{"error": "..."}` with the status that says why.
struct ServeHandler: HTTPHandler {
    let service: PredictionService
    /// Seconds a request's body may take to arrive (each wait for bytes is also bounded by the pool).
    let clientTimeout: Double
    let inFlight = InFlightRequests()

    /// Routes known to the server (anything else is counted as "other").
    static let routes: [String: String] = [
        "/v1/predict": "POST", "/v1/predict/batch": "POST", "/v1/model": "GET", "/healthz": "GET", "/metrics": "GET",
    ]

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let route = Self.routes[request.path] != nil ? request.path : "other"
        let response: HTTPResponse
        if inFlight.enter() {
            defer { inFlight.leave() }
            response = await answer(request)
        } else {
            response = Self.error(ServingError(status: 503, "the server is shutting down"), close: true)
        }
        service.record(
            route: route, status: response.statusCode.code,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return response
    }

    private func answer(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            guard let method = Self.routes[request.path] else {
                throw ServingError(status: 404, "no route \(request.method.rawValue) \(request.path)")
            }
            guard request.method.rawValue == method else {
                throw ServingError(status: 405, "\(request.path) takes \(method), not \(request.method.rawValue)")
            }
            switch request.path {
            case "/healthz":
                return Self.json(#"{"status":"ok"}"#)
            case "/metrics":
                service.metrics.set("convnet_queued_images", Double(service.queue.queuedCount))
                service.metrics.set("convnet_requests_in_flight", Double(inFlight.count - 1))  // less this one
                return HTTPResponse(
                    statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: Data(service.metrics.exposition().utf8))
            case "/v1/model":
                return try Self.json(Self.encoder.encode(service.modelDescription))
            case "/v1/predict":
                let sample = try service.sample(from: try await body(of: request))
                let answer = try await service.predict([sample], topK: topK(of: request))
                return try Self.json(Self.encoder.encode(answer[0]))
            default:  // "/v1/predict/batch"
                let samples = try service.samples(fromBatchJSON: try await body(of: request))
                struct Answers: Encodable { var results: [ImagePrediction] }
                let answers = try await service.predict(samples, topK: topK(of: request))
                return try Self.json(Self.encoder.encode(Answers(results: answers)))
            }
        } catch let error as ServingError {
            return Self.error(error, close: error.status == 413 || error.status == 408)
        } catch {
            return Self.error(ServingError(status: 500, "\(error)"), close: false)
        }
    }

    /// The request's body, refused with 413 as soon as it is known to be over the cap (from
    /// Content-Length, or while a chunked body arrives), 408 when the client stops sending.
    private func body(of request: HTTPRequest) async throws -> [UInt8] {
        let cap = service.maximumBodyBytes
        if let length = request.bodySequence.count, length > cap {
            throw ServingError(status: 413, "the body has \(length) bytes, over the cap of \(cap)")
        }
        var bytes: [UInt8] = []
        do {
            for try await chunk in request.bodySequence {
                bytes += chunk
                if bytes.count > cap {
                    throw ServingError(status: 413, "the body has over \(cap) bytes, the cap")
                }
            }
        } catch let error as ServingError {
            throw error
        } catch {
            throw ServingError(status: 408, "the body did not arrive within \(clientTimeout) s (\(error))")
        }
        return bytes
    }

    private func topK(of request: HTTPRequest) throws -> Int? {
        guard let text = request.query["top_k"] else { return nil }
        guard let k = Int(text) else { throw ServingError(status: 400, "top_k must be an integer, found '\(text)'") }
        return k
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ body: String) -> HTTPResponse { json(Data(body.utf8)) }

    static func json(_ body: Data, status: HTTPStatusCode = .ok, close: Bool = false) -> HTTPResponse {
        var headers: HTTPHeaders = [.contentType: "application/json"]
        if close { headers[.connection] = "close" }
        return HTTPResponse(statusCode: status, headers: headers, body: body + Data("\n".utf8))
    }

    static func error(_ error: ServingError, close: Bool) -> HTTPResponse {
        json(Data(error.json.utf8), status: status(error.status), close: close)
    }

    static func status(_ code: Int) -> HTTPStatusCode {
        switch code {
        case 400: return .badRequest
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 408: return .requestTimeout
        case 413: return HTTPStatusCode(413, phrase: "Content Too Large")
        case 422: return HTTPStatusCode(422, phrase: "Unprocessable Content")
        case 503: return .serviceUnavailable
        default: return .internalServerError
        }
    }
}

/// The number of requests being answered, and whether new ones are refused (SIGTERM's drain).
final class InFlightRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var active = 0
    private var draining = false

    /// Counts a request in, or returns false while draining.
    func enter() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if draining { return false }
        active += 1
        return true
    }

    func leave() {
        lock.lock()
        active -= 1
        lock.unlock()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return active
    }

    func beginDraining() {
        lock.lock()
        draining = true
        lock.unlock()
    }
}

/// The server's socket pool with a deadline on every wait for a client: a connection that sends
/// nothing (or does not read) for `seconds` is closed, so slow or idle clients cannot hold the
/// server's connections for ever. The listening socket waits without a deadline.
struct ClientTimeoutPool<Base: AsyncSocketPool>: AsyncSocketPool {
    let base: Base
    let seconds: Double

    struct ClientTimeout: Error {}

    func prepare() async throws { try await base.prepare() }

    func run() async throws { try await base.run() }

    func suspendSocket(_ socket: Socket, untilReadyFor events: Socket.Events) async throws {
        Self.sendWithoutDelay(socket)
        if Self.isListening(socket) { return try await base.suspendSocket(socket, untilReadyFor: events) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await base.suspendSocket(socket, untilReadyFor: events) }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw ClientTimeout()
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Turns Nagle's algorithm off (TCP_NODELAY): FlyingFox writes a response's header and body
    /// in two calls, and with Nagle on the body waits for the client's delayed ACK of the header
    /// (40 ms on Linux) — every answer took 44 ms before. Set on the listening socket, whose
    /// first wait comes before any connection, it is inherited by the sockets it accepts (Linux);
    /// set again on each client socket's waits for the others.
    static func sendWithoutDelay(_ socket: Socket) {
        var on: Int32 = 1
        _ = setsockopt(socket.file.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Whether `socket` is a listening socket (SO_ACCEPTCONN).
    static func isListening(_ socket: Socket) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(socket.file.rawValue, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 && value != 0
    }
}
