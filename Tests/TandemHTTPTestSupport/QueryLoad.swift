public import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Load on a `tandem serve` child: clients posting queries back to back.
public enum QueryLoad {
    /// Runs queries against `port` from `clients` tasks until cancelled (or a request fails);
    /// returns how many finished.
    public static func run(port: Int, clients: Int, client: HTTPClient = .shared) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var finished = 0
                    while !Task.isCancelled {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/reasoning/query")
                        request.method = .POST
                        request.headers.add(name: "content-type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: #"{"query":"load"}"#))
                        guard let response = try? await client.execute(request, timeout: .seconds(10)), response.status == .ok else { break }
                        guard (try? await response.body.collect(upTo: 1 << 20)) != nil else { break }
                        finished += 1
                    }
                    return finished
                }
            }
            return await group.reduce(0, +)
        }
    }
}
