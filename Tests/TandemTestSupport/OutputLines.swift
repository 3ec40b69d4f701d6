import Foundation
import Synchronization
import TandemJournal

/// A child's output pipe, read to its end on a thread of its own into lines that tests can wait
/// for — the next one, the first containing a text, or the end — without blocking a thread.
public final class OutputLines: Sendable {
    /// What a waiting task wants.
    private enum Wanted: Sendable {
        case line(Int)
        case containing(String)
        case end
    }

    private struct State {
        var bytes = Data()
        var lines: [String] = []
        /// Where the line not yet ended starts in `bytes`.
        var lineStart = 0
        var ended = false
        var waiters = WaiterList<Wanted, String?>()

        /// What `wanted` gets now — a line, or `.some(nil)` at the end — or `nil` to wait on.
        /// Only lines from `firstLine` on are searched for a text: the earlier ones were searched
        /// when they arrived, so each line is looked at once per waiter.
        func answer(_ wanted: Wanted, searchingFrom firstLine: Int = 0) -> String?? {
            switch wanted {
            case .line(let index):
                if index < lines.count { return .some(lines[index]) }
            case .containing(let text):
                if let line = lines[firstLine...].first(where: { $0.contains(text) }) { return .some(line) }
            case .end:
                break
            }
            return ended ? .some(nil) : nil
        }
    }

    private let state = Mutex(State())
    /// The index of the line ``next()`` returns.
    private let cursor = Mutex(0)

    /// Reads `descriptor` (which it closes at the end) on a new thread.
    init(reading descriptor: Int32) {
        Thread.detachNewThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                self.append(count > 0 ? chunk[0..<count] : [])
                if count <= 0 { break }
            }
            close(descriptor)
        }
    }

    /// Adds `chunk`; an empty one is the end.
    private func append(_ chunk: ArraySlice<UInt8>) {
        state.withLock { state in
            let scanFrom = state.bytes.count
            let firstNewLine = state.lines.count
            state.bytes.append(contentsOf: chunk)
            var index = scanFrom
            while let newline = state.bytes[index...].firstIndex(of: 10) {
                state.lines.append(String(decoding: state.bytes[state.lineStart..<newline], as: UTF8.self))
                state.lineStart = newline + 1
                index = newline + 1
            }
            if chunk.isEmpty {
                if state.lineStart < state.bytes.count {
                    state.lines.append(String(decoding: state.bytes[state.lineStart...], as: UTF8.self))
                    state.lineStart = state.bytes.count
                }
                state.ended = true
            }
            // `take` mutates the list while its predicate reads the rest of the state: a copy (it
            // shares the byte and line buffers; only the short waiter list is copied) keeps the
            // two accesses apart.
            let current = state
            return state.waiters.take { current.answer($0, searchingFrom: firstNewLine) != nil }
        }.resume { wanted in
            // Lines only grow and the end stays: an answer found under the lock still holds.
            self.state.withLock { $0.answer(wanted) } ?? nil
        }
    }

    private func wait(for wanted: Wanted, cancellable: Bool) async -> String? {
        await state.wait(in: \.waiters, tag: wanted, onCancel: cancellable ? .some(nil) : nil) { $0.answer(wanted) }
    }

    /// The next line (each call its own), or `nil` at the end.
    public func next() async -> String? {
        let index = cursor.withLock { index in
            defer { index += 1 }
            return index
        }
        return await wait(for: .line(index), cancellable: true)
    }

    /// The first line containing `text`, as soon as it is written — or `nil` once the pipe ended
    /// without one (or the waiting task was cancelled).
    public func first(containing text: String) async -> String? {
        await wait(for: .containing(text), cancellable: true)
    }

    /// Everything written, once the writer closed the pipe (it does when it exits).
    public func text() async -> String {
        _ = await wait(for: .end, cancellable: false)
        return state.withLock { String(decoding: $0.bytes, as: UTF8.self) }
    }
}
