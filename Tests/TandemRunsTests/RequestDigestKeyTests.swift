import Foundation
import TandemDomain
import TandemJournal
import TandemRuns
import TandemTestSupport
import Testing

@Suite("The request-digest key of a data dir")
struct RequestDigestKeyTests {
    private func request(_ query: String, context: JSONValue? = nil) -> RunRequest {
        RunRequest(runID: RunID("r")!, query: query, context: context, client: ClientInfo(ip: "127.0.0.1"), clientChoseRunID: true)
    }

    @Test("Created once (mode 0600, beside the journal, not in it); reloaded it gives the same digests; another data dir gives others")
    func oneKeyPerDataDirectory() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        let key = try RequestDigestKey.loadOrCreate(inDataDirectory: first.path)
        let again = try RequestDigestKey.loadOrCreate(inDataDirectory: first.path)
        let other = try RequestDigestKey.loadOrCreate(inDataDirectory: second.path)
        let sample = request("My SSN is 078-05-1120", context: .object(["ssn": .string("078-05-1120")]))
        #expect(sample.digest(key: key) == sample.digest(key: again))
        #expect(sample.digest(key: key) == request("My SSN is 078-05-1120", context: .object(["ssn": .string("078-05-1120")])).digest(key: key))
        #expect(sample.digest(key: key) != request("My SSN is 078-05-1121", context: .object(["ssn": .string("078-05-1120")])).digest(key: key))
        #expect(sample.digest(key: key) != sample.digest(key: other))
        let path = first.path + "/" + RequestDigestKey.fileName
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(permissions?.intValue == 0o600)
        #expect(!FileManager.default.fileExists(atPath: first.path + "/journal/" + RequestDigestKey.fileName))
        #expect(try FileManager.default.contentsOfDirectory(atPath: first.path).filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test("A damaged key file is an error naming the file, never a new key in its place")
    func damagedKey() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/" + RequestDigestKey.fileName
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try RequestDigestKey.loadOrCreate(inDataDirectory: directory.path)
        } throws: { error in
            (error as? RunError).map { $0.code == .secretUnusable && $0.message.contains(path) } == true
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "not a key\n")
    }
}
