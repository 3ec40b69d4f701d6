public import AsyncHTTPClient
import _CryptoExtras
import Crypto
public import Foundation
import NIOCore
import NIOHTTP1

/// Where Vertex AI bearer tokens come from.
public protocol AccessTokenSource: Sendable {
    /// A token valid for at least a few minutes.
    /// - Throws: ``ProviderError`` `auth_failed` when none can be had.
    func token() async throws -> String
}

/// A fixed token (`GOOGLE_ACCESS_TOKEN`).
public struct StaticAccessToken: AccessTokenSource {
    let value: String

    public init(_ value: String) {
        self.value = value
    }

    public func token() async throws -> String { value }
}

/// Tokens minted from a Google service-account key (`GOOGLE_APPLICATION_CREDENTIALS`): an
/// RS256-signed JWT exchanged at the key's `token_uri`, cached, and refreshed five minutes before
/// it expires.
public actor ServiceAccountTokens: AccessTokenSource {
    private let email: String
    private let key: _RSA.Signing.PrivateKey
    private let tokenURI: String
    private let client: HTTPClient
    private let now: @Sendable () -> Date
    private var cached: (token: String, expires: Date)?

    static let scope = "https://www.googleapis.com/auth/cloud-platform"

    /// Reads the service-account JSON at `path`.
    /// - Throws: ``ProviderError`` `auth_config` naming what is wrong with the file.
    public init(credentialsFile path: String, client: HTTPClient, now: @escaping @Sendable () -> Date = Date.init) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProviderError(errorClass: "auth_config", message: "cannot read GOOGLE_APPLICATION_CREDENTIALS file \(path)", retryable: false)
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let email = json["client_email"] as? String, let pem = json["private_key"] as? String
        else {
            throw ProviderError(errorClass: "auth_config", message: "\(path) is not a service-account key (client_email and private_key are required)", retryable: false)
        }
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw ProviderError(errorClass: "auth_config", message: "the private_key in \(path) is not an RSA key in PEM form", retryable: false)
        }
        self.email = email
        self.tokenURI = json["token_uri"] as? String ?? "https://oauth2.googleapis.com/token"
        self.client = client
        self.now = now
    }

    public func token() async throws -> String {
        if let cached, cached.expires.timeIntervalSince(now()) > 300 { return cached.token }
        let issued = now()
        let assertion = try jwt(issuedAt: issued)
        var request = HTTPClientRequest(url: tokenURI)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)"))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw ProviderError(errorClass: "auth_failed", message: "the token endpoint could not be reached: \(error)", retryable: true)
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok,
            let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let token = json["access_token"] as? String
        else {
            throw ProviderError(
                errorClass: "auth_failed", message: "the token endpoint refused the service-account assertion (HTTP \(response.status.code))",
                httpStatus: Int(response.status.code), retryable: response.status.code >= 500
            )
        }
        let lifetime = (json["expires_in"] as? Double) ?? Double(json["expires_in"] as? Int ?? 3_600)
        cached = (token, issued.addingTimeInterval(lifetime))
        return token
    }

    /// `header.claims.signature`, base64url, RS256.
    func jwt(issuedAt issued: Date) throws -> String {
        let iat = Int(issued.timeIntervalSince1970)
        let header = #"{"alg":"RS256","typ":"JWT"}"#
        let claims = #"{"aud":"\#(tokenURI)","exp":\#(iat + 3_600),"iat":\#(iat),"iss":"\#(email)","scope":"\#(Self.scope)"}"#
        let signingInput = Self.base64URL(Data(header.utf8)) + "." + Self.base64URL(Data(claims.utf8))
        let signature = try key.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Self.base64URL(signature.rawRepresentation)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
