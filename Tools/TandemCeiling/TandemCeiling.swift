import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `tandem-ceiling`: the smallest Hummingbird server that answers `POST /api/reasoning/query` the
/// way tandem does on the wire — the same response headers, keep-alive, a chunked
/// `text/event-stream` body with a `preliminary`, a `final` and a `done` frame of tandem's sizes,
/// each written and flushed on its own — and does nothing else: no journal, no models, no
/// projections, no JSON parsing. `tandem-bench ceiling` measures tandem against it, so tandem's
/// figures are ratios to what this machine can serve at all in the same run.
@main
struct TandemCeiling {
    static func main() async throws {
        var options = ["--port": 18_182, "--flash-ms": 0, "--pro-ms": 0]
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            guard options[argument] != nil, let value = arguments.next().flatMap(Int.init), value >= 0 else {
                FileHandle.standardError.write(Data("usage: tandem-ceiling [--port N] [--flash-ms N] [--pro-ms N]\n".utf8))
                exit(64)
            }
            options[argument] = value
        }
        let port = options["--port"] ?? 0
        // Model latencies as a scripted tandem has them: the preliminary frame after Flash's, the
        // final and done frames after Pro's (both counted from the request).
        let flashDelay = Duration.milliseconds(options["--flash-ms"] ?? 0)
        let proDelay = Duration.milliseconds(options["--pro-ms"] ?? 0)
        let router = Router()
        let sequence = SequenceCounter()
        router.get("/health") { _, _ in #"{"status":"ok"}"# }
        router.post("/api/reasoning/query") { request, _ -> Response in
            // Read the whole body, as tandem does before it answers.
            _ = try await request.body.collect(upTo: 262_144)
            let runID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let firstSeq = sequence.reserve(3)
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream; charset=utf-8"
            headers[.cacheControl] = "no-cache"
            headers[HTTPField.Name("X-Request-ID")!] = runID
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
            let start = ContinuousClock.now
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                for (offset, frame) in Frames.make(runID: runID).enumerated() {
                    let due = start + (offset == 0 ? flashDelay : proDelay)
                    if due > .now { try await Task.sleep(until: due) }
                    try await writer.write(ByteBuffer(string: "id: \(firstSeq + UInt64(offset))\n" + frame))
                }
                try await writer.finish(nil)
            })
        }
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await application.runService()
    }
}

/// Frame ids, increasing as a journal's seqs do.
final class SequenceCounter: Sendable {
    private let next = Atomic<UInt64>(1)

    /// Reserves `count` consecutive ids and returns the first.
    func reserve(_ count: UInt64) -> UInt64 {
        next.wrappingAdd(count, ordering: .relaxed).oldValue
    }
}

/// The three frames of a scripted tandem run for the benchmark's query, byte for byte in shape
/// and size (after the `id:` line).
enum Frames {
    static func make(runID: String) -> [String] {
        let flash = #"{"model":"gemini-2.5-flash","content":"[simulated gemini-2.5-flash] Quick take on: How far is the moon?","latency_ms":0.21,"is_preliminary":true,"confidence":"medium","usage":{"input_tokens":5,"output_tokens":11}}"#
        let pro = #"{"model":"gemini-2.5-pro","content":"[simulated gemini-2.5-pro] Verified answer to: How far is the moon?\n\nStep 1: restate the question and its context.\n\nStep 2: check the preliminary reasoning against known facts.\n\nStep 3: settle on the answer and its confidence.","latency_ms":0.35,"is_preliminary":false,"confidence":"high","usage":{"input_tokens":5,"output_tokens":36},"reasoning_steps":["[simulated gemini-2.5-pro] Verified answer to: How far is the moon?","Step 1: restate the question and its context.","Step 2: check the preliminary reasoning against known facts.","Step 3: settle on the answer and its confidence."]}"#
        return [
            "event: preliminary\ndata: {\"response\":\(flash),\"message\":\"⚡ Quick preview - computing verified response...\",\"trace_id\":\"\(runID)\"}\n\n",
            "event: final\ndata: {\"response\":\(pro),\"message\":\"✅ Verified response ready\",\"trace_id\":\"\(runID)\"}\n\n",
            "event: done\ndata: {\"trace_id\":\"\(runID)\",\"status\":\"ok\"}\n\n",
        ]
    }
}
