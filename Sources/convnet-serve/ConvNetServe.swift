import ArgumentParser
import ConvNet
import FlyingFox
import FlyingSocks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `convnet-serve CKPT`: the checkpoint behind HTTP, concurrent requests batched into one forward
/// pass. Thin: the batching, decoding and metrics are ``PredictionService`` in the library.
@main
struct ConvNetServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convnet-serve",
        abstract: "Serve a checkpoint over HTTP, batching concurrent requests into one forward pass.",
        discussion: """
            Routes: POST /v1/predict (a PNG, JPEG or .npy body; ?top_k=K), POST /v1/predict/batch \
            (JSON {"images": ["<base64>", ...]}), GET /v1/model, GET /healthz, GET /metrics (Prometheus). \
            Prints 'listening on http://HOST:PORT' on one line once it accepts connections; SIGTERM or \
            SIGINT answers the requests in flight and exits 0.
            """)

    @Argument(help: "A checkpoint (.safetensors) written by ConvNet.")
    var checkpoint: String

    @Option(help: "Port to listen on (0: any free port, printed when listening).")
    var port: Int = 8080

    @Option(help: "Address to listen on (an IPv4 or IPv6 address; localhost is 127.0.0.1).")
    var host: String = "127.0.0.1"

    @Option(name: .customLong("max-batch"), help: "Images per forward pass at most (1 turns batching off).")
    var maximumBatch: Int = 64

    @Option(
        name: .customLong("max-wait-ms"),
        help: "Milliseconds a batch waits for more images after its first one arrived.")
    var maximumWaitMilliseconds: Double = 2

    @Option(name: .customLong("top-k"), help: "Classes in each answer unless the request says ?top_k=K.")
    var topK: Int = 5

    @Option(name: .customLong("max-body-bytes"), help: "Larger request bodies are refused with 413.")
    var maximumBodyBytes: Int = 8 << 20

    @Option(
        name: .customLong("client-timeout"),
        help: "Seconds a connection may wait for the client's next bytes (or to take ours) before it is closed.")
    var clientTimeout: Double = 10

    @Option(
        name: .customLong("drain-timeout"),
        help: "Seconds SIGTERM waits for the requests in flight before exiting anyway.")
    var drainTimeout: Double = 30

    @Option(help: "Threads for the kernels (default: all cores; the same as CONVNET_THREADS=N).")
    var threads: Int?

    /// Runs the server; any error before it listens becomes one line on stderr and exit code 1.
    static func main() async {
        do {
            let command = try parseAsRoot() as! ConvNetServe
            try await command.serve()
        } catch let error as ConvNetError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(1)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            var text = String(fullMessage(for: error).split(separator: "\n").first ?? "")
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data("error: \(text) (see 'convnet-serve --help')\n".utf8))
            Foundation.exit(1)
        }
    }

    func serve() async throws {
        guard (0...65535).contains(port) else {
            throw ConvNetError.invalidArgument("--port must be in 0...65535, found \(port)")
        }
        guard clientTimeout > 0, clientTimeout.isFinite, drainTimeout >= 0, drainTimeout.isFinite else {
            throw ConvNetError.invalidArgument("--client-timeout must be > 0 and --drain-timeout ≥ 0")
        }
        if let threads {
            guard (1...1024).contains(threads) else {
                throw ConvNetError.invalidArgument("--threads must be between 1 and 1024, found \(threads)")
            }
            setenv("CONVNET_THREADS", String(threads), 1)
        }
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: checkpoint))
        let service = try PredictionService(
            predictor: predictor, maximumBatchSize: maximumBatch, maximumWait: maximumWaitMilliseconds / 1000,
            defaultTopK: topK, maximumBodyBytes: maximumBodyBytes)
        let address: any SocketAddress
        do {
            let name = host == "localhost" ? "127.0.0.1" : host
            address =
                name.contains(":")
                ? try sockaddr_in6.inet6(ip6: name, port: UInt16(port))
                : try sockaddr_in.inet(ip4: name, port: UInt16(port))
        } catch {
            throw ConvNetError.invalidArgument("--host '\(host)' is not an IPv4 or IPv6 address")
        }
        let handler = ServeHandler(service: service, clientTimeout: clientTimeout)
        let server = HTTPServer(
            config: HTTPServer.Configuration(
                address: address, timeout: clientTimeout + drainTimeout + 60,
                pool: ClientTimeoutPool(base: HTTPServer.defaultPool(), seconds: clientTimeout),
                logger: DisabledLogger.disabled),
            handler: handler)

        signal(SIGPIPE, SIG_IGN)
        let shutdown = ShutdownSignals()
        let serverTask = Task { try await server.run() }
        do {
            try await server.waitUntilListening(timeout: 10)
        } catch {
            serverTask.cancel()
            _ = await serverTask.result
            throw ConvNetError.invalidArgument("cannot listen on \(host):\(port)")
        }
        let listening: String
        switch await server.listeningAddress {
        case .ip4(let address, let port): listening = "\(address):\(port)"
        case .ip6(let address, let port): listening = "[\(address)]:\(port)"
        default: listening = "\(host):\(port)"
        }
        FileHandle.standardOutput.write(Data("listening on http://\(listening)\n".utf8))  // unbuffered

        // SIGTERM / SIGINT: refuse new requests (503), answer those in flight, then stop.
        let signalNumber = await shutdown.wait()
        FileHandle.standardError.write(
            Data("convnet-serve: signal \(signalNumber), draining \(handler.inFlight.count) request(s)\n".utf8))
        handler.inFlight.beginDraining()
        // The queued images run now, without waiting out --max-wait-ms; later submissions get 503.
        await Task.detached { service.queue.shutDown() }.value
        let deadline = Date().addingTimeInterval(drainTimeout)
        while handler.inFlight.count > 0 && Date() < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        await server.stop(timeout: 1)
        serverTask.cancel()
        _ = await serverTask.result
        FileHandle.standardError.write(Data("convnet-serve: stopped\n".utf8))
        Foundation.exit(0)
    }
}

/// SIGTERM and SIGINT as an awaitable event (the default actions are turned off).
final class ShutdownSignals: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    init() {
        (stream, continuation) = AsyncStream<Int32>.makeStream()
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [continuation] in continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received.
    func wait() async -> Int32 {
        for await number in stream { return number }
        return 0
    }
}
