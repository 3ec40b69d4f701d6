import AsyncHTTPClient
import _CryptoExtras
import Crypto
import Foundation
import TandemDomain
import TandemProviders
import TandemHTTPTestSupport
import TandemTestSupport
import Testing

@Suite("Vertex AI provider", .serialized, .timeLimit(.minutes(1)))
struct VertexTests {
    private func request() -> ModelRequest {
        ModelRequest(role: .pro, model: "gemini-2.5-pro", query: "q", context: nil, settings: .pro, runID: "r")
    }

    private func provider(_ upstream: FakeUpstream, tokens: any AccessTokenSource) -> HTTPModelProvider {
        let clock = ManualClock()
        return HTTPModelProvider.vertex(
            project: "proj-1", location: "europe-west4", baseURL: upstream.baseURL, tokens: tokens, client: .shared,
            breakers: [.flash: CircuitBreaker(clock: clock), .pro: CircuitBreaker(clock: clock)], clock: clock
        )
    }

    @Test("Vertex with GOOGLE_ACCESS_TOKEN: the project/location URL and a bearer token")
    func staticToken() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.script([.answer(chunks: ["ok"], version: "gemini-2.5-pro-vertex")])
        let response = try await provider(upstream, tokens: StaticAccessToken("ya29.static")).generate(request(), observer: RecordingObserver())
        #expect(response.servedModel == "gemini-2.5-pro-vertex")
        let sent = try #require(upstream.requests.first)
        #expect(sent.path == "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent")
        #expect(sent.headers["authorization"] == "Bearer ya29.static")
        await upstream.stop()
    }

    @Test("Service account: an RS256 JWT exchanged at token_uri, verified with the public key, then cached")
    func serviceAccount() async throws {
        let upstream = try await FakeUpstream.start()
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let directory = try TemporaryDirectory()
        let file = directory.path + "/sa.json"
        let credentials: [String: Any] = [
            "type": "service_account", "client_email": "tandem@proj-1.iam.gserviceaccount.com",
            "private_key": key.pemRepresentation, "token_uri": upstream.baseURL + "/token",
        ]
        try JSONSerialization.data(withJSONObject: credentials).write(to: URL(fileURLWithPath: file))
        let tokens = try ServiceAccountTokens(credentialsFile: file, client: .shared)
        let provider = provider(upstream, tokens: tokens)
        _ = try await provider.generate(request(), observer: RecordingObserver())
        _ = try await provider.generate(request(), observer: RecordingObserver())
        #expect(upstream.tokenRequests.count == 1, "the token is cached")
        #expect(upstream.requests.map { $0.headers["authorization"] } == ["Bearer minted-1", "Bearer minted-1"])

        let body = try #require(upstream.tokenRequests.first)
        let assertion = try #require(body.components(separatedBy: "assertion=").last)
        let parts = assertion.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        func decode(_ part: String) -> Data {
            var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while text.count % 4 != 0 { text += "=" }
            return Data(base64Encoded: text) ?? Data()
        }
        let claims = try #require(try JSONSerialization.jsonObject(with: decode(parts[1])) as? [String: Any])
        #expect(claims["iss"] as? String == "tandem@proj-1.iam.gserviceaccount.com")
        #expect(claims["aud"] as? String == upstream.baseURL + "/token")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/cloud-platform")
        let signature = _RSA.Signing.RSASignature(rawRepresentation: decode(parts[2]))
        let signed = SHA256.hash(data: Data((parts[0] + "." + parts[1]).utf8))
        #expect(key.publicKey.isValidSignature(signature, for: signed, padding: .insecurePKCS1v1_5))
        await upstream.stop()
    }

    @Test("Unusable credentials are refused with a clear error")
    func badCredentials() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/bad.json"
        try Data(#"{"client_email":"x","private_key":"not a key"}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect { try ServiceAccountTokens(credentialsFile: file, client: .shared) } throws: { ($0 as? ProviderError)?.errorClass == "auth_config" }
        #expect { try ServiceAccountTokens(credentialsFile: directory.path + "/missing.json", client: .shared) } throws: {
            ($0 as? ProviderError)?.message.contains("cannot read") == true
        }
    }
}
